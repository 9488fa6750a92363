const WBW: u32 = 4u;

fn load_block(base: u32) -> WB {
    var b: WB;
    for (var k = 0u; k < 4u; k++) {
        let h = unpack2x16float(w[base + k]);
        b.v[2u * k] = h.x;
        b.v[2u * k + 1u] = h.y;
    }
    return b;
}
