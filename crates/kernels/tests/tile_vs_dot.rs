//! Every matmul tile against the dot product of its level, pair by pair,
//! bit for bit: a tile only shares loads and decoding between pairs and
//! keeps each pair's float operations and their order (see
//! `kernels::dot::TileFn`), so any difference is a bug, and it would show
//! up as a llama.cpp divergence on Gemma 3.

use gguf::GgmlType;
use kernels::dot::{vec_dot_path_for, DotPath, VecDotType};
use kernels::simd::{self, Level};
use proptest::prelude::*;

/// Random weight blocks with finite f16 scales (an all-ones exponent loses
/// one bit); weight bytes cover the whole range, -128 included.
fn weights(ty: GgmlType, mut bytes: Vec<u8>) -> Vec<u8> {
    for block in bytes.chunks_exact_mut(ty.type_size()) {
        if block[1] & 0x7C == 0x7C {
            block[1] &= !0x40;
        }
    }
    bytes
}

/// The shapes the matmul uses, and some that take the per-pair fallback.
const SHAPES: [(usize, usize); 8] = [(4, 1), (8, 1), (4, 2), (4, 3), (4, 4), (3, 2), (1, 1), (2, 4)];

fn check(level: Level, ty: GgmlType, w: &[u8], x: &[f32], blocks: usize) -> Result<(), TestCaseError> {
    let Some(tile) = simd::tile_for_level(level, ty) else {
        return Ok(());
    };
    let (vt, dot) = simd::vec_dot_for_level(level, ty).expect("a tile implies a dot product");
    prop_assert_eq!(vt, VecDotType::Q8_0);
    let cols = blocks * 32;
    let row_bytes = blocks * ty.type_size();
    // Activation rows padded by one block, as tiles must not read past a row.
    let act_row = vt.row_bytes(cols) + 34;
    let n_x = x.len() / cols;
    let mut act = vec![0xEEu8; act_row * n_x];
    for (t, a) in act.chunks_exact_mut(act_row).enumerate() {
        vt.convert_row(&x[t * cols..(t + 1) * cols], &mut a[..act_row - 34]);
    }
    for (rm, rn) in SHAPES {
        let mut out = vec![f32::NAN; rm * rn];
        tile(w, row_bytes, rm, &act, act_row, rn, &mut out);
        for i in 0..rm {
            for j in 0..rn {
                let want = dot(
                    &w[i * row_bytes..(i + 1) * row_bytes],
                    &act[j * act_row..][..act_row - 34],
                );
                prop_assert_eq!(
                    out[j * rm + i].to_bits(),
                    want.to_bits(),
                    "{} {} tile {}x{} pair ({}, {}): {} vs {}",
                    level.name(),
                    ty,
                    rm,
                    rn,
                    i,
                    j,
                    out[j * rm + i],
                    want
                );
            }
        }
    }
    Ok(())
}

/// Eight weight rows and four activation rows of `1..=24` blocks; some
/// activation blocks zeroed or scaled far down to reach edge cases.
fn case(ty: GgmlType) -> impl Strategy<Value = (usize, Vec<u8>, Vec<f32>)> {
    (1usize..=24).prop_flat_map(move |blocks| {
        (
            Just(blocks),
            proptest::collection::vec(any::<u8>(), 8 * blocks * ty.type_size()),
            proptest::collection::vec(-100.0f32..100.0, 4 * blocks * 32),
            0u32..4,
        )
            .prop_map(|(blocks, w, mut x, mode)| {
                match mode {
                    0 => x.iter_mut().take(32).for_each(|v| *v = 0.0),
                    1 => x.iter_mut().for_each(|v| *v *= 1e-3),
                    _ => {}
                }
                (blocks, w, x)
            })
    })
}

macro_rules! prop_for_type {
    ($name:ident, $ty:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig {
                failure_persistence: None,
                ..ProptestConfig::with_cases(128)
            })]
            #[test]
            fn $name((blocks, w, x) in case($ty)) {
                let w = weights($ty, w);
                for level in simd::available_levels() {
                    check(level, $ty, &w, &x, blocks)?;
                }
            }
        }
    };
}

