//! Hostile and broken GGUF files, modelled on llama.cpp's tests/test-gguf.cpp
//! (its handcrafted-file cases) and the CVEs against GGUF loaders: each must
//! be refused with the right typed error, never a panic, never a huge
//! allocation, never a hang.

use gguf::{GgmlType, GgufError, GgufFile, GgufWriter, Value, ValueType};
use proptest::prelude::*;

/// Builds GGUF bytes field by field, so each test can break exactly one.
#[derive(Default)]
struct Raw(Vec<u8>);

impl Raw {
    fn header(version: u32, n_tensors: u64, n_kv: u64) -> Raw {
        let mut r = Raw::default();
        r.bytes(b"GGUF").u32(version).u64(n_tensors).u64(n_kv);
        r
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64).bytes(s.as_bytes())
    }
    /// A u32 metadata entry.
    fn kv_u32(&mut self, key: &str, v: u32) -> &mut Self {
        self.str(key).u32(ValueType::U32.id()).u32(v)
    }
    /// A tensor info entry.
    fn tensor(&mut self, name: &str, shape: &[u64], ty: u32, offset: u64) -> &mut Self {
        self.str(name).u32(shape.len() as u32);
        for &d in shape {
            self.u64(d);
        }
        self.u32(ty).u64(offset)
    }
    fn pad(&mut self, align: usize) -> &mut Self {
        let len = self.0.len().next_multiple_of(align);
        self.0.resize(len, 0);
        self
    }
    fn zeros(&mut self, n: usize) -> &mut Self {
        self.0.resize(self.0.len() + n, 0);
        self
    }
    fn parse(&self) -> Result<GgufFile, GgufError> {
        GgufFile::from_bytes(self.0.clone())
    }
}

fn err(raw: &Raw) -> GgufError {
    match raw.parse() {
        Ok(f) => panic!("expected an error, parsed {f:?}"),
        Err(e) => {
            // Every message must be printable and non-empty.
            assert!(!e.to_string().is_empty());
            e
        }
    }
}

/// A small valid file with metadata of several types and three tensors.
fn valid_file() -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.add_metadata("general.architecture", Value::String("llama".into()))
        .add_metadata("llama.block_count", Value::U32(2))
        .add_metadata(
            "tokenizer.ggml.tokens",
            Value::Array(
                gguf::Array::new(
                    ValueType::String,
                    vec![Value::String("a".into()), Value::String("b".into())],
                )
                .unwrap(),
            ),
        );
    w.add_f32("a", &[4, 2], &[1.0; 8]).unwrap();
    w.add_tensor("b", GgmlType::Q8_0, &[32], vec![0u8; 34]).unwrap();
    w.add_tensor("c", GgmlType::F16, &[3], vec![0u8; 6]).unwrap();
    w.to_bytes().unwrap()
}

#[test]
fn bad_magic() {
    let mut raw = Raw::header(3, 0, 0);
    raw.0[..4].copy_from_slice(b"GGML");
    assert!(matches!(err(&raw), GgufError::BadMagic { .. }));
}

#[test]
fn bad_versions() {
    for v in [0, 1, 4, 0xffff_ffff] {
        assert!(
            matches!(err(&Raw::header(v, 0, 0)), GgufError::UnsupportedVersion { version } if version == v)
        );
    }
    // Version 3 written big-endian.
    assert!(matches!(
        err(&Raw::header(3u32.swap_bytes(), 0, 0)),
        GgufError::BigEndian { .. }
    ));
}

#[test]
fn empty_and_header_only_files() {
    assert!(matches!(err(&Raw::default()), GgufError::Truncated { .. }));
    // A header with no tensors and no metadata is a valid, empty model.
    let f = Raw::header(3, 0, 0).parse().unwrap();
    assert_eq!(f.tensors().len(), 0);
    assert!(Raw::header(2, 0, 0).parse().is_ok());
}

#[test]
fn huge_counts_are_refused_before_allocating() {
    for (n_tensors, n_kv) in [
        (u64::MAX, 0),
        (0, u64::MAX),
        (1 << 40, 0),
        (0, 1 << 40),
        (u64::MAX / 2, u64::MAX / 2),
    ] {
        let e = err(&Raw::header(3, n_tensors, n_kv));
        assert!(matches!(e, GgufError::CountTooLarge { .. }), "{e}");
    }
}

