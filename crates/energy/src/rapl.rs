//! RAPL energy counters through the Linux powercap tree.
//!
//! Layout read (the kernel's, also produced by AMD CPUs through the same
//! `intel_rapl_msr` driver since Linux 5.8):
//!
//! ```text
//! /sys/class/powercap/
//!   intel-rapl                 control type, not a zone: skipped
//!   intel-rapl:0/              package 0        name = package-0   counted
//!     name energy_uj max_energy_range_uj
//!     intel-rapl:0:0/          subzone          name = core        skipped (inside package)
//!     intel-rapl:0:1/          subzone          name = dram        counted (outside package)
//!   intel-rapl:0:0 -> ...      the same subzones, linked at the top: deduplicated by id
//!   intel-rapl:1/              name = psys      skipped (platform: contains the package)
//!   intel-rapl-mmio:0/         name = package-0 skipped: the same package counter read
//!                                                through MMIO, used only when no
//!                                                `intel-rapl:*` package zone exists
//! ```
//!
//! Counted are the package domains and the DRAM domains: DRAM energy is not
//! part of the package figure, while `core`/`uncore` (PP0/PP1) are, and
//! `psys` covers the whole platform including the package. Counting any of
//! those beside the package would count the same joules twice.
//!
//! Each `energy_uj` is a counter that wraps to zero after
//! `max_energy_range_uj`. [`RaplSource`] unwraps every zone into one
//! monotonic total; that is exact as long as no zone wraps twice between two
//! reads, which [`RaplSource::wrap_safe_interval`] and the background
//! [`crate::Poller`] guarantee (the approach Zeus takes).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::source::{EnergySource, Source};

/// Where the kernel publishes powercap zones.
pub const DEFAULT_POWERCAP_ROOT: &str = "/sys/class/powercap";

/// Environment variable that replaces [`DEFAULT_POWERCAP_ROOT`] (tests point
/// it at a fake tree).
pub const POWERCAP_ROOT_ENV: &str = "SOBRE_POWERCAP_ROOT";

/// Power no single RAPL zone is assumed to exceed, used to bound the time
/// until a counter can wrap. Large server packages draw 350-500 W; 1 kW
/// leaves a wide margin.
pub const MAX_PLAUSIBLE_ZONE_WATTS: u64 = 1000;

/// Fastest polling [`RaplSource::wrap_safe_interval`] asks for.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(1);

/// Slowest polling [`RaplSource::wrap_safe_interval`] asks for. Real
/// counters wrap after minutes even at [`MAX_PLAUSIBLE_ZONE_WATTS`]
/// (262 kJ on Intel), so this is what real hardware gets: one read of a few
/// sysfs files a second.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The powercap root: `$SOBRE_POWERCAP_ROOT` when set and not empty, else
/// `/sys/class/powercap`.
pub fn powercap_root() -> PathBuf {
    powercap_root_from(std::env::var_os(POWERCAP_ROOT_ENV))
}

/// [`powercap_root`] given the environment variable's value.
pub fn powercap_root_from(var: Option<OsString>) -> PathBuf {
    match var {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_POWERCAP_ROOT),
    }
}

/// Which RAPL domain a counted zone is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneKind {
    /// A CPU package (socket, or die on multi-die parts): cores, caches,
    /// uncore, integrated GPU.
    Package,
    /// The DRAM attached to a package, where the platform exposes it
    /// (mostly Intel servers).
    Dram,
}

/// One zone whose energy is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaplZone {
    /// The zone's directory name, e.g. `intel-rapl:0` or `intel-rapl:0:1`.
    pub id: String,
    /// Content of its `name` file, e.g. `package-0`, `dram`.
    pub name: String,
    /// Package or DRAM.
    pub kind: ZoneKind,
    /// The zone's directory.
    pub dir: PathBuf,
    /// Content of `max_energy_range_uj`: the counter wraps to 0 after this.
    pub max_energy_range_uj: u64,
}

