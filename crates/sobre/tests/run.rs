//! `sobre run`: the `--json` contract, streaming text, and one-line errors.

mod common;

use serde_json::Value;

#[test]
fn json_contract_greedy_gemma() {
    let model = common::model(common::GEMMA);
    let out = sobre!(
        "run",
        model,
        "--prompt",
        "The capital of France is",
        "-n",
        "8",
        "--temperature",
        "0",
        "--json",
        "--threads",
        "2"
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let ids = |k: &str| -> Vec<u64> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect()
    };
    // BOS first; llama.cpp's greedy ids for this prompt (tests/data/model/gemma3.json).
    assert_eq!(ids("prompt_tokens"), vec![2, 818, 5279, 529, 7001, 563]);
    assert_eq!(ids("tokens"), vec![506, 5279, 529, 506, 2891, 529, 7001, 236761]);
    assert_eq!(v["text"], " the capital of the country of France.");
    assert_eq!(v["finish_reason"], "length");
    let t = &v["timings"];
    for k in [
        "load_ms",
        "prompt_ms",
        "generate_ms",
        "total_ms",
        "prompt_tok_s",
        "generate_tok_s",
    ] {
        assert!(t[k].as_f64().is_some_and(|x| x >= 0.0), "{k}: {t}");
    }
    let total = t["total_ms"].as_f64().unwrap();
    let parts = t["prompt_ms"].as_f64().unwrap() + t["generate_ms"].as_f64().unwrap();
    assert!((total - parts).abs() < 1e-6);

    // Energy over the window of total_ms; gCO2e = J / 3.6e6 x intensity.
    let e = &v["energy"];
    let joules = e["joules"].as_f64().unwrap();
    assert!(joules > 0.0, "{e}");
    assert!(
        ["rapl", "nvml", "estimate"].contains(&e["source"].as_str().unwrap()),
        "{e}"
    );
    let intensity = e["grid_gco2e_per_kwh"].as_f64().unwrap();
    assert_eq!(intensity, 473.0, "world average by default");
    let gco2e = e["gco2e"].as_f64().unwrap();
    assert!(
        (gco2e - joules / 3.6e6 * intensity).abs() <= 1e-12 * gco2e.max(1.0),
        "{e}"
    );
}

#[test]
fn grid_intensity_and_zone_set_the_carbon_figure() {
    let model = common::model(common::GEMMA);
    for (flag, value, want) in [("--grid-zone", "FR", 44.0), ("--grid-intensity", "100", 100.0)] {
        let out = sobre!(
            "run",
            model,
            "--prompt",
            "Hi",
            "-n",
            "2",
            "--temperature",
            "0",
            "--json",
            flag,
            value
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["energy"]["grid_gco2e_per_kwh"].as_f64(), Some(want));
    }
    let out = sobre!("run", model, "--prompt", "Hi", "--grid-zone", "XX");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown grid zone"));
}

#[test]
fn runs_a_model_by_its_store_name() {
    let home = tempfile::tempdir().unwrap();
    let pull = std::process::Command::new(env!("CARGO_BIN_EXE_sobre"))
        .env("SOBRE_HOME", home.path())
        .args(["pull", "--quiet", "--name", "g3"])
        .arg(common::model(common::GEMMA))
        .output()
        .unwrap();
    assert!(pull.status.success(), "{}", String::from_utf8_lossy(&pull.stderr));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sobre"))
        .env("SOBRE_HOME", home.path())
        .args([
            "run",
            "g3",
            "--prompt",
            "The capital of France is",
            "-n",
            "3",
            "--temperature",
            "0",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["model"], "g3");
    assert_eq!(v["tokens"], serde_json::json!([506, 5279, 529]));
}

#[test]
fn streams_text_and_stops_on_stop_string() {
    let model = common::model(common::GEMMA);
    let out = sobre!(
        "run",
        model,
        "--prompt",
        "The capital of France is",
        "-n",
        "8",
        "--temperature",
        "0",
        "--stop",
        "country"
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), " the capital of the \n");
    // The closing line on stderr: tokens, speed, energy and carbon.
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in ["tokens", "tok/s", " J (", "J/token", "gCO2e"] {
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn same_seed_same_sample() {
    let model = common::model(common::GEMMA);
    let run = || {
        sobre!(
            "run",
            model,
            "--prompt",
            "Once upon a time",
            "-n",
            "6",
            "--seed",
            "7",
            "--json"
        )
    };
    let (a, b) = (run(), run());
    assert!(a.status.success());
    let tokens =
        |o: &std::process::Output| serde_json::from_slice::<Value>(&o.stdout).unwrap()["tokens"].clone();
    assert_eq!(tokens(&a), tokens(&b));
}

#[test]
fn errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.gguf");
    let out = sobre!("run", missing, "--prompt", "hi");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("nope.gguf"), "{err}");

    // Weights cut off: a clean error, not a panic.
    let part = common::model(common::DEEPSEEK_PART);
    let out = sobre!("run", part, "--prompt", "hi");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("beyond the end of the file"), "{err}");

    let model = common::model(common::GEMMA);
    let out = sobre!("run", model);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--prompt is required"));
}

/// `sobre run -i`: a turn is the model's chat template around the message,
/// so at temperature 0 its answer equals `sobre run --prompt` on the
/// rendered prompt; `/bye` ends the conversation.
#[test]
fn interactive_turn_equals_run_on_the_rendered_template() {
    use std::io::Write;
    let model = common::model(common::GEMMA);
    let dir = tempfile::tempdir().unwrap();
    let msgs = dir.path().join("m.json");
    std::fs::write(&msgs, r#"[{"role": "user", "content": "Bonjour, qui es-tu ?"}]"#).unwrap();
    let rendered = sobre!("chat-template", model, "--messages", msgs);
    let prompt = String::from_utf8(rendered.stdout).unwrap();
    let prompt = prompt
        .strip_prefix("<bos>")
        .expect("Gemma's template starts with <bos>");
    let want = sobre!("run", model, "--prompt", prompt, "-n", "12", "--temperature", "0");
    assert!(want.status.success());

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sobre"))
        .args(["run", "-i", "-n", "12", "--temperature", "0"])
        .arg(&model)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Bonjour, qui es-tu ?\n/bye\nnot read\n")
        .unwrap();
    let got = child.wait_with_output().unwrap();
    assert!(got.status.success(), "{}", String::from_utf8_lossy(&got.stderr));
    assert_eq!(
        String::from_utf8_lossy(&got.stdout),
        String::from_utf8_lossy(&want.stdout)
    );
}

#[test]
fn without_prompt_or_terminal_run_says_what_to_do() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sobre"))
        .arg("run")
        .arg(common::model(common::GEMMA))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--prompt is required"));
}
