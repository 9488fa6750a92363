//! The single-token attention kernels of `kernels::attn::single` against
//! their scalar references, bit for bit, on random f16 inputs: head widths
//! that are and are not multiples of 64, partial groups of 16 keys, strided
//! cache rows, lane walks starting anywhere. The references themselves are
//! checked against the formulations they replace (`ops::dot_f16_vec` on
//! widened keys; per-lane `axpy` rows reduced with `ops::reduce_lanes`).
//! On a CPU without AVX-512 both sides are the reference.

use half::f16;
use kernels::attn::single::{self, LANES};
use proptest::prelude::*;

mod common;

use common::{bits, f16s, widen};

/// Head width (mostly multiples of 64, where the SIMD kernel runs), rows,
/// keys, extra key and score strides, queries, keys, scale.
#[allow(clippy::type_complexity)]
fn score_case() -> impl Strategy<Value = ((usize, usize, usize, usize, usize), Vec<f16>, Vec<f16>, f32)> {
    (
        prop_oneof![3 => (1usize..=5).prop_map(|m| 64 * m), 1 => 1usize..=200],
        1usize..=9,
        1usize..=40,
        0usize..70,
        0usize..3,
    )
        .prop_flat_map(|(hk, nr, nc, kpad, opad)| {
            let ks = hk + kpad;
            (
                Just((hk, nr, nc, kpad, opad)),
                f16s(nr * hk),
                f16s((nc - 1) * ks + hk),
                -2.0f32..2.0,
            )
        })
}

/// Rows, first cell, cells, head width (mostly multiples of 32), extra
/// probability, value and output strides, probabilities, values.
#[allow(clippy::type_complexity)]
fn value_case() -> impl Strategy<
    Value = (
        (usize, usize, usize, usize, usize, usize, usize),
        Vec<f16>,
        Vec<f16>,
    ),
> {
    (
        1usize..=9,
        0usize..200,
        0usize..300,
        prop_oneof![3 => (1usize..=8).prop_map(|m| 32 * m), 1 => 1usize..=100],
        0usize..3,
        0usize..40,
        0usize..3,
    )
        .prop_flat_map(|(nr, first, n, hv, ppad, vpad, opad)| {
            let (ps, vs) = (n + ppad, hv + vpad);
            (
                Just((nr, first, n, hv, ppad, vpad, opad)),
                f16s((nr - 1) * ps + n),
                f16s(n.saturating_sub(1) * vs + if n > 0 { hv } else { 0 }),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn scores_match_scalar(((hk, nr, nc, kpad, opad), q, k, scale) in score_case()) {
        let (q, ks, os) = (widen(&q), hk + kpad, nc + opad);
        let mut got = vec![f32::NAN; (nr - 1) * os + nc];
        let mut want = got.clone();
        single::scores(&q, &k, ks, hk, nr, nc, scale, &mut got, os);
        single::scores_scalar(&q, &k, ks, hk, nr, nc, scale, &mut want, os);
        prop_assert_eq!(bits(&got), bits(&want), "hk {} rows {} keys {}", hk, nr, nc);
        // The reference is `ops::dot_f16_vec` on the widened key.
        for r in 0..nr {
            for c in 0..nc {
                let key = widen(&k[c * ks..c * ks + hk]);
                let dot = kernels::ops::dot_f16_vec(&q[r * hk..(r + 1) * hk], &key) * scale;
                prop_assert_eq!(want[r * os + c].to_bits(), dot.to_bits());
            }
        }
    }

    #[test]
    fn values_match_scalar(((nr, first, n, hv, ppad, vpad, opad), p, v) in value_case()) {
        let (p, ps, vs, os) = (widen(&p), n + ppad, hv + vpad, hv + opad);
        let mut got = vec![f32::NAN; (nr - 1) * os + hv];
        let mut want = got.clone();
        single::values(&p, ps, nr, first, n, &v, vs, hv, &mut got, os);
        single::values_scalar(&p, ps, nr, first, n, &v, vs, hv, &mut want, os);
        prop_assert_eq!(bits(&got), bits(&want), "rows {} first {} cells {} hv {}", nr, first, n, hv);
        // The reference is per-lane rows of `axpy`, reduced by `reduce_lanes`.
        for r in 0..nr {
            let mut acc = vec![0f32; LANES * hv];
            for i in 0..n {
                let k = (first + i) % LANES;
                let val = widen(&v[i * vs..i * vs + hv]);
                kernels::ops::axpy(&mut acc[k * hv..(k + 1) * hv], p[r * ps + i], &val);
            }
            kernels::ops::reduce_lanes(&mut acc, LANES, hv);
            prop_assert_eq!(bits(&want[r * os..r * os + hv]), bits(&acc[..hv]));
        }
    }
}

/// Gemma 3's shape (head width 256, two or four query heads of one KV
/// head) over a long context starting off a lane boundary.
#[test]
fn gemma_shapes_match_scalar() {
    let vals = |n: usize, seed: u32| -> Vec<f16> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                f16::from_f32((x as f32 / u32::MAX as f32) * 4.0 - 2.0)
            })
            .collect()
    };
    let (hd, n, first) = (256, 517, 37);
    for nr in [1, 2, 4] {
        let q = widen(&vals(nr * hd, 1));
        let k = vals(n * hd, 2);
        let mut got = vec![0.0; nr * 600];
        let mut want = got.clone();
        single::scores(&q, &k, hd, hd, nr, n, 0.0625, &mut got, 600);
        single::scores_scalar(&q, &k, hd, hd, nr, n, 0.0625, &mut want, 600);
        assert_eq!(bits(&got), bits(&want));

        let p = widen(&vals(nr * n, 3));
        let v = vals(n * hd, 4);
        let mut got = vec![0.0; nr * hd];
        let mut want = got.clone();
        single::values(&p, n, nr, first, n, &v, hd, hd, &mut got, hd);
        single::values_scalar(&p, n, nr, first, n, &v, hd, hd, &mut want, hd);
        assert_eq!(bits(&got), bits(&want));
    }
}
