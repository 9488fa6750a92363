//! Time to pick one token from a Gemma-sized vocabulary (262,144 logits),
//! greedy and with llama.cpp's default chain (top-k 40, top-p, min-p,
//! temperature): the scheduler does this for every sequence of a step, on
//! one thread.
//!
//! ```text
//! cargo run --release -p model --example sampler_speed
//! ```

use std::time::Instant;

use model::{Sampler, SamplerConfig};

fn main() {
    let n = 262_144;
    let logits: Vec<f32> = (0..n)
        .map(|i| ((i as u64 * 2_654_435_761) % 10_007) as f32 / 500.0 - 10.0)
        .collect();
    for (name, cfg) in [
        ("greedy", SamplerConfig::greedy()),
        ("default", SamplerConfig::default()),
    ] {
        let mut s = Sampler::new(cfg, n);
        let reps = 200;
        let t = Instant::now();
        let mut check = 0u32;
        for _ in 0..reps {
            let token = s.sample(&logits);
            check ^= token;
            s.accept(token % 1000);
        }
        println!(
            "{name}: {:.3} ms per token (check {check})",
            t.elapsed().as_secs_f64() * 1e3 / reps as f64
        );
    }
}
