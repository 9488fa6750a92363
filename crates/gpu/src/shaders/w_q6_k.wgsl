// Q6_K padded to 212 bytes: 128 bytes of low nibbles, 64 of high bit
// pairs, 16 signed scales, f16 d, 2 bytes of padding.
fn w_at(row: u32, c: u32) -> f32 {
    let base = row + (c >> 8u) * 53u;
    let d = unpack2x16float(w[base + 52u]).x;
    let i = c & 255u;
    let n = i >> 7u;
    let r = i & 127u;
    let quarter = r >> 5u;
    let l = r & 31u;
    let lb = wbyte(base, n * 64u + l + 32u * (quarter & 1u));
    let low = select(lb & 15u, lb >> 4u, quarter >= 2u);
    let h = (wbyte(base, 128u + n * 32u + l) >> (2u * quarter)) & 3u;
    let q = i32(low | (h << 4u)) - 32;
    let sc = sbyte(wbyte(base, 192u + n * 8u + l / 16u + 2u * quarter));
    return d * f32(sc) * f32(q);
}
