//! AVX2 (+FMA, F16C) dot products, and the block kernels shared with the
//! AVX-512 VNNI level.
//!
//! Every kernel here is generic over [`Madd`], the two integer
//! multiply-accumulate steps that VNNI fuses into one instruction; the rest
//! (nibble unpacking, scale shuffles, float accumulation) is the same at
//! both levels. The techniques are ggml's (`ggml-cpu/arch/x86/quants.c`):
//! signed×signed byte products through `maddubs` on `|w|` and `sign(x, w)`,
//! K-quant scales broadcast to 16-bit lanes and applied with `madd`, one
//! 8-lane float accumulator per row reduced once at the end. One change: the
//! `-32` offset of Q6_K is applied through the activation block sums
//! (`bsums`), one `madd` per super-block instead of a `maddubs` and a
//! subtraction per 32 elements.
//!
//! Integer sums inside a block are exact. Preconditions, all met by the
//! quantizers in [`crate::dot`]: activation bytes lie in `-127..=127` (so
//! `sign(x, w)` never negates -128); weights may hold any byte.

use std::arch::x86_64::*;

use crate::dot::{Q8_0_BYTES, Q8_K_BYTES};

/// The integer multiply-accumulate steps that differ between levels. A value
/// of a type implementing it is a token proving the CPU has that level's
/// features: implementors must only be constructible after detection.
pub(super) trait Madd: Copy {
    /// `acc + Σ₄ u8(a)·i8(b)`: each i32 lane gains the sum of four adjacent
    /// byte products. Exact when no 16-bit pair sum of `a·b` exceeds
    /// `i16::MAX` (true for `|a| ≤ 128`, `|b| ≤ 127`).
    fn dot_u8i8(self, acc: __m256i, a: __m256i, b: __m256i) -> __m256i;
    /// `acc + Σ₂ i16(a)·i16(b)`: each i32 lane gains two adjacent products.
    fn madd_i16(self, acc: __m256i, a: __m256i, b: __m256i) -> __m256i;
    /// Q5_0 values `(nibble | bit << 4) - 16` from 32 nibbles (elements
    /// in order) and the 32 fifth bits (bit j for element j).
    fn q5_0_values(self, nibbles: __m256i, qh: u32) -> __m256i;
    /// Whether [`Madd::dot_u8i8`] is exact for any unsigned byte (VNNI's
    /// `vpdpbusd` does not saturate; AVX2's `maddubs` saturates 16-bit
    /// pairs), so tiles may take weights as `u - K` with `u` unsigned.
    const UNSIGNED_EXACT: bool;
    /// Q5_0 values plus 16 (`nibble | bit << 4`, unsigned).
    fn q5_0_unsigned(self, nibbles: __m256i, qh: u32) -> __m256i;
}

/// Token for AVX2 + FMA + F16C.
#[derive(Debug, Clone, Copy)]
pub(super) struct Avx2(());

impl Avx2 {
    /// The token, when the running CPU has every feature the kernels use.
    pub(super) fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c"))
        .then_some(Avx2(()))
    }
}

impl Madd for Avx2 {
    #[inline(always)]
    fn dot_u8i8(self, acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: an `Avx2` exists only after `detect` saw AVX2.
        unsafe {
            let pairs = _mm256_maddubs_epi16(a, b);
            _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
        }
    }

    #[inline(always)]
    fn madd_i16(self, acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: an `Avx2` exists only after `detect` saw AVX2.
        unsafe { _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)) }
    }

    #[inline(always)]
    fn q5_0_values(self, nibbles: __m256i, qh: u32) -> __m256i {
        // The nibble with `0xF0` or-ed in where the fifth bit is clear,
        // which is `nibble - 16` in two's complement (ggml's way).
        // SAFETY: an `Avx2` exists only after `detect` saw AVX2.
        unsafe {
            let high = _mm256_andnot_si256(bytes_from_bits32(qh), _mm256_set1_epi8(0xF0u8 as i8));
            _mm256_or_si256(nibbles, high)
        }
    }

    const UNSIGNED_EXACT: bool = false;

    #[inline(always)]
    fn q5_0_unsigned(self, nibbles: __m256i, qh: u32) -> __m256i {
        // SAFETY: an `Avx2` exists only after `detect` saw AVX2.
        unsafe {
            let high = _mm256_and_si256(bytes_from_bits32(qh), _mm256_set1_epi8(0x10));
            _mm256_or_si256(nibbles, high)
        }
    }
}

