//! Hyperparameters, read from GGUF metadata and never assumed: a key the
//! architecture needs and the file lacks is an error naming the key. Where
//! llama.cpp hard-codes a value for an architecture (Gemma 3's local RoPE
//! base and sliding-window pattern), it is hard-coded here with the reason.

use gguf::Metadata;
use kernels::ops::RopeStyle;

use crate::error::{ModelError, Result};

/// The architectures this crate can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// Gemma 3 (text): QK-norm, pre- and post-norms, GELU, sliding window.
    Gemma3,
    /// Qwen2 and the DeepSeek-R1 Qwen distills: Llama plus q/k/v biases, NeoX RoPE.
    Qwen2,
    /// Llama, Mistral, Lucie: RMSNorm, SwiGLU, normal (interleaved) RoPE.
    Llama,
}

impl Arch {
    pub fn from_name(name: &str) -> Result<Arch> {
        match name {
            "gemma3" => Ok(Arch::Gemma3),
            "qwen2" => Ok(Arch::Qwen2),
            "llama" => Ok(Arch::Llama),
            other => Err(ModelError::UnknownArchitecture(other.to_string())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::Gemma3 => "gemma3",
            Arch::Qwen2 => "qwen2",
            Arch::Llama => "llama",
        }
    }
}

/// Everything the forward pass needs to know about the model's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub arch: Arch,
    /// Rows of the token embedding (filled in from the tensor by the loader).
    pub n_vocab: usize,
    /// Context length the model was trained with.
    pub n_ctx_train: usize,
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    /// Per-head dimension of queries and keys (`attention.key_length`).
    pub head_dim_k: usize,
    /// Per-head dimension of values (`attention.value_length`).
    pub head_dim_v: usize,
    pub n_ff: usize,
    pub rms_eps: f32,
    /// Dimensions of each head that RoPE rotates.
    pub n_rot: usize,
    pub rope_style: RopeStyle,
    /// RoPE base for global-attention layers.
    pub rope_base: f32,
    /// Linear RoPE scaling (`1 / rope.scaling.factor`) for global layers.
    pub rope_freq_scale: f32,
    /// RoPE base for sliding-window layers (Gemma 3: 10000, hard-coded in llama.cpp).
    pub rope_base_swa: f32,
    /// Sliding window size; `None` for models that attend to everything.
    pub sliding_window: Option<usize>,
    /// Every `swa_pattern`-th layer (the last of each group) is global; the others slide.
    pub swa_pattern: usize,
    /// Factor applied to queries before attention scores (Gemma 3) or to the scores.
    pub attn_scale: f32,
}

/// Reads `{arch}.{suffix}` as an unsigned integer.
fn get_usize(md: &Metadata, key: &str) -> Result<Option<usize>> {
    match md.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|v| usize::try_from(v).ok())
            .map(Some)
            .ok_or_else(|| ModelError::BadKey {
                key: key.into(),
                reason: format!("expected a non-negative integer, found {:?}", v.value_type()),
            }),
    }
}

fn require_usize(md: &Metadata, key: &str) -> Result<usize> {
    let v = get_usize(md, key)?.ok_or_else(|| ModelError::MissingKey { key: key.into() })?;
    if v == 0 {
        return Err(ModelError::BadKey {
            key: key.into(),
            reason: "must be positive".into(),
        });
    }
    Ok(v)
}

fn get_f32(md: &Metadata, key: &str) -> Result<Option<f32>> {
    match md.get(key) {
        None => Ok(None),
        Some(v) => v.as_f32().map(Some).ok_or_else(|| ModelError::BadKey {
            key: key.into(),
            reason: format!("expected a number, found {:?}", v.value_type()),
        }),
    }
}

