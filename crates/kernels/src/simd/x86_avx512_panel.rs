//! Q8_0-family panels on AVX-512 VNNI: many weight rows against one to
//! four tokens in one call, for decode steps of one to four sequences
//! (more tokens go to [`super::x86_avx512_panel256`]).
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

/// The scales of block `b` of `rn` tokens (from `x`, `act_row` apart), in
/// lanes `0..rn`.
#[target_feature(enable = "avx2,f16c")]
#[inline]
pub(super) fn token_scales<const N: usize>(x: &[u8], act_row: usize, rn: usize, b: usize) -> [f32; N] {
    let mut dx = [0f32; N];
    for (j, d) in dx.iter_mut().enumerate().take(rn) {
        let xb: &[u8; Q8_0_BYTES] = bytes(x, j * act_row + b * Q8_0_BYTES);
        *d = _mm_cvtss_f32(_mm256_castps256_ps128(f16_splat(xb)));
    }
    dx
}

/// The activation side of `rn` tokens (from `x`, `act_row` apart), `nb`
/// blocks each, appended to `act` as the weight loop reads it: per block `1 + 2·rn`
/// registers' worth, the tokens' scales (lane `j`), then per token its
/// bytes in both halves and its seed `-K·Σx` (per 4-byte lane).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
fn prepare<const KIND: u8>(x: &[u8], act_row: usize, rn: usize, nb: usize, act: &mut Vec<__m512i>) {
    let k = _mm512_set1_epi8(unsigned_offset(KIND) as i8);
    let zero = _mm512_setzero_si512();
    act.reserve(nb * (1 + 2 * rn));
    for b in 0..nb {
        let dx: [f32; 16] = token_scales(x, act_row, rn, b);
        // SAFETY: 16 readable floats; `loadu` has no alignment requirement.
        act.push(_mm512_castps_si512(unsafe { _mm512_loadu_ps(dx.as_ptr()) }));
        for j in 0..rn {
            let xb: &[u8; Q8_0_BYTES] = bytes(x, j * act_row + b * Q8_0_BYTES);
            let xv = _mm512_broadcast_i64x4(load32(bytes(xb, 2)));
            act.push(xv);
            act.push(_mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, k, xv)));
        }
    }
}

/// One block of one row pair (`u`, scales `dw`) and token `j` of the
/// prepared block at `ab` into `acc`: `acc += (dw·d_j) · f32(seed_j +
/// u·x_j)`. In assembly so that every token's bytes, seed and scale are
/// loaded where used (the compiler hoists them into registers and then
/// spills the accumulators) and the sum stays in place (it picked the
/// FMA form that writes a temporary, then copied it back).
macro_rules! step {
    ($j:literal, $ab:expr, $u:expr, $dw:expr, $acc:expr) => {
        // SAFETY: reads token `$j`'s registers of a prepared block (`$ab`
        // points at one with at least `$j + 1` tokens); writes only the
        // named registers.
        unsafe {
            let (_s, _t): (__m512, __m512);
            std::arch::asm!(
                "vmovdqa64 {s}, zmmword ptr [{a} + {os}]",
                "vpdpbusd {s}, {u}, zmmword ptr [{a} + {ox}]",
                "vcvtdq2ps {s}, {s}",
                "vmulps {t}, {dw}, dword ptr [{a} + {od}]{{1to16}}",
                "vfmadd231ps {acc}, {t}, {s}",
                a = in(reg) $ab,
                u = in(zmm_reg) $u,
                dw = in(zmm_reg) $dw,
                acc = inout(zmm_reg) $acc,
                s = out(zmm_reg) _s,
                t = out(zmm_reg) _t,
                os = const 128 + 128 * $j,
                ox = const 64 + 128 * $j,
                od = const 4 * $j,
                options(pure, readonly, nostack, preserves_flags)
            )
        }
    };
}

