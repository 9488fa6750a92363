//! Tiny random-weight models written with our own GGUF writer, carrying the
//! *real* tokenizer metadata of the test models (DeepSeek-R1-Qwen's 152064
//! tokens for `qwen2`, Gemma 3's 262144 for `llama`), so llama.cpp can load
//! them and produce goldens, and our tests can regenerate them bit for bit
//! instead of committing tens of megabytes.
//!
//! Shared by `examples/make_tiny_models.rs` (which writes them for
//! `tools/make_model_goldens.py`) and the tests (which write them to a
//! temporary directory).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use gguf::{GgmlType, GgufFile, GgufWriter, Value};

/// Embedding width, layers, heads: small, but with grouped-query attention.
pub const N_EMBD: usize = 64;
pub const N_LAYER: usize = 2;
pub const N_HEAD: usize = 4;
pub const N_HEAD_KV: usize = 2;
pub const HEAD_DIM: usize = N_EMBD / N_HEAD;
pub const N_FF: usize = 128;
pub const N_CTX: u32 = 256;

/// The two architectures and three weight types the tests cover.
pub const ARCHS: [&str; 2] = ["qwen2", "llama"];
pub const TYPES: [GgmlType; 3] = [GgmlType::F32, GgmlType::F16, GgmlType::Q8_0];

/// File name of a tiny model, e.g. `tiny-qwen2-q8_0.gguf`.
pub fn file_name(arch: &str, ty: GgmlType) -> String {
    format!("tiny-{arch}-{}.gguf", ty.name().to_ascii_lowercase())
}

/// Where `scripts/fetch-models` puts the test models.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SOBRE_MODELS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home).join(".cache/sobre/models")
}

/// The model whose vocabulary `arch`'s tiny model borrows.
pub fn vocab_source(arch: &str) -> PathBuf {
    let name = if arch == "qwen2" {
        "deepseek-r1-distill-qwen-7b-q4_k_m.part0000.gguf"
    } else {
        "gemma-3-270m-q4_k_m.gguf"
    };
    models_dir().join(name)
}

/// SplitMix64: deterministic weights from a seed.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[-a, a)`.
    fn uniform(&mut self, a: f32) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * a
    }

    fn vec(&mut self, n: usize, a: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(a)).collect()
    }
}

