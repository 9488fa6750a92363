//! AVX-512 VNNI level: the AVX2 block kernels with their integer
//! multiply-accumulates fused into `vpdpbusd` (u8·i8, four products per i32
//! lane, plus the accumulator) and `vpdpwssd` (i16·i16 pairs plus the
//! accumulator), on 256-bit registers through AVX-512VL. Zen 4 executes
//! 512-bit VNNI as two 256-bit halves, and the 34-byte Q8_0 blocks do not
//! fill a 512-bit register, so 256 bits lose nothing there and avoid
//! frequency drops on Intel parts.
//!
//! These intrinsics are stable since Rust 1.89, the workspace's `rust-version`.

use std::arch::x86_64::*;

use super::x86_avx2::{
    bytes, decode_block_unsigned, each_pair, f16_splat, hsum_ps, k_quant_tiles, load32, q4_0_q8_0, q4_k_q8_k,
    q4_k_q8_k_gemm, q4_k_repacked_n, q5_0_q8_0, q5_k_q8_k, q6_k_impl_n, q6_k_q8_k, q6_k_q8_k_tiled,
    q8_0_family_tile, q8_0_q8_0, unsigned_offset, Madd, Q4_0, Q4_K, Q5_0, Q6_K, Q8_0,
};
use super::x86_avx512_panel::{panel as q8_0_family_panel, PANEL_TOKENS};
use crate::dot::{Q8_0_BYTES, Q8_K_BYTES};

/// Token for AVX2 + FMA + F16C + AVX-512 F/BW/VL/DQ/VNNI.
#[derive(Debug, Clone, Copy)]
pub(super) struct Vnni(());

impl Vnni {
    /// The token, when the running CPU has every feature the kernels use.
    pub(super) fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512vnni")
            && is_x86_feature_detected!("avx512dq"))
        .then_some(Vnni(()))
    }
}

impl Madd for Vnni {
    #[inline(always)]
    fn dot_u8i8(self, acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: a `Vnni` exists only after `detect` saw AVX512-VNNI and -VL.
        unsafe { _mm256_dpbusd_epi32(acc, a, b) }
    }

    #[inline(always)]
    fn madd_i16(self, acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: a `Vnni` exists only after `detect` saw AVX512-VNNI and -VL.
        unsafe { _mm256_dpwssd_epi32(acc, a, b) }
    }

    #[inline(always)]
    fn q5_0_values(self, nibbles: __m256i, qh: u32) -> __m256i {
        // `nibble - 16` (the nibble with 0xF0 or-ed in), replaced by the
        // plain nibble (`nibble + 16 - 16`) where the fifth bit is set: one
        // masked move instead of AVX2's broadcast, shuffle, or, compare.
        // SAFETY: a `Vnni` exists only after `detect` saw AVX512-BW and -VL.
        unsafe {
            let minus16 = _mm256_or_si256(nibbles, _mm256_set1_epi8(0xF0u8 as i8));
            _mm256_mask_mov_epi8(minus16, qh, nibbles)
        }
    }

    const UNSIGNED_EXACT: bool = true;

    #[inline(always)]
    fn q5_0_unsigned(self, nibbles: __m256i, qh: u32) -> __m256i {
        // SAFETY: a `Vnni` exists only after `detect` saw AVX512-BW and -VL.
        unsafe { _mm256_mask_mov_epi8(nibbles, qh, _mm256_or_si256(nibbles, _mm256_set1_epi8(0x10))) }
    }
}

