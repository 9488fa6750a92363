//! An engine without a model: every request is answered with the same
//! script of token ids, through the real queue, sampler, decoding, stop
//! strings, cancellation and accounting. It lets the server's behaviour with
//! a reasoning model be tested from the model's header alone.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use energy::{Meter, MeterConfig};
use gguf::GgufFile;
use tokenizer::Tokenizer;

use crate::metrics::Metrics;
use crate::request::FinishReason;
use crate::scheduler::Queue;
use crate::slot::Seq;
use crate::{Engine, EngineConfig, EngineError};

/// Time one scripted step takes, so streams look like a model's.
const STEP: Duration = Duration::from_millis(2);

pub(crate) fn start(file: Arc<GgufFile>, script: Vec<u32>, cfg: EngineConfig) -> Result<Engine, EngineError> {
    let tokenizer = Arc::new(Tokenizer::from_metadata(file.metadata())?);
    let n_vocab = tokenizer.n_vocab();
    let n_ctx = cfg.n_ctx.max(2);
    let parallel = cfg.parallel.max(1);
    let metrics = Arc::new(Metrics::default());
    let queue = Queue::new(cfg.queue.max(1), n_vocab, metrics.clone());
    let carbon = cfg.carbon;
    let meter = Meter::new(&MeterConfig::default());
    let energy_source = meter.source();
    let thread = {
        let (tokenizer, queue, metrics) = (tokenizer.clone(), queue.clone(), metrics.clone());
        std::thread::Builder::new()
            .name("sobre-scripted".into())
            .spawn(move || {
                run(
                    &tokenizer, &queue, &script, parallel, n_ctx, carbon, &meter, &metrics,
                )
            })?
    };
    Ok(Engine {
        file,
        tokenizer,
        n_ctx,
        parallel,
        carbon,
        energy_source,
        device: "none (scripted answers)".into(),
        metrics,
        queue,
        thread: Mutex::new(Some(thread)),
    })
}

#[allow(clippy::too_many_arguments)]
fn run(
    tokenizer: &Tokenizer,
    queue: &Queue,
    script: &[u32],
    parallel: usize,
    n_ctx: usize,
    carbon: energy::Carbon,
    meter: &Meter,
    metrics: &Metrics,
) {
    let n_vocab = tokenizer.n_vocab();
    let end = tokenizer.eos_id().or(tokenizer.eot_id()).unwrap_or(0);
    let mut slots: Vec<Option<Seq<'_>>> = (0..parallel).map(|_| None).collect();
    let mut step: Vec<usize> = vec![0; parallel];
    let mut logits = vec![0.0f32; n_vocab];
    while queue.admit(&mut slots, tokenizer, n_vocab, n_ctx) {
        std::thread::sleep(STEP);
        metrics.set_running(slots.iter().filter(|s| s.is_some()).count());
        for (i, slot) in slots.iter_mut().enumerate() {
            let Some(seq) = slot.as_mut() else {
                step[i] = 0;
                continue;
            };
            if seq.cancelled() || seq.wants_nothing() {
                if let Some(s) = slot.take() {
                    s.finish(FinishReason::Length, &carbon, meter.source(), metrics);
                }
                step[i] = 0;
                continue;
            }
            if step[i] == 0 {
                metrics.add_prompt_tokens(seq.prompt.len());
            }
            let next = script.get(step[i]).copied().unwrap_or(end);
            step[i] += 1;
            logits.fill(0.0);
            logits[next as usize % n_vocab] = 100.0;
            if let Some(reason) = seq.on_logits(&logits, metrics) {
                if let Some(s) = slot.take() {
                    s.finish(reason, &carbon, meter.source(), metrics);
                }
                step[i] = 0;
            }
        }
    }
    metrics.set_running(0);
}
