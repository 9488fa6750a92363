//! The compute pipelines, compiled once per device. Kernels that read
//! weights are compiled once per weight type: the type's `w_at` (one
//! element of a row, dequantized as the CPU reference does) and, for the
//! matmul, its block dot product (`load_block`, `acc_block`: the CPU
//! kernel's integer sums and float order) are pasted into the kernel's
//! source, so the inner loop has no branch on type. Kernels that must round
//! as the CPU does get `exact.wgsl`, told whether the device's `fma` is
//! fused ([`Gpu::native_fma`]).

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use gguf::GgmlType;
use model::BackendError;

use crate::device::Gpu;

const COMMON: &str = include_str!("shaders/common.wgsl");
const WEIGHTS: &str = include_str!("shaders/weights.wgsl");
const EXACT: &str = include_str!("shaders/exact.wgsl");

/// The `w_at` source of a weight type.
fn weight_source(ty: GgmlType) -> Option<&'static str> {
    Some(match ty {
        GgmlType::F32 => include_str!("shaders/w_f32.wgsl"),
        GgmlType::F16 => include_str!("shaders/w_f16.wgsl"),
        GgmlType::Q8_0 => include_str!("shaders/w_q8_0.wgsl"),
        GgmlType::Q4_0 => include_str!("shaders/w_q4_0.wgsl"),
        GgmlType::Q5_0 => include_str!("shaders/w_q5_0.wgsl"),
        GgmlType::Q4K => include_str!("shaders/w_q4_k.wgsl"),
        GgmlType::Q6K => include_str!("shaders/w_q6_k.wgsl"),
        _ => return None,
    })
}

/// The block dot product of a weight type: its float side, then how its
/// blocks unpack to integers.
fn dot_source(ty: GgmlType) -> Option<[&'static str; 2]> {
    let lanes = include_str!("shaders/dot_lanes.wgsl");
    let float = include_str!("shaders/dot_float.wgsl");
    Some(match ty {
        GgmlType::F32 => [float, include_str!("shaders/load_f32.wgsl")],
        GgmlType::F16 => [float, include_str!("shaders/load_f16.wgsl")],
        GgmlType::Q8_0 => [lanes, include_str!("shaders/load_q8_0.wgsl")],
        GgmlType::Q4_0 => [lanes, include_str!("shaders/load_q4_0.wgsl")],
        GgmlType::Q5_0 => [lanes, include_str!("shaders/load_q5_0.wgsl")],
        GgmlType::Q4K => [include_str!("shaders/dot_q4_k.wgsl"), ""],
        GgmlType::Q6K => [include_str!("shaders/dot_q6_k.wgsl"), ""],
        _ => return None,
    })
}

/// Kernels that read weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightKernel {
    Matmul,
    Embed,
    Dequant,
}

impl WeightKernel {
    fn source(self) -> &'static str {
        match self {
            WeightKernel::Matmul => include_str!("shaders/matmul.wgsl"),
            WeightKernel::Embed => include_str!("shaders/embed.wgsl"),
            WeightKernel::Dequant => include_str!("shaders/dequant.wgsl"),
        }
    }
}

/// Kernels that do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    Quantize,
    Norm,
    Rope,
    KvStore,
    Attention,
    Act,
}

impl Kernel {
    fn source(self) -> &'static str {
        match self {
            Kernel::Quantize => include_str!("shaders/quantize.wgsl"),
            Kernel::Norm => include_str!("shaders/norm.wgsl"),
            Kernel::Rope => include_str!("shaders/rope.wgsl"),
            Kernel::KvStore => include_str!("shaders/kv_store.wgsl"),
            Kernel::Attention => include_str!("shaders/attention.wgsl"),
            Kernel::Act => include_str!("shaders/act.wgsl"),
        }
    }

    /// Whether the kernel rounds through `exact.wgsl`.
    fn exact(self) -> bool {
        matches!(self, Kernel::Norm | Kernel::Rope | Kernel::Attention)
    }
}

/// `exact.wgsl` for `gpu`.
fn exact_source(gpu: &Gpu) -> String {
    format!("const NATIVE_FMA: bool = {};\n{EXACT}", gpu.native_fma)
}

/// Pipelines compiled so far (lavapipe compiles each through LLVM, so
/// only the weight types a model uses are built).
#[derive(Debug, Default)]
pub struct Pipelines {
    plain: HashMap<Kernel, wgpu::ComputePipeline>,
    weighted: HashMap<(WeightKernel, GgmlType), wgpu::ComputePipeline>,
}

fn compile(gpu: &Gpu, label: &str, source: String) -> Result<wgpu::ComputePipeline, BackendError> {
    let module = gpu.device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = gpu
        .device
        .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(label),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
    gpu.take_error()
        .map_err(|e| BackendError::Device(format!("shader {label}: {e}")))?;
    Ok(pipeline)
}

impl Pipelines {
    pub fn get(&mut self, gpu: &Gpu, k: Kernel) -> Result<&wgpu::ComputePipeline, BackendError> {
        match self.plain.entry(k) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => {
                let exact = if k.exact() {
                    exact_source(gpu)
                } else {
                    String::new()
                };
                let p = compile(
                    gpu,
                    &format!("{k:?}"),
                    format!("{COMMON}\n{exact}\n{}", k.source()),
                )?;
                Ok(e.insert(p))
            }
        }
    }

    pub fn weighted(
        &mut self,
        gpu: &Gpu,
        k: WeightKernel,
        ty: GgmlType,
    ) -> Result<&wgpu::ComputePipeline, BackendError> {
        match self.weighted.entry((k, ty)) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => {
                let w = weight_source(ty).ok_or_else(|| {
                    BackendError::Device(format!("no GPU shader for weight type {}", ty.name()))
                })?;
                let dot = match k {
                    WeightKernel::Matmul => {
                        let [acc, load] = dot_source(ty).ok_or_else(|| {
                            BackendError::Device(format!("no GPU matmul for weight type {}", ty.name()))
                        })?;
                        format!("{}\n{acc}\n{load}", exact_source(gpu))
                    }
                    _ => String::new(),
                };
                let source = format!("{COMMON}\n{WEIGHTS}\n{w}\n{dot}\n{}", k.source());
                Ok(e.insert(compile(gpu, &format!("{k:?}<{}>", ty.name()), source)?))
            }
        }
    }
}
