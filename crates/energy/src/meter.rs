//! The [`Meter`]: picks the best source this machine allows, keeps it polled,
//! and measures windows.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::carbon::Carbon;
use crate::error::Result;
use crate::estimate::{validate_watts, CpuTimeEstimate, DEFAULT_WATTS_PER_CORE};
use crate::nvml::{NvmlSource, NVML_LIBRARY};
use crate::poller::{lock, Poller, SharedSource};
use crate::rapl::{self, RaplSource};
use crate::source::{EnergySource, Source};
use crate::EnergyReport;

/// Where the work being measured runs, which decides the order sources are
/// tried in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// CPU inference: RAPL, else the estimate. NVML is not consulted: a
    /// GPU's draw is not what a CPU answer costs.
    #[default]
    Cpu,
    /// Inference on NVIDIA GPUs: NVML, else RAPL, else the estimate.
    NvidiaGpu,
}

/// How a [`Meter`] is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterConfig {
    /// Where the work runs.
    pub device: Device,
    /// The powercap tree (default: `$SOBRE_POWERCAP_ROOT`, else
    /// `/sys/class/powercap`).
    pub powercap_root: PathBuf,
    /// Power charged per second of CPU time by the estimate (default
    /// [`DEFAULT_WATTS_PER_CORE`]).
    pub watts_per_core: f64,
    /// Poll a wrapping source this often instead of its own wrap-safe
    /// interval. Leave `None` unless testing.
    pub poll_interval: Option<Duration>,
}

impl Default for MeterConfig {
    /// CPU, the powercap root from the environment, 10 W per core.
    fn default() -> Self {
        MeterConfig {
            device: Device::Cpu,
            powercap_root: rapl::powercap_root(),
            watts_per_core: DEFAULT_WATTS_PER_CORE,
            poll_interval: None,
        }
    }
}

/// An energy meter over the best source available.
///
/// Reads may come from any thread (`Meter` is `Sync`); a wrapping source is
/// read in the background by a [`Poller`] that stops when the meter drops.
#[derive(Debug)]
pub struct Meter {
    shared: SharedSource,
    source: Source,
    description: String,
    diagnostics: Vec<String>,
    poller: Option<Poller>,
}

/// The start of a measured window, from [`Meter::start`].
#[derive(Debug, Clone, Copy)]
pub struct Window {
    start_uj: u64,
    started: Instant,
}

/// Energy over a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Joules drawn during the window (machine-wide for RAPL and NVML).
    pub joules: f64,
    /// Length of the window.
    pub seconds: f64,
    /// Where `joules` comes from.
    pub source: Source,
}

impl Measurement {
    /// Average power over the window (0 for an empty window).
    pub fn watts(&self) -> f64 {
        if self.seconds > 0.0 {
            self.joules / self.seconds
        } else {
            0.0
        }
    }

    /// The report for this window under `carbon`.
    pub fn report(&self, carbon: &Carbon) -> EnergyReport {
        carbon.report(self.joules, self.source)
    }
}

impl Meter {
    /// Opens the best source `config` allows. Never fails: every source that
    /// could not be used leaves a line in [`Meter::diagnostics`] (an
    /// unreadable RAPL counter says how to make it readable), and the last
    /// resort is the CPU-time estimate, labeled [`Source::Estimate`].
    pub fn new(config: &MeterConfig) -> Meter {
        Meter::pick(config, RaplSource::open)
    }

    /// [`Meter::new`] with the RAPL opener passed in (tests inject errors
    /// that a root test process cannot provoke, such as EACCES).
    fn pick(config: &MeterConfig, open_rapl: impl FnOnce(&Path) -> Result<RaplSource>) -> Meter {
        let mut diagnostics = Vec::new();

        if config.device == Device::NvidiaGpu {
            match NvmlSource::open() {
                Ok(Some(nvml)) => match Meter::from_source(Box::new(nvml), None) {
                    Ok(meter) => return meter,
                    Err(e) => diagnostics.push(e.to_string()),
                },
                Ok(None) => diagnostics.push(format!("NVML: {NVML_LIBRARY} not found, no GPU counter")),
                Err(e) => diagnostics.push(e.to_string()),
            }
        }

        match open_rapl(&config.powercap_root) {
            Ok(rapl) => match Meter::from_source(Box::new(rapl), config.poll_interval) {
                Ok(mut meter) => {
                    meter.diagnostics = diagnostics;
                    return meter;
                }
                Err(e) => diagnostics.push(e.to_string()),
            },
            Err(e) => diagnostics.push(e.to_string()),
        }

        let watts = match validate_watts(config.watts_per_core) {
            Ok(()) => config.watts_per_core,
            Err(e) => {
                diagnostics.push(format!("{e}; using {DEFAULT_WATTS_PER_CORE} W"));
                DEFAULT_WATTS_PER_CORE
            }
        };
        let estimate = CpuTimeEstimate::new_valid(watts);
        let mut meter = Meter::unpolled(Box::new(estimate));
        meter.diagnostics = diagnostics;
        meter
    }

