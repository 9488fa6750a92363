//! Formats for models whose file carries no chat template, by architecture,
//! written as templates so they go through the same renderer.

/// Gemma's turn format (Gemma 3 base ships without a template): a system
/// message is folded into the first user turn, as Gemma's own template does.
const GEMMA: &str = "{{ bos_token }}\
{%- if messages and messages[0]['role'] == 'system' -%}\
{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\
{%- set loop_messages = messages[1:] -%}\
{%- else -%}\
{%- set first_user_prefix = '' -%}\
{%- set loop_messages = messages -%}\
{%- endif -%}\
{%- for message in loop_messages -%}\
{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}\
{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}\
{{- (message['content'] or '') | trim }}{{ '<end_of_turn>\n' }}\
{%- endfor -%}\
{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}";

/// ChatML, llama.cpp's fallback for every other architecture.
const CHATML: &str = "\
{%- for message in messages -%}\
{{ '<|im_start|>' + message['role'] + '\n' + (message['content'] or '') + '<|im_end|>\n' }}\
{%- endfor -%}\
{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}";

/// The built-in template for `architecture`, and its name.
pub(crate) fn for_architecture(architecture: &str) -> (&'static str, &'static str) {
    if architecture.starts_with("gemma") {
        ("gemma", GEMMA)
    } else {
        ("chatml", CHATML)
    }
}
