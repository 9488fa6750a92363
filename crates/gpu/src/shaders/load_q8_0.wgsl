// A Q8_0 block (9 words on the device) as signed integers.
const WBW: u32 = 9u;

fn load_block(base: u32) -> WB {
    var b: WB;
    b.d = unpack2x16float(w[base]).x;
    for (var k = 0u; k < 8u; k++) {
        b.q[k] = sbytes4(w[base + 1u + k]);
    }
    return b;
}
