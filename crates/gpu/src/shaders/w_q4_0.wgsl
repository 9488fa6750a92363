// Q4_0 padded to 20 bytes: f16 d, 2 bytes of padding, 16 bytes of nibbles
// (low nibbles are elements 0..16, high nibbles 16..32).
fn w_at(row: u32, c: u32) -> f32 {
    let base = row + (c >> 5u) * 5u;
    let d = unpack2x16float(w[base]).x;
    let i = c & 31u;
    let b = wbyte(base, 4u + (i & 15u));
    let q = select(b & 15u, b >> 4u, i >= 16u);
    return f32(i32(q) - 8) * d;
}
