//! Conversations to prompt ids, the way `sobre run` in chat mode builds them:
//! the model's own template, its BOS/EOS texts, no double BOS, and special
//! tokens parsed. Also decides whether the model reasons in `<think>` tags,
//! and so whether its output is split.

use chat::{ChatError, ChatTemplate, ReasoningSplitter, RenderOptions, THINK_START};
use gguf::GgufFile;
use serde_json::Value;
use tokenizer::Tokenizer;

use crate::error::ApiError;
use crate::state::AppState;

/// What the server knows about turning messages into a prompt.
#[derive(Debug, Clone)]
pub struct PromptBuilder {
    /// The template, or why the model's own does not compile (chat requests
    /// then fail; raw completions still work).
    template: Result<ChatTemplate, String>,
    opts: RenderOptions,
    reasoning: bool,
}

impl PromptBuilder {
    pub fn new(file: &GgufFile, tok: &Tokenizer) -> PromptBuilder {
        let template = ChatTemplate::from_metadata(file.metadata()).map_err(|e| e.to_string());
        let text_of = |id: Option<u32>| id.and_then(|i| tok.token_text(i)).unwrap_or("").to_string();
        let opts = RenderOptions {
            add_generation_prompt: true,
            bos_token: text_of(tok.bos_id()),
            eos_token: text_of(tok.eos_id()),
            // The tokenizer adds BOS itself; the template's own would double it.
            strip_bos: tok.add_bos(),
        };
        let in_template = template.as_ref().is_ok_and(|t| t.source().contains(THINK_START));
        let reasoning = in_template || tok.token_id(THINK_START).is_some();
        PromptBuilder {
            template,
            opts,
            reasoning,
        }
    }

    /// Whether the model writes `<think>...</think>` before its answer.
    pub fn is_reasoning(&self) -> bool {
        self.reasoning
    }

    /// The template's Jinja source (for Ollama's `/api/show`).
    pub fn template_source(&self) -> Option<&str> {
        self.template.as_ref().ok().map(ChatTemplate::source)
    }

    /// The prompt text for `messages` (a JSON array of OpenAI messages),
    /// ending with the opening of the assistant's turn.
    pub fn render(&self, messages: &Value) -> Result<String, ApiError> {
        let template = self
            .template
            .as_ref()
            .map_err(|e| ApiError::internal(format!("The model's {e}")))?;
        template.render(messages, &self.opts).map_err(|e| match e {
            // The template refusing a conversation ("roles must alternate")
            // is the request's fault; so is one failing on it (a message
            // without `content` made Gemma's `'...' + content` fail: found by
            // the `http_handlers` fuzz target), since the template compiled
            // and only the messages vary.
            ChatError::BadMessages(_) | ChatError::Raised(_) | ChatError::Render(_) => ApiError {
                param: Some("messages".to_string()),
                ..ApiError::bad_request(e.to_string())
            },
            other => ApiError::internal(other.to_string()),
        })
    }

    /// A splitter for the output of `prompt`, or `None` when all output is
    /// answer.
    pub fn splitter(&self, prompt: &str) -> Option<ReasoningSplitter> {
        self.reasoning.then(|| ReasoningSplitter::for_prompt(prompt))
    }
}

/// Prompt ids for `text`: BOS where the model wants it, and special-token
/// text (`<start_of_turn>`) as those tokens, as `sobre run` does.
pub fn encode(tok: &Tokenizer, text: &str) -> Vec<u32> {
    tok.encode(text, true, true)
}

/// Checks a `messages` field before rendering: the template would give
/// obscure errors (or an empty prompt) for these.
pub fn check_messages(messages: Option<&Value>) -> Result<&Value, ApiError> {
    let missing = || ApiError {
        param: Some("messages".to_string()),
        ..ApiError::bad_request("`messages` is required: a non-empty list of {\"role\", \"content\"} objects")
    };
    let (value, list) = match messages {
        None => return Err(missing()),
        Some(v @ Value::Array(list)) => (v, list),
        Some(_) => return Err(ApiError::invalid_param("messages", "`messages` must be a list")),
    };
    if list.is_empty() {
        return Err(missing());
    }
    for (i, m) in list.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str);
        if role.is_none() {
            return Err(ApiError::invalid_param(
                &format!("messages[{i}].role"),
                format!("`messages[{i}]` must be an object with a string `role`"),
            ));
        }
    }
    Ok(value)
}

/// Renders `messages` and tokenizes the result off the async workers: an
/// 8 MiB conversation takes long enough to stall other requests' streams.
/// Returns the prompt text (for the reasoning splitter) and its ids.
pub async fn chat_prompt(state: &AppState, messages: Value) -> Result<(String, Vec<u32>), ApiError> {
    let state = state.clone();
    blocking(move || {
        let text = state.prompt.render(&messages)?;
        let ids = encode(state.engine.tokenizer(), &text);
        Ok((text, ids))
    })
    .await
}

/// Tokenizes a raw prompt off the async workers.
pub async fn text_prompt(state: &AppState, text: String) -> Result<Vec<u32>, ApiError> {
    let state = state.clone();
    blocking(move || Ok(encode(state.engine.tokenizer(), &text))).await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ApiError::internal(format!("Building the prompt failed: {e}"))))
}
