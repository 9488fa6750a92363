// Q5_0 padded to 24 bytes: f16 d, 2 bytes of padding, u32 high bits, 16
// bytes of low nibbles.
fn w_at(row: u32, c: u32) -> f32 {
    let base = row + (c >> 5u) * 6u;
    let d = unpack2x16float(w[base]).x;
    let qh = w[base + 1u];
    let i = c & 31u;
    let j = i & 15u;
    let b = wbyte(base, 8u + j);
    var q: u32;
    if (i < 16u) {
        q = (b & 15u) | (((qh >> j) << 4u) & 16u);
    } else {
        q = (b >> 4u) | ((qh >> (j + 12u)) & 16u);
    }
    return f32(i32(q) - 16) * d;
}
