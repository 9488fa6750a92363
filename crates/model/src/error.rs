//! What can go wrong turning a GGUF file into a runnable model, each error
//! naming the key or tensor at fault so the message alone says what to fix.

use gguf::{GgmlType, GgufError};
use kernels::matmul::MatrixError;

/// A model that cannot be loaded or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    #[error("the file has no general.architecture key")]
    NoArchitecture,
    #[error("unknown architecture {0:?} (supported: gemma3, qwen2, llama)")]
    UnknownArchitecture(String),
    #[error("metadata key {key:?} is missing")]
    MissingKey { key: String },
    #[error("metadata key {key:?}: {reason}")]
    BadKey { key: String, reason: String },
    #[error("tensor {name:?} is missing")]
    MissingTensor { name: String },
    #[error("tensor {name:?} has shape {actual:?}, expected {expected:?}")]
    WrongShape {
        name: String,
        expected: Vec<u64>,
        actual: Vec<u64>,
    },
    #[error("tensor {name:?}: type {ty} is not supported here")]
    UnsupportedType { name: String, ty: GgmlType },
    #[error("tensor {name:?}: {source}")]
    Matrix {
        name: String,
        #[source]
        source: MatrixError,
    },
    #[error("context full: {needed} positions needed, the KV cache holds {n_ctx}")]
    ContextFull { needed: usize, n_ctx: usize },
    #[error("token id {token} is outside the vocabulary of {n_vocab}")]
    TokenOutOfRange { token: u32, n_vocab: usize },
    #[error("batch of {n_tok} tokens exceeds the scratch size of {n_batch}")]
    BatchTooLarge { n_tok: usize, n_batch: usize },
    #[error("{requested} output positions requested, scratch holds {max}")]
    TooManyOutputs { requested: usize, max: usize },
    #[error("the KV cache was made for another model")]
    CacheMismatch,
    #[error(transparent)]
    Gguf(#[from] GgufError),
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
