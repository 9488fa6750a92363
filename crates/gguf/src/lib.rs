//! GGUF files: a reader that trusts nothing and a writer for tests and tools.
//!
//! The reader memory-maps the file and parses the header (metadata and tensor
//! table) eagerly, checking every count and length against the bytes that
//! remain before allocating anything. Tensor data is only bounds-checked when
//! it is read, so metadata-only work (inspect, tokenize, chat templates) still
//! works on a file whose weights were cut off by a partial download.

mod array;
mod cursor;
mod error;
mod file;
mod header;
mod metadata;
mod tensor_info;
mod types;
mod writer;

pub use array::{Array, Strs};
pub use error::{GgufError, Result};
pub use file::GgufFile;
pub use header::{ALIGNMENT_KEY, DEFAULT_ALIGNMENT, MAX_DIMS};
pub use metadata::{Metadata, Value, ValueType};
pub use tensor_info::TensorInfo;
pub use types::{GgmlType, QK_K};
pub use writer::GgufWriter;
