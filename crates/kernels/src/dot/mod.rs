//! Dot products between one weight row in its GGUF block layout and one
//! activation row already converted to the weight type's "vec dot type".
//!
//! This mirrors ggml's CPU design (`type_traits_cpu`): each weight type names
//! the format its partner activations are quantized to (Q8_0 for the
//! 32-element formats, Q8_K for K-quants, F16 for F16, F32 for F32), and the
//! dot product works block by block in integers, applying the two scales
//! once per block. Doing the same arithmetic as llama.cpp is what makes
//! greedy output identical. These are the scalar references; SIMD versions
//! will be checked against them.

// The block loops index several arrays with one counter, as ggml's C does;
// iterator chains would hide the correspondence with ggml's code.
#![allow(clippy::needless_range_loop)]

mod quantize;

use gguf::{GgmlType, QK_K};

pub use quantize::{
    quantize_row_q8_0, quantize_row_q8_0_ref, quantize_row_q8_k, Q8_0_BYTES, Q8_K_BYTES, QK8_0,
};

/// The format activations are converted to before a dot with some weight type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VecDotType {
    /// Plain little-endian f32.
    F32,
    /// Little-endian IEEE half (ggml rounds activations to f16 for F16 weights).
    F16,
    /// 32-element blocks with an f16 scale.
    Q8_0,
    /// 256-element blocks with an f32 scale and 16-element sums.
    Q8K,
}

impl VecDotType {
    /// Elements per block of this activation format.
    pub fn block_size(self) -> usize {
        match self {
            VecDotType::F32 | VecDotType::F16 => 1,
            VecDotType::Q8_0 => QK8_0,
            VecDotType::Q8K => QK_K,
        }
    }

    /// Bytes per block.
    pub fn type_size(self) -> usize {
        match self {
            VecDotType::F32 => 4,
            VecDotType::F16 => 2,
            VecDotType::Q8_0 => Q8_0_BYTES,
            VecDotType::Q8K => Q8_K_BYTES,
        }
    }

    /// Bytes for a row of `n` elements (`n` a multiple of the block size).
    pub fn row_bytes(self, n: usize) -> usize {
        n / self.block_size() * self.type_size()
    }

    /// Converts `x` into this format in `out` (exactly `row_bytes(x.len())`).
    pub fn convert_row(self, x: &[f32], out: &mut [u8]) {
        match self {
            VecDotType::F32 => {
                for (o, v) in out.chunks_exact_mut(4).zip(x) {
                    o.copy_from_slice(&v.to_le_bytes());
                }
            }
            VecDotType::F16 => {
                for (o, v) in out.chunks_exact_mut(2).zip(x) {
                    o.copy_from_slice(&half::f16::from_f32(*v).to_le_bytes());
                }
            }
            VecDotType::Q8_0 => {
                crate::simd::quantize_row_q8_0(x, out);
            }
            VecDotType::Q8K => {
                crate::simd::quantize_row_q8_k(x, out);
            }
        }
    }
}

/// `weight row · activation row`; both are whole blocks of their formats.
pub type VecDotFn = fn(&[u8], &[u8]) -> f32;

/// A block of a matmul: `out[j * rm + i] = w_i · x_j` for the `rm` weight
/// rows starting at `w` (`row_bytes` apart) and the `rn` activation rows
/// starting at `x` (`act_row` apart), each pair bit-identical to the
/// [`VecDotFn`] of the same level. Arguments: `w, row_bytes, rm, x,
/// act_row, rn, out`. Shapes `(4, 1..=4)` are the fast ones of a tile; a panel
/// ([`crate::simd::panel_for`]) is fast for any shape.
pub type TileFn = fn(&[u8], usize, usize, &[u8], usize, usize, &mut [f32]);

/// The integer dot product for weight type `ty`, with the activation format
/// it expects, or `None` when only the dequantize-then-dot fallback exists.
pub fn vec_dot_for(ty: GgmlType) -> Option<(VecDotType, VecDotFn)> {
    crate::simd::vec_dot_for(ty).or_else(|| vec_dot_for_scalar(ty))
}

