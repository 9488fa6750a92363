// Activations converted as the CPU path converts them before its integer
// dot products (kernels::dot::quantize), into 32-bit words the matmul
// reads (`XW` words per block, see weights.wgsl):
// mode 0: Q8_0 blocks of 9 words: the f16 scale as an f32, then 32
//         signed bytes (ties to even, id = 127 / amax);
// mode 1: Q8_K blocks of 81 words: the f32 scale, 256 signed bytes, then
//         the 16 sums of 16 quants (`bsums`);
// mode 2: f16 values widened to f32, one word each.

struct Params {
    width: u32,
    mode: u32,
    count_at: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;
@group(0) @binding(3) var<storage, read> toks: array<u32>;

// Four quants packed into a word, lowest first.
fn pack4(q: vec4<i32>) -> u32 {
    let b = vec4<u32>(q) & vec4<u32>(0xffu);
    return b.x | (b.y << 8u) | (b.z << 16u) | (b.w << 24u);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
    let t = g.y;
    if (t >= toks[p.count_at]) {
        return;
    }
    let row = t * p.width;
    if (p.mode == 2u) {
        if (g.x < p.width) {
            y[row + g.x] = bitcast<u32>(round_f16(x[row + g.x]));
        }
        return;
    }
    if (p.mode == 0u) {
        let b0 = g.x * 32u;
        if (b0 >= p.width) {
            return;
        }
        var amax = 0.0;
        for (var i = 0u; i < 32u; i++) {
            amax = max(amax, abs(x[row + b0 + i]));
        }
        var id = 0.0;
        if (amax != 0.0) {
            id = 127.0 / amax;
        }
        let o = (row / 32u) * 9u + g.x * 9u;
        y[o] = bitcast<u32>(round_f16(amax / 127.0));
        for (var k = 0u; k < 8u; k++) {
            let v = vec4<f32>(x[row + b0 + 4u * k], x[row + b0 + 4u * k + 1u], x[row + b0 + 4u * k + 2u], x[row + b0 + 4u * k + 3u]);
            y[o + 1u + k] = pack4(vec4<i32>(round(v * id)));
        }
        return;
    }
    let b0 = g.x * 256u;
    if (b0 >= p.width) {
        return;
    }
    let o = (row / 256u) * 81u + g.x * 81u;
    var amax = 0.0;
    var mx = 0.0;
    for (var i = 0u; i < 256u; i++) {
        let v = x[row + b0 + i];
        if (abs(v) > amax) {
            amax = abs(v);
            mx = v;
        }
    }
    if (amax == 0.0) {
        for (var i = 0u; i < 81u; i++) {
            y[o + i] = 0u;
        }
        return;
    }
    let iscale = -127.0 / mx;
    y[o] = bitcast<u32>(1.0 / iscale);
    for (var s = 0u; s < 16u; s++) {
        var sum = 0;
        for (var k = 0u; k < 4u; k++) {
            let i = b0 + 16u * s + 4u * k;
            let v = vec4<f32>(x[row + i], x[row + i + 1u], x[row + i + 2u], x[row + i + 3u]);
            let q = min(vec4<i32>(round(iscale * v)), vec4<i32>(127));
            sum += q.x + q.y + q.z + q.w;
            y[o + 1u + 4u * s + k] = pack4(q);
        }
        y[o + 65u + s] = bitcast<u32>(sum);
    }
}
