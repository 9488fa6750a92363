// gate = act(gate) * up. GELU as the CPU's kernels::ops::gelu (ggml's
// CPU backend): 0 below -10, x above 10, else the f16 input looked up in
// a table of f16 results (`gelu`, 65536 entries made by the CPU code, so
// no `tanh` here rounds differently). SiLU as x / (1 + e^-x), whose `exp`
// is the device's: not bit for bit the CPU's.

struct Params {
    n: u32,
    silu: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read> toks: array<u32>;
@group(0) @binding(4) var<storage, read> gelu_table: array<f32>;

fn gelu(x: f32) -> f32 {
    if (x <= -10.0) {
        return 0.0;
    }
    if (x >= 10.0) {
        return x;
    }
    return gelu_table[pack2x16float(vec2<f32>(x, 0.0)) & 0xffffu];
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
    let i = g.x + g.y * 65535u * 64u;
    if (i >= toks[0] * p.n) {
        return;
    }
    let v = gate[i];
    var a: f32;
    if (p.silu != 0u) {
        a = v / (1.0 + exp(-v));
    } else {
        a = gelu(v);
    }
    gate[i] = a * up[i];
}