    /// A meter over a source of the caller's. It is polled every
    /// `poll_interval`, or its own [`EnergySource::poll_interval`] when
    /// `None`; a source that needs neither is not polled.
    pub fn from_source(source: Box<dyn EnergySource>, poll_interval: Option<Duration>) -> Result<Meter> {
        let interval = poll_interval.or_else(|| source.poll_interval());
        let mut meter = Meter::unpolled(source);
        if let Some(interval) = interval {
            // Bring the source up to date once before the poller takes over.
            lock(&meter.shared).read_uj()?;
            meter.poller = Some(Poller::spawn(Arc::clone(&meter.shared), interval)?);
        }
        Ok(meter)
    }

    fn unpolled(source: Box<dyn EnergySource>) -> Meter {
        let kind = source.source();
        let description = source.describe();
        Meter {
            shared: Arc::new(Mutex::new(source)),
            source: kind,
            description,
            diagnostics: Vec::new(),
            poller: None,
        }
    }

    /// Which kind of figure this meter gives.
    pub fn source(&self) -> Source {
        self.source
    }

    /// One line saying what is read.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Why better sources were not used, one line each (empty when the best
    /// source for the device was available). Worth showing the user when
    /// [`Meter::source`] is [`Source::Estimate`].
    pub fn diagnostics(&self) -> &[String] {
        &self.diagnostics
    }

    /// How often the background poller reads, if there is one.
    pub fn poll_interval(&self) -> Option<Duration> {
        self.poller.as_ref().map(Poller::interval)
    }

    /// The source's monotonic counter, in microjoules. Read it around each
    /// engine step and pass the difference (see
    /// [`crate::attribution::joules_between`]) to the attribution.
    pub fn read_uj(&self) -> Result<u64> {
        lock(&self.shared).read_uj()
    }

    /// Opens a window now.
    pub fn start(&self) -> Result<Window> {
        Ok(Window {
            start_uj: self.read_uj()?,
            started: Instant::now(),
        })
    }

    /// Energy since `window` opened. The window stays usable: calling again
    /// later measures the longer window.
    pub fn stop(&self, window: &Window) -> Result<Measurement> {
        let end_uj = self.read_uj()?;
        Ok(Measurement {
            joules: crate::attribution::joules_between(window.start_uj, end_uj),
            seconds: window.started.elapsed().as_secs_f64(),
            source: self.source,
        })
    }
}

impl Default for Meter {
    /// [`Meter::new`] with [`MeterConfig::default`].
    fn default() -> Self {
        Meter::new(&MeterConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn unreadable_rapl_falls_back_to_the_estimate_with_the_fix() {
        let config = MeterConfig {
            powercap_root: PathBuf::from("/sys/class/powercap"),
            ..MeterConfig::default()
        };
        let meter = Meter::pick(&config, |root| {
            Err(Error::RaplPermission {
                path: root.join("intel-rapl:0/energy_uj"),
                root: root.to_path_buf(),
            })
        });
        assert_eq!(meter.source(), Source::Estimate);
        assert_eq!(meter.diagnostics().len(), 1);
        let d = &meter.diagnostics()[0];
        assert!(d.contains("CVE-2020-8694"), "{d}");
        assert!(
            d.contains("sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj"),
            "{d}"
        );
        assert!(d.contains("run as root"), "{d}");
        assert!(d.contains("/sys/class/powercap/intel-rapl:0/energy_uj"), "{d}");
    }

    #[derive(Debug)]
    struct Fixed(u64);

    impl EnergySource for Fixed {
        fn source(&self) -> Source {
            Source::Rapl
        }
        fn read_uj(&mut self) -> Result<u64> {
            self.0 += 1_500_000;
            Ok(self.0)
        }
        fn describe(&self) -> String {
            "fixed".into()
        }
    }

    #[test]
    fn windows_are_counter_differences() {
        let meter = Meter::from_source(Box::new(Fixed(0)), None).unwrap();
        assert!(meter.poll_interval().is_none());
        let w = meter.start().unwrap();
        let m = meter.stop(&w).unwrap();
        assert_eq!(m.joules, 1.5);
        assert_eq!(m.source, Source::Rapl);
        let m = meter.stop(&w).unwrap();
        assert_eq!(m.joules, 3.0);
        let r = m.report(&Carbon::new(360.0, 1.0).unwrap());
        assert!((r.gco2e - 3.0 / 3.6e6 * 360.0).abs() < 1e-15);
    }

    #[test]
    fn meters_are_shareable_between_threads() {
        fn assert_sync<T: Send + Sync>() {}
        assert_sync::<Meter>();
    }

    #[test]
    fn a_missing_nvml_is_a_diagnostic_not_a_failure() {
        let dir = std::env::temp_dir().join("sobre-energy-no-powercap-here");
        let meter = Meter::new(&MeterConfig {
            device: Device::NvidiaGpu,
            powercap_root: dir,
            ..MeterConfig::default()
        });
        // No GPU on a test machine: NVML and RAPL are both reported missing.
        if meter.source() == Source::Estimate {
            assert!(
                meter.diagnostics().iter().any(|d| d.contains("NVML")),
                "{:?}",
                meter.diagnostics()
            );
        }
    }
}
