//! Errors from building a tokenizer out of GGUF metadata and from decoding.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum TokenizerError {
    #[error("metadata key `{0}` is missing")]
    MissingKey(&'static str),
    #[error("metadata key `{key}` has the wrong type: {detail}")]
    BadKey { key: &'static str, detail: String },
    // The names come from the file: printed with `{:?}` so a newline or an
    // escape sequence in them cannot break the one-line message.
    #[error("tokenizer model {0:?} is not supported (supported: `llama` (SentencePiece), `gpt2` (byte-level BPE))")]
    UnsupportedModel(String),
    #[error("BPE pre-tokenizer {0:?} is not supported (supported: qwen2, deepseek-r1-qwen, megrez, llama3, llama-bpe and aliases)")]
    UnsupportedPreTokenizer(String),
    #[error("the vocabulary is empty")]
    EmptyVocabulary,
    #[error("token id {id} is outside the vocabulary ({n_vocab} tokens)")]
    UnknownToken { id: u32, n_vocab: usize },
}
