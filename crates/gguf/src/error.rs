//! Typed errors that say what is wrong and where (key, tensor, byte offset).

use std::path::PathBuf;

use crate::types::GgmlType;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    // The io::Error is shown in the message, not chained as a source, so a
    // one-line report (`{:#}`) does not print the OS message twice.
    #[error("cannot open {path}: {err}")]
    Open { path: PathBuf, err: std::io::Error },

    #[error("I/O error: {0}")]
    Io(std::io::Error),

    #[error("not a GGUF file: magic is {found:?}, expected \"GGUF\"")]
    BadMagic { found: String },

    #[error("big-endian GGUF files are not supported (version field reads {raw:#010x})")]
    BigEndian { raw: u32 },

    #[error("unsupported GGUF version {version} (supported: 2, 3)")]
    UnsupportedVersion { version: u32 },

    #[error("file cut off at byte {offset} while reading {what}: need {need} bytes, {have} left")]
    Truncated {
        what: String,
        offset: u64,
        need: u64,
        have: u64,
    },

    #[error("{what} at byte {offset} claims {count} items, more than the {have} bytes left could hold: the file is corrupt or cut off")]
    CountTooLarge {
        what: String,
        offset: u64,
        count: u64,
        have: u64,
    },

    #[error("metadata key {key:?} at byte {offset}: unknown value type id {id}")]
    UnknownValueType { key: String, offset: u64, id: u32 },

    #[error("metadata key {key:?}: arrays nested deeper than {max} levels")]
    NestingTooDeep { key: String, max: usize },

    #[error("metadata key {key:?} appears twice (second at byte {offset})")]
    DuplicateKey { key: String, offset: u64 },

    #[error("metadata key {key:?} has type {found}, expected {expected}")]
    WrongKeyType {
        key: String,
        expected: &'static str,
        found: String,
    },

    #[error("general.alignment = {value} is not a power of two between 1 and 2^30")]
    BadAlignment { value: u64 },

    #[error("tensor {tensor:?}: {n_dims} dimensions, at most {max} supported")]
    TooManyDims { tensor: String, n_dims: u32, max: usize },

    #[error("tensor {tensor:?}: dimension {index} is 0")]
    ZeroDim { tensor: String, index: usize },

    #[error("tensor {tensor:?}: element or byte count overflows")]
    Overflow { tensor: String },

    #[error("tensor {tensor:?}: unknown tensor type id {id}")]
    UnknownTensorType { tensor: String, id: u32 },

    #[error("tensor {tensor:?}: first dimension {dim0} is not a multiple of {ty}'s block size {block}")]
    NotBlockMultiple {
        tensor: String,
        ty: GgmlType,
        dim0: u64,
        block: usize,
    },

    #[error("tensor {tensor:?}: data offset {offset} is not a multiple of the alignment {alignment}")]
    MisalignedOffset {
        tensor: String,
        offset: u64,
        alignment: u64,
    },

    #[error(
        "tensor {tensor:?}: data offset {offset} overlaps the previous tensor, which ends at {prev_end}"
    )]
    OffsetOutOfOrder {
        tensor: String,
        offset: u64,
        prev_end: u64,
    },

    /// `offset` is relative to the data section, whose start is added too.
    #[error("tensor {tensor:?}: data offset {offset} plus {n_bytes} bytes runs past the largest 64-bit file offset")]
    OffsetOverflow {
        tensor: String,
        offset: u64,
        n_bytes: u64,
    },

    #[error("tensor name {tensor:?} appears twice")]
    DuplicateTensor { tensor: String },

    #[error("tensor {tensor:?}: data bytes {start}..{end} lie beyond the end of the file ({file_len} bytes): is the file complete?")]
    DataOutOfBounds {
        tensor: String,
        start: u64,
        end: u64,
        file_len: u64,
    },

    #[error("no tensor named {name:?}")]
    TensorNotFound { name: String },

    #[error("an array of {elem_type} cannot hold a {found}")]
    MixedArray {
        elem_type: crate::metadata::ValueType,
        found: crate::metadata::ValueType,
    },

    #[error("cannot write GGUF: {0}")]
    Write(String),
}

impl From<std::io::Error> for GgufError {
    fn from(e: std::io::Error) -> Self {
        GgufError::Io(e)
    }
}

pub type Result<T, E = GgufError> = std::result::Result<T, E>;
