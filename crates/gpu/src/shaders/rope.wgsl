// RoPE of every head of every token, then a scale (Gemma's query scale,
// else 1). The angles' cosines and sines come from the host (`table`,
// computed exactly as the CPU path computes them), so only the rotation,
// one FMA per output as GCC contracts ggml's (`fma_x`, rounded once
// on every device), runs here.

struct Params {
    n_heads: u32,
    head_dim: u32,
    n_rot: u32,
    neox: u32,
    table: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> cs: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> toks: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
    init_exact();
    let t = g.y;
    let h = g.x;
    if (t >= toks[0] || h >= p.n_heads) {
        return;
    }
    let base = (t * p.n_heads + h) * p.head_dim;
    let half_rot = p.n_rot / 2u;
    let n_batch = toks[3];
    let tab = (p.table * n_batch + t) * half_rot;
    for (var i = 0u; i < half_rot; i++) {
        var a = 2u * i;
        var b = 2u * i + 1u;
        if (p.neox != 0u) {
            a = i;
            b = i + half_rot;
        }
        let c = cs[tab + i];
        let x0 = x[base + a];
        let x1 = x[base + b];
        y[base + a] = fma_x(x0, c.x, -(x1 * c.y)) * p.scale;
        y[base + b] = fma_x(x0, c.y, x1 * c.x) * p.scale;
    }
    for (var d = p.n_rot; d < p.head_dim; d++) {
        y[base + d] = x[base + d] * p.scale;
    }
}