/// A zone directory name parsed: (is MMIO, package index, subzone index).
type ZoneKey = (bool, u32, Option<u32>);

/// Parses `intel-rapl:A`, `intel-rapl:A:B` and their `intel-rapl-mmio:` twins.
fn parse_zone_id(name: &str) -> Option<ZoneKey> {
    let (mmio, rest) = if let Some(rest) = name.strip_prefix("intel-rapl-mmio:") {
        (true, rest)
    } else if let Some(rest) = name.strip_prefix("intel-rapl:") {
        (false, rest)
    } else {
        return None;
    };
    let index = |s: &str| -> Option<u32> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let mut parts = rest.split(':');
    let package = index(parts.next()?)?;
    let sub = match parts.next() {
        None => None,
        Some(s) => Some(index(s)?),
    };
    if parts.next().is_some() {
        return None;
    }
    Some((mmio, package, sub))
}

fn zone_id((mmio, package, sub): ZoneKey) -> String {
    let mut id = String::from(if mmio { "intel-rapl-mmio:" } else { "intel-rapl:" });
    let _ = write!(id, "{package}");
    if let Some(sub) = sub {
        let _ = write!(id, ":{sub}");
    }
    id
}

/// Reads a small sysfs file as text, without failing on non-UTF-8 bytes.
fn read_text(path: &Path) -> std::io::Result<String> {
    fs::read(path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Reads an unsigned integer file that is not access-restricted.
fn read_u64(path: &Path, expected: &'static str) -> Result<u64> {
    let text = read_text(path).map_err(|e| Error::io(path, e))?;
    parse_u64(path, &text, expected)
}

fn parse_u64(path: &Path, text: &str, expected: &'static str) -> Result<u64> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::parse(path, expected, text));
    }
    t.parse().map_err(|_| Error::parse(path, expected, text))
}

/// Reads an `energy_uj` counter; permission errors carry the CVE-2020-8694 fix.
fn read_energy(path: &Path, root: &Path) -> Result<u64> {
    let text = read_text(path).map_err(|e| {
        if e.kind() == ErrorKind::PermissionDenied {
            Error::RaplPermission {
                path: path.to_path_buf(),
                root: root.to_path_buf(),
            }
        } else {
            Error::io(path, e)
        }
    })?;
    parse_u64(path, &text, "an unsigned integer (microjoules)")
}

/// Finds the zones to count under `root`, deduplicated, in index order.
///
/// Errors: [`Error::NoRapl`] when `root` is missing or holds no package
/// zone; [`Error::Io`]/[`Error::Parse`] naming the file when a counted zone's
/// `name` or `max_energy_range_uj` cannot be read or makes no sense. Does not
/// read `energy_uj` (see [`RaplSource::open`]).
pub fn discover(root: &Path) -> Result<Vec<RaplZone>> {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(Error::NoRapl {
                root: root.to_path_buf(),
            })
        }
        Err(e) => return Err(Error::io(root, e)),
    };

    // Zones appear at the top (as links in the real tree) and nested in
    // their parent: the map keeps one directory per id.
    let mut candidates: BTreeMap<ZoneKey, PathBuf> = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(root, e))?;
        let Some(key) = entry.file_name().to_str().and_then(parse_zone_id) else {
            continue;
        };
        candidates.entry(key).or_insert_with(|| entry.path());
        if key.2.is_none() {
            let Ok(children) = fs::read_dir(entry.path()) else {
                continue;
            };
            for child in children.flatten() {
                let Some(sub) = child.file_name().to_str().and_then(parse_zone_id) else {
                    continue;
                };
                if sub.0 == key.0 && sub.1 == key.1 && sub.2.is_some() {
                    candidates.entry(sub).or_insert_with(|| child.path());
                }
            }
        }
    }

    let mut msr = Vec::new();
    let mut mmio = Vec::new();
    for (key, dir) in candidates {
        let name_path = dir.join("name");
        let name = read_text(&name_path)
            .map_err(|e| Error::io(&name_path, e))?
            .trim()
            .to_string();
        let kind = if key.2.is_none() && name.starts_with("package") {
            ZoneKind::Package
        } else if name == "dram" {
            ZoneKind::Dram
        } else {
            // core, uncore: inside the package figure; psys: contains it.
            continue;
        };
        let range_path = dir.join("max_energy_range_uj");
        let max_energy_range_uj = read_u64(&range_path, "an unsigned integer (microjoules)")?;
        if max_energy_range_uj == 0 {
            return Err(Error::parse(&range_path, "a range above zero", "0"));
        }
        let zone = RaplZone {
            id: zone_id(key),
            name,
            kind,
            dir,
            max_energy_range_uj,
        };
        if key.0 {
            mmio.push(zone);
        } else {
            msr.push(zone);
        }
    }

    let has_package = |zones: &[RaplZone]| zones.iter().any(|z| z.kind == ZoneKind::Package);
    if has_package(&msr) {
        Ok(msr)
    } else if has_package(&mmio) {
        // Only the MMIO interface is there: its package zones are the same
        // counters, so they stand in for the missing MSR ones.
        Ok(mmio)
    } else {
        Err(Error::NoRapl {
            root: root.to_path_buf(),
        })
    }
}

