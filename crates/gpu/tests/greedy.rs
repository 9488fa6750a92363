//! Greedy output on the GPU equals the CPU path's, token for token, for
//! the first 16 tokens of every golden prompt, on the tiny qwen2 and llama
//! models (F32, F16, Q8_0) and on Gemma 3 270M (Q4_K_M: Q4_K, Q6_K, Q8_0,
//! Q5_0), with no near-tie excused. Both run through the same
//! [`model::Backend`] interface. A multi-sequence step (two slots, as the
//! server batches them) is checked as well.

mod common;
#[path = "../../model/tests/common/tiny.rs"]
mod tiny;

use std::time::Instant;

use gguf::GgufFile;
use gpu::GpuBackend;
use model::{Backend, CpuBackend, Model, Step};
use serde_json::Value;

const N_GREEDY: usize = 16;

const N_CTX: usize = 128;

fn golden(name: &str) -> Value {
    let path = format!("{}/../../tests/data/model/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// First index of the largest logit.
fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

/// Gap between the largest and second largest logit.
fn margin(v: &[f32]) -> f32 {
    let (mut a, mut b) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
    for &x in v {
        if x > a {
            (a, b) = (x, a);
        } else if x > b {
            b = x;
        }
    }
    a - b
}

/// `n` greedy tokens after `prompt`, in slot 0, and the top-2 margin of
/// each step's logits.
fn greedy(b: &mut dyn Backend, prompt: &[u32], n: usize) -> (Vec<u32>, Vec<f32>) {
    let logits = b.eval(0, prompt, 0).unwrap();
    let mut next = argmax(logits);
    let mut margins = vec![margin(logits)];
    let mut out = vec![next];
    for pos in prompt.len()..prompt.len() + n - 1 {
        let step = [Step {
            slot: 0,
            tokens: &[next],
            pos0: pos,
        }];
        let logits = b.forward(&step, &[0]).unwrap();
        next = argmax(logits);
        margins.push(margin(logits));
        out.push(next);
    }
    (out, margins)
}

/// Runs every prompt on both backends; returns the mismatches.
fn compare(file: &GgufFile, label: &str, prompts: &[Vec<u32>], gpu: &gpu::Gpu) -> Vec<String> {
    let mut cpu = CpuBackend::new(Model::load(file).unwrap(), 1, N_CTX, 64, 1, 2);
    let model = Model::load(file).unwrap();
    let dev = gpu::Gpu::open(true).unwrap();
    let t0 = Instant::now();
    let mut gb = GpuBackend::new(dev, &model, 1, N_CTX, 64, 1).unwrap();
    eprintln!(
        "{label}: uploaded and compiled in {:.1?} on {}",
        t0.elapsed(),
        gpu.description
    );
    let mut bad = Vec::new();
    for prompt in prompts {
        let (want, margins) = greedy(&mut cpu, prompt, N_GREEDY);
        let t = Instant::now();
        let (got, _) = greedy(&mut gb, prompt, N_GREEDY);
        let first = want.iter().zip(&got).position(|(a, b)| a != b);
        let verdict = match first {
            None => "identical".to_string(),
            Some(i) => format!(
                "differs at token {i}, where the CPU's top-2 margin is {}",
                margins[i]
            ),
        };
        eprintln!(
            "{label}: {} prompt tokens + {N_GREEDY} in {:.1?}: {verdict}",
            prompt.len(),
            t.elapsed()
        );
        if first.is_some() {
            bad.push(format!(
                "{label} prompt {prompt:?}:\n  cpu {want:?}\n  gpu {got:?}\n  cpu top-2 margins {margins:?}"
            ));
        }
    }
    bad
}

#[test]
fn tiny_models_greedy_equals_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let g = golden("tiny.json");
    let dir = tempfile::tempdir().unwrap();
    let mut bad = Vec::new();
    for arch in tiny::ARCHS {
        for ty in tiny::TYPES {
            let path =
                tiny::write(dir.path(), arch, ty).expect("write tiny model (needs scripts/fetch-models)");
            let name = tiny::file_name(arch, ty);
            let file = GgufFile::open(&path).unwrap();
            let prompts: Vec<Vec<u32>> = g["models"][name.as_str()]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| ids(&c["prompt_ids"]))
                .collect();
            bad.extend(compare(&file, &name, &prompts, &gpu));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn gemma3_270m_greedy_equals_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let path = tiny::models_dir().join("gemma-3-270m-q4_k_m.gguf");
    let file = GgufFile::open(&path).expect("Gemma 3 270M missing: run scripts/fetch-models");
    let prompts: Vec<Vec<u32>> = golden("gemma3.json")["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| ids(&c["prompt_ids"]))
        .collect();
    let bad = compare(&file, "gemma-3-270m", &prompts, &gpu);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Two sequences in one step (a prompt chunk and a decode token, in
/// different slots) give the CPU's logits, as the server batches them.
#[test]
fn multi_slot_step_equals_cpu() {
    let Some(_gpu) = common::gpu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = tiny::write(dir.path(), "qwen2", gguf::GgmlType::Q8_0).expect("write tiny model");
    let file = GgufFile::open(&path).unwrap();
    let model = Model::load(&file).unwrap();
    let mut cpu = CpuBackend::new(Model::load(&file).unwrap(), 2, N_CTX, 64, 2, 2);
    let mut gb = GpuBackend::new(gpu::Gpu::open(true).unwrap(), &model, 2, N_CTX, 64, 2).unwrap();
    let a: Vec<u32> = (1..20).collect();
    let b: Vec<u32> = (100..107).collect();
    for be in [&mut cpu as &mut dyn Backend, &mut gb] {
        be.eval(0, &a, 0).unwrap();
    }
    let steps = [
        Step {
            slot: 0,
            tokens: &[42],
            pos0: a.len(),
        },
        Step {
            slot: 1,
            tokens: &b,
            pos0: 0,
        },
    ];
    let want = cpu.forward(&steps, &[0, b.len()]).unwrap().to_vec();
    let got = gb.forward(&steps, &[0, b.len()]).unwrap().to_vec();
    let n_vocab = model.config().n_vocab;
    for row in 0..2 {
        let (w, g) = (
            &want[row * n_vocab..][..n_vocab],
            &got[row * n_vocab..][..n_vocab],
        );
        assert_eq!(argmax(w), argmax(g), "row {row}");
        let max = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let err = w.iter().zip(g).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(err <= 1e-3 * max, "row {row}: max |cpu - gpu| {err} of {max}");
    }
}

/// Bad input is an error naming the problem, as on the CPU.
#[test]
fn bad_steps_are_errors() {
    let Some(_gpu) = common::gpu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = tiny::write(dir.path(), "llama", gguf::GgmlType::F16).expect("write tiny model");
    let file = GgufFile::open(&path).unwrap();
    let model = Model::load(&file).unwrap();
    let mut gb = GpuBackend::new(gpu::Gpu::open(true).unwrap(), &model, 1, 8, 4, 1).unwrap();
    let too_far = [Step {
        slot: 0,
        tokens: &[1, 2],
        pos0: 7,
    }];
    assert!(gb
        .forward(&too_far, &[])
        .unwrap_err()
        .to_string()
        .contains("context"));
    let bad_slot = [Step {
        slot: 3,
        tokens: &[1],
        pos0: 0,
    }];
    assert!(gb
        .forward(&bad_slot, &[])
        .unwrap_err()
        .to_string()
        .contains("slot"));
    let bad_tok = [Step {
        slot: 0,
        tokens: &[u32::MAX],
        pos0: 0,
    }];
    assert!(gb.forward(&bad_tok, &[]).is_err());
}
