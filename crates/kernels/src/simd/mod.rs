//! SIMD dot products and the one place where CPU features are detected.
//!
//! Each level implements the six quantized dot products of [`crate::dot`]
//! (Q8_0, Q4_0, Q5_0 against Q8_0 activations; Q4_K, Q5_K, Q6_K against
//! Q8_K) with the same signature and the same integer arithmetic as the
//! scalar references; only the order of the final float accumulation
//! differs (as it does between ggml's own scalar and SIMD paths).
//!
//! [`vec_dot_for`] picks the best level the running CPU supports;
//! [`vec_dot_for_level`] lets tests and benchmarks ask for a given one.
//! Kernels are handed out only after their features were detected, which
//! is what makes calling them safe.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_avx2_kquants;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;
#[cfg(target_arch = "x86_64")]
mod x86_avx512_kquants;
#[cfg(target_arch = "x86_64")]
mod x86_avx512_packed;
#[cfg(target_arch = "x86_64")]
mod x86_avx512_panel;
#[cfg(target_arch = "x86_64")]
mod x86_avx512_panel256;
#[cfg(target_arch = "x86_64")]
mod x86_avx512_quantize;

use gguf::GgmlType;

use crate::dot::{TileFn, VecDotFn, VecDotType};

/// The packed Q8_0 kernel ([`crate::packed`]) of the best level that has
/// one (AVX-512 VNNI only, for now).
pub(crate) fn packed_q8_0_kernel() -> Option<crate::packed::GroupFn> {
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = x86_avx512_packed::kernel() {
        return Some(k);
    }
    None
}

/// An instruction-set level with its own kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// x86-64 AVX2 + FMA + F16C.
    Avx2,
    /// x86-64 AVX-512 F/BW/VL + VNNI (`vpdpbusd`, `vpdpwssd` on 256 bits).
    Avx512Vnni,
    /// AArch64 NEON with the dot-product extension (`sdot`).
    NeonDot,
}

impl Level {
    /// Every level, worst first.
    pub const ALL: [Level; 3] = [Level::Avx2, Level::Avx512Vnni, Level::NeonDot];

    /// Whether the running CPU supports this level.
    pub fn is_available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => x86_avx2::Avx2::detect().is_some(),
            #[cfg(target_arch = "x86_64")]
            Level::Avx512Vnni => x86_avx512::Vnni::detect().is_some(),
            #[cfg(target_arch = "aarch64")]
            Level::NeonDot => aarch64::detect(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// A short name for logs and benchmark tables.
    pub fn name(self) -> &'static str {
        match self {
            Level::Avx2 => "avx2",
            Level::Avx512Vnni => "avx512vnni",
            Level::NeonDot => "neon-dotprod",
        }
    }
}

/// The levels the running CPU supports, worst first.
pub fn available_levels() -> impl DoubleEndedIterator<Item = Level> {
    Level::ALL.into_iter().filter(|l| l.is_available())
}

/// The best level the running CPU supports, if any.
pub fn best_level() -> Option<Level> {
    available_levels().last()
}

/// The dot product of `level` for weight type `ty`, with the activation
/// format it expects; `None` when the CPU lacks the level or the level has
/// no kernel for `ty`.
pub fn vec_dot_for_level(level: Level, ty: GgmlType) -> Option<(VecDotType, VecDotFn)> {
    let act = match ty {
        GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 => VecDotType::Q8_0,
        GgmlType::Q4K | GgmlType::Q5K | GgmlType::Q6K => VecDotType::Q8K,
        _ => return None,
    };
    let f = match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => x86_avx2::kernel(ty),
        #[cfg(target_arch = "x86_64")]
        Level::Avx512Vnni => x86_avx512::kernel(ty),
        #[cfg(target_arch = "aarch64")]
        Level::NeonDot => aarch64::kernel(ty),
        #[allow(unreachable_patterns)]
        _ => None,
    }?;
    Some((act, f))
}

/// The fastest dot product the running CPU has for `ty`, or `None`: then
/// the caller uses the scalar reference ([`crate::dot::vec_dot_for_scalar`]).
pub fn vec_dot_for(ty: GgmlType) -> Option<(VecDotType, VecDotFn)> {
    available_levels().rev().find_map(|l| vec_dot_for_level(l, ty))
}

/// The fastest kernel the running CPU has for `ty` on one of llama.cpp's
/// batch paths ([`crate::dot::DotPath`]); `None` to use the portable one.
pub fn vec_dot_path_for(ty: GgmlType, path: crate::dot::DotPath) -> Option<VecDotFn> {
    available_levels().rev().find_map(|l| match l {
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => x86_avx2::kernel_path(ty, path),
        #[cfg(target_arch = "x86_64")]
        Level::Avx512Vnni => x86_avx512::kernel_path(ty, path),
        #[allow(unreachable_patterns)]
        _ => None,
    })
}

