//! `--device cpu|gpu|auto`: builds the backend the flag asks for.

use model::{Backend, BackendError, CpuBackend, Model};

use crate::backend::{unsupported_type, GpuBackend};
use crate::device::{DeviceChoice, Gpu};

/// What the backend is built for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub device: DeviceChoice,
    /// KV cache slots (sequences decoded together).
    pub n_slots: usize,
    pub n_ctx: usize,
    /// Most tokens per forward step.
    pub n_batch: usize,
    /// Most logit rows per step.
    pub n_outputs: usize,
    /// CPU threads (CPU backend only).
    pub threads: usize,
}

/// The chosen backend, and why `auto` fell back to the CPU, if it did.
pub struct Selected<'a> {
    pub backend: Box<dyn Backend + 'a>,
    pub fallback: Option<String>,
    /// True when the device is an NVIDIA GPU (NVML can measure its energy).
    pub nvidia: bool,
}

impl std::fmt::Debug for Selected<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selected")
            .field("device", &self.backend.device())
            .field("fallback", &self.fallback)
            .finish()
    }
}

impl Selected<'_> {
    /// The line `sobre` prints on stderr: the device, and for `auto`, why
    /// not a GPU. (Stderr: scripts parse stdout.)
    pub fn announce(&self) {
        match &self.fallback {
            Some(why) => eprintln!("sobre: device {} ({why})", self.backend.device()),
            None => eprintln!("sobre: device {}", self.backend.device()),
        }
    }
}

/// The GPU backend on an already opened device, or why not.
pub fn gpu_backend(gpu: Gpu, model: &Model<'_>, o: &Options) -> Result<GpuBackend, BackendError> {
    if let Some(ty) = unsupported_type(model) {
        return Err(BackendError::Device(format!(
            "the model has {} weights, which the GPU backend has no shader for",
            ty.name()
        )));
    }
    GpuBackend::new(gpu, model, o.n_slots, o.n_ctx, o.n_batch, o.n_outputs)
}

/// Builds the backend `o.device` asks for. `auto` takes a hardware GPU that
/// can run the model and otherwise the CPU, saying why in `fallback`;
/// `gpu` fails rather than fall back.
pub fn select<'a>(model: Model<'a>, o: &Options) -> Result<Selected<'a>, BackendError> {
    let cpu = |model: Model<'a>, fallback| Selected {
        backend: Box::new(CpuBackend::new(
            model,
            o.n_slots,
            o.n_ctx,
            o.n_batch,
            o.n_outputs,
            o.threads,
        )),
        fallback,
        nvidia: false,
    };
    let attempt = |model: &Model<'a>, software| {
        let gpu = Gpu::open(software)?;
        let nvidia = gpu.is_nvidia();
        gpu_backend(gpu, model, o).map(|b| (b, nvidia))
    };
    match o.device {
        DeviceChoice::Cpu => Ok(cpu(model, None)),
        DeviceChoice::Gpu => {
            let (b, nvidia) = attempt(&model, true)?;
            Ok(Selected {
                backend: Box::new(b),
                fallback: None,
                nvidia,
            })
        }
        DeviceChoice::Auto if !may_have_gpu() => Ok(cpu(
            model,
            Some("auto: no GPU device (no /dev/dri/renderD* or /dev/nvidia0)".into()),
        )),
        DeviceChoice::Auto => match attempt(&model, false) {
            Ok((b, nvidia)) => Ok(Selected {
                backend: Box::new(b),
                fallback: None,
                nvidia,
            }),
            Err(e) => Ok(cpu(model, Some(format!("auto: {e}")))),
        },
    }
}

/// Whether this machine may have a hardware GPU: on Linux, a DRM render
/// node or an NVIDIA device file. Without one, `auto` does not start the
/// Vulkan loader at all: it would only find Mesa's software driver (which
/// `auto` rejects), and Mesa prints warnings on stderr while it looks.
fn may_have_gpu() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let render_node = std::fs::read_dir("/dev/dri").is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    });
    render_node || std::path::Path::new("/dev/nvidia0").exists()
}
