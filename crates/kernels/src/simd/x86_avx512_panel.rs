//! Q8_0-family panels on AVX-512 VNNI: many weight rows against up to
//! eight tokens in one call, for decode steps of several sequences and for
//! prompt chunks.
//!
//! They replaced 4×4 tiles, which redid, for every four rows, the
//! per-block work of the activation side (the two tokens' bytes
//! joined into one register, their `-K·Σx` seeds, their scales), and keep
//! only eight accumulators busy. A panel walks groups of up to sixteen
//! accumulators (`R` rows × `P` token pairs) and leaves that work to the
//! weight side's loop: `vpdpbusd`, the scale product, the conversion and
//! the FMA are most of what is left. Each pair keeps exactly the per-pair
//! kernel's arithmetic (8 i32 lanes of 4-byte sums, `d_w·d_x`, one FMA per
//! block into 8 float lanes, the same final sum), so results are
//! bit-identical to it; two pairs share each 512-bit register.

use std::arch::x86_64::*;

use super::x86_avx2::{bytes, decode_block_unsigned, f16_splat, hsum_ps, load32, unsigned_offset};
use super::x86_avx512::{join, join_ps, Vnni};
use crate::dot::Q8_0_BYTES;

/// Most tokens a panel takes at once (four pairs).
pub(super) const PANEL_TOKENS: usize = 8;

/// `R` weight rows (from `w`, `row_bytes` apart) against `rn` tokens
/// (`2P - 1 <= rn <= 2P`, from `x`, `act_row` apart): `out[j * ostride + i]`.
/// With an odd `rn` the last pair holds the last token twice and its second
/// half is dropped. `next` (the rows after these) is prefetched a few lines
/// per block, spread over the loop: prefetched all at once, the requests
/// fill the core's line-fill buffers and stall it while memory then idles
/// during the arithmetic.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
// Indices pair rows and tokens across several arrays, as the math reads.
#[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
fn group<const KIND: u8, const BW: usize, const R: usize, const P: usize>(
    m: Vnni,
    w: &[u8],
    row_bytes: usize,
    x: &[u8],
    act_row: usize,
    rn: usize,
    out: &mut [f32],
    ostride: usize,
    next: &[u8],
) {
    let nb = row_bytes / BW;
    let pf_per_block = next.len().div_ceil(64).div_ceil(nb.max(1));
    // One check up front instead of one per load: the loop reads blocks
    // `0..nb` of rows `0..R` and of tokens `0..rn` only.
    assert!(
        row_bytes.is_multiple_of(BW)
            && rn >= 1
            && rn <= 2 * P
            && rn + 1 >= 2 * P
            && w.len() >= (R - 1) * row_bytes + nb * BW
            && x.len() >= (rn - 1) * act_row + nb * Q8_0_BYTES
    );
    let tok = |p: usize, h: usize| (2 * p + h).min(rn - 1);
    let (wp, xp) = (w.as_ptr(), x.as_ptr());
    let wblock = |i: usize, b: usize| -> &[u8] {
        debug_assert!(i < R && b < nb);
        // SAFETY: called with `i < R`, `b < nb` only: within `w` (asserted above).
        unsafe { &*wp.add(i * row_bytes + b * BW).cast::<[u8; BW]>() }
    };
    let xblock = |j: usize, b: usize| -> &[u8; Q8_0_BYTES] {
        debug_assert!(j < rn && b < nb);
        // SAFETY: called with `j < rn`, `b < nb` only: within `x` (asserted above).
        unsafe { &*xp.add(j * act_row + b * Q8_0_BYTES).cast::<[u8; Q8_0_BYTES]>() }
    };
    let k = _mm512_set1_epi8(unsigned_offset(KIND) as i8);
    let zero = _mm512_setzero_si512();
    let mut acc = [[_mm512_setzero_ps(); P]; R];
    for b in 0..nb {
        for line in next.chunks(64).skip(b * pf_per_block).take(pf_per_block) {
            _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast());
        }
        let mut xv = [zero; P];
        let mut dx = [_mm512_setzero_ps(); P];
        let mut seed = [zero; P];
        for p in 0..P {
            let (x0, x1) = (xblock(tok(p, 0), b), xblock(tok(p, 1), b));
            xv[p] = join(load32(bytes(x0, 2)), load32(bytes(x1, 2)));
            dx[p] = join_ps(f16_splat(x0), f16_splat(x1));
            seed[p] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, k, xv[p]));
        }
        for r in 0..R {
            let w0 = wblock(r, b);
            let u = _mm512_broadcast_i64x4(decode_block_unsigned::<Vnni, KIND>(m, w0));
            let dw = _mm512_broadcastss_ps(_mm256_castps256_ps128(f16_splat(w0)));
            for p in 0..P {
                let s = _mm512_dpbusd_epi32(seed[p], u, xv[p]);
                acc[r][p] = _mm512_fmadd_ps(_mm512_mul_ps(dw, dx[p]), _mm512_cvtepi32_ps(s), acc[r][p]);
            }
        }
    }
    for r in 0..R {
        for p in 0..P {
            out[tok(p, 0) * ostride + r] = hsum_ps(_mm512_castps512_ps256(acc[r][p]));
            if 2 * p + 1 < rn {
                out[(2 * p + 1) * ostride + r] = hsum_ps(_mm512_extractf32x8_ps::<1>(acc[r][p]));
            }
        }
    }
}

