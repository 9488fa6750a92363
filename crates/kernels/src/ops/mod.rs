//! The element-wise and row-wise operations of a transformer layer, each
//! written to do what ggml's CPU backend does (same accumulation width, same
//! rounding steps), since the goal is output identical to llama.cpp.

mod norm;

pub use norm::{rms_norm, rms_norm_into, rms_norm_rows};

const GELU_COEF_A: f32 = 0.044_715;
const SQRT_2_OVER_PI: f32 = 0.797_884_6;

/// The tanh approximation of GELU in f32 (ggml's `ggml_gelu_f32`), as
/// compiled by GCC for llama.cpp's CPU backend: `-ffp-contract=fast` (the
/// GNU C default) fuses `1.0f + GELU_COEF_A*x*x` into one FMA, which moves
/// a few entries of the f16 table by one f16 step.
fn gelu_f32(x: f32) -> f32 {
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * x * (GELU_COEF_A * x).mul_add(x, 1.0)).tanh())
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
        gelu_table()[usize::from(half::f16::from_f32(x).to_bits())]
    }
}

/// `f16(gelu(f16(x)))` for every f16 bit pattern `x`, built on first use
/// (ggml's `ggml_table_gelu_f16`): a lookup instead of a `tanh` per element,
/// with the same results.
fn gelu_table() -> &'static [f32] {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=u16::MAX)
            .map(|bits| {
                let xh = half::f16::from_bits(bits).to_f32();
                half::f16::from_f32(gelu_f32(xh)).to_f32()
            })
            .collect()
    })
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

/// `gate[i] = gelu(gate[i]) * up[i]`, equal to [`gated`] with [`gelu`]: the
/// f16 rounding of the table index is done a slice at a time (the `half`
/// crate converts eight or sixteen values per instruction), not one call
/// per element.
pub fn gated_gelu(gate: &mut [f32], up: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("f16c") {
        // SAFETY: the running CPU has AVX-512F and F16C, checked just above.
        return unsafe { gated_gelu_avx512(gate, up) };
    }
    gated_gelu_portable(gate, up);
}

/// [`gated_gelu`] sixteen elements at a time: the f16 rounding of the
/// index (`vcvtps2ph`, ties to even, as `half` rounds), one gather from
/// the table, the two bounds as masks; the tail through the portable loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,f16c")]
fn gated_gelu_avx512(gate: &mut [f32], up: &[f32]) {
    use std::arch::x86_64::*;
    let n = gate.len().min(up.len());
    let (gate, up) = (&mut gate[..n], &up[..n]);
    let table = gelu_table();
    assert_eq!(table.len(), 1 << 16);
    let (lo, hi) = (_mm512_set1_ps(-10.0), _mm512_set1_ps(10.0));
    let body = n - n % 16;
    for (g, u) in gate[..body].chunks_exact_mut(16).zip(up[..body].chunks_exact(16)) {
        // SAFETY: `g` and `u` are 16 floats each; `loadu`/`storeu` need no
        // alignment. Every gathered index is an f16 bit pattern, below
        // 65536, the table's length (asserted above).
        unsafe {
            let x = _mm512_loadu_ps(g.as_ptr());
            let h = _mm512_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x);
            let looked_up = _mm512_i32gather_ps::<4>(_mm512_cvtepu16_epi32(h), table.as_ptr().cast());
            // NaN compares false both ways and is looked up, as in `gelu`.
            let a = _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_GE_OQ>(x, hi), looked_up, x);
            let a = _mm512_maskz_mov_ps(!_mm512_cmp_ps_mask::<_CMP_LE_OQ>(x, lo), a);
            _mm512_storeu_ps(g.as_mut_ptr(), _mm512_mul_ps(a, _mm512_loadu_ps(u.as_ptr())));
        }
    }
    gated_gelu_portable(&mut gate[body..], &up[body..]);
}

/// The body of [`gated_gelu`], for any target.
fn gated_gelu_portable(gate: &mut [f32], up: &[f32]) {
    const CHUNK: usize = 64;
    let table = gelu_table();
    let mut bits = [half::f16::ZERO; CHUNK];
    for (g, u) in gate.chunks_mut(CHUNK).zip(up.chunks(CHUNK)) {
        let bits = &mut bits[..g.len()];
        half::slice::HalfFloatSliceExt::convert_from_f32_slice(bits, g);
        for ((g, &u), h) in g.iter_mut().zip(u).zip(bits.iter()) {
            let x = *g;
            let a = if x <= -10.0 {
                0.0
            } else if x >= 10.0 {
                x
            } else {
                table[usize::from(h.to_bits())]
            };
            *g = a * u;
        }
    }
}

