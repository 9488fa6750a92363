//! Parsing the header: magic, version, metadata and the tensor table.
//!
//! The checks follow the record of hostile GGUF files against llama.cpp and
//! Ollama (CVE-2025-53630: a tensor count that overflowed a size computation;
//! CVE-2024-39720: a cut file read out of bounds): every count is checked
//! against the bytes left, every size with checked arithmetic, and nothing is
//! allocated from a field before it has been checked.

use std::collections::HashSet;

use crate::array::{Array, Shared};
use crate::cursor::Cursor;
use crate::error::{GgufError, Result};
use crate::metadata::{Metadata, Value, ValueType};
use crate::tensor_info::TensorInfo;
use crate::types::GgmlType;

pub(crate) const MAGIC: &[u8; 4] = b"GGUF";
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's GGML_MAX_DIMS.
pub const MAX_DIMS: usize = 4;
/// Arrays of arrays are legal; a bound keeps recursion off the stack's edge.
const MAX_NESTING: usize = 8;
/// The key that sets the data alignment.
pub const ALIGNMENT_KEY: &str = "general.alignment";

#[derive(Debug)]
pub(crate) struct Header {
    pub version: u32,
    pub metadata: Metadata,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    pub data_offset: u64,
}

/// Parses the header at the start of `file`; metadata arrays point into it.
pub(crate) fn parse(file: &Shared) -> Result<Header> {
    let mut cur = Cursor::new((**file).as_ref());
    let magic = cur.take(4, &|| "the magic number".into())?;
    if magic != MAGIC {
        return Err(GgufError::BadMagic {
            found: String::from_utf8_lossy(magic).into_owned(),
        });
    }
    let version = cur.u32(&|| "the version".into())?;
    match version {
        2 | 3 => {}
        // A byte-swapped small version: the file was written big-endian.
        v if v.swap_bytes() <= 3 && v > 0xffff => return Err(GgufError::BigEndian { raw: v }),
        v => return Err(GgufError::UnsupportedVersion { version: v }),
    }
    let n_tensors = cur.u64(&|| "the tensor count".into())?;
    let n_kv = cur.u64(&|| "the metadata count".into())?;

    // A key/value takes at least 8 (key length) + 4 (type) + 1 bytes.
    cur.check_count(n_kv, 13, &|| "the metadata count".into())?;
    let mut metadata = Metadata::new();
    for i in 0..n_kv {
        let start = cur.pos();
        let key = cur.string(&|| format!("metadata key #{i}"))?;
        let ty_id = cur.u32(&|| format!("the type of metadata key {key:?}"))?;
        let ty = ValueType::from_id(ty_id).ok_or_else(|| GgufError::UnknownValueType {
            key: key.clone(),
            offset: cur.pos() - 4,
            id: ty_id,
        })?;
        let value = read_value(&mut cur, file, ty, &key, 0)?;
        if metadata.contains_key(&key) {
            return Err(GgufError::DuplicateKey { key, offset: start });
        }
        metadata.insert(key, value);
    }

    let alignment = alignment_of(&metadata)?;

    // A tensor info takes at least 8 (name) + 4 (n_dims) + 8 (one dim) + 4 + 8.
    cur.check_count(n_tensors, 32, &|| "the tensor count".into())?;
    let mut tensors = Vec::with_capacity(n_tensors as usize);
    let mut names = HashSet::with_capacity(n_tensors as usize);
    let mut prev_end = 0u64;
    for i in 0..n_tensors {
        let info = read_tensor_info(&mut cur, i)?;
        if !names.insert(info.name.clone()) {
            return Err(GgufError::DuplicateTensor { tensor: info.name });
        }
        if info.offset % alignment != 0 {
            return Err(GgufError::MisalignedOffset {
                tensor: info.name,
                offset: info.offset,
                alignment,
            });
        }
        if info.offset < prev_end {
            return Err(GgufError::OffsetOutOfOrder {
                tensor: info.name,
                offset: info.offset,
                prev_end,
            });
        }
        prev_end = info
            .offset
            .checked_add(info.n_bytes)
            .ok_or_else(|| GgufError::OffsetOverflow {
                tensor: info.name.clone(),
                offset: info.offset,
                n_bytes: info.n_bytes,
            })?;
        tensors.push(info);
    }

    let data_offset = cur
        .pos()
        .checked_next_multiple_of(alignment)
        .ok_or(GgufError::BadAlignment { value: alignment })?;
    // The data section's extent is checked per tensor when it is read, so a
    // file whose weights were cut off still yields its header.
    if data_offset.checked_add(prev_end).is_none() {
        // Only reachable with at least one tensor: prev_end is 0 otherwise.
        let last = tensors.last();
        return Err(GgufError::OffsetOverflow {
            tensor: last.map(|t| t.name.clone()).unwrap_or_default(),
            offset: last.map_or(0, |t| t.offset),
            n_bytes: last.map_or(0, |t| t.n_bytes),
        });
    }

    Ok(Header {
        version,
        metadata,
        tensors,
        alignment,
        data_offset,
    })
}

