//! Fake powercap trees for tests: the kernel's layout in a temporary
//! directory, with counters that a thread advances at set wattages.

#![allow(dead_code)] // each test binary uses part of this

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// One zone of a fake tree.
#[derive(Debug, Clone)]
pub struct FakeZone {
    /// Directory relative to the root: `intel-rapl:0`, or nested like the
    /// kernel's `intel-rapl:0/intel-rapl:0:1`.
    pub dir: &'static str,
    /// Content of `name`.
    pub name: &'static str,
    /// Power drawn, watts: the counter rises by this many µJ per µs.
    pub watts: f64,
    /// `max_energy_range_uj`: the counter wraps to 0 after this.
    pub max_range_uj: u64,
    /// Counter value at time 0 (real counters never start at 0).
    pub offset_uj: u64,
}

impl FakeZone {
    pub fn new(dir: &'static str, name: &'static str, watts: f64, max_range_uj: u64) -> Self {
        FakeZone {
            dir,
            name,
            watts,
            max_range_uj,
            offset_uj: 12_345,
        }
    }
}

/// Writes `contents` to `path` atomically (temp file + rename), as a sysfs
/// read never sees half a value.
pub fn write_atomic(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, contents).unwrap();
    fs::rename(&tmp, path).unwrap();
}

/// Creates the zone's directory with `name`, `max_energy_range_uj` and an
/// `energy_uj` holding `energy`.
pub fn make_zone(root: &Path, dir: &str, name: &str, energy: &str, max_range: &str) -> PathBuf {
    let d = root.join(dir);
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("name"), format!("{name}\n")).unwrap();
    fs::write(d.join("max_energy_range_uj"), format!("{max_range}\n")).unwrap();
    fs::write(d.join("energy_uj"), format!("{energy}\n")).unwrap();
    d
}

/// Links nested subzones at the top of the tree, as the kernel's
/// `/sys/class/powercap` does (`intel-rapl:0:1 -> .../intel-rapl:0/intel-rapl:0:1`).
pub fn link_subzones_at_top(root: &Path, zones: &[FakeZone]) {
    for z in zones {
        if let Some((_, leaf)) = z.dir.rsplit_once('/') {
            symlink(root.join(z.dir), root.join(leaf)).unwrap();
        }
    }
}

/// A fake tree whose counters advance in real time until dropped.
pub struct FakePowercap {
    dir: tempfile::TempDir,
    stop: Arc<AtomicBool>,
    writer: Option<JoinHandle<()>>,
}

impl FakePowercap {
    /// Builds the tree and starts a thread rewriting every `energy_uj`
    /// every `tick` with `(offset + watts x elapsed) mod max_range`.
    pub fn running(zones: &[FakeZone], tick: Duration) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        fs::create_dir_all(root.join("intel-rapl")).unwrap(); // the control type dir
        let t0 = Instant::now();
        let paths: Vec<PathBuf> = zones
            .iter()
            .map(|z| {
                let d = make_zone(&root, z.dir, z.name, "0", &z.max_range_uj.to_string());
                d.join("energy_uj")
            })
            .collect();
        let write_all = {
            let zones = zones.to_vec();
            move |paths: &[PathBuf]| {
                let us = t0.elapsed().as_secs_f64() * 1e6;
                for (z, p) in zones.iter().zip(paths) {
                    let total = z.offset_uj + (z.watts * us) as u64;
                    write_atomic(p, &format!("{}\n", total % z.max_range_uj));
                }
            }
        };
        write_all(&paths);
        link_subzones_at_top(&root, zones);
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    thread::sleep(tick);
                    write_all(&paths);
                }
            })
        };
        FakePowercap {
            dir,
            stop,
            writer: Some(writer),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for FakePowercap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// Burns CPU on this thread for `d`.
pub fn burn_cpu(d: Duration) -> u64 {
    let t = Instant::now();
    let mut x = 1u64;
    while t.elapsed() < d {
        for _ in 0..10_000 {
            x = std::hint::black_box(
                x.wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407),
            );
        }
    }
    x
}