/// 32 bytes at `at` as a fixed array (bounds-checked; constant in-block
/// offsets on `chunks_exact` blocks let the compiler drop the check).
#[inline(always)]
pub(super) fn bytes<const N: usize>(s: &[u8], at: usize) -> &[u8; N] {
    s[at..].first_chunk::<N>().expect("in-block offset")
}

#[target_feature(enable = "avx2")]
#[inline]
pub(super) fn load32(b: &[u8; 32]) -> __m256i {
    // SAFETY: `b` is 32 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
}

#[target_feature(enable = "avx2")]
#[inline]
fn load16(b: &[u8; 16]) -> __m128i {
    // SAFETY: `b` is 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
}

/// The two little-endian f16 at `at` and `at + 2`, widened with F16C from
/// one 32-bit load (`vmovd` zeroes the rest of the register, so no false
/// dependency on the accumulators as a 16-bit insert would have).
#[target_feature(enable = "avx2,f16c")]
#[inline]
fn f16x2_at(b: &[u8], at: usize) -> (f32, f32) {
    let bits = u32::from_le_bytes(*bytes::<4>(b, at));
    let v = _mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32));
    (_mm_cvtss_f32(v), _mm_cvtss_f32(_mm_movehdup_ps(v)))
}

#[inline(always)]
fn f32_at(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes(*bytes::<4>(b, at))
}

/// Horizontal sum of eight floats in ggml's order (`hsum_float_8`).
#[target_feature(enable = "avx2")]
#[inline]
pub(super) fn hsum_ps(x: __m256) -> f32 {
    let r = _mm_add_ps(_mm256_extractf128_ps::<1>(x), _mm256_castps256_ps128(x));
    let r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    let r = _mm_add_ss(r, _mm_movehdup_ps(r));
    _mm_cvtss_f32(r)
}

/// Horizontal sum of four floats (`acc_m` of ggml's K-quant kernels).
#[target_feature(enable = "avx2")]
#[inline]
fn hsum_ps4(x: __m128) -> f32 {
    let r = _mm_add_ps(x, _mm_movehl_ps(x, x));
    let r = _mm_add_ss(r, _mm_movehdup_ps(r));
    _mm_cvtss_f32(r)
}

/// 32 signed bytes times 32 signed bytes, four-element sums in i32 lanes:
/// `|w|` (unsigned, up to 128) against `x` carrying `w`'s sign.
#[target_feature(enable = "avx2")]
#[inline]
fn mul_sum_i8<M: Madd>(m: M, w: __m256i, x: __m256i) -> __m256i {
    m.dot_u8i8(
        _mm256_setzero_si256(),
        _mm256_sign_epi8(w, w),
        _mm256_sign_epi8(x, w),
    )
}

/// 16 packed bytes to 32 nibbles: low nibbles are elements 0..16, high
/// nibbles 16..32 (ggml's `bytes_from_nibbles_32`).
#[target_feature(enable = "avx2")]
#[inline]
fn nibbles32(q: &[u8; 16]) -> __m256i {
    // Both halves from one broadcast load, the upper one shifted by 4: no
    // cross-lane shuffle (the one shuffle port is the bottleneck here).
    let both = _mm256_broadcastsi128_si256(load16(q));
    let hi_shifted = _mm256_srlv_epi32(both, _mm256_set_epi32(4, 4, 4, 4, 0, 0, 0, 0));
    _mm256_and_si256(hi_shifted, _mm256_set1_epi8(0x0F))
}

/// Bit `j` of `bits` to byte `j`: `0xFF` where set, `0` where clear.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) fn bytes_from_bits32(bits: u32) -> __m256i {
    let spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(bits as i32),
        _mm256_set_epi64x(
            0x0303_0303_0303_0303,
            0x0202_0202_0202_0202,
            0x0101_0101_0101_0101,
            0,
        ),
    );
    // Byte j keeps every bit but bit j % 8 set; it is all ones iff that bit is set.
    let others = _mm256_or_si256(spread, _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe));
    _mm256_cmpeq_epi8(others, _mm256_set1_epi64x(-1))
}

/// Which 32-element weight format a [`q8_0_family`] kernel decodes.
pub(super) const Q8_0: u8 = 0;
pub(super) const Q4_0: u8 = 1;
pub(super) const Q5_0: u8 = 2;

