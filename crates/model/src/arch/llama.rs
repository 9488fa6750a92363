//! Llama (also Mistral and Lucie, which GGUF files label `llama`), after
//! llama.cpp's `src/models/llama.cpp`: pre-norm RMSNorm, grouped-query
//! attention with normal (adjacent-pair) RoPE and scores scaled by
//! `1/sqrt(head_dim)`, SwiGLU feed-forward. The output head falls back to
//! the token embedding when the file has no `output.weight` (tied).
//!
//! Qwen2 is the same graph with q/k/v biases and NeoX RoPE; see
//! [`super::qwen2`], which runs this forward pass.

use kernels::ops;

use super::{
    attention, embed, norm_rows_into, output_head, project, rope_rows, store_kv, AttnBuffers, FfnBuffers,
    Scratch, Segment,
};
use crate::config::Config;
use crate::weights::{LayerWeights, Weights};

/// One forward step over the segments' tokens (each at its own positions).
pub(crate) fn forward(
    c: &Config,
    w: &Weights<'_>,
    segs: &mut [Segment<'_>],
    s: &mut Scratch,
    outputs: &[usize],
) {
    let n_tok = segs.iter().map(|g| g.tokens.len()).sum();
    embed(w, segs, &mut s.x, c.n_embd, None);
    for (il, layer) in w.layers.iter().enumerate() {
        attention_block(c, il, layer, n_tok, segs, s);
        ffn_block(c, layer, n_tok, s);
    }
    output_head(c, w, s, outputs);
}

/// `x += wo(attn(rope(wq·norm(x) + bq), rope(wk·norm(x) + bk), wv·norm(x) + bv))`;
/// biases are present only for Qwen2, and the RoPE style comes from the config.
fn attention_block(
    c: &Config,
    il: usize,
    l: &LayerWeights<'_>,
    n_tok: usize,
    segs: &mut [Segment<'_>],
    s: &mut Scratch,
) {
    let t = s.threads;
    let AttnBuffers { q, k, v, att, proj } = s.block.attn();
    norm_rows_into(
        &mut s.xb,
        &s.x,
        n_tok,
        c.n_embd,
        &l.attn_norm,
        c.rms_eps,
        s.threads,
    );
    project(&l.wq, l.bq.as_deref(), &s.xb, &s.seg_lens, q, &mut s.act, t);
    project(&l.wk, l.bk.as_deref(), &s.xb, &s.seg_lens, k, &mut s.act, t);
    project(&l.wv, l.bv.as_deref(), &s.xb, &s.seg_lens, v, &mut s.act, t);

    let (base, freq_scale) = c.rope_for_layer(il);
    let angles = s.rope.angles(c, segs, base, freq_scale, s.threads);
    rope_rows(c, q, n_tok, c.n_head, angles, s.threads);
    rope_rows(c, k, n_tok, c.n_head_kv, angles, s.threads);

    store_kv(c, il, segs, k, v);
    attention(c, il, segs, q, c.attn_scale, None, &s.scores, att, s.threads);

    project(&l.wo, None, att, &s.seg_lens, proj, &mut s.act, t);
    ops::add_assign(&mut s.x[..n_tok * c.n_embd], &proj[..n_tok * c.n_embd]);
}

/// `x += down(silu(gate(norm(x))) * up(norm(x)))`.
fn ffn_block(c: &Config, l: &LayerWeights<'_>, n_tok: usize, s: &mut Scratch) {
    let t = s.threads;
    let FfnBuffers { gate, up } = s.block.ffn();
    norm_rows_into(
        &mut s.xb,
        &s.x,
        n_tok,
        c.n_embd,
        &l.ffn_norm,
        c.rms_eps,
        s.threads,
    );
    project(&l.ffn_gate, None, &s.xb, &s.seg_lens, gate, &mut s.act, t);
    project(&l.ffn_up, None, &s.xb, &s.seg_lens, up, &mut s.act, t);
    ops::gated(&mut gate[..n_tok * c.n_ff], &up[..n_tok * c.n_ff], ops::silu);
    // `up` is spent: the down projection takes its place.
    let proj = up;
    project(&l.ffn_down, None, gate, &s.seg_lens, proj, &mut s.act, t);
    ops::add_assign(&mut s.x[..n_tok * c.n_embd], &proj[..n_tok * c.n_embd]);
}
