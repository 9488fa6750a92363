//! IQ4_NL and IQ4_XS: 4-bit indices into a fixed non-linear codebook.
//!
//! The codebook is denser near zero, which fits the bell-shaped weight
//! distributions better than the uniform grid of Q4_0 at the same size.

use gguf::QK_K;

use super::{blocks, f16_at};

/// ggml's `kvalues_iq4nl`: the 16 codebook values, in units of the scale.
pub const KVALUES_IQ4NL: [i8; 16] = [
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
];

/// One 32-element group: element `j` is the low nibble of `qs[j]`, element
/// `j + 16` the high nibble.
#[inline]
fn nl_group(dl: f32, qs: &[u8], y: &mut [f32]) {
    let (lo, hi) = y.split_at_mut(16);
    for ((&q, l), h) in qs.iter().zip(lo).zip(hi) {
        *l = dl * f32::from(KVALUES_IQ4NL[usize::from(q & 0x0F)]);
        *h = dl * f32::from(KVALUES_IQ4NL[usize::from(q >> 4)]);
    }
}

/// IQ4_NL: f16 `d`, `qs[16]`; `x = d * kvalues[q]`, 32 elements per block.
pub fn dequantize_row_iq4_nl(data: &[u8], out: &mut [f32]) {
    for (b, y) in blocks(data, 18, out, 32) {
        nl_group(f16_at(b, 0), &b[2..18], y);
    }
}

/// IQ4_XS: f16 `d`, u16 `scales_h`, `scales_l[4]`, `qs[128]`; eight 32-element
/// groups, each with a 6-bit scale (low 4 bits in `scales_l`, high 2 in
/// `scales_h`) biased by 32; `x = d * (ls - 32) * kvalues[q]`.
pub fn dequantize_row_iq4_xs(data: &[u8], out: &mut [f32]) {
    for (b, y) in blocks(data, 136, out, QK_K) {
        let d = f16_at(b, 0);
        let scales_h = u16::from_le_bytes([b[2], b[3]]);
        let scales_l = &b[4..8];
        for (ib, (qs, y32)) in b[8..136].chunks_exact(16).zip(y.chunks_exact_mut(32)).enumerate() {
            let low = (scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0F;
            let high = ((scales_h >> (2 * ib)) & 3) as u8;
            let ls = i32::from(low | (high << 4));
            nl_group(d * (ls - 32) as f32, qs, y32);
        }
    }
}
