//! The model store: content-addressed GGUF files, a manifest of names, and
//! verified, resumable downloads.
//!
//! Empty until the model store issue lands.