/// The portable kernels, compiled for the baseline target.
pub fn vec_dot_for_scalar(ty: GgmlType) -> Option<(VecDotType, VecDotFn)> {
    let pair: (VecDotType, VecDotFn) = match ty {
        GgmlType::F32 => (VecDotType::F32, vec_dot_f32),
        GgmlType::F16 => (VecDotType::F16, vec_dot_f16),
        GgmlType::Q4_0 => (VecDotType::Q8_0, vec_dot_q4_0_q8_0),
        GgmlType::Q5_0 => (VecDotType::Q8_0, vec_dot_q5_0_q8_0),
        GgmlType::Q8_0 => (VecDotType::Q8_0, vec_dot_q8_0_q8_0),
        GgmlType::Q4K => (VecDotType::Q8K, vec_dot_q4_k_q8_k),
        GgmlType::Q5K => (VecDotType::Q8K, vec_dot_q5_k_q8_k),
        GgmlType::Q6K => (VecDotType::Q8K, vec_dot_q6_k_q8_k),
        _ => return None,
    };
    Some(pair)
}

#[inline(always)]
fn f16_at(b: &[u8], i: usize) -> f32 {
    half::f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

#[inline(always)]
fn f32_at(b: &[u8], i: usize) -> f32 {
    f32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// The one integer primitive every quantized kernel is built on: the dot
/// product of 32 signed bytes with 32 signed bytes, exact in i32. Kernels
/// are generic over it so that the same block logic runs with the portable
/// loop ([`Scalar`]); the SIMD kernels live in [`crate::simd`].
pub trait Dot32 {
    fn dot32(a: &[u8; 32], b: &[u8; 32]) -> i32;

    /// The same products summed in eight lanes of four consecutive bytes
    /// (lane `k` holds bytes `4k..4k + 4`), the layout of ggml's AVX2
    /// `mul_sum_i8_pairs_float`, so kernels can accumulate in floats in
    /// ggml's order.
    fn lanes(a: &[u8; 32], b: &[u8; 32]) -> [i32; 8] {
        let mut l = [0i32; 8];
        for (k, lane) in l.iter_mut().enumerate() {
            for i in 4 * k..4 * k + 4 {
                *lane += i32::from(a[i] as i8) * i32::from(b[i] as i8);
            }
        }
        l
    }
}

/// `acc[k] += d * lane[k]` with one rounding (FMA), as ggml's
/// `_mm256_fmadd_ps(d, q, acc)`.
#[inline(always)]
fn fma_lanes(acc: &mut [f32; 8], d: f32, lanes: [i32; 8]) {
    for k in 0..8 {
        acc[k] = d.mul_add(lanes[k] as f32, acc[k]);
    }
}

/// ggml's `hsum_float_8`: high half onto low half, then pairs.
#[inline(always)]
fn hsum8(a: [f32; 8]) -> f32 {
    let r = [a[4] + a[0], a[5] + a[1], a[6] + a[2], a[7] + a[3]];
    (r[0] + r[2]) + (r[1] + r[3])
}

/// The portable [`Dot32`].
#[derive(Debug, Clone, Copy)]
pub struct Scalar;

impl Dot32 for Scalar {
    #[inline(always)]
    fn dot32(a: &[u8; 32], b: &[u8; 32]) -> i32 {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| i32::from(x as i8) * i32::from(y as i8))
            .sum()
    }
}

/// Copies 32 bytes of `s` starting at `at` (callers pass in-block offsets).
#[inline(always)]
fn arr32(s: &[u8], at: usize) -> [u8; 32] {
    let mut a = [0u8; 32];
    a.copy_from_slice(&s[at..at + 32]);
    a
}

/// F32 weights: a plain float dot with eight partial sums (ggml's SIMD
/// kernels also keep several accumulators).
#[inline(always)]
pub fn vec_dot_f32(w: &[u8], x: &[u8]) -> f32 {
    let mut acc = [0.0f32; 8];
    let wc = w.chunks_exact(32);
    let xc = x.chunks_exact(32);
    let (wr, xr) = (wc.remainder(), xc.remainder());
    for (wb, xb) in wc.zip(xc) {
        for k in 0..8 {
            acc[k] += f32_at(wb, 4 * k) * f32_at(xb, 4 * k);
        }
    }
    let mut tail = 0.0f32;
    for (a, b) in wr.chunks_exact(4).zip(xr.chunks_exact(4)) {
        tail += f32_at(a, 0) * f32_at(b, 0);
    }
    acc.iter().sum::<f32>() + tail
}

/// F16 weights against f16-rounded activations, accumulated in f32.
#[inline(always)]
pub fn vec_dot_f16(w: &[u8], x: &[u8]) -> f32 {
    let mut acc = [0.0f32; 8];
    let wc = w.chunks_exact(16);
    let xc = x.chunks_exact(16);
    let (wr, xr) = (wc.remainder(), xc.remainder());
    for (wb, xb) in wc.zip(xc) {
        for k in 0..8 {
            acc[k] += f16_at(wb, 2 * k) * f16_at(xb, 2 * k);
        }
    }
    let mut tail = 0.0f32;
    for (a, b) in wr.chunks_exact(2).zip(xr.chunks_exact(2)) {
        tail += f16_at(a, 0) * f16_at(b, 0);
    }
    acc.iter().sum::<f32>() + tail
}

/// Q8_0 · Q8_0 (`ggml_vec_dot_q8_0_q8_0`): per block `Σ q_w q_x * d_w d_x`.
/// The integer products go into eight lanes and are added to eight float
/// lanes with FMA, then summed as `hsum_float_8` does: ggml's AVX2 order, so
/// the float result is bit-identical to llama.cpp's, not just close (on
/// Gemma 3 this doubled the prompts whose 32 greedy ids match exactly).
#[inline(always)]
pub fn q8_0_q8_0<D: Dot32>(w: &[u8], x: &[u8]) -> f32 {
    let mut acc = [0.0f32; 8];
    for (wb, xb) in w.chunks_exact(Q8_0_BYTES).zip(x.chunks_exact(Q8_0_BYTES)) {
        let lanes = D::lanes(&arr32(wb, 2), &arr32(xb, 2));
        fma_lanes(&mut acc, f16_at(wb, 0) * f16_at(xb, 0), lanes);
    }
    hsum8(acc)
}

/// Q4_0 · Q8_0: nibbles biased by 8; low nibbles are elements 0..16.
/// Float lanes in ggml's AVX2 order, as [`q8_0_q8_0`].
#[inline(always)]
pub fn q4_0_q8_0<D: Dot32>(w: &[u8], x: &[u8]) -> f32 {
    let mut acc = [0.0f32; 8];
    for (wb, xb) in w.chunks_exact(18).zip(x.chunks_exact(Q8_0_BYTES)) {
        let mut qs = [0u8; 16];
        qs.copy_from_slice(&wb[2..18]);
        let mut a = [0u8; 32];
        for j in 0..16 {
            a[j] = (qs[j] & 0x0F).wrapping_sub(8);
            a[j + 16] = (qs[j] >> 4).wrapping_sub(8);
        }
        let lanes = D::lanes(&a, &arr32(xb, 2));
        fma_lanes(&mut acc, f16_at(wb, 0) * f16_at(xb, 0), lanes);
    }
    hsum8(acc)
}

/// Byte `b` spread into eight bytes, byte `i` being `0x10` when bit `i` of
/// `b` is set: turns Q5_0's packed fifth bits into per-element values with
/// one lookup per eight elements instead of a shift per element.
const SPREAD_BITS: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let mut v = 0u64;
        let mut i = 0;
        while i < 8 {
            if b & (1 << i) != 0 {
                v |= 0x10 << (8 * i);
            }
            i += 1;
        }
        t[b] = v;
        b += 1;
    }
    t
};

