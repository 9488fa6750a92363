// Float steps that round exactly as the CPU path's, on any device. Pasted
// into the kernels that bind the token table `toks`, after a line that
// defines `NATIVE_FMA` (whether this device's `fma` is fused: see
// device.rs). Each such kernel calls `init_exact()` first.
//
// - `fma_x(a, b, c)` is a*b + c rounded once, as the CPU's FMA. WGSL lets
//   `fma` round twice, and lavapipe does; there it is emulated: an exact
//   product (Dekker), an exact sum (2Sum), and the last addition in
//   "round to odd" then to nearest (Boldo and Melquiond, "Emulation of FMA
//   and correctly rounded sums", 2008).
// - Sums the CPU takes in f64 are taken as double-f32 pairs `(hi, lo)`
//   (about 48 bits), then rounded to f32: the same f32 unless the exact
//   value lies within 2^-44 of a rounding boundary.
//
// Error-free steps such as `t - (t - a)` are what a compiler's algebraic
// rules simplify away, and reassociating with constants breaks them too
// (Mesa's rules do both, for operations not marked exact, and WGSL cannot
// mark them), so their inputs and intermediate values pass through
// `opaque`, an OR with a zero the compiler cannot see: word 2 of the token
// table, always 0.

var<private> OPAQUE_ZERO: u32;

fn init_exact() {
    OPAQUE_ZERO = toks[2];
}

fn opaque(x: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) | OPAQUE_ZERO);
}

// a = hi + lo, each half of a's significand (Veltkamp).
fn split(a: f32) -> vec2<f32> {
    let t = 4097.0 * a;
    let hi = t - opaque(t - a);
    return vec2<f32>(hi, a - hi);
}

// a * b = p + e exactly (Dekker), barring overflow and underflow.
fn two_prod(a0: f32, b0: f32) -> vec2<f32> {
    let a = opaque(a0);
    let b = opaque(b0);
    let p = a * b;
    let sa = split(a);
    let sb = split(b);
    let e = ((sa.x * sb.x - p) + sa.x * sb.y + sa.y * sb.x) + sa.y * sb.y;
    return vec2<f32>(p, e);
}

// a + b = s + e exactly (Knuth's 2Sum).
fn two_sum(a0: f32, b0: f32) -> vec2<f32> {
    let a = opaque(a0);
    let b = opaque(b0);
    let s = opaque(a + b);
    let bb = opaque(s - a);
    let e = (a - (s - bb)) + (b - bb);
    return vec2<f32>(s, e);
}

// a + b rounded to odd: truncated, with the last bit set when inexact.
fn add_odd(a: f32, b: f32) -> f32 {
    let t = two_sum(a, b);
    if (t.y == 0.0) {
        return t.x;
    }
    var bits = bitcast<u32>(t.x);
    if ((t.y < 0.0) != (t.x < 0.0)) {
        bits -= 1u;
    }
    return bitcast<f32>(bits | 1u);
}

fn fma_x(a: f32, b: f32, c: f32) -> f32 {
    if (NATIVE_FMA) {
        return fma(a, b, c);
    }
    let p = two_prod(a, b);
    let u = two_sum(c, p.x);
    return u.x + add_odd(u.y, p.y);
}

// Double-f32 sums: `s + x` and `s + t`, renormalized.
fn df_add(s: vec2<f32>, x: f32) -> vec2<f32> {
    let t = two_sum(s.x, x);
    return two_sum(t.x, t.y + s.y);
}

fn df_add_df(s: vec2<f32>, t: vec2<f32>) -> vec2<f32> {
    let u = two_sum(s.x, t.x);
    return two_sum(u.x, u.y + (s.y + t.y));
}

// (hi + lo) / n, rounded once to f32.
fn df_div(s: vec2<f32>, n: f32) -> f32 {
    let q = s.x / n;
    let p = two_prod(q, n);
    let r = ((s.x - p.x) - p.y) + s.y;
    return q + r / n;
}

// 1 / (hi + lo), rounded once to f32.
fn df_recip(s: vec2<f32>) -> f32 {
    let q = 1.0 / s.x;
    let p = two_prod(q, s.x);
    let r = ((1.0 - p.x) - p.y) - q * s.y;
    return q + r * q;
}
