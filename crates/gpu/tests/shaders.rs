//! Every shader against the CPU reference on random data, bit for bit: the
//! dequantizers against `kernels::dequantize`, the activation conversion
//! against the CPU's quantizers, the matmul against `kernels::matmul` in
//! each of llama.cpp's roundings (batch sizes pick them), RMSNorm, RoPE and
//! GELU against `kernels::ops` (attention: `tests/attention.rs`). SiLU uses
//! the device's `exp` and is held to a tolerance.

mod common;

use gguf::GgmlType;

use common::Rng;

const TYPES: [GgmlType; 7] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::Q8_0,
    GgmlType::Q5_0,
    GgmlType::Q4_0,
    GgmlType::Q4K,
    GgmlType::Q6K,
];

/// Random blocks of `ty`: random bytes, with every f16 scale a finite
/// value of either sign (random bits would make NaNs, which compare unequal).
fn random_blocks(ty: GgmlType, rows: usize, cols: usize, rng: &mut Rng) -> Vec<u8> {
    let scale = |rng: &mut Rng| half::f16::from_f32(rng.uniform(0.5)).to_le_bytes();
    match ty {
        GgmlType::F32 => (0..rows * cols)
            .flat_map(|_| rng.uniform(2.0).to_le_bytes())
            .collect(),
        GgmlType::F16 => (0..rows * cols).flat_map(|_| scale(rng)).collect(),
        _ => {
            let (block, bytes, scales): (usize, usize, &[usize]) = match ty {
                GgmlType::Q8_0 => (32, 34, &[0]),
                GgmlType::Q5_0 => (32, 22, &[0]),
                GgmlType::Q4_0 => (32, 18, &[0]),
                GgmlType::Q4K => (256, 144, &[0, 2]),
                GgmlType::Q6K => (256, 210, &[208]),
                _ => unreachable!(),
            };
            let mut out = Vec::new();
            for _ in 0..rows * cols / block {
                let mut b: Vec<u8> = (0..bytes).map(|_| rng.next() as u8).collect();
                for &at in scales {
                    b[at..at + 2].copy_from_slice(&scale(rng));
                }
                out.extend(b);
            }
            out
        }
    }
}

#[test]
fn dequantize_shaders_match_the_cpu_reference_bit_for_bit() {
    let Some(gpu) = common::gpu() else { return };
    let mut rng = Rng(0x1234_5678);
    for ty in TYPES {
        // 512 columns: two K-quant super-blocks, 16 legacy blocks per row.
        let (rows, cols) = (24, 512);
        let data = random_blocks(ty, rows, cols, &mut rng);
        let mut want = vec![0.0f32; rows * cols];
        kernels::dequantize(ty, &data, &mut want).unwrap();
        let got = gpu::check::dequantize(&gpu, ty, rows, cols, &data).unwrap();
        let bad: Vec<_> = (0..want.len())
            .filter(|&i| got[i].to_bits() != want[i].to_bits())
            .take(5)
            .map(|i| (i, got[i], want[i]))
            .collect();
        assert!(bad.is_empty(), "{}: (index, gpu, cpu) {bad:?}", ty.name());
    }
}

#[test]
fn activation_rounding_matches_the_cpu_quantizers() {
    let Some(gpu) = common::gpu() else { return };
    let mut rng = Rng(0x9e37_79b9);
    let width = 512;
    let mut x: Vec<f32> = (0..3 * width).map(|_| rng.uniform(3.0)).collect();
    // An all-zero block and exact ties must round as the CPU rounds them.
    x[256..288].fill(0.0);
    x[300] = 127.0;
    x[301] = 0.5;
    x[302] = -1.5;
    let le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    for (mode, name) in [(0u32, "Q8_0"), (1, "Q8_K"), (2, "F16")] {
        // The CPU's blocks, laid out as the shader's words.
        let mut want = Vec::new();
        match mode {
            0 => {
                let mut q = vec![0u8; x.len() / 32 * 34];
                kernels::dot::quantize_row_q8_0(&x, &mut q);
                for b in q.chunks_exact(34) {
                    want.push(half::f16::from_le_bytes([b[0], b[1]]).to_f32().to_bits());
                    want.extend(b[2..].chunks_exact(4).map(le));
                }
            }
            1 => {
                let mut q = vec![0u8; x.len() / 256 * 292];
                kernels::dot::quantize_row_q8_k(&x, &mut q);
                for b in q.chunks_exact(292) {
                    want.push(le(&b[..4]));
                    want.extend(b[4..260].chunks_exact(4).map(le));
                    want.extend(
                        b[260..]
                            .chunks_exact(2)
                            .map(|s| i32::from(i16::from_le_bytes([s[0], s[1]])) as u32),
                    );
                }
            }
            _ => want.extend(x.iter().map(|&v| half::f16::from_f32(v).to_f32().to_bits())),
        }
        let got = gpu::check::quantize(&gpu, mode, &x, width).unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        let bad: Vec<_> = (0..want.len())
            .filter(|&i| got[i] != want[i])
            .take(5)
            .map(|i| (i, got[i], want[i]))
            .collect();
        assert!(bad.is_empty(), "{name}: (word, gpu, cpu) {bad:x?}");
    }
}

