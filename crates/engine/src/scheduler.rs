//! The admission queue and the scheduler loop of the real engine.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use energy::{Meter, MeterConfig, StepWork, TokenWeights};
use gguf::GgufFile;
use model::{Backend, Model, Step};
use tokenizer::Tokenizer;
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::request::{FinishReason, Request, Stream};
use crate::slot::{Need, Pending, Seq};
use crate::{Engine, EngineConfig, EngineError, SubmitError};

#[derive(Debug, Default)]
struct QueueState {
    pending: VecDeque<Pending>,
    closed: bool,
}

/// Requests waiting for a slot: bounded, so overload is refused at once
/// rather than queued without end.
#[derive(Debug, Clone)]
pub(crate) struct Queue {
    inner: Arc<(Mutex<QueueState>, Condvar)>,
    cap: usize,
    n_vocab: usize,
    metrics: Arc<Metrics>,
}

impl Queue {
    pub(crate) fn new(cap: usize, n_vocab: usize, metrics: Arc<Metrics>) -> Queue {
        Queue {
            inner: Arc::new((Mutex::new(QueueState::default()), Condvar::new())),
            cap,
            n_vocab,
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn submit(&self, request: Request, engine: &Engine) -> Result<Stream, SubmitError> {
        let n_ctx = engine.n_ctx;
        if request.prompt.is_empty() {
            return Err(SubmitError::EmptyPrompt);
        }
        if request.prompt.len() >= n_ctx {
            return Err(SubmitError::ContextOverflow {
                prompt: request.prompt.len(),
                n_ctx,
            });
        }
        if let Some(&token) = request.prompt.iter().find(|&&t| t as usize >= self.n_vocab) {
            return Err(SubmitError::BadToken {
                token,
                n_vocab: self.n_vocab,
            });
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let mut st = self.lock();
        if st.closed {
            return Err(SubmitError::ShuttingDown);
        }
        if st.pending.len() >= self.cap {
            return Err(SubmitError::QueueFull {
                queued: st.pending.len(),
            });
        }
        st.pending.push_back(Pending {
            request,
            tx,
            submitted: Instant::now(),
        });
        self.metrics.add_queued(1);
        drop(st);
        self.inner.1.notify_one();
        Ok(Stream { rx })
    }

    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.inner.1.notify_all();
    }

    /// Moves waiting requests into `free` slots; blocks while there is
    /// nothing at all to do. Returns false once closed and drained.
    pub(crate) fn admit<'t>(
        &self,
        slots: &mut [Option<Seq<'t>>],
        tokenizer: &'t Tokenizer,
        n_vocab: usize,
        n_ctx: usize,
    ) -> bool {
        let mut st = self.lock();
        loop {
            // Requests whose client left while they waited go first.
            let before = st.pending.len();
            st.pending.retain(|p| !p.tx.is_closed());
            self.metrics.add_queued(st.pending.len() as i64 - before as i64);
            for slot in slots.iter_mut().filter(|s| s.is_none()) {
                let Some(p) = st.pending.pop_front() else { break };
                self.metrics.add_queued(-1);
                *slot = Some(Seq::admit(p, tokenizer, n_vocab, n_ctx));
            }
            if slots.iter().any(Option::is_some) {
                return true;
            }
            // Idle: no slot is occupied.
            self.metrics.set_running(0);
            if st.closed && st.pending.is_empty() {
                return false;
            }
            st = self.inner.1.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Checks the model and starts the scheduler thread.
pub(crate) fn start(file: Arc<GgufFile>, cfg: EngineConfig) -> Result<Engine, EngineError> {
    let tokenizer = Arc::new(Tokenizer::from_metadata(file.metadata())?);
    let (n_vocab, n_ctx) = {
        let model = Model::load(&file)?;
        let c = model.config();
        if tokenizer.n_vocab() > c.n_vocab {
            return Err(EngineError::VocabMismatch {
                tokenizer: tokenizer.n_vocab(),
                model: c.n_vocab,
            });
        }
        (c.n_vocab, cfg.n_ctx.clamp(2, c.n_ctx_train.max(2)))
    };
    let metrics = Arc::new(Metrics::default());
    let queue = Queue::new(cfg.queue.max(1), n_vocab, metrics.clone());
    let parallel = cfg.parallel.max(1);
    let carbon = cfg.carbon;
    // The backend borrows the mapped file, so the scheduler thread builds
    // it, and reports back what it chose (or why it could not) before
    // `start` returns.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = {
        let (file, tokenizer, queue, metrics) =
            (file.clone(), tokenizer.clone(), queue.clone(), metrics.clone());
        let cfg = EngineConfig {
            parallel,
            n_ctx,
            ..cfg
        };
        std::thread::Builder::new()
            .name("sobre-engine".into())
            .spawn(move || {
                let model = match Model::load(&file) {
                    Ok(m) => m,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let opts = gpu::Options {
                    device: cfg.device,
                    n_slots: cfg.parallel,
                    n_ctx: cfg.n_ctx,
                    n_batch: cfg.n_batch.max(cfg.parallel),
                    n_outputs: cfg.parallel,
                    threads: cfg.threads,
                };
                let selected = match gpu::select(model, &opts) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let meter = Meter::new(&MeterConfig {
                    device: if selected.nvidia {
                        energy::Device::NvidiaGpu
                    } else {
                        energy::Device::Cpu
                    },
                    ..MeterConfig::default()
                });
                let device = match &selected.fallback {
                    Some(why) => format!("{} ({why})", selected.backend.device()),
                    None => selected.backend.device().to_string(),
                };
                let _ = ready_tx.send(Ok((device, meter.source())));
                let mut backend = selected.backend;
                run(&mut *backend, &tokenizer, &queue, &cfg, &meter, &metrics)
            })?
    };
    let (device, energy_source) = match ready_rx.recv() {
        Ok(Ok(ready)) => ready,
        Ok(Err(e)) => {
            let _ = thread.join();
            return Err(EngineError::Device(e));
        }
        Err(_) => {
            let _ = thread.join();
            return Err(EngineError::Device(
                "the engine thread stopped while loading the model".into(),
            ));
        }
    };
    Ok(Engine {
        file,
        tokenizer,
        n_ctx,
        parallel,
        carbon,
        energy_source,
        device,
        metrics,
        queue,
        thread: Mutex::new(Some(thread)),
    })
}

/// A sequence's part of one step.
#[derive(Debug, Clone, Copy)]
struct Part {
    slot: usize,
    /// Tokens fed: prompt `from..to`, or the one decode token.
    from: usize,
    to: usize,
    /// The step yields logits for this sequence (prompt done, or decoding).
    output: bool,
}

/// The scheduler loop: admit, build one batch from every active sequence,
/// run it, sample, repeat; until the queue is closed and drained.
fn run(
    backend: &mut dyn Backend,
    tokenizer: &Tokenizer,
    queue: &Queue,
    cfg: &EngineConfig,
    meter: &Meter,
    metrics: &Metrics,
) {
    let n_vocab = backend.config().n_vocab;
    let n_batch = backend.n_batch().max(cfg.parallel);
    let weights = TokenWeights::default();
    let mut slots: Vec<Option<Seq<'_>>> = (0..cfg.parallel).map(|_| None).collect();
    let mut parts: Vec<Part> = Vec::with_capacity(cfg.parallel);
    let mut outputs: Vec<usize> = Vec::with_capacity(cfg.parallel);
    let mut decode_tokens: Vec<u32> = vec![0; cfg.parallel];

    while queue.admit(&mut slots, tokenizer, n_vocab, cfg.n_ctx) {
        // Drop what was cancelled, or asked for nothing.
        for slot in slots.iter_mut() {
            if slot.as_ref().is_some_and(|s| s.cancelled() || s.wants_nothing()) {
                if let Some(s) = slot.take() {
                    s.finish(FinishReason::Length, &cfg.carbon, meter.source(), metrics);
                }
            }
        }
        metrics.set_running(slots.iter().filter(|s| s.is_some()).count());

        // Decode tokens first (one each), then prompt chunks in what is left.
        parts.clear();
        let mut budget = n_batch;
        for (i, s) in slots.iter().enumerate() {
            if let Some(Seq {
                need: Need::Decode { token, .. },
                ..
            }) = s
            {
                decode_tokens[i] = *token;
                parts.push(Part {
                    slot: i,
                    from: 0,
                    to: 1,
                    output: true,
                });
                budget -= 1;
            }
        }
        for (i, s) in slots.iter().enumerate() {
            if let Some(
                seq @ Seq {
                    need: Need::Prefill { done },
                    ..
                },
            ) = s
            {
                if budget == 0 {
                    break;
                }
                let to = (done + budget).min(seq.prompt.len());
                budget -= to - done;
                parts.push(Part {
                    slot: i,
                    from: *done,
                    to,
                    output: to == seq.prompt.len(),
                });
            }
        }
        if parts.is_empty() {
            continue;
        }

        // One forward step over every part.
        outputs.clear();
        let mut row = 0;
        for p in &parts {
            row += p.to - p.from;
            if p.output {
                outputs.push(row - 1);
            }
        }
        let window = meter.start().ok();
        let result = {
            let mut steps: Vec<Step<'_>> = Vec::with_capacity(parts.len());
            for p in &parts {
                let seq = slots[p.slot].as_ref().expect("parts name active slots");
                let (tokens, pos0): (&[u32], usize) = match seq.need {
                    Need::Prefill { .. } => (&seq.prompt[p.from..p.to], p.from),
                    Need::Decode { pos, .. } => (std::slice::from_ref(&decode_tokens[p.slot]), pos),
                };
                steps.push(Step {
                    slot: p.slot,
                    tokens,
                    pos0,
                });
            }
            backend.forward(&steps, &outputs)
        };
        let logits = match result {
            Ok(l) => l,
            Err(e) => {
                // Requests were checked on the way in, so this is a bug:
                // end every request in the step rather than loop on it.
                eprintln!("sobre engine: forward step failed: {e}");
                for p in &parts {
                    if let Some(s) = slots[p.slot].take() {
                        s.finish(FinishReason::Stop, &cfg.carbon, meter.source(), metrics);
                    }
                }
                continue;
            }
        };

        // Energy of the step, split by tokens.
        if let Some(m) = window.and_then(|w| meter.stop(&w).ok()) {
            let work: Vec<StepWork> = parts
                .iter()
                .map(|p| match slots[p.slot].as_ref().map(|s| s.need) {
                    Some(Need::Prefill { .. }) => StepWork::new((p.to - p.from) as u32, 0),
                    _ => StepWork::new(0, 1),
                })
                .collect();
            for (p, j) in parts
                .iter()
                .zip(energy::attribution::split(m.joules, &work, &weights))
            {
                if let Some(s) = slots[p.slot].as_mut() {
                    s.joules += j;
                }
            }
            metrics.add_energy(m.joules);
        }

        // Sample for every sequence that got logits; advance the others.
        let mut out = 0;
        for p in &parts {
            let Some(seq) = slots[p.slot].as_mut() else {
                continue;
            };
            if let Need::Prefill { .. } = seq.need {
                metrics.add_prompt_tokens(p.to - p.from);
            }
            if !p.output {
                seq.need = Need::Prefill { done: p.to };
                continue;
            }
            let l = &logits[out * n_vocab..(out + 1) * n_vocab];
            out += 1;
            if let Some(reason) = seq.on_logits(l, metrics) {
                if let Some(s) = slots[p.slot].take() {
                    s.finish(reason, &cfg.carbon, meter.source(), metrics);
                }
            }
        }
    }
    metrics.set_running(0);
}