prop_for_type!(q8_0_tile_is_bit_identical, GgmlType::Q8_0);
prop_for_type!(q4_0_tile_is_bit_identical, GgmlType::Q4_0);
prop_for_type!(q5_0_tile_is_bit_identical, GgmlType::Q5_0);

/// The panels (any rows, any tokens: groups of 2-8 tokens, lone tokens
/// through 4-row tiles) against the dot product they reproduce.
fn check_panel(ty: GgmlType, w: &[u8], x: &[f32], blocks: usize) -> Result<(), TestCaseError> {
    let Some(panel) = simd::panel_for(ty) else {
        return Ok(());
    };
    let (vt, dot) = kernels::dot::vec_dot_for(ty).expect("a panel implies a dot product");
    let cols = blocks * 32;
    let row_bytes = blocks * ty.type_size();
    let act_row = vt.row_bytes(cols) + 34;
    let n_x = x.len() / cols;
    let n_w = w.len() / row_bytes;
    let mut act = vec![0xEEu8; act_row * n_x];
    for (t, a) in act.chunks_exact_mut(act_row).enumerate() {
        vt.convert_row(&x[t * cols..(t + 1) * cols], &mut a[..act_row - 34]);
    }
    for rm in [1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 17, 25, n_w]
        .into_iter()
        .filter(|&rm| rm <= n_w)
    {
        for rn in 1..=n_x {
            let mut out = vec![f32::NAN; rm * rn];
            panel(&w[..rm * row_bytes], row_bytes, rm, &act, act_row, rn, &mut out);
            for i in 0..rm {
                for j in 0..rn {
                    let want = dot(
                        &w[i * row_bytes..(i + 1) * row_bytes],
                        &act[j * act_row..][..act_row - 34],
                    );
                    prop_assert_eq!(
                        out[j * rm + i].to_bits(),
                        want.to_bits(),
                        "{} panel {}x{} pair ({}, {}): {} vs {}",
                        ty,
                        rm,
                        rn,
                        i,
                        j,
                        out[j * rm + i],
                        want
                    );
                }
            }
        }
    }
    Ok(())
}

/// Thirty-three weight rows and twelve activation rows of `1..=12` blocks.
fn panel_case(ty: GgmlType) -> impl Strategy<Value = (usize, Vec<u8>, Vec<f32>)> {
    (1usize..=12).prop_flat_map(move |blocks| {
        (
            Just(blocks),
            proptest::collection::vec(any::<u8>(), 33 * blocks * ty.type_size()),
            proptest::collection::vec(-100.0f32..100.0, 12 * blocks * 32),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(32)
    })]
    #[test]
    fn panels_are_bit_identical((blocks, w, x) in panel_case(GgmlType::Q8_0)) {
        for ty in [GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0] {
            // The same random bytes as blocks of each type.
            let row_bytes = blocks * ty.type_size();
            let w = weights(ty, w[..33 * row_bytes].to_vec());
            check_panel(ty, &w, &x, blocks)?;
        }
    }
}

/// `tokens` random activation rows and `rows` random weight rows of
/// `blocks` blocks (xorshift from `seed`), through every Q8_0-family panel.
fn check_long_rows(blocks: usize, tokens: usize, rows: usize, seed: u64) {
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let x: Vec<f32> = (0..tokens * blocks * 32)
        .map(|_| (next() % 20001) as f32 / 100.0 - 100.0)
        .collect();
    for ty in [GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0] {
        let bytes: Vec<u8> = (0..rows * blocks * ty.type_size())
            .map(|_| next() as u8)
            .collect();
        check_panel(ty, &weights(ty, bytes), &x, blocks).unwrap();
    }
}

/// A prompt's shape through the panels: rows long enough (500 blocks)
/// that a run prepares only sixteen tokens, so that nineteen tokens are
/// several runs, each of two groups (four tokens in one), against 37 rows
/// (the last alone in its pair), and every pair is still its dot product.
#[test]
fn panel_runs_and_chunks_cover_every_pair() {
    check_long_rows(500, 19, 37, 0x9E37_79B9_7F4A_7C15);
}

