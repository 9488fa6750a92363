const WBW: u32 = 8u;

fn load_block(base: u32) -> WB {
    var b: WB;
    for (var k = 0u; k < 8u; k++) {
        b.v[k] = bitcast<f32>(w[base + k]);
    }
    return b;
}
