// y[t][out_off + r] (+)= W[r] · x[t] (+ bias[r]) for rows r of one weight
// buffer and tokens t, bit for bit as the CPU path computes each pair:
// the weight type's integer block dot and float order (`acc_block`, from
// the type's dot file), on the activations the quantize shader converted
// (`XW` words per block of `QB` elements). One thread per row and group of
// TT tokens; a weight block is unpacked once (`load_block`) and used for
// all TT tokens. No shared memory and no barriers: on lavapipe (CI's
// device) a barrier turns every workgroup into coroutines.
//
// Which of llama.cpp's roundings a pair takes depends on its token's place
// in its sequence's part of the step (kernels::matmul::Dots): Q4_K rows of
// a matrix whose row count is a multiple of 8 take the gemm (path 1) for
// the first n - n % 4 tokens of a part of n; Q6_K takes the tiled matmul
// (path 2) in parts of 8 tokens or more; the rest path 0. Output rows
// (count_at 1) are each a part of one.

struct Params {
    rows: u32,
    cols: u32,
    row_words: u32,
    in_stride: u32,
    out_stride: u32,
    out_off: u32,
    has_bias: u32,
    bias_off: u32,
    accumulate: u32,
    count_at: u32,
    gemm_rows: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> toks: array<u32>;

const TT: u32 = 8u;

// The path of token t (see above).
fn path_of(t: u32) -> u32 {
    if (p.count_at != 0u) {
        return 0u;
    }
    let part = toks[7u + 4u * t];
    return path_for(part & 0xffffu, part >> 16u, p.gemm_rows != 0u);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    init_exact();
    let r = (wg.x + wg.y * 65535u) * 64u + lid;
    let t0 = wg.z * TT;
    let n_tok = toks[p.count_at];
    if (r >= p.rows || t0 >= n_tok) {
        return;
    }
    let nt = min(TT, n_tok - t0);
    var acc: array<Acc, TT>;
    var path: array<u32, TT>;
    for (var t = 0u; t < nt; t++) {
        acc[t] = acc_new();
        path[t] = path_of(t0 + t);
    }
    let row = r * p.row_words;
    let blocks = p.cols / QB;
    let x_row = p.in_stride / QB * XW;
    for (var b = 0u; b < blocks; b++) {
        var wb = load_block(row + b * WBW);
        for (var t = 0u; t < nt; t++) {
            var a = acc[t];
            acc_block(&a, &wb, (t0 + t) * x_row + b * XW, path[t]);
            acc[t] = a;
        }
    }
    for (var t = 0u; t < nt; t++) {
        var a = acc[t];
        var v = acc_end(&a, path[t]);
        if (p.has_bias != 0u) {
            v += bias[p.bias_off + r];
        }
        let o = (t0 + t) * p.out_stride + p.out_off + r;
        if (p.accumulate != 0u) {
            y[o] += v;
        } else {
            y[o] = v;
        }
    }
}
