//! Models that cannot run fail with an error naming what is wrong: the
//! missing tensor, the tensor of the wrong shape, the unknown architecture,
//! the missing key. Built in memory with our GGUF writer (no vocabulary
//! needed: loading a model does not read the tokenizer).

use gguf::{GgufFile, GgufWriter, Value};
use model::{Model, ModelError};

const N_EMBD: u64 = 32;
const N_FF: u64 = 64;
const N_VOCAB: u64 = 16;

/// A complete two-layer llama with zero weights, minus `skip`, with
/// `reshape` given a wrong shape, and `arch` as its architecture.
fn build(arch: &str, skip: Option<&str>, reshape: Option<&str>, drop_key: Option<&str>) -> GgufFile {
    let mut w = GgufWriter::new();
    w.add_metadata("general.architecture", Value::String(arch.into()));
    let keys = [
        ("block_count", 2u32),
        ("embedding_length", N_EMBD as u32),
        ("feed_forward_length", N_FF as u32),
        ("attention.head_count", 4),
        ("attention.head_count_kv", 2),
        ("context_length", 64),
    ];
    for (k, v) in keys {
        let key = format!("{arch}.{k}");
        if drop_key != Some(key.as_str()) {
            w.add_metadata(key, Value::U32(v));
        }
    }
    w.add_metadata(
        format!("{arch}.attention.layer_norm_rms_epsilon"),
        Value::F32(1e-5),
    );
    let kv = N_EMBD / 2;
    let mut tensors: Vec<(String, Vec<u64>)> = vec![
        ("token_embd.weight".into(), vec![N_EMBD, N_VOCAB]),
        ("output_norm.weight".into(), vec![N_EMBD]),
    ];
    for il in 0..2 {
        let n = |s: &str| format!("blk.{il}.{s}");
        tensors.extend([
            (n("attn_norm.weight"), vec![N_EMBD]),
            (n("attn_q.weight"), vec![N_EMBD, N_EMBD]),
            (n("attn_k.weight"), vec![N_EMBD, kv]),
            (n("attn_v.weight"), vec![N_EMBD, kv]),
            (n("attn_output.weight"), vec![N_EMBD, N_EMBD]),
            (n("ffn_norm.weight"), vec![N_EMBD]),
            (n("ffn_gate.weight"), vec![N_EMBD, N_FF]),
            (n("ffn_up.weight"), vec![N_EMBD, N_FF]),
            (n("ffn_down.weight"), vec![N_FF, N_EMBD]),
        ]);
    }
    for (name, mut shape) in tensors {
        if skip == Some(name.as_str()) {
            continue;
        }
        if reshape == Some(name.as_str()) {
            shape[0] *= 2;
        }
        let n: u64 = shape.iter().product();
        w.add_f32(name, &shape, &vec![0.0; n as usize]).unwrap();
    }
    GgufFile::from_bytes(w.to_bytes().unwrap()).unwrap()
}

#[test]
fn complete_model_loads_and_runs() {
    let file = build("llama", None, None, None);
    let model = Model::load(&file).unwrap();
    assert_eq!(model.config().n_vocab, N_VOCAB as usize);
    let mut cache = model::KvCache::new(model.config(), 8);
    let mut scratch = model.scratch(4, 8, 1, 1);
    let logits = model.eval(&[1, 2, 3], 0, &mut cache, &mut scratch).unwrap();
    assert_eq!(logits.len(), N_VOCAB as usize);
    // Token ids outside the vocabulary and a full context are errors, not panics.
    assert!(matches!(
        model.eval(&[99], 3, &mut cache, &mut scratch),
        Err(ModelError::TokenOutOfRange { token: 99, .. })
    ));
    assert!(matches!(
        model.eval(&[1, 2, 3, 4, 5, 6], 3, &mut cache, &mut scratch),
        Err(ModelError::ContextFull { .. })
    ));
}

#[test]
fn missing_tensor_is_named() {
    let file = build("llama", Some("blk.1.ffn_up.weight"), None, None);
    let err = Model::load(&file).unwrap_err();
    assert!(
        matches!(&err, ModelError::MissingTensor { name } if name == "blk.1.ffn_up.weight"),
        "{err}"
    );
    assert!(err.to_string().contains("blk.1.ffn_up.weight"), "{err}");
}

#[test]
fn wrong_shape_is_named_with_both_shapes() {
    let file = build("llama", None, Some("blk.0.attn_k.weight"), None);
    let err = Model::load(&file).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ModelError::WrongShape { .. }), "{msg}");
    assert!(
        msg.contains("blk.0.attn_k.weight") && msg.contains("[64, 16]") && msg.contains("[32, 16]"),
        "{msg}"
    );
}

#[test]
fn unknown_architecture_is_named() {
    let file = build("mamba9", None, None, None);
    let err = Model::load(&file).unwrap_err();
    assert!(
        matches!(&err, ModelError::UnknownArchitecture(a) if a == "mamba9"),
        "{err}"
    );
    assert!(err.to_string().contains("mamba9"), "{err}");
}

#[test]
fn missing_key_is_named() {
    let file = build("llama", None, None, Some("llama.feed_forward_length"));
    let err = Model::load(&file).unwrap_err();
    assert!(err.to_string().contains("llama.feed_forward_length"), "{err}");
}

#[test]
fn missing_output_weight_means_tied_embeddings() {
    // `build` writes no output.weight: the head is the embedding itself.
    let file = build("llama", None, None, None);
    let model = Model::load(&file).unwrap();
    assert_eq!(model.weights().output.rows, N_VOCAB as usize);
}

#[test]
fn rope_wider_than_the_kernels_take_is_named() {
    // Heads of 1024 rotated in full: more pairs than RoPE's angle table.
    let mut w = GgufWriter::new();
    w.add_metadata("general.architecture", Value::String("llama".into()));
    for (k, v) in [
        ("block_count", 1u32),
        ("embedding_length", 4096),
        ("feed_forward_length", 64),
        ("attention.head_count", 4),
        ("attention.head_count_kv", 4),
        ("context_length", 64),
        ("rope.dimension_count", 1024),
    ] {
        w.add_metadata(format!("llama.{k}"), Value::U32(v));
    }
    w.add_metadata("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5));
    let file = GgufFile::from_bytes(w.to_bytes().unwrap()).unwrap();
    let err = Model::load(&file).unwrap_err();
    assert!(err.to_string().contains("llama.rope.dimension_count"), "{err}");
    assert!(err.to_string().contains("at most 512"), "{err}");
}
