//! One entry of the tensor table, validated on construction.

use crate::error::{GgufError, Result};
use crate::types::GgmlType;

/// A tensor's name, type, shape and where its data lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// GGUF order: the first dimension is the contiguous one (a row's length).
    pub shape: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
    pub n_elements: u64,
    pub n_bytes: u64,
}

impl TensorInfo {
    /// Checks the shape against the type: no zero dimension, counts that fit
    /// in an i64 as ggml requires, and a first dimension made of whole blocks.
    pub fn new(name: String, shape: Vec<u64>, ggml_type: GgmlType, offset: u64) -> Result<Self> {
        if let Some(index) = shape.iter().position(|&d| d == 0) {
            return Err(GgufError::ZeroDim { tensor: name, index });
        }
        let n_elements = shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n <= i64::MAX as u64);
        let Some(n_elements) = n_elements else {
            return Err(GgufError::Overflow { tensor: name });
        };
        let dim0 = shape.first().copied().unwrap_or(1);
        let block = ggml_type.block_size();
        if dim0 % block as u64 != 0 {
            return Err(GgufError::NotBlockMultiple {
                tensor: name,
                ty: ggml_type,
                dim0,
                block,
            });
        }
        let Some(n_bytes) = ggml_type.bytes_for(n_elements).filter(|&n| n <= i64::MAX as u64) else {
            return Err(GgufError::Overflow { tensor: name });
        };
        Ok(TensorInfo {
            name,
            shape,
            ggml_type,
            offset,
            n_elements,
            n_bytes,
        })
    }

    /// Number of rows: every dimension but the first.
    pub fn n_rows(&self) -> u64 {
        self.n_elements / self.shape.first().copied().unwrap_or(1)
    }

    /// Bytes of one row (the first dimension).
    pub fn row_bytes(&self) -> u64 {
        self.n_bytes / self.n_rows().max(1)
    }
}