/// Energy drawn between two reads of a counter that wraps to zero after
/// `max_range`: assumes at most one wrap in between.
pub fn wrapping_delta(last: u64, now: u64, max_range: u64) -> u64 {
    if now >= last {
        now - last
    } else {
        max_range.saturating_sub(last).saturating_add(now)
    }
}

#[derive(Debug)]
struct ZoneState {
    zone: RaplZone,
    energy_path: PathBuf,
    last_raw: u64,
}

/// The sum of all counted RAPL zones as one monotonic microjoule counter.
///
/// Must be read at least every [`RaplSource::wrap_safe_interval`]; a
/// [`crate::Meter`] runs a [`crate::Poller`] for that.
#[derive(Debug)]
pub struct RaplSource {
    root: PathBuf,
    zones: Vec<ZoneState>,
    raw: Vec<u64>,
    total_uj: u64,
}

impl RaplSource {
    /// Discovers the zones under `root` and reads each counter once.
    ///
    /// Errors: as [`discover`], plus [`Error::RaplPermission`] (with the fix)
    /// when `energy_uj` is root-only, [`Error::Parse`] naming the file when a
    /// counter holds garbage, and [`Error::RaplZero`] when every counter reads
    /// 0 (dummy counters).
    pub fn open(root: &Path) -> Result<Self> {
        let zones = discover(root)?;
        let mut states = Vec::with_capacity(zones.len());
        for zone in zones {
            let energy_path = zone.dir.join("energy_uj");
            let last_raw = read_energy(&energy_path, root)?;
            states.push(ZoneState {
                zone,
                energy_path,
                last_raw,
            });
        }
        if states.iter().all(|z| z.last_raw == 0) {
            return Err(Error::RaplZero {
                root: root.to_path_buf(),
            });
        }
        Ok(RaplSource {
            root: root.to_path_buf(),
            raw: Vec::with_capacity(states.len()),
            zones: states,
            total_uj: 0,
        })
    }

    /// The zones being summed.
    pub fn zones(&self) -> impl Iterator<Item = &RaplZone> {
        self.zones.iter().map(|z| &z.zone)
    }

    /// A read interval under which no zone can wrap twice: a quarter of the
    /// fastest wrap time at [`MAX_PLAUSIBLE_ZONE_WATTS`], kept within
    /// [`MIN_POLL_INTERVAL`]..=[`MAX_POLL_INTERVAL`].
    pub fn wrap_safe_interval(&self) -> Duration {
        let smallest_range = self
            .zones
            .iter()
            .map(|z| z.zone.max_energy_range_uj)
            .min()
            .unwrap_or(u64::MAX);
        // microjoules / watts = microseconds
        let wrap_us = smallest_range / MAX_PLAUSIBLE_ZONE_WATTS;
        Duration::from_micros(wrap_us / 4).clamp(MIN_POLL_INTERVAL, MAX_POLL_INTERVAL)
    }
}

