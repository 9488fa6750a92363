//! Gemma 3 (text), after llama.cpp's `src/models/gemma3.cpp` (iSWA variant):
//!
//! - embeddings scaled by `sqrt(n_embd)`;
//! - RMSNorm before *and after* both attention and feed-forward (the GGUF
//!   converter already folded Gemma's `1 + w` into the stored norm weights);
//! - per-head RMSNorm of queries and keys, NeoX RoPE with base 10000 on
//!   sliding-window layers and `rope.freq_base` on every sixth (global) layer;
//! - queries scaled by `1/sqrt(head_dim)` before attention;
//! - GELU-gated feed-forward; no final logit soft-capping in the iSWA graph.

use kernels::ops;

use super::{
    attention, embed, gated_gelu, norm_rows, norm_rows_into, output_head, project, rope_rows, store_kv,
    AttnBuffers, FfnBuffers, Scratch, Segment,
};
use crate::config::Config;
use crate::weights::{LayerWeights, Weights};

/// One forward step over the segments' tokens (each at its own positions); logits of the
/// batch rows in `outputs` land in `s.logits`.
pub(crate) fn forward(
    c: &Config,
    w: &Weights<'_>,
    segs: &mut [Segment<'_>],
    s: &mut Scratch,
    outputs: &[usize],
) {
    let n_tok = segs.iter().map(|g| g.tokens.len()).sum();
    let embd_scale = (c.n_embd as f32).sqrt();
    embed(w, segs, &mut s.x, c.n_embd, Some(embd_scale));
    for (il, layer) in w.layers.iter().enumerate() {
        attention_block(c, il, layer, n_tok, segs, s);
        ffn_block(c, layer, n_tok, s);
    }
    output_head(c, w, s, outputs);
}

/// `x += post_norm(attn(norm(x)))`.
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
    project(&l.wq, None, &s.xb, &s.seg_lens, q, &mut s.act, t);
    project(&l.wk, None, &s.xb, &s.seg_lens, k, &mut s.act, t);
    project(&l.wv, None, &s.xb, &s.seg_lens, v, &mut s.act, t);

    // QK-norm: each head on its own, with one shared weight vector.
    if let (Some(qn), Some(kn)) = (&l.q_norm, &l.k_norm) {
        norm_rows(q, n_tok * c.n_head, c.head_dim_k, qn, c.rms_eps, s.threads);
        norm_rows(k, n_tok * c.n_head_kv, c.head_dim_k, kn, c.rms_eps, s.threads);
    }
    let (base, freq_scale) = c.rope_for_layer(il);
    let angles = s.rope.angles(c, segs, base, freq_scale, s.threads);
    rope_rows(c, q, n_tok, c.n_head, angles, s.threads);
    rope_rows(c, k, n_tok, c.n_head_kv, angles, s.threads);
    q[..n_tok * c.q_dim()].iter_mut().for_each(|v| *v *= c.attn_scale);

    store_kv(c, il, segs, k, v);
    let window = if c.is_swa_layer(il) {
        c.sliding_window
    } else {
        None
    };
    attention(c, il, segs, q, 1.0, window, &s.scores, att, s.threads);

    project(&l.wo, None, att, &s.seg_lens, proj, &mut s.act, t);
    if let Some(pn) = &l.post_attn_norm {
        norm_rows(proj, n_tok, c.n_embd, pn, c.rms_eps, s.threads);
    }
    ops::add_assign(&mut s.x[..n_tok * c.n_embd], &proj[..n_tok * c.n_embd]);
}

/// `x += post_norm(down(gelu(gate(norm(x))) * up(norm(x))))`.
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
    gated_gelu(&mut gate[..n_tok * c.n_ff], &up[..n_tok * c.n_ff], t);
    // `up` is spent: the down projection takes its place.
    let proj = up;
    project(&l.ffn_down, None, gate, &s.seg_lens, proj, &mut s.act, t);
    if let Some(pn) = &l.post_ffn_norm {
        norm_rows(proj, n_tok, c.n_embd, pn, c.rms_eps, s.threads);
    }
    ops::add_assign(&mut s.x[..n_tok * c.n_embd], &proj[..n_tok * c.n_embd]);
}
