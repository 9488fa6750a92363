//! An open GGUF file: the parsed header over the mapped bytes.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;

use crate::array::Shared;
use crate::error::{GgufError, Result};
use crate::header::{self, Header};
use crate::metadata::Metadata;
use crate::tensor_info::TensorInfo;

/// A parsed GGUF file. Tensor data is borrowed straight from the map, and
/// metadata arrays point into it too: no copy.
pub struct GgufFile {
    /// A read-only map of the file, or a buffer (tests, fuzzing, files built
    /// in memory).
    bytes: Shared,
    /// The same bytes when they are a map of the file (see [`GgufFile::release`]).
    map: Option<Arc<Mmap>>,
    header: Header,
    by_name: HashMap<String, usize>,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("version", &self.header.version)
            .field("n_tensors", &self.header.tensors.len())
            .field("n_metadata", &self.header.metadata.len())
            .field("file_len", &self.file_len())
            .finish()
    }
}

impl GgufFile {
    /// Maps and parses `path`. Only the header must be whole; tensor data is
    /// checked when read.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let open_err = |err| GgufError::Open {
            path: path.to_path_buf(),
            err,
        };
        let file = File::open(path).map_err(open_err)?;
        let meta = file.metadata().map_err(open_err)?;
        if !meta.is_file() {
            return Err(open_err(std::io::Error::other("not a regular file")));
        }
        if meta.len() == 0 {
            // mmap of an empty file fails on some systems; parse reports it.
            return Self::from_bytes(Vec::new());
        }
        // SAFETY: the map is read-only and private to this process. Another
        // process truncating the file while it is mapped would fault on
        // access; that is the accepted contract of every mmap-based loader
        // (llama.cpp included), and sobre never writes to files it maps.
        let map = Arc::new(unsafe { Mmap::map(&file) }.map_err(open_err)?);
        let mut parsed = Self::from_parts(map.clone())?;
        parsed.map = Some(map);
        Ok(parsed)
    }

    /// Parses a file held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Self::from_parts(Arc::new(bytes))
    }

    fn from_parts(bytes: Shared) -> Result<Self> {
        let header = header::parse(&bytes)?;
        let by_name = header
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(GgufFile {
            bytes,
            map: None,
            header,
            by_name,
        })
    }

    fn bytes(&self) -> &[u8] {
        (*self.bytes).as_ref()
    }

    /// Lets the OS drop this process's pages of `bytes` (a part of this
    /// file's tensor data, such as a tensor copied elsewhere): they leave
    /// its resident set and come back from the file if read again. Does
    /// nothing for a file held in memory or bytes from elsewhere.
    pub fn release(&self, bytes: &[u8]) {
        let Some(map) = &self.map else { return };
        let start = (bytes.as_ptr() as usize).wrapping_sub(map.as_ptr() as usize);
        if start > map.len() || bytes.len() > map.len() - start {
            return;
        }
        // SAFETY: the range lies inside this read-only, private file map,
        // which this process never writes: after MADV_DONTNEED a read of
        // those pages faults them in again from the file, with the same
        // contents, so every borrowed slice stays valid and unchanged.
        let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, bytes.len()) };
    }

    pub fn version(&self) -> u32 {
        self.header.version
    }

    pub fn alignment(&self) -> u64 {
        self.header.alignment
    }

    /// Absolute offset of the data section.
    pub fn data_offset(&self) -> u64 {
        self.header.data_offset
    }

    pub fn file_len(&self) -> u64 {
        self.bytes().len() as u64
    }

    pub fn metadata(&self) -> &Metadata {
        &self.header.metadata
    }

    pub fn architecture(&self) -> Option<&str> {
        self.header.metadata.architecture()
    }

    pub fn tensors(&self) -> &[TensorInfo] {
        &self.header.tensors
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.by_name.get(name).map(|&i| &self.header.tensors[i])
    }

    /// Like [`tensor`](Self::tensor) but an error naming the missing tensor.
    pub fn require_tensor(&self, name: &str) -> Result<&TensorInfo> {
        self.tensor(name)
            .ok_or_else(|| GgufError::TensorNotFound { name: name.into() })
    }

    /// Absolute byte offset of a tensor's data in the file.
    pub fn absolute_offset(&self, info: &TensorInfo) -> u64 {
        // Cannot overflow: the parser checked data_offset + end of last tensor.
        self.header.data_offset + info.offset
    }

    /// The raw bytes of a tensor, borrowed from the map. Fails cleanly when
    /// the file is shorter than the tensor table says (a partial download).
    pub fn tensor_data(&self, info: &TensorInfo) -> Result<&[u8]> {
        let start = self.absolute_offset(info);
        let end = start + info.n_bytes;
        let file_len = self.file_len();
        if end > file_len {
            return Err(GgufError::DataOutOfBounds {
                tensor: info.name.clone(),
                start,
                end,
                file_len,
            });
        }
        // start <= end <= file_len, which fits in usize.
        Ok(&self.bytes()[start as usize..end as usize])
    }

    /// Total number of weights over all tensors (saturating: a header can
    /// declare tensors whose element counts add up past `u64::MAX`).
    pub fn n_params(&self) -> u64 {
        self.header
            .tensors
            .iter()
            .fold(0u64, |acc, t| acc.saturating_add(t.n_elements))
    }
}