/// `x += y`.
pub fn add_assign(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// Softmax in place with max subtraction, as ggml's CPU `soft_max` on an
/// AVX-512 machine computes it: `exp` is ggml's `ggml_v_expf` polynomial
/// (not the C library's `expf`), and the sum of the exponentials is taken
/// 16 at a time (each group summed as `_mm512_reduce_add_ps` does), the
/// group sums accumulated in f64. Same as [`softmax_from`] with `first` 0.
pub fn softmax(x: &mut [f32]) {
    softmax_from(x, 0);
}

/// [`softmax`] of the scores of KV cells `first..first + x.len()`, the
/// others masked: ggml sums the exponentials over all cells in 16-wide
/// groups aligned on cell 0, and a masked cell adds exactly 0, so the
/// groups here are aligned on cell `first`'s place in that grid.
pub fn softmax_from(x: &mut [f32], first: usize) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the running CPU has FMA, checked just above.
        return unsafe { softmax_fma(x, first) };
    }
    softmax_portable(x, first);
}

/// [`softmax_portable`] compiled with FMA (the same roundings: `mul_add`
/// is fused either way, here in one instruction).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
fn softmax_fma(x: &mut [f32], first: usize) {
    softmax_portable(x, first);
}

#[inline(always)]
fn softmax_portable(x: &mut [f32], first: usize) {
    const G: usize = 16;
    let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    for v in x.iter_mut() {
        *v = v_expf(*v - max);
    }
    let mut sum = 0.0f64;
    let mut group = [0.0f32; G];
    let mut cell = first;
    let mut rest: &[f32] = x;
    while !rest.is_empty() {
        let lane0 = cell % G;
        let n = (G - lane0).min(rest.len());
        group.fill(0.0);
        group[lane0..lane0 + n].copy_from_slice(&rest[..n]);
        sum += f64::from(tree_sum(&mut group));
        rest = &rest[n..];
        cell += n;
    }
    let inv = (1.0 / sum) as f32;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

/// ggml's AVX-512 `ggml_v_expf`: `2^n · p(b)` with `n = round(x / ln 2)`,
/// `b = x - n ln 2` (in two FMA steps) and a degree-5 polynomial, every
/// step an FMA as in the intrinsics; `_mm512_scalef_ps` rounds once.
#[inline(always)]
fn v_expf(x: f32) -> f32 {
    let c = f32::from_bits;
    let r = c(0x4b40_0000); // 0x1.8p23
    let z = x.mul_add(c(0x3fb8_aa3b), r); // log2(e)
    let n = z - r;
    let b = (-n).mul_add(c(0x35bf_be8e), (-n).mul_add(c(0x3f31_7200), x));
    let u = b * b;
    let j = c(0x3c07_2010)
        .mul_add(b, c(0x3d2b_9f17))
        .mul_add(u, c(0x3e2a_af33).mul_add(b, c(0x3eff_fedb)))
        .mul_add(u, c(0x3f7f_fff6).mul_add(b, 1.0));
    if n.abs() > 192.0 {
        return if n <= 0.0 { 0.0 } else { f32::INFINITY };
    }
    // j · 2^n with one rounding: exact scaling into the normal range first
    // when the result is subnormal.
    let ni = n as i32;
    if ni >= -126 {
        j * f32::from_bits(((ni + 127) as u32) << 23)
    } else {
        (j * f32::from_bits(((ni + 100 + 127) as u32) << 23)) * f32::from_bits(27 << 23)
    }
}

/// Sum of `acc` (a power-of-two length) as SIMD horizontal sums do it:
/// `acc[k] += acc[k + w]` for `w` = half the length, then half again, down to 1.
#[inline(always)]
fn tree_sum(acc: &mut [f32]) -> f32 {
    let mut w = acc.len() / 2;
    while w >= 1 {
        for k in 0..w {
            acc[k] += acc[k + w];
        }
        w /= 2;
    }
    acc[0]
}

/// Reduces `lanes` partial rows of `width` floats (`acc` holds
/// `lanes * width`, `lanes` a power of two) into the first row, pairwise
/// as `tree_sum` does for each column: the reduction of a SIMD
/// accumulator whose lane `k` summed the terms `j ≡ k (mod lanes)`.
pub fn reduce_lanes(acc: &mut [f32], lanes: usize, width: usize) {
    let mut w = lanes / 2;
    while w >= 1 {
        let (lo, hi) = acc[..2 * w * width].split_at_mut(w * width);
        add_assign(lo, hi);
        w /= 2;
    }
}

/// Dot product of f16 values (widened to f32) in ggml's
/// `ggml_vec_dot_f16` order on an AVX-512 machine, what llama.cpp uses for
/// attention scores and outputs of a single-token step: 64 lane sums
/// (lane `k` takes elements `i ≡ k (mod 64)` of the first `64·⌊n/64⌋`),
/// reduced pairwise, then the remaining products added in f64. Products of
/// f16 values are exact in f32, so fused or not is the same.
pub fn dot_f16_vec(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 64;
    let n = a.len().min(b.len());
    let np = n / L * L;
    let mut acc = [0.0f32; L];
    for (x, y) in a[..np].chunks_exact(L).zip(b[..np].chunks_exact(L)) {
        for k in 0..L {
            acc[k] += x[k] * y[k];
        }
    }
    let mut sum = f64::from(tree_sum(&mut acc));
    for i in np..n {
        sum += f64::from(a[i] * b[i]);
    }
    sum as f32
}

/// Dot product of two f32 slices (over the shorter length), written to
/// vectorize: 16 independent f32 accumulators, lane `k` summing the
/// products of elements `i ≡ k (mod 16)` in order (like ggml's SIMD
/// `vec_dot`, lane accumulators reduced once at the end), reduced pairwise
/// (`acc[k] += acc[k + w]` for `w` = 8, 4, 2, 1), then the tail of fewer
/// than 16 elements added one by one. Products and sums are separate roundings (no FMA), so every
/// CPU gets the same bits; but this is not a left-to-right sum, so the last
/// bits can differ from `.sum()`.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the running CPU has AVX2, checked just above.
        return unsafe { dot_avx2(a, b) };
    }
    dot_portable(a, b)
}

