//! Metadata arrays, left in the file.
//!
//! A vocabulary is arrays of one entry per token: 262,144 strings, scores
//! and types for Gemma 3. Decoded into one [`Value`] each (40 bytes, plus a
//! heap block per string) they took 33 MB, 13% of Gemma 3 270M's file, for
//! as long as the file was open; packed, still 6 MB. Yet they are in the
//! mapped file already, and only the tokenizer reads them, once. So an
//! array of scalars or strings is a range of the file's bytes, decoded on
//! access; an array built in memory gets a buffer of its own, in the same
//! encoding.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crate::error::{GgufError, Result};
use crate::metadata::{Value, ValueType};

/// Bytes shared between a file and the arrays that point into it.
pub(crate) type Shared = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// A homogeneous array; `elem_type` is kept even when the array is empty.
/// Elements come out as [`Value`]s ([`Array::get`], [`Array::iter`]), or
/// strings borrowed in place ([`Array::strs`]).
#[derive(Clone)]
pub struct Array {
    elem_type: ValueType,
    len: usize,
    items: Items,
}

#[derive(Clone)]
enum Items {
    /// Scalars or strings in their GGUF encoding (`fixed_size()` bytes per
    /// scalar, little-endian; a u64 length then UTF-8 per string) at
    /// `bytes[range]`, checked when parsed or encoded.
    Encoded {
        bytes: Shared,
        range: Range<usize>,
    },
    Arrays(Vec<Array>),
}

impl Array {
    /// The `len` elements of type `elem_type` encoded at `bytes[range]`; the
    /// parser has checked that they are whole and in bounds.
    pub(crate) fn encoded(elem_type: ValueType, len: usize, bytes: Shared, range: Range<usize>) -> Array {
        Array {
            elem_type,
            len,
            items: Items::Encoded { bytes, range },
        }
    }

    /// An array of the arrays `items` (all of type `Array`).
    pub(crate) fn of_arrays(items: Vec<Array>) -> Array {
        Array {
            elem_type: ValueType::Array,
            len: items.len(),
            items: Items::Arrays(items),
        }
    }

    /// The array of `values`, all of type `elem_type`; an error names the
    /// first element of another type (GGUF arrays are homogeneous).
    pub fn new(elem_type: ValueType, values: impl IntoIterator<Item = Value>) -> Result<Array> {
        let mismatch = |v: &Value| GgufError::MixedArray {
            elem_type,
            found: v.value_type(),
        };
        if elem_type == ValueType::Array {
            let items = values
                .into_iter()
                .map(|v| match v {
                    Value::Array(a) => Ok(a),
                    v => Err(mismatch(&v)),
                })
                .collect::<Result<Vec<_>>>()?;
            return Ok(Array::of_arrays(items));
        }
        let mut out = Vec::new();
        let mut len = 0;
        for v in values {
            if v.value_type() != elem_type {
                return Err(mismatch(&v));
            }
            crate::writer::write_value(&mut out, &v);
            len += 1;
        }
        let range = 0..out.len();
        Ok(Array::encoded(elem_type, len, Arc::new(out), range))
    }

    /// An array of strings.
    pub fn strings<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> Array {
        let values = values.into_iter().map(|s| Value::String(s.as_ref().into()));
        Array::new(ValueType::String, values).expect("strings only")
    }

    pub fn elem_type(&self) -> ValueType {
        self.elem_type
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Element `i` as a value. Strings are found by walking the ones before
    /// (to read them all, [`Array::strs`] is linear).
    pub fn get(&self, i: usize) -> Option<Value> {
        if i >= self.len {
            return None;
        }
        match (&self.items, self.elem_type.fixed_size()) {
            (Items::Arrays(items), _) => items.get(i).cloned().map(Value::Array),
            (Items::Encoded { .. }, Some(size)) => {
                let raw = &self.raw()?[i * size..(i + 1) * size];
                Some(decode_scalar(self.elem_type, raw))
            }
            (Items::Encoded { .. }, None) => self.strs()?.nth(i).map(|s| Value::String(s.into_owned())),
        }
    }

    /// The strings of an array of strings, in order, borrowed where they are
    /// valid UTF-8 (invalid sequences become U+FFFD, as in all metadata);
    /// `None` when the elements are not strings.
    pub fn strs(&self) -> Option<Strs<'_>> {
        (self.elem_type == ValueType::String).then(|| Strs {
            rest: self.raw().unwrap_or_default(),
            left: self.len,
        })
    }

