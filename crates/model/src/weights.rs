//! The model's tensors as typed views: matrices borrowed from the mapped
//! file (no copy; quantized blocks stay as they are), small vectors (norms,
//! biases) converted to f32 once. Every shape is checked against the config
//! here, so the forward pass can index without further checks.

use std::sync::OnceLock;

use gguf::{GgmlType, GgufFile};
use kernels::matmul::Matrix;
use kernels::packed::PackedQ8_0;

use crate::config::{Arch, Config};
use crate::error::{ModelError, Result};

/// One transformer block's weights. Optional tensors exist only in the
/// architectures that use them (biases: Qwen2; QK-norm and post-norms: Gemma 3).
#[derive(Debug)]
pub struct LayerWeights<'a> {
    pub attn_norm: Vec<f32>,
    pub wq: Matrix<'a>,
    pub wk: Matrix<'a>,
    pub wv: Matrix<'a>,
    pub wo: Matrix<'a>,
    pub bq: Option<Vec<f32>>,
    pub bk: Option<Vec<f32>>,
    pub bv: Option<Vec<f32>>,
    pub q_norm: Option<Vec<f32>>,
    pub k_norm: Option<Vec<f32>>,
    pub post_attn_norm: Option<Vec<f32>>,
    pub ffn_norm: Vec<f32>,
    pub ffn_gate: Matrix<'a>,
    pub ffn_up: Matrix<'a>,
    pub ffn_down: Matrix<'a>,
    pub post_ffn_norm: Option<Vec<f32>>,
}

/// All weights of a model.
#[derive(Debug)]
pub struct Weights<'a> {
    pub token_embd: Matrix<'a>,
    pub output_norm: Vec<f32>,
    /// The output head; the token embedding itself when the file has no
    /// `output.weight` (tied embeddings, as llama.cpp falls back).
    pub output: Matrix<'a>,
    pub layers: Vec<LayerWeights<'a>>,
    file: &'a GgufFile,
    /// The output head repacked for the CPU's kernel, made on first use
    /// (see [`Weights::packed_output`]).
    packed_output: OnceLock<Option<PackedQ8_0>>,
}

/// Borrows tensor `name` as a `rows x cols` matrix (GGUF shape `[cols, rows]`).
pub fn matrix<'a>(file: &'a GgufFile, name: &str, cols: usize, rows: usize) -> Result<Matrix<'a>> {
    let info = file
        .tensor(name)
        .ok_or_else(|| ModelError::MissingTensor { name: name.into() })?;
    let expected = vec![cols as u64, rows as u64];
    if info.shape != expected {
        return Err(ModelError::WrongShape {
            name: name.into(),
            expected,
            actual: info.shape.clone(),
        });
    }
    let data = file.tensor_data(info)?;
    Matrix::new(info.ggml_type, rows, cols, data).map_err(|source| ModelError::Matrix {
        name: name.into(),
        source,
    })
}

/// Reads tensor `name`, of `len` elements, as f32 (norm weights, biases).
pub fn vector(file: &GgufFile, name: &str, len: usize) -> Result<Vec<f32>> {
    let info = file
        .tensor(name)
        .ok_or_else(|| ModelError::MissingTensor { name: name.into() })?;
    let expected = vec![len as u64];
    if info.shape != expected {
        return Err(ModelError::WrongShape {
            name: name.into(),
            expected,
            actual: info.shape.clone(),
        });
    }
    if !matches!(info.ggml_type, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16) {
        return Err(ModelError::UnsupportedType {
            name: name.into(),
            ty: info.ggml_type,
        });
    }
    let data = file.tensor_data(info)?;
    let mut out = vec![0.0f32; len];
    kernels::dequantize(info.ggml_type, data, &mut out).map_err(|e| ModelError::BadKey {
        key: name.into(),
        reason: e.to_string(),
    })?;
    Ok(out)
}

