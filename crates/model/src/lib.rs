//! The forward pass: model configuration read from GGUF metadata, weights as
//! views into the mapped file, the KV cache, and the sampler.
//!
//! Empty until the "Run a model" issue lands; the crate exists now so the
//! dependency direction (gguf, kernels, tokenizer -> model -> engine) is fixed
//! from the start.
