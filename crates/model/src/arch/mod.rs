//! Building blocks shared by the architectures, and the scratch space they
//! work in. Each architecture file composes these into its own readable
//! forward pass; what differs between architectures stays in those files.
//!
//! Activations are row-major `[token][feature]` for a whole batch, so every
//! projection is one matrix-matrix product over the batch's tokens.

pub mod gemma3;
pub mod llama;
pub mod qwen2;

use half::f16;
use kernels::matmul::{matmul, Matrix};
use kernels::ops;

use crate::config::Config;
use crate::kv_cache::KvCache;
use crate::weights::Weights;

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
    pub(crate) q: Vec<f32>,
    pub(crate) k: Vec<f32>,
    pub(crate) v: Vec<f32>,
    /// Attention output before the output projection `[n_batch][n_head * head_dim_v]`.
    pub(crate) att: Vec<f32>,
    /// A block's output projected back to `n_embd` `[n_batch][n_embd]`.
    pub(crate) proj: Vec<f32>,
    pub(crate) gate: Vec<f32>,
    pub(crate) up: Vec<f32>,
    /// Attention scores of one head over the context.
    pub(crate) scores: Vec<f32>,
    /// One query head rounded to f16 precision.
    pub(crate) qh: Vec<f32>,
    /// Final-normed rows of the output positions `[n_outputs][n_embd]`.
    pub(crate) out_rows: Vec<f32>,
    /// `[n_outputs][n_vocab]`.
    pub(crate) logits: Vec<f32>,
    /// Activations converted for the integer dot products.
    pub(crate) act: Vec<u8>,
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
        let att_dim = c.n_head * c.head_dim_v;
        let mut act = weights.output.act_bytes(n_outputs);
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
            q: vec![0.0; n_batch * c.q_dim()],
            k: vec![0.0; n_batch * c.k_dim()],
            v: vec![0.0; n_batch * c.v_dim()],
            att: vec![0.0; n_batch * att_dim],
            proj: vec![0.0; n_batch * c.n_embd],
            gate: vec![0.0; n_batch * c.n_ff],
            up: vec![0.0; n_batch * c.n_ff],
            scores: vec![0.0; n_ctx.max(1)],
            qh: vec![0.0; c.head_dim_k],
            out_rows: vec![0.0; n_outputs * c.n_embd],
            logits: vec![0.0; n_outputs * c.n_vocab],
            act: vec![0; act],
        }
    }

    /// Largest batch one forward step takes.
    pub fn n_batch(&self) -> usize {
        self.n_batch
    }
}

/// `x[t] = embedding(tokens[t]) * scale` (ggml `get_rows`, then Gemma's
/// `sqrt(n_embd)` scaling where `scale` is given).
pub(crate) fn embed(w: &Matrix<'_>, tokens: &[u32], x: &mut [f32], n_embd: usize, scale: Option<f32>) {
    for (row, &tok) in x.chunks_exact_mut(n_embd).zip(tokens) {
        w.dequantize_row(tok as usize, row);
        if let Some(s) = scale {
            row.iter_mut().for_each(|v| *v *= s);
        }
    }
}

/// `out = x · Wᵀ (+ bias)` over `n_tok` rows.
pub(crate) fn project(
    w: &Matrix<'_>,
    bias: Option<&[f32]>,
    x: &[f32],
    n_tok: usize,
    out: &mut [f32],
    act: &mut [u8],
    threads: usize,
) {
    matmul(w, x, n_tok, out, act, threads);
    if let Some(b) = bias {
        for row in out[..n_tok * w.rows].chunks_exact_mut(w.rows) {
            ops::add_assign(row, b);
        }
    }
}

/// RMS-normalises each `width`-wide row of `x[..n_rows * width]` in place.
pub(crate) fn norm_rows(x: &mut [f32], n_rows: usize, width: usize, weight: &[f32], eps: f32) {
    for row in x[..n_rows * width].chunks_exact_mut(width) {
        ops::rms_norm(row, weight, eps);
    }
}

