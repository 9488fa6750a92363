//! Building blocks shared by the architectures, and the scratch space they
//! work in. Each architecture file composes these into its own readable
//! forward pass; what differs between architectures stays in those files.
//!
//! Activations are row-major `[token][feature]` for a whole batch, so every
//! projection is one matrix-matrix product over the batch's tokens.

mod attention;
mod block_buffers;
pub mod gemma3;
pub mod llama;
pub mod qwen2;

use kernels::matmul::{matmul_batches, Matrix};
use kernels::ops;

use crate::config::Config;
use crate::kv_cache::KvCache;
use crate::weights::Weights;
pub(crate) use attention::{attention, AttnWorkspace};
pub(crate) use block_buffers::{AttnBuffers, BlockBuffers, FfnBuffers};

/// One sequence's part of a forward step: its new tokens, the position of
/// the first, and its own KV cache (holding positions `0..pos0` already).
#[derive(Debug)]
pub struct Segment<'c> {
    pub tokens: &'c [u32],
    pub pos0: usize,
    pub cache: &'c mut KvCache,
}

/// Preallocated buffers for one forward step of up to `n_batch` tokens with
/// up to `n_outputs` logit rows. Made once per sequence (or per worker);
/// the forward pass never allocates.
#[derive(Debug)]
pub struct Scratch {
    pub(crate) n_batch: usize,
    pub(crate) n_outputs: usize,
    pub(crate) threads: usize,
    /// Residual stream `[n_batch][n_embd]`.
    pub(crate) x: Vec<f32>,
    /// Normalised input of a block `[n_batch][n_embd]`.
    pub(crate) xb: Vec<f32>,
    /// The activations inside the attention or feed-forward block (q, k,
    /// v, attention output, gate, up, the projection back to `n_embd`).
    pub(crate) block: BlockBuffers,
    /// Per-thread buffers of [`attention`] (scores over up to `n_ctx`
    /// positions, queries, key/value tiles); `scores.len()` is that `n_ctx`.
    pub(crate) scores: AttnWorkspace,
    /// Final-normed rows of the output positions `[n_outputs][n_embd]`.
    pub(crate) out_rows: Vec<f32>,
    /// `[n_outputs][n_vocab]`.
    pub(crate) logits: Vec<f32>,
    /// Activations converted for the integer dot products.
    pub(crate) act: Vec<u8>,
    /// Tokens of each non-empty segment of the current step: the batches
    /// whose sizes pick llama.cpp's kernels ([`kernels::matmul::matmul_batches`]).
    pub(crate) seg_lens: Vec<usize>,
    /// The step's RoPE angles, shared by the layers.
    pub(crate) rope: RopeCache,
}

impl Scratch {
    /// Buffers for batches of `n_batch` tokens, a context of `n_ctx`, and
    /// `n_outputs` logit rows per step, with matmuls split over `threads`.
    pub fn new(
        config: &Config,
        weights: &Weights<'_>,
        n_batch: usize,
        n_ctx: usize,
        n_outputs: usize,
        threads: usize,
    ) -> Scratch {
        let n_batch = n_batch.max(1);
        let n_outputs = n_outputs.clamp(1, n_batch);
        let c = config;
        let mut act = weights
            .output
            .act_bytes(n_outputs)
            .max(kernels::packed::PackedQ8_0::act_bytes(
                weights.output.cols,
                n_outputs,
            ));
        for l in &weights.layers {
            for m in [&l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_gate, &l.ffn_up, &l.ffn_down] {
                act = act.max(m.act_bytes(n_batch));
            }
        }
        Scratch {
            n_batch,
            n_outputs,
            threads: threads.max(1),
            x: vec![0.0; n_batch * c.n_embd],
            xb: vec![0.0; n_batch * c.n_embd],
            block: BlockBuffers::new(c, n_batch),
            scores: AttnWorkspace::new(c, n_batch, n_ctx, threads),
            out_rows: vec![0.0; n_outputs * c.n_embd],
            logits: vec![0.0; n_outputs * c.n_vocab],
            act: vec![0; act],
            seg_lens: Vec::with_capacity(n_batch),
            rope: RopeCache::new(c, n_batch),
        }
    }