#[test]
fn huge_string_lengths_are_refused() {
    let mut raw = Raw::header(3, 0, 1);
    raw.u64(u64::MAX).bytes(b"key").zeros(16);
    assert!(matches!(err(&raw), GgufError::Truncated { .. }));
    let mut raw = Raw::header(3, 0, 1);
    raw.str("k")
        .u32(ValueType::String.id())
        .u64(1 << 62)
        .bytes(b"short");
    assert!(matches!(err(&raw), GgufError::Truncated { .. }));
}

#[test]
fn huge_array_lengths_are_refused() {
    for elem in [ValueType::U8, ValueType::U64, ValueType::String, ValueType::Array] {
        let mut raw = Raw::header(3, 0, 1);
        raw.str("arr")
            .u32(ValueType::Array.id())
            .u32(elem.id())
            .u64(u64::MAX / 2);
        raw.zeros(64);
        let e = err(&raw);
        assert!(matches!(e, GgufError::CountTooLarge { .. }), "{elem}: {e}");
    }
}

#[test]
fn unknown_value_types() {
    let mut raw = Raw::header(3, 0, 1);
    raw.str("k").u32(13).u32(0);
    assert!(matches!(err(&raw), GgufError::UnknownValueType { id: 13, .. }));
    let mut raw = Raw::header(3, 0, 1);
    raw.str("k").u32(ValueType::Array.id()).u32(99).u64(1).u32(0);
    assert!(matches!(err(&raw), GgufError::UnknownValueType { id: 99, .. }));
}

#[test]
fn deeply_nested_arrays_are_refused() {
    let mut raw = Raw::header(3, 0, 1);
    raw.str("nest").u32(ValueType::Array.id());
    for _ in 0..100 {
        raw.u32(ValueType::Array.id()).u64(1);
    }
    raw.u32(ValueType::U8.id()).u64(1).bytes(&[7]);
    assert!(matches!(err(&raw), GgufError::NestingTooDeep { .. }));
}

#[test]
fn nested_arrays_within_the_limit_parse() {
    let inner =
        |v: u8| Value::Array(gguf::Array::new(ValueType::U8, vec![Value::U8(v), Value::U8(v + 1)]).unwrap());
    let mut w = GgufWriter::new();
    w.add_metadata(
        "nested",
        Value::Array(gguf::Array::new(ValueType::Array, vec![inner(1), inner(3)]).unwrap()),
    );
    let f = GgufFile::from_bytes(w.to_bytes().unwrap()).unwrap();
    let outer = f.metadata().get_array("nested").unwrap();
    assert_eq!(outer.get(1), Some(inner(3)));
}

#[test]
fn duplicate_key() {
    let mut raw = Raw::header(3, 0, 2);
    raw.kv_u32("general.alignment", 32)
        .kv_u32("general.alignment", 32);
    assert!(matches!(err(&raw), GgufError::DuplicateKey { .. }));
}

#[test]
fn bad_alignment() {
    for a in [0, 3, 31, 33, 1 << 31] {
        let mut raw = Raw::header(3, 0, 1);
        raw.kv_u32("general.alignment", a);
        assert!(
            matches!(err(&raw), GgufError::BadAlignment { .. }),
            "alignment {a}"
        );
    }
    let mut raw = Raw::header(3, 0, 1);
    raw.str("general.alignment").u32(ValueType::String.id()).str("32");
    assert!(matches!(err(&raw), GgufError::WrongKeyType { .. }));
}

#[test]
fn too_many_dimensions() {
    for n_dims in [5, 9, u32::MAX] {
        let mut raw = Raw::header(3, 1, 0);
        raw.str("t").u32(n_dims);
        raw.zeros(128);
        assert!(
            matches!(err(&raw), GgufError::TooManyDims { .. }),
            "n_dims {n_dims}"
        );
    }
}

#[test]
fn zero_dimension() {
    let mut raw = Raw::header(3, 1, 0);
    raw.tensor("t", &[4, 0], 0, 0).pad(32).zeros(64);
    assert!(matches!(err(&raw), GgufError::ZeroDim { index: 1, .. }));
}

