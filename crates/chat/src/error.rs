//! Errors that name what was wrong with a template or a conversation.

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChatError {
    #[error("the chat template does not compile: {0}")]
    Compile(String),

    #[error("the chat template failed: {0}")]
    Render(String),

    #[error("the chat template raised an exception: {0}")]
    Raised(String),

    #[error("bad messages: {0}")]
    BadMessages(String),
}
