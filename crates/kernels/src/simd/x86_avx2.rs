//! AVX2 (+FMA, F16C) dot products, and the block kernels shared with the
//! AVX-512 VNNI level: the helpers and the Q8_0 family here, the K-quants
//! in [`super::x86_avx2_kquants`], the entry points of the level at the end.
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

use super::x86_avx2_kquants::k_quant_tiles_avx2;
pub(super) use super::x86_avx2_kquants::{
    k_quant_tiles, q4_k_q8_k, q4_k_q8_k_gemm, q4_k_repacked_n, q5_k_q8_k, q6_k_impl_n, q6_k_q8_k,
    q6_k_q8_k_tiled, Q4_K, Q6_K,
};
use crate::dot::Q8_0_BYTES;

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
pub(super) fn load16(b: &[u8; 16]) -> __m128i {
    // SAFETY: `b` is 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
}

/// The two little-endian f16 at `at` and `at + 2`, widened with F16C from
/// one 32-bit load (`vmovd` zeroes the rest of the register, so no false
/// dependency on the accumulators as a 16-bit insert would have).
#[target_feature(enable = "avx2,f16c")]
#[inline]
pub(super) fn f16x2_at(b: &[u8], at: usize) -> (f32, f32) {
    let bits = u32::from_le_bytes(*bytes::<4>(b, at));
    let v = _mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32));
    (_mm_cvtss_f32(v), _mm_cvtss_f32(_mm_movehdup_ps(v)))
}

#[inline(always)]
pub(super) fn f32_at(b: &[u8], at: usize) -> f32 {
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
pub(super) fn hsum_ps4(x: __m128) -> f32 {
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
pub(super) fn decode_block<M: Madd, const KIND: u8>(m: M, wb: &[u8]) -> __m256i {
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