#[test]
fn overflowing_dimensions() {
    for shape in [
        vec![u64::MAX, 2],
        vec![1 << 32, 1 << 32],
        vec![1 << 62, 4],
        vec![1 << 16, 1 << 16, 1 << 16, 1 << 16],
        vec![i64::MAX as u64 + 1],
    ] {
        let mut raw = Raw::header(3, 1, 0);
        raw.tensor("t", &shape, 0, 0).pad(32);
        assert!(matches!(err(&raw), GgufError::Overflow { .. }), "{shape:?}");
    }
}

#[test]
fn unknown_and_retired_tensor_types() {
    for ty in [4, 5, 31, 36, 40, 1000, u32::MAX] {
        let mut raw = Raw::header(3, 1, 0);
        raw.tensor("t", &[32], ty, 0).pad(32).zeros(64);
        assert!(
            matches!(err(&raw), GgufError::UnknownTensorType { .. }),
            "type {ty}"
        );
    }
}

#[test]
fn first_dimension_not_a_multiple_of_the_block() {
    let mut raw = Raw::header(3, 1, 0);
    raw.tensor("t", &[100, 2], GgmlType::Q4K.id(), 0)
        .pad(32)
        .zeros(512);
    assert!(matches!(err(&raw), GgufError::NotBlockMultiple { dim0: 100, .. }));
}

#[test]
fn misaligned_offset() {
    let mut raw = Raw::header(3, 1, 0);
    raw.tensor("t", &[4], 0, 7).pad(32).zeros(64);
    assert!(matches!(err(&raw), GgufError::MisalignedOffset { offset: 7, .. }));
}

#[test]
fn overlapping_or_out_of_order_offsets() {
    let mut raw = Raw::header(3, 2, 0);
    raw.tensor("a", &[16], 0, 0)
        .tensor("b", &[16], 0, 32)
        .pad(32)
        .zeros(256);
    assert!(matches!(
        err(&raw),
        GgufError::OffsetOutOfOrder { prev_end: 64, .. }
    ));
    let mut raw = Raw::header(3, 2, 0);
    raw.tensor("a", &[8], 0, 64)
        .tensor("b", &[8], 0, 0)
        .pad(32)
        .zeros(256);
    assert!(matches!(err(&raw), GgufError::OffsetOutOfOrder { .. }));
}

#[test]
fn offset_near_u64_max_overflows_cleanly() {
    let off = u64::MAX - 31;
    let mut raw = Raw::header(3, 1, 0);
    raw.tensor("t", &[64], 0, off).pad(32);
    assert!(matches!(err(&raw), GgufError::OffsetOverflow { .. }));
}

#[test]
fn duplicate_tensor_names() {
    let mut raw = Raw::header(3, 2, 0);
    raw.tensor("w", &[8], 0, 0)
        .tensor("w", &[8], 0, 32)
        .pad(32)
        .zeros(64);
    assert!(matches!(err(&raw), GgufError::DuplicateTensor { .. }));
}

#[test]
fn data_past_the_end_fails_on_read_not_on_open() {
    let mut raw = Raw::header(3, 2, 0);
    raw.tensor("in", &[8], 0, 0)
        .tensor("out", &[1024], 0, 32)
        .pad(32)
        .zeros(32);
    let f = raw.parse().expect("header is whole");
    let inside = f.require_tensor("in").unwrap();
    assert_eq!(f.tensor_data(inside).unwrap().len(), 32);
    let outside = f.require_tensor("out").unwrap();
    assert!(matches!(
        f.tensor_data(outside),
        Err(GgufError::DataOutOfBounds { .. })
    ));
    assert!(matches!(
        f.require_tensor("nope"),
        Err(GgufError::TensorNotFound { .. })
    ));
}

#[test]
fn cut_in_every_header_position_is_a_clean_truncation() {
    let bytes = valid_file();
    let full = GgufFile::from_bytes(bytes.clone()).unwrap();
    let header_end = full.data_offset() as usize;
    for cut in 0..bytes.len() {
        match GgufFile::from_bytes(bytes[..cut].to_vec()) {
            // Cut inside magic, metadata or tensor table: either a read
            // runs out, or a count no longer fits in what is left.
            Err(GgufError::Truncated { .. } | GgufError::CountTooLarge { .. }) => {
                assert!(cut < header_end, "cut at {cut} after the header: {header_end}")
            }
            Err(e) => panic!("cut at {cut}: unexpected error {e}"),
            // Only the padding or the data was cut: tensors fail on read.
            Ok(f) => {
                // The header itself is whole; at most the alignment padding is missing.
                assert!(
                    cut + 32 > header_end,
                    "cut at {cut} parsed, header ends at {header_end}"
                );
                for t in f.tensors() {
                    let end = f.absolute_offset(t) + t.n_bytes;
                    assert_eq!(
                        f.tensor_data(t).is_ok(),
                        end as usize <= cut,
                        "cut {cut}, {}",
                        t.name
                    );
                }
            }
        }
    }
}