/// One 32-element weight block as 32 signed bytes.
#[target_feature(enable = "avx2")]
#[inline]
fn decode_block<M: Madd, const KIND: u8>(m: M, wb: &[u8]) -> __m256i {
    match KIND {
        Q8_0 => load32(bytes(wb, 2)),
        // Nibbles minus 8.
        Q4_0 => _mm256_sub_epi8(nibbles32(bytes(wb, 2)), _mm256_set1_epi8(8)),
        // `(nibble | bit << 4) - 16`.
        _ => m.q5_0_values(nibbles32(bytes(wb, 6)), u32::from_le_bytes(*bytes::<4>(wb, 2))),
    }
}

/// `d_w · d_x` of up to eight consecutive blocks (`bw` bytes per weight
/// block, the f16 scale first in both), converted eight at a time: keeps
/// the f16 conversions off the accumulator's dependency chain.
#[target_feature(enable = "avx2,f16c")]
#[inline]
fn block_scales(w: &[u8], bw: usize, x: &[u8]) -> [f32; 8] {
    let mut ws = [0u16; 8];
    let mut xs = [0u16; 8];
    for ((wb, xb), (a, b)) in w
        .chunks_exact(bw)
        .zip(x.chunks_exact(Q8_0_BYTES))
        .zip(ws.iter_mut().zip(&mut xs))
    {
        *a = u16::from_le_bytes(*bytes(wb, 0));
        *b = u16::from_le_bytes(*bytes(xb, 0));
    }
    // SAFETY: both arrays are 16 readable bytes; `loadu` has no alignment
    // requirement.
    let (wv, xv) = unsafe {
        (
            _mm_loadu_si128(ws.as_ptr().cast()),
            _mm_loadu_si128(xs.as_ptr().cast()),
        )
    };
    let d = _mm256_mul_ps(_mm256_cvtph_ps(wv), _mm256_cvtph_ps(xv));
    let mut out = [0.0f32; 8];
    // SAFETY: `out` is 32 writable bytes; `storeu` has no alignment requirement.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), d) };
    out
}

/// `acc + d · Σ w·x` for one block pair.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn q8_step<M: Madd, const KIND: u8>(m: M, wb: &[u8], xb: &[u8], d: f32, acc: __m256) -> __m256 {
    let s = mul_sum_i8(m, decode_block::<M, KIND>(m, wb), load32(bytes(xb, 2)));
    _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s), acc)
}

/// Q8_0/Q4_0/Q5_0 · Q8_0: per block `d_w·d_x · Σ w·x` into one 8-lane
/// float accumulator, as ggml's AVX2 `vec_dot` and llamafile's tinyBLAS
/// (its batch path) both do. (Two alternating accumulators would hide the
/// FMA latency, but round differently from llama.cpp, and on Gemma 3 any
/// last-bit difference grows into a 1e-2 logit difference.)
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q8_0_family<M: Madd, const KIND: u8, const BW: usize>(m: M, w: &[u8], x: &[u8]) -> f32 {
    let mut acc = _mm256_setzero_ps();
    for (wc, xc) in w.chunks(8 * BW).zip(x.chunks(8 * Q8_0_BYTES)) {
        let d = block_scales(wc, BW, xc);
        for ((wb, xb), d) in wc.chunks_exact(BW).zip(xc.chunks_exact(Q8_0_BYTES)).zip(d) {
            acc = q8_step::<M, KIND>(m, wb, xb, d, acc);
        }
    }
    hsum_ps(acc)
}

/// Q8_0 · Q8_0.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn q8_0_q8_0<M: Madd>(m: M, w: &[u8], x: &[u8]) -> f32 {
    q8_0_family::<M, Q8_0, 34>(m, w, x)
}

/// Q4_0 · Q8_0.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn q4_0_q8_0<M: Madd>(m: M, w: &[u8], x: &[u8]) -> f32 {
    q8_0_family::<M, Q4_0, 18>(m, w, x)
}

/// Q5_0 · Q8_0.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn q5_0_q8_0<M: Madd>(m: M, w: &[u8], x: &[u8]) -> f32 {
    q8_0_family::<M, Q5_0, 22>(m, w, x)
}

