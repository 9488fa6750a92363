//! Quantized tensor formats and the compute kernels that work on them.
//!
//! This crate owns everything that knows how ggml lays out quantized
//! blocks, and the arithmetic of a forward pass on the CPU:
//!
//! - [`quant`]: the scalar dequantizers, bit for bit ggml's, the oracle for
//!   everything faster;
//! - [`dot`]: activation quantizers and the per-row dot products, with a
//!   scalar reference for each; [`simd`] holds their AVX2 and AVX-512 VNNI
//!   versions and is the one place CPU features are detected;
//! - [`matmul`]: weight matrices in their GGUF layout, read in place from
//!   the map, against one or many tokens, on the thread pool ([`pool`]),
//!   in llama.cpp's summation order;
//! - [`packed`]: the output head repacked at load, the one matrix whose
//!   order may differ (its results are the logits);
//! - [`attn`] and [`ops`]: attention, norms, activations, RoPE, as ggml's
//!   CPU backend rounds them.

pub mod quant;

pub use quant::{dequantize, DequantError};
pub mod attn;
pub mod dot;
pub mod matmul;
pub mod ops;
pub mod packed;
pub mod pool;
pub mod simd;
