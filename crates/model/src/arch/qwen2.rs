//! Qwen2 (and the DeepSeek-R1 Qwen distills), after llama.cpp's
//! `src/models/qwen2.cpp`: the Llama graph with biases on the q, k and v
//! projections and NeoX-style RoPE. Both differences are data (the loader
//! reads the biases, the config picks the RoPE style), so the forward pass
//! is Llama's; this file keeps the architecture's own place and its notes.

use super::{Scratch, Segment};
use crate::config::Config;
use crate::weights::Weights;

/// One forward step over the segments' tokens: Llama's, whose
/// attention block adds bq, bk and bv when the file has them.
pub(crate) fn forward(
    c: &Config,
    w: &Weights<'_>,
    segs: &mut [Segment<'_>],
    s: &mut Scratch,
    outputs: &[usize],
) {
    super::llama::forward(c, w, segs, s, outputs);
}
