//! The KV cache: keys and values of every past position, per layer, stored
//! as f16 like llama.cpp's default cache type (so attention sees the same
//! rounded keys and values it does). Owned by the caller and preallocated
//! for the whole context, so decoding allocates nothing.

use half::f16;

use crate::config::Config;

/// `n` zero f16 values in memory the OS hands out already zeroed (a large
/// allocation maps fresh pages): the cache only becomes resident as
/// positions are written, so a long context or many server slots cost
/// memory for what they hold, not for what they could. (`vec![f16::ZERO;
/// n]` would write every element.)
fn zeroed(n: usize) -> Vec<f16> {
    use half::vec::HalfBitsVecExt;
    vec![0u16; n].reinterpret_into()
}

/// Keys and values for `n_ctx` positions of every layer.
#[derive(Debug, Clone)]
pub struct KvCache {
    n_layer: usize,
    n_ctx: usize,
    k_dim: usize,
    v_dim: usize,
    /// `[layer][pos][k_dim]`
    k: Vec<f16>,
    /// `[layer][pos][v_dim]`
    v: Vec<f16>,
}

impl KvCache {
    /// A cache for `n_ctx` positions of the model described by `config`.
    pub fn new(config: &Config, n_ctx: usize) -> KvCache {
        let (k_dim, v_dim) = (config.k_dim(), config.v_dim());
        KvCache {
            n_layer: config.n_layer,
            n_ctx,
            k_dim,
            v_dim,
            k: zeroed(config.n_layer * n_ctx * k_dim),
            v: zeroed(config.n_layer * n_ctx * v_dim),
        }
    }

    /// Layers the cache holds.
    pub fn n_layer(&self) -> usize {
        self.n_layer
    }

    /// Widths of a key row and a value row (all KV heads).
    pub fn dims(&self) -> (usize, usize) {
        (self.k_dim, self.v_dim)
    }

    /// Positions the cache can hold.
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Stores the key and value of layer `il` at position `pos`, rounding to f16.
    pub fn store(&mut self, il: usize, pos: usize, k: &[f32], v: &[f32]) {
        let ko = (il * self.n_ctx + pos) * self.k_dim;
        for (d, &s) in self.k[ko..ko + self.k_dim].iter_mut().zip(k) {
            *d = f16::from_f32(s);
        }
        let vo = (il * self.n_ctx + pos) * self.v_dim;
        for (d, &s) in self.v[vo..vo + self.v_dim].iter_mut().zip(v) {
            *d = f16::from_f32(s);
        }
    }

    /// The keys of layer `il` at position `pos` (all kv heads).
    pub fn key(&self, il: usize, pos: usize) -> &[f16] {
        let o = (il * self.n_ctx + pos) * self.k_dim;
        &self.k[o..o + self.k_dim]
    }

    /// The values of layer `il` at position `pos` (all kv heads).
    pub fn value(&self, il: usize, pos: usize) -> &[f16] {
        let o = (il * self.n_ctx + pos) * self.v_dim;
        &self.v[o..o + self.v_dim]
    }

    /// The keys of layer `il` at positions `first..=last`, one row of
    /// [`dims`](Self::dims)`.0` after another.
    pub fn keys(&self, il: usize, first: usize, last: usize) -> &[f16] {
        let o = il * self.n_ctx * self.k_dim;
        &self.k[o + first * self.k_dim..o + (last + 1) * self.k_dim]
    }

    /// The values of layer `il` at positions `first..=last`, one row of
    /// [`dims`](Self::dims)`.1` after another.
    pub fn values(&self, il: usize, first: usize, last: usize) -> &[f16] {
        let o = il * self.n_ctx * self.v_dim;
        &self.v[o + first * self.v_dim..o + (last + 1) * self.v_dim]
    }
}
