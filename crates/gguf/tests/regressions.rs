//! Crashes and hangs found in the reader (by review and by the fuzz target
//! fuzz/fuzz_targets/gguf_parse.rs), one test each, named after what it was.

use std::time::{Duration, Instant};

use gguf::{GgmlType, GgufFile, ValueType};

fn header(n_tensors: u64, n_kv: u64) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&n_tensors.to_le_bytes());
    b.extend_from_slice(&n_kv.to_le_bytes());
    b
}

fn push_str(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(&(s.len() as u64).to_le_bytes());
    b.extend_from_slice(s.as_bytes());
}

/// `n_params` summed element counts with `+`: four TQ1_0 tensors of 2^62
/// elements each (54 bytes per 256 elements on disk, so a header can declare
/// them) overflowed u64 and panicked in `sobre inspect` / `sobre list`.
#[test]
fn n_params_overflow_with_huge_ternary_tensors() {
    let ty = GgmlType::TQ1_0;
    let n = 1u64 << 62;
    let n_bytes = n / ty.block_size() as u64 * ty.type_size() as u64;
    let mut b = header(4, 0);
    for i in 0..4u64 {
        push_str(&mut b, &format!("t{i}"));
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&n.to_le_bytes());
        b.extend_from_slice(&ty.id().to_le_bytes());
        b.extend_from_slice(&(i * n_bytes).to_le_bytes());
    }
    b.resize(b.len().next_multiple_of(32), 0);
    let f = GgufFile::from_bytes(b).expect("the header itself is valid");
    assert_eq!(f.n_params(), u64::MAX);
    assert!(f.tensor_data(&f.tensors()[0]).is_err());
}

/// Every key was looked up with a linear scan before it was inserted, so a
/// header of many tiny keys took quadratic time to parse (200,000 keys, a
/// 4 MB file, took about two and a half minutes; 50,000 took 9 s).
#[test]
fn many_metadata_keys_parse_in_linear_time() {
    let n = 200_000u64;
    let mut b = header(0, n);
    for i in 0..n {
        push_str(&mut b, &format!("k{i}"));
        b.extend_from_slice(&ValueType::U8.id().to_le_bytes());
        b.push(i as u8);
    }
    let start = Instant::now();
    let f = GgufFile::from_bytes(b).expect("parses");
    let elapsed = start.elapsed();
    assert_eq!(f.metadata().len(), n as usize);
    assert_eq!(f.metadata().get_u64("k199999"), Some(199_999 % 256));
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}
