//! NVIDIA GPU energy through NVML, loaded at run time.
//!
//! `libnvidia-ml.so.1` ships with the NVIDIA driver. It is opened with
//! `dlopen` when a [`NvmlSource`] is asked for, so sobre neither links
//! against it nor needs it: where it is absent there is simply no NVML
//! source. `nvmlDeviceGetTotalEnergyConsumption` (Volta and newer) gives
//! each GPU's energy in millijoules since the driver was loaded, as a 64-bit
//! counter that does not wrap in practice; the source sums it over every GPU
//! that supports it. NVML does not honour `CUDA_VISIBLE_DEVICES`: all GPUs
//! of the machine are counted, busy or idle, whoever uses them.

use std::ffi::{c_uint, c_ulonglong, c_void, OsStr};

use libloading::Library;

use crate::error::{Error, Result};
use crate::source::{EnergySource, Source};

/// The file name the driver installs.
pub const NVML_LIBRARY: &str = "libnvidia-ml.so.1";

type NvmlReturn = c_uint;
type Device = *mut c_void;
const NVML_SUCCESS: NvmlReturn = 0;

type InitFn = unsafe extern "C" fn() -> NvmlReturn;
type ShutdownFn = unsafe extern "C" fn() -> NvmlReturn;
type CountFn = unsafe extern "C" fn(*mut c_uint) -> NvmlReturn;
type HandleFn = unsafe extern "C" fn(c_uint, *mut Device) -> NvmlReturn;
type EnergyFn = unsafe extern "C" fn(Device, *mut c_ulonglong) -> NvmlReturn;

/// Names for `nvmlReturn_t` codes, for error messages.
fn describe_code(code: NvmlReturn) -> String {
    let name = match code {
        1 => "uninitialized",
        2 => "invalid argument",
        3 => "not supported",
        4 => "no permission",
        6 => "not found",
        9 => "driver not loaded",
        12 => "library not found",
        13 => "function not found",
        15 => "GPU is lost",
        18 => "driver/library version mismatch",
        _ => "error",
    };
    format!("{name} (nvmlReturn_t {code})")
}

/// The summed total-energy counters of all NVIDIA GPUs that have one.
#[derive(Debug)]
pub struct NvmlSource {
    get_energy: EnergyFn,
    shutdown: ShutdownFn,
    devices: Vec<Device>,
    origin_mj: u64,
    last_uj: u64,
    // Declared last: the entry points above point into it, and it must stay
    // loaded until `Drop::drop` has called `nvmlShutdown`.
    _lib: Library,
}

// SAFETY: the raw pointers held are NVML device handles, opaque tokens that
// NVML keeps valid until `nvmlShutdown` (called only by our `Drop`). NVML is
// documented as thread-safe, so calls through them may come from any thread.
unsafe impl Send for NvmlSource {}

impl NvmlSource {
    /// Opens NVML. `Ok(None)` when `libnvidia-ml.so.1` is not installed (no
    /// source, not an error); `Err` when it is there but unusable (the
    /// message says why), including when no GPU supports the energy counter.
    pub fn open() -> Result<Option<Self>> {
        Self::open_library(OsStr::new(NVML_LIBRARY))
    }

