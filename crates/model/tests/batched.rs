//! Several sequences in one forward step give each of them exactly what it
//! gets alone: the same logits, bit for bit, and so the same greedy ids.
//! The steps mix a prompt chunk of one sequence with decode tokens of the
//! others, as the engine's continuous batching does; Gemma 3 covers the
//! sliding-window layers.

mod common;

use common::tiny;
use gguf::GgufFile;
use model::{KvCache, Model, Segment};

const PROMPTS: [&[u32]; 3] = [
    &[2, 100, 101, 102, 103, 104, 105],
    &[2, 7, 8],
    &[2, 300, 301, 302, 303],
];
const N_GEN: usize = 12;

fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

/// Greedy decoding of one prompt alone, fed in the same chunks of 3 as in
/// [`together`] (a step's chunk size picks llama.cpp's kernels, which round
/// differently: sobre follows them): every step's logits.
fn alone(model: &Model<'_>, prompt: &[u32]) -> Vec<Vec<f32>> {
    let mut cache = KvCache::new(model.config(), 64);
    let mut s = model.scratch(3, 64, 1, 2);
    let mut steps = vec![model.eval(prompt, 0, &mut cache, &mut s).unwrap().to_vec()];
    let mut pos = prompt.len();
    while steps.len() < N_GEN {
        let next = argmax(steps.last().unwrap());
        steps.push(
            model
                .forward(&[next], pos, &mut cache, &mut s, &[0])
                .unwrap()
                .to_vec(),
        );
        pos += 1;
    }
    steps
}

/// The same prompts together: sequence `i` starts at step `i` (so the first
/// steps mix prefill with decode), prompts fed in chunks of 3.
fn together(model: &Model<'_>, prompts: &[&[u32]]) -> Vec<Vec<Vec<f32>>> {
    let n = prompts.len();
    let mut caches: Vec<KvCache> = (0..n).map(|_| KvCache::new(model.config(), 64)).collect();
    let mut s = model.scratch(16, 64, n, 2);
    let mut fed = vec![0usize; n];
    let mut next = vec![0u32; n];
    let mut out: Vec<Vec<Vec<f32>>> = vec![Vec::new(); n];
    for step in 0.. {
        if out.iter().all(|o| o.len() == N_GEN) {
            break;
        }
        let mut who = Vec::new();
        let mut segs = Vec::new();
        let mut outputs = Vec::new();
        let mut row = 0;
        for (i, cache) in caches.iter_mut().enumerate() {
            if step < i || out[i].len() == N_GEN {
                continue;
            }
            let p = prompts[i];
            let (tokens, pos0): (&[u32], usize) = if fed[i] < p.len() {
                let to = (fed[i] + 3).min(p.len());
                (&p[fed[i]..to], fed[i])
            } else {
                (std::slice::from_ref(&next[i]), fed[i])
            };
            row += tokens.len();
            let done_prompt = fed[i] + tokens.len() >= p.len();
            if done_prompt {
                outputs.push(row - 1);
                who.push(i);
            }
            fed[i] += tokens.len();
            segs.push(Segment { tokens, pos0, cache });
        }
        let logits = model.forward_batch(&mut segs, &mut s, &outputs).unwrap().to_vec();
        drop(segs);
        let nv = model.config().n_vocab;
        for (k, &i) in who.iter().enumerate() {
            let l = logits[k * nv..(k + 1) * nv].to_vec();
            next[i] = argmax(&l);
            out[i].push(l);
        }
    }
    out
}

fn check(path: &std::path::Path, prompts: &[&[u32]]) {
    let file = GgufFile::open(path).unwrap();
    let model = Model::load(&file).unwrap();
    let got = together(&model, prompts);
    for (i, p) in prompts.iter().enumerate() {
        let want = alone(&model, p);
        for (step, (g, w)) in got[i].iter().zip(&want).enumerate() {
            assert!(g == w, "{}: sequence {i} differs at step {step}", path.display());
        }
    }
}

#[test]
fn batched_sequences_equal_separate_ones_on_tiny_models() {
    let dir = tempfile::tempdir().unwrap();
    for arch in tiny::ARCHS {
        for ty in [gguf::GgmlType::F32, gguf::GgmlType::Q8_0] {
            let path =
                tiny::write(dir.path(), arch, ty).expect("write tiny model (needs scripts/fetch-models)");
            check(&path, &PROMPTS);
        }
    }
}

#[test]
fn batched_sequences_equal_separate_ones_on_gemma3() {
    let path = tiny::models_dir().join("gemma-3-270m-q4_k_m.gguf");
    assert!(path.exists(), "Gemma 3 270M missing: run scripts/fetch-models");
    check(&path, &PROMPTS);
}