/// [`dot_portable`] compiled for AVX2 (same operations, same order).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_portable(a, b)
}

/// The body of [`dot`], for any target.
#[inline(always)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 16;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; L];
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..L {
            acc[k] += x[k] * y[k];
        }
    }
    for w in [8, 4, 2, 1] {
        for k in 0..w {
            acc[k] += acc[k + w];
        }
    }
    let mut s = acc[0];
    for (&x, &y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// `y += a * x` element by element (multiply, then add: no fused rounding).
pub fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the running CPU has AVX2, checked just above.
        return unsafe { axpy_avx2(y, a, x) };
    }
    axpy_portable(y, a, x);
}

/// [`axpy_portable`] compiled for AVX2 (same operations).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn axpy_avx2(y: &mut [f32], a: f32, x: &[f32]) {
    axpy_portable(y, a, x);
}

/// The body of [`axpy`], for any target.
#[inline(always)]
fn axpy_portable(y: &mut [f32], a: f32, x: &[f32]) {
    for (d, &s) in y.iter_mut().zip(x) {
        *d += a * s;
    }
}

/// Rounds every value to the nearest f16 (ties to even) and back, exactly
/// as `f16::from_f32(v).to_f32()` per element, through the slice
/// conversions (F16C where the CPU has it).
pub fn round_to_f16(x: &mut [f32]) {
    use half::slice::HalfFloatSliceExt;
    let mut tmp = [half::f16::ZERO; 64];
    for chunk in x.chunks_mut(64) {
        let t = &mut tmp[..chunk.len()];
        t.convert_from_f32_slice(chunk);
        t.convert_to_f32_slice(chunk);
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
    let mut angles = RopeAngles::default();
    angles.set(pos, n_rot, base, freq_scale);
    angles.apply(head, style);
}

/// Most rotated pairs of a head [`RopeAngles`] holds.
pub const ROPE_MAX_PAIRS: usize = 256;

/// The cosines and sines of one position's angles (see [`rope`]): computed
/// once per token and applied to each of its heads, where computing them
/// per head spent most of RoPE's time in `sincosf`.
#[derive(Debug, Clone)]
pub struct RopeAngles {
    cos: [f32; ROPE_MAX_PAIRS],
    sin: [f32; ROPE_MAX_PAIRS],
    pairs: usize,
}

impl Default for RopeAngles {
    fn default() -> Self {
        RopeAngles {
            cos: [0.0; ROPE_MAX_PAIRS],
            sin: [0.0; ROPE_MAX_PAIRS],
            pairs: 0,
        }
    }
}

impl RopeAngles {
    /// The angles of position `pos` for the first `n_rot` dimensions
    /// (`n_rot / 2` pairs, at most [`ROPE_MAX_PAIRS`]).
    ///
    /// # Panics
    /// When `n_rot / 2` is over [`ROPE_MAX_PAIRS`] (the model loader
    /// rejects such heads).
    pub fn set(&mut self, pos: usize, n_rot: usize, base: f32, freq_scale: f32) {
        let pairs = n_rot / 2;
        assert!(pairs <= ROPE_MAX_PAIRS, "RoPE over {n_rot} dimensions");
        let theta_scale = base.powf(-2.0 / n_rot as f32);
        let mut theta = pos as f32;
        for i in 0..pairs {
            let t = freq_scale * theta;
            (self.sin[i], self.cos[i]) = (t.sin(), t.cos());
            theta *= theta_scale;
        }
        self.pairs = pairs;
    }

    /// Rotates the first `2 · pairs` dimensions of `head` by these angles.
    pub fn apply(&self, head: &mut [f32], style: RopeStyle) {
        rope_apply(head, self.cos(), self.sin(), style);
    }

    /// The cosines of the angles, one per pair.
    pub fn cos(&self) -> &[f32] {
        &self.cos[..self.pairs]
    }

    /// The sines of the angles, one per pair.
    pub fn sin(&self) -> &[f32] {
        &self.sin[..self.pairs]
    }
}

/// Rotates the first `2 · cos.len()` dimensions of `head` by the angles
/// whose cosines and sines are given ([`RopeAngles::cos`] and `sin`, kept
/// for every token of a step and shared by the layers of one base).
pub fn rope_apply(head: &mut [f32], cos: &[f32], sin: &[f32], style: RopeStyle) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the running CPU has FMA, checked just above.
        return unsafe { rotate_fma(head, cos, sin, style) };
    }
    rotate(head, cos, sin, style);
}