    /// The elements as values, in order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Value> + '_> {
        match (&self.items, self.strs()) {
            (Items::Arrays(items), _) => Box::new(items.iter().cloned().map(Value::Array)),
            (_, Some(strs)) => Box::new(strs.map(|s| Value::String(s.into_owned()))),
            _ => Box::new((0..self.len).filter_map(|i| self.get(i))),
        }
    }

    /// The GGUF encoding of the elements of an array of scalars or strings.
    pub(crate) fn raw(&self) -> Option<&[u8]> {
        match &self.items {
            Items::Encoded { bytes, range } => Some(&(**bytes).as_ref()[range.clone()]),
            Items::Arrays(_) => None,
        }
    }
}

/// The strings of an array ([`Array::strs`]).
#[derive(Debug, Clone)]
pub struct Strs<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for Strs<'a> {
    type Item = Cow<'a, str>;

    fn next(&mut self) -> Option<Cow<'a, str>> {
        // The encoding was checked whole; `get` keeps a corrupt one from
        // panicking all the same.
        let len = u64::from_le_bytes(self.rest.get(..8)?.try_into().ok()?);
        let end = usize::try_from(len).ok()?.checked_add(8)?;
        let s = self.rest.get(8..end)?;
        self.rest = &self.rest[end..];
        self.left -= 1;
        Some(String::from_utf8_lossy(s))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

impl PartialEq for Array {
    fn eq(&self, other: &Array) -> bool {
        self.elem_type == other.elem_type && self.len == other.len && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array")
            .field("elem_type", &self.elem_type)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// The scalar of type `ty` encoded in `raw` (at least its size).
pub(crate) fn decode_scalar(ty: ValueType, raw: &[u8]) -> Value {
    fn le<const N: usize>(raw: &[u8]) -> [u8; N] {
        raw[..N].try_into().expect("a whole scalar")
    }
    match ty {
        ValueType::U8 => Value::U8(raw[0]),
        ValueType::I8 => Value::I8(raw[0] as i8),
        ValueType::U16 => Value::U16(u16::from_le_bytes(le(raw))),
        ValueType::I16 => Value::I16(i16::from_le_bytes(le(raw))),
        ValueType::U32 => Value::U32(u32::from_le_bytes(le(raw))),
        ValueType::I32 => Value::I32(i32::from_le_bytes(le(raw))),
        ValueType::F32 => Value::F32(f32::from_le_bytes(le(raw))),
        // ggml reads a bool as one byte; anything but 0 is true there too.
        ValueType::Bool => Value::Bool(raw[0] != 0),
        ValueType::U64 => Value::U64(u64::from_le_bytes(le(raw))),
        ValueType::I64 => Value::I64(i64::from_le_bytes(le(raw))),
        ValueType::F64 => Value::F64(f64::from_le_bytes(le(raw))),
        ValueType::String | ValueType::Array => unreachable!("not a fixed-size type"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips() {
        let scalars = [
            Value::U8(200),
            Value::I8(-3),
            Value::U16(65000),
            Value::I16(-30000),
            Value::U32(4_000_000_000),
            Value::I32(-2_000_000_000),
            Value::F32(-1.5),
            Value::Bool(true),
            Value::U64(u64::MAX),
            Value::I64(i64::MIN),
            Value::F64(2.25),
        ];
        for v in scalars {
            let a = Array::new(v.value_type(), [v.clone(), v.clone()]).unwrap();
            assert_eq!(a.len(), 2);
            assert_eq!(a.get(1), Some(v.clone()));
            assert_eq!(a.get(2), None);
            assert!(a.strs().is_none());
        }
        let s = Array::strings(["", "a", "日本"]);
        assert_eq!(s.len(), 3);
        assert_eq!(s.strs().unwrap().collect::<Vec<_>>(), ["", "a", "日本"]);
        assert_eq!(s.get(2), Some(Value::String("日本".into())));
        assert_eq!(s.get(3), None);
        let nested = Array::new(ValueType::Array, [Value::Array(s.clone())]).unwrap();
        assert_eq!(nested.iter().collect::<Vec<_>>(), [Value::Array(s)]);
    }

    #[test]
    fn mixed_elements_are_refused() {
        let err = Array::new(ValueType::U8, [Value::U8(1), Value::U32(2)]).unwrap_err();
        assert!(matches!(err, GgufError::MixedArray { .. }), "{err}");
        assert!(Array::new(ValueType::String, [Value::U8(1)]).is_err());
        assert!(Array::new(ValueType::Array, [Value::String("x".into())]).is_err());
    }
}
