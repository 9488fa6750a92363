//! The seam between the callers that drive a model (the CLI, the engine)
//! and the device that runs it. A backend owns its KV caches (one per
//! slot), because a GPU keeps them in its own memory; callers name a slot
//! and the positions its new tokens take, and get logits back. The CPU
//! path ([`CpuBackend`]) is the reference every other backend is checked
//! against; wrapping it costs one virtual call per forward step.

use std::fmt;

use crate::arch::{Scratch, Segment};
use crate::config::Config;
use crate::error::ModelError;
use crate::kv_cache::KvCache;
use crate::Model;

/// One sequence's part of a forward step: `tokens` go to positions
/// `pos0..pos0 + len` of slot `slot`'s cache, which holds `0..pos0` already.
#[derive(Debug, Clone, Copy)]
pub struct Step<'t> {
    pub slot: usize,
    pub tokens: &'t [u32],
    pub pos0: usize,
}

/// Why a backend could not run a step (or could not be built).
#[derive(Debug)]
pub enum BackendError {
    /// The step itself is invalid, as the CPU path reports it.
    Model(ModelError),
    /// The device failed or lacks something the model needs; the text
    /// names what.
    Device(String),
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::Model(e) => e.fmt(f),
            BackendError::Device(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BackendError::Model(e) => Some(e),
            BackendError::Device(_) => None,
        }
    }
}

impl From<ModelError> for BackendError {
    fn from(e: ModelError) -> Self {
        BackendError::Model(e)
    }
}

/// A model loaded on a device, with `n_slots` KV caches of `n_ctx` positions.
pub trait Backend: Send {
    fn config(&self) -> &Config;

    /// What runs the model, for people: `cpu`, or `gpu (NAME, API)`.
    fn device(&self) -> &str;

    /// Most tokens one [`Backend::forward`] takes, over all steps.
    fn n_batch(&self) -> usize;

    /// Positions each slot's cache holds.
    fn n_ctx(&self) -> usize;

    /// One forward step over several sequences (at most one step per slot):
    /// their tokens are stacked into one batch in order, and `outputs`
    /// indexes rows of that batch; their logits come back in that order,
    /// `n_vocab` each.
    fn forward(&mut self, steps: &[Step<'_>], outputs: &[usize]) -> Result<&[f32], BackendError>;

    /// Feeds `tokens` of slot `slot` from `pos0` in batches as large as
    /// [`Backend::n_batch`] and returns the last token's logits.
    fn eval(&mut self, slot: usize, tokens: &[u32], pos0: usize) -> Result<&[f32], BackendError> {
        let n_batch = self.n_batch();
        let n_chunks = tokens.len().div_ceil(n_batch);
        let mut pos = pos0;
        for (i, chunk) in tokens.chunks(n_batch).enumerate() {
            let step = [Step {
                slot,
                tokens: chunk,
                pos0: pos,
            }];
            if i + 1 == n_chunks {
                return self.forward(&step, &[chunk.len() - 1]);
            }
            self.forward(&step, &[])?;
            pos += chunk.len();
        }
        Ok(&[])
    }
}

/// The CPU reference: [`Model::forward_batch`] over caches it owns.
#[derive(Debug)]
pub struct CpuBackend<'a> {
    model: Model<'a>,
    caches: Vec<KvCache>,
    scratch: Scratch,
    n_ctx: usize,
}

impl<'a> CpuBackend<'a> {
    /// `n_slots` caches of `n_ctx` positions; steps of up to `n_batch`
    /// tokens with up to `n_outputs` logit rows, on `threads` threads.
    pub fn new(
        model: Model<'a>,
        n_slots: usize,
        n_ctx: usize,
        n_batch: usize,
        n_outputs: usize,
        threads: usize,
    ) -> CpuBackend<'a> {
        let caches = (0..n_slots.max(1))
            .map(|_| KvCache::new(model.config(), n_ctx))
            .collect();
        let scratch = model.scratch(n_batch, n_ctx, n_outputs, threads);
        // Repack the output head now rather than in the first request.
        let _ = model.weights().packed_output();
        CpuBackend {
            model,
            caches,
            scratch,
            n_ctx,
        }
    }
}

impl Backend for CpuBackend<'_> {
    fn config(&self) -> &Config {
        self.model.config()
    }

    fn device(&self) -> &str {
        "cpu"
    }

    fn n_batch(&self) -> usize {
        self.scratch.n_batch()
    }

    fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    fn forward(&mut self, steps: &[Step<'_>], outputs: &[usize]) -> Result<&[f32], BackendError> {
        let mut by_slot: Vec<Option<&mut KvCache>> = self.caches.iter_mut().map(Some).collect();
        let mut segments = Vec::with_capacity(steps.len());
        for s in steps {
            let cache = by_slot
                .get_mut(s.slot)
                .and_then(Option::take)
                .ok_or_else(|| BackendError::Device(format!("slot {} is missing or used twice", s.slot)))?;
            segments.push(Segment {
                tokens: s.tokens,
                pos0: s.pos0,
                cache,
            });
        }
        Ok(self
            .model
            .forward_batch(&mut segments, &mut self.scratch, outputs)?)
    }
}
