// Helpers of the kernels that read weights: `w` is the weight buffer as
// u32 words; every block was padded at upload so that it starts on a word
// (see upload.rs).

// Byte `b` counting from word `base`.
fn wbyte(base: u32, b: u32) -> u32 {
    return (w[base + (b >> 2u)] >> ((b & 3u) * 8u)) & 0xffu;
}

// A byte as a signed value.
fn sbyte(v: u32) -> i32 {
    return (i32(v) << 24u) >> 24u;
}

// The four bytes of a word as signed values, lowest first.
fn sbytes4(v: u32) -> vec4<i32> {
    let s = i32(v);
    return vec4<i32>((s << 24u) >> 24u, (s << 16u) >> 24u, (s << 8u) >> 24u, s >> 24u);
}

// The four nibbles at bit `sh` (0: low, 4: high) of each byte of a word.
fn nibbles4(v: u32, sh: u32) -> vec4<u32> {
    return vec4<u32>((v >> sh) & 15u, (v >> (8u + sh)) & 15u, (v >> (16u + sh)) & 15u, (v >> (24u + sh)) & 15u);
}
