//! Memory read bandwidth, STREAM-style: threads sum disjoint parts of a
//! 1 GiB buffer (much larger than any cache), best of several passes. Decode
//! speed is bounded by this figure divided by the bytes of weights read per
//! token; BENCHMARKS.md reports the fraction of it that decode reaches.
//!
//!     cargo run --release -p kernels --example read_bandwidth [THREADS]

use std::time::Instant;

fn main() {
    let threads: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2);
    let words = (1usize << 30) / 8;
    // Written once so every page is really mapped before timing.
    let buf: Vec<u64> = (0..words as u64).collect();
    let chunk = words.div_ceil(threads);
    let mut best = f64::MAX;
    let mut checksum = 0u64;
    for _ in 0..5 {
        let t0 = Instant::now();
        let sums: Vec<u64> = std::thread::scope(|s| {
            let handles: Vec<_> = buf
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        // Eight independent lanes so the loop is bound by loads.
                        let mut acc = [0u64; 8];
                        for block in part.chunks_exact(8) {
                            for (a, &v) in acc.iter_mut().zip(block) {
                                *a = a.wrapping_add(v);
                            }
                        }
                        acc.iter().fold(0u64, |x, &y| x.wrapping_add(y))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
        });
        best = best.min(t0.elapsed().as_secs_f64());
        checksum = sums.iter().fold(0u64, |x, &y| x.wrapping_add(y));
    }
    let gbs = (words * 8) as f64 / best / 1e9;
    println!("threads {threads}: {gbs:.1} GB/s read (checksum {checksum:x})");
}
