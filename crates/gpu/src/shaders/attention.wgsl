// Causal grouped-query attention of one (token, head) per workgroup over
// its slot's cache, bit for bit as the CPU path (model::arch::attention,
// after llama.cpp's CPU backend on AVX-512):
// - the query rounded to f16 to meet the f16 keys;
// - each score a dot product summed in L lanes (lane k takes the terms
//   i ≡ k mod L in order), the lanes reduced pairwise, then scaled: L = 64
//   with the remaining terms added in f64 (`ggml_vec_dot_f16`) for a
//   sequence's single token, L = 16 with them added in f32 (tinyBLAS) for
//   a part of several tokens;
// - softmax with ggml's `exp` polynomial, its sum taken over 16-cell
//   groups aligned on cell 0 (each group summed pairwise), accumulated in
//   f64; probabilities rounded to f16;
// - each output element `Σ_j p_j v_j` summed in L lanes by cell index
//   (j mod L), reduced pairwise.
// A product of two f16 values is exact in f32, so only the sums' order
// matters, and it is the CPU's. Scores live in a scratch buffer
// `[token][head][n_ctx]`.

struct Params {
    n_head: u32,
    group: u32,
    hk: u32,
    hv: u32,
    n_ctx: u32,
    window: u32,
    kq_scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kc: array<u32>;
@group(0) @binding(3) var<storage, read> vc: array<u32>;
@group(0) @binding(4) var<storage, read_write> scores: array<f32>;
@group(0) @binding(5) var<storage, read_write> o: array<f32>;
@group(0) @binding(6) var<storage, read> toks: array<u32>;

var<workgroup> qh: array<f32, 512>;
var<workgroup> red: array<f32, 64>;
var<workgroup> red2: array<vec2<f32>, 64>;

// Element e of the packed f16 key and value caches.
fn key_at(e: u32) -> f32 {
    let h = unpack2x16float(kc[e >> 1u]);
    return select(h.x, h.y, (e & 1u) == 1u);
}

fn value_at(e: u32) -> f32 {
    let h = unpack2x16float(vc[e >> 1u]);
    return select(h.x, h.y, (e & 1u) == 1u);
}

// Pairwise reduction of lanes 0..n (a power of two) into lane 0.
fn tree(acc: ptr<function, array<f32, 64>>, n: u32) -> f32 {
    for (var w = n / 2u; w >= 1u; w /= 2u) {
        for (var k = 0u; k < w; k++) {
            (*acc)[k] = (*acc)[k] + (*acc)[k + w];
        }
    }
    return (*acc)[0];
}

// q · key, the key's first element at `e0` of the key cache.
fn score_dot(e0: u32, lanes: u32) -> f32 {
    var acc: array<f32, 64>;
    let np = p.hk / lanes * lanes;
    for (var k = 0u; k < lanes; k++) {
        var a = 0.0;
        for (var i = k; i < np; i += lanes) {
            a = a + qh[i] * key_at(e0 + i);
        }
        acc[k] = a;
    }
    let s = tree(&acc, lanes);
    if (lanes == 16u) {
        var r = s;
        for (var i = np; i < p.hk; i++) {
            r = r + qh[i] * key_at(e0 + i);
        }
        return r;
    }
    var d = vec2<f32>(s, 0.0);
    for (var i = np; i < p.hk; i++) {
        d = df_add(d, qh[i] * key_at(e0 + i));
    }
    return d.x + d.y;
}

// ggml's AVX-512 `ggml_v_expf` (kernels::ops::v_expf), FMA for FMA.
fn v_expf(x: f32) -> f32 {
    let r = bitcast<f32>(0x4b400000u);
    let z = fma_x(x, bitcast<f32>(0x3fb8aa3bu), r);
    let n = z - r;
    let b = fma_x(-n, bitcast<f32>(0x35bfbe8eu), fma_x(-n, bitcast<f32>(0x3f317200u), x));
    let u = b * b;
    let t1 = fma_x(bitcast<f32>(0x3c072010u), b, bitcast<f32>(0x3d2b9f17u));
    let t2 = fma_x(t1, u, fma_x(bitcast<f32>(0x3e2aaf33u), b, bitcast<f32>(0x3efffedbu)));
    let j = fma_x(t2, u, fma_x(bitcast<f32>(0x3f7ffff6u), b, 1.0));
    if (abs(n) > 192.0) {
        return select(bitcast<f32>(0x7f800000u), 0.0, n <= 0.0);
    }
    let ni = i32(n);
    if (ni >= -126) {
        return j * bitcast<f32>(u32(ni + 127) << 23u);
    }
    return (j * bitcast<f32>(u32(ni + 227) << 23u)) * bitcast<f32>(27u << 23u);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    init_exact();
    let h = wg.x;
    let t = wg.y;
    let live = t < toks[0];
    var pos = 0u;
    var slot = 0u;
    var lanes = 16u;
    if (live) {
        pos = toks[5u + 4u * t];
        slot = toks[6u + 4u * t];
        lanes = select(16u, 64u, (toks[7u + 4u * t] >> 16u) == 1u);
    }
    var first = 0u;
    if (p.window > 0u && pos + 1u > p.window) {
        first = pos + 1u - p.window;
    }
    let kvh = h / p.group;
    // Elements per cached position (all KV heads).
    let kw = p.n_head / p.group * p.hk;
    let vw = p.n_head / p.group * p.hv;
    let qbase = (t * p.n_head + h) * p.hk;
    if (live) {
        for (var d = lid; d < p.hk; d += 64u) {
            qh[d] = round_f16(q[qbase + d]);
        }
    }
    workgroupBarrier();
    let sbase = (t * p.n_head + h) * p.n_ctx;
    var mx = -3.402823e38;
    if (live) {
        for (var j = first + lid; j <= pos; j += 64u) {
            let s = score_dot((slot * p.n_ctx + j) * kw + kvh * p.hk, lanes) * p.kq_scale;
            scores[sbase + j - first] = s;
            mx = max(mx, s);
        }
    }
    red[lid] = mx;
    workgroupBarrier();
    for (var k = 32u; k > 0u; k >>= 1u) {
        if (lid < k) {
            red[lid] = max(red[lid], red[lid + k]);
        }
        workgroupBarrier();
    }
    let m = red[0];
    if (live) {
        for (var j = first + lid; j <= pos; j += 64u) {
            scores[sbase + j - first] = v_expf(scores[sbase + j - first] - m);
        }
    }
    storageBarrier();
    workgroupBarrier();
    // The sum: 16-cell groups aligned on cell 0, each summed pairwise.
    var sum = vec2<f32>(0.0, 0.0);
    if (live) {
        for (var g = first / 16u + lid; g <= pos / 16u; g += 64u) {
            var a: array<f32, 64>;
            for (var k = 0u; k < 16u; k++) {
                let j = 16u * g + k;
                a[k] = select(0.0, scores[sbase + j - first], j >= first && j <= pos);
            }
            sum = df_add(sum, tree(&a, 16u));
        }
    }
    red2[lid] = sum;
    workgroupBarrier();
    for (var k = 32u; k > 0u; k >>= 1u) {
        if (lid < k) {
            red2[lid] = df_add_df(red2[lid], red2[lid + k]);
        }
        workgroupBarrier();
    }
    let inv = df_recip(red2[0]);
    if (live) {
        for (var j = first + lid; j <= pos; j += 64u) {
            scores[sbase + j - first] = round_f16(scores[sbase + j - first] * inv);
        }
    }
    storageBarrier();
    workgroupBarrier();
    if (!live) {
        return;
    }
    let obase = (t * p.n_head + h) * p.hv;
    for (var d = lid; d < p.hv; d += 64u) {
        var acc: array<f32, 64>;
        let e = kvh * p.hv + d;
        for (var k = 0u; k < lanes; k++) {
            var a = 0.0;
            // The first cell >= first with j ≡ k (mod lanes).
            var j = first + (k + lanes - first % lanes) % lanes;
            for (; j <= pos; j += lanes) {
                a = a + scores[sbase + j - first] * value_at((slot * p.n_ctx + j) * vw + e);
            }
            acc[k] = a;
        }
        o[obase + d] = tree(&acc, lanes);
    }
}
