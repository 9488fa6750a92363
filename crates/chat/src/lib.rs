//! Conversations to prompts and back: the model's own chat template rendered
//! as Hugging Face renders it, and model output split into reasoning and
//! answer.
//!
//! Templates come from the GGUF file (`tokenizer.chat_template`), so they
//! are hostile input: they run in a sandbox with no loader (no `include`, no
//! filesystem), a fuel budget that bounds their running time and the data
//! they create, a recursion limit, limits on their size, and on a thread of
//! their own whose stack deep nesting cannot overflow. A model without a
//! template gets a built-in format for its architecture. Templates sent in
//! requests are never used.

mod builtin;
mod error;
mod json;
mod reasoning;
mod template;

pub use error::ChatError;
pub use reasoning::{ReasoningDelta, ReasoningSplitter, THINK_END, THINK_START};
pub use template::{civil_from_days, ChatTemplate, RenderOptions, TemplateSource};