    /// Records the segments of the step about to run (see [`Scratch::seg_lens`]).
    pub(crate) fn set_segments(&mut self, segs: &[Segment<'_>]) {
        self.seg_lens.clear();
        self.seg_lens
            .extend(segs.iter().map(|g| g.tokens.len()).filter(|&n| n > 0));
        self.rope.clear();
    }

    /// Largest batch one forward step takes.
    pub fn n_batch(&self) -> usize {
        self.n_batch
    }
}

/// `x[t] = embedding(tokens[t]) * scale` (ggml `get_rows`, then Gemma's
/// `sqrt(n_embd)` scaling where `scale` is given), the segments' tokens
/// stacked.
pub(crate) fn embed(w: &Weights<'_>, segs: &[Segment<'_>], x: &mut [f32], n_embd: usize, scale: Option<f32>) {
    let tokens = segs.iter().flat_map(|g| g.tokens);
    for (row, &tok) in x.chunks_exact_mut(n_embd).zip(tokens) {
        w.embedding(tok as usize, row);
        if let Some(s) = scale {
            row.iter_mut().for_each(|v| *v *= s);
        }
    }
}

/// `out = x · Wᵀ (+ bias)` over the rows of the segments (`seg_lens`
/// tokens each), each segment rounded as llama.cpp rounds a batch of its
/// size.
pub(crate) fn project(
    w: &Matrix<'_>,
    bias: Option<&[f32]>,
    x: &[f32],
    seg_lens: &[usize],
    out: &mut [f32],
    act: &mut [u8],
    threads: usize,
) {
    let n_tok = seg_lens.iter().sum();
    matmul_batches(w, x, n_tok, seg_lens, out, act, threads);
    if let Some(b) = bias {
        for row in out[..n_tok * w.rows].chunks_exact_mut(w.rows) {
            ops::add_assign(row, b);
        }
    }
}

/// Below this many values a row-wise step runs on the calling thread: a
/// decode step's rows take microseconds, less than waking the pool.
const PAR_MIN_VALUES: usize = 32 << 10;

/// `f(first_row, rows)` over `x`'s `width`-wide rows: for a prompt's
/// batch, a share of the rows per thread; otherwise all on this thread.
fn par_rows(x: &mut [f32], width: usize, threads: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let n_rows = x.len() / width;
    if threads < 2 || x.len() < PAR_MIN_VALUES || n_rows < 2 {
        return f(0, x);
    }
    kernels::pool::global(threads).for_each_rows_mut(x, width, threads, f);
}

/// RMS-normalises each `width`-wide row of `x[..n_rows * width]` in place.
pub(crate) fn norm_rows(
    x: &mut [f32],
    n_rows: usize,
    width: usize,
    weight: &[f32],
    eps: f32,
    threads: usize,
) {
    par_rows(&mut x[..n_rows * width], width, threads, |_, rows| {
        ops::rms_norm_rows(rows, width, weight, eps);
    });
}

/// `gate = gelu(gate) * up` (Gemma's feed-forward), split like [`par_rows`].
pub(crate) fn gated_gelu(gate: &mut [f32], up: &[f32], threads: usize) {
    par_rows(gate, 1, threads, |first, g| {
        ops::gated_gelu(g, &up[first..first + g.len()])
    });
}

/// Normalises `x` rows into `out` (the pre-norm of a block).
pub(crate) fn norm_rows_into(
    out: &mut [f32],
    x: &[f32],
    n_tok: usize,
    width: usize,
    weight: &[f32],
    eps: f32,
    threads: usize,
) {
    out[..n_tok * width].copy_from_slice(&x[..n_tok * width]);
    norm_rows(out, n_tok, width, weight, eps, threads);
}

/// The RoPE angles of one step's tokens for each (base, frequency scale)
/// the model's layers use (Gemma 3: one for its local layers, one for its
/// global ones), computed by the first layer that needs them and reused by
/// the others and by both queries and keys: the `sincosf` calls were a
/// percent of a prompt's time when every layer made its own.
#[derive(Debug)]
pub(crate) struct RopeCache {
    /// Rotated pairs per head.
    pairs: usize,
    tables: Vec<RopeTable>,
}

