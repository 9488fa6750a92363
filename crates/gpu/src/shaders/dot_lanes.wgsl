// The float side of the 32-element formats' dot product (Q8_0, Q4_0,
// Q5_0 against Q8_0 activations), in ggml's AVX2 order as the CPU's
// kernels::dot::q8_0_q8_0: per block, eight integer lanes of four
// products each, added to eight float lanes with one FMA each by the
// product of the two f16 scales; `hsum_float_8` at the end. Each weight
// type's `load_block` gives the block's 32 quants as signed integers.

const QB: u32 = 32u;
const XW: u32 = 9u;

struct WB {
    d: f32,
    q: array<vec4<i32>, 8>,
}

struct Acc {
    l: array<f32, 8>,
}

fn acc_new() -> Acc {
    return Acc(array<f32, 8>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0));
}

fn acc_block(a: ptr<function, Acc>, wb: ptr<function, WB>, xo: u32, path: u32) {
    let d = (*wb).d * bitcast<f32>(x[xo]);
    for (var k = 0u; k < 8u; k++) {
        let lane = dot((*wb).q[k], sbytes4(x[xo + 1u + k]));
        (*a).l[k] = fma_x(d, f32(lane), (*a).l[k]);
    }
}

fn acc_end(a: ptr<function, Acc>, path: u32) -> f32 {
    let l = (*a).l;
    let r = vec4<f32>(l[4] + l[0], l[5] + l[1], l[6] + l[2], l[7] + l[3]);
    return (r.x + r.z) + (r.y + r.w);
}

fn path_for(i: u32, n: u32, gemm_rows: bool) -> u32 {
    return 0u;
}
