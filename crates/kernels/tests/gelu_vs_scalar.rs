//! The gated GELU of the feed-forward step (AVX-512 where the CPU has it)
//! against the element-by-element reference, bit for bit: both look up the
//! same f16 table, so the only room for a difference is the f16 rounding
//! of the index, the two bounds and the order of the product.

use kernels::ops::{gated, gated_gelu, gelu};
use proptest::prelude::*;

/// Values around every branch: the table's range, the bounds ±10 and
/// their neighbours, halfway points between f16 values, zeros, infinities,
/// NaN, subnormals and huge values.
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -12.0f32..12.0,
        1 => prop::sample::select(vec![
            -10.0f32,
            10.0,
            f32::from_bits(10.0f32.to_bits() - 1),
            f32::from_bits((-10.0f32).to_bits() - 1),
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MIN_POSITIVE / 4.0,
            -1e30,
            1e30,
            // Ties between two f16 values (1 + 2^-11 lies halfway between 1
            // and the next f16): the rounding must go to even on both sides.
            1.0 + 1.0 / 2048.0,
            1.0 + 3.0 / 2048.0,
        ]),
        1 => any::<u32>().prop_map(f32::from_bits),
    ]
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(512) })]
    #[test]
    fn gated_gelu_matches_the_reference(
        gate in prop::collection::vec(value(), 0..100),
        up in prop::collection::vec(-4.0f32..4.0, 100),
    ) {
        let mut got = gate.clone();
        gated_gelu(&mut got, &up[..gate.len()]);
        let mut want = gate.clone();
        gated(&mut want, &up[..gate.len()], gelu);
        for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
            prop_assert!(same(g, w), "element {i} of {}: gelu({}) -> {g} vs {w}", gate.len(), gate[i]);
        }
    }
}
