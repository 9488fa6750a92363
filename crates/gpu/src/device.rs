//! Finding a device: which adapter `--device` means, and opening it with
//! the limits the model needs. wgpu reports validation errors through a
//! callback that panics by default; here they are kept and turned into
//! errors instead (see [`Gpu::take_error`]).

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use model::BackendError;

/// What `--device` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// The CPU path, always available.
    Cpu,
    /// A GPU, a software one (llvmpipe, lavapipe) included: CI tests the
    /// GPU backend that way. Failing to find one is an error.
    Gpu,
    /// A hardware GPU when one is usable, else the CPU. Never a software
    /// adapter: it would be slower than the CPU path, and every test would
    /// silently run on it wherever Mesa's lavapipe is installed.
    #[default]
    Auto,
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "gpu" => Ok(DeviceChoice::Gpu),
            "auto" => Ok(DeviceChoice::Auto),
            other => Err(format!("unknown device {other:?} (expected cpu, gpu or auto)")),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Gpu => "gpu",
            DeviceChoice::Auto => "auto",
        })
    }
}

/// An open device and its queue.
#[derive(Debug)]
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// `gpu (NAME, API)`, as printed when the device is chosen.
    pub description: String,
    /// Whether WGSL's `fma` rounds once here (WGSL allows twice, and
    /// lavapipe does); the shaders emulate it otherwise ([`probe_fma`]).
    pub native_fma: bool,
    errors: Arc<Mutex<Option<String>>>,
}

/// Preference among adapters: hardware first, software last.
fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

impl Gpu {
    /// Opens the best adapter; a software one only when `allow_software`.
    pub fn open(allow_software: bool) -> Result<Gpu, BackendError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::PRIMARY,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let mut adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY));
        adapters.sort_by_key(|a| rank(a.get_info().device_type));
        let found: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
        let adapter = adapters
            .into_iter()
            .find(|a| allow_software || a.get_info().device_type != wgpu::DeviceType::Cpu)
            .ok_or_else(|| {
                BackendError::Device(if found.is_empty() {
                    "no GPU adapter found (Vulkan, Metal or DX12; for a software one on Debian: \
                     apt-get install mesa-vulkan-drivers libvulkan1)"
                        .into()
                } else {
                    format!("only software GPU adapters found ({})", found.join(", "))
                })
            })?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("sobre"),
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| BackendError::Device(format!("cannot open GPU {}: {e}", info.name)))?;
        let errors = Arc::new(Mutex::new(None));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = sink.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }));
        let description = format!("gpu ({}, {:?})", info.name, info.backend);
        let mut gpu = Gpu {
            device,
            queue,
            info,
            limits,
            description,
            native_fma: false,
            errors,
        };
        gpu.native_fma = probe_fma(&gpu)?;
        Ok(gpu)
    }

    /// True for a software adapter (llvmpipe, lavapipe, WARP).
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// True when the adapter is an NVIDIA GPU (PCI vendor 0x10de), whose
    /// energy NVML can measure.
    pub fn is_nvidia(&self) -> bool {
        self.info.vendor == 0x10de
    }

    /// The first validation or device error since the last call, if any.
    pub fn take_error(&self) -> Result<(), BackendError> {
        let mut slot = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        match slot.take() {
            Some(e) => Err(BackendError::Device(format!("GPU error: {e}"))),
            None => Ok(()),
        }
    }
}

/// Runs `fma(a, b, c)` once on the device with `a = b = 1 + 2^-12` and
/// `c = -(1 + 2^-11)`: rounded once that is `2^-24`, rounded twice 0.
pub fn probe_fma(gpu: &Gpu) -> Result<bool, BackendError> {
    use wgpu::util::DeviceExt;
    const SRC: &str = "@group(0) @binding(0) var<storage, read_write> v: array<f32>;\n\
        @compute @workgroup_size(1) fn main() { v[3] = fma(v[0], v[1], v[2]); }";
    let d = &gpu.device;
    let a = 1.0f32 + 2f32.powi(-12);
    let input: Vec<u8> = [a, a, -(1.0 + 2f32.powi(-11)), 0.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let buf = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("fma probe"),
        contents: &input,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    });
    let staging = d.create_buffer(&wgpu::BufferDescriptor {
        label: Some("fma probe staging"),
        size: 16,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let module = d.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("fma probe"),
        source: wgpu::ShaderSource::Wgsl(SRC.into()),
    });
    let pipeline = d.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("fma probe"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let bind = crate::plan::bind(d, &pipeline, &[&buf]);
    let mut enc = d.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(1, 1, 1);
    }
    enc.copy_buffer_to_buffer(&buf, 0, &staging, 0, 16);
    gpu.queue.submit([enc.finish()]);
    let slice = staging.slice(..);
    slice.map_async(wgpu::MapMode::Read, |_| {});
    d.poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| BackendError::Device(format!("probing the GPU: {e}")))?;
    gpu.take_error()?;
    let view = slice
        .get_mapped_range()
        .map_err(|e| BackendError::Device(format!("probing the GPU: {e}")))?;
    let r = f32::from_le_bytes([view[12], view[13], view[14], view[15]]);
    Ok(r == 2f32.powi(-24))
}
