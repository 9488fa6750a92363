// Helpers shared by every kernel.

// `x` rounded to the nearest f16 (ties to even, as `half::f16::from_f32`),
// worked out on the bits: NVIDIA's Vulkan driver (580) folds
// `unpack2x16float(pack2x16float(x))` into `x`.
fn round_f16(x: f32) -> f32 {
    let b = bitcast<u32>(x);
    let s = b & 0x80000000u;
    let a = b & 0x7fffffffu;
    if (a >= 0x7f800000u) {
        // Infinity or NaN.
        return x;
    }
    if (a >= 0x477ff000u) {
        // 65520 and above: past the largest f16 (65504) by half a step.
        return bitcast<f32>(s | 0x7f800000u);
    }
    if (a >= 0x38800000u) {
        // f16's normal range (from 2^-14): 10 fraction bits, ties to even.
        return bitcast<f32>(s | ((a + 0xfffu + ((a >> 13u) & 1u)) & 0xffffe000u));
    }
    let e = a >> 23u;
    if (e < 102u) {
        // Below 2^-25, half the smallest subnormal: zero.
        return bitcast<f32>(s);
    }
    // Subnormal: a multiple of 2^-24, ties to even.
    let m = (a & 0x7fffffu) | 0x800000u;
    let sh = 126u - e;
    let half_step = 1u << (sh - 1u);
    let rem = m & ((1u << sh) - 1u);
    var q = m >> sh;
    if (rem > half_step || (rem == half_step && (q & 1u) == 1u)) {
        q = q + 1u;
    }
    return bitcast<f32>(s | bitcast<u32>(f32(q) * bitcast<f32>(0x33800000u)));
}
