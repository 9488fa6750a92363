//! The dispatched activation quantizers (AVX-512 where the CPU has it)
//! against the portable ones, byte for byte: both must round and clamp the
//! same way, or every matmul's inputs drift from llama.cpp's.

use kernels::dot::{quantize_row_q8_0, quantize_row_q8_k, Q8_0_BYTES, Q8_K_BYTES};
use kernels::simd;
use proptest::prelude::*;

/// Both quantizers of both formats on `x` (a multiple of 256 long).
fn check(x: &[f32]) -> Result<(), TestCaseError> {
    let n0 = x.len() / 32 * Q8_0_BYTES;
    let (mut want, mut got) = (vec![0xAAu8; n0], vec![0x55u8; n0]);
    prop_assert_eq!(quantize_row_q8_0(x, &mut want), n0);
    prop_assert_eq!(simd::quantize_row_q8_0(x, &mut got), n0);
    prop_assert_eq!(&got, &want, "Q8_0 of {:?}", x);
    let nk = x.len() / 256 * Q8_K_BYTES;
    let (mut want, mut got) = (vec![0xAAu8; nk], vec![0x55u8; nk]);
    prop_assert_eq!(quantize_row_q8_k(x, &mut want), nk);
    prop_assert_eq!(simd::quantize_row_q8_k(x, &mut got), nk);
    prop_assert_eq!(&got, &want, "Q8_K of {:?}", x);
    Ok(())
}

/// Ordinary activations, with zeros, huge and tiny values, infinities and
/// NaNs mixed in.
fn element() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => -100.0f32..100.0,
        1 => Just(0.0f32),
        1 => any::<f32>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(256)
    })]
    #[test]
    fn quantizers_match_the_portable_ones(x in proptest::collection::vec(element(), 512)) {
        check(&x)?;
    }
}

/// Blocks that hit the edge cases on purpose: all zeros, exact ties of the
/// rounding (`amax = 127` makes the scale 1), the largest magnitude
/// negative and repeated with both signs, and NaNs beside finite values
/// (one last in its blocks, where no later element can hide it).
#[test]
fn edge_blocks_match_the_portable_ones() {
    let mut x = vec![0.0f32; 256];
    x.extend((0..256).map(|i| if i == 7 { 127.0 } else { (i % 64) as f32 - 31.5 }));
    x.extend((0..256).map(|i| {
        if i % 50 == 3 {
            -90.0
        } else if i % 50 == 9 {
            90.0
        } else {
            i as f32 * 0.1
        }
    }));
    x.extend((0..256).map(|i| {
        if i == 100 || i == 255 {
            f32::NAN
        } else {
            i as f32 - 128.0
        }
    }));
    check(&x).unwrap();
}
