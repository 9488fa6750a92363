//! The K-quant dot products of the AVX2 level (Q4_K, Q5_K, Q6_K against
//! Q8_K, ggml's techniques, see [`super::x86_avx2`]), shared with AVX-512
//! VNNI through [`Madd`], and their one-row, several-token kernels.

use std::arch::x86_64::*;

use super::x86_avx2::*;
use crate::dot::Q8_K_BYTES;

/// The eight 6-bit scales and eight 6-bit mins of a Q4_K/Q5_K block as
/// sixteen i16 (scales in lanes 0..8, mins in 8..16), from the 12 packed
/// bytes (ggml's `utmp` shuffle, equal to `get_scale_min_k4` for each j).
#[target_feature(enable = "avx2")]
#[inline]
fn k4_scales_mins(s: &[u8; 12]) -> __m256i {
    const K1: u32 = 0x3f3f_3f3f;
    const K2: u32 = 0x0f0f_0f0f;
    const K3: u32 = 0x0303_0303;
    let u0 = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    let u1 = u32::from_le_bytes([s[4], s[5], s[6], s[7]]);
    let u2 = u32::from_le_bytes([s[8], s[9], s[10], s[11]]);
    let mins_hi = ((u2 >> 4) & K2) | (((u1 >> 6) & K3) << 4);
    let mins_lo = u1 & K1;
    let sc_hi = (u2 & K2) | (((u0 >> 6) & K3) << 4);
    let sc_lo = u0 & K1;
    _mm256_cvtepu8_epi16(_mm_set_epi32(
        mins_hi as i32,
        mins_lo as i32,
        sc_hi as i32,
        sc_lo as i32,
    ))
}

/// The Q8_K block sums (16 × i16) of an activation block.
#[target_feature(enable = "avx2")]
#[inline]
fn q8k_bsums(xb: &[u8]) -> __m256i {
    load32(bytes(xb, 4 + 256))
}

/// Shared tail of Q4_K and Q5_K: `Σ m_j · (bsum_2j + bsum_2j+1)` as four
/// i32 partial sums, accumulated in floats with `dmin` (ggml's `acc_m`).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn k4_mins(acc_m: __m128, mins_scales: __m256i, xb: &[u8], dmin: f32) -> __m128 {
    _mm_fmadd_ps(
        _mm_set1_ps(dmin),
        _mm_cvtepi32_ps(k4_min_sums(mins_scales, xb)),
        acc_m,
    )
}

/// `m_2j·bsum32_2j + m_2j+1·bsum32_2j+1` in lane `j` (the min terms of the
/// `j`-th 64 elements), exact.
#[target_feature(enable = "avx2")]
#[inline]
fn k4_min_sums(mins_scales: __m256i, xb: &[u8]) -> __m128i {
    let bs = q8k_bsums(xb);
    // Pairwise sums of 16-element sums: |·| ≤ 2·16·127, fits i16.
    let pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256::<1>(bs));
    _mm_madd_epi16(_mm256_extracti128_si256::<1>(mins_scales), pairs)
}

/// Sum of the eight i32 lanes (exact: callers keep it below 2³¹).
#[target_feature(enable = "avx2")]
#[inline]
fn hsum_epi32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    hsum_epi32_4(s)
}

/// The sums of eight vectors' i32 lanes, as the lanes of one: `hadd`
/// trees share their shuffles between vectors (exact: integer sums).
#[target_feature(enable = "avx2")]
#[inline]
fn hsum8_epi32(v: &[__m256i; 8]) -> __m256i {
    let a = _mm256_hadd_epi32(v[0], v[1]);
    let b = _mm256_hadd_epi32(v[2], v[3]);
    let c = _mm256_hadd_epi32(v[4], v[5]);
    let d = _mm256_hadd_epi32(v[6], v[7]);
    // Per 128-bit half: four vectors' half-sums, in order.
    let ab = _mm256_hadd_epi32(a, b);
    let cd = _mm256_hadd_epi32(c, d);
    let lo = _mm256_permute2x128_si256::<0x20>(ab, cd);
    let hi = _mm256_permute2x128_si256::<0x31>(ab, cd);
    _mm256_add_epi32(lo, hi)
}