/// Rows so long (1100 blocks) that a run prepares at most eight tokens:
/// nine tokens become runs of five and four, the second a lone group of
/// four (decoded block by block, as a decode step's).
#[test]
fn panel_run_of_four_tokens() {
    check_long_rows(1100, 9, 3, 0x2545_F491_4F6C_DD1D);
}

/// All bytes -128 against all activations +127 and -127: the extremes of
/// the unsigned-offset arithmetic (`u = 0`, the largest corrections).
#[test]
fn extreme_bytes_are_exact() {
    let blocks = 20;
    for level in simd::available_levels() {
        for ty in [GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0] {
            let mut w = vec![0x80u8; 8 * blocks * ty.type_size()];
            for block in w.chunks_exact_mut(ty.type_size()) {
                block[0] = 0x00;
                block[1] = 0x3C; // d = 1
            }
            // Eight tokens: the panels of one to four and of five to eight.
            let x: Vec<f32> = (0..8 * blocks * 32)
                .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
                .collect();
            check(level, ty, &w, &x, blocks).unwrap();
            check_panel(ty, &w, &x, blocks).unwrap();
        }
    }
}

/// K-quant rows against 1-5 tokens through the one-row tiles, each pair
/// bit-identical to the dot product of the same path (the ones llama.cpp
/// takes for single tokens and inside batches).
fn check_k(ty: GgmlType, path: DotPath, w: &[u8], x: &[f32], blocks: usize) -> Result<(), TestCaseError> {
    let (Some(tile), Some(dot)) = (simd::tile_path_for(ty, path), vec_dot_path_for(ty, path)) else {
        return Ok(());
    };
    let cols = blocks * 256;
    let row_bytes = blocks * ty.type_size();
    let vt = VecDotType::Q8K;
    let act_row = vt.row_bytes(cols) + 7; // odd padding: rows need no alignment
    let n_x = x.len() / cols;
    let mut act = vec![0xEEu8; act_row * n_x];
    for (t, a) in act.chunks_exact_mut(act_row).enumerate() {
        vt.convert_row(&x[t * cols..(t + 1) * cols], &mut a[..act_row - 7]);
    }
    for rn in 1..=n_x {
        let mut out = vec![f32::NAN; rn];
        tile(&w[..row_bytes], row_bytes, 1, &act, act_row, rn, &mut out);
        for (j, got) in out.iter().enumerate() {
            let want = dot(&w[..row_bytes], &act[j * act_row..][..act_row - 7]);
            prop_assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{} {:?} rn {} token {}",
                ty,
                path,
                rn,
                j
            );
        }
    }
    Ok(())
}

fn k_case(ty: GgmlType) -> impl Strategy<Value = (usize, Vec<u8>, Vec<f32>)> {
    (1usize..=3).prop_flat_map(move |blocks| {
        (
            Just(blocks),
            proptest::collection::vec(any::<u8>(), blocks * ty.type_size()),
            proptest::collection::vec(-100.0f32..100.0, 5 * blocks * 256),
        )
    })
}

/// Finite f16 scales at the offsets each K-quant keeps them.
fn k_weights(ty: GgmlType, mut w: Vec<u8>) -> Vec<u8> {
    let offsets: &[usize] = if ty == GgmlType::Q6K { &[208] } else { &[0, 2] };
    for block in w.chunks_exact_mut(ty.type_size()) {
        for &o in offsets {
            if block[o + 1] & 0x7C == 0x7C {
                block[o + 1] &= !0x40;
            }
        }
    }
    w
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(64)
    })]
    #[test]
    fn q4_k_tiles_are_bit_identical((blocks, w, x) in k_case(GgmlType::Q4K)) {
        let w = k_weights(GgmlType::Q4K, w);
        check_k(GgmlType::Q4K, DotPath::Vec, &w, &x, blocks)?;
        check_k(GgmlType::Q4K, DotPath::Gemm4, &w, &x, blocks)?;
    }
    #[test]
    fn q6_k_tiles_are_bit_identical((blocks, w, x) in k_case(GgmlType::Q6K)) {
        let w = k_weights(GgmlType::Q6K, w);
        check_k(GgmlType::Q6K, DotPath::Vec, &w, &x, blocks)?;
        check_k(GgmlType::Q6K, DotPath::Tiled, &w, &x, blocks)?;
    }
}

