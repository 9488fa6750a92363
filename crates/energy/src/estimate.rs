//! The estimate used when no counter can be read: CPU time of the process
//! times a per-core power figure. Always labeled [`Source::Estimate`].

use std::fs;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::source::{EnergySource, Source};

/// Default power of one busy CPU core, in watts.
///
/// Why 10 W: a core's share of its package's power under all-core load
/// (package power limit / cores) runs from about 4-6 W on large server parts
/// (96-core 360 W, 56-core 350 W) to 10-14 W on desktop parts (16-core
/// 170-230 W, 24-core 253 W), and laptop cores sit lower still. The figure
/// has to cover more than the core itself: inference streams weights from
/// memory, so caches, the memory controller and DRAM work alongside each
/// busy core, and none of that shows up in CPU time. 10 W is at the upper
/// end for servers and typical for desktops: when wrong, it tends to
/// overstate the cost rather than hide it. Change it with
/// [`crate::MeterConfig::watts_per_core`] when the machine's figure is known.
pub const DEFAULT_WATTS_PER_CORE: f64 = 10.0;

/// Linux's user-visible clock tick rate on every mainstream architecture,
/// used when the kernel's own figure (`AT_CLKTCK`) cannot be read.
const FALLBACK_TICKS_PER_SEC: u64 = 100;

/// `AT_CLKTCK` in the ELF auxiliary vector.
const AT_CLKTCK: usize = 17;

/// The tick rate `/proc/self/stat` counts in, read from `/proc/self/auxv`
/// (where the kernel puts `sysconf(_SC_CLK_TCK)`), without libc.
fn clock_ticks_per_sec() -> u64 {
    fs::read("/proc/self/auxv")
        .ok()
        .and_then(|bytes| auxv_value(&bytes, AT_CLKTCK))
        .filter(|&hz| hz > 0)
        .map(|hz| hz as u64)
        .unwrap_or(FALLBACK_TICKS_PER_SEC)
}

/// Looks `key` up in an auxiliary vector: native-endian (key, value) word
/// pairs ending with key 0.
fn auxv_value(bytes: &[u8], key: usize) -> Option<usize> {
    const W: usize = std::mem::size_of::<usize>();
    let word = |chunk: &[u8]| usize::from_ne_bytes(chunk.try_into().unwrap_or([0; W]));
    for pair in bytes.chunks_exact(2 * W) {
        let k = word(&pair[..W]);
        if k == 0 {
            break;
        }
        if k == key {
            return Some(word(&pair[W..]));
        }
    }
    None
}

/// User plus system CPU time of all threads of the process, from
/// `/proc/self/stat` (fields 14 and 15, in clock ticks).
pub fn process_cpu_time() -> Result<Duration> {
    let path = "/proc/self/stat";
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_proc_stat(&text, clock_ticks_per_sec())
        .ok_or_else(|| Error::parse(path, "a /proc/<pid>/stat line with utime and stime", &text))
}

/// Parses utime + stime out of a `/proc/<pid>/stat` line. The command name
/// (field 2) is in parentheses and may itself hold spaces and parentheses,
/// so fields are counted from the last `)`.
fn parse_proc_stat(text: &str, ticks_per_sec: u64) -> Option<Duration> {
    let after_comm = &text[text.rfind(')')? + 1..];
    // after_comm starts at field 3 (state): utime is field 14, stime 15.
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime.checked_add(stime)?;
    let hz = ticks_per_sec.max(1);
    let secs = ticks / hz;
    let nanos = (ticks % hz) * 1_000_000_000 / hz;
    Some(Duration::new(secs, nanos as u32))
}

#[derive(Debug)]
enum Clock {
    /// Process CPU time from `/proc/self/stat`.
    CpuTime,
    /// Wall time since the source opened, as if one core were busy
    /// throughout: only where CPU time cannot be read (no `/proc`).
    Wall(Instant),
}

/// Energy estimated as process CPU time x [`CpuTimeEstimate::watts_per_core`].
///
/// What it does not see: idle and static power of the machine, other
/// processes, memory and DRAM beyond what the per-core figure folds in,
/// GPUs. CPU time advances in clock ticks (10 ms on most systems), so very
/// short windows read as zero or one tick.
#[derive(Debug)]
pub struct CpuTimeEstimate {
    watts_per_core: f64,
    clock: Clock,
    origin: Duration,
}

impl CpuTimeEstimate {
    /// An estimate at `watts_per_core` watts per busy core (finite, > 0).
    /// Falls back to wall time x one core, still labeled an estimate, where
    /// the process's CPU time cannot be read.
    pub fn new(watts_per_core: f64) -> Result<Self> {
        validate_watts(watts_per_core)?;
        Ok(Self::new_valid(watts_per_core))
    }