macro_rules! entry {
    ($name:ident, $kernel:ident) => {
        fn $name(w: &[u8], x: &[u8]) -> f32 {
            // The kernel is inlined here, where the VNNI intrinsics behind
            // `Madd` can be inlined too (they need these features).
            #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
            fn with_features(w: &[u8], x: &[u8]) -> f32 {
                $kernel(Vnni(()), w, x)
            }
            // SAFETY: this function is private and handed out only by
            // `kernel`, after `Vnni::detect` saw every feature enabled above.
            unsafe { with_features(w, x) }
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

/// Two 256-bit halves as one 512-bit register (`lo` in lanes 0..8).
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) fn join(lo: __m256i, hi: __m256i) -> __m512i {
    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
}

/// Two 8-lane float splats as one 16-lane register.
#[target_feature(enable = "avx512f,avx512dq")]
#[inline]
pub(super) fn join_ps(lo: __m256, hi: __m256) -> __m512 {
    _mm512_insertf32x8::<1>(_mm512_castps256_ps512(lo), hi)
}

/// The Q8_0-family tile (see `x86_avx2::q8_0_family_tile`) with two
/// pairs per 512-bit register: lanes 0..8 hold one pair's 8-lane
/// accumulator and lanes 8..16 another's, so every lane does exactly the
/// 256-bit tile's arithmetic (bit-identical results) at half the
/// instruction count. With `ROWS` the register pairs two weight rows
/// against one token (`RM` even, `RN = 1`); otherwise two tokens against
/// one weight row (`RN` even).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
// Indices pair rows and tokens across several arrays, as the math reads.
#[allow(clippy::needless_range_loop)]
fn q8_0_family_tile_x2<
    const KIND: u8,
    const BW: usize,
    const RM: usize,
    const RN: usize,
    const ROWS: bool,
>(
    w: &[u8],
    row_bytes: usize,
    x: &[u8],
    act_row: usize,
    out: &mut [f32],
) {
    let m = Vnni(());
    let nb = row_bytes / BW;
    // One check up front instead of one per load: the loop reads blocks
    // `0..nb` of rows `0..RM` and `0..RN` only.
    assert!(
        row_bytes.is_multiple_of(BW)
            && (if ROWS {
                RM.is_multiple_of(2) && RN == 1
            } else {
                RN.is_multiple_of(2)
            })
            && w.len() >= (RM - 1) * row_bytes + nb * BW
            && x.len() >= (RN - 1) * act_row + nb * Q8_0_BYTES
    );
    let (wp, xp) = (w.as_ptr(), x.as_ptr());
    let wblock = |i: usize, b: usize| -> &[u8] {
        // SAFETY: called with `i < RM`, `b < nb` only: within `w` (asserted above).
        unsafe { &*wp.add(i * row_bytes + b * BW).cast::<[u8; BW]>() }
    };
    let xblock = |j: usize, b: usize| -> &[u8; Q8_0_BYTES] {
        // SAFETY: called with `j < RN`, `b < nb` only: within `x` (asserted above).
        unsafe { &*xp.add(j * act_row + b * Q8_0_BYTES).cast::<[u8; Q8_0_BYTES]>() }
    };
    let k = _mm512_set1_epi8(unsigned_offset(KIND) as i8);
    let zero = _mm512_setzero_si512();
    // Registers: `RM / 2` row pairs against one token, or `RM` rows
    // against `RN / 2` token pairs.
    const MAXR: usize = 8;
    let (nr, nt) = if ROWS { (RM / 2, 1) } else { (RM, RN / 2) };
    let mut acc = [[_mm512_setzero_ps(); MAXR]; MAXR];
    for b in 0..nb {
        let mut xv = [zero; MAXR];
        let mut dx = [_mm512_setzero_ps(); MAXR];
        let mut seed = [zero; MAXR];
        for p in 0..nt {
            let (x0, x1) = if ROWS {
                (xblock(0, b), xblock(0, b))
            } else {
                (xblock(2 * p, b), xblock(2 * p + 1, b))
            };
            xv[p] = join(load32(bytes(x0, 2)), load32(bytes(x1, 2)));
            dx[p] = join_ps(f16_splat(x0), f16_splat(x1));
            seed[p] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, k, xv[p]));
        }
        for r in 0..nr {
            let (u, dw) = if ROWS {
                let (w0, w1) = (wblock(2 * r, b), wblock(2 * r + 1, b));
                (
                    join(
                        decode_block_unsigned::<Vnni, KIND>(m, w0),
                        decode_block_unsigned::<Vnni, KIND>(m, w1),
                    ),
                    join_ps(f16_splat(w0), f16_splat(w1)),
                )
            } else {
                let w0 = wblock(r, b);
                let u = decode_block_unsigned::<Vnni, KIND>(m, w0);
                (join(u, u), join_ps(f16_splat(w0), f16_splat(w0)))
            };
            for p in 0..nt {
                let s = _mm512_dpbusd_epi32(seed[p], u, xv[p]);
                acc[r][p] = _mm512_fmadd_ps(_mm512_mul_ps(dw, dx[p]), _mm512_cvtepi32_ps(s), acc[r][p]);
            }
        }
    }
    for r in 0..nr {
        for p in 0..nt {
            let lo = hsum_ps(_mm512_castps512_ps256(acc[r][p]));
            let hi = hsum_ps(_mm512_extractf32x8_ps::<1>(acc[r][p]));
            if ROWS {
                out[2 * r] = lo;
                out[2 * r + 1] = hi;
            } else {
                out[2 * p * RM + r] = lo;
                out[(2 * p + 1) * RM + r] = hi;
            }
        }
    }
}

