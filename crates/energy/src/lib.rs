// The crate documentation is the crate's README, so that the page the
// project README links to and `cargo doc` say the same thing (and its
// example is compiled and run as a doctest).
#![doc = include_str!("../README.md")]
//!
//! # Crate layout
//!
//! - [`source`]: the [`EnergySource`] trait (a monotonic microjoule counter)
//!   and the [`Source`] label.
//! - [`rapl`]: powercap zone discovery, deduplication, wrap handling.
//! - [`poller`]: the background reader that never misses a wrap.
//! - [`nvml`]: NVIDIA GPUs through `libnvidia-ml.so.1`, loaded at run time.
//! - [`estimate`]: CPU time x watts per core.
//! - [`meter`]: [`Meter`], which picks a source and measures windows.
//! - [`attribution`]: splitting a step's energy between requests.
//! - [`carbon`]: grid zones, PUE, gCO2e.
//!
//! It depends on nothing of sobre's, so the engine can use it without
//! pulling the model in.

pub mod attribution;
pub mod carbon;
mod error;
pub mod estimate;
pub mod meter;
pub mod nvml;
pub mod poller;
pub mod rapl;
pub mod source;

pub use attribution::{Ledger, StepWork, TokenWeights};
pub use carbon::Carbon;
pub use error::{Error, Result};
pub use estimate::{CpuTimeEstimate, DEFAULT_WATTS_PER_CORE};
pub use meter::{Device, Measurement, Meter, MeterConfig, Window};
pub use nvml::NvmlSource;
pub use poller::Poller;
pub use rapl::RaplSource;
pub use source::{EnergySource, Source};

/// The `"energy"` object of an answer: what `sobre run --json` and the server
/// print, field for field (`source` as [`Source::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergyReport {
    /// Energy the machine drew for the answer, in joules (PUE not applied).
    pub joules: f64,
    /// Where `joules` comes from: `"rapl"`, `"nvml"` or `"estimate"`.
    pub source: Source,
    /// Grams of CO2-equivalent: `joules / 3.6e6 x grid_gco2e_per_kwh x PUE`.
    pub gco2e: f64,
    /// The grid intensity used, gCO2e/kWh.
    pub grid_gco2e_per_kwh: f64,
}
