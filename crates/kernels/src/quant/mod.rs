//! Scalar reference dequantizers for ggml's block formats.
//!
//! Each `dequantize_row_*` function mirrors ggml's function of the same name
//! in `ggml-quants.c`, doing the same f32 operations in the same order, so
//! results match ggml (and gguf-py) bit for bit. They are written for
//! readability, not speed: SIMD versions will be checked against these.
//!
//! Block layouts are read from byte slices with explicit little-endian
//! decoding rather than by casting to structs, which keeps the code free of
//! `unsafe` and independent of alignment. Any byte pattern is accepted; f16
//! scales that are NaN or infinite simply propagate into the output.

use std::fmt;

use gguf::GgmlType;

mod float;
mod iq4;
mod k_quants;
mod legacy;
mod mxfp4;
mod ternary;

pub use float::{
    dequantize_row_bf16, dequantize_row_f16, dequantize_row_f32, dequantize_row_f64, dequantize_row_i16,
    dequantize_row_i32, dequantize_row_i64, dequantize_row_i8,
};
pub use iq4::{dequantize_row_iq4_nl, dequantize_row_iq4_xs, KVALUES_IQ4NL};
pub use k_quants::{
    dequantize_row_q2_k, dequantize_row_q3_k, dequantize_row_q4_k, dequantize_row_q5_k, dequantize_row_q6_k,
    dequantize_row_q8_k,
};
pub use legacy::{
    dequantize_row_q4_0, dequantize_row_q4_1, dequantize_row_q5_0, dequantize_row_q5_1, dequantize_row_q8_0,
};
pub use mxfp4::{dequantize_row_mxfp4, e8m0_to_f32_half, KVALUES_MXFP4};
pub use ternary::{dequantize_row_tq1_0, dequantize_row_tq2_0};

/// Why a buffer could not be dequantized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DequantError {
    /// No dequantizer for this type (e.g. the IQ1/IQ2/IQ3 grid types, Q8_1).
    Unsupported(GgmlType),
    /// `data` is not a whole number of blocks.
    PartialBlock {
        ty: GgmlType,
        data_len: usize,
        type_size: usize,
    },
    /// `out` does not have exactly one slot per element in `data`.
    OutputLength {
        ty: GgmlType,
        expected: usize,
        actual: usize,
    },
}

impl fmt::Display for DequantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DequantError::Unsupported(ty) => write!(f, "dequantization of {ty} is not supported"),
            DequantError::PartialBlock {
                ty,
                data_len,
                type_size,
            } => write!(
                f,
                "{data_len} bytes of {ty} data is not a whole number of {type_size}-byte blocks"
            ),
            DequantError::OutputLength { ty, expected, actual } => write!(
                f,
                "{ty} data holds {expected} elements but the output has room for {actual}"
            ),
        }
    }
}

impl std::error::Error for DequantError {}

/// The types [`dequantize`] accepts, in ggml id order.
pub const SUPPORTED: [GgmlType; 24] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q2K,
    GgmlType::Q3K,
    GgmlType::Q4K,
    GgmlType::Q5K,
    GgmlType::Q6K,
    GgmlType::Q8K,
    GgmlType::IQ4NL,
    GgmlType::IQ4XS,
    GgmlType::I8,
    GgmlType::I16,
    GgmlType::I32,
    GgmlType::I64,
    GgmlType::F64,
    GgmlType::BF16,
    GgmlType::TQ1_0,
    GgmlType::TQ2_0,
    GgmlType::MXFP4,
];

/// True when [`dequantize`] has an implementation for `ty`.
pub fn is_supported(ty: GgmlType) -> bool {
    row_fn(ty).is_some()
}

/// A per-type row function: `data` holds whole blocks, `out` exactly their
/// elements (checked by [`dequantize`] before the call).
type RowFn = fn(&[u8], &mut [f32]);

fn row_fn(ty: GgmlType) -> Option<RowFn> {
    use GgmlType::*;
    let f: RowFn = match ty {
        F32 => dequantize_row_f32,
        F16 => dequantize_row_f16,
        BF16 => dequantize_row_bf16,
        F64 => dequantize_row_f64,
        I8 => dequantize_row_i8,
        I16 => dequantize_row_i16,
        I32 => dequantize_row_i32,
        I64 => dequantize_row_i64,
        Q4_0 => dequantize_row_q4_0,
        Q4_1 => dequantize_row_q4_1,
        Q5_0 => dequantize_row_q5_0,
        Q5_1 => dequantize_row_q5_1,
        Q8_0 => dequantize_row_q8_0,
        Q2K => dequantize_row_q2_k,
        Q3K => dequantize_row_q3_k,
        Q4K => dequantize_row_q4_k,
        Q5K => dequantize_row_q5_k,
        Q6K => dequantize_row_q6_k,
        Q8K => dequantize_row_q8_k,
        IQ4NL => dequantize_row_iq4_nl,
        IQ4XS => dequantize_row_iq4_xs,
        TQ1_0 => dequantize_row_tq1_0,
        TQ2_0 => dequantize_row_tq2_0,
        MXFP4 => dequantize_row_mxfp4,
        // Q8_1 is an activation-only format (ggml has no to_float for it);
        // the IQ1/IQ2/IQ3 types need large codebook grids not ported yet.
        Q8_1 | IQ2XXS | IQ2XS | IQ3XXS | IQ1S | IQ3S | IQ2S | IQ1M => return None,
        // `GgmlType` is non-exhaustive: types added later start unsupported.
        _ => return None,
    };
    Some(f)
}