/// The Q8_0-family tile shapes on 512-bit registers, the 256-bit tile for
/// the odd one, `pair` for any other (the matmul asks for `(4, 1..=4)`).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn q8_0_family_tiles_x2<const KIND: u8, const BW: usize>(
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
    match (rm, rn) {
        (4, 1) => q8_0_family_tile_x2::<KIND, BW, 4, 1, true>(w, row_bytes, x, act_row, out),
        (4, 2) => q8_0_family_tile_x2::<KIND, BW, 4, 2, false>(w, row_bytes, x, act_row, out),
        (4, 4) => q8_0_family_tile_x2::<KIND, BW, 4, 4, false>(w, row_bytes, x, act_row, out),
        (4, 3) => q8_0_family_tile::<Vnni, KIND, BW, 4, 3>(m, w, row_bytes, x, act_row, out),
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

/// Any Q8_0-family shape through panels (see `x86_avx512_panel`): tokens
/// in groups of up to 8.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn q8_0_family_panels<const KIND: u8, const BW: usize>(
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
    // Groups of at most `PANEL_TOKENS`, none of a single token unless
    // there is only one.
    let per = rn.div_ceil(rn.div_ceil(PANEL_TOKENS));
    let mut t = 0;
    while t < rn {
        let n = per.min(rn - t);
        let (x, out) = (&x[t * act_row..], &mut out[t * rm..]);
        q8_0_family_panel::<KIND, BW>(m, pair, w, row_bytes, rm, x, act_row, n, out);
        t += n;
    }
}

/// A [`crate::dot::TileFn`] from one of the tile drivers, with `pair` as
/// its fallback.
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
            #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
            fn with_features(
                w: &[u8],
                row_bytes: usize,
                rm: usize,
                x: &[u8],
                act_row: usize,
                rn: usize,
                out: &mut [f32],
            ) {
                $tiles(Vnni(()), $pair, w, row_bytes, rm, x, act_row, rn, out)
            }
            // SAFETY: handed out only by `tile` or `tile_path`, after
            // `Vnni::detect` saw every feature enabled above.
            unsafe { with_features(w, row_bytes, rm, x, act_row, rn, out) }
        }
    };
}