/// Q5_0 · Q8_0 (`ggml_vec_dot_q5_0_q8_0`): the fifth bit of element `j` is
/// bit `j` of the little-endian `qh`, values biased by 16. Float lanes in
/// ggml's AVX2 order, as [`q8_0_q8_0`].
#[inline(always)]
pub fn q5_0_q8_0<D: Dot32>(w: &[u8], x: &[u8]) -> f32 {
    let mut acc = [0.0f32; 8];
    for (wb, xb) in w.chunks_exact(22).zip(x.chunks_exact(Q8_0_BYTES)) {
        let mut a = [0u8; 32];
        for (k, h) in a.chunks_exact_mut(8).enumerate() {
            h.copy_from_slice(&SPREAD_BITS[usize::from(wb[2 + k])].to_le_bytes());
        }
        let mut qs = [0u8; 16];
        qs.copy_from_slice(&wb[6..22]);
        for j in 0..16 {
            a[j] = ((qs[j] & 0x0F) | a[j]).wrapping_sub(16);
            a[j + 16] = ((qs[j] >> 4) | a[j + 16]).wrapping_sub(16);
        }
        let lanes = D::lanes(&a, &arr32(xb, 2));
        fma_lanes(&mut acc, f16_at(wb, 0) * f16_at(xb, 0), lanes);
    }
    hsum8(acc)
}