#[test]
fn writer_round_trips_every_value_type_in_v2_and_v3() {
    let values = [
        Value::U8(200),
        Value::I8(-100),
        Value::U16(60000),
        Value::I16(-30000),
        Value::U32(4_000_000_000),
        Value::I32(-2_000_000_000),
        Value::F32(1.5),
        Value::Bool(true),
        Value::String("sobre ✓".into()),
        Value::U64(u64::MAX),
        Value::I64(i64::MIN),
        Value::F64(-2.25),
        Value::Array(gguf::Array::new(ValueType::String, vec![]).unwrap()),
    ];
    for version in [2, 3] {
        let mut w = GgufWriter::new().version(version).alignment(64).unwrap();
        for (i, v) in values.iter().enumerate() {
            w.add_metadata(format!("k{i}"), v.clone());
        }
        w.add_tensor("q", GgmlType::Q4K, &[256, 2], vec![1u8; 288])
            .unwrap();
        w.add_f32("f", &[3], &[1.0, 2.0, 3.0]).unwrap();
        let f = GgufFile::from_bytes(w.to_bytes().unwrap()).unwrap();
        assert_eq!(f.version(), version);
        assert_eq!(f.alignment(), 64);
        for (i, v) in values.iter().enumerate() {
            assert_eq!(f.metadata().get(&format!("k{i}")), Some(v));
        }
        let q = f.require_tensor("q").unwrap();
        assert_eq!(
            (q.ggml_type, q.shape.as_slice(), q.n_bytes),
            (GgmlType::Q4K, &[256u64, 2][..], 288)
        );
        assert_eq!(f.tensor_data(q).unwrap(), &[1u8; 288][..]);
        let fdata = f.tensor_data(f.require_tensor("f").unwrap()).unwrap();
        assert_eq!(&fdata[4..8], &2.0f32.to_le_bytes());
        assert_eq!(f.absolute_offset(q) % 64, 0);
    }
}

#[test]
fn writer_refuses_what_the_reader_would() {
    let mut w = GgufWriter::new();
    assert!(w.add_tensor("x", GgmlType::Q4_0, &[31], vec![0; 18]).is_err());
    assert!(w.add_tensor("x", GgmlType::F32, &[4], vec![0; 15]).is_err());
    assert!(w.add_tensor("x", GgmlType::F32, &[0], vec![]).is_err());
    w.add_f32("x", &[1], &[0.0]).unwrap();
    assert!(matches!(
        w.add_f32("x", &[1], &[0.0]),
        Err(GgufError::DuplicateTensor { .. })
    ));
    assert!(GgufWriter::new().alignment(24).is_err());
    // A GGUF array is homogeneous: a mixed one cannot even be built.
    assert!(matches!(
        gguf::Array::new(ValueType::U8, vec![Value::U8(1), Value::U32(2)]),
        Err(GgufError::MixedArray { .. })
    ));
}

#[test]
fn open_reads_from_disk_and_names_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    std::fs::write(&path, valid_file()).unwrap();
    let f = GgufFile::open(&path).unwrap();
    assert_eq!(f.architecture(), Some("llama"));
    assert_eq!(f.tensors().len(), 3);
    let e = GgufFile::open(dir.path().join("missing.gguf")).unwrap_err();
    assert!(e.to_string().contains("missing.gguf"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Flipping bytes of a valid file never panics; whatever parses yields
    /// tensor data inside the buffer or a clean error.
    #[test]
    fn mutated_files_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = valid_file();
        for (i, b) in edits {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        if let Ok(f) = GgufFile::from_bytes(bytes) {
            for t in f.tensors() {
                let _ = f.tensor_data(t);
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if bytes.len() >= 8 {
            bytes[..4].copy_from_slice(b"GGUF");
            bytes[4..8].copy_from_slice(&3u32.to_le_bytes());
        }
        let _ = GgufFile::from_bytes(bytes);
    }
}