/// Rows `0..nr` (`2RP - 1 <= nr <= 2RP`, from `w`, `row_bytes` apart)
/// against the `T` prepared tokens: `out[j * ostride + i]`. With an odd
/// `nr` the last pair holds the last row twice and its second half is
/// dropped. `next` (rows further on) is prefetched a few lines per
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
    act: &[__m512i],
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
            && act.len() >= nb * (1 + 2 * T)
            && out.len() > (T - 1) * ostride + nr - 1
    );
    let row = |i: usize| i.min(nr - 1) * row_bytes;
    let wp = w.as_ptr();
    let wblock = |o: usize, b: usize| -> &[u8] {
        // SAFETY: called with `o = row(i)` and `b < nb` only: within `w` (asserted above).
        unsafe { &*wp.add(o + b * BW).cast::<[u8; BW]>() }
    };
    let ap = act.as_ptr();
    let mut acc = [[_mm512_setzero_ps(); T]; RP];
    for b in 0..nb {
        for line in next.chunks(64).skip(b * pf_per_block).take(pf_per_block) {
            _mm_prefetch::<_MM_HINT_T1>(line.as_ptr().cast());
        }
        // Within `act` (asserted above); `step` reads tokens `0..T` of it.
        let ab = ap.wrapping_add(b * (1 + 2 * T));
        for r in 0..RP {
            let (w0, w1) = (wblock(row(2 * r), b), wblock(row(2 * r + 1), b));
            let u = decode_pair_unsigned::<KIND>(w0, w1);
            let dw = scale_pair(w0, w1);
            // Unrolled by hand: with `T = 8` the compiler kept a loop
            // with a jump table.
            let acc = &mut acc[r];
            step!(0, ab, u, dw, acc[0]);
            if T > 1 {
                step!(1, ab, u, dw, acc[1]);
            }
            if T > 2 {
                step!(2, ab, u, dw, acc[2]);
            }
            if T > 3 {
                step!(3, ab, u, dw, acc[3]);
            }
            if T > 4 {
                step!(4, ab, u, dw, acc[4]);
            }
            if T > 5 {
                step!(5, ab, u, dw, acc[5]);
            }
            if T > 6 {
                step!(6, ab, u, dw, acc[6]);
            }
            if T > 7 {
                step!(7, ab, u, dw, acc[7]);
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

/// How far ahead of the rows it computes a decode step prefetches weights
/// (into L2: the `T1` hint). On Zen 4 (one thread, Gemma 3's 178 MB output
/// matrix) the step went from 9.5 ms with the next group of rows
/// prefetched into L1 to 6.8 ms (the thread's whole read bandwidth) with
/// 32-64 KiB of lead into L2; prefetched into L1 that far ahead, the lines
/// were evicted before use (16 ms).
pub(super) const PREFETCH_LEAD: usize = 32 << 10;

/// The rows of `w` (`row_bytes` each) about [`PREFETCH_LEAD`] bytes after
/// rows `r..r + n`: what a group computing those prefetches.
pub(super) fn ahead(w: &[u8], row_bytes: usize, r: usize, n: usize) -> &[u8] {
    let lead = (PREFETCH_LEAD / (n * row_bytes)).max(1) * n;
    &w[((r + lead) * row_bytes).min(w.len())..((r + lead + n) * row_bytes).min(w.len())]
}

/// Rows `0..rm` of `w` against the `T` prepared tokens, into
/// `out[j * rm + i]`: groups of `2·RP` rows, each prefetching the rows
/// after it, then pairs, then the last row.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
fn rows<const KIND: u8, const BW: usize, const RP: usize, const T: usize>(
    w: &[u8],
    row_bytes: usize,
    rm: usize,
    act: &[__m512i],
    out: &mut [f32],
) {
    let mut r = 0;
    while r + 2 * RP <= rm {
        let (rows, o) = (&w[r * row_bytes..], &mut out[r..]);
        group::<KIND, BW, RP, T>(
            rows,
            row_bytes,
            2 * RP,
            act,
            o,
            rm,
            ahead(w, row_bytes, r, 2 * RP),
        );
        r += 2 * RP;
    }
    while r < rm {
        let n = (rm - r).min(2);
        let (rows, o) = (&w[r * row_bytes..], &mut out[r..]);
        group::<KIND, BW, 1, T>(rows, row_bytes, n, act, o, rm, &[]);
        r += n;
    }
}

/// A [`crate::dot::TileFn`] for any shape: `out[j * rm + i] = w_i · x_j`.
///
/// Up to four tokens (a decode step of a few sequences) are one group
/// that streams every row once, prefetching ahead. More take the 256-bit
/// layout of [`super::x86_avx512_panel256`], which has more tokens to
/// spread its per-row work over and fewer operations per (row, token,
/// block).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn panel<const KIND: u8, const BW: usize>(
    m: Vnni,
    w: &[u8],
    row_bytes: usize,
    rm: usize,
    x: &[u8],
    act_row: usize,
    rn: usize,
    out: &mut [f32],
) {
    assert!(out.len() >= rm * rn && row_bytes.is_multiple_of(BW) && row_bytes > 0);
    if rm == 0 || rn == 0 {
        return;
    }
    if rn >= super::x86_avx512_panel256::MIN_TOKENS {
        return super::x86_avx512_panel256::panel::<KIND, BW>(m, w, row_bytes, rm, x, act_row, rn, out);
    }
    // Each thread's buffer, kept between calls: the hot path allocates
    // nothing once it has reached its size.
    thread_local! {
        static ACT: std::cell::RefCell<Vec<__m512i>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    ACT.with_borrow_mut(|act| {
        act.clear();
        prepare::<KIND>(x, act_row, rn, row_bytes / BW, act);
        // About sixteen accumulators (with the row pair's bytes and
        // scales, and each token's product, conversion and sum in flight).
        match rn {
            1 => rows::<KIND, BW, 8, 1>(w, row_bytes, rm, act, out),
            2 => rows::<KIND, BW, 8, 2>(w, row_bytes, rm, act, out),
            3 => rows::<KIND, BW, 5, 3>(w, row_bytes, rm, act, out),
            _ => rows::<KIND, BW, 4, 4>(w, row_bytes, rm, act, out),
        }
    })
}
