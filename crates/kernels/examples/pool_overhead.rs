//! Per-call overhead of [`kernels::pool::ThreadPool::run`] against a
//! `std::thread::scope` with one spawn per extra thread (what `matmul` does
//! today): `cargo run --release -p kernels --example pool_overhead [threads]`.
//!
//! Each call runs `threads` tasks that each add up a few hundred numbers,
//! about what the smallest per-token matrix products give each thread, so
//! the time is almost all synchronization. Also measured: the pool after
//! its workers went to sleep (the first product of a token after a pause).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kernels::pool::ThreadPool;

fn task(i: usize, sink: &AtomicU64) {
    let s: u64 = (0..256u64).map(|k| black_box(k ^ i as u64)).sum();
    sink.fetch_add(s, Ordering::Relaxed);
}

fn per_call(iters: u32, mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(iters)
}

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let sink = AtomicU64::new(0);
    let iters = 20_000;

    let inline = per_call(iters, || (0..threads).for_each(|i| task(i, &sink)));

    let scope = per_call(iters / 10, || {
        std::thread::scope(|s| {
            for i in 1..threads {
                let sink = &sink;
                s.spawn(move || task(i, sink));
            }
            task(0, &sink);
        })
    });

    let pool = ThreadPool::new(threads).expect("spawn pool");
    let hot = per_call(iters, || pool.run(threads, |i| task(i, &sink)));
    let many = per_call(iters, || pool.run(8 * threads, |i| task(i, &sink)));

    let cold_pool = ThreadPool::with_spin(threads, Duration::ZERO).expect("spawn pool");
    let cold = per_call(iters / 10, || {
        // Give the workers time to fall asleep before each call.
        std::thread::sleep(Duration::from_micros(100));
        let t = Instant::now();
        cold_pool.run(threads, |i| task(i, &sink));
        black_box(t.elapsed());
    }) - 100.0;

    println!("{threads} threads, µs per call (tiny tasks; the work alone: {inline:.2} µs on one thread)");
    println!("  std::thread::scope (spawn per call)   {scope:8.2}");
    println!("  pool.run, workers spinning            {hot:8.2}");
    println!("  pool.run, {:>3} tasks, spinning        {many:8.2}", 8 * threads);
    println!("  pool.run, workers asleep (+sleep adj) {cold:8.2}");
    black_box(sink.load(Ordering::Relaxed));
}
