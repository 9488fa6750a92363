//! Tiny random-weight qwen2 (q/k/v biases, GQA, untied head) and llama (GQA,
//! tied embeddings) models in F32, F16 and Q8_0, regenerated here bit for bit
//! by `common::tiny` and decoded greedily; llama.cpp's ids for the same files
//! are in `tests/data/model/tiny.json` (`tools/make_model_goldens.py`).
//! F32 models must match all 24 ids, F16 and Q8_0 at least the first 12.

mod common;

use common::tiny;
use gguf::GgufFile;
use model::{KvCache, Model, Sampler, SamplerConfig};
use serde_json::Value;

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn greedy_ids_match_llama_cpp() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/model/tiny.json");
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut report = Vec::new();
    for arch in tiny::ARCHS {
        for ty in tiny::TYPES {
            let file_path =
                tiny::write(dir.path(), arch, ty).expect("write tiny model (needs scripts/fetch-models)");
            let name = tiny::file_name(arch, ty);
            let file = GgufFile::open(&file_path).unwrap();
            let model = Model::load(&file).unwrap();
            let tok = tokenizer::Tokenizer::from_metadata(file.metadata()).unwrap();
            let need = if ty == gguf::GgmlType::F32 { 24 } else { 12 };
            let mut scratch = model.scratch(32, 64, 1, 2);
            for case in golden["models"][name.as_str()]
                .as_array()
                .expect("model in golden")
            {
                let prompt = case["prompt"].as_str().unwrap();
                let prompt_ids = ids(&case["prompt_ids"]);
                assert_eq!(
                    tok.encode(prompt, true, true),
                    prompt_ids,
                    "{name}: tokenizer on {prompt:?}"
                );
                let want = ids(&case["ids"]);
                let mut cache = KvCache::new(model.config(), 64);
                let mut sampler = Sampler::new(SamplerConfig::greedy(), model.config().n_vocab);
                let mut got = Vec::new();
                let mut logits = model
                    .eval(&prompt_ids, 0, &mut cache, &mut scratch)
                    .unwrap()
                    .to_vec();
                let mut pos = prompt_ids.len();
                while got.len() < want.len() {
                    let next = sampler.sample(&logits);
                    got.push(next);
                    logits = model
                        .forward(&[next], pos, &mut cache, &mut scratch, &[0])
                        .unwrap()
                        .to_vec();
                    pos += 1;
                }
                let same = got.iter().zip(&want).take_while(|(a, b)| a == b).count();
                report.push(format!("{name} {prompt:?}: {same}/{}", want.len()));
                assert!(
                    same >= need.min(want.len()),
                    "{name} {prompt:?}: only {same} ids equal\n ours {got:?}\n want {want:?}"
                );
            }
        }
    }
    eprintln!("{}", report.join("\n"));
}
