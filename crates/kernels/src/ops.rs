//! The element-wise and row-wise operations of a transformer layer, each
//! written to do what ggml's CPU backend does (same accumulation width, same
//! rounding steps), since the goal is output identical to llama.cpp.

/// RMS normalisation in place, then multiplication by `weight`, as ggml's
/// `rms_norm` followed by `mul`: the sum of squares is accumulated in f64
/// (`ggml_float`), the scale is `1 / sqrt(mean + eps)` in f32.
pub fn rms_norm(x: &mut [f32], weight: &[f32], eps: f32) {
    let sum: f64 = x.iter().map(|&v| f64::from(v * v)).sum();
    let mean = (sum / x.len() as f64) as f32;
    let scale = 1.0 / (mean + eps).sqrt();
    for (v, &w) in x.iter_mut().zip(weight) {
        *v = (*v * scale) * w;
    }
}

/// Out-of-place [`rms_norm`].
pub fn rms_norm_into(out: &mut [f32], x: &[f32], weight: &[f32], eps: f32) {
    out.copy_from_slice(x);
    rms_norm(out, weight, eps);
}

const GELU_COEF_A: f32 = 0.044_715;
const SQRT_2_OVER_PI: f32 = 0.797_884_6;

/// The tanh approximation of GELU in f32 (ggml's `ggml_gelu_f32`).
fn gelu_f32(x: f32) -> f32 {
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * x * (1.0 + GELU_COEF_A * x * x)).tanh())
}

/// GELU as ggml's CPU backend computes it: for |x| < 10 the input is rounded
/// to f16 and looked up in a table of f16 results (`GGML_GELU_FP16`), so the
/// output is `f16(gelu(f16(x)))`; outside, 0 or x.
pub fn gelu(x: f32) -> f32 {
    if x <= -10.0 {
        0.0
    } else if x >= 10.0 {
        x
    } else {
        let xh = half::f16::from_f32(x).to_f32();
        half::f16::from_f32(gelu_f32(xh)).to_f32()
    }
}

/// SiLU, `x / (1 + e^-x)` (ggml's `ggml_silu_f32`).
pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// `gate = act(gate) * up`, the gated feed-forward combination.
pub fn gated(gate: &mut [f32], up: &[f32], act: fn(f32) -> f32) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = act(*g) * u;
    }
}

/// `x += y`.
pub fn add_assign(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// Softmax in place with max subtraction; the sum is accumulated in f64
/// like ggml's `ggml_vec_soft_max_f32`.
pub fn softmax(x: &mut [f32]) {
    let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0f64;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += f64::from(*v);
    }
    let inv = (1.0 / sum) as f32;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

/// How RoPE pairs the dimensions of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Adjacent pairs `(2i, 2i + 1)`: original Llama.
    Normal,
    /// Split halves `(i, i + n_rot / 2)`: GPT-NeoX, Qwen2, Gemma.
    Neox,
}

/// Rotates the first `n_rot` dimensions of `head` for position `pos`. The
/// angle for pair `i` is `pos * freq_scale * base^(-2i / n_rot)`, computed by
/// repeated multiplication in f32 as ggml's `rope_yarn` cache does (no YaRN
/// extrapolation: `ext_factor = 0`).
pub fn rope(head: &mut [f32], pos: usize, n_rot: usize, base: f32, freq_scale: f32, style: RopeStyle) {
    let theta_scale = base.powf(-2.0 / n_rot as f32);
    let mut theta = pos as f32;
    for i in 0..n_rot / 2 {
        let t = freq_scale * theta;
        let (sin, cos) = (t.sin(), t.cos());
        let (a, b) = match style {
            RopeStyle::Normal => (2 * i, 2 * i + 1),
            RopeStyle::Neox => (i, i + n_rot / 2),
        };
        let (x0, x1) = (head[a], head[b]);
        head[a] = x0 * cos - x1 * sin;
        head[b] = x0 * sin + x1 * cos;
        theta *= theta_scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_norm_unit_weight() {
        let mut x = [3.0f32, 4.0];
        rms_norm(&mut x, &[1.0, 1.0], 0.0);
        let r = (12.5f32).sqrt();
        assert!((x[0] - 3.0 / r).abs() < 1e-6 && (x[1] - 4.0 / r).abs() < 1e-6);
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut x = [1.0f32, 2.0, 3.0, -1e9];
        softmax(&mut x);
        assert!((x.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(x[3], 0.0);
    }

    #[test]
    fn gelu_matches_reference_shape() {
        assert_eq!(gelu(-20.0), 0.0);
        assert_eq!(gelu(20.0), 20.0);
        assert!((gelu(1.0) - 0.8412).abs() < 1e-3);
    }

    #[test]
    fn rope_position_zero_is_identity_and_rotation_keeps_norm() {
        let mut h = [1.0f32, 2.0, 3.0, 4.0];
        rope(&mut h, 0, 4, 10000.0, 1.0, RopeStyle::Neox);
        assert_eq!(h, [1.0, 2.0, 3.0, 4.0]);
        rope(&mut h, 7, 4, 10000.0, 1.0, RopeStyle::Normal);
        let n: f32 = h.iter().map(|v| v * v).sum();
        assert!((n - 30.0).abs() < 1e-4);
    }
}
