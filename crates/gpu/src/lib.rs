//! The GPU backend: the model's forward pass as WGSL compute shaders run
//! through wgpu (Vulkan, Metal or DX12), behind [`model::Backend`], chosen
//! at run time with `--device cpu|gpu|auto` ([`select()`]).
//!
//! - Weights are uploaded once, in their quantized blocks ([`upload`]);
//!   the shaders dequantize F32, F16, Q8_0, Q5_0, Q4_0, Q4_K and Q6_K.
//! - The KV cache lives on the device (f16, as the CPU path's).
//! - A forward step is one command buffer and one submission: the whole
//!   dispatch list ([`plan`]) is built at load time, a step only writes its
//!   token table and RoPE angles, and one download brings back the logits
//!   of the rows asked for. Prompts are processed in batches.
//! - Arithmetic is the CPU path's, bit for bit, so greedy output is the
//!   same token for token: activations are quantized as the CPU quantizes
//!   them and each weight type's block dot product keeps the CPU kernel's
//!   exact integer sums and float order, including which of llama.cpp's
//!   roundings a token takes by its place in the batch (`dot_*.wgsl`);
//!   attention sums in the CPU's lanes with its `exp` polynomial; the
//!   RMSNorm and softmax sums the CPU takes in f64 are double-f32 pairs; the
//!   GELU is the CPU's own table; RoPE angles come from the host. Where the
//!   device's `fma` rounds twice (lavapipe), a correctly rounded one is
//!   emulated (`exact.wgsl`). What is not bit for bit: SiLU's `exp` (the
//!   device's), so the tiny llama/qwen2 models' logits differ in the last
//!   bits, not their greedy tokens; and checked only on lavapipe: a
//!   driver that contracts `a * b + c` into an FMA (WGSL allows it) would
//!   change last bits.
//!
//! # Why wgpu rather than ash
//!
//! Measured on Mesa 22.3's lavapipe (Debian bookworm, 2 cores), the only
//! device this was developed on: wgpu 30 exposes the adapter's own limits
//! (`max_storage_buffer_binding_size` 128 MiB, `max_buffer_size` 2 GiB, 32
//! storage buffers per stage), so wgpu costs nothing there that raw Vulkan
//! would give; the 128 MiB binding, a Vulkan driver limit, is met by
//! splitting large matrices by rows. Recording 2000 dispatches into one
//! pass cost 54 µs per dispatch and a submit-and-wait 82 µs, i.e. the
//! ~350 dispatches of a Gemma 3 270M step cost ~20 ms of overhead on
//! lavapipe, small beside its compute; that is the driver's cost, not
//! wgpu's. f16 arithmetic and subgroups are not used (f16 values are read
//! with `unpack2x16float`), so no optional feature is required and the same
//! shaders run on Metal and DX12. What remains unmeasured is real GPUs:
//! should wgpu's per-dispatch validation show up there, `ash` with SPIR-V is
//! the fallback the issue names.
//!
//! # Not covered
//!
//! Weight types other than the seven above (an `auto` run falls back to
//! the CPU, saying why). Speed on real GPUs: the kernels are written for
//! exactness and for lavapipe (no shared memory in the matmul, one thread
//! per row), not yet tuned for any hardware GPU, and no hardware GPU has
//! run them yet.

pub mod backend;
pub mod check;
pub mod device;
pub mod pipelines;
pub mod plan;
pub mod select;
pub mod upload;

pub use backend::GpuBackend;
pub use device::{DeviceChoice, Gpu};
pub use select::{select, Options, Selected};

/// Whether GPU tests must find an adapter (`SOBRE_REQUIRE_GPU=1`, set in
/// CI) rather than skip.
pub fn gpu_required() -> bool {
    std::env::var("SOBRE_REQUIRE_GPU").is_ok_and(|v| v == "1")
}
