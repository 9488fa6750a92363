//! The NVML source against a stand-in `libnvidia-ml.so.1` compiled from C
//! at test time (skipped where no C compiler is installed), so that the FFI
//! path runs without an NVIDIA GPU.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use energy::{EnergySource, Error, NvmlSource, Source};

/// Three GPUs: 0 and 1 count energy (+250 and +500 mJ per query), 2 is too
/// old for the counter. `-DINIT_FAILS` and `-DNO_ENERGY` make broken variants.
const FAKE_NVML: &str = r#"
static unsigned long long energy[2] = {1000000ULL, 5000000ULL};
int nvmlInit_v2(void) {
#ifdef INIT_FAILS
    return 9; /* NVML_ERROR_DRIVER_NOT_LOADED */
#else
    return 0;
#endif
}
int nvmlShutdown(void) { return 0; }
int nvmlDeviceGetCount_v2(unsigned int *n) { *n = 3; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **device) {
    *device = (void *)(unsigned long)(i + 1);
    return 0;
}
#ifndef NO_ENERGY
int nvmlDeviceGetTotalEnergyConsumption(void *device, unsigned long long *mj) {
    unsigned long i = (unsigned long)device;
    if (i == 3) return 3; /* NVML_ERROR_NOT_SUPPORTED */
    energy[i - 1] += 250ULL * i;
    *mj = energy[i - 1];
    return 0;
}
#endif
"#;

fn build(dir: &Path, name: &str, defines: &[&str]) -> Option<PathBuf> {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, FAKE_NVML).unwrap();
    let lib = dir.join(format!("{name}.so"));
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .args(defines)
        .status()
        .ok()?;
    status.success().then_some(lib)
}

#[test]
fn sums_supported_gpus_in_microjoules() {
    let dir = tempfile::tempdir().unwrap();
    let Some(lib) = build(dir.path(), "libfake-nvml", &[]) else {
        eprintln!("skipped: no C compiler");
        return;
    };
    let mut nvml = NvmlSource::open_library(lib.as_os_str())
        .expect("fake NVML should open")
        .expect("fake NVML is present");
    assert_eq!(nvml.source(), Source::Nvml);
    assert_eq!(nvml.device_count(), 2, "GPU 2 has no counter and is skipped");
    // Each read adds 250 mJ (GPU 0) + 500 mJ (GPU 1) = 0.75 J.
    assert_eq!(nvml.read_uj().unwrap(), 750_000);
    assert_eq!(nvml.read_uj().unwrap(), 1_500_000);
    assert!(nvml.describe().contains("2 GPU"), "{}", nvml.describe());
}

#[test]
fn broken_libraries_are_errors_that_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let Some(lib) = build(dir.path(), "libfake-nvml-init", &["-DINIT_FAILS"]) else {
        eprintln!("skipped: no C compiler");
        return;
    };
    let err = NvmlSource::open_library(lib.as_os_str()).unwrap_err();
    assert!(matches!(err, Error::Nvml(_)));
    assert!(err.to_string().contains("driver not loaded"), "{err}");

    let lib = build(dir.path(), "libfake-nvml-old", &["-DNO_ENERGY"]).unwrap();
    let err = NvmlSource::open_library(lib.as_os_str()).unwrap_err();
    assert!(
        err.to_string().contains("nvmlDeviceGetTotalEnergyConsumption"),
        "{err}"
    );
}

#[test]
fn absent_library_is_none() {
    let got = NvmlSource::open_library(OsStr::new("/nonexistent/libnvidia-ml.so.1")).unwrap();
    assert!(got.is_none());
}
