//! Crashes the fuzz target fuzz/fuzz_targets/gguf_parse.rs found in loading
//! a model's configuration and weights, one test each, named after what it
//! was.

use gguf::{GgufFile, GgufWriter, Value};
use model::{Config, Model, ModelError};

/// A llama header with the given counts and one small tensor.
fn llama(block_count: u32, head_count: u32, key_length: Option<u64>) -> GgufFile {
    let mut w = GgufWriter::new();
    w.add_metadata("general.architecture", Value::String("llama".into()));
    w.add_metadata("llama.block_count", Value::U32(block_count));
    w.add_metadata("llama.embedding_length", Value::U32(8));
    w.add_metadata("llama.feed_forward_length", Value::U32(16));
    w.add_metadata("llama.attention.head_count", Value::U32(head_count));
    w.add_metadata("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5));
    if let Some(k) = key_length {
        w.add_metadata("llama.attention.key_length", Value::U64(k));
        w.add_metadata("llama.rope.dimension_count", Value::U32(2));
    }
    w.add_f32("token_embd.weight", &[8, 4], &[0.0; 32])
        .expect("tensor");
    w.add_f32("output_norm.weight", &[8], &[1.0; 8]).expect("tensor");
    GgufFile::from_bytes(w.to_bytes().expect("bytes")).expect("parses")
}

/// `block_count` sized the vector of layers before any layer's tensors were
/// looked up: 2^32 - 1 layers asked for 2.4 TB and aborted the process.
#[test]
fn huge_block_count_allocated_the_layers_up_front() {
    let file = llama(u32::MAX, 2, None);
    let err = Model::load(&file).expect_err("no such layers");
    assert!(
        matches!(&err, ModelError::BadKey { key, .. } if key == "llama.block_count"),
        "{err}"
    );
}

/// `attention.head_count` times `attention.key_length` overflowed in
/// `Config::q_dim` (a panic with overflow checks, a wrong width without).
#[test]
fn head_width_product_overflowed() {
    let file = llama(1, 4, Some(1 << 62));
    let err = Config::from_metadata(file.metadata()).expect_err("overflows");
    assert!(
        matches!(&err, ModelError::BadKey { key, .. } if key == "llama.attention.key_length"),
        "{err}"
    );
    assert!(Model::load(&file).is_err());
}