/// Scale and min of sub-block `j` of Q4_K/Q5_K (ggml's `get_scale_min_k4`).
#[inline(always)]
fn scale_min_k4(j: usize, q: &[u8]) -> (i32, i32) {
    let (d, m) = if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    };
    (i32::from(d), i32::from(m))
}

/// The 16 block sums of a Q8_K block (`bsums`).
#[inline(always)]
fn q8k_bsums(b: &[u8]) -> [i32; 16] {
    let mut bsums = [0i32; 16];
    for (j, s) in bsums.iter_mut().enumerate() {
        let o = 4 + QK_K + 2 * j;
        *s = i32::from(i16::from_le_bytes([b[o], b[o + 1]]));
    }
    bsums
}

/// Q4_K · Q8_K as llama.cpp computes it on x86, where Q4_K weights are
/// repacked (`q4_K_8x8`): per super-block the exact integers
/// `Σ sc_j (q4·q8)_j` and `Σ m_j bsum_j`, each folded into its own float
/// accumulator with one FMA (`acc += isum · (d_w·d_x)`, `acc_m += imin ·
/// (dmin_w·d_x)`), `acc - acc_m` at the end: its gemv, used for a single
/// token and for the last `n % 4` rows of a batch.
#[inline(always)]
pub fn q4_k_q8_k<D: Dot32>(w: &[u8], x: &[u8]) -> f32 {
    q4_k_repacked::<D, false>(w, x)
}

/// [`q4_k_q8_k`] as llama.cpp's repacked gemm computes it for the rows it
/// takes four at a time (the first `n - n % 4` of a batch of `n`): the
/// same FMAs, once per 64 elements (two sub-blocks) instead of per 256.
#[inline(always)]
pub fn q4_k_q8_k_gemm<D: Dot32>(w: &[u8], x: &[u8]) -> f32 {
    q4_k_repacked::<D, true>(w, x)
}

#[inline(always)]
fn q4_k_repacked<D: Dot32, const GEMM: bool>(w: &[u8], x: &[u8]) -> f32 {
    let (mut acc, mut acc_m) = (0.0f32, 0.0f32);
    for (wb, xb) in w.chunks_exact(144).zip(x.chunks_exact(Q8_K_BYTES)) {
        let bsums = q8k_bsums(xb);
        let scales = &wb[4..16];
        let yd = f32_at(xb, 0);
        let d = f16_at(wb, 0) * yd;
        let dmin = f16_at(wb, 2) * yd;
        let mut isum = 0i32;
        let mut msum = 0i32;
        for j in 0..QK_K / 64 {
            let q = &wb[16 + 32 * j..16 + 32 * j + 32];
            let mut lo = [0u8; 32];
            let mut hi = [0u8; 32];
            for l in 0..32 {
                lo[l] = q[l] & 0x0F;
                hi[l] = q[l] >> 4;
            }
            let (sc1, m1) = scale_min_k4(2 * j, scales);
            let (sc2, m2) = scale_min_k4(2 * j + 1, scales);
            isum += sc1 * D::dot32(&lo, &arr32(xb, 4 + 64 * j));
            isum += sc2 * D::dot32(&hi, &arr32(xb, 4 + 64 * j + 32));
            msum += m1 * (bsums[4 * j] + bsums[4 * j + 1]);
            msum += m2 * (bsums[4 * j + 2] + bsums[4 * j + 3]);
            if GEMM {
                acc = (isum as f32).mul_add(d, acc);
                acc_m = (msum as f32).mul_add(dmin, acc_m);
                isum = 0;
                msum = 0;
            }
        }
        if !GEMM {
            acc = (isum as f32).mul_add(d, acc);
            acc_m = (msum as f32).mul_add(dmin, acc_m);
        }
    }
    acc - acc_m
}

