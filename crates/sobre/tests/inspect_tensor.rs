//! `sobre inspect` and `sobre tensor` against goldens made by the `gguf` PyPI
//! package (tools/make_inspect_goldens.py): the header as gguf-py reads it,
//! and dequantized values as gguf.quants.dequantize computes them.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

fn golden(name: &str) -> Json {
    let path = common::root().join("tests/data/inspect").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("golden json")
}

fn inspect_json(path: &Path) -> Json {
    let out = sobre!("inspect", path, "--json");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("inspect prints one JSON object")
}

/// Compares one metadata entry of gguf-py's with ours.
fn check_metadata_value(key: &str, want: &Json, got: &Json) {
    let ty = want["type"].as_str().unwrap();
    match ty {
        "array" => {
            let len = want["len"].as_u64().unwrap();
            if len > 64 {
                assert_eq!(got["len"].as_u64(), Some(len), "{key}: summarised length");
                assert_eq!(got["type"], want["elem"], "{key}: element type");
            } else {
                let items = got
                    .as_array()
                    .unwrap_or_else(|| panic!("{key}: not a list: {got}"));
                assert_eq!(items.len() as u64, len, "{key}");
                if let Some(head) = want["head"].as_array() {
                    for (i, (w, g)) in head.iter().zip(items).enumerate() {
                        assert_eq!(w, g, "{key}[{i}]");
                    }
                }
            }
        }
        // gguf-py widens f32 to a double; we print the f32's shortest form.
        "f32" => {
            let (w, g) = (want["value"].as_f64().unwrap(), got.as_f64().unwrap());
            assert_eq!(w as f32, g as f32, "{key}");
        }
        _ => assert_eq!(&want["value"], got, "{key}"),
    }
}

fn check_inspect_matches_gguf_py(model: &Path, golden_name: &str) -> Json {
    let want = golden(golden_name);
    let got = inspect_json(model);
    for field in ["version", "architecture", "alignment", "data_offset"] {
        assert_eq!(got[field], want[field], "{field}");
    }
    let want_meta = want["metadata"].as_object().unwrap();
    let got_meta = got["metadata"].as_object().unwrap();
    assert_eq!(got_meta.len(), want_meta.len(), "metadata key count");
    for (key, w) in want_meta {
        let g = got_meta.get(key).unwrap_or_else(|| panic!("missing key {key}"));
        check_metadata_value(key, w, g);
    }
    let (wt, gt) = (
        want["tensors"].as_array().unwrap(),
        got["tensors"].as_array().unwrap(),
    );
    assert_eq!(gt.len(), wt.len(), "tensor count");
    for (w, g) in wt.iter().zip(gt) {
        assert_eq!(w, g, "tensor entry");
    }
    got
}

#[test]
fn inspect_gemma_matches_gguf_py() {
    check_inspect_matches_gguf_py(&common::model(common::GEMMA), "gemma3-270m.json");
}

#[test]
fn inspect_cut_off_deepseek_lists_all_339_tensors() {
    let got = check_inspect_matches_gguf_py(
        &common::model(common::DEEPSEEK_PART),
        "deepseek-r1-qwen-7b-part0000.json",
    );
    assert_eq!(got["architecture"], "qwen2");
    assert_eq!(got["tensors"].as_array().unwrap().len(), 339);
}

#[test]
fn inspect_every_value_and_quant_type_matches_gguf_py() {
    let file = common::root().join("tests/data/quant/all_types.gguf");
    check_inspect_matches_gguf_py(&file, "all-types.json");
}

#[test]
fn inspect_summary_names_the_essentials() {
    let out = sobre!("inspect", common::model(common::GEMMA));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["gemma3", "268.1 M", "32768", "Q4_K", "Q8_0"] {
        assert!(text.contains(needle), "summary lacks {needle:?}:\n{text}");
    }
    let out = sobre!("inspect", common::model(common::DEEPSEEK_PART));
    assert!(String::from_utf8_lossy(&out.stdout).contains("cut off"));
}