/// One (base, frequency scale)'s angles, `[token][cos of each pair, sin
/// of each pair]`.
#[derive(Debug)]
struct RopeTable {
    base: f32,
    freq_scale: f32,
    filled: bool,
    angles: Vec<f32>,
}

impl RopeCache {
    /// Tables for every (base, frequency scale) of `c`'s layers, for
    /// steps of up to `n_batch` tokens.
    pub(crate) fn new(c: &Config, n_batch: usize) -> RopeCache {
        let pairs = c.n_rot / 2;
        let mut tables: Vec<RopeTable> = Vec::new();
        for il in 0..c.n_layer {
            let (base, freq_scale) = c.rope_for_layer(il);
            if !tables
                .iter()
                .any(|t| t.base == base && t.freq_scale == freq_scale)
            {
                tables.push(RopeTable {
                    base,
                    freq_scale,
                    filled: false,
                    angles: vec![0.0; n_batch * 2 * pairs],
                });
            }
        }
        RopeCache { pairs, tables }
    }

    /// Forgets the angles of the last step.
    pub(crate) fn clear(&mut self) {
        self.tables.iter_mut().for_each(|t| t.filled = false);
    }

    /// The angles of this step's tokens (a segment's token `t` at its
    /// `pos0 + t`) for `base` and `freq_scale`, `[token][cos…, sin…]`.
    pub(crate) fn angles(
        &mut self,
        c: &Config,
        segs: &[Segment<'_>],
        base: f32,
        freq_scale: f32,
        threads: usize,
    ) -> &[f32] {
        let width = 2 * self.pairs;
        let n_tok: usize = segs.iter().map(|g| g.tokens.len()).sum();
        let i = match self
            .tables
            .iter()
            .position(|t| t.base == base && t.freq_scale == freq_scale)
        {
            Some(i) => i,
            None => {
                self.tables.push(RopeTable {
                    base,
                    freq_scale,
                    filled: false,
                    angles: Vec::new(),
                });
                self.tables.len() - 1
            }
        };
        let t = &mut self.tables[i];
        if t.angles.len() < n_tok * width {
            t.angles.resize(n_tok * width, 0.0);
        }
        if !t.filled && width > 0 {
            // Each batch row's position: its segment's `pos0` plus its index there.
            let positions = || {
                segs.iter()
                    .flat_map(|g| (0..g.tokens.len()).map(move |t| g.pos0 + t))
            };
            par_rows(&mut t.angles[..n_tok * width], width, threads, |first, rows| {
                let mut a = ops::RopeAngles::default();
                for (row, pos) in rows.chunks_exact_mut(width).zip(positions().skip(first)) {
                    a.set(pos, c.n_rot, base, freq_scale);
                    let (cos, sin) = row.split_at_mut(width / 2);
                    cos.copy_from_slice(a.cos());
                    sin.copy_from_slice(a.sin());
                }
            });
        }
        t.filled = true;
        &t.angles[..n_tok * width]
    }
}

/// Applies RoPE to every head of each of the `n_tok` token rows of `x`,
/// with the step's `angles` from [`RopeCache::angles`].
pub(crate) fn rope_rows(
    c: &Config,
    x: &mut [f32],
    n_tok: usize,
    n_heads: usize,
    angles: &[f32],
    threads: usize,
) {
    let hd = c.head_dim_k;
    let width = n_heads * hd;
    let pairs = c.n_rot / 2;
    if pairs == 0 || width == 0 {
        return;
    }
    par_rows(&mut x[..n_tok * width], width, threads, |first, rows| {
        let rows = rows.chunks_exact_mut(width);
        for (row, a) in rows.zip(angles[first * 2 * pairs..].chunks_exact(2 * pairs)) {
            let (cos, sin) = a.split_at(pairs);
            for head in row.chunks_exact_mut(hd) {
                ops::rope_apply(head, cos, sin, c.rope_style);
            }
        }
    });
}

/// Stores each segment's keys and values of layer `il` in its cache.
pub(crate) fn store_kv(c: &Config, il: usize, segs: &mut [Segment<'_>], k: &[f32], v: &[f32]) {
    let mut row = 0;
    for g in segs.iter_mut() {
        for i in 0..g.tokens.len() {
            let kr = &k[(row + i) * c.k_dim()..(row + i + 1) * c.k_dim()];
            let vr = &v[(row + i) * c.v_dim()..(row + i + 1) * c.v_dim()];
            g.cache.store(il, g.pos0 + i, kr, vr);
        }
        row += g.tokens.len();
    }
}

/// Final norm of the requested rows, then the output head: logits for
/// `outputs` (indices into the batch) into `s.logits`.
pub(crate) fn output_head(c: &Config, w: &Weights<'_>, s: &mut Scratch, outputs: &[usize]) {
    let n = c.n_embd;
    for (i, &t) in outputs.iter().enumerate() {
        s.out_rows[i * n..(i + 1) * n].copy_from_slice(&s.x[t * n..(t + 1) * n]);
    }
    norm_rows(
        &mut s.out_rows,
        outputs.len(),
        n,
        &w.output_norm,
        c.rms_eps,
        s.threads,
    );
    if let Some(p) = w.packed_output() {
        p.matmul(&s.out_rows, outputs.len(), &mut s.logits, &mut s.act, s.threads);
        return;
    }
    // Each output row alone, as llama.cpp computes the one output row of
    // a sequence's step.
    matmul_batches(
        &w.output,
        &s.out_rows,
        outputs.len(),
        &[],
        &mut s.logits,
        &mut s.act,
        s.threads,
    );
}

#[cfg(test)]
mod tests {
    use kernels::ops::RopeStyle;

    use super::*;
    use crate::config::Arch;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(7);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x as f32 / u32::MAX as f32) * 8.0 - 4.0
            })
            .collect()
    }

    /// A prompt's rows split across threads give the same bits as one
    /// thread, with rows of two segments at their own positions.
    #[test]
    fn row_steps_split_across_threads_equal_one_thread() {
        let c = Config {
            arch: Arch::Llama,
            n_vocab: 1,
            n_ctx_train: 128,
            n_layer: 1,
            n_embd: 512,
            n_head: 4,
            n_head_kv: 1,
            head_dim_k: 128,
            head_dim_v: 128,
            n_ff: 8,
            rms_eps: 1e-6,
            n_rot: 128,
            rope_style: RopeStyle::Neox,
            rope_base: 10000.0,
            rope_freq_scale: 1.0,
            rope_base_swa: 10000.0,
            sliding_window: None,
            swa_pattern: 0,
            attn_scale: 1.0,
        };
        let (mut c1, mut c2) = (KvCache::new(&c, 8), KvCache::new(&c, 8));
        let (t1, t2) = ([0u32; 30], [0u32; 50]);
        let segs = [
            Segment {
                tokens: &t1,
                pos0: 17,
                cache: &mut c1,
            },
            Segment {
                tokens: &t2,
                pos0: 0,
                cache: &mut c2,
            },
        ];
        let width = c.n_head * c.head_dim_k;
        let x = values(80 * width, 1);
        assert!(x.len() >= PAR_MIN_VALUES);
        let weight = values(width, 2);
        let up = values(x.len(), 3);
        let run = |threads: usize| {
            let mut r = x.clone();
            let mut cache = RopeCache::new(&c, 80);
            let angles = cache.angles(&c, &segs, 10000.0, 1.0, threads);
            rope_rows(&c, &mut r, 80, c.n_head, angles, threads);
            let mut n = x.clone();
            norm_rows(&mut n, 80, width, &weight, 1e-6, threads);
            let mut g = x.clone();
            gated_gelu(&mut g, &up, threads);
            [r, n, g].map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
        };
        let (one, two) = (run(1), run(2));
        for (what, (a, b)) in ["rope", "norm", "gelu"].iter().zip(one.iter().zip(&two)) {
            assert!(a == b, "{what}: 2 threads differ from 1");
        }
    }
}
