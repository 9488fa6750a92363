//! K-quants: 256-element super-blocks split into 16- or 32-element
//! sub-blocks, each with its own small integer scale (and for the
//! "affine" types also a min) that multiplies one f16 super-block scale.
//!
//! Element order follows ggml's loops exactly: quants for consecutive
//! sub-blocks are interleaved across the bit planes of the same bytes, so the
//! loops below walk bytes and shifts in the same nesting as
//! `dequantize_row_q*_K`.

use gguf::QK_K;

use super::{blocks, f16_at};

/// Q2_K: `scales[16]` (low nibble scale, high nibble min), `qs[64]` (2 bits),
/// f16 `d`, f16 `dmin`; `x = d * sc * q - dmin * m`.
pub fn dequantize_row_q2_k(data: &[u8], out: &mut [f32]) {
    for (b, y) in blocks(data, 84, out, QK_K) {
        let scales = &b[0..16];
        let d = f16_at(b, 80);
        let min = f16_at(b, 82);
        let mut is = 0;
        let mut yi = 0;
        for q in b[16..80].chunks_exact(32) {
            for shift in [0, 2, 4, 6] {
                for half in q.chunks_exact(16) {
                    let sc = scales[is];
                    is += 1;
                    let dl = d * f32::from(sc & 0x0F);
                    let ml = min * f32::from(sc >> 4);
                    for &ql in half {
                        y[yi] = dl * f32::from((ql >> shift) & 3) - ml;
                        yi += 1;
                    }
                }
            }
        }
    }
}

/// Unpacks Q3_K's twelve bytes into sixteen 6-bit scales (biased by 32):
/// low nibbles come from bytes 0..8, the top two bits from bytes 8..12.
fn q3_k_scales(sc: &[u8]) -> [i32; 16] {
    let mut s = [0i32; 16];
    for (i, si) in s.iter_mut().enumerate() {
        let low = if i < 8 { sc[i] & 0x0F } else { sc[i - 8] >> 4 };
        let high = (sc[8 + i % 4] >> (2 * (i / 4))) & 3;
        *si = i32::from(low | (high << 4)) - 32;
    }
    s
}

/// Q3_K: `hmask[32]` (third bit, *set* means no -4 offset), `qs[64]` (low two
/// bits), `scales[12]` (6-bit, packed), f16 `d`; `x = d * (sc - 32) * q`.
pub fn dequantize_row_q3_k(data: &[u8], out: &mut [f32]) {
    for (b, y) in blocks(data, 110, out, QK_K) {
        let hm = &b[0..32];
        let scales = q3_k_scales(&b[96..108]);
        let d_all = f16_at(b, 108);
        let mut is = 0;
        let mut yi = 0;
        let mut m = 1u8;
        for q in b[32..96].chunks_exact(32) {
            for shift in [0, 2, 4, 6] {
                for (q16, h16) in q.chunks_exact(16).zip(hm.chunks_exact(16)) {
                    let dl = d_all * scales[is] as f32;
                    is += 1;
                    for (&ql, &h) in q16.iter().zip(h16) {
                        let low = i32::from((ql >> shift) & 3);
                        let offset = if h & m != 0 { 0 } else { 4 };
                        y[yi] = dl * (low - offset) as f32;
                        yi += 1;
                    }
                }
                m = m.wrapping_shl(1);
            }
        }
    }
}

/// Scale and min of sub-block `j` (0..8) from the 12 packed bytes shared by
/// Q4_K and Q5_K: 6 bits each; sub-blocks 4..8 borrow their top two bits
/// from the top of bytes 0..8. Mirrors ggml's `get_scale_min_k4`.
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        let d = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
        let m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        (d, m)
    }
}

