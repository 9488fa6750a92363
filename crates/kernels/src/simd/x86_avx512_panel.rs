//! Q8_0-family panels on AVX-512 VNNI: many weight rows against up to
//! eight tokens in one call, for decode steps of several sequences and for
//! prompt chunks.
//!
//! The activation side of every block of the call's tokens (its 32 bytes
//! in both halves of a 512-bit register, its `-K·Σx` seed, its scale) is
//! laid out once per call in a small buffer that every group of rows then
//! reads with loads folded into the arithmetic. A group holds two weight
//! rows per register (one in each 256-bit half) against `T` tokens:
//! `RP` row pairs × `T` accumulators. Per block and row pair the weights
//! are decoded and their scales widened once; per block, row pair and
//! token what is left is `vpdpbusd` (from the seed, loaded), the scale
//! product, the conversion and the FMA. Each (row, token) keeps exactly
//! the per-pair kernel's arithmetic (8 i32 lanes of 4-byte sums, `d_w·d_x`,
//! one FMA per block into 8 float lanes, the same final sum), so results
//! are bit-identical to it.

use std::arch::x86_64::*;

use super::x86_avx2::{bytes, f16_splat, hsum_ps, load32, unsigned_offset, Q4_0, Q8_0};
use super::x86_avx512::{join, Vnni};
use crate::dot::Q8_0_BYTES;

/// `p`, which the compiler cannot see through: loads from it are redone
/// where written instead of hoisted out of the row loop into registers
/// (sixteen accumulators and eight tokens' bytes and seeds do not fit in
/// 32, and spilling them costs more than loads folded into the math).
#[inline(always)]
fn opaque<T>(mut p: *const T) -> *const T {
    // SAFETY: an empty instruction sequence: `p` comes back unchanged.
    unsafe { std::arch::asm!("/* {0} */", inout(reg) p, options(nomem, nostack, preserves_flags)) };
    p
}

/// 16 bytes broadcast to both 128-bit lanes of a 256-bit register.
#[target_feature(enable = "avx2")]
#[inline]
fn both_lanes(b: &[u8; 16]) -> __m256i {
    // SAFETY: `b` is 16 readable bytes; `loadu` has no alignment requirement.
    _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(b.as_ptr().cast()) })
}

/// Two blocks' weights as unsigned bytes (`decode_block_unsigned` of each,
/// `w0`'s in the low half), decoded with 512-bit operations: the same
/// bytes in about half the instructions.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl")]
#[inline]
fn decode_pair_unsigned<const KIND: u8>(w0: &[u8], w1: &[u8]) -> __m512i {
    // Low nibbles in bytes 0..16 of each half, high nibbles in 16..32
    // (ggml's `bytes_from_nibbles_32`), from two broadcast loads.
    let nibbles = |at: usize| {
        let both = join(both_lanes(bytes(w0, at)), both_lanes(bytes(w1, at)));
        let shifts = _mm512_set_epi32(4, 4, 4, 4, 0, 0, 0, 0, 4, 4, 4, 4, 0, 0, 0, 0);
        _mm512_and_si512(_mm512_srlv_epi32(both, shifts), _mm512_set1_epi8(0x0F))
    };
    match KIND {
        Q8_0 => _mm512_xor_si512(
            join(load32(bytes(w0, 2)), load32(bytes(w1, 2))),
            _mm512_set1_epi8(0x80u8 as i8),
        ),
        Q4_0 => nibbles(2),
        _ => {
            // The fifth bits of both blocks as one 64-bit mask.
            let qh = u64::from(u32::from_le_bytes(*bytes(w0, 2)))
                | u64::from(u32::from_le_bytes(*bytes(w1, 2))) << 32;
            let n = nibbles(6);
            _mm512_mask_mov_epi8(n, qh, _mm512_or_si512(n, _mm512_set1_epi8(0x10)))
        }
    }
}

