//! Writes the seed corpus of the `gguf_parse` fuzz target: tiny but complete
//! models (one per architecture, with a tokenizer and a chat template) and a
//! file holding every metadata type and several tensor types, each a few KB,
//! so the fuzzer starts from files that get through every stage.
//!
//!     cargo run -p gguf --example make_fuzz_seeds -- fuzz/corpus/gguf_parse

use std::path::PathBuf;

use gguf::{Array, GgmlType, GgufWriter, Value, ValueType};

const N_EMBD: usize = 8;
const N_HEAD: usize = 2;
const N_HEAD_KV: usize = 1;
const HEAD_DIM: usize = N_EMBD / N_HEAD;
const N_FF: usize = 16;

fn strings(values: &[&str]) -> Value {
    Value::Array(
        Array::new(
            ValueType::String,
            values.iter().map(|s| Value::String(s.to_string())),
        )
        .unwrap(),
    )
}

fn i32s(values: &[i32]) -> Value {
    Value::Array(Array::new(ValueType::I32, values.iter().map(|&v| Value::I32(v))).unwrap())
}

fn f32s(values: &[f32]) -> Value {
    Value::Array(Array::new(ValueType::F32, values.iter().map(|&v| Value::F32(v))).unwrap())
}

/// Deterministic small weights.
fn weights(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7 + seed * 13) % 17) as f32 / 17.0 - 0.5)
        .collect()
}

fn tiny_model(arch: &str) -> Result<GgufWriter, gguf::GgufError> {
    let mut w = GgufWriter::new();
    let k = |s: &str| format!("{arch}.{s}");
    w.add_metadata("general.architecture", Value::String(arch.into()));
    w.add_metadata("general.name", Value::String(format!("fuzz seed {arch}")));
    w.add_metadata("general.file_type", Value::U32(0));
    w.add_metadata(k("block_count"), Value::U32(1));
    w.add_metadata(k("context_length"), Value::U32(64));
    w.add_metadata(k("embedding_length"), Value::U32(N_EMBD as u32));
    w.add_metadata(k("feed_forward_length"), Value::U32(N_FF as u32));
    w.add_metadata(k("attention.head_count"), Value::U32(N_HEAD as u32));
    w.add_metadata(k("attention.head_count_kv"), Value::U32(N_HEAD_KV as u32));
    w.add_metadata(k("attention.layer_norm_rms_epsilon"), Value::F32(1e-6));
    w.add_metadata(k("rope.freq_base"), Value::F32(10_000.0));
    w.add_metadata(k("rope.dimension_count"), Value::U32(HEAD_DIM as u32));

    let n_vocab = match arch {
        "qwen2" => {
            // Byte-level BPE: GPT-2 characters, one merge, ChatML template.
            let tokens = [
                "a",
                "b",
                "ab",
                "Ġ",
                "Ġab",
                "<|im_start|>",
                "<|im_end|>",
                "<think>",
            ];
            w.add_metadata("tokenizer.ggml.model", Value::String("gpt2".into()));
            w.add_metadata("tokenizer.ggml.pre", Value::String("deepseek-r1-qwen".into()));
            w.add_metadata("tokenizer.ggml.tokens", strings(&tokens));
            w.add_metadata("tokenizer.ggml.token_type", i32s(&[1, 1, 1, 1, 1, 3, 3, 4]));
            w.add_metadata("tokenizer.ggml.merges", strings(&["a b", "Ġ ab"]));
            w.add_metadata("tokenizer.ggml.eos_token_id", Value::U32(6));
            w.add_metadata(
                "tokenizer.chat_template",
                Value::String(
                    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}\
                     {% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}"
                        .into(),
                ),
            );
            tokens.len()
        }
        _ => {
            // SentencePiece with byte fallback for a few bytes.
            let tokens = [
                "<unk>",
                "<s>",
                "</s>",
                "▁",
                "a",
                "b",
                "▁a",
                "<start_of_turn>",
                "<end_of_turn>",
                "<0x0A>",
                "<0xC3>",
                "<0xA9>",
            ];
            w.add_metadata("tokenizer.ggml.model", Value::String("llama".into()));
            w.add_metadata("tokenizer.ggml.tokens", strings(&tokens));
            w.add_metadata(
                "tokenizer.ggml.token_type",
                i32s(&[2, 3, 3, 1, 1, 1, 1, 3, 3, 6, 6, 6]),
            );
            w.add_metadata(
                "tokenizer.ggml.scores",
                f32s(&[0.0, 0.0, 0.0, -1.0, -2.0, -3.0, -0.5, 0.0, 0.0, 0.0, 0.0, 0.0]),
            );
            w.add_metadata("tokenizer.ggml.add_bos_token", Value::Bool(true));
            w.add_metadata("tokenizer.ggml.add_space_prefix", Value::Bool(false));
            if arch == "gemma3" {
                w.add_metadata(k("attention.sliding_window"), Value::U32(16));
                w.add_metadata(
                    "tokenizer.chat_template",
                    Value::String(
                        "{{ bos_token }}{% for m in messages %}<start_of_turn>\
                         {{ 'model' if m['role'] == 'assistant' else m['role'] }}\n\
                         {{ m['content'] | trim }}<end_of_turn>\n{% endfor %}\
                         {% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
                            .into(),
                    ),
                );
            }
            tokens.len()
        }
    };

    let q_dim = N_HEAD * HEAD_DIM;
    let kv_dim = N_HEAD_KV * HEAD_DIM;
    let mut seed = 0;
    let mut mat = |w: &mut GgufWriter, name: &str, cols: usize, rows: usize| {
        seed += 1;
        w.add_f32(name, &[cols as u64, rows as u64], &weights(cols * rows, seed))
            .map(|_| ())
    };
    mat(&mut w, "token_embd.weight", N_EMBD, n_vocab)?;
    if arch == "qwen2" {
        mat(&mut w, "output.weight", N_EMBD, n_vocab)?;
    }
    mat(&mut w, "blk.0.attn_q.weight", N_EMBD, q_dim)?;
    mat(&mut w, "blk.0.attn_k.weight", N_EMBD, kv_dim)?;
    mat(&mut w, "blk.0.attn_v.weight", N_EMBD, kv_dim)?;
    mat(&mut w, "blk.0.attn_output.weight", q_dim, N_EMBD)?;
    mat(&mut w, "blk.0.ffn_gate.weight", N_EMBD, N_FF)?;
    mat(&mut w, "blk.0.ffn_up.weight", N_EMBD, N_FF)?;
    mat(&mut w, "blk.0.ffn_down.weight", N_FF, N_EMBD)?;
    let ones = |n: usize| vec![1.0f32; n];
    w.add_f32("output_norm.weight", &[N_EMBD as u64], &ones(N_EMBD))?;
    w.add_f32("blk.0.attn_norm.weight", &[N_EMBD as u64], &ones(N_EMBD))?;
    w.add_f32("blk.0.ffn_norm.weight", &[N_EMBD as u64], &ones(N_EMBD))?;
    if arch == "qwen2" {
        w.add_f32("blk.0.attn_q.bias", &[q_dim as u64], &weights(q_dim, 40))?;
        w.add_f32("blk.0.attn_k.bias", &[kv_dim as u64], &weights(kv_dim, 41))?;
        w.add_f32("blk.0.attn_v.bias", &[kv_dim as u64], &weights(kv_dim, 42))?;
    }
    if arch == "gemma3" {
        w.add_f32("blk.0.attn_q_norm.weight", &[HEAD_DIM as u64], &ones(HEAD_DIM))?;
        w.add_f32("blk.0.attn_k_norm.weight", &[HEAD_DIM as u64], &ones(HEAD_DIM))?;
        w.add_f32(
            "blk.0.post_attention_norm.weight",
            &[N_EMBD as u64],
            &ones(N_EMBD),
        )?;
        w.add_f32("blk.0.post_ffw_norm.weight", &[N_EMBD as u64], &ones(N_EMBD))?;
    }
    Ok(w)
}

