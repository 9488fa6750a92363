//! Energy accounting: RAPL and NVML counters, a labeled estimate where no
//! counter can be read, carbon conversion and per-request attribution.
//!
//! Empty until the energy issue lands. It depends on nothing of sobre's so the
//! engine can read it without pulling the model in.
