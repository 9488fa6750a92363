//! The one trait every energy source implements, and the label it reports.

use std::fmt;
use std::time::Duration;

use crate::error::Result;

/// Where a figure of joules comes from. Only [`Source::Rapl`] and
/// [`Source::Nvml`] are measurements; [`Source::Estimate`] is a model and is
/// always labeled as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// CPU package (and DRAM where exposed) counters of the Linux powercap
    /// tree: Intel RAPL, or AMD's RAPL-compatible counters.
    Rapl,
    /// `nvmlDeviceGetTotalEnergyConsumption` summed over NVIDIA GPUs.
    Nvml,
    /// CPU time of the process times a per-core power figure. Not a measurement.
    Estimate,
}

impl Source {
    /// The label used in JSON output: exactly `"rapl"`, `"nvml"` or `"estimate"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Rapl => "rapl",
            Source::Nvml => "nvml",
            Source::Estimate => "estimate",
        }
    }

    /// True for hardware counters, false for the estimate.
    pub const fn is_measured(self) -> bool {
        !matches!(self, Source::Estimate)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A counter of energy in microjoules.
///
/// `read_uj` returns the energy drawn since an origin fixed when the source
/// was opened, and never decreases: sources whose hardware counters wrap
/// (RAPL) unwrap them internally, which is correct as long as they are read
/// at least every [`EnergySource::poll_interval`] (the [`crate::Poller`] does
/// that). Energy over a window is the difference of two reads.
pub trait EnergySource: Send + fmt::Debug {
    /// Which kind of figure this source gives.
    fn source(&self) -> Source;

    /// Microjoules since the source was opened. Monotonic.
    fn read_uj(&mut self) -> Result<u64>;

    /// How often the source must be read to stay correct, or `None` when any
    /// rate will do (counters that do not wrap).
    fn poll_interval(&self) -> Option<Duration> {
        None
    }

    /// One line saying what is read, for logs and `--verbose` output.
    fn describe(&self) -> String;
}

impl<S: EnergySource + ?Sized> EnergySource for Box<S> {
    fn source(&self) -> Source {
        (**self).source()
    }
    fn read_uj(&mut self) -> Result<u64> {
        (**self).read_uj()
    }
    fn poll_interval(&self) -> Option<Duration> {
        (**self).poll_interval()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_json_strings() {
        assert_eq!(Source::Rapl.as_str(), "rapl");
        assert_eq!(Source::Nvml.as_str(), "nvml");
        assert_eq!(Source::Estimate.as_str(), "estimate");
        assert_eq!(Source::Estimate.to_string(), "estimate");
        assert!(Source::Rapl.is_measured());
        assert!(Source::Nvml.is_measured());
        assert!(!Source::Estimate.is_measured());
    }
}