    /// [`CpuTimeEstimate::new`] for a figure already validated.
    pub(crate) fn new_valid(watts_per_core: f64) -> Self {
        let (clock, origin) = match process_cpu_time() {
            Ok(t) => (Clock::CpuTime, t),
            Err(_) => (Clock::Wall(Instant::now()), Duration::ZERO),
        };
        CpuTimeEstimate {
            watts_per_core,
            clock,
            origin,
        }
    }

    /// The power charged per second of CPU time.
    pub fn watts_per_core(&self) -> f64 {
        self.watts_per_core
    }

    /// False when the fallback (wall time x one core) is in use.
    pub fn uses_cpu_time(&self) -> bool {
        matches!(self.clock, Clock::CpuTime)
    }

    fn busy_time(&self) -> Result<Duration> {
        match self.clock {
            Clock::CpuTime => Ok(process_cpu_time()?.saturating_sub(self.origin)),
            Clock::Wall(start) => Ok(start.elapsed()),
        }
    }
}

/// Checks a per-core power figure.
pub(crate) fn validate_watts(watts: f64) -> Result<()> {
    if watts.is_finite() && watts > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidSetting {
            what: "watts per core",
            value: watts,
            why: "must be a finite number above 0",
        })
    }
}

impl EnergySource for CpuTimeEstimate {
    fn source(&self) -> Source {
        Source::Estimate
    }

    fn read_uj(&mut self) -> Result<u64> {
        // One watt for one microsecond is one microjoule.
        let busy_us = self.busy_time()?.as_micros() as f64;
        Ok((busy_us * self.watts_per_core).round() as u64)
    }

    fn describe(&self) -> String {
        match self.clock {
            Clock::CpuTime => format!(
                "estimate: process CPU time x {} W per busy core (no readable energy counter)",
                self.watts_per_core
            ),
            Clock::Wall(_) => format!(
                "estimate: wall time x {} W, one core assumed busy (neither an energy counter \
                 nor /proc/self/stat readable)",
                self.watts_per_core
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_command_names() {
        let line = "1234 (my (odd) prog) R 1 1234 1234 0 -1 4194304 100 0 0 0 \
                    250 50 0 0 20 0 3 0 100 1000 100 18446744073709551615";
        assert_eq!(parse_proc_stat(line, 100), Some(Duration::from_secs(3)));
        assert_eq!(parse_proc_stat(line, 1000), Some(Duration::from_millis(300)));
        let line = "7 (a b) S 1 7 7 0 -1 0 0 0 0 0 5 2 0 0";
        assert_eq!(parse_proc_stat(line, 100), Some(Duration::from_millis(70)));
    }

    #[test]
    fn garbage_stat_is_none_not_a_panic() {
        for bad in [
            "",
            "1234",
            "1 (x) R 1 2",
            "1 (x) R 1 1 1 0 -1 0 0 0 0 0 zz 1",
            "((((",
        ] {
            assert_eq!(parse_proc_stat(bad, 100), None, "{bad:?}");
        }
    }

    #[test]
    fn auxv_lookup() {
        let mut bytes = Vec::new();
        for (k, v) in [(6usize, 4096usize), (17, 250), (0, 0)] {
            bytes.extend_from_slice(&k.to_ne_bytes());
            bytes.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(auxv_value(&bytes, 17), Some(250));
        assert_eq!(auxv_value(&bytes, 6), Some(4096));
        assert_eq!(auxv_value(&bytes, 3), None);
        assert_eq!(auxv_value(&bytes[..5], 17), None);
    }

    #[test]
    fn this_kernels_tick_rate_is_sane() {
        let hz = clock_ticks_per_sec();
        assert!((1..=100_000).contains(&hz), "{hz}");
    }

    #[test]
    fn rejects_bad_power_figures() {
        for w in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(CpuTimeEstimate::new(w).is_err(), "{w}");
        }
    }

    #[test]
    fn counts_cpu_time_at_the_given_power() {
        let mut est = CpuTimeEstimate::new(20.0).unwrap();
        assert_eq!(est.source(), Source::Estimate);
        let before_cpu = process_cpu_time().unwrap();
        let before = est.read_uj().unwrap();
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(150) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let after = est.read_uj().unwrap();
        let cpu = process_cpu_time().unwrap() - before_cpu;
        assert!(after > before, "no energy for 150 ms of busy CPU");
        // Other tests run in parallel threads of this process, so only the
        // relation to this process's CPU time is exact.
        let joules = (after - before) as f64 / 1e6;
        assert!(
            joules <= cpu.as_secs_f64() * 20.0 + 0.2 + 1e-9,
            "{joules} J for {cpu:?}"
        );
    }
}
