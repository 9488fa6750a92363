//! Activation quantizers on AVX-512: sixteen elements per instruction
//! where the portable ones ([`crate::dot::quantize_row_q8_0`],
//! [`crate::dot::quantize_row_q8_k`]) go one at a time (their float to
//! integer casts do not vectorize in the baseline target). A prompt
//! quantizes every activation row before each matmul: 5-7% of prompt
//! processing on Gemma 3 270M ran in the portable loops.
//!
//! Same bytes as the portable ones: the same float products, rounded half
//! to even (`vcvtps2dq` under the default rounding mode, as `round_small`),
//! the same integer clamps and truncations; maxima taken in another order
//! are the same maxima, and a NaN element is skipped by both.

use std::arch::x86_64::*;

use crate::dot::{Q8_0_BYTES, Q8_K_BYTES, QK8_0};
use gguf::QK_K;

/// `max(m, |v|)` per lane, keeping `m` where `v` is NaN (as `f32::max`).
#[target_feature(enable = "avx512f")]
#[inline]
fn max_abs(m: __m512, v: __m512) -> __m512 {
    // `vmaxps` returns its second operand when either is NaN.
    _mm512_max_ps(_mm512_abs_ps(v), m)
}

/// Sixteen floats from `x[at..at + 16]`.
#[target_feature(enable = "avx512f")]
#[inline]
fn load16(x: &[f32], at: usize) -> __m512 {
    let x = &x[at..at + 16];
    // SAFETY: `x` holds the sixteen floats read; `loadu` needs no alignment.
    unsafe { _mm512_loadu_ps(x.as_ptr()) }
}

/// `v · s` rounded half to even and truncated to bytes, into `out[..16]`.
#[target_feature(enable = "avx512f")]
#[inline]
fn store_bytes(v: __m512i, out: &mut [u8]) {
    let out = &mut out[..16];
    // SAFETY: `out` holds the sixteen bytes written; `storeu` needs no alignment.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), _mm512_cvtepi32_epi8(v)) }
}

/// [`crate::dot::quantize_row_q8_0`] on AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) fn quantize_row_q8_0(x: &[f32], out: &mut [u8]) -> usize {
    let mut written = 0;
    for (xb, ob) in x.chunks_exact(QK8_0).zip(out.chunks_exact_mut(Q8_0_BYTES)) {
        let (a, b) = (load16(xb, 0), load16(xb, 16));
        let m = max_abs(max_abs(_mm512_setzero_ps(), a), b);
        let amax = _mm512_reduce_max_ps(m);
        let d = amax / 127.0;
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        ob[0..2].copy_from_slice(&half::f16::from_f32(d).to_le_bytes());
        let id = _mm512_set1_ps(id);
        store_bytes(_mm512_cvtps_epi32(_mm512_mul_ps(a, id)), &mut ob[2..]);
        store_bytes(_mm512_cvtps_epi32(_mm512_mul_ps(b, id)), &mut ob[18..]);
        written += Q8_0_BYTES;
    }
    written
}

/// [`crate::dot::quantize_row_q8_k`] on AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) fn quantize_row_q8_k(x: &[f32], out: &mut [u8]) -> usize {
    let mut written = 0;
    for (xb, ob) in x.chunks_exact(QK_K).zip(out.chunks_exact_mut(Q8_K_BYTES)) {
        let mut m = _mm512_setzero_ps();
        for at in (0..QK_K).step_by(16) {
            m = max_abs(m, load16(xb, at));
        }
        let amax = _mm512_reduce_max_ps(m);
        written += Q8_K_BYTES;
        if amax == 0.0 {
            ob.fill(0);
            continue;
        }
        // The first element of that magnitude, with its sign (ggml's scan).
        let target = _mm512_set1_ps(amax);
        let mut max = 0.0;
        for at in (0..QK_K).step_by(16) {
            let hit = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(_mm512_abs_ps(load16(xb, at)), target);
            if hit != 0 {
                max = xb[at + hit.trailing_zeros() as usize];
                break;
            }
        }
        let iscale = -127.0 / max;
        let (head, rest) = ob.split_at_mut(4);
        let (qs, bsums) = rest.split_at_mut(QK_K);
        let (s, top) = (_mm512_set1_ps(iscale), _mm512_set1_epi32(127));
        for (k, at) in (0..QK_K).step_by(16).enumerate() {
            let q = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(load16(xb, at), s)), top);
            store_bytes(q, &mut qs[at..]);
            // Sixteen elements are one block sum. A NaN element's lane
            // holds `i32::MIN` where its stored byte is 0: the same sum
            // modulo 2¹⁶, which is all the i16 keeps.
            let sum = _mm512_reduce_add_epi32(q);
            bsums[2 * k..2 * k + 2].copy_from_slice(&(sum as i16).to_le_bytes());
        }
        head.copy_from_slice(&(1.0 / iscale).to_le_bytes());
    }
    written
}
