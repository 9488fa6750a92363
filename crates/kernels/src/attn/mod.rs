//! Register-blocked kernels for the attention of a batch step, in the
//! arithmetic of llama.cpp's CPU backend (llamafile's tinyBLAS f16 path on
//! AVX-512): every `q·k` and every output element `Σ_j p_j v_j` is summed
//! in [`LANES`] lane accumulators, lane `k` taking its terms in order, the
//! lanes reduced pairwise at the end.
//!
//! The inputs are f16 values widened to f32 (queries and probabilities are
//! rounded to f16 before they get here, keys and values come from an f16
//! cache). A product of two f16 values is exact in f32, so a fused
//! multiply-add rounds once, exactly as a multiply followed by an add: the
//! SIMD kernels use FMAs and still match the scalar references
//! ([`scores_scalar`], [`values_acc_scalar`]) bit for bit. With inputs that
//! are not f16 values the two may differ in the last bit.
//!
//! What the SIMD kernels change is only the order of the loops: a tile of
//! query rows × keys shares its loads (one 16-lane accumulator per pair),
//! and the value sums walk one lane's cells with the accumulators of a
//! block of rows × columns held in registers. Each individual sum sees the
//! same terms in the same order as the reference.

use std::ops::Range;

pub mod single;

/// Lane accumulators per sum (a 512-bit vector of f32).
pub const LANES: usize = 16;

/// `out[r * out_stride + c] = dot(q_r, k_c) * scale` for the `nr` query
/// rows `q_r = q[r * hk..][..hk]` and the `nc` keys `k_c = k[c * hk..][..hk]`,
/// where `dot` is [`crate::ops::dot`]: 16 lane sums over the first
/// `16·⌊hk/16⌋` elements, reduced pairwise, then the remaining products
/// added one by one. Bit for bit [`scores_scalar`] when `q` and `k` hold
/// f16 values (see the module documentation).
///
/// # Panics
/// If a slice is too short for the sizes given, or `out_stride < nc`.
#[allow(clippy::too_many_arguments)]
pub fn scores(
    q: &[f32],
    k: &[f32],
    hk: usize,
    nr: usize,
    nc: usize,
    scale: f32,
    out: &mut [f32],
    out_stride: usize,
) {
    check_scores(q, k, hk, nr, nc, out, out_stride);
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        // SAFETY: the CPU has AVX-512F (checked just above) and the slices
        // hold every element the sizes address (`check_scores`).
        return unsafe { x86::scores(q, k, hk, nr, nc, scale, out, out_stride) };
    }
    scores_scalar(q, k, hk, nr, nc, scale, out, out_stride);
}

/// The reference of [`scores`]: one [`crate::ops::dot`] per pair.
///
/// # Panics
/// As [`scores`].
#[allow(clippy::too_many_arguments)]
pub fn scores_scalar(
    q: &[f32],
    k: &[f32],
    hk: usize,
    nr: usize,
    nc: usize,
    scale: f32,
    out: &mut [f32],
    out_stride: usize,
) {
    check_scores(q, k, hk, nr, nc, out, out_stride);
    for r in 0..nr {
        let qr = &q[r * hk..(r + 1) * hk];
        for c in 0..nc {
            out[r * out_stride + c] = crate::ops::dot(qr, &k[c * hk..(c + 1) * hk]) * scale;
        }
    }
}

fn check_scores(q: &[f32], k: &[f32], hk: usize, nr: usize, nc: usize, out: &[f32], out_stride: usize) {
    assert!(q.len() >= nr * hk, "queries: {} < {nr} × {hk}", q.len());
    assert!(k.len() >= nc * hk, "keys: {} < {nc} × {hk}", k.len());
    if nr > 0 && nc > 0 {
        assert!(out_stride >= nc, "score stride {out_stride} < {nc} keys");
        assert!(out.len() >= (nr - 1) * out_stride + nc, "score buffer too short");
    }
}

/// Adds the value terms of cells `first..first + n` to the lane sums of
/// `nr` rows, over the columns `cols` of values `hv` wide:
/// `acc[r * acc_stride + k * hv + d] += p[r * p_stride + i] * v[i * v_stride + d - cols.start]`
/// for each cell `first + i` in order, `k = (first + i) % LANES`, `d` in
/// `cols` (`v` holds the columns `cols` of each cell, `v_stride` apart). Each output element is then the pairwise reduction of its
/// `LANES` sums ([`crate::ops::reduce_lanes`]). Calls over consecutive
/// ranges of cells continue the same sums. Bit for bit
/// [`values_acc_scalar`] when `p` and `v` hold f16 values.
///
/// # Panics
/// If a slice is too short for the sizes given, `cols` does not lie in
/// `0..hv`, `v_stride < cols.len()` or `acc_stride < LANES * hv`.
#[allow(clippy::too_many_arguments)]
pub fn values_acc(
    p: &[f32],
    p_stride: usize,
    nr: usize,
    first: usize,
    n: usize,
    v: &[f32],
    v_stride: usize,
    hv: usize,
    cols: Range<usize>,
    acc: &mut [f32],
    acc_stride: usize,
) {
    check_values(p, p_stride, nr, n, v, v_stride, hv, &cols, acc, acc_stride);
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        // SAFETY: the CPU has AVX-512F (checked just above) and the slices
        // hold every element the sizes address (`check_values`).
        return unsafe { x86::values_acc(p, p_stride, nr, first, n, v, v_stride, hv, cols, acc, acc_stride) };
    }
    values_acc_scalar(p, p_stride, nr, first, n, v, v_stride, hv, cols, acc, acc_stride);
}