/// Two blocks' f16 scales widened, `w0`'s in the low eight lanes.
#[target_feature(enable = "avx2,f16c,avx512f")]
#[inline]
fn scale_pair(w0: &[u8], w1: &[u8]) -> __m512 {
    let h = u32::from(u16::from_le_bytes(*bytes(w0, 0))) | u32::from(u16::from_le_bytes(*bytes(w1, 0))) << 16;
    let f = _mm_cvtph_ps(_mm_cvtsi32_si128(h as i32));
    _mm512_permutexvar_ps(
        _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
        _mm512_castps128_ps512(f),
    )
}

/// Most tokens a panel takes at once.
pub(super) const PANEL_TOKENS: usize = 8;

/// One token's block as the weight loop reads it: its bytes in both
/// halves and its seed `-K·Σx` (per 4-byte lane, both halves).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct ActBlock {
    x: __m512i,
    seed: __m512i,
}

/// The activation side of `rn` tokens (from `x`, `act_row` apart), `nb`
/// blocks each, token-minor: `act[b * rn + j]`, `dx[b * rn + j]`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
fn prepare<const KIND: u8>(x: &[u8], act_row: usize, rn: usize, nb: usize) -> (Vec<ActBlock>, Vec<f32>) {
    let k = _mm512_set1_epi8(unsigned_offset(KIND) as i8);
    let zero = _mm512_setzero_si512();
    let mut act = Vec::with_capacity(nb * rn);
    let mut dx = Vec::with_capacity(nb * rn);
    for b in 0..nb {
        for j in 0..rn {
            let xb: &[u8; Q8_0_BYTES] = bytes(x, j * act_row + b * Q8_0_BYTES);
            let xv = _mm512_broadcast_i64x4(load32(bytes(xb, 2)));
            let seed = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, k, xv));
            act.push(ActBlock { x: xv, seed });
            dx.push(_mm_cvtss_f32(_mm256_castps256_ps128(f16_splat(xb))));
        }
    }
    (act, dx)
}

/// Rows `0..nr` (`2RP - 1 <= nr <= 2RP`, from `w`, `row_bytes` apart)
/// against the `T` prepared tokens: `out[j * ostride + i]`. With an odd
/// `nr` the last pair holds the last row twice and its second half is
/// dropped. `next` (the rows after these) is prefetched a few lines per
/// block, spread over the loop: prefetched all at once, the requests fill
/// the core's line-fill buffers and stall it while memory then idles
/// during the arithmetic.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
// Indices pair rows and tokens across several arrays, as the math reads.
#[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
fn group<const KIND: u8, const BW: usize, const RP: usize, const T: usize>(
    w: &[u8],
    row_bytes: usize,
    nr: usize,
    act: &[ActBlock],
    dx: &[f32],
    out: &mut [f32],
    ostride: usize,
    next: &[u8],
) {
    let nb = row_bytes / BW;
    let pf_per_block = next.len().div_ceil(64).div_ceil(nb.max(1));
    // One check up front instead of one per access: the loop reads blocks
    // `0..nb` of rows `0..nr` and prepared blocks `0..nb * T`.
    assert!(
        row_bytes.is_multiple_of(BW)
            && nr >= 1
            && nr <= 2 * RP
            && nr + 1 >= 2 * RP
            && w.len() >= (nr - 1) * row_bytes + nb * BW
            && act.len() >= nb * T
            && dx.len() >= nb * T
            && out.len() > (T - 1) * ostride + nr - 1
    );
    let row = |i: usize| i.min(nr - 1) * row_bytes;
    let wp = w.as_ptr();
    let wblock = |o: usize, b: usize| -> &[u8] {
        // SAFETY: called with `o = row(i)` and `b < nb` only: within `w` (asserted above).
        unsafe { &*wp.add(o + b * BW).cast::<[u8; BW]>() }
    };
    let (ap, dp) = (act.as_ptr(), dx.as_ptr());
    let mut acc = [[_mm512_setzero_ps(); T]; RP];
    for b in 0..nb {
        for line in next.chunks(64).skip(b * pf_per_block).take(pf_per_block) {
            _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast());
        }
        for r in 0..RP {
            let (w0, w1) = (wblock(row(2 * r), b), wblock(row(2 * r + 1), b));
            let u = decode_pair_unsigned::<KIND>(w0, w1);
            let dw = scale_pair(w0, w1);
            let (ab, db) = (opaque(ap.wrapping_add(b * T)), opaque(dp.wrapping_add(b * T)));
            for j in 0..T {
                // SAFETY: `b * T + j < nb * T`, within `act` and `dx` (asserted above).
                let (a, d) = unsafe { (&*ab.add(j), *db.add(j)) };
                let s = _mm512_dpbusd_epi32(a.seed, u, a.x);
                acc[r][j] = _mm512_fmadd_ps(
                    _mm512_mul_ps(dw, _mm512_set1_ps(d)),
                    _mm512_cvtepi32_ps(s),
                    acc[r][j],
                );
            }
        }
    }
    for r in 0..RP {
        for j in 0..T {
            out[j * ostride + 2 * r] = hsum_ps(_mm512_castps512_ps256(acc[r][j]));
            if 2 * r + 1 < nr {
                out[j * ostride + 2 * r + 1] = hsum_ps(_mm512_extractf32x8_ps::<1>(acc[r][j]));
            }
        }
    }
}

