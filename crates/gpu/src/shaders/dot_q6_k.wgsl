// Q6_K against Q8_K activations as the CPU's SIMD kernels compute it
// (kernels::simd, ggml's AVX2 `vec_dot_q6_K_q8_K`; path 0): per
// super-block eight integer lanes, lane k holding `Σ sc·q6·q8` over
// elements 4k..4k+4 of every 32 with q6 unsigned, minus 32·(sc·bsum) of
// the 16-element groups 2k and 2k+1; each lane added to a float lane with
// one FMA by d_w·d_x; `hsum_float_8` at the end. Path 2 is llama.cpp's
// tiled matmul (batches of 8 or more, q6_k_q8_k_tiled): the exact integer
// `isum = Σ sc·(q6 − 32)·q8` of a super-block, `acc = fma(isum·d_w, d_x, acc)`.

const QB: u32 = 256u;
const XW: u32 = 81u;
const WBW: u32 = 53u;

struct WB {
    d: f32,
    sc: array<i32, 16>,
    // Elements 4i..4i+4, minus 32.
    q: array<vec4<i32>, 64>,
}

struct Acc {
    l: array<f32, 8>,
    acc: f32,
}

fn acc_new() -> Acc {
    return Acc(array<f32, 8>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0), 0.0);
}

fn load_block(base: u32) -> WB {
    var b: WB;
    b.d = unpack2x16float(w[base + 52u]).x;
    for (var g = 0u; g < 16u; g++) {
        b.sc[g] = sbyte(wbyte(base, 192u + g));
    }
    for (var n = 0u; n < 2u; n++) {
        for (var k = 0u; k < 8u; k++) {
            let l0 = w[base + 16u * n + k];
            let l1 = w[base + 16u * n + 8u + k];
            let h = w[base + 32u + 8u * n + k];
            let hb = vec4<u32>(h & 0xffu, (h >> 8u) & 0xffu, (h >> 16u) & 0xffu, h >> 24u);
            let q0 = nibbles4(l0, 0u) | ((hb & vec4<u32>(3u)) << vec4<u32>(4u));
            let q1 = nibbles4(l1, 0u) | (((hb >> vec4<u32>(2u)) & vec4<u32>(3u)) << vec4<u32>(4u));
            let q2 = nibbles4(l0, 4u) | (((hb >> vec4<u32>(4u)) & vec4<u32>(3u)) << vec4<u32>(4u));
            let q3 = nibbles4(l1, 4u) | (((hb >> vec4<u32>(6u)) & vec4<u32>(3u)) << vec4<u32>(4u));
            b.q[32u * n + k] = vec4<i32>(q0) - vec4<i32>(32);
            b.q[32u * n + 8u + k] = vec4<i32>(q1) - vec4<i32>(32);
            b.q[32u * n + 16u + k] = vec4<i32>(q2) - vec4<i32>(32);
            b.q[32u * n + 24u + k] = vec4<i32>(q3) - vec4<i32>(32);
        }
    }
    return b;
}

fn acc_block(a: ptr<function, Acc>, wb: ptr<function, WB>, xo: u32, path: u32) {
    let yd = bitcast<f32>(x[xo]);
    if (path == 2u) {
        var isum = 0;
        for (var g = 0u; g < 16u; g++) {
            var s = 0;
            for (var k = 0u; k < 4u; k++) {
                s += dot((*wb).q[4u * g + k], sbytes4(x[xo + 1u + 4u * g + k]));
            }
            isum += (*wb).sc[g] * s;
        }
        (*a).acc = fma_x(f32(isum) * (*wb).d, yd, (*a).acc);
        return;
    }
    let d = (*wb).d * yd;
    for (var k = 0u; k < 8u; k++) {
        var lane = 0;
        for (var v = 0u; v < 8u; v++) {
            let u = (*wb).q[8u * v + k] + vec4<i32>(32);
            lane += (*wb).sc[2u * v + k / 4u] * dot(u, sbytes4(x[xo + 1u + 8u * v + k]));
        }
        let off = (*wb).sc[2u * k] * bitcast<i32>(x[xo + 65u + 2u * k]) + (*wb).sc[2u * k + 1u] * bitcast<i32>(x[xo + 66u + 2u * k]);
        (*a).l[k] = fma_x(d, f32(lane - 32 * off), (*a).l[k]);
    }
}

fn acc_end(a: ptr<function, Acc>, path: u32) -> f32 {
    if (path == 2u) {
        return (*a).acc;
    }
    let l = (*a).l;
    let r = vec4<f32>(l[4] + l[0], l[5] + l[1], l[6] + l[2], l[7] + l[3]);
    return (r.x + r.z) + (r.y + r.w);
}

fn path_for(i: u32, n: u32, gemm_rows: bool) -> u32 {
    return select(0u, 2u, n >= 8u);
}