/// `2·RP` weight rows against one token (`rn == 1`), two rows per 512-bit
/// register, with `next` prefetched as in [`group`]: `out[i]`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
#[allow(clippy::needless_range_loop)]
fn group_one<const KIND: u8, const BW: usize, const RP: usize>(
    m: Vnni,
    w: &[u8],
    row_bytes: usize,
    x: &[u8],
    out: &mut [f32],
    next: &[u8],
) {
    let nb = row_bytes / BW;
    let pf_per_block = next.len().div_ceil(64).div_ceil(nb.max(1));
    assert!(
        row_bytes.is_multiple_of(BW)
            && w.len() >= (2 * RP - 1) * row_bytes + nb * BW
            && x.len() >= nb * Q8_0_BYTES
            && out.len() >= 2 * RP
    );
    let wp = w.as_ptr();
    let wblock = |i: usize, b: usize| -> &[u8] {
        debug_assert!(i < 2 * RP && b < nb);
        // SAFETY: called with `i < 2 RP`, `b < nb` only: within `w` (asserted above).
        unsafe { &*wp.add(i * row_bytes + b * BW).cast::<[u8; BW]>() }
    };
    let k = _mm512_set1_epi8(unsigned_offset(KIND) as i8);
    let zero = _mm512_setzero_si512();
    let mut acc = [_mm512_setzero_ps(); RP];
    for (b, xb) in x.chunks_exact(Q8_0_BYTES).take(nb).enumerate() {
        for line in next.chunks(64).skip(b * pf_per_block).take(pf_per_block) {
            _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast());
        }
        let xb: &[u8; Q8_0_BYTES] = xb.try_into().expect("whole blocks");
        let xv = _mm512_broadcast_i64x4(load32(bytes(xb, 2)));
        let dx = _mm512_broadcastss_ps(_mm256_castps256_ps128(f16_splat(xb)));
        let seed = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, k, xv));
        for r in 0..RP {
            let (w0, w1) = (wblock(2 * r, b), wblock(2 * r + 1, b));
            let u = join(
                decode_block_unsigned::<Vnni, KIND>(m, w0),
                decode_block_unsigned::<Vnni, KIND>(m, w1),
            );
            let dw = join_ps(f16_splat(w0), f16_splat(w1));
            let s = _mm512_dpbusd_epi32(seed, u, xv);
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(s), acc[r]);
        }
    }
    for r in 0..RP {
        out[2 * r] = hsum_ps(_mm512_castps512_ps256(acc[r]));
        out[2 * r + 1] = hsum_ps(_mm512_extractf32x8_ps::<1>(acc[r]));
    }
}

