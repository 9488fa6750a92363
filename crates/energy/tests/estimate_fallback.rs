//! Without any readable counter the meter estimates, and says so.

mod common;

use std::time::Duration;

use energy::{Carbon, Meter, MeterConfig, Source};

#[test]
fn no_counter_means_a_labeled_estimate_above_zero() {
    let empty = tempfile::tempdir().unwrap();
    let meter = Meter::new(&MeterConfig {
        powercap_root: empty.path().to_path_buf(),
        ..MeterConfig::default()
    });
    assert_eq!(meter.source(), Source::Estimate);
    assert!(!meter.source().is_measured());
    assert!(meter.poll_interval().is_none(), "the estimate needs no poller");
    assert!(meter.describe().contains("estimate"), "{}", meter.describe());
    let diag = meter.diagnostics().join("\n");
    assert!(diag.contains("no RAPL package zone"), "{diag}");

    let window = meter.start().unwrap();
    common::burn_cpu(Duration::from_millis(300));
    let m = meter.stop(&window).unwrap();
    assert_eq!(m.source, Source::Estimate);
    assert!(m.joules > 0.0, "{m:?}");
    // 300 ms of one busy core at 10 W is 3 J; other test threads of this
    // process may add their CPU time, a loaded machine may give us less.
    assert!(m.joules < 3.0 * 4.0, "{m:?}");

    let report = m.report(&Carbon::for_zone("FR").unwrap());
    assert_eq!(report.source.as_str(), "estimate");
    assert_eq!(report.grid_gco2e_per_kwh, 44.0);
    assert!(report.gco2e > 0.0);
}

#[test]
fn the_per_core_figure_is_configurable_and_bad_ones_fall_back() {
    let empty = tempfile::tempdir().unwrap();
    let meter = Meter::new(&MeterConfig {
        powercap_root: empty.path().to_path_buf(),
        watts_per_core: 25.0,
        ..MeterConfig::default()
    });
    assert!(meter.describe().contains("25 W"), "{}", meter.describe());

    let meter = Meter::new(&MeterConfig {
        powercap_root: empty.path().to_path_buf(),
        watts_per_core: -3.0,
        ..MeterConfig::default()
    });
    assert_eq!(meter.source(), Source::Estimate);
    assert!(meter.describe().contains("10 W"), "{}", meter.describe());
    assert!(meter.diagnostics().iter().any(|d| d.contains("watts per core")));
}
