//! `sobre bench --json`: the fields scripts read (bench/compare), and energy
//! per token for both tests.

mod common;

use std::ffi::OsStr;

use serde_json::Value;

/// `sobre bench` on Gemma with `args`, one measured run, two threads:
/// its JSON object.
fn bench_json(args: &[&str]) -> Value {
    let model = common::model(common::GEMMA);
    let mut all = vec![OsStr::new("bench"), model.as_os_str()];
    all.extend(
        ["-r", "1", "-t", "2", "--json"]
            .iter()
            .chain(args)
            .map(OsStr::new),
    );
    let out = common::sobre(&all);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn bench_json_reports_speed_memory_and_energy() {
    let v = bench_json(&["-p", "16", "-n", "4"]);
    for k in ["pp_tok_s", "tg_tok_s", "peak_rss_mb"] {
        assert!(v[k].as_f64().is_some_and(|x| x > 0.0), "{k}: {v}");
    }
    assert_eq!(v["threads"], 2);
    for k in ["pp", "tg"] {
        assert!(
            v["joules_per_token"][k].as_f64().is_some_and(|x| x > 0.0),
            "{k}: {v}"
        );
    }
    assert!(["rapl", "nvml", "estimate"].contains(&v["energy_source"].as_str().unwrap()));
    // Peak RSS stays near the mapped file (the weights are not copied).
    let (rss, file) = (v["peak_rss_mb"].as_f64().unwrap(), v["file_mb"].as_f64().unwrap());
    assert!(rss < file * 1.5, "peak RSS {rss} MB for a {file} MB file");
}

/// `--parallel K`: tg decodes K sequences per step and counts all their
/// tokens; the step time is reported beside it.
#[test]
fn bench_parallel_counts_every_sequence() {
    let v = bench_json(&["-p", "0", "-n", "4", "--parallel", "3"]);
    assert_eq!(v["parallel"], 3);
    assert!(v["pp_tok_s"].is_null(), "-p 0 skips pp: {v}");
    let (tok_s, step_ms) = (v["tg_tok_s"].as_f64().unwrap(), v["tg_step_ms"].as_f64().unwrap());
    assert!(tok_s > 0.0 && step_ms > 0.0, "{v}");
    assert!(
        (tok_s * step_ms / 1e3 - 3.0).abs() < 1e-6,
        "three tokens per step: {tok_s} tok/s, {step_ms} ms per step"
    );
    let out = sobre!("bench", common::model(common::GEMMA), "--parallel", "0");
    assert_eq!(out.status.code(), Some(2), "clap usage error");
}

#[test]
fn bench_rejects_zero_repetitions() {
    let out = sobre!("bench", common::model(common::GEMMA), "-r", "0");
    assert_eq!(out.status.code(), Some(2), "clap usage error");
}

/// Issue #6: peak RSS at most the file, plus the KV cache, plus 10%, on the
/// benchmark's own shape (a 512-token batch, where the scratch is largest,
/// then 128 tokens one at a time). The file is mapped, not copied, and so is
/// its metadata; what the bound leaves is for the scratch and the program.
#[test]
fn bench_peak_rss_is_within_file_plus_kv_cache_plus_ten_percent() {
    let v = bench_json(&["-p", "512", "-n", "128"]);
    let (rss, file) = (v["peak_rss_mb"].as_f64().unwrap(), v["file_mb"].as_f64().unwrap());
    // Gemma 3 270M's f16 cache: 18 layers x (512 + 128 + 1) positions x
    // (256 key + 256 value) dimensions x 2 bytes.
    let kv = (18 * 641 * 512 * 2) as f64 / 1e6;
    let bound = (file + kv) * 1.1;
    assert!(
        rss <= bound,
        "peak RSS {rss:.1} MB over {bound:.1} MB (file {file:.1} MB + KV cache {kv:.1} MB + 10%)"
    );
}
