//! MXFP4 (OCP microscaling): 32 FP4 (E2M1) values sharing one E8M0 scale.

use super::blocks;

/// E2M1 values, doubled so they are integers; [`e8m0_to_f32_half`] undoes
/// the doubling. Mirrors ggml's `kvalues_mxfp4`.
pub const KVALUES_MXFP4: [i8; 16] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/// Half of 2^(e - 127), built directly as f32 bits like ggml's
/// `ggml_e8m0_to_fp32_half`. `e` of 0 and 1 land in the f32 subnormal range;
/// `e = 255` (the E8M0 NaN) gives 2^127 as in ggml, never NaN.
pub fn e8m0_to_f32_half(e: u8) -> f32 {
    let bits = if e < 2 {
        0x0020_0000u32 << e
    } else {
        u32::from(e - 1) << 23
    };
    f32::from_bits(bits)
}

/// MXFP4: `e` (E8M0), `qs[16]`; element `j` is the low nibble of `qs[j]`,
/// element `j + 16` the high nibble; `x = kvalues[q] * 2^(e - 128)`.
pub fn dequantize_row_mxfp4(data: &[u8], out: &mut [f32]) {
    for (b, y) in blocks(data, 17, out, 32) {
        let d = e8m0_to_f32_half(b[0]);
        let (lo, hi) = y.split_at_mut(16);
        for ((&q, l), h) in b[1..17].iter().zip(lo).zip(hi) {
            *l = f32::from(KVALUES_MXFP4[usize::from(q & 0x0F)]) * d;
            *h = f32::from(KVALUES_MXFP4[usize::from(q >> 4)]) * d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e8m0_half_is_half_the_power_of_two() {
        assert_eq!(e8m0_to_f32_half(127), 0.5);
        assert_eq!(e8m0_to_f32_half(128), 1.0);
        assert_eq!(e8m0_to_f32_half(2), 2f32.powi(-126));
        assert_eq!(e8m0_to_f32_half(1), 2f32.powi(-127));
        assert_eq!(e8m0_to_f32_half(0), 2f32.powi(-128));
        assert_eq!(e8m0_to_f32_half(255), 2f32.powi(127));
    }
}
