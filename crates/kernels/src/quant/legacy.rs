//! The original 32-element block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0.
//!
//! Nibble-packed formats store element `j` in the low nibble of byte `j` and
//! element `j + 16` in the high nibble, so a block's first half and second
//! half come from the same bytes.

use super::{blocks, f16_at};

const QK: usize = 32;

/// Q4_0: f16 `d`, 16 bytes of 4-bit quants; `x = (q - 8) * d`.
pub fn dequantize_row_q4_0(data: &[u8], out: &mut [f32]) {
    for (b, y) in blocks(data, 18, out, QK) {
        let d = f16_at(b, 0);
        let qs = &b[2..18];
        for j in 0..QK / 2 {
            let x0 = i32::from(qs[j] & 0x0F) - 8;
            let x1 = i32::from(qs[j] >> 4) - 8;
            y[j] = x0 as f32 * d;
            y[j + QK / 2] = x1 as f32 * d;
        }
    }
}

/// Q4_1: f16 `d`, f16 min `m`, 4-bit quants; `x = q * d + m`.
pub fn dequantize_row_q4_1(data: &[u8], out: &mut [f32]) {
    for (b, y) in blocks(data, 20, out, QK) {
        let d = f16_at(b, 0);
        let m = f16_at(b, 2);
        let qs = &b[4..20];
        for j in 0..QK / 2 {
            let x0 = f32::from(qs[j] & 0x0F);
            let x1 = f32::from(qs[j] >> 4);
            y[j] = x0 * d + m;
            y[j + QK / 2] = x1 * d + m;
        }
    }
}

/// The fifth bit of element `j` is bit `j` of the little-endian u32 `qh`.
#[inline]
fn high_bits(qh: u32, j: usize) -> (u8, u8) {
    let h0 = ((qh >> j) << 4) & 0x10;
    let h1 = (qh >> (j + 12)) & 0x10;
    (h0 as u8, h1 as u8)
}

/// Q5_0: f16 `d`, u32 high bits, 4-bit low quants; `x = (q - 16) * d`.
pub fn dequantize_row_q5_0(data: &[u8], out: &mut [f32]) {
    for (b, y) in blocks(data, 22, out, QK) {
        let d = f16_at(b, 0);
        let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
        let qs = &b[6..22];
        for j in 0..QK / 2 {
            let (h0, h1) = high_bits(qh, j);
            let x0 = i32::from((qs[j] & 0x0F) | h0) - 16;
            let x1 = i32::from((qs[j] >> 4) | h1) - 16;
            y[j] = x0 as f32 * d;
            y[j + QK / 2] = x1 as f32 * d;
        }
    }
}

/// Q5_1: f16 `d`, f16 min `m`, u32 high bits, low quants; `x = q * d + m`.
pub fn dequantize_row_q5_1(data: &[u8], out: &mut [f32]) {
    for (b, y) in blocks(data, 24, out, QK) {
        let d = f16_at(b, 0);
        let m = f16_at(b, 2);
        let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        let qs = &b[8..24];
        for j in 0..QK / 2 {
            let (h0, h1) = high_bits(qh, j);
            let x0 = f32::from((qs[j] & 0x0F) | h0);
            let x1 = f32::from((qs[j] >> 4) | h1);
            y[j] = x0 * d + m;
            y[j + QK / 2] = x1 * d + m;
        }
    }
}

/// Q8_0: f16 `d`, 32 signed bytes; `x = q * d`.
pub fn dequantize_row_q8_0(data: &[u8], out: &mut [f32]) {
    for (b, y) in blocks(data, 34, out, QK) {
        let d = f16_at(b, 0);
        for (yj, &q) in y.iter_mut().zip(&b[2..34]) {
            *yj = f32::from(q as i8) * d;
        }
    }
}