    /// [`NvmlSource::open`] with the library at `path` (a file name searched
    /// the way `dlopen` does, or a path).
    pub fn open_library(path: &OsStr) -> Result<Option<Self>> {
        // SAFETY: loading runs the library's initialisers. The NVIDIA
        // management library's are safe to run in any process; any other
        // library of that name is the system administrator's choice.
        let lib = match unsafe { Library::new(path) } {
            Ok(lib) => lib,
            Err(_) => return Ok(None),
        };
        // SAFETY: each symbol is given the signature of its declaration in
        // nvml.h (nvmlReturn_t is a C enum, an unsigned int in the ABI), and
        // the copied function pointers live no longer than `lib`, which the
        // returned source owns.
        let (init, shutdown, count, handle, get_energy) = unsafe {
            (
                *lib.get::<InitFn>(b"nvmlInit_v2\0")
                    .map_err(missing("nvmlInit_v2"))?,
                *lib.get::<ShutdownFn>(b"nvmlShutdown\0")
                    .map_err(missing("nvmlShutdown"))?,
                *lib.get::<CountFn>(b"nvmlDeviceGetCount_v2\0")
                    .map_err(missing("nvmlDeviceGetCount_v2"))?,
                *lib.get::<HandleFn>(b"nvmlDeviceGetHandleByIndex_v2\0")
                    .map_err(missing("nvmlDeviceGetHandleByIndex_v2"))?,
                *lib.get::<EnergyFn>(b"nvmlDeviceGetTotalEnergyConsumption\0")
                    .map_err(missing("nvmlDeviceGetTotalEnergyConsumption"))?,
            )
        };

        // SAFETY: nvmlInit_v2 takes no arguments; it may be called from any thread.
        let rc = unsafe { init() };
        if rc != NVML_SUCCESS {
            return Err(Error::Nvml(format!("nvmlInit_v2 failed: {}", describe_code(rc))));
        }
        // From here on, every early return must shut NVML down again: the
        // source built below does it in Drop.
        let mut source = NvmlSource {
            get_energy,
            shutdown,
            devices: Vec::new(),
            origin_mj: 0,
            last_uj: 0,
            _lib: lib,
        };

        let mut n: c_uint = 0;
        // SAFETY: `n` is a valid, writable unsigned int for the call's duration.
        let rc = unsafe { count(&mut n) };
        if rc != NVML_SUCCESS {
            return Err(Error::Nvml(format!(
                "nvmlDeviceGetCount_v2 failed: {}",
                describe_code(rc)
            )));
        }
        let mut origin = 0u64;
        let mut skipped = Vec::new();
        for index in 0..n {
            let mut device: Device = std::ptr::null_mut();
            // SAFETY: `index` < the device count just returned, and `device`
            // is a valid, writable handle slot.
            let rc = unsafe { handle(index, &mut device) };
            if rc != NVML_SUCCESS {
                skipped.push(format!("GPU {index}: {}", describe_code(rc)));
                continue;
            }
            match source.device_mj(device) {
                Ok(mj) => {
                    origin = origin.saturating_add(mj);
                    source.devices.push(device);
                }
                Err(rc) => skipped.push(format!("GPU {index}: {}", describe_code(rc))),
            }
        }
        if source.devices.is_empty() {
            let why = if n == 0 {
                "no NVIDIA GPU found".to_string()
            } else {
                format!(
                    "no GPU has a total-energy counter (Volta or newer needed): {}",
                    skipped.join("; ")
                )
            };
            return Err(Error::Nvml(why));
        }
        source.origin_mj = origin;
        Ok(Some(source))
    }

    /// Number of GPUs summed.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    fn device_mj(&self, device: Device) -> std::result::Result<u64, NvmlReturn> {
        let mut mj: c_ulonglong = 0;
        // SAFETY: `device` is a handle NVML returned and has not been shut
        // down (we own the only shutdown); `mj` is a valid, writable u64.
        let rc = unsafe { (self.get_energy)(device, &mut mj) };
        if rc == NVML_SUCCESS {
            Ok(mj)
        } else {
            Err(rc)
        }
    }
}

fn missing(name: &'static str) -> impl Fn(libloading::Error) -> Error {
    move |e| Error::Nvml(format!("{NVML_LIBRARY} lacks {name} (driver too old?): {e}"))
}

impl EnergySource for NvmlSource {
    fn source(&self) -> Source {
        Source::Nvml
    }

    fn read_uj(&mut self) -> Result<u64> {
        let mut total = 0u64;
        for (i, &device) in self.devices.iter().enumerate() {
            let mj = self.device_mj(device).map_err(|rc| {
                Error::Nvml(format!(
                    "nvmlDeviceGetTotalEnergyConsumption on counted GPU {i}: {}",
                    describe_code(rc)
                ))
            })?;
            total = total.saturating_add(mj);
        }
        // Counters restart when the driver reloads: never go backwards.
        let uj = total.saturating_sub(self.origin_mj).saturating_mul(1000);
        self.last_uj = self.last_uj.max(uj);
        Ok(self.last_uj)
    }

    fn describe(&self) -> String {
        format!(
            "NVML total energy of {} GPU(s) via {NVML_LIBRARY}",
            self.devices.len()
        )
    }
}

impl Drop for NvmlSource {
    fn drop(&mut self) {
        // SAFETY: NVML was initialised by `open_library` (a source exists
        // only after nvmlInit_v2 succeeded) and is shut down exactly once,
        // here, while the library is still loaded.
        let _ = unsafe { (self.shutdown)() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_library_is_no_source_not_an_error() {
        let got = NvmlSource::open_library(OsStr::new("libsobre-no-such-nvml.so.1"));
        assert!(matches!(got, Ok(None)));
    }

    #[test]
    fn opening_the_real_library_never_panics() {
        // No GPU here: None. With a GPU: Some, or an error that says why.
        match NvmlSource::open() {
            Ok(None) | Err(Error::Nvml(_)) => {}
            Ok(Some(mut s)) => {
                let a = s.read_uj().unwrap();
                let b = s.read_uj().unwrap();
                assert!(b >= a);
            }
            Err(e) => panic!("unexpected error kind: {e}"),
        }
    }

    #[test]
    fn code_names() {
        assert!(describe_code(3).contains("not supported"));
        assert!(describe_code(77).contains("77"));
    }
}