/// `sobre tensor` on the first tensor of each type: values bit-identical to
/// gguf.quants.dequantize at sampled indices, shape = GGUF shape reversed.
fn check_tensor_samples(model: &Path, golden_name: &str) {
    let want = golden(golden_name);
    let dir = tempfile::tempdir().unwrap();
    let samples = want["samples"].as_array().unwrap();
    assert!(!samples.is_empty());
    for s in samples {
        let name = s["name"].as_str().unwrap();
        let out_path = dir.path().join(format!("{name}.npy"));
        let out = sobre!("tensor", model, name, "--out", out_path);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (shape, values) = common::read_npy(&out_path);
        let want_shape: Vec<u64> = s["numpy_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        assert_eq!(shape, want_shape, "{name} shape");
        for (i, bits) in s["indices"]
            .as_array()
            .unwrap()
            .iter()
            .zip(s["bits"].as_array().unwrap())
        {
            let (i, bits) = (i.as_u64().unwrap() as usize, bits.as_u64().unwrap() as u32);
            assert_eq!(
                values[i].to_bits(),
                bits,
                "{name}[{i}]: {} vs {}",
                values[i],
                f32::from_bits(bits)
            );
        }
        let sum: f64 = values.iter().map(|&v| v as f64).sum();
        let Some(want_sum) = s["sum"].as_f64() else {
            assert!(
                values.iter().any(|v| !v.is_finite()),
                "{name}: golden sum is null but values are finite"
            );
            continue;
        };
        assert!(
            (sum - want_sum).abs() <= 1e-6 * want_sum.abs().max(1.0),
            "{name} sum {sum} vs {want_sum}"
        );
    }
}

#[test]
fn tensor_gemma_matches_gguf_py() {
    check_tensor_samples(&common::model(common::GEMMA), "gemma3-270m.json");
}

#[test]
fn tensor_every_quant_type_matches_gguf_py() {
    check_tensor_samples(
        &common::root().join("tests/data/quant/all_types.gguf"),
        "all-types.json",
    );
}

fn assert_clean_failure(out: &std::process::Output, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "exit status");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line on stderr: {err}");
    assert!(err.contains(needle), "stderr {err:?} lacks {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn tensor_past_the_cut_fails_cleanly_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out_path: PathBuf = dir.path().join("x.npy");
    let out = sobre!(
        "tensor",
        common::model(common::DEEPSEEK_PART),
        "blk.27.ffn_down.weight",
        "--out",
        out_path
    );
    assert_clean_failure(&out, "beyond the end of the file");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file left behind"
    );
}

#[test]
fn bad_input_gets_one_line_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.gguf");
    assert_clean_failure(&sobre!("inspect", missing), "cannot open");

    let text = dir.path().join("text.gguf");
    std::fs::write(&text, b"hello, this is not a model file").unwrap();
    assert_clean_failure(&sobre!("inspect", text, "--json"), "not a GGUF file");

    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    assert_clean_failure(&sobre!("inspect", empty), "cut off");

    assert_clean_failure(&sobre!("inspect", dir.path()), "not a regular file");

    let out_path = dir.path().join("t.npy");
    assert_clean_failure(
        &sobre!(
            "tensor",
            common::model(common::GEMMA),
            "no.such.tensor",
            "--out",
            out_path
        ),
        "no tensor named",
    );
}

/// A partial download of Gemma cut inside the header fails with one line
/// naming the cut; cut inside the weights, the header still inspects and only
/// tensors past the cut fail.
#[test]
fn gemma_cut_anywhere_fails_cleanly() {
    let full = std::fs::read(common::model(common::GEMMA)).unwrap();
    let data_offset = golden("gemma3-270m.json")["data_offset"].as_u64().unwrap() as usize;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.gguf");
    for cut in [3, 8, 23, 1000, 100_000, 2_000_000, data_offset - 40] {
        std::fs::write(&path, &full[..cut]).unwrap();
        assert_clean_failure(&sobre!("inspect", path, "--json"), "cut off");
    }
    std::fs::write(&path, &full[..data_offset + 10_000_000]).unwrap();
    let got = inspect_json(&path);
    assert_eq!(got["tensors"].as_array().unwrap().len(), 236);
    let out_path = dir.path().join("t.npy");
    assert_clean_failure(
        &sobre!("tensor", path, "token_embd.weight", "--out", out_path),
        "beyond the end of the file",
    );
}
