//! Quantized tensor formats and the compute kernels that work on them.
//!
//! This crate owns everything that knows how ggml lays out quantized blocks:
//! today the scalar reference dequantizers ([`quant`]), which match ggml bit
//! for bit and serve as the oracle for faster code; later the SIMD dot
//! products and matmuls built on the same layouts. CPU-feature detection and
//! the choice between scalar and SIMD paths will live in one place here, so
//! callers never branch on target features themselves.

pub mod quant;

pub use quant::{dequantize, DequantError};
pub mod attn;
pub mod dot;
pub mod matmul;
pub mod ops;
pub mod packed;
pub mod pool;
pub mod simd;
