//! Helpers shared by the model tests.

pub mod tiny;
