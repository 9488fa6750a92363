//! From joules to grams of CO2-equivalent: grid carbon intensity and PUE.
//!
//! `gCO2e = joules / 3.6e6 (J per kWh) x grid intensity (gCO2e/kWh) x PUE`.

use crate::error::{Error, Result};
use crate::source::Source;
use crate::EnergyReport;

/// Joules in one kilowatt-hour.
pub const JOULES_PER_KWH: f64 = 3.6e6;

/// Where the zone figures come from.
pub const GRID_SOURCE: &str = "Our World in Data, carbon intensity of electricity generation \
     (gCO2e/kWh, life-cycle; data from Ember and the Energy Institute)";

/// Average carbon intensity of a grid zone's electricity for one year.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridZone {
    /// Code for `--grid-zone`: ISO 3166-1 alpha-2, or `WORLD`.
    pub code: &'static str,
    /// Name in words.
    pub name: &'static str,
    /// Grams of CO2-equivalent per kWh generated.
    pub gco2e_per_kwh: f64,
    /// The year the figure is for.
    pub year: u16,
}

/// The zones `--grid-zone` knows, figures from [`GRID_SOURCE`] for 2024.
/// Anywhere else: pass the local figure with `--grid-intensity`.
pub const ZONES: &[GridZone] = &[
    GridZone {
        code: "WORLD",
        name: "World average",
        gco2e_per_kwh: 473.0,
        year: 2024,
    },
    GridZone {
        code: "FR",
        name: "France",
        gco2e_per_kwh: 44.0,
        year: 2024,
    },
    GridZone {
        code: "US",
        name: "United States",
        gco2e_per_kwh: 384.0,
        year: 2024,
    },
];

/// The zone used when none is given.
pub const DEFAULT_ZONE: &str = "WORLD";

/// Default power usage effectiveness: 1.0, no facility overhead (a machine
/// under a desk). Data centres run 1.1 to 1.6.
pub const DEFAULT_PUE: f64 = 1.0;

/// Looks a zone up by code, ignoring case; `USA` is accepted for `US`.
pub fn zone(code: &str) -> Result<&'static GridZone> {
    let wanted = code.trim();
    let wanted = if wanted.eq_ignore_ascii_case("USA") {
        "US"
    } else {
        wanted
    };
    ZONES
        .iter()
        .find(|z| z.code.eq_ignore_ascii_case(wanted))
        .ok_or_else(|| Error::UnknownZone {
            code: code.to_string(),
            known: ZONES.iter().map(|z| z.code).collect::<Vec<_>>().join(", "),
        })
}

/// How joules become grams of CO2e.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Carbon {
    grid_gco2e_per_kwh: f64,
    pue: f64,
}

impl Default for Carbon {
    /// The world average of [`ZONES`], PUE 1.0.
    fn default() -> Self {
        Carbon {
            grid_gco2e_per_kwh: ZONES[0].gco2e_per_kwh,
            pue: DEFAULT_PUE,
        }
    }
}

impl Carbon {
    /// A grid intensity in gCO2e/kWh (finite, >= 0) and a PUE (finite, >= 1).
    pub fn new(grid_gco2e_per_kwh: f64, pue: f64) -> Result<Self> {
        if !(grid_gco2e_per_kwh.is_finite() && grid_gco2e_per_kwh >= 0.0) {
            return Err(Error::InvalidSetting {
                what: "grid intensity",
                value: grid_gco2e_per_kwh,
                why: "must be a finite number of gCO2e/kWh, 0 or more",
            });
        }
        if !(pue.is_finite() && pue >= 1.0) {
            return Err(Error::InvalidSetting {
                what: "PUE",
                value: pue,
                why: "must be a finite number, 1.0 or more (facility energy / IT energy)",
            });
        }
        Ok(Carbon {
            grid_gco2e_per_kwh,
            pue,
        })
    }

    /// A zone's intensity from [`ZONES`], PUE 1.0.
    pub fn for_zone(code: &str) -> Result<Self> {
        Carbon::new(zone(code)?.gco2e_per_kwh, DEFAULT_PUE)
    }

    /// What the command line gives: `--grid-intensity G`, `--grid-zone Z`
    /// (at most one of them; neither means [`DEFAULT_ZONE`]) and `--pue P`
    /// (default 1.0).
    pub fn from_options(
        grid_intensity: Option<f64>,
        grid_zone: Option<&str>,
        pue: Option<f64>,
    ) -> Result<Self> {
        let intensity = match (grid_intensity, grid_zone) {
            (Some(_), Some(_)) => return Err(Error::ConflictingGrid),
            (Some(g), None) => g,
            (None, Some(code)) => zone(code)?.gco2e_per_kwh,
            (None, None) => zone(DEFAULT_ZONE)?.gco2e_per_kwh,
        };
        Carbon::new(intensity, pue.unwrap_or(DEFAULT_PUE))
    }

