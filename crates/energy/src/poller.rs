//! A background thread that reads a source often enough that wrapping
//! counters are never missed.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::source::EnergySource;

/// A source shared between its users and a [`Poller`].
pub type SharedSource = Arc<Mutex<Box<dyn EnergySource>>>;

/// Locks a shared source. A panic while it was held cannot leave a source's
/// state half-updated (sources update only after every read succeeded), so a
/// poisoned lock is taken over rather than propagated.
pub(crate) fn lock(source: &SharedSource) -> MutexGuard<'_, Box<dyn EnergySource>> {
    source.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads a shared source every `interval` on its own thread until stopped or
/// dropped. It sleeps between reads (a channel wait with a timeout, so
/// stopping is immediate) and never spins.
///
/// A failed read is skipped; the next read by the source's user reports the
/// error.
#[derive(Debug)]
pub struct Poller {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    interval: Duration,
}

impl Poller {
    /// Starts the thread (named `sobre-energy-poll`).
    pub fn spawn(source: SharedSource, interval: Duration) -> Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("sobre-energy-poll".into())
            .spawn(move || {
                // Ends on a stop message or when the sender is dropped.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    let _ = lock(&source).read_uj();
                }
            })
            .map_err(Error::Thread)?;
        Ok(Poller {
            stop: Some(stop),
            thread: Some(thread),
            interval,
        })
    }

    /// The time between two reads.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Stops the thread and waits for it (dropping does the same).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Instant;

    #[derive(Debug)]
    struct Counting(Arc<AtomicU64>);

    impl EnergySource for Counting {
        fn source(&self) -> Source {
            Source::Estimate
        }
        fn read_uj(&mut self) -> Result<u64> {
            Ok(self.0.fetch_add(1, Ordering::SeqCst) + 1)
        }
        fn describe(&self) -> String {
            "counting".into()
        }
    }

    #[test]
    fn polls_at_its_interval_and_stops_promptly() {
        let reads = Arc::new(AtomicU64::new(0));
        let shared: SharedSource = Arc::new(Mutex::new(Box::new(Counting(reads.clone()))));
        let poller = Poller::spawn(shared, Duration::from_millis(5)).unwrap();
        assert_eq!(poller.interval(), Duration::from_millis(5));
        thread::sleep(Duration::from_millis(200));
        let t = Instant::now();
        poller.stop();
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "stop waited a whole interval"
        );
        let n = reads.load(Ordering::SeqCst);
        // 40 intervals fit in 200 ms; a loaded machine may manage fewer, but
        // a sleeping poller reads far less than a spinning one would.
        assert!((3..=45).contains(&n), "{n} reads in 200 ms at a 5 ms interval");
        thread::sleep(Duration::from_millis(30));
        assert_eq!(reads.load(Ordering::SeqCst), n, "poller kept reading after stop");
    }

    #[test]
    fn drop_stops_a_slow_poller_at_once() {
        let reads = Arc::new(AtomicU64::new(0));
        let shared: SharedSource = Arc::new(Mutex::new(Box::new(Counting(reads.clone()))));
        let poller = Poller::spawn(shared, Duration::from_secs(3600)).unwrap();
        let t = Instant::now();
        drop(poller);
        assert!(t.elapsed() < Duration::from_secs(1));
        assert_eq!(reads.load(Ordering::SeqCst), 0);
    }
}
