// RMS norm of `width`-wide rows times `weight`, rounded as the CPU's
// kernels::ops::rms_norm: squares in f32, their sum in f64 (here a
// double-f32 pair, see exact.wgsl), the mean rounded to f32, then
// `x · (1 / sqrt(mean + eps)) · w` in f32. Row r of the input is
// row r (mode 0: y = norm(x); mode 1: y += norm(x), a post-norm and its
// residual add), or row outputs[r] of the batch (mode 2: the output
// head's rows). Rows per token: `rows_per_tok` (heads, for QK-norm).

struct Params {
    width: u32,
    rows_per_tok: u32,
    mode: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> toks: array<u32>;

var<workgroup> part: array<vec2<f32>, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    init_exact();
    let r = wg.x + wg.y * 65535u;
    var n_rows = toks[0] * p.rows_per_tok;
    if (p.mode == 2u) {
        n_rows = toks[1];
    }
    let live = r < n_rows;
    var src = r;
    if (live && p.mode == 2u) {
        src = toks[4u + 4u * toks[3] + r];
    }
    let xi = src * p.width;
    var s = vec2<f32>(0.0, 0.0);
    if (live) {
        for (var c = lid; c < p.width; c += 64u) {
            let v = x[xi + c];
            s = df_add(s, v * v);
        }
    }
    part[lid] = s;
    workgroupBarrier();
    for (var k = 32u; k > 0u; k >>= 1u) {
        if (lid < k) {
            part[lid] = df_add_df(part[lid], part[lid + k]);
        }
        workgroupBarrier();
    }
    if (!live) {
        return;
    }
    let mean = df_div(part[0], f32(p.width));
    let scale = 1.0 / sqrt(mean + p.eps);
    let yi = r * p.width;
    for (var c = lid; c < p.width; c += 64u) {
        let v = (x[xi + c] * scale) * weight[c];
        if (p.mode == 1u) {
            y[yi + c] += v;
        } else {
            y[yi + c] = v;
        }
    }
}