/// [`rotate`] compiled with FMA (same results, one instruction per `mul_add`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
fn rotate_fma(head: &mut [f32], cos: &[f32], sin: &[f32], style: RopeStyle) {
    rotate(head, cos, sin, style);
}

#[inline(always)]
fn rotate(head: &mut [f32], cos: &[f32], sin: &[f32], style: RopeStyle) {
    let n = cos.len().min(sin.len());
    for (i, (&cos, &sin)) in cos[..n].iter().zip(&sin[..n]).enumerate() {
        let (a, b) = match style {
            RopeStyle::Normal => (2 * i, 2 * i + 1),
            RopeStyle::Neox => (i, i + n),
        };
        let (x0, x1) = (head[a], head[b]);
        // ggml's `rotate_pairs` as GCC contracts it (`-ffp-contract=fast`):
        // `x0*cos - x1*sin` and `x0*sin + x1*cos` each become one FMA on
        // `x0` (checked bit for bit against llama.cpp's tensors).
        head[a] = x0.mul_add(cos, -(x1 * sin));
        head[b] = x0.mul_add(sin, x1 * cos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random values in about `-2..2`.
    pub(crate) fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x as f32 / u32::MAX as f32) * 4.0 - 2.0
            })
            .collect()
    }

    #[test]
    fn gated_gelu_equals_the_per_element_form() {
        // Values across the table's range and past its ends, the edges
        // themselves, and lengths that leave a partial last chunk.
        let mut g: Vec<f32> = values(1000, 7).iter().map(|v| v * 7.0).collect();
        g.extend([
            -10.0,
            10.0,
            -10.000001,
            10.000001,
            1e-8,
            -1e-8,
            0.0,
            -0.0,
            65504.0,
            -7e4,
            f32::NAN,
        ]);
        let u = values(g.len(), 8);
        for n in [0, 1, 63, 64, 65, g.len()] {
            let mut want = g[..n].to_vec();
            gated(&mut want, &u[..n], gelu);
            let mut got = g[..n].to_vec();
            gated_gelu(&mut got, &u[..n]);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "n={n}");
        }
    }

    #[test]
    fn dot_matches_f64_reference() {
        for n in [0, 1, 7, 15, 16, 17, 31, 32, 33, 64, 100, 256, 257] {
            let (a, b) = (values(n, 1 + n as u32), values(n, 1000 + n as u32));
            let exact: f64 = a.iter().zip(&b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
            let mag: f64 = a.iter().zip(&b).map(|(&x, &y)| f64::from((x * y).abs())).sum();
            let got = f64::from(dot(&a, &b));
            assert!(
                (got - exact).abs() <= 1e-6 * mag + 1e-12,
                "n={n}: {got} vs {exact}"
            );
            // The dispatched and portable builds agree bit for bit.
            assert_eq!(dot(&a, &b).to_bits(), dot_portable(&a, &b).to_bits());
            // Shorter length wins.
            assert_eq!(dot(&a, &b[..n / 2]), dot(&a[..n / 2], &b[..n / 2]));
        }
    }

    #[test]
    fn axpy_is_elementwise() {
        let x = values(37, 5);
        let mut y = values(37, 6);
        let y0 = y.clone();
        axpy(&mut y, 0.375, &x);
        for i in 0..37 {
            assert_eq!(y[i], y0[i] + 0.375 * x[i]);
        }
        let mut z = y0.clone();
        axpy_portable(&mut z, 0.375, &x);
        assert_eq!(y, z);
    }

    #[test]
    fn round_to_f16_matches_scalar_and_widen_is_exact() {
        use crate::attn::widen;
        let mut x = values(200, 9);
        x.extend([0.0, -0.0, 1e-8, 65504.0, 70000.0, 1.0 / 3.0]);
        let want: Vec<f32> = x.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect();
        round_to_f16(&mut x);
        assert_eq!(x, want);
        let h: Vec<half::f16> = x.iter().map(|&v| half::f16::from_f32(v)).collect();
        let mut w = vec![0.0f32; h.len()];
        widen(&h, &mut w);
        assert_eq!(w, want);
    }

    #[test]
    fn v_expf_is_close_to_exp() {
        for x in values(5000, 11)
            .into_iter()
            .map(|v| v * 40.0)
            .chain([0.0, -87.0, -100.0, -150.0, 80.0])
        {
            let (got, want) = (f64::from(v_expf(x)), f64::from(x).exp());
            assert!(
                (got - want).abs() <= 3e-7 * want + 1e-44,
                "x = {x}: {got} vs {want}"
            );
        }
        assert_eq!(v_expf(0.0), 1.0);
        assert_eq!(v_expf(-1000.0), 0.0);
        assert_eq!(v_expf(f32::NEG_INFINITY), 0.0);
    }

    #[test]
    fn softmax_groups_follow_the_cells() {
        // Cells 20..50 of a 64-cell row, the others masked: the same as the
        // full row with -inf there.
        let s = values(30, 4);
        let mut full = vec![f32::NEG_INFINITY; 64];
        full[20..50].copy_from_slice(&s);
        softmax_from(&mut full, 0);
        let mut part = s.clone();
        softmax_from(&mut part, 20);
        assert_eq!(&full[20..50], &part[..]);
        assert!(full[..20].iter().chain(&full[50..]).all(|&v| v == 0.0));
    }

    #[test]
    fn lane_sums() {
        let a = values(200, 5);
        let b = values(200, 6);
        let exact: f64 = a.iter().zip(&b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
        assert!((f64::from(dot_f16_vec(&a, &b)) - exact).abs() < 1e-4);
        // reduce_lanes: row k of 4 rows holds k + 1 in every column.
        let mut acc: Vec<f32> = (0..4).flat_map(|k| vec![k as f32 + 1.0; 3]).collect();
        reduce_lanes(&mut acc, 4, 3);
        assert_eq!(&acc[..3], &[10.0, 10.0, 10.0]);
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut x = [1.0f32, 2.0, 3.0, -1e9];
        softmax(&mut x);
        assert!((x.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(x[3], 0.0);
    }

    #[test]
    fn gelu_table_matches_direct_computation() {
        for x in values(5000, 3)
            .into_iter()
            .map(|v| v * 4.9)
            .chain([-9.99, 9.99, 0.0, -0.0])
        {
            let direct = half::f16::from_f32(gelu_f32(half::f16::from_f32(x).to_f32())).to_f32();
            assert_eq!(gelu(x).to_bits(), direct.to_bits(), "x = {x}");
        }
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
