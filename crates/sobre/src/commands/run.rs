//! `sobre run`: load a model, feed the prompt in one batch, then sample
//! token by token, streaming text to stdout (or printing one JSON object
//! with ids, text and timings under `--json`).

use std::io::{self, IsTerminal, Write};
use std::time::Instant;

use anyhow::{bail, Context};
use energy::{Carbon, Meter};
use model::{Model, Sampler, SamplerConfig, Step, StopStrings};
use tokenizer::Tokenizer;

use crate::cli::RunArgs;

/// Prompt batch size: large enough for prompt processing to be
/// matrix-matrix, small enough that scratch stays a few MB.
pub(super) const N_BATCH: usize = 256;

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finish {
    /// End-of-generation token or stop string.
    Stop,
    /// `-n` tokens or the context size reached.
    Length,
}

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let Some(prompt) = &args.prompt else {
        if args.interactive || io::stdin().is_terminal() {
            return super::chat::run(args);
        }
        bail!("--prompt is required when standard input is not a terminal (or pass --interactive)");
    };
    let carbon = Carbon::from_options(
        args.carbon.grid_intensity,
        args.carbon.grid_zone.as_deref(),
        args.carbon.pue,
    )?;
    let path = &super::resolve_model(&args.model)?;
    let t_load = Instant::now();
    let file = gguf::GgufFile::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let model = Model::load(&file).with_context(|| format!("cannot load {}", path.display()))?;
    let tok = Tokenizer::from_metadata(file.metadata())
        .with_context(|| format!("no usable tokenizer in {}", path.display()))?;
    let config = model.config().clone();
    if tok.n_vocab() > config.n_vocab {
        bail!(
            "the tokenizer has {} tokens but the embedding only {} rows",
            tok.n_vocab(),
            config.n_vocab
        );
    }

    let prompt_tokens = tok.encode(prompt, true, true);
    if prompt_tokens.is_empty() {
        bail!("the prompt gives no tokens");
    }
    let n_ctx = args.ctx_size.clamp(1, config.n_ctx_train.max(1));
    if prompt_tokens.len() >= n_ctx {
        bail!(
            "the prompt has {} tokens, more than the context size {n_ctx} allows",
            prompt_tokens.len()
        );
    }
    let threads = threads(args);
    let opts = gpu::Options {
        device: args.device,
        n_slots: 1,
        n_ctx,
        n_batch: N_BATCH,
        n_outputs: 1,
        threads,
    };
    let (mut backend, meter_config) = super::open_backend(model, &opts)?;
    let mut sampler = Sampler::new(sampler_config(args), config.n_vocab);
    let stops = StopStrings::new(args.stop.clone());
    // Created before the clock starts: picking a source reads counters.
    let meter = Meter::new(&meter_config);
    let load_ms = ms(t_load);

    // The energy window is exactly the one of `timings.total_ms`.
    let window = meter.start()?;

    // Prompt: one forward pass over all its tokens (in batches of N_BATCH).
    let t_prompt = Instant::now();
    let mut logits = backend.eval(0, &prompt_tokens, 0)?;
    for &t in &prompt_tokens {
        sampler.accept(t);
    }
    let prompt_ms = ms(t_prompt);

    // Generation.
    let t_gen = Instant::now();
    let mut out = io::stdout().lock();
    let mut decoder = tok.stream_decoder(false);
    let mut tokens: Vec<u32> = Vec::with_capacity(args.n_predict);
    let mut text = String::new();
    let mut printed = 0usize;
    let mut pos = prompt_tokens.len();
    let mut finish = Finish::Length;
    while tokens.len() < args.n_predict {
        let next = sampler.sample(logits);
        if tok.is_eog(next) {
            finish = Finish::Stop;
            break;
        }
        sampler.accept(next);
        tokens.push(next);
        text.push_str(&decoder.push(next)?);
        if let Some(at) = stops.find(&text) {
            text.truncate(at);
            finish = Finish::Stop;
            break;
        }
        if !args.json {
            // Hold back text that may yet turn out to start a stop string.
            let upto = text.len() - stops.pending_len(&text);
            if upto > printed {
                out.write_all(&text.as_bytes()[printed..upto])?;
                out.flush()?;
                printed = upto;
            }
        }
        if tokens.len() == args.n_predict || pos >= n_ctx {
            break;
        }
        let step = [Step {
            slot: 0,
            tokens: &[next],
            pos0: pos,
        }];
        logits = backend.forward(&step, &[0])?;
        pos += 1;
    }
    if finish == Finish::Length {
        text.push_str(&decoder.finish());
    }
    let generate_ms = ms(t_gen);
    let energy = meter.stop(&window)?.report(&carbon);

    if args.json {
        let per_s = |n: usize, ms: f64| if ms > 0.0 { n as f64 * 1000.0 / ms } else { 0.0 };
        let obj = serde_json::json!({
            "model": args.model.display().to_string(),
            "prompt_tokens": prompt_tokens,
            "tokens": tokens,
            "text": text,
            "finish_reason": match finish { Finish::Stop => "stop", Finish::Length => "length" },
            "timings": {
                "load_ms": load_ms,
                "prompt_ms": prompt_ms,
                "generate_ms": generate_ms,
                "total_ms": prompt_ms + generate_ms,
                "prompt_tok_s": per_s(prompt_tokens.len(), prompt_ms),
                "generate_tok_s": per_s(tokens.len(), generate_ms),
            },
            "energy": super::energy_json(&energy),
        });
        serde_json::to_writer(&mut out, &obj)?;
        writeln!(out)?;
    } else {
        if text.len() > printed {
            out.write_all(&text.as_bytes()[printed..])?;
        }
        writeln!(out)?;
        out.flush()?;
        let n = tokens.len();
        let tok_s = if generate_ms > 0.0 {
            n as f64 * 1000.0 / generate_ms
        } else {
            0.0
        };
        let per_token = if n > 0 { energy.joules / n as f64 } else { 0.0 };
        eprintln!(
            "[{n} tokens, {tok_s:.1} tok/s, {:.2} J ({}), {per_token:.3} J/token, {:.4} gCO2e at {} g/kWh]",
            energy.joules,
            energy.source.as_str(),
            energy.gco2e,
            energy.grid_gco2e_per_kwh
        );
    }
    Ok(())
}

/// The sampler settings of the command line; the seed defaults to the clock.
pub(super) fn sampler_config(args: &RunArgs) -> SamplerConfig {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    SamplerConfig {
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        min_p: args.min_p,
        repeat_penalty: args.repeat_penalty,
        frequency_penalty: args.frequency_penalty,
        presence_penalty: args.presence_penalty,
        seed,
        ..SamplerConfig::default()
    }
}

/// Threads for the matrix products: `--threads`, else every core.
pub(super) fn threads(args: &RunArgs) -> usize {
    args.threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
