// A Q4_0 block (5 words): nibbles minus 8, low nibbles first.
const WBW: u32 = 5u;

fn load_block(base: u32) -> WB {
    var b: WB;
    b.d = unpack2x16float(w[base]).x;
    for (var k = 0u; k < 4u; k++) {
        let v = w[base + 1u + k];
        b.q[k] = vec4<i32>(nibbles4(v, 0u)) - vec4<i32>(8);
        b.q[k + 4u] = vec4<i32>(nibbles4(v, 4u)) - vec4<i32>(8);
    }
    return b;
}