/// Sum of the four i32 lanes.
#[target_feature(enable = "avx2")]
#[inline]
fn hsum_epi32_4(s: __m128i) -> i32 {
    let s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01>(s));
    _mm_cvtsi128_si32(s)
}

/// Sub-block `i`'s scale (an i16 lane of `scales`) in every 16-bit lane.
#[target_feature(enable = "avx2")]
#[inline]
fn scale_k4(scales: __m256i, i: usize) -> __m256i {
    let pick = ((2 * i + 1) << 8 | (2 * i)) as i16;
    _mm256_shuffle_epi8(scales, _mm256_set1_epi16(pick))
}

/// Q4_K · Q8_K as llama.cpp's repacked gemv (see
/// [`crate::dot::q4_k_q8_k`]): per super-block the exact integer
/// `Σ sc_j (q4·q8)_j` and `Σ m_j bsum_j`, one FMA each into two float
/// accumulators, `acc − acc_m` at the end. `maddubs(q4, q8)` pairs are at
/// most 2·15·128, exact in i16; a super-block's sum stays below 2³¹.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn q4_k_q8_k<M: Madd>(m: M, w: &[u8], x: &[u8]) -> f32 {
    q4_k_repacked::<M, false>(m, w, x)
}

/// Q4_K · Q8_K as llama.cpp's repacked gemm (the first `n - n % 4` rows
/// of a batch): the FMAs of [`q4_k_q8_k`] once per 64 elements.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn q4_k_q8_k_gemm<M: Madd>(m: M, w: &[u8], x: &[u8]) -> f32 {
    q4_k_repacked::<M, true>(m, w, x)
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q4_k_repacked<M: Madd, const GEMM: bool>(m: M, w: &[u8], x: &[u8]) -> f32 {
    let mut out = [0.0f32];
    q4_k_repacked_n::<M, GEMM, 1>(m, w, x, x.len(), &mut out);
    out[0]
}

/// `acc + sc_lo·(lo·x) + sc_hi·(hi·x)` over elements `64j .. 64j + 64` of
/// the Q8_K block `xb`: `maddubs` pairs (at most 2·31·128, exact in i16),
/// each scaled by its sub-block's scale into i32 lanes. One 64-element
/// step of the Q4_K and Q5_K kernels, whatever their float order.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn k4_sums64<M: Madd>(
    m: M,
    lo: __m256i,
    hi: __m256i,
    sc_lo: __m256i,
    sc_hi: __m256i,
    xb: &[u8],
    j: usize,
    acc: __m256i,
) -> __m256i {
    let pl = _mm256_maddubs_epi16(lo, load32(bytes(xb, 4 + 64 * j)));
    let ph = _mm256_maddubs_epi16(hi, load32(bytes(xb, 4 + 64 * j + 32)));
    m.madd_i16(m.madd_i16(acc, sc_lo, pl), sc_hi, ph)
}