/// Encodes f32 values as `ty` (F32, F16 or Q8_0 with ggml's reference quantizer).
fn encode(ty: GgmlType, v: &[f32]) -> Vec<u8> {
    match ty {
        GgmlType::F16 => v
            .iter()
            .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
            .collect(),
        GgmlType::Q8_0 => {
            let mut out = vec![0u8; v.len() / 32 * 34];
            kernels::dot::quantize_row_q8_0_ref(v, &mut out);
            out
        }
        _ => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

/// Writes the tiny `arch` model with 2-D weights in `ty` to `dir`; returns its path.
pub fn write(dir: &Path, arch: &str, ty: GgmlType) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let src = GgufFile::open(vocab_source(arch))?;
    let n_vocab = src
        .metadata()
        .get_array("tokenizer.ggml.tokens")
        .map(|a| a.len())
        .ok_or("vocabulary source has no tokenizer.ggml.tokens")?;

    let mut w = GgufWriter::new();
    w.add_metadata("general.architecture", Value::String(arch.into()));
    w.add_metadata("general.name", Value::String(format!("sobre tiny {arch}")));
    let k = |s: &str| format!("{arch}.{s}");
    w.add_metadata(k("block_count"), Value::U32(N_LAYER as u32));
    w.add_metadata(k("context_length"), Value::U32(N_CTX));
    w.add_metadata(k("embedding_length"), Value::U32(N_EMBD as u32));
    w.add_metadata(k("feed_forward_length"), Value::U32(N_FF as u32));
    w.add_metadata(k("attention.head_count"), Value::U32(N_HEAD as u32));
    w.add_metadata(k("attention.head_count_kv"), Value::U32(N_HEAD_KV as u32));
    w.add_metadata(k("attention.layer_norm_rms_epsilon"), Value::F32(1e-6));
    w.add_metadata(k("rope.freq_base"), Value::F32(10_000.0));
    w.add_metadata(k("rope.dimension_count"), Value::U32(HEAD_DIM as u32));
    for (key, value) in src.metadata().iter() {
        if key.starts_with("tokenizer.") {
            w.add_metadata(key, value.clone());
        }
    }

    // Same seed for every type, so F16 and Q8_0 are roundings of the F32 model.
    let mut rng = Rng(if arch == "qwen2" { 0x5EED_0002 } else { 0x5EED_0001 });
    let mut mat =
        |w: &mut GgufWriter, name: &str, cols: usize, rows: usize, a: f32| -> Result<(), gguf::GgufError> {
            let v = rng.vec(rows * cols, a);
            w.add_tensor(name, ty, &[cols as u64, rows as u64], encode(ty, &v))?;
            Ok(())
        };
    // Llama ties its head to the embedding; stronger layers keep it from
    // just repeating the input token.
    let gain = if arch == "llama" { 4.0 } else { 1.7 };
    let scale = |cols: usize| 1.0 / (cols as f32).sqrt() * gain;
    mat(&mut w, "token_embd.weight", N_EMBD, n_vocab, 1.0)?;
    if arch == "qwen2" {
        // Untied head: exercises `output.weight`; llama shares the embedding.
        mat(&mut w, "output.weight", N_EMBD, n_vocab, scale(N_EMBD))?;
    }
    let mut rng2 = Rng(0xB1A5 ^ N_LAYER as u64 ^ u64::from(arch == "qwen2"));
    let mut norm = |w: &mut GgufWriter, name: &str, n: usize| -> Result<(), gguf::GgufError> {
        let v: Vec<f32> = (0..n).map(|_| 1.0 + rng2.uniform(0.2)).collect();
        w.add_f32(name, &[n as u64], &v)?;
        Ok(())
    };
    norm(&mut w, "output_norm.weight", N_EMBD)?;
    let (q_dim, kv_dim) = (N_HEAD * HEAD_DIM, N_HEAD_KV * HEAD_DIM);
    for il in 0..N_LAYER {
        let n = |s: &str| format!("blk.{il}.{s}");
        norm(&mut w, &n("attn_norm.weight"), N_EMBD)?;
        norm(&mut w, &n("ffn_norm.weight"), N_EMBD)?;
        mat(&mut w, &n("attn_q.weight"), N_EMBD, q_dim, scale(N_EMBD))?;
        mat(&mut w, &n("attn_k.weight"), N_EMBD, kv_dim, scale(N_EMBD))?;
        mat(&mut w, &n("attn_v.weight"), N_EMBD, kv_dim, scale(N_EMBD))?;
        mat(&mut w, &n("attn_output.weight"), q_dim, N_EMBD, scale(q_dim))?;
        mat(&mut w, &n("ffn_gate.weight"), N_EMBD, N_FF, scale(N_EMBD))?;
        mat(&mut w, &n("ffn_up.weight"), N_EMBD, N_FF, scale(N_EMBD))?;
        mat(&mut w, &n("ffn_down.weight"), N_FF, N_EMBD, scale(N_FF))?;
        if arch == "qwen2" {
            let mut brng = Rng(0xB1A5_0000 + il as u64);
            for (name, len) in [
                ("attn_q.bias", q_dim),
                ("attn_k.bias", kv_dim),
                ("attn_v.bias", kv_dim),
            ] {
                w.add_f32(n(name), &[len as u64], &brng.vec(len, 0.5))?;
            }
        }
    }
    let path = dir.join(file_name(arch, ty));
    w.write_file(&path)?;
    Ok(path)
}
