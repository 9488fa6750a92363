//! Errors that name the file or setting at fault and, where there is one, the fix.

use std::path::PathBuf;

/// Everything that can go wrong while reading an energy counter or
/// configuring the carbon conversion.
///
/// None of these stops a program: [`crate::Meter::new`] turns source errors
/// into diagnostics and falls back to the labeled estimate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A counter file exists but this user may not read it. On Linux 5.10+ and
    /// patched older kernels `energy_uj` is mode 0400 (root only) because of
    /// the Platypus side channel, CVE-2020-8694.
    #[error(
        "cannot read {path}: RAPL energy counters are root-only since CVE-2020-8694. \
         Fix: `sudo chmod a+r {root}/intel-rapl:*/energy_uj {root}/intel-rapl:*:*/energy_uj` \
         (lasts until reboot; a udev rule or tmpfiles.d entry makes it permanent), \
         or run as root. Until then energy is estimated from CPU time"
    )]
    RaplPermission {
        /// The unreadable `energy_uj` file.
        path: PathBuf,
        /// The powercap root the zones were found under.
        root: PathBuf,
    },

    /// The powercap tree holds no RAPL package zone (a VM, a container, a
    /// non-x86 machine, or the `intel_rapl_msr` module not loaded).
    #[error(
        "no RAPL package zone under {root} (virtual machines and most containers expose none; \
         on bare metal try `sudo modprobe intel_rapl_msr`)"
    )]
    NoRapl {
        /// The powercap root that was searched.
        root: PathBuf,
    },

    /// Every counted RAPL counter reads 0: dummy counters, as some
    /// hypervisors expose. Reporting their 0 J as measured would be wrong.
    #[error("every RAPL counter under {root} reads 0 (dummy counters of a virtual machine?)")]
    RaplZero {
        /// The powercap root the zones were found under.
        root: PathBuf,
    },

    /// A file could not be read for a reason other than permissions.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A file held something other than what the kernel writes there.
    #[error("{path}: expected {expected}, found {found:?}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was expected, in words.
        expected: &'static str,
        /// The start of what was found.
        found: String,
    },

    /// NVML is installed but unusable (initialisation failed, no GPU with an
    /// energy counter, an entry point missing).
    #[error("NVML: {0}")]
    Nvml(String),

    /// The background poller thread could not be started.
    #[error("cannot start the energy poller thread: {0}")]
    Thread(#[source] std::io::Error),

    /// A grid zone code not in [`crate::carbon::ZONES`].
    #[error("unknown grid zone {code:?} (known: {known})")]
    UnknownZone {
        /// What was asked for.
        code: String,
        /// The known codes, comma separated.
        known: String,
    },

    /// Both a grid intensity and a grid zone were given.
    #[error("give either a grid intensity or a grid zone, not both")]
    ConflictingGrid,

    /// A numeric setting out of its range (negative, NaN, PUE below 1...).
    #[error("invalid {what} {value}: {why}")]
    InvalidSetting {
        /// The setting's name.
        what: &'static str,
        /// The value given.
        value: f64,
        /// The accepted range, in words.
        why: &'static str,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds [`Error::Parse`] keeping at most 64 characters of what was found.
    pub(crate) fn parse(path: impl Into<PathBuf>, expected: &'static str, found: &str) -> Self {
        let found: String = found.trim().chars().take(64).collect();
        Error::Parse {
            path: path.into(),
            expected,
            found,
        }
    }

    /// Builds [`Error::Io`].
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
