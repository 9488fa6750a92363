// x[t] = row toks[t] of the embedding, times `scale` (Gemma's sqrt(n_embd),
// else 1), for the tokens whose row lies in this buffer's `row0..row0 + rows`.

struct Params {
    cols: u32,
    row_words: u32,
    row0: u32,
    rows: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> toks: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
    let t = g.y;
    if (t >= toks[0] || g.x >= p.cols) {
        return;
    }
    let tok = toks[4u + 4u * t];
    if (tok < p.row0 || tok >= p.row0 + p.rows) {
        return;
    }
    y[t * p.cols + g.x] = w_at((tok - p.row0) * p.row_words, g.x) * p.scale;
}