/// [`q4_k_repacked`] for one weight row against `RN` activation rows
/// (`act_row` bytes apart) into `out[..RN]`: the row's nibbles and scales
/// are unpacked once per super-block for all of them, and every pair gets
/// exactly the single-pair integer sums and float steps.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
// Indices pair tokens across several arrays, as the math reads.
#[allow(clippy::needless_range_loop)]
pub(super) fn q4_k_repacked_n<M: Madd, const GEMM: bool, const RN: usize>(
    m: M,
    w: &[u8],
    x: &[u8],
    act_row: usize,
    out: &mut [f32],
) {
    // `parts` below holds four sums per token.
    const { assert!(RN <= 4) };
    let m4 = _mm256_set1_epi8(0x0F);
    let zero = _mm256_setzero_si256();
    let (mut acc, mut acc_m) = ([0.0f32; RN], [0.0f32; RN]);
    // Gemv order for several tokens, side by side: lane `t` of `acc_v`
    // (`acc_m_v`) is token `t`'s `acc` (`acc_m`), each lane taking exactly
    // the scalar FMAs of the one-token kernel. (For one token the shared
    // sums cost more than the scalar ones: 3% on `kq_speed`.)
    let shared = !GEMM && RN > 1;
    let (mut acc_v, mut acc_m_v) = (_mm_setzero_ps(), _mm_setzero_ps());
    for (b, wb) in w.chunks_exact(144).enumerate() {
        let (dw, dminw) = f16x2_at(wb, 0);
        let ms = k4_scales_mins(bytes(wb, 4));
        let sc128 = _mm256_castsi256_si128(ms);
        let scales = _mm256_set_m128i(sc128, sc128);
        let (mut lo, mut hi, mut sc) = ([zero; 4], [zero; 4], [zero; 8]);
        for j in 0..4 {
            let q4 = load32(bytes(wb, 16 + 32 * j));
            lo[j] = _mm256_and_si256(q4, m4);
            hi[j] = _mm256_and_si256(_mm256_srli_epi16::<4>(q4), m4);
            sc[2 * j] = scale_k4(scales, 2 * j);
            sc[2 * j + 1] = scale_k4(scales, 2 * j + 1);
        }
        if shared {
            // Each token's super-block sum (eight lanes) and min sum (four
            // lanes), then the totals of every token at once with shared
            // `hadd` trees (integer sums, so the order is free) and the
            // gemv's FMAs one lane per token.
            let mut sumi = [zero; 4];
            let mut mins = [_mm_setzero_si128(); 4];
            let mut yd = [0.0f32; 4];
            for t in 0..RN {
                let xb = &x[t * act_row + b * Q8_K_BYTES..][..Q8_K_BYTES];
                yd[t] = f32_at(xb, 0);
                mins[t] = k4_min_sums(ms, xb);
                for j in 0..4 {
                    sumi[t] = k4_sums64(m, lo[j], hi[j], sc[2 * j], sc[2 * j + 1], xb, j, sumi[t]);
                }
            }
            let h = _mm256_hadd_epi32(
                _mm256_hadd_epi32(sumi[0], sumi[1]),
                _mm256_hadd_epi32(sumi[2], sumi[3]),
            );
            let totals = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256::<1>(h));
            let min_totals =
                _mm_hadd_epi32(_mm_hadd_epi32(mins[0], mins[1]), _mm_hadd_epi32(mins[2], mins[3]));
            // SAFETY: `yd` is 16 readable bytes; `loadu` has no alignment requirement.
            let yd = unsafe { _mm_loadu_ps(yd.as_ptr()) };
            let d = _mm_mul_ps(_mm_set1_ps(dw), yd);
            let dmin = _mm_mul_ps(_mm_set1_ps(dminw), yd);
            acc_v = _mm_fmadd_ps(_mm_cvtepi32_ps(totals), d, acc_v);
            acc_m_v = _mm_fmadd_ps(_mm_cvtepi32_ps(min_totals), dmin, acc_m_v);
            continue;
        }
        // Gemm order: the sums of every (token, 64 elements) are reduced
        // eight at a time after the token loop (one `hsum8_epi32` instead
        // of eight horizontal sums; integer sums, so the order is free),
        // then go through the same FMAs in the same order.
        let mut parts = [zero; 16];
        let mut scales_t = [(0.0f32, 0.0f32); RN];
        let mut mins_t = [[0i32; 4]; RN];
        for t in 0..RN {
            let xb = &x[t * act_row + b * Q8_K_BYTES..][..Q8_K_BYTES];
            let yd = f32_at(xb, 0);
            let d = dw * yd;
            let dmin = dminw * yd;
            let mins = k4_min_sums(ms, xb);
            if GEMM {
                // SAFETY: `mins_t[t]` is 16 writable bytes; `storeu` has no
                // alignment requirement.
                unsafe { _mm_storeu_si128(mins_t[t].as_mut_ptr().cast(), mins) };
                scales_t[t] = (d, dmin);
                for j in 0..4 {
                    parts[4 * t + j] = k4_sums64(m, lo[j], hi[j], sc[2 * j], sc[2 * j + 1], xb, j, zero);
                }
                continue;
            }
            let mut sumi = zero;
            for j in 0..4 {
                sumi = k4_sums64(m, lo[j], hi[j], sc[2 * j], sc[2 * j + 1], xb, j, sumi);
            }
            acc[t] = (hsum_epi32(sumi) as f32).mul_add(d, acc[t]);
            acc_m[t] = (hsum_epi32_4(mins) as f32).mul_add(dmin, acc_m[t]);
        }
        if GEMM {
            let mut sums = [0i32; 16];
            for c in 0..(4 * RN).div_ceil(8) {
                let v = hsum8_epi32(parts[8 * c..8 * c + 8].try_into().expect("eight sums"));
                // SAFETY: `sums[8c..8c + 8]` is 32 writable bytes (c < 2);
                // `storeu` has no alignment requirement.
                unsafe { _mm256_storeu_si256(sums[8 * c..8 * c + 8].as_mut_ptr().cast(), v) };
            }
            for t in 0..RN {
                let (d, dmin) = scales_t[t];
                for j in 0..4 {
                    acc[t] = (sums[4 * t + j] as f32).mul_add(d, acc[t]);
                    acc_m[t] = (mins_t[t][j] as f32).mul_add(dmin, acc_m[t]);
                }
            }
        }
    }
    if shared {
        // `acc - acc_m` lane by lane, as below.
        let mut o = [0.0f32; 4];
        // SAFETY: `o` is 16 writable bytes; `storeu` has no alignment requirement.
        unsafe { _mm_storeu_ps(o.as_mut_ptr(), _mm_sub_ps(acc_v, acc_m_v)) };
        out[..RN].copy_from_slice(&o[..RN]);
        return;
    }
    for t in 0..RN {
        out[t] = acc[t] - acc_m[t];
    }
}

