//! The forward pass: model configuration read from GGUF metadata, weights as
//! views into the mapped file, the KV cache, and the sampler.
//!
//! ```no_run
//! # fn demo() -> Result<(), model::ModelError> {
//! let file = gguf::GgufFile::open("gemma-3-270m-q4_k_m.gguf")?;
//! let model = model::Model::load(&file)?;
//! let mut cache = model::KvCache::new(model.config(), 512);
//! let mut scratch = model.scratch(64, 512, 1, 2);
//! let logits = model.eval(&[2, 9259], 0, &mut cache, &mut scratch)?;
//! # let _ = logits; Ok(()) }
//! ```
//!
//! The caller owns the KV cache and the scratch space (so an engine can keep
//! one per sequence); a forward step takes a batch of tokens at once and
//! computes logits only for the batch rows asked for.

pub mod arch;
pub mod backend;
pub mod config;
pub mod error;
pub mod kv_cache;
pub mod sampler;
pub mod weights;

use gguf::GgufFile;

pub use arch::{Scratch, Segment};
pub use backend::{Backend, BackendError, CpuBackend, Step};
pub use config::{Arch, Config};
pub use error::{ModelError, Result};
pub use kv_cache::KvCache;
pub use sampler::{Sampler, SamplerConfig, StopStrings};
pub use weights::Weights;

/// A loaded model: configuration and weights borrowed from the GGUF file.
#[derive(Debug)]
pub struct Model<'a> {
    config: Config,
    weights: Weights<'a>,
}

impl<'a> Model<'a> {
    /// Reads the configuration and checks every tensor's presence and shape.
    pub fn load(file: &'a GgufFile) -> Result<Model<'a>> {
        let mut config = Config::from_metadata(file.metadata())?;
        let weights = Weights::load(file, &mut config)?;
        Ok(Model { config, weights })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn weights(&self) -> &Weights<'a> {
        &self.weights
    }

    /// Scratch for batches of up to `n_batch` tokens in a context of `n_ctx`,
    /// producing up to `n_outputs` logit rows per step, on `threads` threads.
    pub fn scratch(&self, n_batch: usize, n_ctx: usize, n_outputs: usize, threads: usize) -> Scratch {
        Scratch::new(&self.config, &self.weights, n_batch, n_ctx, n_outputs, threads)
    }

    /// One forward step: `tokens` occupy positions `pos0..pos0 + len` (the
    /// cache must already hold `0..pos0`). Returns the logits of the batch
    /// rows listed in `outputs`, `n_vocab` each, in that order.
    pub fn forward<'s>(
        &self,
        tokens: &[u32],
        pos0: usize,
        cache: &mut KvCache,
        s: &'s mut Scratch,
        outputs: &[usize],
    ) -> Result<&'s [f32]> {
        self.forward_batch(&mut [Segment { tokens, pos0, cache }], s, outputs)
    }

    /// One forward step over several sequences at once, each with its own
    /// cache: their tokens are stacked into one batch, so every weight is
    /// read once for all of them (this is what continuous batching buys),
    /// while attention stays within each sequence. `outputs` index rows of
    /// the stacked batch (segment after segment); their logits come back in
    /// that order.
    pub fn forward_batch<'s>(
        &self,
        segments: &mut [Segment<'_>],
        s: &'s mut Scratch,
        outputs: &[usize],
    ) -> Result<&'s [f32]> {
        let c = &self.config;
        let n_tok: usize = segments.iter().map(|g| g.tokens.len()).sum();
        if n_tok > s.n_batch {
            return Err(ModelError::BatchTooLarge {
                n_tok,
                n_batch: s.n_batch,
            });
        }
        for g in segments.iter() {
            let needed = g.pos0 + g.tokens.len();
            if needed > g.cache.n_ctx() || needed > s.scores.len() {
                return Err(ModelError::ContextFull {
                    needed,
                    n_ctx: g.cache.n_ctx().min(s.scores.len()),
                });
            }
            if g.cache.n_layer() != c.n_layer || g.cache.dims() != (c.k_dim(), c.v_dim()) {
                return Err(ModelError::CacheMismatch);
            }
            if let Some(&token) = g.tokens.iter().find(|&&t| t as usize >= c.n_vocab) {
                return Err(ModelError::TokenOutOfRange {
                    token,
                    n_vocab: c.n_vocab,
                });
            }
        }
        if outputs.len() > s.n_outputs || outputs.iter().any(|&o| o >= n_tok) {
            return Err(ModelError::TooManyOutputs {
                requested: outputs.len(),
                max: s.n_outputs.min(n_tok),
            });
        }
        if n_tok == 0 {
            return Ok(&s.logits[..0]);
        }
        let w = &self.weights;
        s.set_segments(segments);
        match c.arch {
            Arch::Gemma3 => arch::gemma3::forward(c, w, segments, s, outputs),
            Arch::Qwen2 => arch::qwen2::forward(c, w, segments, s, outputs),
            Arch::Llama => arch::llama::forward(c, w, segments, s, outputs),
        }
        Ok(&s.logits[..outputs.len() * c.n_vocab])
    }

    /// Feeds `tokens` (a whole prompt, or one new token) from `pos0` in
    /// batches as large as the scratch allows and returns the last token's
    /// logits.
    pub fn eval<'s>(
        &self,
        tokens: &[u32],
        pos0: usize,
        cache: &mut KvCache,
        s: &'s mut Scratch,
    ) -> Result<&'s [f32]> {
        let n_batch = s.n_batch;
        let n_chunks = tokens.len().div_ceil(n_batch);
        let mut pos = pos0;
        for (i, chunk) in tokens.chunks(n_batch).enumerate() {
            if i + 1 == n_chunks {
                return self.forward(chunk, pos, cache, s, &[chunk.len() - 1]);
            }
            self.forward(chunk, pos, cache, s, &[])?;
            pos += chunk.len();
        }
        Ok(&s.logits[..0])
    }
}
