//! `SOBRE_POWERCAP_ROOT` replaces /sys/class/powercap. The only test in this
//! binary, as it sets a process-wide variable.

mod common;

use energy::{Meter, MeterConfig, Source};

#[test]
fn the_environment_variable_moves_the_powercap_root() {
    let dir = tempfile::tempdir().unwrap();
    common::make_zone(dir.path(), "intel-rapl:0", "package-0", "4242", "262143328850");
    std::env::set_var(energy::rapl::POWERCAP_ROOT_ENV, dir.path());
    assert_eq!(energy::rapl::powercap_root(), dir.path());
    assert_eq!(MeterConfig::default().powercap_root, dir.path());
    let meter = Meter::default();
    assert_eq!(meter.source(), Source::Rapl, "{:?}", meter.diagnostics());

    std::env::set_var(energy::rapl::POWERCAP_ROOT_ENV, "");
    assert_eq!(
        energy::rapl::powercap_root(),
        std::path::Path::new("/sys/class/powercap")
    );
    std::env::remove_var(energy::rapl::POWERCAP_ROOT_ENV);
    assert_eq!(
        energy::rapl::powercap_root(),
        std::path::Path::new("/sys/class/powercap")
    );
}
