// Q4_K, 144 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins,
// 128 bytes of nibbles (4 groups of 64 elements, low nibbles first).
fn w_at(row: u32, c: u32) -> f32 {
    let base = row + (c >> 8u) * 36u;
    let dm = unpack2x16float(w[base]);
    let i = c & 255u;
    let j = i >> 6u;
    let within = i & 63u;
    let is = 2u * j + (within >> 5u);
    let l = within & 31u;
    let qb = wbyte(base, 16u + 32u * j + l);
    let q = select(qb & 15u, qb >> 4u, within >= 32u);
    var sc: u32;
    var m: u32;
    if (is < 4u) {
        sc = wbyte(base, 4u + is) & 63u;
        m = wbyte(base, 8u + is) & 63u;
    } else {
        sc = (wbyte(base, 8u + is) & 15u) | ((wbyte(base, is) >> 6u) << 4u);
        m = (wbyte(base, 8u + is) >> 4u) | ((wbyte(base, 4u + is) >> 6u) << 4u);
    }
    let d1 = dm.x * f32(sc);
    let m1 = dm.y * f32(m);
    return d1 * f32(q) - m1;
}
