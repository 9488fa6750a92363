//! The attention kernels of `kernels::attn` against their scalar
//! references, bit for bit, on random f16-valued inputs of odd sizes
//! (head widths not a multiple of 16, partial tiles, lane walks starting
//! anywhere). On a CPU without AVX-512 both sides are the reference.

use kernels::attn::{self, LANES};
use proptest::prelude::*;

mod common;

use common::bits;

/// `n` f16 values widened to f32 ([`common::f16s`]).
fn f16_values(n: usize) -> impl Strategy<Value = Vec<f32>> {
    common::f16s(n).prop_map(|v| common::widen(&v))
}

/// Sizes of a score tile: head width, rows, keys, extra stride.
fn score_case() -> impl Strategy<Value = (usize, usize, usize, usize, Vec<f32>, Vec<f32>, f32)> {
    (1usize..=300, 1usize..=9, 1usize..=11, 0usize..3).prop_flat_map(|(hk, nr, nc, pad)| {
        (
            Just(hk),
            Just(nr),
            Just(nc),
            Just(pad),
            f16_values(nr * hk),
            f16_values(nc * hk),
            -2.0f32..2.0,
        )
    })
}

/// Sizes of a value accumulation: rows, first cell, cells (split in two
/// calls at `split`), head width, column range, extra strides.
#[allow(clippy::type_complexity)]
fn value_case() -> impl Strategy<
    Value = (
        (usize, usize, usize, usize, usize, usize, usize, usize),
        Vec<f32>,
        Vec<f32>,
        Vec<f32>,
    ),
> {
    (1usize..=9, 0usize..40, 0usize..70, 1usize..=150, 0usize..3)
        .prop_flat_map(|(nr, first, n, hv, pad)| (Just((nr, first, n, hv, pad)), 0..=n, 0..=hv, 0..=hv))
        .prop_flat_map(|((nr, first, n, hv, pad), split, c0, c1)| {
            let (c0, c1) = (c0.min(c1), c0.max(c1));
            let (ps, acs) = (n + pad, LANES * hv + pad);
            (
                Just((nr, first, n, hv, split, c0, c1, pad)),
                f16_values((nr - 1) * ps + n),
                f16_values(n * hv),
                proptest::collection::vec(-4.0f32..4.0, (nr - 1) * acs + LANES * hv),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn scores_match_scalar((hk, nr, nc, pad, q, k, scale) in score_case()) {
        let os = nc + pad;
        let mut got = vec![f32::NAN; (nr - 1) * os + nc];
        let mut want = got.clone();
        attn::scores(&q, &k, hk, nr, nc, scale, &mut got, os);
        attn::scores_scalar(&q, &k, hk, nr, nc, scale, &mut want, os);
        prop_assert_eq!(bits(&got), bits(&want), "hk {} rows {} keys {}", hk, nr, nc);
    }

    #[test]
    fn values_match_scalar(((nr, first, n, hv, split, c0, c1, pad), p, v, acc) in value_case(), vpad in 0usize..3) {
        let (ps, acs) = (n + pad, LANES * hv + pad);
        let mut got = acc.clone();
        let mut want = acc;
        // Two calls continuing the same sums, as a caller walking tiles
        // of cells does.
        // The values of columns `c0..c1`, `vs` apart.
        let vs = c1 - c0 + vpad;
        let v: Vec<f32> = (0..n * vs).map(|x| if x % vs < c1 - c0 { v[x / vs * hv + c0 + x % vs] } else { f32::NAN }).collect();
        attn::values_acc(&p, ps, nr, first, split, &v, vs, hv, c0..c1, &mut got, acs);
        attn::values_acc(&p[split..], ps, nr, first + split, n - split, &v[split * vs..], vs, hv, c0..c1, &mut got, acs);
        attn::values_acc_scalar(&p, ps, nr, first, n, &v, vs, hv, c0..c1, &mut want, acs);
        prop_assert_eq!(bits(&got), bits(&want), "rows {} first {} cells {} hv {} cols {}..{}", nr, first, n, hv, c0, c1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, cases: 1000, ..ProptestConfig::default() })]

    /// Rows of scores: spread from a few units to hundreds (exponentials
    /// down into subnormals and zero), some cells masked with -inf.
    #[test]
    fn softmax_matches_scalar(
        x in proptest::collection::vec(-1.0f32..1.0, 0..100),
        spread in prop_oneof![Just(1.0f32), Just(20.0), Just(200.0)],
        first in 0usize..40,
        masked in proptest::collection::vec(any::<bool>(), 100),
    ) {
        let mut want: Vec<f32> = x.iter().zip(&masked).map(|(&v, &m)| if m && v > 0.9 { f32::NEG_INFINITY } else { v * spread }).collect();
        let mut got = want.clone();
        attn::softmax_from(&mut got, first);
        kernels::ops::softmax_from(&mut want, first);
        prop_assert_eq!(bits(&got), bits(&want), "first {}", first);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, cases: 300, ..ProptestConfig::default() })]

    /// Any f32 but NaN (whose payloads may differ), and values around
    /// f16's ties, subnormals and overflow.
    #[test]
    fn round_to_f16_matches_scalar(raw in proptest::collection::vec(any::<u32>(), 0..80), scale in prop_oneof![Just(1.0f32), Just(1e-6), Just(6e4)]) {
        let mut want: Vec<f32> = raw
            .iter()
            .map(|&b| {
                let v = f32::from_bits(b);
                if v.is_nan() { 0.5 } else if b % 3 == 0 { (b as f32 / u32::MAX as f32 - 0.5) * scale } else { v }
            })
            .collect();
        let mut got = want.clone();
        attn::round_to_f16(&mut got);
        kernels::ops::round_to_f16(&mut want);
        prop_assert_eq!(bits(&got), bits(&want));
    }
}