/// Dequantizes `data`, a whole number of `ty` blocks, into `out`, which must
/// have exactly one slot per element.
///
/// Checks lengths up front so the per-type kernels can index freely; no byte
/// pattern in `data` makes this panic.
pub fn dequantize(ty: GgmlType, data: &[u8], out: &mut [f32]) -> Result<(), DequantError> {
    let f = row_fn(ty).ok_or(DequantError::Unsupported(ty))?;
    let type_size = ty.type_size();
    if !data.len().is_multiple_of(type_size) {
        return Err(DequantError::PartialBlock {
            ty,
            data_len: data.len(),
            type_size,
        });
    }
    let expected = data.len() / type_size * ty.block_size();
    if out.len() != expected {
        return Err(DequantError::OutputLength {
            ty,
            expected,
            actual: out.len(),
        });
    }
    f(data, out);
    Ok(())
}

/// Reads the little-endian f16 at `b[i..i + 2]` as f32 (exact conversion).
#[inline]
fn f16_at(b: &[u8], i: usize) -> f32 {
    half::f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

/// Pairs each `bytes`-sized block of `data` with its `elems`-sized output
/// chunk. The kernels assume the caller checked the lengths; if they are off
/// anyway, the shorter side wins and nothing panics.
#[inline]
fn blocks<'a>(
    data: &'a [u8],
    bytes: usize,
    out: &'a mut [f32],
    elems: usize,
) -> impl Iterator<Item = (&'a [u8], &'a mut [f32])> {
    data.chunks_exact(bytes).zip(out.chunks_exact_mut(elems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_list_matches_dispatch() {
        for ty in GgmlType::ALL {
            assert_eq!(is_supported(ty), SUPPORTED.contains(&ty), "{ty}");
        }
    }

    #[test]
    fn rejects_partial_block() {
        let mut out = [0.0f32; 32];
        let err = dequantize(GgmlType::Q4_0, &[0u8; 17], &mut out).unwrap_err();
        assert_eq!(
            err,
            DequantError::PartialBlock {
                ty: GgmlType::Q4_0,
                data_len: 17,
                type_size: 18
            }
        );
        assert!(err.to_string().contains("Q4_0"), "{err}");
        // Also for scalar types whose element is several bytes.
        let mut out = [0.0f32; 1];
        assert!(matches!(
            dequantize(GgmlType::F32, &[0u8; 3], &mut out),
            Err(DequantError::PartialBlock { .. })
        ));
    }

    #[test]
    fn rejects_wrong_output_length() {
        for len in [0usize, 255, 257, 512] {
            let mut out = vec![0.0f32; len];
            let err = dequantize(GgmlType::Q4K, &[0u8; 144], &mut out).unwrap_err();
            assert_eq!(
                err,
                DequantError::OutputLength {
                    ty: GgmlType::Q4K,
                    expected: 256,
                    actual: len
                }
            );
            assert!(err.to_string().contains("Q4_K"), "{err}");
        }
    }

    #[test]
    fn rejects_unsupported_types_by_name() {
        for ty in [
            GgmlType::IQ2XXS,
            GgmlType::IQ2XS,
            GgmlType::IQ2S,
            GgmlType::IQ3XXS,
            GgmlType::IQ3S,
            GgmlType::IQ1S,
            GgmlType::IQ1M,
            GgmlType::Q8_1,
        ] {
            let data = vec![0u8; ty.type_size()];
            let mut out = vec![0.0f32; ty.block_size()];
            let err = dequantize(ty, &data, &mut out).unwrap_err();
            assert_eq!(err, DequantError::Unsupported(ty));
            assert!(err.to_string().contains(ty.name()), "{err}");
        }
    }

    #[test]
    fn empty_input_is_fine() {
        for ty in SUPPORTED {
            dequantize(ty, &[], &mut []).unwrap();
        }
    }

    #[test]
    fn any_bytes_no_panic() {
        // A cheap xorshift stream of bytes, including NaN/inf scales.
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for ty in SUPPORTED {
            for n_blocks in [1usize, 3] {
                let data: Vec<u8> = (0..ty.type_size() * n_blocks)
                    .map(|_| {
                        s ^= s << 13;
                        s ^= s >> 7;
                        s ^= s << 17;
                        s as u8
                    })
                    .collect();
                let mut out = vec![0.0f32; ty.block_size() * n_blocks];
                dequantize(ty, &data, &mut out).unwrap();
            }
            let data = vec![0xFFu8; ty.type_size()];
            let mut out = vec![0.0f32; ty.block_size()];
            dequantize(ty, &data, &mut out).unwrap();
        }
    }

    proptest::proptest! {
        /// Arbitrary bytes and output lengths: an error or a result, never a panic.
        #[test]
        fn never_panics(
            ty_index in 0usize..GgmlType::ALL.len(),
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..700),
            out_len in 0usize..1100,
        ) {
            let ty = GgmlType::ALL[ty_index];
            let mut out = vec![0.0f32; out_len];
            let _ = dequantize(ty, &data, &mut out);
            // And with the one output length that fits, when there is one.
            let n = data.len() / ty.type_size() * ty.block_size();
            let mut out = vec![0.0f32; n];
            let r = dequantize(ty, &data, &mut out);
            proptest::prop_assert_eq!(
                r.is_ok(),
                is_supported(ty) && data.len() % ty.type_size() == 0
            );
        }
    }

    #[test]
    fn q4_0_hand_checked_block() {
        // d = 0.5 (f16 0x3800), nibbles: low = j % 16, high = 15 - j % 16.
        let mut block = vec![0x00, 0x38];
        block.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let mut out = [0.0f32; 32];
        dequantize(GgmlType::Q4_0, &block, &mut out).unwrap();
        for j in 0..16 {
            assert_eq!(out[j], (j as f32 - 8.0) * 0.5);
            assert_eq!(out[j + 16], ((15 - j) as f32 - 8.0) * 0.5);
        }
    }
}
