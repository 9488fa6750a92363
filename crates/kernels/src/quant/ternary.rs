//! Ternary formats TQ1_0 and TQ2_0 (BitNet b1.58): every weight is -1, 0 or
//! +1 times one f16 scale per 256 elements.

use gguf::QK_K;

use super::{blocks, f16_at};

/// TQ1_0: `qs[48]` and `qh[4]` pack five (four for qh) base-3 digits per byte as
/// a fixed-point fraction; digit `n` is recovered by multiplying by 3^n
/// (wrapping in u8, dropping the digits above) and taking the top "trit"
/// with `(q * 3) >> 8`. Then f16 `d`; `x = (t - 1) * d`.
pub fn dequantize_row_tq1_0(data: &[u8], out: &mut [f32]) {
    const POW3: [u8; 5] = [1, 3, 9, 27, 81];
    for (b, y) in blocks(data, 54, out, QK_K) {
        let d = f16_at(b, 52);
        let trit = |q: u8, n: usize| -> f32 {
            let q = q.wrapping_mul(POW3[n]);
            let xi = (u16::from(q) * 3) >> 8;
            (i32::from(xi) - 1) as f32 * d
        };
        let mut yi = 0;
        // qs[0..32] carries 5 x 32 elements, qs[32..48] 5 x 16, qh 4 x 4.
        for (bytes, digits) in [(&b[0..32], 5), (&b[32..48], 5), (&b[48..52], 4)] {
            for n in 0..digits {
                for &q in bytes {
                    y[yi] = trit(q, n);
                    yi += 1;
                }
            }
        }
    }
}

/// TQ2_0: `qs[64]` with four 2-bit codes per byte (0, 1, 2 mean -1, 0, +1),
/// then f16 `d`; `x = (q - 1) * d`.
pub fn dequantize_row_tq2_0(data: &[u8], out: &mut [f32]) {
    for (b, y) in blocks(data, 66, out, QK_K) {
        let d = f16_at(b, 64);
        let mut yi = 0;
        for q32 in b[0..64].chunks_exact(32) {
            for shift in [0, 2, 4, 6] {
                for &q in q32 {
                    let c = i32::from((q >> shift) & 3);
                    y[yi] = (c - 1) as f32 * d;
                    yi += 1;
                }
            }
        }
    }
}