/// Gemma 3's shape (head width 256, a block of 4 rows, 32-key tiles) and
/// a long lane walk, on fixed inputs.
#[test]
fn gemma_shapes_match_scalar() {
    let vals = |n: usize, seed: u32| -> Vec<f32> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                half::f16::from_f32((x as f32 / u32::MAX as f32) * 4.0 - 2.0).to_f32()
            })
            .collect()
    };
    let (hk, nr, nc) = (256, 32, 32);
    let (q, k) = (vals(nr * hk, 1), vals(nc * hk, 2));
    let mut got = vec![0.0; nr * 40];
    let mut want = got.clone();
    attn::scores(&q, &k, hk, nr, nc, 0.0625, &mut got, 40);
    attn::scores_scalar(&q, &k, hk, nr, nc, 0.0625, &mut want, 40);
    assert_eq!(bits(&got), bits(&want));

    let (hv, n) = (256, 517);
    let (p, v) = (vals(4 * n, 3), vals(n * hv, 4));
    let mut got = vec![0.0; 4 * LANES * hv];
    let mut want = got.clone();
    attn::values_acc(&p, n, 4, 3, n, &v, hv, hv, 0..hv, &mut got, LANES * hv);
    attn::values_acc_scalar(&p, n, 4, 3, n, &v, hv, hv, 0..hv, &mut want, LANES * hv);
    assert_eq!(bits(&got), bits(&want));
}

#[test]
fn widen_is_exact() {
    let src: Vec<half::f16> = (0..=u16::MAX)
        .map(half::f16::from_bits)
        .filter(|h| !h.is_nan())
        .collect();
    for n in [0, 1, 15, 16, 17, 100, src.len()] {
        let mut got = vec![0.0f32; n];
        let mut want = vec![0.0f32; n];
        attn::widen(&src[src.len() - n..], &mut got);
        attn::widen_scalar(&src[src.len() - n..], &mut want);
        assert_eq!(bits(&got), bits(&want));
    }
}

/// The softmax's `exp` over a dense sweep of its whole useful range
/// (0 down to about -104, past the subnormals): a million values, rows of
/// 100 with a 0 for the maximum.
#[test]
fn softmax_dense_sweep_matches_scalar() {
    let step = 104.0 / 1_000_000.0;
    for row in 0..10_000 {
        let mut want: Vec<f32> = (0..100)
            .map(|i| {
                if i == 0 {
                    0.0
                } else {
                    -((row * 100 + i) as f32) * step
                }
            })
            .collect();
        let mut got = want.clone();
        attn::softmax_from(&mut got, row % 16);
        kernels::ops::softmax_from(&mut want, row % 16);
        assert_eq!(bits(&got), bits(&want), "row {row}");
    }
}
