//! Each integer dot product against the float oracle: dequantize both rows
//! with the bit-exact dequantizers and dot them in f64.

use super::*;
use crate::quant::dequantize;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

/// Random blocks of `ty` with finite, modest f16 scales at the given offsets.
fn random_weights(ty: GgmlType, n_blocks: usize, rng: &mut Rng, scale_offsets: &[usize]) -> Vec<u8> {
    let ts = ty.type_size();
    let mut data: Vec<u8> = (0..ts * n_blocks).map(|_| rng.next() as u8).collect();
    for b in 0..n_blocks {
        for &o in scale_offsets {
            let v = half::f16::from_f32(0.01 + 0.02 * rng.f32().abs());
            data[b * ts + o..b * ts + o + 2].copy_from_slice(&v.to_le_bytes());
        }
    }
    data
}

fn check(ty: GgmlType, scale_offsets: &[usize]) {
    let (_, f) = vec_dot_for(ty).expect("has a dot");
    check_fn(ty, f, scale_offsets);
    for path in [DotPath::Gemm4, DotPath::Tiled] {
        for g in [vec_dot_path_for(ty, path), vec_dot_path_for_scalar(ty, path)]
            .into_iter()
            .flatten()
        {
            check_fn(ty, g, scale_offsets);
        }
    }
}

fn check_fn(ty: GgmlType, f: VecDotFn, scale_offsets: &[usize]) {
    let mut rng = Rng(0x1234_5678_9abc_def1 ^ ty.id() as u64);
    let n = 512;
    let (vt, _) = vec_dot_for(ty).expect("has a dot");
    for _ in 0..20 {
        let w = random_weights(ty, n / ty.block_size(), &mut rng, scale_offsets);
        let x: Vec<f32> = (0..n).map(|_| rng.f32() * 3.0).collect();
        let mut xq = vec![0u8; vt.row_bytes(n)];
        vt.convert_row(&x, &mut xq);
        let mut wf = vec![0.0f32; n];
        dequantize(ty, &w, &mut wf).unwrap();
        let mut xf = vec![0.0f32; n];
        match vt {
            VecDotType::F32 => xf.copy_from_slice(&x),
            VecDotType::F16 => dequantize(GgmlType::F16, &xq, &mut xf).unwrap(),
            VecDotType::Q8_0 => dequantize(GgmlType::Q8_0, &xq, &mut xf).unwrap(),
            VecDotType::Q8K => dequantize(GgmlType::Q8K, &xq, &mut xf).unwrap(),
        }
        let want: f64 = wf
            .iter()
            .zip(&xf)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        let norm: f64 = wf
            .iter()
            .zip(&xf)
            .map(|(&a, &b)| (f64::from(a) * f64::from(b)).abs())
            .sum();
        let got = f64::from(f(&w, &xq));
        assert!((got - want).abs() <= 1e-5 * norm + 1e-6, "{ty}: {got} vs {want}");
    }
}

#[test]
fn q8_0() {
    check(GgmlType::Q8_0, &[0]);
}
#[test]
fn q4_0() {
    check(GgmlType::Q4_0, &[0]);
}
#[test]
fn q5_0() {
    check(GgmlType::Q5_0, &[0]);
}
#[test]
fn q4_k() {
    check(GgmlType::Q4K, &[0, 2]);
}
#[test]
fn q5_k() {
    check(GgmlType::Q5K, &[0, 2]);
}
#[test]
fn q6_k() {
    check(GgmlType::Q6K, &[208]);
}
#[test]
fn f16() {
    // Every other byte pair is a weight: keep them all finite and small.
    let offsets: Vec<usize> = vec![0];
    check(GgmlType::F16, &offsets);
}
#[test]
fn f32_dot() {
    let mut rng = Rng(7);
    let n = 100;
    let w: Vec<f32> = (0..n).map(|_| rng.f32()).collect();
    let x: Vec<f32> = (0..n).map(|_| rng.f32()).collect();
    let wb: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
    let xb: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let want: f32 = w.iter().zip(&x).map(|(a, b)| a * b).sum();
    assert!((vec_dot_f32(&wb, &xb) - want).abs() < 1e-4);
}
