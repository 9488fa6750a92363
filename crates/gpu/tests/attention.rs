//! The attention kernel against the CPU path's arithmetic (model::arch's
//! `attend_block`: kernels::ops dot products in 64 lanes for a single
//! token, 16 for several, `softmax_from`, f16 probabilities, lane sums of
//! the values), bit for bit, on random queries and caches.

mod common;

use common::Rng;
use half::f16;
use kernels::ops;

#[allow(clippy::too_many_arguments)]
fn reference(
    q: &[f32],
    k: &[f16],
    v: &[f16],
    n_head: usize,
    n_kv: usize,
    hd: usize,
    pos0: usize,
    window: usize,
    kq_scale: f32,
) -> Vec<f32> {
    let n_tok = q.len() / (n_head * hd);
    let lanes = if n_tok == 1 { 64 } else { 16 };
    let group = n_head / n_kv;
    let mut out = vec![0.0f32; q.len()];
    for t in 0..n_tok {
        let pos = pos0 + t;
        let first = if window > 0 {
            (pos + 1).saturating_sub(window)
        } else {
            0
        };
        for h in 0..n_head {
            let kvh = h / group;
            let mut qh = q[(t * n_head + h) * hd..][..hd].to_vec();
            ops::round_to_f16(&mut qh);
            let row = |c: &[f16], j: usize| -> Vec<f32> {
                c[(j * n_kv + kvh) * hd..][..hd]
                    .iter()
                    .map(|x| x.to_f32())
                    .collect()
            };
            let mut p: Vec<f32> = (first..=pos)
                .map(|j| {
                    let key = row(k, j);
                    let d = if lanes == 64 {
                        ops::dot_f16_vec(&qh, &key)
                    } else {
                        ops::dot(&qh, &key)
                    };
                    d * kq_scale
                })
                .collect();
            ops::softmax_from(&mut p, first);
            ops::round_to_f16(&mut p);
            let mut acc = vec![0.0f32; lanes * hd];
            for j in first..=pos {
                let val = row(v, j);
                ops::axpy(&mut acc[(j % lanes) * hd..][..hd], p[j - first], &val);
            }
            ops::reduce_lanes(&mut acc, lanes, hd);
            out[(t * n_head + h) * hd..][..hd].copy_from_slice(&acc[..hd]);
        }
    }
    out
}

/// Uniform in `[-a, a)` times a random power of two in `2^-6..2^6`: f16
/// products of one scale sum exactly in f32 whatever the order, so the
/// sums' order only shows with values of many magnitudes.
fn wide(rng: &mut Rng, a: f32) -> f32 {
    let e = (rng.next() % 13) as i32 - 6;
    rng.uniform(a) * 2f32.powi(e)
}

#[test]
fn attention_matches_the_cpu_bit_for_bit() {
    let Some(gpu) = common::gpu() else { return };
    let mut rng = Rng(0x5eed_0001);
    let n_ctx = 96;
    for (n_head, n_kv, hd) in [(4, 2, 16), (4, 1, 256), (2, 2, 72)] {
        let k: Vec<f16> = (0..n_ctx * n_kv * hd)
            .map(|_| f16::from_f32(rng.uniform(2.0)))
            .collect();
        let v: Vec<f16> = (0..n_ctx * n_kv * hd)
            .map(|_| f16::from_f32(rng.uniform(2.0)))
            .collect();
        for (n_tok, pos0, window) in [
            (1, 0, 0),
            (1, 2, 0),
            (1, 40, 0),
            (1, 70, 16),
            (3, 0, 0),
            (9, 5, 0),
            (20, 30, 8),
        ] {
            let q: Vec<f32> = (0..n_tok * n_head * hd).map(|_| wide(&mut rng, 0.5)).collect();
            let want = reference(&q, &k, &v, n_head, n_kv, hd, pos0, window, 0.25);
            let got =
                gpu::check::attention(&gpu, &q, &k, &v, n_head, n_kv, hd, n_ctx, pos0, window, 0.25).unwrap();
            let bad: Vec<_> = (0..want.len())
                .filter(|&i| got[i].to_bits() != want[i].to_bits())
                .take(5)
                .map(|i| (i, got[i], want[i]))
                .collect();
            assert!(
                bad.is_empty(),
                "heads {n_head}/{n_kv} × {hd}, {n_tok} tokens at {pos0}, window {window}: (index, gpu, cpu) {bad:?}"
            );
        }
    }
}