/// One weight block as unsigned bytes `u` with `w = u - K`, and `K`:
/// Q8_0 bytes with the sign bit flipped (`w + 128`), Q4_0 nibbles
/// (`w + 8`), Q5_0 five-bit values (`w + 16`).
#[target_feature(enable = "avx2")]
#[inline]
pub(super) fn decode_block_unsigned<M: Madd, const KIND: u8>(m: M, wb: &[u8]) -> __m256i {
    match KIND {
        Q8_0 => _mm256_xor_si256(load32(bytes(wb, 2)), _mm256_set1_epi8(0x80u8 as i8)),
        Q4_0 => nibbles32(bytes(wb, 2)),
        _ => m.q5_0_unsigned(nibbles32(bytes(wb, 6)), u32::from_le_bytes(*bytes::<4>(wb, 2))),
    }
}

/// `K` of [`decode_block_unsigned`].
pub(super) const fn unsigned_offset(kind: u8) -> u8 {
    match kind {
        Q8_0 => 128,
        Q4_0 => 8,
        _ => 16,
    }
}

/// The f16 at the start of a block, widened and broadcast to 8 lanes.
#[target_feature(enable = "avx2,f16c")]
#[inline]
pub(super) fn f16_splat(b: &[u8]) -> __m256 {
    _mm256_cvtph_ps(_mm_set1_epi16(i16::from_le_bytes(*bytes(b, 0))))
}

/// `RM` weight rows against `RN` activation rows of a Q8_0-family matmul:
/// `out[j * RM + i] = w_i · x_j`, every pair bit-identical to
/// [`q8_0_family`] on it (same exact 4-byte integer lane sums, same
/// `d_w·d_x` product, same single FMA accumulator, same final sum), while
/// each weight block is loaded and decoded once for `RN` tokens and each
/// activation block once for `RM` rows, and the `RM·RN` independent
/// accumulators hide the FMA latency one row alone waits on.
///
/// With VNNI the weights are taken unsigned (`w = u - K`) and each lane's
/// `-K·Σx` correction, computed once per activation block, seeds the
/// `vpdpbusd`: one instruction per pair and block instead of a sign
/// fix-up and a multiply-add.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
// Indices pair rows and tokens across four arrays, as the math reads.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
pub(super) fn q8_0_family_tile<M: Madd, const KIND: u8, const BW: usize, const RM: usize, const RN: usize>(
    m: M,
    w: &[u8],
    row_bytes: usize,
    x: &[u8],
    act_row: usize,
    out: &mut [f32],
) {
    let nb = row_bytes / BW;
    // One check up front instead of one per load: the loop below reads
    // blocks `0..nb` of rows `0..RM` and `0..RN` only.
    assert!(
        row_bytes.is_multiple_of(BW)
            && w.len() >= (RM - 1) * row_bytes + nb * BW
            && x.len() >= (RN - 1) * act_row + nb * Q8_0_BYTES
    );
    let (wp, xp) = (w.as_ptr(), x.as_ptr());
    let zero = _mm256_setzero_si256();
    let k = _mm256_set1_epi8(unsigned_offset(KIND) as i8);
    let mut acc = [[_mm256_setzero_ps(); RN]; RM];
    for b in 0..nb {
        let mut xv = [zero; RN];
        let mut dx = [_mm256_setzero_ps(); RN];
        let mut seed = [zero; RN];
        for j in 0..RN {
            // SAFETY: block `b < nb` of activation row `j < RN` lies within
            // `x` (asserted above).
            let xb = unsafe { &*xp.add(j * act_row + b * Q8_0_BYTES).cast::<[u8; Q8_0_BYTES]>() };
            xv[j] = load32(bytes(xb, 2));
            dx[j] = f16_splat(xb);
            if M::UNSIGNED_EXACT {
                seed[j] = _mm256_sub_epi32(zero, m.dot_u8i8(zero, k, xv[j]));
            }
        }
        for i in 0..RM {
            // SAFETY: block `b < nb` of weight row `i < RM` lies within `w`
            // (asserted above).
            let wb: &[u8] = unsafe { &*wp.add(i * row_bytes + b * BW).cast::<[u8; BW]>() };
            let dw = f16_splat(wb);
            if M::UNSIGNED_EXACT {
                let u = decode_block_unsigned::<M, KIND>(m, wb);
                for j in 0..RN {
                    let s = m.dot_u8i8(seed[j], u, xv[j]);
                    acc[i][j] = _mm256_fmadd_ps(_mm256_mul_ps(dw, dx[j]), _mm256_cvtepi32_ps(s), acc[i][j]);
                }
            } else {
                let v = decode_block::<M, KIND>(m, wb);
                let a = _mm256_sign_epi8(v, v);
                for j in 0..RN {
                    let s = m.dot_u8i8(zero, a, _mm256_sign_epi8(xv[j], v));
                    acc[i][j] = _mm256_fmadd_ps(_mm256_mul_ps(dw, dx[j]), _mm256_cvtepi32_ps(s), acc[i][j]);
                }
            }
        }
    }
    for i in 0..RM {
        for j in 0..RN {
            out[j * RM + i] = hsum_ps(acc[i][j]);
        }
    }
}