/// Normalises `x` rows into `out` (the pre-norm of a block).
pub(crate) fn norm_rows_into(
    out: &mut [f32],
    x: &[f32],
    n_tok: usize,
    width: usize,
    weight: &[f32],
    eps: f32,
) {
    out[..n_tok * width].copy_from_slice(&x[..n_tok * width]);
    norm_rows(out, n_tok, width, weight, eps);
}

/// Applies RoPE to every head of every token; token `t` is at `pos0 + t`.
pub(crate) fn rope_rows(
    c: &Config,
    x: &mut [f32],
    n_tok: usize,
    n_heads: usize,
    pos0: usize,
    base: f32,
    freq_scale: f32,
) {
    let hd = c.head_dim_k;
    for (t, row) in x[..n_tok * n_heads * hd]
        .chunks_exact_mut(n_heads * hd)
        .enumerate()
    {
        for head in row.chunks_exact_mut(hd) {
            ops::rope(head, pos0 + t, c.n_rot, base, freq_scale, c.rope_style);
        }
    }
}

/// Causal grouped-query attention for `n_tok` queries at `pos0..`, over the
/// cache's positions `0..=pos` (or the last `window` of them). Follows
/// llama.cpp's CPU path without flash attention: queries are rounded to f16
/// to meet the f16 keys, scores are scaled by `kq_scale` and soft-maxed in
/// f32, probabilities are rounded to f16 to meet the f16 values.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attention(
    c: &Config,
    il: usize,
    cache: &KvCache,
    q: &[f32],
    n_tok: usize,
    pos0: usize,
    kq_scale: f32,
    window: Option<usize>,
    scores: &mut [f32],
    qh: &mut [f32],
    out: &mut [f32],
) {
    let (hk, hv) = (c.head_dim_k, c.head_dim_v);
    let group = c.n_head / c.n_head_kv;
    for t in 0..n_tok {
        let pos = pos0 + t;
        let first = window.map_or(0, |w| (pos + 1).saturating_sub(w));
        for h in 0..c.n_head {
            let kvh = h / group;
            let qrow = &q[(t * c.n_head + h) * hk..(t * c.n_head + h + 1) * hk];
            for (d, &s) in qh.iter_mut().zip(qrow) {
                *d = f16::from_f32(s).to_f32();
            }
            let sc = &mut scores[first..=pos];
            for (j, s) in sc.iter_mut().enumerate() {
                let key = &cache.key(il, first + j)[kvh * hk..(kvh + 1) * hk];
                let dot: f32 = qh.iter().zip(key).map(|(&a, &b)| a * b.to_f32()).sum();
                *s = dot * kq_scale;
            }
            ops::softmax(sc);
            let o = &mut out[(t * c.n_head + h) * hv..(t * c.n_head + h + 1) * hv];
            o.fill(0.0);
            for (j, &p) in sc.iter().enumerate() {
                let p = f16::from_f32(p).to_f32();
                let val = &cache.value(il, first + j)[kvh * hv..(kvh + 1) * hv];
                for (od, &vd) in o.iter_mut().zip(val) {
                    *od += p * vd.to_f32();
                }
            }
        }
    }
}

/// Final norm of the requested rows, then the output head: logits for
/// `outputs` (indices into the batch) into `s.logits`.
pub(crate) fn output_head(c: &Config, w: &Weights<'_>, s: &mut Scratch, outputs: &[usize]) {
    let n = c.n_embd;
    for (i, &t) in outputs.iter().enumerate() {
        s.out_rows[i * n..(i + 1) * n].copy_from_slice(&s.x[t * n..(t + 1) * n]);
    }
    norm_rows(&mut s.out_rows, outputs.len(), n, &w.output_norm, c.rms_eps);
    matmul(
        &w.output,
        &s.out_rows,
        outputs.len(),
        &mut s.logits,
        &mut s.act,
        s.threads,
    );
}
