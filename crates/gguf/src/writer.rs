//! Writing GGUF files: used by tests and tools to build models and corpora.
//!
//! The writer refuses what the reader would refuse (bad shapes, data whose
//! length disagrees with type and shape, duplicate names), so a file it
//! writes is always one sobre and llama.cpp can load.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use crate::error::{GgufError, Result};
use crate::header::{ALIGNMENT_KEY, DEFAULT_ALIGNMENT, MAGIC};
use crate::metadata::{Metadata, Value};
use crate::tensor_info::TensorInfo;
use crate::types::GgmlType;

/// Builds a GGUF file in memory, then writes it in one go.
#[derive(Debug, Clone)]
pub struct GgufWriter {
    version: u32,
    alignment: u64,
    metadata: Metadata,
    tensors: Vec<(TensorInfo, Vec<u8>)>,
    names: HashSet<String>,
}

impl Default for GgufWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl GgufWriter {
    /// A version-3 writer with the default alignment of 32.
    pub fn new() -> Self {
        GgufWriter {
            version: 3,
            alignment: DEFAULT_ALIGNMENT,
            metadata: Metadata::new(),
            tensors: Vec::new(),
            names: HashSet::new(),
        }
    }

    /// GGUF version 2 and 3 share one layout; both can be written.
    pub fn version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// Sets the data alignment and records it as `general.alignment`.
    pub fn alignment(mut self, alignment: u64) -> Result<Self> {
        if alignment == 0 || !alignment.is_power_of_two() || alignment > 1 << 30 {
            return Err(GgufError::BadAlignment { value: alignment });
        }
        self.alignment = alignment;
        self.metadata.insert(ALIGNMENT_KEY, Value::U32(alignment as u32));
        Ok(self)
    }

    pub fn add_metadata(&mut self, key: impl Into<String>, value: Value) -> &mut Self {
        self.metadata.insert(key, value);
        self
    }

    /// Adds a tensor; `shape` is in GGUF order (row length first) and `data`
    /// holds exactly the bytes that type and shape call for.
    pub fn add_tensor(
        &mut self,
        name: impl Into<String>,
        ggml_type: GgmlType,
        shape: &[u64],
        data: Vec<u8>,
    ) -> Result<&mut Self> {
        let name = name.into();
        if self.names.contains(&name) {
            return Err(GgufError::DuplicateTensor { tensor: name });
        }
        let info = TensorInfo::new(name, shape.to_vec(), ggml_type, 0)?;
        if info.n_bytes != data.len() as u64 {
            return Err(GgufError::Write(format!(
                "tensor {:?}: {} {} elements need {} bytes, got {}",
                info.name,
                info.n_elements,
                ggml_type,
                info.n_bytes,
                data.len()
            )));
        }
        self.names.insert(info.name.clone());
        self.tensors.push((info, data));
        Ok(self)
    }

    /// Adds an F32 tensor from values.
    pub fn add_f32(&mut self, name: impl Into<String>, shape: &[u64], values: &[f32]) -> Result<&mut Self> {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_tensor(name, GgmlType::F32, shape, data)
    }

    /// The whole file as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in self.metadata.iter() {
            write_string(&mut out, key);
            out.extend_from_slice(&value.value_type().id().to_le_bytes());
            write_value(&mut out, value);
        }
        let mut offset = 0u64;
        let mut offsets = Vec::with_capacity(self.tensors.len());
        for (info, _) in &self.tensors {
            write_string(&mut out, &info.name);
            out.extend_from_slice(&(info.shape.len() as u32).to_le_bytes());
            for d in &info.shape {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&info.ggml_type.id().to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offsets.push(offset);
            offset = (offset + info.n_bytes).next_multiple_of(self.alignment);
        }
        pad_to(&mut out, self.alignment);
        let data_start = out.len() as u64;
        for ((_, data), off) in self.tensors.iter().zip(offsets) {
            out.resize((data_start + off) as usize, 0);
            out.extend_from_slice(data);
        }
        pad_to(&mut out, self.alignment);
        Ok(out)
    }

    pub fn write_to(&self, mut w: impl Write) -> Result<()> {
        w.write_all(&self.to_bytes()?)?;
        Ok(())
    }

    /// Writes to `path` through a temporary file renamed into place, so a
    /// failed write never leaves a half file under the final name.
    pub fn write_file(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, self.to_bytes()?)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

fn pad_to(out: &mut Vec<u8>, alignment: u64) {
    let len = (out.len() as u64).next_multiple_of(alignment);
    out.resize(len as usize, 0);
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Appends the GGUF encoding of `value` (without its type tag).
pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::U8(v) => out.push(*v),
        Value::I8(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I16(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::F32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Bool(v) => out.push(u8::from(*v)),
        Value::String(s) => write_string(out, s),
        Value::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::F64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Array(a) => {
            out.extend_from_slice(&a.elem_type().id().to_le_bytes());
            out.extend_from_slice(&(a.len() as u64).to_le_bytes());
            // Arrays are homogeneous by construction (`Array::new` refuses
            // mixed elements), and scalars and strings are kept encoded.
            match a.raw() {
                Some(raw) => out.extend_from_slice(raw),
                None => a.iter().for_each(|v| write_value(out, &v)),
            }
        }
    }
}
