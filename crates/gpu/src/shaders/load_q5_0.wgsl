// A Q5_0 block (6 words): element i's fifth bit is bit i of `qh`, values
// minus 16, low nibbles first.
const WBW: u32 = 6u;

fn load_block(base: u32) -> WB {
    var b: WB;
    b.d = unpack2x16float(w[base]).x;
    let qh = w[base + 1u];
    for (var k = 0u; k < 8u; k++) {
        let i = 4u * k;
        let low = nibbles4(w[base + 2u + (k & 3u)], select(0u, 4u, k >= 4u));
        let high = vec4<u32>((qh >> i) & 1u, (qh >> (i + 1u)) & 1u, (qh >> (i + 2u)) & 1u, (qh >> (i + 3u)) & 1u);
        b.q[k] = vec4<i32>(low | (high << vec4<u32>(4u))) - vec4<i32>(16);
    }
    return b;
}