tile_entry!(q8_0_tile, q8_0, q8_0_family_tiles_x2::<Q8_0, 34>);
tile_entry!(q4_0_tile, q4_0, q8_0_family_tiles_x2::<Q4_0, 18>);
tile_entry!(q5_0_tile, q5_0, q8_0_family_tiles_x2::<Q5_0, 22>);
tile_entry!(q8_0_panel, q8_0, q8_0_family_panels::<Q8_0, 34>);
tile_entry!(q4_0_panel, q4_0, q8_0_family_panels::<Q4_0, 18>);
tile_entry!(q5_0_panel, q5_0, q8_0_family_panels::<Q5_0, 22>);
/// A K-quant [`crate::dot::TileFn`]: [`k_quant_tiles`] expanded where the
/// VNNI features are enabled (see there why).
macro_rules! k_tile_entry {
    ($name:ident, $pair:ident, $kind:expr, $path:expr) => {
        fn $name(
            w: &[u8],
            row_bytes: usize,
            rm: usize,
            x: &[u8],
            act_row: usize,
            rn: usize,
            out: &mut [f32],
        ) {
            #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
            fn with_features(
                w: &[u8],
                row_bytes: usize,
                rm: usize,
                x: &[u8],
                act_row: usize,
                rn: usize,
                out: &mut [f32],
            ) {
                k_quant_tiles!(
                    Vnni(()),
                    Vnni,
                    $kind,
                    $path,
                    $pair,
                    w,
                    row_bytes,
                    rm,
                    x,
                    act_row,
                    rn,
                    out
                )
            }
            // SAFETY: handed out only by `tile_path`, after `Vnni::detect`
            // saw every feature enabled above.
            unsafe { with_features(w, row_bytes, rm, x, act_row, rn, out) }
        }
    };
}

k_tile_entry!(q4_k_tile, q4_k, Q4_K, false);
k_tile_entry!(q4_k_gemm_tile, q4_k_gemm, Q4_K, true);
k_tile_entry!(q6_k_tile, q6_k, Q6_K, false);
k_tile_entry!(q6_k_tiled_tile, q6_k_tiled, Q6_K, true);

/// The AVX-512 VNNI one-row, several-token kernel for a K-quant on `path`.
pub(super) fn tile_path(ty: gguf::GgmlType, path: crate::dot::DotPath) -> Option<crate::dot::TileFn> {
    use crate::dot::DotPath as P;
    use gguf::GgmlType as T;
    Vnni::detect()?;
    match (ty, path) {
        (T::Q4K, P::Vec) => Some(q4_k_tile),
        (T::Q4K, P::Gemm4) => Some(q4_k_gemm_tile),
        (T::Q6K, P::Vec) => Some(q6_k_tile),
        (T::Q6K, P::Tiled) => Some(q6_k_tiled_tile),
        _ => None,
    }
}

/// The AVX-512 VNNI matmul tile for a weight type, or `None`.
pub(super) fn tile(ty: gguf::GgmlType) -> Option<crate::dot::TileFn> {
    use gguf::GgmlType as T;
    Vnni::detect()?;
    Some(match ty {
        T::Q8_0 => q8_0_tile,
        T::Q4_0 => q4_0_tile,
        T::Q5_0 => q5_0_tile,
        _ => return None,
    })
}

/// The AVX-512 VNNI matmul panel (a tile for any shape, fast for many
/// rows) for a weight type, or `None`.
pub(super) fn panel(ty: gguf::GgmlType) -> Option<crate::dot::TileFn> {
    use gguf::GgmlType as T;
    Vnni::detect()?;
    Some(match ty {
        T::Q8_0 => q8_0_panel,
        T::Q4_0 => q4_0_panel,
        T::Q5_0 => q5_0_panel,
        _ => return None,
    })
}

/// The AVX-512 VNNI kernel for `ty` on one of llama.cpp's batch paths.
pub(super) fn kernel_path(ty: gguf::GgmlType, path: crate::dot::DotPath) -> Option<crate::dot::VecDotFn> {
    use crate::dot::DotPath as P;
    use gguf::GgmlType as T;
    Vnni::detect()?;
    match (ty, path) {
        (T::Q4K, P::Gemm4) => Some(q4_k_gemm),
        (T::Q6K, P::Tiled) => Some(q6_k_tiled),
        _ => None,
    }
}

/// The AVX-512 VNNI kernel for a weight type, or `None` for types without
/// one or CPUs without the features.
pub(super) fn kernel(ty: gguf::GgmlType) -> Option<crate::dot::VecDotFn> {
    use gguf::GgmlType as T;
    Vnni::detect()?;
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
