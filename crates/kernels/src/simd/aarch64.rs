//! AArch64 NEON level: not written yet. The aarch64 target is not installed
//! on the machines these kernels were written on, so nothing here could be
//! compiled or tested; until then this level reports itself unavailable and
//! callers use the scalar kernels. A port would follow the x86 kernels'
//! structure with `vdotq_s32` (the `dotprod` feature) in place of `vpdpbusd`.

/// Whether the NEON kernels may be used: never, for now.
pub(super) fn detect() -> bool {
    false
}

/// The NEON kernel for a weight type: none yet.
pub(super) fn kernel(_ty: gguf::GgmlType) -> Option<crate::dot::VecDotFn> {
    None
}
