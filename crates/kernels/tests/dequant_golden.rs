//! Dequantization goldens from gguf-py.
//!
//! `tests/data/quant/all_types.gguf` (written by `tools/make_quant_goldens.py`)
//! holds, for every supported type `X`, a tensor `x` of raw blocks and an F32
//! tensor `x.expected` with gguf-py's dequantization of the same bytes. Our
//! scalar kernels do the same f32 operations in the same order as ggml and
//! gguf-py, so every type is compared bit for bit (`-0.0` vs `0.0` included);
//! no tolerance is needed.

use std::collections::BTreeSet;
use std::path::PathBuf;

use gguf::{GgmlType, GgufFile};
use kernels::quant::SUPPORTED;

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/quant/all_types.gguf")
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn dequantize_matches_gguf_py_bit_for_bit() {
    let file = GgufFile::open(golden_path()).expect("open golden file");
    let mut covered = BTreeSet::new();

    for info in file.tensors() {
        if info.name.ends_with(".expected") {
            continue;
        }
        let ty = info.ggml_type;
        assert_eq!(
            info.name,
            ty.name().to_ascii_lowercase(),
            "tensor named after its type"
        );
        let expected_name = format!("{}.expected", info.name);
        let expected_info = file
            .tensor(&expected_name)
            .unwrap_or_else(|| panic!("{expected_name} missing"));
        assert_eq!(expected_info.ggml_type, GgmlType::F32);
        assert_eq!(expected_info.shape, info.shape, "{expected_name} shape");
        let expected = f32s(file.tensor_data(expected_info).unwrap());

        let data = file.tensor_data(info).unwrap();
        let mut got = vec![f32::NAN; info.n_elements as usize];
        kernels::dequantize(ty, data, &mut got).unwrap_or_else(|e| panic!("{ty}: {e}"));

        // The same bytes, one block at a time, must give the same answer
        // (no state carried across blocks).
        let mut per_block = vec![f32::NAN; got.len()];
        for (b, y) in data
            .chunks_exact(ty.type_size())
            .zip(per_block.chunks_exact_mut(ty.block_size()))
        {
            kernels::dequantize(ty, b, y).unwrap();
        }

        assert_eq!(got.len(), expected.len(), "{ty} element count");
        for (i, ((g, e), p)) in got.iter().zip(&expected).zip(&per_block).enumerate() {
            assert_eq!(
                g.to_bits(),
                e.to_bits(),
                "{ty} element {i} (block {}): got {g:e}, expected {e:e}",
                i / ty.block_size()
            );
            assert_eq!(p.to_bits(), g.to_bits(), "{ty} element {i} per block");
        }
        // A golden that is (nearly) all zeros would prove nothing.
        assert!(
            expected.iter().filter(|v| **v != 0.0).count() > expected.len() / 4,
            "{ty} golden is mostly zero"
        );
        assert!(covered.insert(ty), "{ty} appears twice");
    }

    let supported: BTreeSet<GgmlType> = SUPPORTED.into_iter().collect();
    assert_eq!(
        covered, supported,
        "golden file must cover exactly the supported types; regenerate with tools/make_quant_goldens.py"
    );
}
