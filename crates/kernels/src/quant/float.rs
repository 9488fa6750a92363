//! Plain element types: one element per "block", converted with a cast.
//!
//! F16 and BF16 widen exactly. F64 and the integer types round to the
//! nearest f32 (what a C cast does, and what ggml's `get_rows` gives).

/// Applies `conv` to each `N`-byte little-endian element.
#[inline]
fn convert<const N: usize>(data: &[u8], out: &mut [f32], conv: impl Fn([u8; N]) -> f32) {
    for (src, dst) in data.chunks_exact(N).zip(out.iter_mut()) {
        let mut b = [0u8; N];
        b.copy_from_slice(src);
        *dst = conv(b);
    }
}

/// F32: a copy (bit patterns, NaN payloads included, are preserved).
pub fn dequantize_row_f32(data: &[u8], out: &mut [f32]) {
    convert(data, out, f32::from_le_bytes);
}

/// IEEE half precision.
pub fn dequantize_row_f16(data: &[u8], out: &mut [f32]) {
    convert(data, out, |b| half::f16::from_le_bytes(b).to_f32());
}

/// bfloat16: the top half of an f32, so widening is a shift.
pub fn dequantize_row_bf16(data: &[u8], out: &mut [f32]) {
    convert(data, out, |b| {
        f32::from_bits(u32::from(u16::from_le_bytes(b)) << 16)
    });
}

/// F64, rounded to nearest (overflow gives ±inf).
pub fn dequantize_row_f64(data: &[u8], out: &mut [f32]) {
    convert(data, out, |b| f64::from_le_bytes(b) as f32);
}

/// I8, exact.
pub fn dequantize_row_i8(data: &[u8], out: &mut [f32]) {
    convert(data, out, |b: [u8; 1]| f32::from(b[0] as i8));
}

/// I16, exact.
pub fn dequantize_row_i16(data: &[u8], out: &mut [f32]) {
    convert(data, out, |b| f32::from(i16::from_le_bytes(b)));
}

/// I32, rounded to nearest above 2^24.
pub fn dequantize_row_i32(data: &[u8], out: &mut [f32]) {
    convert(data, out, |b| i32::from_le_bytes(b) as f32);
}

/// I64, rounded to nearest above 2^24.
pub fn dequantize_row_i64(data: &[u8], out: &mut [f32]) {
    convert(data, out, |b| i64::from_le_bytes(b) as f32);
}
