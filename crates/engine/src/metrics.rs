//! Counters and latency histograms, updated by the scheduler and read by
//! the server's `/metrics` without locks on the hot path (histograms take a
//! short mutex once per token).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds, in seconds, of the latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A Prometheus-style cumulative histogram.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Observations at most `LATENCY_BUCKETS[i]` seconds (cumulative).
    pub buckets: Vec<u64>,
    pub count: u64,
    pub sum: f64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: vec![0; LATENCY_BUCKETS.len()],
            count: 0,
            sum: 0.0,
        }
    }

    fn observe(&mut self, seconds: f64) {
        for (b, &le) in self.buckets.iter_mut().zip(&LATENCY_BUCKETS) {
            if seconds <= le {
                *b += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// Live counters of an engine.
#[derive(Debug)]
pub struct Metrics {
    running: AtomicU64,
    queued: AtomicU64,
    tokens_generated: AtomicU64,
    prompt_tokens: AtomicU64,
    requests_finished: AtomicU64,
    /// f64 bits.
    energy_joules: AtomicU64,
    ttft: Mutex<Histogram>,
    itl: Mutex<Histogram>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSnapshot {
    pub requests_running: u64,
    pub requests_queued: u64,
    pub requests_finished: u64,
    pub tokens_generated_total: u64,
    pub prompt_tokens_total: u64,
    pub energy_joules_total: f64,
    /// Time to first token, from submission.
    pub ttft_seconds: Histogram,
    /// Time between consecutive tokens of a request.
    pub itl_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            running: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            tokens_generated: AtomicU64::new(0),
            prompt_tokens: AtomicU64::new(0),
            requests_finished: AtomicU64::new(0),
            energy_joules: AtomicU64::new(0f64.to_bits()),
            ttft: Mutex::new(Histogram::new()),
            itl: Mutex::new(Histogram::new()),
        }
    }
}

impl Metrics {
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            requests_running: self.running.load(Ordering::Relaxed),
            requests_queued: self.queued.load(Ordering::Relaxed),
            requests_finished: self.requests_finished.load(Ordering::Relaxed),
            tokens_generated_total: self.tokens_generated.load(Ordering::Relaxed),
            prompt_tokens_total: self.prompt_tokens.load(Ordering::Relaxed),
            energy_joules_total: f64::from_bits(self.energy_joules.load(Ordering::Relaxed)),
            ttft_seconds: self.ttft.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            itl_seconds: self.itl.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }

    pub(crate) fn set_running(&self, n: usize) {
        self.running.store(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_queued(&self, delta: i64) {
        if delta >= 0 {
            self.queued.fetch_add(delta as u64, Ordering::Relaxed);
        } else {
            self.queued.fetch_sub(delta.unsigned_abs(), Ordering::Relaxed);
        }
    }

    pub(crate) fn add_prompt_tokens(&self, n: usize) {
        self.prompt_tokens.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_generated(&self, n: usize) {
        self.tokens_generated.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn finished(&self) {
        self.requests_finished.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_energy(&self, joules: f64) {
        let mut cur = self.energy_joules.load(Ordering::Relaxed);
        loop {
            let new = (f64::from_bits(cur) + joules).to_bits();
            match self
                .energy_joules
                .compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(c) => cur = c,
            }
        }
    }

    pub(crate) fn observe_ttft(&self, seconds: f64) {
        self.ttft
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(seconds);
    }

    pub(crate) fn observe_itl(&self, seconds: f64) {
        self.itl
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(seconds);
    }
}