fn alignment_of(metadata: &Metadata) -> Result<u64> {
    let Some(value) = metadata.get(ALIGNMENT_KEY) else {
        return Ok(DEFAULT_ALIGNMENT);
    };
    let align = match value {
        Value::U8(_) | Value::U16(_) | Value::U32(_) | Value::U64(_) | Value::I32(_) | Value::I64(_) => {
            value.as_u64().ok_or(GgufError::BadAlignment { value: 0 })?
        }
        other => {
            return Err(GgufError::WrongKeyType {
                key: ALIGNMENT_KEY.into(),
                expected: "an unsigned integer",
                found: other.value_type().to_string(),
            })
        }
    };
    if align == 0 || !align.is_power_of_two() || align > 1 << 30 {
        return Err(GgufError::BadAlignment { value: align });
    }
    Ok(align)
}

fn read_value(cur: &mut Cursor<'_>, file: &Shared, ty: ValueType, key: &str, depth: usize) -> Result<Value> {
    let what = || format!("the value of metadata key {key:?}");
    Ok(match ty {
        ValueType::U8 => Value::U8(cur.u8(&what)?),
        ValueType::I8 => Value::I8(cur.u8(&what)? as i8),
        ValueType::U16 => Value::U16(cur.u16(&what)?),
        ValueType::I16 => Value::I16(cur.u16(&what)? as i16),
        ValueType::U32 => Value::U32(cur.u32(&what)?),
        ValueType::I32 => Value::I32(cur.u32(&what)? as i32),
        ValueType::F32 => Value::F32(f32::from_bits(cur.u32(&what)?)),
        ValueType::U64 => Value::U64(cur.u64(&what)?),
        ValueType::I64 => Value::I64(cur.u64(&what)? as i64),
        ValueType::F64 => Value::F64(f64::from_bits(cur.u64(&what)?)),
        // ggml reads a bool as one byte; anything but 0 is true there too.
        ValueType::Bool => Value::Bool(cur.u8(&what)? != 0),
        ValueType::String => Value::String(cur.string(&what)?),
        ValueType::Array => Value::Array(read_array(cur, file, key, depth)?),
    })
}

/// An array (after its type tag). Nested arrays are read one by one;
/// scalars and strings stay where they are in `file`, checked whole here.
fn read_array(cur: &mut Cursor<'_>, file: &Shared, key: &str, depth: usize) -> Result<Array> {
    if depth >= MAX_NESTING {
        return Err(GgufError::NestingTooDeep {
            key: key.into(),
            max: MAX_NESTING,
        });
    }
    let what = || format!("the value of metadata key {key:?}");
    let elem_id = cur.u32(&|| format!("the element type of array {key:?}"))?;
    let elem_type = ValueType::from_id(elem_id).ok_or_else(|| GgufError::UnknownValueType {
        key: key.into(),
        offset: cur.pos() - 4,
        id: elem_id,
    })?;
    let count = cur.u64(&|| format!("the length of array {key:?}"))?;
    // Strings take at least their 8-byte length, nested arrays their
    // 4-byte type and 8-byte count.
    let min_size = match elem_type {
        ValueType::String => 8,
        ValueType::Array => 12,
        t => t.fixed_size().unwrap_or(1) as u64,
    };
    cur.check_count(count, min_size, &|| format!("array {key:?}"))?;
    // The count fits in what is left (checked above), so in usize.
    if elem_type == ValueType::Array {
        let mut items = Vec::with_capacity(count as usize);
        for _ in 0..count {
            items.push(read_array(cur, file, key, depth + 1)?);
        }
        return Ok(Array::of_arrays(items));
    }
    let start = cur.pos() as usize;
    if elem_type == ValueType::String {
        for _ in 0..count {
            cur.string_bytes(&what)?;
        }
    } else {
        cur.take(count * min_size, &what)?;
    }
    let range = start..cur.pos() as usize;
    Ok(Array::encoded(elem_type, count as usize, file.clone(), range))
}

fn read_tensor_info(cur: &mut Cursor<'_>, index: u64) -> Result<TensorInfo> {
    let name = cur.string(&|| format!("the name of tensor #{index}"))?;
    let n_dims = cur.u32(&|| format!("the dimension count of tensor {name:?}"))?;
    if n_dims as usize > MAX_DIMS {
        return Err(GgufError::TooManyDims {
            tensor: name,
            n_dims,
            max: MAX_DIMS,
        });
    }
    let mut shape = Vec::with_capacity(n_dims as usize);
    for d in 0..n_dims as usize {
        let dim = cur.u64(&|| format!("dimension {d} of tensor {name:?}"))?;
        if dim == 0 {
            return Err(GgufError::ZeroDim {
                tensor: name,
                index: d,
            });
        }
        shape.push(dim);
    }
    let type_id = cur.u32(&|| format!("the type of tensor {name:?}"))?;
    let offset = cur.u64(&|| format!("the data offset of tensor {name:?}"))?;
    let ggml_type = GgmlType::from_id(type_id).ok_or_else(|| GgufError::UnknownTensorType {
        tensor: name.clone(),
        id: type_id,
    })?;
    TensorInfo::new(name, shape, ggml_type, offset)
}
