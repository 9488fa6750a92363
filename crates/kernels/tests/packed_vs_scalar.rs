//! The packed Q8_0 output-head kernel (`kernels::packed`) against its
//! scalar reference, bit for bit, on random matrices (row counts that are
//! and are not multiples of 16, one to twenty tokens, one and two
//! threads); the reference against the GGUF-layout matmul within a few
//! units in the last place; rows read back from the packed layout; and
//! the packing's progress callback covering
//! every source byte once, in order. On a CPU without AVX-512 VNNI there is
//! no packed kernel and only the reference is checked.

use gguf::GgmlType;
use half::f16;
use kernels::matmul::{matmul, Matrix};
use kernels::packed::PackedQ8_0;
use proptest::prelude::*;

/// Q8_0 rows: per block an f16 scale and 32 signed bytes (-127..=127 as
/// llama.cpp's quantizer writes, plus -128 now and then).
fn q8_0(rows: usize, blocks: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut out = Vec::with_capacity(rows * blocks * 34);
    for _ in 0..rows * blocks {
        let d = f16::from_f32((next() % 1000) as f32 / 1000.0 * 0.05 + 1e-4);
        out.extend_from_slice(&d.to_le_bytes());
        for _ in 0..32 {
            out.push(next() as u8);
        }
    }
    out
}

fn run(p: &PackedQ8_0, x: &[f32], n_tok: usize, threads: usize) -> Vec<f32> {
    let mut out = vec![f32::NAN; n_tok * p.rows()];
    let mut act = vec![0u8; PackedQ8_0::act_bytes(p.cols(), n_tok)];
    p.matmul(x, n_tok, &mut out, &mut act, threads);
    out
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|f| f.to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn packed_matches_reference(
        rows in prop_oneof![1usize..=40, (1usize..=6).prop_map(|g| 16 * g)],
        blocks in 1usize..=12,
        n_tok in 1usize..=20,
        seed in any::<u64>(),
        x_seed in any::<u64>(),
        scale in 0.01f32..100.0,
    ) {
        let data = q8_0(rows, blocks, seed);
        let cols = blocks * 32;
        let w = Matrix::new(GgmlType::Q8_0, rows, cols, &data).unwrap();
        let x: Vec<f32> = (0..n_tok * cols)
            .map(|i| {
                let h = (i as u64 ^ x_seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
                (h as f32 / (1u64 << 24) as f32 - 0.5) * scale
            })
            .collect();

        let reference = PackedQ8_0::pack_reference(&w).unwrap();
        let want = run(&reference, &x, n_tok, 1);

        // The reference against the GGUF layout's matmul (llama.cpp's
        // arithmetic): the same exact block sums, scaled and summed in
        // another order, so a few ulps of the terms' magnitude apart.
        let mut plain = vec![0.0f32; n_tok * rows];
        let mut act = vec![0u8; w.act_bytes(n_tok)];
        matmul(&w, &x, n_tok, &mut plain, &mut act, 1);
        let mag = plain.iter().fold(1e-30f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in want.iter().zip(&plain).enumerate() {
            prop_assert!((a - b).abs() <= 1e-5 * mag, "element {i}: packed {a}, plain {b}, max {mag}");
        }

        // Rows read back from the packed layout are the GGUF rows'.
        let (mut a, mut b) = (vec![0.0f32; cols], vec![0.0f32; cols]);
        for r in [0, rows / 2, rows - 1] {
            reference.dequantize_row(r, &mut a);
            w.dequantize_row(r, &mut b);
            prop_assert_eq!(bits(&a), bits(&b));
        }

        // Every token alone gives the bits it gets in the batch.
        let t = n_tok - 1;
        let alone = run(&reference, &x[t * cols..], 1, 1);
        prop_assert_eq!(bits(&alone), bits(&want[t * rows..]));

        if let Some(simd) = PackedQ8_0::pack(&w, |_| {}) {
            for threads in [1, 2] {
                prop_assert_eq!(bits(&run(&simd, &x, n_tok, threads)), bits(&want));
            }
        }
    }
}

#[test]
fn packing_reports_every_source_byte_once() {
    let rows = 4096 * 2 + 37;
    let data = q8_0(rows, 2, 7);
    let w = Matrix::new(GgmlType::Q8_0, rows, 64, &data).unwrap();
    let mut next = data.as_ptr() as usize;
    let mut calls = 0;
    let packed = PackedQ8_0::pack(&w, |chunk| {
        assert_eq!(chunk.as_ptr() as usize, next, "chunks in order, no gap");
        next += chunk.len();
        calls += 1;
    });
    if packed.is_some() {
        assert_eq!(next, data.as_ptr() as usize + data.len());
        assert_eq!(calls, 3);
    }
}
