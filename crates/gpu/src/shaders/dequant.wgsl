// Row `g.y` of a weight buffer dequantized to f32 through `w_at`, one
// element per thread (the embedding's path; the shader-vs-CPU test holds
// it against the CPU's dequantizers).

struct Params {
    cols: u32,
    row_words: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
    if (g.x < p.cols) {
        y[g.y * p.cols + g.x] = w_at(g.y * p.row_words, g.x);
    }
}
