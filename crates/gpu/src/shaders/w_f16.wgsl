fn w_at(row: u32, c: u32) -> f32 {
    let h = unpack2x16float(w[row + (c >> 1u)]);
    return select(h.x, h.y, (c & 1u) == 1u);
}