    /// The same grid with another PUE.
    pub fn with_pue(self, pue: f64) -> Result<Self> {
        Carbon::new(self.grid_gco2e_per_kwh, pue)
    }

    /// Grid intensity, gCO2e/kWh.
    pub fn grid_gco2e_per_kwh(&self) -> f64 {
        self.grid_gco2e_per_kwh
    }

    /// Power usage effectiveness applied on top of the machine's energy.
    pub fn pue(&self) -> f64 {
        self.pue
    }

    /// Grams of CO2e for `joules` drawn by the machine:
    /// `joules / 3.6e6 x intensity x PUE`. Negative or non-finite joules
    /// count as 0.
    pub fn gco2e(&self, joules: f64) -> f64 {
        let joules = if joules.is_finite() && joules > 0.0 {
            joules
        } else {
            0.0
        };
        joules / JOULES_PER_KWH * self.grid_gco2e_per_kwh * self.pue
    }

    /// The report for `joules` from `source`: `joules` as drawn by the
    /// machine (no PUE), `gco2e` with PUE.
    pub fn report(&self, joules: f64, source: Source) -> EnergyReport {
        let joules = if joules.is_finite() && joules > 0.0 {
            joules
        } else {
            0.0
        };
        EnergyReport {
            joules,
            source,
            gco2e: self.gco2e(joules),
            grid_gco2e_per_kwh: self.grid_gco2e_per_kwh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn grams_are_kwh_times_intensity_times_pue() {
        let c = Carbon::new(400.0, 1.0).unwrap();
        assert!(close(c.gco2e(3.6e6), 400.0));
        assert!(close(c.gco2e(1800.0), 1800.0 / 3.6e6 * 400.0));
        for &(joules, g, pue) in &[(1.0, 473.0, 1.0), (123.4, 44.0, 1.5), (9e6, 384.0, 1.2)] {
            let c = Carbon::new(g, pue).unwrap();
            assert!(
                close(c.gco2e(joules), joules / 3.6e6 * g * pue),
                "{joules} {g} {pue}"
            );
        }
        let c = Carbon::new(473.0, 1.0).unwrap().with_pue(1.5).unwrap();
        assert!(close(c.gco2e(3.6e6), 473.0 * 1.5));
        assert_eq!(c.gco2e(-5.0), 0.0);
        assert_eq!(c.gco2e(f64::NAN), 0.0);
    }

    #[test]
    fn report_carries_the_intensity_and_excludes_pue_from_joules() {
        let c = Carbon::new(100.0, 2.0).unwrap();
        let r = c.report(7200.0, Source::Rapl);
        assert_eq!(r.joules, 7200.0);
        assert_eq!(r.source, Source::Rapl);
        assert_eq!(r.grid_gco2e_per_kwh, 100.0);
        assert!(close(r.gco2e, 7200.0 / 3.6e6 * 100.0 * 2.0));
    }

    #[test]
    fn zones_and_defaults() {
        assert_eq!(zone("FR").unwrap().gco2e_per_kwh, 44.0);
        assert_eq!(zone("fr").unwrap().gco2e_per_kwh, 44.0);
        assert_eq!(zone("US").unwrap().gco2e_per_kwh, 384.0);
        assert_eq!(zone("usa").unwrap().gco2e_per_kwh, 384.0);
        assert_eq!(zone("world").unwrap().gco2e_per_kwh, 473.0);
        assert!(ZONES.iter().all(|z| z.year == 2024));
        let err = zone("XX").unwrap_err().to_string();
        assert!(err.contains("XX") && err.contains("FR"), "{err}");

        let d = Carbon::default();
        assert_eq!((d.grid_gco2e_per_kwh(), d.pue()), (473.0, 1.0));
        assert_eq!(Carbon::from_options(None, None, None).unwrap(), d);
        assert_eq!(Carbon::for_zone("FR").unwrap().grid_gco2e_per_kwh(), 44.0);
        let c = Carbon::from_options(None, Some("FR"), Some(1.3)).unwrap();
        assert_eq!((c.grid_gco2e_per_kwh(), c.pue()), (44.0, 1.3));
        let c = Carbon::from_options(Some(250.0), None, None).unwrap();
        assert_eq!(c.grid_gco2e_per_kwh(), 250.0);
        assert!(matches!(
            Carbon::from_options(Some(1.0), Some("FR"), None),
            Err(Error::ConflictingGrid)
        ));
    }

    #[test]
    fn rejects_nonsense() {
        assert!(Carbon::new(-1.0, 1.0).is_err());
        assert!(Carbon::new(f64::NAN, 1.0).is_err());
        assert!(Carbon::new(100.0, 0.9).is_err());
        assert!(Carbon::new(100.0, f64::INFINITY).is_err());
        assert!(Carbon::new(0.0, 1.0).is_ok());
    }
}