/// Q5_K · Q8_K: Q4_K with a fifth bit; bits `2j` and `2j+1` of each `qh`
/// byte belong to the low and high nibbles of the j-th 32-byte run.
/// `maddubs` pairs are at most 2·31·128, exact in i16.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn q5_k_q8_k<M: Madd>(m: M, w: &[u8], x: &[u8]) -> f32 {
    let m4 = _mm256_set1_epi8(0x0F);
    let one = _mm256_set1_epi8(1);
    let two = _mm256_set1_epi8(2);
    let mut acc = _mm256_setzero_ps();
    let mut acc_m = _mm_setzero_ps();
    for (wb, xb) in w.chunks_exact(176).zip(x.chunks_exact(Q8_K_BYTES)) {
        let yd = f32_at(xb, 0);
        let (dw, dminw) = f16x2_at(wb, 0);
        let d = yd * dw;
        let dmin = -yd * dminw;
        let ms = k4_scales_mins(bytes(wb, 4));
        acc_m = k4_mins(acc_m, ms, xb, dmin);
        let sc128 = _mm256_castsi256_si128(ms);
        let scales = _mm256_set_m128i(sc128, sc128);
        // Shifted right by 2j before run j: the bits used (0 and 1 of each
        // byte) are then the original bits 2j and 2j+1 of that byte, since
        // what crosses in from the next byte lands in bits ≥ 8 - 2j ≥ 2.
        let mut hb = load32(bytes(wb, 16));
        let mut sumi = _mm256_setzero_si256();
        for j in 0..4 {
            let q5 = load32(bytes(wb, 48 + 32 * j));
            let lo = _mm256_or_si256(
                _mm256_and_si256(q5, m4),
                _mm256_slli_epi16::<4>(_mm256_and_si256(hb, one)),
            );
            let hi = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16::<4>(q5), m4),
                _mm256_slli_epi16::<3>(_mm256_and_si256(hb, two)),
            );
            hb = _mm256_srli_epi16::<2>(hb);
            let (sc_lo, sc_hi) = (scale_k4(scales, 2 * j), scale_k4(scales, 2 * j + 1));
            sumi = k4_sums64(m, lo, hi, sc_lo, sc_hi, xb, j, sumi);
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_ps(acc) + hsum_ps4(acc_m)
}

