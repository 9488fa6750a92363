// F32 and F16 weights as the CPU's kernels::dot::vec_dot_f32 and
// vec_dot_f16: eight lanes, `lane += w·x` (multiply, then add), summed in
// order at the end. F16 activations are f16 values widened to f32 (the
// quantize shader's mode 2); `load_block` gives 8 weights as f32.

const QB: u32 = 8u;
const XW: u32 = 8u;

struct WB {
    v: array<f32, 8>,
}

struct Acc {
    l: array<f32, 8>,
}

fn acc_new() -> Acc {
    return Acc(array<f32, 8>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0));
}

fn acc_block(a: ptr<function, Acc>, wb: ptr<function, WB>, xo: u32, path: u32) {
    for (var k = 0u; k < 8u; k++) {
        (*a).l[k] = (*a).l[k] + (*wb).v[k] * bitcast<f32>(x[xo + k]);
    }
}

fn acc_end(a: ptr<function, Acc>, path: u32) -> f32 {
    var s = (*a).l[0];
    for (var k = 1u; k < 8u; k++) {
        s = s + (*a).l[k];
    }
    return s;
}

fn path_for(i: u32, n: u32, gemm_rows: bool) -> u32 {
    return 0u;
}