/// Q4_K: f16 `d`, f16 `dmin`, `scales[12]`, `qs[128]`; eight 32-element
/// sub-blocks, pairs sharing bytes (low nibble, then high nibble);
/// `x = d * sc * q - dmin * m`.
pub fn dequantize_row_q4_k(data: &[u8], out: &mut [f32]) {
    for (b, y) in blocks(data, 144, out, QK_K) {
        let d = f16_at(b, 0);
        let min = f16_at(b, 2);
        let scales = &b[4..16];
        for (j, (q, y64)) in b[16..144]
            .chunks_exact(32)
            .zip(y.chunks_exact_mut(64))
            .enumerate()
        {
            let (sc1, m1) = scale_min_k4(2 * j, scales);
            let (sc2, m2) = scale_min_k4(2 * j + 1, scales);
            let (d1, m1) = (d * f32::from(sc1), min * f32::from(m1));
            let (d2, m2) = (d * f32::from(sc2), min * f32::from(m2));
            let (lo, hi) = y64.split_at_mut(32);
            for l in 0..32 {
                lo[l] = d1 * f32::from(q[l] & 0x0F) - m1;
                hi[l] = d2 * f32::from(q[l] >> 4) - m2;
            }
        }
    }
}

/// Q5_K: Q4_K plus `qh[32]` holding each element's fifth bit; sub-block pair
/// `j` reads bits `2j` and `2j + 1` of `qh`.
pub fn dequantize_row_q5_k(data: &[u8], out: &mut [f32]) {
    for (b, y) in blocks(data, 176, out, QK_K) {
        let d = f16_at(b, 0);
        let min = f16_at(b, 2);
        let scales = &b[4..16];
        let qh = &b[16..48];
        for (j, (ql, y64)) in b[48..176]
            .chunks_exact(32)
            .zip(y.chunks_exact_mut(64))
            .enumerate()
        {
            let (sc1, m1) = scale_min_k4(2 * j, scales);
            let (sc2, m2) = scale_min_k4(2 * j + 1, scales);
            let (d1, m1) = (d * f32::from(sc1), min * f32::from(m1));
            let (d2, m2) = (d * f32::from(sc2), min * f32::from(m2));
            let u1 = 1u8 << (2 * j);
            let u2 = 2u8 << (2 * j);
            let (lo, hi) = y64.split_at_mut(32);
            for l in 0..32 {
                let h1 = if qh[l] & u1 != 0 { 16 } else { 0 };
                let h2 = if qh[l] & u2 != 0 { 16 } else { 0 };
                lo[l] = d1 * f32::from((ql[l] & 0x0F) + h1) - m1;
                hi[l] = d2 * f32::from((ql[l] >> 4) + h2) - m2;
            }
        }
    }
}

/// Q6_K: `ql[128]` (low 4 bits), `qh[64]` (high 2 bits), `scales[16]` (i8),
/// f16 `d`; `x = d * sc * (q - 32)`, sixteen 16-element sub-blocks.
pub fn dequantize_row_q6_k(data: &[u8], out: &mut [f32]) {
    for (b, y) in blocks(data, 210, out, QK_K) {
        let d = f16_at(b, 208);
        let sc_all = &b[192..208];
        for (n, y128) in y.chunks_exact_mut(128).enumerate() {
            let ql = &b[n * 64..n * 64 + 64];
            let qh = &b[128 + n * 32..128 + n * 32 + 32];
            let sc = &sc_all[n * 8..n * 8 + 8];
            for l in 0..32 {
                let is = l / 16;
                let h = qh[l];
                let q1 = i32::from((ql[l] & 0x0F) | ((h & 3) << 4)) - 32;
                let q2 = i32::from((ql[l + 32] & 0x0F) | (((h >> 2) & 3) << 4)) - 32;
                let q3 = i32::from((ql[l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
                let q4 = i32::from((ql[l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
                let s = |k: usize| f32::from(sc[is + k] as i8);
                y128[l] = d * s(0) * q1 as f32;
                y128[l + 32] = d * s(2) * q2 as f32;
                y128[l + 64] = d * s(4) * q3 as f32;
                y128[l + 96] = d * s(6) * q4 as f32;
            }
        }
    }
}

/// Q8_K: f32 `d`, `qs[256]` (i8), `bsums[16]` (i16, only used by dot products);
/// `x = d * q`. ggml's intermediate format for K-quant dot products.
pub fn dequantize_row_q8_k(data: &[u8], out: &mut [f32]) {
    for (b, y) in blocks(data, 292, out, QK_K) {
        let d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        for (yj, &q) in y.iter_mut().zip(&b[4..260]) {
            *yj = d * f32::from(q as i8);
        }
    }
}
