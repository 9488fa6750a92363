// Helpers shared by every kernel.

// `x` rounded to the nearest f16 (ties to even, as `half::f16::from_f32`).
fn round_f16(x: f32) -> f32 {
    return unpack2x16float(pack2x16float(vec2<f32>(x, 0.0))).x;
}
