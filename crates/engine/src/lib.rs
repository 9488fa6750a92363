//! The scheduler: many sequences served together by continuous batching
//! over the model crate's forward pass, with admission control and the
//! energy of each step split between the requests in it.
//!
//! The engine runs on a thread of its own that owns the model, the KV cache
//! slots and the scratch space. Callers [`Engine::submit`] a [`Request`]
//! (prompt ids and sampling settings) and receive a [`Stream`] of
//! [`Event`]s: text as it is generated, then a [`Summary`] with the usage,
//! timings and energy. Dropping the stream cancels the request: its slot is
//! freed before the next step.
//!
//! Each step gathers, for every active sequence, either the next chunk of
//! its prompt or its one new token, runs them as one batch (the weights are
//! read once for all sequences: this is what makes four requests cost far
//! less than four times one), then samples for every sequence that needs a
//! token.

mod metrics;
mod request;
mod scheduler;
mod scripted;
mod slot;

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use gguf::GgufFile;
use tokenizer::Tokenizer;

pub use metrics::{Histogram, Metrics, MetricsSnapshot, LATENCY_BUCKETS};
pub use request::{
    Event, FinishReason, Request, Stream, Summary, Timings, TokenEvent, TokenLogprob, TopLogprob,
    MAX_TOP_LOGPROBS,
};

/// How the engine is sized.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Sequences decoded together (KV cache slots).
    pub parallel: usize,
    /// Context size of each slot, in tokens (clamped to the model's training context).
    pub n_ctx: usize,
    /// Threads for the matrix products.
    pub threads: usize,
    /// Most tokens one forward step takes (prompt chunks plus decode tokens).
    pub n_batch: usize,
    /// Requests waiting for a slot beyond which [`Engine::submit`] refuses.
    pub queue: usize,
    /// Grid intensity and PUE for the gCO2e of each answer.
    pub carbon: energy::Carbon,
    /// Where the model runs (`--device`).
    pub device: gpu::DeviceChoice,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            parallel: 4,
            n_ctx: 4096,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            n_batch: 256,
            queue: 64,
            carbon: energy::Carbon::default(),
            device: gpu::DeviceChoice::default(),
        }
    }
}

/// Why a request was refused before it ran.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("the prompt is empty")]
    EmptyPrompt,
    #[error("the prompt has {prompt} tokens; the context holds {n_ctx} and leaves no room to generate")]
    ContextOverflow { prompt: usize, n_ctx: usize },
    #[error("token id {token} is outside the vocabulary of {n_vocab}")]
    BadToken { token: u32, n_vocab: usize },
    #[error("too many requests waiting ({queued}); try again later")]
    QueueFull { queued: usize },
    #[error("the engine is shutting down")]
    ShuttingDown,
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot read {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: gguf::GgufError,
    },
    #[error("cannot load the model: {0}")]
    Model(#[from] model::ModelError),
    #[error("no usable tokenizer: {0}")]
    Tokenizer(#[from] tokenizer::TokenizerError),
    #[error("the tokenizer has {tokenizer} tokens but the embedding only {model} rows")]
    VocabMismatch { tokenizer: usize, model: usize },
    #[error("cannot start the engine thread: {0}")]
    Thread(#[from] std::io::Error),
    #[error("cannot run the model on the chosen device: {0}")]
    Device(String),
}

/// A running engine. Cheap to share (`Arc`) between request handlers.
#[derive(Debug)]
pub struct Engine {
    file: Arc<GgufFile>,
    tokenizer: Arc<Tokenizer>,
    n_ctx: usize,
    parallel: usize,
    carbon: energy::Carbon,
    energy_source: energy::Source,
    device: String,
    metrics: Arc<Metrics>,
    queue: scheduler::Queue,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Engine {
    /// Opens the model at `path` and starts the scheduler thread.
    pub fn start(path: &Path, config: EngineConfig) -> Result<Engine, EngineError> {
        let file = GgufFile::open(path).map_err(|source| EngineError::Open {
            path: path.display().to_string(),
            source,
        })?;
        scheduler::start(Arc::new(file), config)
    }

    /// An engine over the file at `path` that runs no model: every request
    /// is answered with the ids of `script` (then `stop`), through the same
    /// decoding, stop strings, cancellation and accounting as a real
    /// model. The file needs its metadata only, not its weights, so tests
    /// can drive the server with a reasoning model's tokenizer and template.
    pub fn scripted(path: &Path, script: Vec<u32>, config: EngineConfig) -> Result<Engine, EngineError> {
        let file = GgufFile::open(path).map_err(|source| EngineError::Open {
            path: path.display().to_string(),
            source,
        })?;
        scripted::start(Arc::new(file), script, config)
    }

    /// Queues `request`; events arrive on the returned stream. Refuses at
    /// once (never silently truncates) a prompt the context cannot hold,
    /// and a request when the queue is full. `max_tokens` is clamped to what
    /// the context leaves after the prompt.
    pub fn submit(&self, request: Request) -> Result<Stream, SubmitError> {
        self.queue.submit(request, self)
    }

    /// Stops taking requests, lets those admitted or queued finish, and
    /// joins the scheduler thread.
    pub fn shutdown(&self) {
        self.queue.close();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// The model file (metadata, chat template, tensor table).
    pub fn file(&self) -> &GgufFile {
        &self.file
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Tokens each request's context holds.
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Sequences decoded together.
    pub fn parallel(&self) -> usize {
        self.parallel
    }

    /// Where the energy figures come from (what the scheduler's meter reads).
    pub fn energy_source(&self) -> energy::Source {
        self.energy_source
    }

    /// What runs the model (`cpu`, `gpu (NAME, API)`), and why `auto`
    /// fell back to the CPU if it did.
    pub fn device(&self) -> &str {
        &self.device
    }

    pub fn carbon(&self) -> &energy::Carbon {
        &self.carbon
    }

    /// Counters and latency histograms, shared with the scheduler.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}