/// Every metadata value type (nested arrays too), a custom alignment, and
/// small tensors of several block types.
fn all_types() -> Result<GgufWriter, gguf::GgufError> {
    let mut w = GgufWriter::new().version(2).alignment(64)?;
    w.add_metadata("general.architecture", Value::String("sobre-test".into()));
    let scalars = [
        Value::U8(200),
        Value::I8(-100),
        Value::U16(60000),
        Value::I16(-30000),
        Value::U32(4_000_000_000),
        Value::I32(-2_000_000_000),
        Value::F32(1.5),
        Value::Bool(true),
        Value::String("sobre ✓".into()),
        Value::U64(u64::MAX),
        Value::I64(i64::MIN),
        Value::F64(-2.25),
    ];
    for v in scalars {
        w.add_metadata(format!("test.{}", v.value_type()), v);
    }
    let inner =
        |a: u8| Value::Array(Array::new(ValueType::U8, vec![Value::U8(a), Value::U8(a + 1)]).unwrap());
    w.add_metadata(
        "test.nested",
        Value::Array(Array::new(ValueType::Array, vec![inner(1), inner(3)]).unwrap()),
    );
    w.add_metadata("test.strings", strings(&["", "a", "日本"]));
    for (ty, n) in [
        (GgmlType::F16, 4usize),
        (GgmlType::BF16, 4),
        (GgmlType::Q4_0, 32),
        (GgmlType::Q8_0, 32),
        (GgmlType::IQ4NL, 32),
        (GgmlType::MXFP4, 32),
        (GgmlType::Q4K, 256),
        (GgmlType::Q6K, 256),
    ] {
        let n_bytes = n / ty.block_size() * ty.type_size();
        let data = (0..n_bytes).map(|i| (i * 37 % 251) as u8).collect();
        w.add_tensor(ty.name().to_ascii_lowercase(), ty, &[n as u64], data)?;
    }
    Ok(w)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus/gguf_parse".into()),
    );
    std::fs::create_dir_all(&dir)?;
    for arch in ["llama", "qwen2", "gemma3"] {
        tiny_model(arch)?.write_file(dir.join(format!("tiny-{arch}.gguf")))?;
    }
    all_types()?.write_file(dir.join("all-types.gguf"))?;
    // A header with no tensors and no metadata: the smallest valid file.
    GgufWriter::new().write_file(dir.join("empty.gguf"))?;
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        eprintln!("{} {} bytes", entry.path().display(), entry.metadata()?.len());
    }
    Ok(())
}
