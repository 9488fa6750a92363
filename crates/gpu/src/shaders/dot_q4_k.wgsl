// Q4_K against Q8_K activations as the CPU's kernels::dot::q4_k_q8_k
// (llama.cpp's repacked gemv, path 0) and q4_k_q8_k_gemm (its 4-row gemm,
// path 1): exact integer sums `Σ sc·(q4·q8)` and `Σ m·bsum`, folded into
// two float accumulators with one FMA each per super-block (path 0) or per
// 64 elements (path 1); their difference at the end.

const QB: u32 = 256u;
const XW: u32 = 81u;
const WBW: u32 = 36u;

struct WB {
    d: f32,
    dmin: f32,
    sc: array<i32, 8>,
    m: array<i32, 8>,
    // Elements 64j..64j+32 are q[16j..16j+8], 64j+32..64j+64 q[16j+8..16j+16].
    q: array<vec4<i32>, 64>,
}

struct Acc {
    acc: f32,
    acc_m: f32,
}

fn acc_new() -> Acc {
    return Acc(0.0, 0.0);
}

fn load_block(base: u32) -> WB {
    var b: WB;
    let dm = unpack2x16float(w[base]);
    b.d = dm.x;
    b.dmin = dm.y;
    for (var j = 0u; j < 8u; j++) {
        if (j < 4u) {
            b.sc[j] = i32(wbyte(base, 4u + j) & 63u);
            b.m[j] = i32(wbyte(base, 8u + j) & 63u);
        } else {
            b.sc[j] = i32((wbyte(base, 8u + j) & 15u) | ((wbyte(base, j) >> 6u) << 4u));
            b.m[j] = i32((wbyte(base, 8u + j) >> 4u) | ((wbyte(base, 4u + j) >> 6u) << 4u));
        }
    }
    for (var j = 0u; j < 4u; j++) {
        for (var k = 0u; k < 8u; k++) {
            let v = w[base + 4u + 8u * j + k];
            b.q[16u * j + k] = vec4<i32>(nibbles4(v, 0u));
            b.q[16u * j + 8u + k] = vec4<i32>(nibbles4(v, 4u));
        }
    }
    return b;
}

fn acc_block(a: ptr<function, Acc>, wb: ptr<function, WB>, xo: u32, path: u32) {
    let yd = bitcast<f32>(x[xo]);
    let d = (*wb).d * yd;
    let dmin = (*wb).dmin * yd;
    var isum = 0;
    var msum = 0;
    for (var j = 0u; j < 4u; j++) {
        var lo = 0;
        var hi = 0;
        for (var k = 0u; k < 8u; k++) {
            lo += dot((*wb).q[16u * j + k], sbytes4(x[xo + 1u + 16u * j + k]));
            hi += dot((*wb).q[16u * j + 8u + k], sbytes4(x[xo + 9u + 16u * j + k]));
        }
        isum += (*wb).sc[2u * j] * lo + (*wb).sc[2u * j + 1u] * hi;
        let bs = bitcast<vec4<i32>>(vec4<u32>(x[xo + 65u + 4u * j], x[xo + 66u + 4u * j], x[xo + 67u + 4u * j], x[xo + 68u + 4u * j]));
        msum += (*wb).m[2u * j] * (bs.x + bs.y) + (*wb).m[2u * j + 1u] * (bs.z + bs.w);
        if (path == 1u) {
            (*a).acc = fma_x(f32(isum), d, (*a).acc);
            (*a).acc_m = fma_x(f32(msum), dmin, (*a).acc_m);
            isum = 0;
            msum = 0;
        }
    }
    if (path != 1u) {
        (*a).acc = fma_x(f32(isum), d, (*a).acc);
        (*a).acc_m = fma_x(f32(msum), dmin, (*a).acc_m);
    }
}

fn acc_end(a: ptr<function, Acc>, path: u32) -> f32 {
    return (*a).acc - (*a).acc_m;
}

fn path_for(i: u32, n: u32, gemm_rows: bool) -> u32 {
    return select(0u, 1u, gemm_rows && i < n - n % 4u);
}