impl EnergySource for RaplSource {
    fn source(&self) -> Source {
        Source::Rapl
    }

    fn read_uj(&mut self) -> Result<u64> {
        // Read every zone before updating any, so that a failed read leaves
        // the state as it was.
        self.raw.clear();
        for z in &self.zones {
            self.raw.push(read_energy(&z.energy_path, &self.root)?);
        }
        for (z, &now) in self.zones.iter_mut().zip(&self.raw) {
            let delta = wrapping_delta(z.last_raw, now, z.zone.max_energy_range_uj);
            self.total_uj = self.total_uj.saturating_add(delta);
            z.last_raw = now;
        }
        Ok(self.total_uj)
    }

    fn poll_interval(&self) -> Option<Duration> {
        Some(self.wrap_safe_interval())
    }

    fn describe(&self) -> String {
        let zones: Vec<String> = self
            .zones
            .iter()
            .map(|z| format!("{} ({})", z.zone.name, z.zone.id))
            .collect();
        format!(
            "RAPL under {}: {}; polled every {:?}",
            self.root.display(),
            zones.join(", "),
            self.wrap_safe_interval()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_ids() {
        assert_eq!(parse_zone_id("intel-rapl:0"), Some((false, 0, None)));
        assert_eq!(parse_zone_id("intel-rapl:1:2"), Some((false, 1, Some(2))));
        assert_eq!(parse_zone_id("intel-rapl-mmio:0"), Some((true, 0, None)));
        for bad in [
            "intel-rapl",
            "intel-rapl:",
            "intel-rapl:a",
            "intel-rapl:0:1:2",
            "intel-rapl:+1",
            "dtpm",
        ] {
            assert_eq!(parse_zone_id(bad), None, "{bad}");
        }
        for id in ["intel-rapl:0", "intel-rapl:3:1", "intel-rapl-mmio:0"] {
            assert_eq!(zone_id(parse_zone_id(id).unwrap()), id);
        }
    }

    #[test]
    fn deltas_unwrap_one_wrap() {
        assert_eq!(wrapping_delta(100, 250, 1000), 150);
        assert_eq!(wrapping_delta(900, 100, 1000), 200);
        assert_eq!(wrapping_delta(0, 0, 1000), 0);
        // A counter above its declared range (bad data) cannot underflow.
        assert_eq!(wrapping_delta(5000, 10, 1000), 10);
    }

    #[test]
    fn root_env_override() {
        assert_eq!(powercap_root_from(None), Path::new(DEFAULT_POWERCAP_ROOT));
        assert_eq!(
            powercap_root_from(Some("".into())),
            Path::new(DEFAULT_POWERCAP_ROOT)
        );
        assert_eq!(
            powercap_root_from(Some("/tmp/fake".into())),
            Path::new("/tmp/fake")
        );
    }

    #[test]
    fn permission_errors_carry_the_fix() {
        let e = Error::RaplPermission {
            path: PathBuf::from("/x/intel-rapl:0/energy_uj"),
            root: PathBuf::from("/x"),
        };
        let msg = e.to_string();
        assert!(msg.contains("CVE-2020-8694"), "{msg}");
        assert!(msg.contains("sudo chmod a+r /x/intel-rapl:*/energy_uj"), "{msg}");
        assert!(msg.contains("run as root"), "{msg}");
    }

    #[test]
    fn numbers_parse_strictly() {
        let p = Path::new("f");
        assert_eq!(parse_u64(p, " 123\n", "n").unwrap(), 123);
        for bad in ["", "x", "-1", "+1", "1.5", "99999999999999999999999"] {
            assert!(parse_u64(p, bad, "n").is_err(), "{bad}");
        }
    }
}