/// [`q8_0_family_tile`] for `rm` rows and `rn` tokens: the shapes the
/// matmul asks for get their own compiled tile, any other falls back to
/// `pair`, the level's dot product (the same result, slower). (Calling
/// [`q8_0_family`] here instead would give it a second call site, and
/// LLVM would stop inlining it into the entry points, where the VNNI
/// intrinsics behind `Madd` can be inlined.)
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn q8_0_family_tiles<M: Madd, const KIND: u8, const BW: usize>(
    m: M,
    pair: crate::dot::VecDotFn,
    w: &[u8],
    row_bytes: usize,
    rm: usize,
    x: &[u8],
    act_row: usize,
    rn: usize,
    out: &mut [f32],
) {
    match (rm, rn) {
        (4, 1) => q8_0_family_tile::<M, KIND, BW, 4, 1>(m, w, row_bytes, x, act_row, out),
        (4, 2) => q8_0_family_tile::<M, KIND, BW, 4, 2>(m, w, row_bytes, x, act_row, out),
        (4, 3) => q8_0_family_tile::<M, KIND, BW, 4, 3>(m, w, row_bytes, x, act_row, out),
        (4, 4) => q8_0_family_tile::<M, KIND, BW, 4, 4>(m, w, row_bytes, x, act_row, out),
        _ => each_pair(
            pair,
            w,
            row_bytes,
            rm,
            x,
            act_row,
            row_bytes / BW * Q8_0_BYTES,
            rn,
            out,
        ),
    }
}