/// Q5_K · Q8_K: Q4_K with a fifth bit per element from `qh`.
#[inline(always)]
pub fn q5_k_q8_k<D: Dot32>(w: &[u8], x: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (wb, xb) in w.chunks_exact(176).zip(x.chunks_exact(Q8_K_BYTES)) {
        let bsums = q8k_bsums(xb);
        let scales = &wb[4..16];
        let qh = &wb[16..48];
        let mut isum = 0i32;
        let mut msum = 0i32;
        for j in 0..QK_K / 64 {
            let q = &wb[48 + 32 * j..48 + 32 * j + 32];
            let (u1, u2) = (1u8 << (2 * j), 2u8 << (2 * j));
            let mut lo = [0u8; 32];
            let mut hi = [0u8; 32];
            for l in 0..32 {
                lo[l] = (q[l] & 0x0F) + if qh[l] & u1 != 0 { 16 } else { 0 };
                hi[l] = (q[l] >> 4) + if qh[l] & u2 != 0 { 16 } else { 0 };
            }
            let (sc1, m1) = scale_min_k4(2 * j, scales);
            let (sc2, m2) = scale_min_k4(2 * j + 1, scales);
            isum += sc1 * D::dot32(&lo, &arr32(xb, 4 + 64 * j));
            isum += sc2 * D::dot32(&hi, &arr32(xb, 4 + 64 * j + 32));
            msum += m1 * (bsums[4 * j] + bsums[4 * j + 1]);
            msum += m2 * (bsums[4 * j + 2] + bsums[4 * j + 3]);
        }
        let yd = f32_at(xb, 0);
        let d = f16_at(wb, 0) * yd;
        let dmin = f16_at(wb, 2) * yd;
        sumf += d * isum as f32 - dmin * msum as f32;
    }
    sumf
}

/// Q6_K · Q8_K (`ggml_vec_dot_q6_K_q8_K`): sixteen 16-element sub-blocks
/// with i8 scales, `d_w * d_x * Σ sc_j (q6 - 32)·q8` per super-block. (Summing
/// the floats in ggml's AVX2 lane order instead was measured to agree with
/// llama.cpp less often on Gemma 3, so the plain order stays.)
#[inline(always)]
pub fn q6_k_q8_k<D: Dot32>(w: &[u8], x: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (wb, xb) in w.chunks_exact(210).zip(x.chunks_exact(Q8_K_BYTES)) {
        let mut a = [0u8; QK_K];
        for n in 0..2 {
            let ql = &wb[64 * n..64 * n + 64];
            let qh = &wb[128 + 32 * n..128 + 32 * n + 32];
            let out = &mut a[128 * n..128 * n + 128];
            for l in 0..32 {
                let h = qh[l];
                out[l] = ((ql[l] & 0x0F) | ((h & 3) << 4)).wrapping_sub(32);
                out[l + 32] = ((ql[l + 32] & 0x0F) | (((h >> 2) & 3) << 4)).wrapping_sub(32);
                out[l + 64] = ((ql[l] >> 4) | (((h >> 4) & 3) << 4)).wrapping_sub(32);
                out[l + 96] = ((ql[l + 32] >> 4) | (((h >> 6) & 3) << 4)).wrapping_sub(32);
            }
        }
        let scales = &wb[192..208];
        let mut lanes = [0i32; 8];
        for v in 0..8 {
            let l = D::lanes(&arr32(&a, 32 * v), &arr32(xb, 4 + 32 * v));
            let (s0, s1) = (i32::from(scales[2 * v] as i8), i32::from(scales[2 * v + 1] as i8));
            for m in 0..8 {
                lanes[m] += if m < 4 { s0 } else { s1 } * l[m];
            }
        }
        let isum: i32 = lanes.iter().sum();
        sumf += f16_at(wb, 208) * f32_at(xb, 0) * isum as f32;
    }
    sumf
}

/// Q6_K · Q8_K as llama.cpp's tiled K-quant matmul computes it (x86,
/// batches of 8 rows or more): per super-block the exact integer
/// `Σ_s sc_s Σ (q6 − 32)·q8`, converted, times `d_w`, then
/// `acc += · d_x` with one FMA.
#[inline(always)]
pub fn q6_k_q8_k_tiled<D: Dot32>(w: &[u8], x: &[u8]) -> f32 {
    let mut acc = 0.0f32;
    for (wb, xb) in w.chunks_exact(210).zip(x.chunks_exact(Q8_K_BYTES)) {
        let mut a = [0u8; QK_K];
        for n in 0..2 {
            let ql = &wb[64 * n..64 * n + 64];
            let qh = &wb[128 + 32 * n..128 + 32 * n + 32];
            let out = &mut a[128 * n..128 * n + 128];
            for l in 0..32 {
                let h = qh[l];
                out[l] = ((ql[l] & 0x0F) | ((h & 3) << 4)).wrapping_sub(32);
                out[l + 32] = ((ql[l + 32] & 0x0F) | (((h >> 2) & 3) << 4)).wrapping_sub(32);
                out[l + 64] = ((ql[l] >> 4) | (((h >> 4) & 3) << 4)).wrapping_sub(32);
                out[l + 96] = ((ql[l + 32] >> 4) | (((h >> 6) & 3) << 4)).wrapping_sub(32);
            }
        }
        let scales = &wb[192..208];
        let mut isum = 0i32;
        for v in 0..8 {
            let l = D::lanes(&arr32(&a, 32 * v), &arr32(xb, 4 + 32 * v));
            let (s0, s1) = (i32::from(scales[2 * v] as i8), i32::from(scales[2 * v + 1] as i8));
            isum += s0 * (l[0] + l[1] + l[2] + l[3]) + s1 * (l[4] + l[5] + l[6] + l[7]);
        }
        acc = (isum as f32 * f16_at(wb, 208)).mul_add(f32_at(xb, 0), acc);
    }
    acc
}

