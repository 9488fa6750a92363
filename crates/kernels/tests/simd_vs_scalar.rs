//! Every SIMD dot product against its scalar reference, for every level the
//! running CPU supports.
//!
//! Tolerance: the integer sums inside a block are exact on both sides, so
//! the kernels differ only in how the per-block float terms are rounded and
//! accumulated (the scalar code converts each block's exact integer sum and
//! adds blocks one by one; SIMD converts 8 partial lane sums per block, fuses
//! the multiply-add and adds 8 lanes at the end). Each of those steps rounds
//! relative to the magnitude of the terms involved, never to the (possibly
//! cancelled) final sum, so the error is bounded by `c · n · ε · Σ|terms|`
//! with ε = 2⁻²⁴ ≈ 6e-8, n the number of blocks plus a few for the lane and
//! horizontal sums. `Σ|terms|` is computed here from the dequantized rows in
//! f64 as `Σ |w_i|·|x_i|`, with Q4_K/Q5_K's two parts (`d·sc·q` and
//! `dmin·m`) counted separately by flipping the sign of `dmin` so they add
//! instead of cancel. A relative bound of 1e-5 covers the worst case up to
//! ~150 blocks, far beyond the 8 used here and beyond Gemma's 640- and
//! 2048-wide rows; a real bug (one wrong product, a wrong scale) shows up as
//! an error of the order of one term, ≥ 1e-3 of the sum for these rows.

use gguf::GgmlType;
use kernels::dequantize;
use kernels::dot::{vec_dot_for_scalar, vec_dot_path_for_scalar, DotPath, VecDotType};
use kernels::simd::{self, Level};
use proptest::prelude::*;

const TYPES: [GgmlType; 6] = [
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q5_0,
    GgmlType::Q4K,
    GgmlType::Q5K,
    GgmlType::Q6K,
];

/// Relative tolerance against `Σ|terms|` (see the module comment).
const REL_TOL: f64 = 1e-5;

/// Byte offsets of the f16 scales inside one block of `ty`.
fn scale_offsets(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 => &[0],
        GgmlType::Q4K | GgmlType::Q5K => &[0, 2],
        GgmlType::Q6K => &[208],
        _ => unreachable!(),
    }
}

/// Random block bytes with every f16 scale made finite (an all-ones
/// exponent loses one bit), so both sides compute with real numbers.
fn weights(ty: GgmlType, mut bytes: Vec<u8>) -> Vec<u8> {
    let ts = ty.type_size();
    for block in bytes.chunks_exact_mut(ts) {
        for &o in scale_offsets(ty) {
            if block[o + 1] & 0x7C == 0x7C {
                block[o + 1] &= !0x40;
            }
        }
    }
    bytes
}

/// `Σ |w_i|·|x_i|` in f64, with K-quant mins kept from cancelling.
fn abs_terms(ty: GgmlType, w: &[u8], vt: VecDotType, xq: &[u8], n: usize) -> f64 {
    let mut w = w.to_vec();
    if matches!(ty, GgmlType::Q4K | GgmlType::Q5K) {
        for block in w.chunks_exact_mut(ty.type_size()) {
            block[1] &= 0x7F; // d ≥ 0
            block[3] |= 0x80; // dmin ≤ 0: `- dmin·m` adds
        }
    }
    let mut wf = vec![0.0f32; n];
    dequantize(ty, &w, &mut wf).unwrap();
    let mut xf = vec![0.0f32; n];
    let xt = match vt {
        VecDotType::Q8_0 => GgmlType::Q8_0,
        VecDotType::Q8K => GgmlType::Q8K,
        _ => unreachable!(),
    };
    dequantize(xt, xq, &mut xf).unwrap();
    wf.iter()
        .zip(&xf)
        .map(|(&a, &b)| (f64::from(a) * f64::from(b)).abs())
        .sum()
}

fn check(level: Level, ty: GgmlType, w_bytes: Vec<u8>, x: &[f32]) -> Result<(), TestCaseError> {
    let n = x.len();
    let w = weights(ty, w_bytes);
    let (vt, fast) = simd::vec_dot_for_level(level, ty).expect("level available");
    let (vt_ref, slow) = vec_dot_for_scalar(ty).unwrap();
    prop_assert_eq!(vt, vt_ref);
    let mut xq = vec![0u8; vt.row_bytes(n)];
    vt.convert_row(x, &mut xq);
    let (got, want) = (fast(&w, &xq), slow(&w, &xq));
    let norm = abs_terms(ty, &w, vt, &xq, n);
    let err = (f64::from(got) - f64::from(want)).abs();
    prop_assert!(
        err <= REL_TOL * norm,
        "{} {}: simd {} scalar {} |err| {} > {} · Σ|terms| {}",
        level.name(),
        ty,
        got,
        want,
        err,
        REL_TOL,
        norm
    );
    Ok(())
}