impl Config {
    /// Reads the hyperparameters of the architecture named in `md`.
    /// `n_vocab` is left 0: the loader takes it from the embedding tensor.
    pub fn from_metadata(md: &Metadata) -> Result<Config> {
        let arch_name = md.architecture().ok_or(ModelError::NoArchitecture)?;
        let arch = Arch::from_name(arch_name)?;
        let key = |s: &str| format!("{arch_name}.{s}");

        let n_layer = require_usize(md, &key("block_count"))?;
        let n_embd = require_usize(md, &key("embedding_length"))?;
        let n_head = require_usize(md, &key("attention.head_count"))?;
        let n_head_kv = get_usize(md, &key("attention.head_count_kv"))?.unwrap_or(n_head);
        if n_head_kv == 0 || n_head % n_head_kv != 0 {
            return Err(ModelError::BadKey {
                key: key("attention.head_count_kv"),
                reason: format!("{n_head_kv} does not divide head_count {n_head}"),
            });
        }
        let head_dim_k = get_usize(md, &key("attention.key_length"))?.unwrap_or(n_embd / n_head);
        let head_dim_v = get_usize(md, &key("attention.value_length"))?.unwrap_or(head_dim_k);
        let n_ff = require_usize(md, &key("feed_forward_length"))?;
        let rms_eps =
            get_f32(md, &key("attention.layer_norm_rms_epsilon"))?.ok_or_else(|| ModelError::MissingKey {
                key: key("attention.layer_norm_rms_epsilon"),
            })?;
        let n_rot = get_usize(md, &key("rope.dimension_count"))?.unwrap_or(head_dim_k);
        let max_rot = 2 * kernels::ops::ROPE_MAX_PAIRS;
        if n_rot > head_dim_k || n_rot % 2 != 0 || head_dim_k == 0 || n_rot > max_rot {
            return Err(ModelError::BadKey {
                key: key("rope.dimension_count"),
                reason: format!(
                    "{n_rot} must be even, at most the head size {head_dim_k} and at most {max_rot}"
                ),
            });
        }
        // The widths of all heads together (`q_dim()`...) must not overflow:
        // the forward pass and the weight checks multiply them unchecked.
        for (what, heads, dim) in [
            ("attention.key_length", n_head, head_dim_k),
            ("attention.value_length", n_head, head_dim_v),
        ] {
            if heads.checked_mul(dim).is_none_or(|w| w > u32::MAX as usize) {
                return Err(ModelError::BadKey {
                    key: key(what),
                    reason: format!("{dim} per head times {heads} heads overflows"),
                });
            }
        }
        let rope_base = get_f32(md, &key("rope.freq_base"))?.unwrap_or(10_000.0);
        let rope_freq_scale = match md.get_str(&key("rope.scaling.type")) {
            None | Some("none") => 1.0,
            Some("linear") => {
                let f = get_f32(md, &key("rope.scaling.factor"))?.unwrap_or(1.0);
                if f > 0.0 {
                    1.0 / f
                } else {
                    1.0
                }
            }
            Some(other) => {
                return Err(ModelError::BadKey {
                    key: key("rope.scaling.type"),
                    reason: format!("RoPE scaling {other:?} is not supported yet"),
                })
            }
        };
        let n_ctx_train = get_usize(md, &key("context_length"))?.unwrap_or(4096);

        let (rope_style, sliding_window, swa_pattern, attn_scale, rope_base_swa) = match arch {
            // llama.cpp (llama-model.cpp, LLM_ARCH_GEMMA3): swa pattern 6,
            // local RoPE base 10000 and query scale 1/sqrt(head_dim) are fixed
            // in code, not stored in GGUF (the 27B's 1/sqrt(n_embd/n_head)
            // differs; it has 62 layers).
            Arch::Gemma3 => {
                let window = require_usize(md, &key("attention.sliding_window"))?;
                let scale = if n_layer == 62 {
                    1.0 / ((n_embd / n_head) as f32).sqrt()
                } else {
                    1.0 / (head_dim_k as f32).sqrt()
                };
                (RopeStyle::Neox, Some(window), 6, scale, 10_000.0)
            }
            Arch::Qwen2 => (
                RopeStyle::Neox,
                None,
                0,
                1.0 / (head_dim_k as f32).sqrt(),
                rope_base,
            ),
            Arch::Llama => (
                RopeStyle::Normal,
                None,
                0,
                1.0 / (head_dim_k as f32).sqrt(),
                rope_base,
            ),
        };

        Ok(Config {
            arch,
            n_vocab: 0,
            n_ctx_train,
            n_layer,
            n_embd,
            n_head,
            n_head_kv,
            head_dim_k,
            head_dim_v,
            n_ff,
            rms_eps,
            n_rot,
            rope_style,
            rope_base,
            rope_freq_scale,
            rope_base_swa,
            sliding_window,
            swa_pattern,
            attn_scale,
        })
    }

    /// True when layer `il` uses the sliding window (Gemma 3: all but every
    /// sixth layer, as llama.cpp's `set_swa_pattern(6)`).
    pub fn is_swa_layer(&self, il: usize) -> bool {
        self.sliding_window.is_some() && self.swa_pattern > 0 && il % self.swa_pattern < self.swa_pattern - 1
    }

    /// RoPE base and frequency scale of layer `il`.
    pub fn rope_for_layer(&self, il: usize) -> (f32, f32) {
        if self.is_swa_layer(il) {
            (self.rope_base_swa, 1.0)
        } else {
            (self.rope_base, self.rope_freq_scale)
        }
    }

    /// Width of all query heads together.
    pub fn q_dim(&self) -> usize {
        self.n_head * self.head_dim_k
    }

    /// Width of all key heads together.
    pub fn k_dim(&self) -> usize {
        self.n_head_kv * self.head_dim_k
    }

    /// Width of all value heads together.
    pub fn v_dim(&self) -> usize {
        self.n_head_kv * self.head_dim_v
    }
}