/// The reference of [`values_acc`]: per row and cell, `acc_lane += p · v`
/// over the columns (multiply, then add).
///
/// # Panics
/// As [`values_acc`].
#[allow(clippy::too_many_arguments)]
pub fn values_acc_scalar(
    p: &[f32],
    p_stride: usize,
    nr: usize,
    first: usize,
    n: usize,
    v: &[f32],
    v_stride: usize,
    hv: usize,
    cols: Range<usize>,
    acc: &mut [f32],
    acc_stride: usize,
) {
    check_values(p, p_stride, nr, n, v, v_stride, hv, &cols, acc, acc_stride);
    for r in 0..nr {
        for i in 0..n {
            let k = (first + i) % LANES;
            let w = p[r * p_stride + i];
            let base = r * acc_stride + k * hv;
            let dst = &mut acc[base + cols.start..base + cols.end];
            let src = &v[i * v_stride..i * v_stride + cols.len()];
            for (d, &s) in dst.iter_mut().zip(src) {
                *d += w * s;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_values(
    p: &[f32],
    p_stride: usize,
    nr: usize,
    n: usize,
    v: &[f32],
    v_stride: usize,
    hv: usize,
    cols: &Range<usize>,
    acc: &[f32],
    acc_stride: usize,
) {
    assert!(
        cols.start <= cols.end && cols.end <= hv,
        "columns {cols:?} outside 0..{hv}"
    );
    assert!(
        v_stride >= cols.len(),
        "value stride {v_stride} < {} columns",
        cols.len()
    );
    if n > 0 {
        assert!(v.len() >= (n - 1) * v_stride + cols.len(), "values too short");
    }
    if nr > 0 {
        assert!(
            acc_stride >= LANES * hv,
            "lane stride {acc_stride} < {LANES} × {hv}"
        );
        assert!(
            acc.len() >= (nr - 1) * acc_stride + LANES * hv,
            "lane sums too short"
        );
        if n > 0 {
            assert!(p.len() >= (nr - 1) * p_stride + n, "probabilities too short");
        }
    }
}

/// [`crate::ops::softmax_from`], 16 cells at a time on AVX-512, with the
/// same bits: the same `exp` polynomial with the same FMAs
/// (`_mm512_scalef_ps` scales by `2^n` with the single rounding the scalar
/// code gets in two exact steps), the same 16-cell groups summed by the
/// same pairwise tree into an f64 sum. For rows of scores (finite values,
/// or -inf for a masked cell), which is what a softmax gets.
pub fn softmax_from(x: &mut [f32], first: usize) {
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        // SAFETY: the CPU has AVX-512F, checked just above.
        return unsafe { x86::softmax_from(x, first) };
    }
    crate::ops::softmax_from(x, first);
}

/// Rounds every value to the nearest f16 (ties to even) and back, as
/// [`crate::ops::round_to_f16`] (`f16::from_f32(v).to_f32()`), 16 at a
/// time with `vcvtps2ph` / `vcvtph2ps` on AVX-512 (same results for every
/// value but NaN payloads).
pub fn round_to_f16(x: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        // SAFETY: the CPU has AVX-512F, checked just above.
        return unsafe { x86::round_to_f16(x) };
    }
    crate::ops::round_to_f16(x);
}

/// Widens f16 values into `out` (over the shorter length): the exact
/// conversion, 16 at a time with `vcvtph2ps` on AVX-512.
pub fn widen(src: &[half::f16], out: &mut [f32]) {
    let n = src.len().min(out.len());
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        // SAFETY: the CPU has AVX-512F (checked just above); both slices
        // hold `n` elements.
        return unsafe { x86::widen(&src[..n], &mut out[..n]) };
    }
    widen_scalar(&src[..n], &mut out[..n]);
}

/// The reference of [`widen`].
pub fn widen_scalar(src: &[half::f16], out: &mut [f32]) {
    for (d, s) in out.iter_mut().zip(src) {
        *d = s.to_f32();
    }
}

#[cfg(target_arch = "x86_64")]
mod x86;
