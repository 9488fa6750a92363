//! The scheduler: sequences, continuous batching and admission control over
//! the model crate's forward pass, with energy read around each step.
//!
//! Empty until the `sobre serve` issue lands.