impl<'a> Weights<'a> {
    /// Loads and checks every tensor the architecture needs. Fills in
    /// `config.n_vocab` from the embedding's row count.
    pub fn load(file: &'a GgufFile, config: &mut Config) -> Result<Weights<'a>> {
        let c = config.clone();
        // Every layer has tensors of its own: a block count beyond the tensor
        // count is a lie, and must not size an allocation (a `block_count` of
        // 2^32 - 1 asked for 2.4 TB below and aborted the process).
        if c.n_layer > file.tensors().len() {
            return Err(ModelError::BadKey {
                key: format!("{}.block_count", c.arch.name()),
                reason: format!(
                    "{} layers, but the file holds only {} tensors",
                    c.n_layer,
                    file.tensors().len()
                ),
            });
        }
        let embd = file
            .tensor("token_embd.weight")
            .ok_or_else(|| ModelError::MissingTensor {
                name: "token_embd.weight".into(),
            })?;
        let n_vocab = match embd.shape.as_slice() {
            [cols, rows] if *cols == c.n_embd as u64 => usize::try_from(*rows).unwrap_or(0),
            _ => {
                return Err(ModelError::WrongShape {
                    name: "token_embd.weight".into(),
                    expected: vec![c.n_embd as u64, 0],
                    actual: embd.shape.clone(),
                })
            }
        };
        config.n_vocab = n_vocab;
        let token_embd = matrix(file, "token_embd.weight", c.n_embd, n_vocab)?;
        let output = if file.tensor("output.weight").is_some() {
            matrix(file, "output.weight", c.n_embd, n_vocab)?
        } else {
            token_embd
        };
        let output_norm = vector(file, "output_norm.weight", c.n_embd)?;

        let gemma = c.arch == Arch::Gemma3;
        let qwen = c.arch == Arch::Qwen2;
        let mut layers = Vec::with_capacity(c.n_layer);
        for il in 0..c.n_layer {
            let n = |s: &str| format!("blk.{il}.{s}");
            let opt_vec = |want: bool, s: &str, len: usize| -> Result<Option<Vec<f32>>> {
                if want {
                    vector(file, &n(s), len).map(Some)
                } else {
                    Ok(None)
                }
            };
            layers.push(LayerWeights {
                attn_norm: vector(file, &n("attn_norm.weight"), c.n_embd)?,
                wq: matrix(file, &n("attn_q.weight"), c.n_embd, c.q_dim())?,
                wk: matrix(file, &n("attn_k.weight"), c.n_embd, c.k_dim())?,
                wv: matrix(file, &n("attn_v.weight"), c.n_embd, c.v_dim())?,
                wo: matrix(file, &n("attn_output.weight"), c.n_head * c.head_dim_v, c.n_embd)?,
                bq: opt_vec(qwen, "attn_q.bias", c.q_dim())?,
                bk: opt_vec(qwen, "attn_k.bias", c.k_dim())?,
                bv: opt_vec(qwen, "attn_v.bias", c.v_dim())?,
                q_norm: opt_vec(gemma, "attn_q_norm.weight", c.head_dim_k)?,
                k_norm: opt_vec(gemma, "attn_k_norm.weight", c.head_dim_k)?,
                post_attn_norm: opt_vec(gemma, "post_attention_norm.weight", c.n_embd)?,
                ffn_norm: vector(file, &n("ffn_norm.weight"), c.n_embd)?,
                ffn_gate: matrix(file, &n("ffn_gate.weight"), c.n_embd, c.n_ff)?,
                ffn_up: matrix(file, &n("ffn_up.weight"), c.n_embd, c.n_ff)?,
                ffn_down: matrix(file, &n("ffn_down.weight"), c.n_ff, c.n_embd)?,
                post_ffn_norm: opt_vec(gemma, "post_ffw_norm.weight", c.n_embd)?,
            });
        }
        Ok(Weights {
            token_embd,
            output_norm,
            output,
            layers,
            file,
            packed_output: OnceLock::new(),
        })
    }

    /// Token `tok`'s embedding (ggml's `get_rows`). When the head is the
    /// embedding itself and has been repacked, it is read from the packed
    /// copy: the file's pages of it were released, and faulting them back
    /// in a row at a time maps their neighbours too (100 MB over a 512-token
    /// prompt).
    pub fn embedding(&self, tok: usize, out: &mut [f32]) {
        let tied = self.output.rows_bytes(0, 0).as_ptr() == self.token_embd.rows_bytes(0, 0).as_ptr();
        match self.packed_output.get() {
            Some(Some(p)) if tied => p.dequantize_row(tok, out),
            _ => self.token_embd.dequantize_row(tok, out),
        }
    }

    /// The output head in the CPU's packed layout ([`kernels::packed`]):
    /// repacked on the first call, when it is Q8_0 and the CPU has the
    /// kernel, unless `SOBRE_NO_REPACK` is set. The file's pages of the
    /// head are released as they are copied, so the resident set does not
    /// hold the head twice (a tied embedding is then read from the copy,
    /// see [`Weights::embedding`]). Only the CPU path calls this: a GPU
    /// backend never pays for the copy.
    pub fn packed_output(&self) -> Option<&PackedQ8_0> {
        self.packed_output
            .get_or_init(|| {
                if std::env::var_os("SOBRE_NO_REPACK").is_some() {
                    return None;
                }
                PackedQ8_0::pack(&self.output, |done| self.file.release(done))
            })
            .as_ref()
    }
}
