//! Llama (also Mistral and Lucie, which GGUF files label `llama`), after
//! llama.cpp's `src/models/llama.cpp`: pre-norm RMSNorm, grouped-query
//! attention with normal (adjacent-pair) RoPE and scores scaled by
//! `1/sqrt(head_dim)`, SwiGLU feed-forward. The output head falls back to
//! the token embedding when the file has no `output.weight` (tied).
//!
//! Qwen2 is the same graph with q/k/v biases and NeoX RoPE; see
//! [`super::qwen2`], which runs this forward pass.

use kernels::ops;

use super::{attention, embed, norm_rows_into, output_head, project, rope_rows, store_kv, Scratch, Segment};
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
    embed(&w.token_embd, segs, &mut s.x, c.n_embd, None);
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
    norm_rows_into(&mut s.xb, &s.x, n_tok, c.n_embd, &l.attn_norm, c.rms_eps);
    project(
        &l.wq,
        l.bq.as_deref(),
        &s.xb,
        &s.seg_lens,
        &mut s.q,
        &mut s.act,
        t,
    );
    project(
        &l.wk,
        l.bk.as_deref(),
        &s.xb,
        &s.seg_lens,
        &mut s.k,
        &mut s.act,
        t,
    );
    project(
        &l.wv,
        l.bv.as_deref(),
        &s.xb,
        &s.seg_lens,
        &mut s.v,
        &mut s.act,
        t,
    );

    let (base, freq_scale) = c.rope_for_layer(il);
    rope_rows(c, &mut s.q, segs, c.n_head, base, freq_scale);
    rope_rows(c, &mut s.k, segs, c.n_head_kv, base, freq_scale);

    store_kv(c, il, segs, &s.k, &s.v);
    attention(
        c,
        il,
        segs,
        &s.q,
        c.attn_scale,
        None,
        &s.scores,
        &mut s.att,
        s.threads,
    );

    project(&l.wo, None, &s.att, &s.seg_lens, &mut s.proj, &mut s.act, t);
    ops::add_assign(&mut s.x[..n_tok * c.n_embd], &s.proj[..n_tok * c.n_embd]);
}

/// `x += down(silu(gate(norm(x))) * up(norm(x)))`.
fn ffn_block(c: &Config, l: &LayerWeights<'_>, n_tok: usize, s: &mut Scratch) {
    let t = s.threads;
    norm_rows_into(&mut s.xb, &s.x, n_tok, c.n_embd, &l.ffn_norm, c.rms_eps);
    project(&l.ffn_gate, None, &s.xb, &s.seg_lens, &mut s.gate, &mut s.act, t);
    project(&l.ffn_up, None, &s.xb, &s.seg_lens, &mut s.up, &mut s.act, t);
    ops::gated(&mut s.gate[..n_tok * c.n_ff], &s.up[..n_tok * c.n_ff], ops::silu);
    project(
        &l.ffn_down,
        None,
        &s.gate,
        &s.seg_lens,
        &mut s.proj,
        &mut s.act,
        t,
    );
    ops::add_assign(&mut s.x[..n_tok * c.n_embd], &s.proj[..n_tok * c.n_embd]);
}
