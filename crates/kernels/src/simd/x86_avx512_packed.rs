//! The packed Q8_0 kernel ([`crate::packed`]) on AVX-512 VNNI: sixteen
//! interleaved rows against up to eight tokens. Per block the sixteen
//! scales are widened and the eight weight registers loaded once; per
//! (block, token) eight `vpdpbusd` with the token's four bytes broadcast
//! from memory, from its seed, then one conversion, one scale product and
//! one FMA for all sixteen rows. Each lane does exactly what
//! [`group_scalar`](crate::packed::group_scalar) does for its row.

use std::arch::x86_64::*;

use super::x86_avx512::Vnni;
use crate::dot::{Q8_0_BYTES, QK8_0};
use crate::packed::{Acts, GroupFn, GROUP, GROUP_BLOCK_BYTES, MAX_TOKENS, SCALES_BYTES};

/// The kernel, where the CPU has AVX-512 VNNI.
pub(super) fn kernel() -> Option<GroupFn> {
    Vnni::detect()?;
    Some(group)
}

fn group(g: &[u8], acts: Acts<'_>, t0: usize, out: &mut [[f32; GROUP]]) {
    // `kernel` handed this function out only after `Vnni::detect`.
    match out.len() {
        1 => run::<1>(g, acts, t0, out),
        2 => run::<2>(g, acts, t0, out),
        3 => run::<3>(g, acts, t0, out),
        4 => run::<4>(g, acts, t0, out),
        5 => run::<5>(g, acts, t0, out),
        6 => run::<6>(g, acts, t0, out),
        7 => run::<7>(g, acts, t0, out),
        n => {
            debug_assert!(n <= MAX_TOKENS);
            for (j, o) in out.chunks_mut(MAX_TOKENS).enumerate() {
                if o.len() == MAX_TOKENS {
                    run::<MAX_TOKENS>(g, acts, t0 + j * MAX_TOKENS, o);
                } else {
                    group(g, acts, t0 + j * MAX_TOKENS, o);
                }
            }
        }
    }
}

fn run<const T: usize>(g: &[u8], acts: Acts<'_>, t0: usize, out: &mut [[f32; GROUP]]) {
    // SAFETY: only reached through `kernel`, after `Vnni::detect` saw
    // every feature `run_t` enables.
    unsafe { run_t::<T>(g, acts, t0, out) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn run_t<const T: usize>(g: &[u8], acts: Acts<'_>, t0: usize, out: &mut [[f32; GROUP]]) {
    let nb = acts.nb;
    assert!(g.len() >= nb * GROUP_BLOCK_BYTES && out.len() >= T);
    assert!(acts.q.len() >= (t0 + T) * acts.row_bytes && acts.row_bytes >= nb * Q8_0_BYTES);
    let mut acc = [_mm512_setzero_ps(); T];
    for b in 0..nb {
        let blk = &g[b * GROUP_BLOCK_BYTES..(b + 1) * GROUP_BLOCK_BYTES];
        // SAFETY: `blk` is GROUP_BLOCK_BYTES long: 32 bytes of scales, then
        // eight 64-byte registers of weights; the loads are unaligned ones.
        let (scales, w) = unsafe {
            let p = blk.as_ptr();
            let scales = _mm512_cvtph_ps(_mm256_loadu_si256(p.cast()));
            let q = p.add(SCALES_BYTES);
            let w: [__m512i; QK8_0 / 4] = std::array::from_fn(|k| _mm512_loadu_si512(q.add(64 * k).cast()));
            (scales, w)
        };
        for (j, a) in acc.iter_mut().enumerate() {
            let t = t0 + j;
            let (dx, seed) = acts.extra(t, b);
            let x = &acts.q[t * acts.row_bytes + b * Q8_0_BYTES + 2..][..QK8_0];
            let mut sum = _mm512_set1_epi32(seed);
            for (k, &wk) in w.iter().enumerate() {
                let xk = i32::from_le_bytes([x[4 * k], x[4 * k + 1], x[4 * k + 2], x[4 * k + 3]]);
                sum = _mm512_dpbusd_epi32(sum, wk, _mm512_set1_epi32(xk));
            }
            let d = _mm512_mul_ps(scales, _mm512_set1_ps(dx));
            *a = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sum), *a);
        }
    }
    for (o, a) in out.iter_mut().zip(acc) {
        // SAFETY: `o` is GROUP (16) floats.
        unsafe { _mm512_storeu_ps(o.as_mut_ptr(), a) };
    }
}
