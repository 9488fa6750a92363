//! How much continuous batching buys: the wall time of N concurrent
//! requests against one, same prompt length and tokens.
//!
//! ```text
//! cargo run --release -p engine --example batch_speed -- MODEL.gguf [N] [TOKENS]
//! ```

use std::time::Instant;

use engine::{Engine, EngineConfig, Request};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: batch_speed MODEL.gguf [N] [TOKENS]")?;
    let n: usize = args.next().map_or(Ok(4), |s| s.parse())?;
    let tokens: usize = args.next().map_or(Ok(48), |s| s.parse())?;
    let engine = Engine::start(
        path.as_ref(),
        EngineConfig {
            parallel: n,
            n_ctx: 512,
            ..EngineConfig::default()
        },
    )?;
    let prompt = engine
        .tokenizer()
        .encode("Once upon a time, in a small village by the sea,", true, true);
    // Wall time, and CPU time (which other load on the machine disturbs less).
    let run = |k: usize| -> Result<(f64, f64), Box<dyn std::error::Error>> {
        let t = Instant::now();
        let c = energy::estimate::process_cpu_time()?;
        let streams = (0..k)
            .map(|_| {
                let mut r = Request::greedy(prompt.clone(), tokens);
                // Greedy ids could end early on EOS; sampling with a fixed
                // seed and no EOS chance is not needed for a timing.
                r.sampler.temperature = 0.0;
                engine.submit(r)
            })
            .collect::<Result<Vec<_>, _>>()?;
        for s in streams {
            let (_, summary) = s.blocking_collect().ok_or("engine stopped")?;
            eprintln!(
                "  {} tokens, {:?}",
                summary.completion_tokens, summary.finish_reason
            );
        }
        let cpu = (energy::estimate::process_cpu_time()? - c).as_secs_f64();
        Ok((t.elapsed().as_secs_f64(), cpu))
    };
    run(1)?; // warm up
    let one = run(1)?;
    let many = run(n)?;
    println!(
        "1 request: {:.3} s ({:.3} s CPU); {n} concurrent: {:.3} s ({:.3} s CPU); ratio {:.2} wall, {:.2} CPU",
        one.0,
        one.1,
        many.0,
        many.1,
        many.0 / one.0,
        many.1 / one.1
    );
    Ok(())
}