/// The matmul tile of `level` for weight type `ty` ([`TileFn`]); `None`
/// when the CPU lacks the level or the level has no tile for `ty`.
pub fn tile_for_level(level: Level, ty: GgmlType) -> Option<TileFn> {
    match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => x86_avx2::tile(ty),
        #[cfg(target_arch = "x86_64")]
        Level::Avx512Vnni => x86_avx512::tile(ty),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The matmul tile of the level [`vec_dot_for`] picks for `ty` (the tile
/// reproduces that level's dot product bit for bit), or `None`.
pub fn tile_for(ty: GgmlType) -> Option<TileFn> {
    let level = available_levels()
        .rev()
        .find(|&l| vec_dot_for_level(l, ty).is_some())?;
    tile_for_level(level, ty)
}

/// A [`TileFn`] of `ty` from the level [`vec_dot_for`] picks that is fast
/// for any number of rows and tokens (the matmul hands it whole row
/// panels), or `None` where that level has only the 4-row tiles.
pub fn panel_for(ty: GgmlType) -> Option<TileFn> {
    let level = available_levels()
        .rev()
        .find(|&l| vec_dot_for_level(l, ty).is_some())?;
    match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512Vnni => x86_avx512::panel(ty),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The one-row, several-token kernel ([`TileFn`] with `rm == 1`) of
/// K-quant `ty` on `path`, from the level [`vec_dot_path_for`] picks, whose
/// results it reproduces bit for bit; `None` when there is none.
pub fn tile_path_for(ty: GgmlType, path: crate::dot::DotPath) -> Option<TileFn> {
    let level = available_levels().rev().find(|&l| match l {
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 | Level::Avx512Vnni => vec_dot_for_level(l, ty).is_some(),
        #[allow(unreachable_patterns)]
        _ => false,
    })?;
    match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => x86_avx2::tile_path(ty, path),
        #[cfg(target_arch = "x86_64")]
        Level::Avx512Vnni => x86_avx512::tile_path(ty, path),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// A K-quant panel of `ty` on `path`: a [`TileFn`] for any number of
/// rows and tokens whose every pair is bit-identical to
/// [`crate::dot::vec_dot_path_for`]'s kernel of that path (the SIMD ones
/// reproduce the same references); `None` where the CPU or the path has
/// none (AVX-512 VNNI only, for Q4_K's `Vec` and `Gemm4` and Q6_K's
/// `Tiled`).
pub fn k_panel_for(ty: GgmlType, path: crate::dot::DotPath) -> Option<TileFn> {
    #[cfg(target_arch = "x86_64")]
    if Level::Avx512Vnni.is_available() {
        return x86_avx512::k_panel(ty, path);
    }
    let _ = (ty, path);
    None
}

/// Whether the activation quantizers have an AVX-512 form here.
#[cfg(target_arch = "x86_64")]
fn quantize_avx512() -> bool {
    is_x86_feature_detected!("avx512f")
}

/// [`crate::dot::quantize_row_q8_0`], on AVX-512 where the CPU has it
/// (same bytes).
pub fn quantize_row_q8_0(x: &[f32], out: &mut [u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if quantize_avx512() {
        // SAFETY: AVX-512F was detected just above.
        return unsafe { x86_avx512_quantize::quantize_row_q8_0(x, out) };
    }
    crate::dot::quantize_row_q8_0(x, out)
}

/// [`crate::dot::quantize_row_q8_k`], on AVX-512 where the CPU has it
/// (same bytes).
pub fn quantize_row_q8_k(x: &[f32], out: &mut [u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if quantize_avx512() {
        // SAFETY: AVX-512F was detected just above.
        return unsafe { x86_avx512_quantize::quantize_row_q8_k(x, out) };
    }
    crate::dot::quantize_row_q8_k(x, out)
}

/// Asks the CPU to start loading `bytes` into its caches (one prefetch per
/// 64-byte line) and returns at once. A matmul calls it a few weight rows
/// ahead of the row it computes: a lone token's dot products are too short
/// for the hardware prefetcher alone to keep the memory bus busy
/// (measured on Gemma 3's 178 MB output matrix: 12-15% faster).
#[inline]
pub fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        // SAFETY: a prefetch is only a hint: it never faults and reads or
        // writes nothing visible, whatever the address (this one is valid).
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast())
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}
