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
    each_pair, k_quant_tiles, q4_0_q8_0, q4_k_q8_k, q4_k_q8_k_gemm, q4_k_repacked_n, q5_0_q8_0, q5_k_q8_k,
    q6_k_impl_n, q6_k_q8_k, q6_k_q8_k_tiled, q8_0_q8_0, Madd, Q4_0, Q4_K, Q5_0, Q6_K, Q8_0,
};
use super::x86_avx512_kquants::{q4_k_panel, q6_k_tiled_panel};
use super::x86_avx512_panel::panel as q8_0_family_panel;
use crate::dot::Q8_K_BYTES;

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

/// A [`crate::dot::TileFn`] from one of the tile drivers.
macro_rules! tile_entry {
    ($name:ident, $tiles:expr) => {
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
                $tiles(Vnni(()), w, row_bytes, rm, x, act_row, rn, out)
            }
            // SAFETY: handed out only by `tile` or `tile_path`, after
            // `Vnni::detect` saw every feature enabled above.
            unsafe { with_features(w, row_bytes, rm, x, act_row, rn, out) }
        }
    };
}

tile_entry!(q8_0_panel, q8_0_family_panel::<Q8_0, 34>);
tile_entry!(q4_0_panel, q8_0_family_panel::<Q4_0, 18>);
tile_entry!(q5_0_panel, q8_0_family_panel::<Q5_0, 22>);
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

/// A K-quant panel ([`super::x86_avx512_kquants`]) as a [`crate::dot::TileFn`].
macro_rules! k_panel_entry {
    ($name:ident, $panel:expr) => {
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
                $panel(w, row_bytes, rm, x, act_row, rn, out)
            }
            // SAFETY: handed out only by `k_panel`, after `Vnni::detect`
            // saw every feature enabled above.
            unsafe { with_features(w, row_bytes, rm, x, act_row, rn, out) }
        }
    };
}

k_panel_entry!(q4_k_vec_panel, q4_k_panel::<false>);
k_panel_entry!(q4_k_gemm_panel, q4_k_panel::<true>);
k_panel_entry!(q6_k_tiled_panel_entry, q6_k_tiled_panel);

/// The AVX-512 VNNI K-quant panel for `ty` on `path` (any rows, any tokens).
pub(super) fn k_panel(ty: gguf::GgmlType, path: crate::dot::DotPath) -> Option<crate::dot::TileFn> {
    use crate::dot::DotPath as P;
    use gguf::GgmlType as T;
    Vnni::detect()?;
    match (ty, path) {
        (T::Q4K, P::Vec) => Some(q4_k_vec_panel),
        (T::Q4K, P::Gemm4) => Some(q4_k_gemm_panel),
        (T::Q6K, P::Tiled) => Some(q6_k_tiled_panel_entry),
        _ => None,
    }
}

/// The AVX-512 VNNI matmul tile for a weight type, or `None`: the panel,
/// which is fast for every shape (the 4-row tiles it replaced are gone).
pub(super) fn tile(ty: gguf::GgmlType) -> Option<crate::dot::TileFn> {
    panel(ty)
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
