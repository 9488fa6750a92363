// Q8_0 padded to 36 bytes: f16 d, 2 bytes of padding, 32 signed bytes.
fn w_at(row: u32, c: u32) -> f32 {
    let base = row + (c >> 5u) * 9u;
    let d = unpack2x16float(w[base]).x;
    return f32(sbyte(wbyte(base, 4u + (c & 31u)))) * d;
}