/// Every row of `w` against one token: groups of 16 rows, then pairs, then
/// the last row through `pair`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
fn rows_one<const KIND: u8, const BW: usize>(
    m: Vnni,
    pair: crate::dot::VecDotFn,
    w: &[u8],
    row_bytes: usize,
    rm: usize,
    x: &[u8],
    out: &mut [f32],
) {
    const RP: usize = 8;
    let x = &x[..row_bytes / BW * Q8_0_BYTES];
    let next =
        |r: usize, n: usize| &w[((r + n) * row_bytes).min(w.len())..((r + 2 * n) * row_bytes).min(w.len())];
    let mut r = 0;
    while r + 2 * RP <= rm {
        group_one::<KIND, BW, RP>(
            m,
            &w[r * row_bytes..],
            row_bytes,
            x,
            &mut out[r..],
            next(r, 2 * RP),
        );
        r += 2 * RP;
    }
    while r + 2 <= rm {
        group_one::<KIND, BW, 1>(m, &w[r * row_bytes..], row_bytes, x, &mut out[r..], &[]);
        r += 2;
    }
    if r < rm {
        out[r] = pair(&w[r * row_bytes..(r + 1) * row_bytes], x);
    }
}

/// Every row of `w` against `rn` tokens, `P` pairs at a time, in groups
/// of `RMAIN` rows, then 4, then 1.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn rows<const KIND: u8, const BW: usize, const P: usize, const RMAIN: usize>(
    m: Vnni,
    w: &[u8],
    row_bytes: usize,
    rm: usize,
    x: &[u8],
    act_row: usize,
    rn: usize,
    out: &mut [f32],
) {
    // The rows after `r..r + n`, to prefetch while computing those.
    let next =
        |r: usize, n: usize| &w[((r + n) * row_bytes).min(w.len())..((r + 2 * n) * row_bytes).min(w.len())];
    let mut r = 0;
    while r + RMAIN <= rm {
        let (rows, o) = (&w[r * row_bytes..], &mut out[r..]);
        group::<KIND, BW, RMAIN, P>(m, rows, row_bytes, x, act_row, rn, o, rm, next(r, RMAIN));
        r += RMAIN;
    }
    while r + 4 <= rm {
        let (rows, o) = (&w[r * row_bytes..], &mut out[r..]);
        group::<KIND, BW, 4, P>(m, rows, row_bytes, x, act_row, rn, o, rm, next(r, 4));
        r += 4;
    }
    while r < rm {
        group::<KIND, BW, 1, P>(
            m,
            &w[r * row_bytes..],
            row_bytes,
            x,
            act_row,
            rn,
            &mut out[r..],
            rm,
            &[],
        );
        r += 1;
    }
}

/// A [`crate::dot::TileFn`] shape `(rm, rn)` with `1 <= rn <= 8` and any
/// `rm`: `out[j * rm + i] = w_i · x_j` (`pair` computes a lone token's
/// odd last row).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn panel<const KIND: u8, const BW: usize>(
    m: Vnni,
    pair: crate::dot::VecDotFn,
    w: &[u8],
    row_bytes: usize,
    rm: usize,
    x: &[u8],
    act_row: usize,
    rn: usize,
    out: &mut [f32],
) {
    assert!(out.len() >= rm * rn && (1..=PANEL_TOKENS).contains(&rn));
    if rn == 1 {
        return rows_one::<KIND, BW>(m, pair, w, row_bytes, rm, x, out);
    }
    // Sixteen accumulators where the registers allow it (each pair also
    // holds its bytes, seed and scales in three more).
    match rn.div_ceil(2) {
        1 => rows::<KIND, BW, 1, 12>(m, w, row_bytes, rm, x, act_row, rn, out),
        2 => rows::<KIND, BW, 2, 8>(m, w, row_bytes, rm, x, act_row, rn, out),
        3 => rows::<KIND, BW, 3, 5>(m, w, row_bytes, rm, x, act_row, rn, out),
        _ => rows::<KIND, BW, 4, 4>(m, w, row_bytes, rm, x, act_row, rn, out),
    }
}
