//! Qwen2 (and the DeepSeek-R1 Qwen distills), after llama.cpp's
//! `src/models/qwen2.cpp`: the Llama graph with biases on the q, k and v
//! projections and NeoX-style RoPE (both set by the loader and the config),
//! so the blocks are Llama's.

use super::llama::{attention_block, ffn_block};
use super::{embed, output_head, Scratch};
use crate::config::Config;
use crate::kv_cache::KvCache;
use crate::weights::Weights;

/// One forward step over `tokens` at positions `pos0..`.
pub(crate) fn forward(
    c: &Config,
    w: &Weights<'_>,
    tokens: &[u32],
    pos0: usize,
    cache: &mut KvCache,
    s: &mut Scratch,
    outputs: &[usize],
) {
    let n_tok = tokens.len();
    embed(&w.token_embd, tokens, &mut s.x, c.n_embd, None);
    for (il, layer) in w.layers.iter().enumerate() {
        // Biases (bq, bk, bv) are loaded for Qwen2 and added inside the block.
        attention_block(c, il, layer, n_tok, pos0, cache, s);
        ffn_block(c, layer, n_tok, s);
    }
    output_head(c, w, s, outputs);
}
