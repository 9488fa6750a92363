//! Inputs shared by the attention kernels' property tests.

#![allow(dead_code)]

use half::f16;
use proptest::prelude::*;

/// `n` f16 values: arbitrary finite bit patterns (subnormals, ±0, up to
/// ±65504) or, in the other mode, values in -2..2.
pub fn f16s(n: usize) -> impl Strategy<Value = Vec<f16>> {
    (
        proptest::collection::vec(any::<u16>(), n),
        proptest::collection::vec(-2.0f32..2.0, n),
        any::<bool>(),
    )
        .prop_map(|(bits, small, wide)| {
            if wide {
                // An all-ones exponent (inf, NaN) loses one bit.
                bits.into_iter()
                    .map(|b| f16::from_bits(if b & 0x7C00 == 0x7C00 { b & !0x4000 } else { b }))
                    .collect()
            } else {
                small.into_iter().map(f16::from_f32).collect()
            }
        })
}

/// f16 values widened to f32.
pub fn widen(x: &[f16]) -> Vec<f32> {
    x.iter().map(|h| h.to_f32()).collect()
}

/// The bit patterns of `x`, for exact comparisons.
pub fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}
