//! Quantizing f32 rows into ggml's 8-bit block formats.
//!
//! Activations are quantized once per row before a matmul so that the inner
//! loop is an integer dot product, exactly as ggml does on CPU: Q8_0 for the
//! 32-element formats, Q8_K for K-quants. Matching ggml's rounding here is
//! what keeps our logits within float noise of llama.cpp's.

use gguf::QK_K;

/// Elements per Q8_0 block.
pub const QK8_0: usize = 32;
/// Bytes per Q8_0 block: f16 scale then 32 signed bytes.
pub const Q8_0_BYTES: usize = 34;
/// Bytes per Q8_K block: f32 scale, 256 signed bytes, 16 i16 block sums.
pub const Q8_K_BYTES: usize = 292;

/// `v` rounded half to even, for `|v| < 2²²` (quantized values are at most
/// 127 in magnitude): adding and removing `1.5·2²³` leaves no fraction
/// bits, so the float addition itself rounds, half to even. The same
/// integer as `f32::round_ties_even`, which without SSE4.1 in the baseline
/// target is a call into libm's `rintf` per element.
#[inline(always)]
fn round_small(v: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2²³
    (v + MAGIC) - MAGIC
}

/// Quantizes `x` (a multiple of 32 long) into Q8_0 blocks in `out`, the way
/// ggml's x86 `quantize_row_q8_0` does for activations: `id = 127 / amax`,
/// round half to even (the SIMD `_mm256_round_ps` mode).
///
/// Returns the bytes written. `out` must hold `x.len() / 32 * 34` bytes.
pub fn quantize_row_q8_0(x: &[f32], out: &mut [u8]) -> usize {
    let mut written = 0;
    for (xb, ob) in x.chunks_exact(QK8_0).zip(out.chunks_exact_mut(Q8_0_BYTES)) {
        let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        ob[0..2].copy_from_slice(&half::f16::from_f32(d).to_le_bytes());
        for (q, &v) in ob[2..].iter_mut().zip(xb) {
            *q = (round_small(v * id) as i32) as i8 as u8;
        }
        written += Q8_0_BYTES;
    }
    written
}

/// Quantizes `x` into Q8_0 blocks as ggml's `quantize_row_q8_0_ref` does
/// (used for weights written to files): `id = 1 / d`, round half away from
/// zero. Same layout as [`quantize_row_q8_0`].
pub fn quantize_row_q8_0_ref(x: &[f32], out: &mut [u8]) -> usize {
    let mut written = 0;
    for (xb, ob) in x.chunks_exact(QK8_0).zip(out.chunks_exact_mut(Q8_0_BYTES)) {
        let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        ob[0..2].copy_from_slice(&half::f16::from_f32(d).to_le_bytes());
        for (q, &v) in ob[2..].iter_mut().zip(xb) {
            *q = ((v * id).round() as i32) as i8 as u8;
        }
        written += Q8_0_BYTES;
    }
    written
}

/// Quantizes `x` (a multiple of 256 long) into Q8_K blocks, mirroring
/// ggml's `quantize_row_q8_K_ref`: the scale comes from the element of
/// largest magnitude *with its sign* (`iscale = -127 / max`), values round
/// half to even (ggml's `nearest_int`), and 16-element sums are stored for
/// the K-quant min terms.
pub fn quantize_row_q8_k(x: &[f32], out: &mut [u8]) -> usize {
    let mut written = 0;
    for (xb, ob) in x.chunks_exact(QK_K).zip(out.chunks_exact_mut(Q8_K_BYTES)) {
        // ggml's scan keeps the first element of the largest magnitude
        // (`|v| > amax`, strict): the same as the largest magnitude (a
        // max in eight independent lanes, which vectorizes), then the
        // first element that has it.
        let mut lanes = [0.0f32; 8];
        for c in xb.chunks_exact(8) {
            for (m, v) in lanes.iter_mut().zip(c) {
                *m = m.max(v.abs());
            }
        }
        let amax = lanes.iter().fold(0.0f32, |m, &v| m.max(v));
        written += Q8_K_BYTES;
        if amax == 0.0 {
            ob.fill(0);
            continue;
        }
        let max = xb.iter().copied().find(|v| v.abs() == amax).unwrap_or(0.0);
        let iscale = -127.0 / max;
        let (head, rest) = ob.split_at_mut(4);
        let (qs, bsums) = rest.split_at_mut(QK_K);
        for (q, &v) in qs.iter_mut().zip(xb) {
            let r = (round_small(iscale * v) as i32).min(127);
            *q = r as i8 as u8;
        }
        for (j, s) in bsums.chunks_exact_mut(2).enumerate() {
            let sum: i32 = qs[j * 16..j * 16 + 16].iter().map(|&q| i32::from(q as i8)).sum();
            s.copy_from_slice(&(sum as i16).to_le_bytes());
        }
        head.copy_from_slice(&(1.0 / iscale).to_le_bytes());
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_0_round_trips_within_half_a_step() {
        let x: Vec<f32> = (0..64).map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.13).collect();
        let mut q = vec![0u8; 2 * Q8_0_BYTES];
        assert_eq!(quantize_row_q8_0(&x, &mut q), 68);
        let mut y = vec![0.0f32; 64];
        crate::quant::dequantize_row_q8_0(&q, &mut y);
        let amax = x[..32].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (a, b) in x[..32].iter().zip(&y) {
            assert!((a - b).abs() <= amax / 127.0 * 0.51 + 1e-3, "{a} {b}");
        }
    }

    #[test]
    fn q8_k_bsums_and_scale() {
        let x: Vec<f32> = (0..256).map(|i| (i as f32 - 100.0) / 50.0).collect();
        let mut q = vec![0u8; Q8_K_BYTES];
        quantize_row_q8_k(&x, &mut q);
        let mut y = vec![0.0f32; 256];
        crate::quant::dequantize_row_q8_k(&q, &mut y);
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() < 0.02, "{a} {b}");
        }
        let s0 = i16::from_le_bytes([q[260], q[261]]);
        let direct: i32 = q[4..20].iter().map(|&v| i32::from(v as i8)).sum();
        assert_eq!(i32::from(s0), direct);
    }

    #[test]
    fn round_small_is_round_ties_even() {
        // Compared as the integers the quantizers keep (the sign of a
        // zero differs: -0.5 gives +0.0 here, -0.0 from `rintf`).
        for i in -130 * 4096..=130 * 4096 {
            let v = i as f32 / 4096.0;
            assert_eq!(round_small(v) as i32, v.round_ties_even() as i32, "{v}");
        }
        for v in [
            0.5f32, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, -126.5, 127.49999, 1e-30, -1e-30,
        ] {
            assert_eq!(round_small(v) as i32, v.round_ties_even() as i32, "{v}");
        }
    }

    #[test]
    fn zero_rows_quantize_to_zero() {
        let x = [0.0f32; 256];
        let mut q = vec![0xAAu8; Q8_K_BYTES];
        quantize_row_q8_k(&x, &mut q);
        assert!(q.iter().all(|&b| b == 0));
    }
}