/// Scales of sub-blocks `s` and `s + 1` (i8 in `scales`) widened to i16:
/// lanes 0..8 get `s`, lanes 8..16 get `s + 1`.
#[target_feature(enable = "avx2")]
#[inline]
fn scale_pair_q6(scales: __m128i, s: usize) -> __m256i {
    let a = s as i64 * 0x0101_0101_0101_0101;
    let b = (s as i64 + 1) * 0x0101_0101_0101_0101;
    _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, _mm_set_epi64x(b, a)))
}

/// The low two bits of each byte of `h` moved to bits 4 and 5.
#[target_feature(enable = "avx2")]
#[inline]
fn high2(h: __m256i, m3: __m256i) -> __m256i {
    _mm256_slli_epi16::<4>(_mm256_and_si256(h, m3))
}

/// Q6_K · Q8_K: `d · Σ_s sc_s Σ (q6 − 32)·q8` with q6 ∈ 0..64 kept
/// unsigned for `maddubs` (pairs ≤ 2·63·128, exact in i16) and the offset
/// applied once per super-block as `32 · Σ_s sc_s · bsum_s`. Totals stay
/// below 2³¹: |Σ sc·q6·q8| ≤ 256·128·63·127.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn q6_k_q8_k<M: Madd>(m: M, w: &[u8], x: &[u8]) -> f32 {
    q6_k_impl::<M, false>(m, w, x)
}

/// Q6_K · Q8_K as llama.cpp's tiled K-quant matmul (batches of 8 rows or
/// more): per super-block the exact integer total of the eight lanes, times
/// `d_w`, then `acc += · d_x` with one FMA.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn q6_k_q8_k_tiled<M: Madd>(m: M, w: &[u8], x: &[u8]) -> f32 {
    q6_k_impl::<M, true>(m, w, x)
}

/// Per super-block `Σ sc (q6 − 32)·q8` in ggml's eight i32 lanes (lane `k`
/// holds elements `4k..4k + 4` of every 32, minus its share `32·(sc·bsum)`
/// of the offset); then ggml's `vec_dot` float steps, or the tiled ones.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q6_k_impl<M: Madd, const TILED: bool>(m: M, w: &[u8], x: &[u8]) -> f32 {
    let mut out = [0.0f32];
    q6_k_impl_n::<M, TILED, 1>(m, w, x, x.len(), &mut out);
    out[0]
}

/// [`q6_k_impl`] for one weight row against `RN` activation rows
/// (`act_row` bytes apart) into `out[..RN]`: the six-bit values and scale
/// pairs are unpacked once per super-block for all of them, and every pair
/// gets exactly the single-pair integer sums and float steps.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
// Indices pair tokens across several arrays, as the math reads.
#[allow(clippy::needless_range_loop)]
pub(super) fn q6_k_impl_n<M: Madd, const TILED: bool, const RN: usize>(
    m: M,
    w: &[u8],
    x: &[u8],
    act_row: usize,
    out: &mut [f32],
) {
    let m4 = _mm256_set1_epi8(0x0F);
    let m3 = _mm256_set1_epi8(0x03);
    let zero = _mm256_setzero_si256();
    let mut acc = [_mm256_setzero_ps(); RN];
    let mut acc_tiled = [0.0f32; RN];
    for (b, wb) in w.chunks_exact(210).enumerate() {
        let scales = load16(bytes(wb, 192));
        let scales16 = _mm256_cvtepi8_epi16(scales);
        let (mut q, mut sp) = ([zero; 8], [zero; 8]);
        for n in 0..2 {
            let ql0 = load32(bytes(wb, 64 * n));
            let ql1 = load32(bytes(wb, 64 * n + 32));
            let qh = load32(bytes(wb, 128 + 32 * n));
            q[4 * n] = _mm256_or_si256(_mm256_and_si256(ql0, m4), high2(qh, m3));
            q[4 * n + 1] = _mm256_or_si256(_mm256_and_si256(ql1, m4), high2(_mm256_srli_epi16::<2>(qh), m3));
            q[4 * n + 2] = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16::<4>(ql0), m4),
                high2(_mm256_srli_epi16::<4>(qh), m3),
            );
            q[4 * n + 3] = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16::<4>(ql1), m4),
                high2(_mm256_srli_epi16::<6>(qh), m3),
            );
            for k in 0..4 {
                sp[4 * n + k] = scale_pair_q6(scales, 8 * n + 2 * k);
            }
        }
        let dw = f16x2_at(wb, 206).1;
        for t in 0..RN {
            let xb = &x[t * act_row + b * Q8_K_BYTES..][..Q8_K_BYTES];
            let offset = m.madd_i16(zero, scales16, q8k_bsums(xb));
            let mut sumi = zero;
            for n in 0..2 {
                for k in 0..4 {
                    let p = _mm256_maddubs_epi16(q[4 * n + k], load32(bytes(xb, 4 + 128 * n + 32 * k)));
                    sumi = m.madd_i16(sumi, sp[4 * n + k], p);
                }
            }
            let sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32::<5>(offset));
            let yd = f32_at(xb, 0);
            if TILED {
                acc_tiled[t] = (hsum_epi32(sumi) as f32 * dw).mul_add(yd, acc_tiled[t]);
            } else {
                acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * yd), _mm256_cvtepi32_ps(sumi), acc[t]);
            }
        }
    }
    for t in 0..RN {
        out[t] = if TILED { acc_tiled[t] } else { hsum_ps(acc[t]) };
    }
}