/// Every row of `w` against the `T` prepared tokens: groups of `2·RP`
/// rows, then pairs, then the last row.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn rows<const KIND: u8, const BW: usize, const RP: usize, const T: usize>(
    w: &[u8],
    row_bytes: usize,
    rm: usize,
    act: &[ActBlock],
    dx: &[f32],
    out: &mut [f32],
) {
    // The rows after `r..r + n`, to prefetch while computing those.
    let next =
        |r: usize, n: usize| &w[((r + n) * row_bytes).min(w.len())..((r + 2 * n) * row_bytes).min(w.len())];
    let mut r = 0;
    while r + 2 * RP <= rm {
        let (rows, o) = (&w[r * row_bytes..], &mut out[r..]);
        group::<KIND, BW, RP, T>(rows, row_bytes, 2 * RP, act, dx, o, rm, next(r, 2 * RP));
        r += 2 * RP;
    }
    while r < rm {
        let n = (rm - r).min(2);
        let (rows, o) = (&w[r * row_bytes..], &mut out[r..]);
        group::<KIND, BW, 1, T>(rows, row_bytes, n, act, dx, o, rm, &[]);
        r += n;
    }
}

/// A [`crate::dot::TileFn`] shape `(rm, rn)` with `1 <= rn <= 8` and any
/// `rm`: `out[j * rm + i] = w_i · x_j`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn panel<const KIND: u8, const BW: usize>(
    _m: Vnni,
    w: &[u8],
    row_bytes: usize,
    rm: usize,
    x: &[u8],
    act_row: usize,
    rn: usize,
    out: &mut [f32],
) {
    assert!(out.len() >= rm * rn && (1..=PANEL_TOKENS).contains(&rn) && row_bytes.is_multiple_of(BW));
    if rm == 0 {
        return;
    }
    let nb = row_bytes / BW;
    let (act, dx) = prepare::<KIND>(x, act_row, rn, nb);
    // About sixteen accumulators (with the row pair's bytes and scales,
    // and each token's product, conversion and sum in flight).
    match rn {
        1 => rows::<KIND, BW, 8, 1>(w, row_bytes, rm, &act, &dx, out),
        2 => rows::<KIND, BW, 8, 2>(w, row_bytes, rm, &act, &dx, out),
        3 => rows::<KIND, BW, 5, 3>(w, row_bytes, rm, &act, &dx, out),
        4 => rows::<KIND, BW, 4, 4>(w, row_bytes, rm, &act, &dx, out),
        5 => rows::<KIND, BW, 3, 5>(w, row_bytes, rm, &act, &dx, out),
        6 => rows::<KIND, BW, 3, 6>(w, row_bytes, rm, &act, &dx, out),
        7 => rows::<KIND, BW, 2, 7>(w, row_bytes, rm, &act, &dx, out),
        _ => rows::<KIND, BW, 2, 8>(w, row_bytes, rm, &act, &dx, out),
    }
}