/// A row of `1..=8` blocks of `ty`: weight bytes and activations. Some
/// activation blocks are scaled far down or zeroed to reach edge cases.
fn row(ty: GgmlType) -> impl Strategy<Value = (Vec<u8>, Vec<f32>)> {
    (1usize..=8).prop_flat_map(move |blocks| {
        let n = blocks * ty.block_size();
        (
            proptest::collection::vec(any::<u8>(), blocks * ty.type_size()),
            proptest::collection::vec(-100.0f32..100.0, n),
            0u32..4,
        )
            .prop_map(|(w, mut x, mode)| {
                match mode {
                    0 => x.iter_mut().take(32).for_each(|v| *v = 0.0),
                    1 => x.iter_mut().for_each(|v| *v *= 1e-3),
                    _ => {}
                }
                (w, x)
            })
    })
}

fn levels() -> Vec<Level> {
    simd::available_levels().collect()
}

macro_rules! prop_for_type {
    ($name:ident, $ty:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig {
                failure_persistence: None,
                ..ProptestConfig::with_cases(256)
            })]
            #[test]
            fn $name((w, x) in row($ty)) {
                for level in levels() {
                    check(level, $ty, w.clone(), &x)?;
                }
            }
        }
    };
}

prop_for_type!(q8_0_matches_scalar, GgmlType::Q8_0);
prop_for_type!(q4_0_matches_scalar, GgmlType::Q4_0);
prop_for_type!(q5_0_matches_scalar, GgmlType::Q5_0);
prop_for_type!(q4_k_matches_scalar, GgmlType::Q4K);
prop_for_type!(q5_k_matches_scalar, GgmlType::Q5K);
prop_for_type!(q6_k_matches_scalar, GgmlType::Q6K);

/// The kernels of llama.cpp's batch paths (Q4_K's repacked gemm, Q6_K's
/// tiled matmul) and Q4_K's gemv do the same float operations in the same
/// order at every level: bit-identical to the scalar references.
fn check_path_exact(ty: GgmlType, path: DotPath, w_bytes: Vec<u8>, x: &[f32]) -> Result<(), TestCaseError> {
    let w = weights(ty, w_bytes);
    let (vt, _) = vec_dot_for_scalar(ty).unwrap();
    let mut xq = vec![0u8; vt.row_bytes(x.len())];
    vt.convert_row(x, &mut xq);
    let slow = vec_dot_path_for_scalar(ty, path).unwrap();
    let fast = match path {
        DotPath::Vec => simd::vec_dot_for(ty).map(|(_, f)| f),
        _ => simd::vec_dot_path_for(ty, path),
    };
    if let Some(fast) = fast {
        prop_assert_eq!(
            fast(&w, &xq).to_bits(),
            slow(&w, &xq).to_bits(),
            "{} {:?}",
            ty,
            path
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(256)
    })]
    #[test]
    fn q4_k_gemv_is_bit_identical((w, x) in row(GgmlType::Q4K)) {
        check_path_exact(GgmlType::Q4K, DotPath::Vec, w, &x)?;
    }
    #[test]
    fn q4_k_gemm_is_bit_identical((w, x) in row(GgmlType::Q4K)) {
        check_path_exact(GgmlType::Q4K, DotPath::Gemm4, w, &x)?;
    }
    #[test]
    fn q6_k_tiled_is_bit_identical((w, x) in row(GgmlType::Q6K)) {
        check_path_exact(GgmlType::Q6K, DotPath::Tiled, w, &x)?;
    }
}

/// Extreme bytes: every weight byte 0x80 / 0xFF / 0x7F (most negative and
/// largest nibbles, all fifth bits set) against activations at ±127.
#[test]
fn extreme_bytes_match_scalar() {
    for level in levels() {
        for ty in TYPES {
            for fill in [0x80u8, 0xFF, 0x7F, 0x00] {
                let blocks = 3;
                let n = blocks * ty.block_size();
                let w = vec![fill; blocks * ty.type_size()];
                for sign in [1.0f32, -1.0] {
                    let x: Vec<f32> = (0..n).map(|i| if i % 3 == 0 { -sign } else { sign }).collect();
                    check(level, ty, w.clone(), &x).unwrap();
                }
            }
        }
    }
}

#[test]
fn dispatch_picks_simd_on_this_machine() {
    let avail: Vec<&str> = simd::available_levels().map(Level::name).collect();
    println!(
        "SIMD levels on this CPU: {avail:?}; best: {:?}",
        simd::best_level().map(Level::name)
    );
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        let best = simd::best_level().expect("an x86 CPU with AVX2 and FMA gets a SIMD level");
        for ty in TYPES {
            let (_, f) = simd::vec_dot_for(ty).expect("every quantized type has a kernel");
            let (_, g) = simd::vec_dot_for_level(best, ty).unwrap();
            assert!(
                std::ptr::fn_addr_eq(f, g),
                "{ty}: dispatch did not pick {}",
                best.name()
            );
        }
    }
    for ty in [GgmlType::F32, GgmlType::F16, GgmlType::Q4_1] {
        assert!(simd::vec_dot_for(ty).is_none(), "{ty} has no SIMD kernel here");
    }
}