/// The K-quant tiles: one weight row (`rm` must be 1) against `rn` tokens
/// through the `_n` kernels above; `rn` from 2 to 4 gets its own compiled
/// kernel, other counts fall back to `pair` per token (so the one-token
/// kernels have a single caller, the per-pair entry). A macro, expanded in
/// each level's entry: the `_n` kernels must be inlined where that level's
/// target features are enabled, or the VNNI intrinsics behind [`Madd`] are
/// called out of line, and a function with these four arms is too big for
/// the compiler to inline.
macro_rules! k_quant_tiles {
    ($m:expr, $M:ty, $kind:expr, $path:expr, $pair:expr,
     $w:expr, $row_bytes:expr, $rm:expr, $x:expr, $act_row:expr, $rn:expr, $out:expr) => {{
        let (w, row_bytes, rm, x, act_row, rn, out): (&[u8], usize, usize, &[u8], usize, usize, &mut [f32]) =
            ($w, $row_bytes, $rm, $x, $act_row, $rn, $out);
        assert!(rm == 1 && w.len() >= row_bytes && out.len() >= rn);
        let w = &w[..row_bytes];
        let xr = row_bytes / if $kind == Q4_K { 144 } else { 210 } * Q8_K_BYTES;
        assert!(rn == 0 || x.len() >= (rn - 1) * act_row + xr);
        match rn {
            2 if $kind == Q4_K => q4_k_repacked_n::<$M, $path, 2>($m, w, x, act_row, out),
            3 if $kind == Q4_K => q4_k_repacked_n::<$M, $path, 3>($m, w, x, act_row, out),
            4 if $kind == Q4_K => q4_k_repacked_n::<$M, $path, 4>($m, w, x, act_row, out),
            2 => q6_k_impl_n::<$M, $path, 2>($m, w, x, act_row, out),
            3 => q6_k_impl_n::<$M, $path, 3>($m, w, x, act_row, out),
            4 => q6_k_impl_n::<$M, $path, 4>($m, w, x, act_row, out),
            _ => each_pair($pair, w, row_bytes, 1, x, act_row, xr, rn, out),
        }
    }};
}
pub(super) use k_quant_tiles;

/// [`k_quant_tiles`] as a function, for the AVX2 level (whose kernels need
/// no more than the features this function has).
#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
pub(super) fn k_quant_tiles_avx2<const KIND: u8, const PATH: bool>(
    m: Avx2,
    pair: crate::dot::VecDotFn,
    w: &[u8],
    row_bytes: usize,
    rm: usize,
    x: &[u8],
    act_row: usize,
    rn: usize,
    out: &mut [f32],
) {
    k_quant_tiles!(m, Avx2, KIND, PATH, pair, w, row_bytes, rm, x, act_row, rn, out)
}

/// Which K-quant a [`k_quant_tiles`] kernel computes.
pub(super) const Q4_K: u8 = 3;
pub(super) const Q6_K: u8 = 4;