/// Which of llama.cpp's CPU code paths a dot product follows. They differ
/// only in float rounding, but llama.cpp picks one by batch size (see
/// [`crate::matmul`]), and following it is what makes results
/// bit-identical to llama.cpp's rather than merely close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DotPath {
    /// `vec_dot`, or for Q4_K the repacked gemv: single tokens.
    Vec,
    /// Q4_K's repacked gemm: the first `n - n % 4` rows of a batch of `n`.
    Gemm4,
    /// The tiled K-quant matmul (Q6_K): batches of 8 rows or more.
    Tiled,
}

/// The kernel for `ty` on `path`, the fastest the CPU has; `None` where
/// `path` is not one llama.cpp takes for `ty` (or no kernel exists).
pub fn vec_dot_path_for(ty: GgmlType, path: DotPath) -> Option<VecDotFn> {
    match path {
        DotPath::Vec => vec_dot_for(ty).map(|(_, f)| f),
        _ => crate::simd::vec_dot_path_for(ty, path).or_else(|| vec_dot_path_for_scalar(ty, path)),
    }
}

/// The portable kernel for `ty` on `path`.
pub fn vec_dot_path_for_scalar(ty: GgmlType, path: DotPath) -> Option<VecDotFn> {
    match (ty, path) {
        (_, DotPath::Vec) => vec_dot_for_scalar(ty).map(|(_, f)| f),
        (GgmlType::Q4K, DotPath::Gemm4) => Some(vec_dot_q4_k_q8_k_gemm),
        (GgmlType::Q6K, DotPath::Tiled) => Some(vec_dot_q6_k_q8_k_tiled),
        _ => None,
    }
}

/// [`q4_k_q8_k_gemm`] with the portable inner loop.
pub fn vec_dot_q4_k_q8_k_gemm(w: &[u8], x: &[u8]) -> f32 {
    q4_k_q8_k_gemm::<Scalar>(w, x)
}

/// [`q6_k_q8_k_tiled`] with the portable inner loop.
pub fn vec_dot_q6_k_q8_k_tiled(w: &[u8], x: &[u8]) -> f32 {
    q6_k_q8_k_tiled::<Scalar>(w, x)
}

/// Q8_0 · Q8_0 with the portable inner loop.
pub fn vec_dot_q8_0_q8_0(w: &[u8], x: &[u8]) -> f32 {
    q8_0_q8_0::<Scalar>(w, x)
}

/// Q4_0 · Q8_0 with the portable inner loop.
pub fn vec_dot_q4_0_q8_0(w: &[u8], x: &[u8]) -> f32 {
    q4_0_q8_0::<Scalar>(w, x)
}

/// Q5_0 · Q8_0 with the portable inner loop.
pub fn vec_dot_q5_0_q8_0(w: &[u8], x: &[u8]) -> f32 {
    q5_0_q8_0::<Scalar>(w, x)
}

/// Q4_K · Q8_K with the portable inner loop.
pub fn vec_dot_q4_k_q8_k(w: &[u8], x: &[u8]) -> f32 {
    q4_k_q8_k::<Scalar>(w, x)
}

/// Q5_K · Q8_K with the portable inner loop.
pub fn vec_dot_q5_k_q8_k(w: &[u8], x: &[u8]) -> f32 {
    q5_k_q8_k::<Scalar>(w, x)
}

/// Q6_K · Q8_K with the portable inner loop.
pub fn vec_dot_q6_k_q8_k(w: &[u8], x: &[u8]) -> f32 {
    q6_k_q8_k::<Scalar>(w, x)
}

#[cfg(test)]
mod tests;
