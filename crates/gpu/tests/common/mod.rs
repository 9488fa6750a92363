//! Opening the GPU for a test: a test without an adapter skips, saying
//! why, unless `SOBRE_REQUIRE_GPU=1` (CI), where it fails.

#![allow(dead_code)]

use gpu::Gpu;

/// The device (software adapters included), or `None` after printing why
/// the test is skipped.
pub fn gpu() -> Option<Gpu> {
    match Gpu::open(true) {
        Ok(g) => {
            eprintln!("testing on {}", g.description);
            Some(g)
        }
        Err(e) if gpu::gpu_required() => panic!("SOBRE_REQUIRE_GPU=1 but no GPU: {e}"),
        Err(e) => {
            eprintln!("skipped: {e} (set SOBRE_REQUIRE_GPU=1 to make this a failure)");
            None
        }
    }
}

/// xorshift32: deterministic test data.
#[derive(Debug)]
pub struct Rng(pub u32);

impl Rng {
    pub fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// Uniform in `[-a, a)`.
    pub fn uniform(&mut self, a: f32) -> f32 {
        ((self.next() >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * a
    }
}
