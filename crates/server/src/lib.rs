//! The HTTP front: OpenAI- and Ollama-compatible endpoints over the engine.
//!
//! Empty until the `sobre serve` issue lands.
