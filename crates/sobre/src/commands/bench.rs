//! `sobre bench MODEL [-p 512] [-n 128] [-t THREADS] [--parallel N] [--json]`:
//! prompt processing and generation speed, measured as llama-bench measures
//! them.
//!
//! pp: one batch of `p` tokens from an empty context. tg: `n` tokens fed one
//! at a time from an empty context; with `--parallel N`, `n` steps that
//! each feed one token of each of N sequences (their own caches), as a
//! server decodes N requests together. Tokens are random ids (as llama-bench
//! uses), so the figures do not depend on a text. Each test runs after one
//! warm-up, `--reps` times; the best run is reported (bench/compare takes the
//! best of llama.cpp's runs too). Energy is read around the measured runs.

use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use energy::{Carbon, Meter};
use gguf::GgufFile;
use model::{Model, Step};

use crate::cli::BenchArgs;

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let threads = args.threads.unwrap_or_else(default_threads).max(1);
    let file = GgufFile::open(&args.model).with_context(|| format!("{}", args.model.display()))?;
    let model = Model::load(&file).with_context(|| format!("{}", args.model.display()))?;
    let n_vocab = model.config().n_vocab as u64;
    let n_ctx = args.p.max(1) + args.n + 1;
    let parallel = args.parallel.max(1) as usize;
    let opts = gpu::Options {
        device: args.device,
        n_slots: parallel,
        n_ctx,
        n_batch: args.p.max(parallel).max(1),
        n_outputs: parallel,
        threads,
    };
    let (mut backend, meter_config) = super::open_backend(model, &opts)?;
    let device = backend.device().to_string();
    let meter = Meter::new(&meter_config);
    let carbon = Carbon::from_options(None, None, None)?;

    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut token = move || {
        // xorshift64*: a fixed, dependency-free stream of token ids.
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        (rng.wrapping_mul(0x2545_F491_4F6C_DD1D) % n_vocab) as u32
    };

    let mut pp = Test::default();
    if args.p > 0 {
        for rep in 0..=args.reps as usize {
            let prompt: Vec<u32> = (0..args.p).map(|_| token()).collect();
            let window = meter.start()?;
            let t0 = Instant::now();
            backend.eval(0, &prompt, 0)?;
            let secs = t0.elapsed().as_secs_f64();
            if rep > 0 {
                pp.record(secs, meter.stop(&window)?.joules, args.p);
            }
        }
    }
    let mut tg = Test::default();
    if args.n > 0 {
        let outputs: Vec<usize> = (0..parallel).collect();
        let mut tokens = vec![0u32; parallel];
        for rep in 0..=args.reps as usize {
            let window = meter.start()?;
            let t0 = Instant::now();
            for pos in 0..args.n {
                tokens.iter_mut().for_each(|t| *t = token());
                let steps: Vec<Step<'_>> = (0..parallel)
                    .map(|slot| Step {
                        slot,
                        tokens: &tokens[slot..slot + 1],
                        pos0: pos,
                    })
                    .collect();
                backend.forward(&steps, &outputs)?;
            }
            let secs = t0.elapsed().as_secs_f64();
            if rep > 0 {
                tg.record(secs, meter.stop(&window)?.joules, args.n * parallel);
            }
        }
    }

    let peak_rss_mb = peak_rss_mb();
    let source = meter.source();
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = serde_json::json!({
            "model": args.model.file_name().map(|n| n.to_string_lossy().into_owned()),
            "p": args.p,
            "n": args.n,
            "threads": threads,
            "parallel": parallel,
            "device": device,
            "pp_tok_s": pp.tok_s(),
            "tg_tok_s": tg.tok_s(),
            "tg_step_ms": tg.best_secs.map(|s| s / args.n as f64 * 1e3),
            "peak_rss_mb": peak_rss_mb,
            "file_mb": file.file_len() as f64 / 1e6,
            "joules_per_token": {"pp": pp.joules_per_token(), "tg": tg.joules_per_token()},
            "energy_source": source.as_str(),
            "gco2e_per_token": {
                "pp": pp.joules_per_token().map(|j| carbon.gco2e(j)),
                "tg": tg.joules_per_token().map(|j| carbon.gco2e(j)),
            },
        });
        serde_json::to_writer(&mut out, &v)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "model: {}  threads: {threads}  device: {device}",
            args.model.display()
        )?;
        if parallel > 1 {
            writeln!(out, "tg: {parallel} sequences per step, tok/s over all of them")?;
        }
        for (name, t, n) in [("pp", &pp, args.p), ("tg", &tg, args.n)] {
            if let (Some(speed), Some(j)) = (t.tok_s(), t.joules_per_token()) {
                writeln!(
                    out,
                    "{name}{n:<5} {speed:>9.1} tok/s  {j:>8.4} J/token ({})",
                    source.as_str()
                )?;
            }
        }
        if let Some(rss) = peak_rss_mb {
            writeln!(
                out,
                "peak RSS: {rss:.0} MB (file {:.0} MB)",
                file.file_len() as f64 / 1e6
            )?;
        }
    }
    Ok(())
}

/// The best run of a test, and the energy per token over all its runs.
#[derive(Default)]
struct Test {
    best_secs: Option<f64>,
    tokens: usize,
    joules: f64,
    first_tokens: usize,
}

impl Test {
    fn record(&mut self, secs: f64, joules: f64, tokens: usize) {
        self.best_secs = Some(self.best_secs.map_or(secs, |b| b.min(secs)));
        self.tokens += tokens;
        self.joules += joules;
        self.first_tokens = tokens;
    }

    fn tok_s(&self) -> Option<f64> {
        self.best_secs
            .filter(|&s| s > 0.0)
            .map(|s| self.first_tokens as f64 / s)
    }

    fn joules_per_token(&self) -> Option<f64> {
        (self.tokens > 0).then(|| self.joules / self.tokens as f64)
    }
}

pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Peak resident set (VmHWM) of this process, from /proc; None elsewhere.
pub(crate) fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0 / 1e6)
}