/// A tile's shape without a compiled kernel: `pair` on every (row, token),
/// where activation rows are `x_bytes` long (the same results, slower).
#[allow(clippy::too_many_arguments)]
pub(super) fn each_pair(
    pair: crate::dot::VecDotFn,
    w: &[u8],
    row_bytes: usize,
    rm: usize,
    x: &[u8],
    act_row: usize,
    x_bytes: usize,
    rn: usize,
    out: &mut [f32],
) {
    for i in 0..rm {
        for j in 0..rn {
            out[j * rm + i] = pair(
                &w[i * row_bytes..(i + 1) * row_bytes],
                &x[j * act_row..][..x_bytes],
            );
        }
    }
}

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
                    let pl = _mm256_maddubs_epi16(lo[j], load32(bytes(xb, 4 + 64 * j)));
                    let ph = _mm256_maddubs_epi16(hi[j], load32(bytes(xb, 4 + 64 * j + 32)));
                    parts[4 * t + j] = m.madd_i16(m.madd_i16(zero, sc[2 * j], pl), sc[2 * j + 1], ph);
                }
                continue;
            }
            let mut sumi = zero;
            for j in 0..4 {
                let pl = _mm256_maddubs_epi16(lo[j], load32(bytes(xb, 4 + 64 * j)));
                let ph = _mm256_maddubs_epi16(hi[j], load32(bytes(xb, 4 + 64 * j + 32)));
                sumi = m.madd_i16(sumi, sc[2 * j], pl);
                sumi = m.madd_i16(sumi, sc[2 * j + 1], ph);
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
            let pl = _mm256_maddubs_epi16(lo, load32(bytes(xb, 4 + 64 * j)));
            let ph = _mm256_maddubs_epi16(hi, load32(bytes(xb, 4 + 64 * j + 32)));
            sumi = m.madd_i16(sumi, scale_k4(scales, 2 * j), pl);
            sumi = m.madd_i16(sumi, scale_k4(scales, 2 * j + 1), ph);
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
fn k_quant_tiles_avx2<const KIND: u8, const PATH: bool>(
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

macro_rules! entry {
    ($name:ident, $kernel:ident) => {
        fn $name(w: &[u8], x: &[u8]) -> f32 {
            // SAFETY: this function is private and handed out only by
            // `kernel`, after `Avx2::detect` saw AVX2, FMA and F16C: the
            // token is valid and `$kernel` needs no other feature.
            unsafe { $kernel(Avx2(()), w, x) }
        }
    };
}

entry!(q8_0, q8_0_q8_0);
entry!(q4_0, q4_0_q8_0);
entry!(q5_0, q5_0_q8_0);
entry!(q4_k, q4_k_q8_k);
entry!(q5_k, q5_k_q8_k);
entry!(q6_k, q6_k_q8_k);
entry!(q4_k_gemm, q4_k_q8_k_gemm);
entry!(q6_k_tiled, q6_k_q8_k_tiled);

/// A [`crate::dot::TileFn`] from one of the generic tile drivers
/// (`q8_0_family_tiles`, `k_quant_tiles`), with `pair` as its fallback.
macro_rules! tile_entry {
    ($name:ident, $pair:ident, $tiles:expr) => {
        fn $name(
            w: &[u8],
            row_bytes: usize,
            rm: usize,
            x: &[u8],
            act_row: usize,
            rn: usize,
            out: &mut [f32],
        ) {
            // SAFETY: as for `entry!`: handed out only by `tile` or
            // `tile_path` after `Avx2::detect` saw every feature the tiles need.
            unsafe { $tiles(Avx2(()), $pair, w, row_bytes, rm, x, act_row, rn, out) }
        }
    };
}

tile_entry!(q8_0_tile, q8_0, q8_0_family_tiles::<Avx2, Q8_0, 34>);
tile_entry!(q4_0_tile, q4_0, q8_0_family_tiles::<Avx2, Q4_0, 18>);
tile_entry!(q5_0_tile, q5_0, q8_0_family_tiles::<Avx2, Q5_0, 22>);
tile_entry!(q4_k_tile, q4_k, k_quant_tiles_avx2::<Q4_K, false>);
tile_entry!(q4_k_gemm_tile, q4_k_gemm, k_quant_tiles_avx2::<Q4_K, true>);
tile_entry!(q6_k_tile, q6_k, k_quant_tiles_avx2::<Q6_K, false>);
tile_entry!(q6_k_tiled_tile, q6_k_tiled, k_quant_tiles_avx2::<Q6_K, true>);

/// The AVX2 one-row, several-token kernel for a K-quant on `path`.
pub(super) fn tile_path(ty: gguf::GgmlType, path: crate::dot::DotPath) -> Option<crate::dot::TileFn> {
    use crate::dot::DotPath as P;
    use gguf::GgmlType as T;
    Avx2::detect()?;
    match (ty, path) {
        (T::Q4K, P::Vec) => Some(q4_k_tile),
        (T::Q4K, P::Gemm4) => Some(q4_k_gemm_tile),
        (T::Q6K, P::Vec) => Some(q6_k_tile),
        (T::Q6K, P::Tiled) => Some(q6_k_tiled_tile),
        _ => None,
    }
}

/// The AVX2 matmul tile for a weight type, or `None` for types without one.
pub(super) fn tile(ty: gguf::GgmlType) -> Option<crate::dot::TileFn> {
    use gguf::GgmlType as T;
    Avx2::detect()?;
    Some(match ty {
        T::Q8_0 => q8_0_tile,
        T::Q4_0 => q4_0_tile,
        T::Q5_0 => q5_0_tile,
        _ => return None,
    })
}

/// The AVX2 kernel for `ty` on one of llama.cpp's batch paths.
pub(super) fn kernel_path(ty: gguf::GgmlType, path: crate::dot::DotPath) -> Option<crate::dot::VecDotFn> {
    use crate::dot::DotPath as P;
    use gguf::GgmlType as T;
    Avx2::detect()?;
    match (ty, path) {
        (T::Q4K, P::Gemm4) => Some(q4_k_gemm),
        (T::Q6K, P::Tiled) => Some(q6_k_tiled),
        _ => None,
    }
}

/// The AVX2 kernel for a weight type, or `None` for types without one.
pub(super) fn kernel(ty: gguf::GgmlType) -> Option<crate::dot::VecDotFn> {
    use gguf::GgmlType as T;
    Avx2::detect()?;
    Some(match ty {
        T::Q8_0 => q8_0,
        T::Q4_0 => q4_0,
        T::Q5_0 => q5_0,
        T::Q4K => q4_k,
        T::Q5K => q5_k,
        T::Q6K => q6_k,
        _ => return None,
    })
}
