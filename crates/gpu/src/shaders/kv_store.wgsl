// Keys and values of the step's tokens into their slot's cache of this
// layer, rounded to f16 and packed two to a word: `[slot][pos][dim / 2]`.

struct Params {
    k_dim: u32,
    v_dim: u32,
    n_ctx: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> kc: array<u32>;
@group(0) @binding(4) var<storage, read_write> vc: array<u32>;
@group(0) @binding(5) var<storage, read> toks: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
    let t = g.y;
    if (t >= toks[0]) {
        return;
    }
    let pos = toks[5u + 4u * t];
    let slot = toks[6u + 4u * t];
    let cell = slot * p.n_ctx + pos;
    let i = g.x;
    if (2u * i < p.k_dim) {
        kc[cell * (p.k_dim / 2u) + i] = pack2x16float(vec2<f32>(k[t * p.k_dim + 2u * i], k[t * p.k_dim + 2u * i + 1u]));
    }
    if (2u * i < p.v_dim) {
        vc[cell * (p.v_dim / 2u) + i] = pack2x16float(vec2<f32>(v[t * p.v_dim + 2u * i], v[t * p.v_dim + 2u * i + 1u]));
    }
}
