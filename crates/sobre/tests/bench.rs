//! `sobre bench --json`: the fields scripts read (bench/compare), and energy
//! per token for both tests.

mod common;

use serde_json::Value;

#[test]
fn bench_json_reports_speed_memory_and_energy() {
    let out = sobre!(
        "bench",
        common::model(common::GEMMA),
        "-p",
        "16",
        "-n",
        "4",
        "-r",
        "1",
        "-t",
        "2",
        "--json"
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
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

#[test]
fn bench_rejects_zero_repetitions() {
    let out = sobre!("bench", common::model(common::GEMMA), "-r", "0");
    assert_eq!(out.status.code(), Some(2), "clap usage error");
}