#[test]
fn k_quant_tiles_exist_where_simd_does() {
    if simd::best_level().is_some() {
        for (ty, path) in [
            (GgmlType::Q4K, DotPath::Vec),
            (GgmlType::Q4K, DotPath::Gemm4),
            (GgmlType::Q6K, DotPath::Vec),
            (GgmlType::Q6K, DotPath::Tiled),
        ] {
            assert!(simd::tile_path_for(ty, path).is_some(), "{ty} {path:?}");
        }
    }
    if Level::Avx512Vnni.is_available() {
        for (ty, path) in [
            (GgmlType::Q4K, DotPath::Vec),
            (GgmlType::Q4K, DotPath::Gemm4),
            (GgmlType::Q6K, DotPath::Tiled),
        ] {
            assert!(simd::k_panel_for(ty, path).is_some(), "{ty} {path:?}");
        }
    }
}

/// K-quant panels (several rows against several tokens) against the dot
/// product of the same path, pair by pair.
fn check_k_panel(
    ty: GgmlType,
    path: DotPath,
    w: &[u8],
    rows: usize,
    x: &[f32],
    blocks: usize,
) -> Result<(), TestCaseError> {
    let (Some(panel), Some(dot)) = (simd::k_panel_for(ty, path), vec_dot_path_for(ty, path)) else {
        return Ok(());
    };
    let cols = blocks * 256;
    let row_bytes = blocks * ty.type_size();
    let vt = VecDotType::Q8K;
    let act_row = vt.row_bytes(cols) + 3; // odd padding: rows need no alignment
    let n_x = x.len() / cols;
    let mut act = vec![0xEEu8; act_row * n_x];
    for (t, a) in act.chunks_exact_mut(act_row).enumerate() {
        vt.convert_row(&x[t * cols..(t + 1) * cols], &mut a[..act_row - 3]);
    }
    for rn in [1, 2, 3, n_x] {
        for rm in [1, rows / 2, rows] {
            let (rm, rn) = (rm.max(1), rn.min(n_x));
            // The panel reads only `rm` rows: a shorter slice catches reads past them.
            let w = &w[..rm * row_bytes];
            let mut out = vec![f32::NAN; rn * rm];
            panel(w, row_bytes, rm, &act, act_row, rn, &mut out);
            for t in 0..rn {
                for r in 0..rm {
                    let want = dot(
                        &w[r * row_bytes..][..row_bytes],
                        &act[t * act_row..][..act_row - 3],
                    );
                    let got = out[t * rm + r];
                    prop_assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "{} {:?} {}x{} at {},{}",
                        ty,
                        path,
                        rm,
                        rn,
                        r,
                        t
                    );
                }
            }
        }
    }
    Ok(())
}

fn k_panel_case(ty: GgmlType) -> impl Strategy<Value = (usize, usize, Vec<u8>, Vec<f32>)> {
    (1usize..=3, 1usize..=35, prop_oneof![1usize..=9, Just(70)]).prop_flat_map(move |(blocks, rows, toks)| {
        (
            Just(blocks),
            Just(rows),
            proptest::collection::vec(any::<u8>(), rows * blocks * ty.type_size()),
            proptest::collection::vec(-100.0f32..100.0, toks * blocks * 256),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(48)
    })]
    #[test]
    fn q4_k_panels_are_bit_identical((blocks, rows, w, x) in k_panel_case(GgmlType::Q4K)) {
        let w = k_weights(GgmlType::Q4K, w);
        check_k_panel(GgmlType::Q4K, DotPath::Vec, &w, rows, &x, blocks)?;
        check_k_panel(GgmlType::Q4K, DotPath::Gemm4, &w, rows, &x, blocks)?;
    }
    #[test]
    fn q6_k_panels_are_bit_identical((blocks, rows, w, x) in k_panel_case(GgmlType::Q6K)) {
        let w = k_weights(GgmlType::Q6K, w);
        check_k_panel(GgmlType::Q6K, DotPath::Tiled, &w, rows, &x, blocks)?;
    }
}
