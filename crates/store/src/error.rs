//! Typed errors: a store error always names what failed (the model name, the
//! URL and its status, the file), because the CLI prints it as its one line.

use std::io;
use std::path::PathBuf;

/// Everything the store can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid model name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("invalid sha256 {0:?}: expected 64 hexadecimal digits")]
    InvalidDigest(String),
    #[error("invalid source {spec:?}: {reason}")]
    InvalidSource { spec: String, reason: String },
    #[error("model {name:?} is not pulled yet: `sobre pull {name}` fetches it")]
    NotPulled { name: String },
    #[error(
        "{name:?} is neither a file nor a model in the store \
         (`sobre list` shows them; `sobre pull SOURCE --name {name}` fetches one)"
    )]
    NotFound { name: String },
    #[error("GET {url}: HTTP {status} {reason}")]
    HttpStatus {
        url: String,
        status: u16,
        reason: String,
    },
    #[error("GET {url}: {message}")]
    Transport { url: String, message: String },
    #[error(
        "GET {url}: connection lost after {got} of {expected} bytes; \
         run the same pull again to resume"
    )]
    Incomplete { url: String, got: u64, expected: String },
    #[error("sha256 mismatch for {what}: expected {expected}, got {actual}; nothing was stored")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{what} is not a GGUF model: {reason}; nothing was stored")]
    NotGguf { what: String, reason: String },
    #[error("another pull of {0} is in progress")]
    Busy(String),
    #[error("manifest {path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("PyPI mirror {package}: {message}")]
    Mirror { package: String, message: String },
    #[error("no model store location: set SOBRE_HOME (or XDG_DATA_HOME or HOME)")]
    NoHome,
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Wraps an I/O error with what was being done, for `map_err`.
pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Io { context, source }
}

/// An I/O error about a path, for `map_err`.
pub(crate) fn io_path(what: &str, path: &std::path::Path) -> impl FnOnce(io::Error) -> StoreError {
    io_err(format!("{what} {}", path.display()))
}
