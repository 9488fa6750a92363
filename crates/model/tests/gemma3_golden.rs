//! Gemma 3 270M Q4_K_M against llama.cpp's greedy output and logits
//! (goldens from `tools/make_model_goldens.py`; the model comes from
//! `scripts/fetch-models`).
//!
//! On this model a last-bit float difference anywhere is amplified into a
//! logit difference of 1e-2 to 3e-2 of the largest logit: activations are
//! re-quantized to 8 bits before every matmul, so a last-bit difference now
//! and then moves one activation across a rounding boundary (a step of
//! `amax / 127`, and Gemma's residual stream reaches 1e4), and the
//! post-norms carry that on. llama.cpp is no exception: its logits after a
//! prompt move by up to 5.7% (`self_spread` in the golden) when the prompt
//! is fed token by token, because it then takes other kernels. So sobre
//! follows llama.cpp's CPU arithmetic exactly (bit for bit on x86 with
//! AVX-512, where the goldens are made; see `kernels::matmul::Dots`,
//! `kernels::ops` and the model's attention) up to the output head. The
//! head's results are the logits themselves, which nothing amplifies: on
//! AVX-512 VNNI it is repacked and summed in another order
//! (`kernels::packed`), which moves the logits by about 1e-7 of the
//! largest (the top-50 error this test prints). The checks are the
//! acceptance criteria of issue #5:
//!
//! - logits after the prompt: `max |ours - ref| / max |ref|` below
//!   [`LOGIT_TOL`], over the whole vocabulary (prompt 0; the golden is
//!   stored in f16, a floor of ~4e-4) and over llama.cpp's top 50 (every
//!   prompt);
//! - ids: the first 32 greedy ids equal llama.cpp's, except where
//!   llama.cpp's own top-2 logits are within [`NEAR_TIE`] at the first
//!   difference (after it the texts differ and are not compared).

mod common;

use gguf::GgufFile;
use model::{KvCache, Model, Sampler, SamplerConfig};
use serde_json::Value;

/// A greedy divergence is accepted only where llama.cpp's top-2 logits are
/// closer than this (in logits).
const NEAR_TIE: f32 = 1e-3;

/// Largest accepted `max |ours - ref| / max |ref|` of the logits.
const LOGIT_TOL: f32 = 1e-2;

fn golden() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/model/gemma3.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// Reads a little-endian float16 `.npy` vector.
fn read_npy_f16(path: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'<f2'"), "{header}");
    bytes[10 + header_len..]
        .chunks_exact(2)
        .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect()
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

#[test]
fn greedy_ids_and_logits_match_llama_cpp() {
    let file = GgufFile::open(common::tiny::models_dir().join("gemma-3-270m-q4_k_m.gguf"))
        .expect("Gemma 3 270M missing: run scripts/fetch-models");
    let model = Model::load(&file).unwrap();
    let tok = tokenizer::Tokenizer::from_metadata(file.metadata()).unwrap();
    let g = golden();
    let full0 = read_npy_f16(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/model/gemma3_prompt0_logits.npy"
    ));
    let n_ctx = 128;
    let mut scratch = model.scratch(64, n_ctx, 1, 2);
    let cases = g["cases"].as_array().unwrap();
    let tol = LOGIT_TOL;
    let mut report = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let (mut total, mut matched, mut full_prompts) = (0usize, 0usize, 0usize);
    for (k, case) in cases.iter().enumerate() {
        let prompt = case["prompt"].as_str().unwrap();
        let prompt_ids = ids(&case["prompt_ids"]);
        assert_eq!(
            tok.encode(prompt, true, true),
            prompt_ids,
            "tokenizer differs on {prompt:?}"
        );
        let want = ids(&case["ids"]);
        let margins: Vec<f32> = case["margins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_f64().unwrap() as f32)
            .collect();

        let mut cache = KvCache::new(model.config(), n_ctx);
        let mut sampler = Sampler::new(SamplerConfig::greedy(), model.config().n_vocab);
        let logits = model
            .eval(&prompt_ids, 0, &mut cache, &mut scratch)
            .unwrap()
            .to_vec();

        // Logits after the prompt.
        let max_ref = case["logit_max_abs"].as_f64().unwrap() as f32;
        let spread = case["self_spread"].as_f64().unwrap() as f32;
        let top_ids = ids(&case["top50_ids"]);
        let top_ref: Vec<f32> = case["top50_logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let top_err = top_ids
            .iter()
            .zip(&top_ref)
            .map(|(&i, &r)| (logits[i as usize] - r).abs())
            .fold(0.0f32, f32::max)
            / max_ref;
        if argmax(&logits) != top_ids[0] as usize && margins[0] >= NEAR_TIE {
            failures.push(format!("{prompt:?}: top-1 after the prompt differs"));
        }
        if top_err >= tol {
            failures.push(format!("{prompt:?}: top-50 rel err {top_err} >= {tol}"));
        }
        if k == 0 {
            let full_max = full0.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let full_err = logits
                .iter()
                .zip(&full0)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max)
                / full_max;
            report.push(format!(
                "prompt 0 full-vocabulary rel err {full_err:.2e} (tolerance {tol:.2e})"
            ));
            if full_err >= tol {
                failures.push(format!("full-vocabulary rel err {full_err} >= {tol}"));
            }
        }

        // Greedy ids.
        let mut got = Vec::new();
        let mut next = sampler.sample(&logits);
        let mut pos = prompt_ids.len();
        while got.len() < want.len() {
            got.push(next);
            if got.len() == want.len() {
                break;
            }
            let l = model
                .forward(&[next], pos, &mut cache, &mut scratch, &[0])
                .unwrap();
            next = sampler.sample(l);
            pos += 1;
        }
        let same = got.iter().zip(&want).take_while(|(a, b)| a == b).count();
        total += want.len();
        matched += same;
        if same < want.len() {
            if margins[same] >= NEAR_TIE {
                failures.push(format!(
                    "{prompt:?}: differs at generated token {same} (ours {}, llama.cpp {}), where llama.cpp's top-2 margin is {} >= {NEAR_TIE}",
                    got[same], want[same], margins[same]
                ));
            }
        } else {
            full_prompts += 1;
        }
        report.push(format!(
            "{prompt:?}: {same}/{} ids equal{}; top-50 rel err {top_err:.2e} (llama.cpp self spread {spread:.2e})",
            want.len(),
            if same < want.len() { format!(", then a near-tie (llama.cpp margin {})", margins[same]) } else { String::new() }
        ));
    }
    report.push(format!(
        "{full_prompts}/{} prompts fully equal; {matched}/{total} ids equal before any near-tie divergence; logit tolerance {tol:.2e}",
        cases.len()
    ));
    eprintln!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