/// Every pair bit for bit as `kernels::matmul` rounds it, with the
/// tokens in parts of 1 (decode), 4 and 5 (Q4_K's gemm for the first
/// `n - n % 4`), 8 and 11 (Q6_K's tiled matmul), over row counts that are
/// and are not a multiple of 8 (whether Q4_K is repacked). Random
/// activations of a wide range, so the float order shows in the last bits.
#[test]
fn matmul_shaders_round_as_the_cpu_bit_for_bit() {
    let Some(gpu) = common::gpu() else { return };
    let mut rng = Rng(0x0bad_cafe);
    let (cols, n_tok) = (512, 11);
    for ty in TYPES {
        for rows in [40, 20] {
            let data = random_blocks(ty, rows, cols, &mut rng);
            let m = kernels::matmul::Matrix::new(ty, rows, cols, &data).unwrap();
            let x: Vec<f32> = (0..n_tok * cols)
                .map(|i| rng.uniform(1.0) * if i % 7 == 0 { 40.0 } else { 1.0 })
                .collect();
            for part in [1, 4, 5, 8, 11] {
                let mut batches = vec![part; n_tok / part];
                if n_tok % part != 0 {
                    batches.push(n_tok % part);
                }
                let mut want = vec![0.0f32; n_tok * rows];
                let mut act = vec![0u8; m.act_bytes(n_tok)];
                kernels::matmul::matmul_batches(&m, &x, n_tok, &batches, &mut want, &mut act, 1);
                let got = gpu::check::matmul(&gpu, ty, rows, cols, &data, &x, part).unwrap();
                let bad: Vec<_> = (0..want.len())
                    .filter(|&i| got[i].to_bits() != want[i].to_bits())
                    .take(5)
                    .map(|i| (i / rows, i % rows, got[i], want[i]))
                    .collect();
                assert!(
                    bad.is_empty(),
                    "{} ({rows} rows, parts of {part}): (token, row, gpu, cpu) {bad:?}",
                    ty.name()
                );
            }
        }
    }
}

/// Uniform in `[-a, a)` times a random power of two in `2^-8..2^8`.
fn wide(rng: &mut Rng, a: f32) -> f32 {
    let e = (rng.next() % 17) as i32 - 8;
    rng.uniform(a) * 2f32.powi(e)
}

fn assert_bits(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}");
    let bad: Vec<_> = (0..want.len())
        .filter(|&i| got[i].to_bits() != want[i].to_bits())
        .take(5)
        .map(|i| (i, got[i], want[i]))
        .collect();
    assert!(bad.is_empty(), "{what}: (index, gpu, cpu) {bad:?}");
}

#[test]
fn rms_norm_matches_the_cpu_bit_for_bit() {
    let Some(gpu) = common::gpu() else { return };
    let mut rng = Rng(0x0123_4567);
    for width in [16, 256, 640, 1000] {
        // Rows of one magnitude (every f32 addition rounds) and of many.
        let x: Vec<f32> = (0..64 * width)
            .map(|i| {
                if i < 32 * width {
                    rng.uniform(3.0)
                } else {
                    wide(&mut rng, 3.0)
                }
            })
            .collect();
        let w: Vec<f32> = (0..width).map(|_| rng.uniform(2.0)).collect();
        let mut want = x.clone();
        for row in want.chunks_exact_mut(width) {
            kernels::ops::rms_norm(row, &w, 1e-6);
        }
        let got = gpu::check::rms_norm(&gpu, &x, width, &w, 1e-6).unwrap();
        assert_bits(&format!("width {width}"), &got, &want);
    }
}

#[test]
fn rope_matches_the_cpu_bit_for_bit() {
    let Some(gpu) = common::gpu() else { return };
    let mut rng = Rng(0x7654_3210);
    let (heads, hd) = (3, 64);
    for (neox, n_rot, pos0, base, scale) in [
        (true, 64, 0, 10_000.0, 1.0),
        (true, 64, 517, 1_000_000.0, 0.0625),
        (false, 32, 3, 10_000.0, 1.0),
    ] {
        let x: Vec<f32> = (0..5 * heads * hd).map(|_| wide(&mut rng, 2.0)).collect();
        let style = if neox {
            kernels::ops::RopeStyle::Neox
        } else {
            kernels::ops::RopeStyle::Normal
        };
        let mut want = x.clone();
        for (t, row) in want.chunks_exact_mut(heads * hd).enumerate() {
            for head in row.chunks_exact_mut(hd) {
                kernels::ops::rope(head, pos0 + t, n_rot, base, 1.0, style);
                head.iter_mut().for_each(|v| *v *= scale);
            }
        }
        let got = gpu::check::rope(&gpu, &x, heads, hd, n_rot, neox, pos0, base, scale).unwrap();
        assert_bits(&format!("neox {neox}, n_rot {n_rot}, pos0 {pos0}"), &got, &want);
    }
}

#[test]
fn gelu_matches_the_cpu_bit_for_bit_and_silu_closely() {
    let Some(gpu) = common::gpu() else { return };
    let mut rng = Rng(0x00c0_ffee);
    let n = 4096;
    let mut gate: Vec<f32> = (0..n).map(|_| rng.uniform(12.0)).collect();
    // The edges of the table: ±10 and beyond, zero, exact f16 values.
    gate[..6].copy_from_slice(&[-10.0, 10.0, -10.5, 11.0, 0.0, 0.5]);
    let up: Vec<f32> = (0..n).map(|_| wide(&mut rng, 1.0)).collect();
    let want: Vec<f32> = gate
        .iter()
        .zip(&up)
        .map(|(&g, &u)| kernels::ops::gelu(g) * u)
        .collect();
    assert_bits(
        "gelu",
        &gpu::check::gated(&gpu, &gate, &up, false).unwrap(),
        &want,
    );
    let got = gpu::check::gated(&gpu, &gate, &up, true).unwrap();
    for i in 0..n {
        let want = kernels::ops::silu(gate[i]) * up[i];
        assert!(
            (got[i] - want).abs() <= 1e-5 * want.abs() + 1e-30,
            "silu({}) * {}: gpu {} cpu {want}",
            gate[i],
            up[i],
            got[i]
        );
    }
}
