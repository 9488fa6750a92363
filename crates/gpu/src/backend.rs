//! [`GpuBackend`]: the model's forward pass on a wgpu device, in the CPU
//! path's arithmetic bit for bit (see the crate documentation), so that
//! greedy output stays the same.

use gguf::GgmlType;
use model::config::Arch;
use model::{Backend, BackendError, Config, Model, ModelError, Step};

use crate::device::Gpu;
use crate::pipelines::{Kernel, Pipelines, WeightKernel};
use crate::plan::{bind, check_fits, record, uniform, Count, Grid, Op};
use crate::upload::{act_mode, f32_bytes, storage_init, GpuMatrix};

/// Header words of the token table `[n_tok, n_outputs, 0, n_batch]`
/// (word 2 is the zero exact.wgsl hides from the compiler), before
/// `[token, pos, slot, i | n << 16]` per token (the token is the `i`-th of
/// its sequence's `n` in this step) and then the output rows (layout shared
/// with the shaders).
const TOKS_HEADER: usize = 4;

/// A model on a GPU, with `n_slots` KV caches of `n_ctx` positions.
#[derive(Debug)]
pub struct GpuBackend {
    gpu: Gpu,
    config: Config,
    n_batch: usize,
    n_ctx: usize,
    n_slots: usize,
    n_outputs: usize,
    layer_ops: Vec<Op>,
    head_ops: Vec<Op>,
    toks: wgpu::Buffer,
    rope: wgpu::Buffer,
    logits: wgpu::Buffer,
    staging: wgpu::Buffer,
    toks_host: Vec<u32>,
    rope_host: Vec<f32>,
    logits_host: Vec<f32>,
}

/// Activation buffers of one step.
struct Acts {
    x: wgpu::Buffer,
    xb: wgpu::Buffer,
    xq: wgpu::Buffer,
    qraw: wgpu::Buffer,
    kraw: wgpu::Buffer,
    qn: wgpu::Buffer,
    kn: wgpu::Buffer,
    q: wgpu::Buffer,
    k: wgpu::Buffer,
    v: wgpu::Buffer,
    att: wgpu::Buffer,
    proj: wgpu::Buffer,
    gate: wgpu::Buffer,
    up: wgpu::Buffer,
    out_rows: wgpu::Buffer,
    scores: wgpu::Buffer,
    dummy: wgpu::Buffer,
}

/// Builds the dispatch list, compiling pipelines on first use.
struct Builder<'g> {
    gpu: &'g Gpu,
    pipes: Pipelines,
    ops: Vec<Op>,
    toks: &'g wgpu::Buffer,
    /// The buffer `xq` holds a rounding of, and which one: consecutive
    /// matmuls over the same input share one quantize dispatch.
    quantized: Option<(wgpu::Buffer, u32)>,
}

fn dev_err(e: impl std::fmt::Display) -> BackendError {
    BackendError::Device(e.to_string())
}

impl Builder<'_> {
    fn push(
        &mut self,
        k: Kernel,
        params: &[u32],
        buffers: &[&wgpu::Buffer],
        grid: Grid,
    ) -> Result<(), BackendError> {
        let pipeline = self.pipes.get(self.gpu, k)?.clone();
        self.push_with(pipeline, params, buffers, grid);
        Ok(())
    }

    fn push_with(
        &mut self,
        pipeline: wgpu::ComputePipeline,
        params: &[u32],
        buffers: &[&wgpu::Buffer],
        grid: Grid,
    ) {
        let u = uniform(self.gpu, params);
        let mut all = vec![&u];
        all.extend_from_slice(buffers);
        let bind = bind(&self.gpu.device, &pipeline, &all);
        self.ops.push(Op { pipeline, bind, grid });
    }

    /// `out[t][..rows] (+)= W · x[t] (+ bias)`, quantizing `x` first as the CPU does.
    #[allow(clippy::too_many_arguments)]
    fn matmul(
        &mut self,
        m: &GpuMatrix,
        bias: Option<&wgpu::Buffer>,
        x: &wgpu::Buffer,
        xq: &wgpu::Buffer,
        out: &wgpu::Buffer,
        accumulate: bool,
        count: Count,
    ) -> Result<(), BackendError> {
        let input = match act_mode(m.ty) {
            Some(mode) => {
                if self.quantized.as_ref() != Some(&(x.clone(), mode)) {
                    self.push(
                        Kernel::Quantize,
                        &[m.cols as u32, mode, count_index(count)],
                        &[x, xq, self.toks],
                        Grid::Cols {
                            x: quant_items(m.cols as u32, mode),
                            count,
                        },
                    )?;
                    self.quantized = Some((x.clone(), mode));
                }
                xq
            }
            None => x,
        };
        let pipeline = self.pipes.weighted(self.gpu, WeightKernel::Matmul, m.ty)?.clone();
        let dummy_bias = self.toks;
        for (row0, rows, buf) in &m.chunks {
            let params = [
                *rows as u32,
                m.cols as u32,
                m.row_words as u32,
                m.cols as u32,
                m.rows as u32,
                *row0 as u32,
                u32::from(bias.is_some()),
                *row0 as u32,
                u32::from(accumulate),
                count_index(count),
                u32::from(gemm_rows(m)),
            ];
            self.push_with(
                pipeline.clone(),
                &params,
                &[buf, input, out, bias.unwrap_or(dummy_bias), self.toks],
                Grid::Rows {
                    rows: *rows as u32,
                    count,
                },
            );
        }
        Ok(())
    }

    /// Marks `buf` as written: a later quantize of it must run again.
    fn wrote(&mut self, buf: &wgpu::Buffer) {
        if self.quantized.as_ref().is_some_and(|(b, _)| b == buf) {
            self.quantized = None;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn norm(
        &mut self,
        x: &wgpu::Buffer,
        y: &wgpu::Buffer,
        weight: &wgpu::Buffer,
        width: usize,
        per_tok: usize,
        mode: u32,
        eps: f32,
    ) -> Result<(), BackendError> {
        let count = if mode == 2 { Count::Outputs } else { Count::Tokens };
        self.push(
            Kernel::Norm,
            &[width as u32, per_tok as u32, mode, eps.to_bits()],
            &[x, y, weight, self.toks],
            Grid::RowPerGroup {
                per_tok: per_tok as u32,
                count,
            },
        )?;
        self.wrote(y);
        Ok(())
    }
}

/// Whether llama.cpp repacks `m` for its Q4_K gemm (see
/// kernels::matmul): Q4_K with a row count that is a multiple of 8.
pub fn gemm_rows(m: &GpuMatrix) -> bool {
    m.ty == GgmlType::Q4K && m.rows.is_multiple_of(8)
}

fn count_index(c: Count) -> u32 {
    match c {
        Count::Tokens => 0,
        Count::Outputs => 1,
    }
}

/// Threads of a quantize dispatch: one per block (Q8_0, Q8_K) or element (f16).
fn quant_items(cols: u32, mode: u32) -> u32 {
    match mode {
        0 => cols.div_ceil(32),
        1 => cols.div_ceil(256),
        _ => cols,
    }
}

fn storage(gpu: &Gpu, label: &str, bytes: u64, extra: wgpu::BufferUsages) -> wgpu::Buffer {
    gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16).next_multiple_of(16),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | extra,
        mapped_at_creation: false,
    })
}

fn vector(gpu: &Gpu, label: &str, v: &[f32]) -> wgpu::Buffer {
    storage_init(gpu, label, &f32_bytes(v))
}

impl GpuBackend {
    /// Uploads `model` to `gpu` and builds its forward pass for steps of up
    /// to `n_batch` tokens (fewer if the attention scores would not fit a
    /// storage binding) and `n_outputs` logit rows, over `n_slots` caches.
    pub fn new(
        gpu: Gpu,
        model: &Model<'_>,
        n_slots: usize,
        n_ctx: usize,
        n_batch: usize,
        n_outputs: usize,
    ) -> Result<GpuBackend, BackendError> {
        let c = model.config().clone();
        let w = model.weights();
        if c.k_dim() % 2 != 0 || c.v_dim() % 2 != 0 {
            return Err(dev_err("the GPU backend needs even key and value widths"));
        }
        if c.head_dim_k > 512 {
            return Err(dev_err(format!(
                "head size {} exceeds the GPU attention kernel's 512",
                c.head_dim_k
            )));
        }
        let (n_slots, n_ctx) = (n_slots.max(1), n_ctx.max(1));
        let limits = gpu.limits.clone();
        let max_bind = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
        let score_row = (c.n_head * n_ctx * 4) as u64;
        // The token table gives a token's place in its sequence in 16 bits.
        let n_batch = n_batch
            .clamp(1, u16::MAX.into())
            .min((max_bind / score_row.max(1)) as usize);
        if n_batch == 0 {
            return Err(dev_err(format!(
                "attention scores for a context of {n_ctx} do not fit the GPU's storage bindings; lower --ctx-size"
            )));
        }
        let n_outputs = n_outputs.clamp(1, n_batch);
        let kv_bytes = (n_slots * n_ctx * c.k_dim().max(c.v_dim()) * 2) as u64;
        check_fits(&limits, "the KV cache of one layer", kv_bytes)?;
        check_fits(&limits, "the logits", (n_outputs * c.n_vocab * 4) as u64)?;

        let nb = n_batch as u64;
        let f = 4u64;
        let att_dim = c.n_head * c.head_dim_v;
        let widest = c.n_embd.max(att_dim).max(c.n_ff).max(c.q_dim()) as u64;
        let none = wgpu::BufferUsages::empty();
        let a = Acts {
            x: storage(&gpu, "x", nb * c.n_embd as u64 * f, none),
            xb: storage(&gpu, "xb", nb * c.n_embd as u64 * f, none),
            xq: storage(&gpu, "xq", nb * widest * f, none),
            qraw: storage(&gpu, "qraw", nb * c.q_dim() as u64 * f, none),
            kraw: storage(&gpu, "kraw", nb * c.k_dim() as u64 * f, none),
            qn: storage(&gpu, "qn", nb * c.q_dim() as u64 * f, none),
            kn: storage(&gpu, "kn", nb * c.k_dim() as u64 * f, none),
            q: storage(&gpu, "q", nb * c.q_dim() as u64 * f, none),
            k: storage(&gpu, "k", nb * c.k_dim() as u64 * f, none),
            v: storage(&gpu, "v", nb * c.v_dim() as u64 * f, none),
            att: storage(&gpu, "att", nb * att_dim as u64 * f, none),
            proj: storage(&gpu, "proj", nb * c.n_embd as u64 * f, none),
            gate: storage(&gpu, "gate", nb * c.n_ff as u64 * f, none),
            up: storage(&gpu, "up", nb * c.n_ff as u64 * f, none),
            out_rows: storage(&gpu, "out_rows", (n_outputs * c.n_embd) as u64 * f, none),
            scores: storage(&gpu, "scores", nb * score_row, none),
            dummy: storage(&gpu, "dummy", 16, none),
        };
        for (what, b) in [
            ("activations", nb * widest * f),
            ("attention scores", nb * score_row),
        ] {
            check_fits(&limits, what, b)?;
        }
        let toks_len = TOKS_HEADER + 4 * n_batch + n_outputs;
        let toks = storage(&gpu, "toks", toks_len as u64 * 4, none);
        let half_rot = c.n_rot / 2;
        let rope_len = 2 * n_batch * half_rot.max(1) * 2;
        let rope = storage(&gpu, "rope", rope_len as u64 * 4, none);
        let logits_bytes = (n_outputs * c.n_vocab * 4) as u64;
        let logits = storage(&gpu, "logits", logits_bytes, wgpu::BufferUsages::COPY_SRC);
        let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("staging"),
            size: logits_bytes.max(16).next_multiple_of(16),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });

        // Weights: the token embedding is shared with a tied output head.
        let embd = GpuMatrix::upload(&gpu, "token_embd.weight", &w.token_embd)?;
        let tied = w.output.row(0).as_ptr() == w.token_embd.row(0).as_ptr();
        let output = if tied {
            None
        } else {
            Some(GpuMatrix::upload(&gpu, "output.weight", &w.output)?)
        };
        let gemma = c.arch == Arch::Gemma3;
        let gelu = vector(&gpu, "gelu table", &gelu_table());

        let mut b = Builder {
            gpu: &gpu,
            pipes: Pipelines::default(),
            ops: Vec::new(),
            toks: &toks,
            quantized: None,
        };
        let scale = if gemma { (c.n_embd as f32).sqrt() } else { 1.0 };
        let embed = b.pipes.weighted(&gpu, WeightKernel::Embed, embd.ty)?.clone();
        for (row0, rows, buf) in &embd.chunks {
            b.push_with(
                embed.clone(),
                &[
                    c.n_embd as u32,
                    embd.row_words as u32,
                    *row0 as u32,
                    *rows as u32,
                    scale.to_bits(),
                ],
                &[buf, &a.x, &toks],
                Grid::Cols {
                    x: c.n_embd as u32,
                    count: Count::Tokens,
                },
            );
        }

        let eps = c.rms_eps;
        for (il, l) in w.layers.iter().enumerate() {
            let name = |s: &str| format!("blk.{il}.{s}.weight");
            let up = |n: &str, m| GpuMatrix::upload(&gpu, &name(n), m);
            let (wq, wk, wv, wo) = (
                up("attn_q", &l.wq)?,
                up("attn_k", &l.wk)?,
                up("attn_v", &l.wv)?,
                up("attn_output", &l.wo)?,
            );
            let (wg, wu, wd) = (
                up("ffn_gate", &l.ffn_gate)?,
                up("ffn_up", &l.ffn_up)?,
                up("ffn_down", &l.ffn_down)?,
            );
            let opt = |v: &Option<Vec<f32>>, n: &str| v.as_ref().map(|v| vector(&gpu, n, v));
            let (bq, bk, bv) = (opt(&l.bq, "bq"), opt(&l.bk, "bk"), opt(&l.bv, "bv"));
            let attn_norm = vector(&gpu, "attn_norm", &l.attn_norm);
            let ffn_norm = vector(&gpu, "ffn_norm", &l.ffn_norm);
            let kc = storage(&gpu, "k cache", kv_bytes, none);
            let vc = storage(&gpu, "v cache", kv_bytes, none);

            // Attention block.
            b.norm(&a.x, &a.xb, &attn_norm, c.n_embd, 1, 0, eps)?;
            b.matmul(&wq, bq.as_ref(), &a.xb, &a.xq, &a.qraw, false, Count::Tokens)?;
            b.matmul(&wk, bk.as_ref(), &a.xb, &a.xq, &a.kraw, false, Count::Tokens)?;
            b.matmul(&wv, bv.as_ref(), &a.xb, &a.xq, &a.v, false, Count::Tokens)?;
            let (qin, kin) = match (&l.q_norm, &l.k_norm) {
                (Some(qn), Some(kn)) => {
                    let (qn, kn) = (vector(&gpu, "q_norm", qn), vector(&gpu, "k_norm", kn));
                    b.norm(&a.qraw, &a.qn, &qn, c.head_dim_k, c.n_head, 0, eps)?;
                    b.norm(&a.kraw, &a.kn, &kn, c.head_dim_k, c.n_head_kv, 0, eps)?;
                    (&a.qn, &a.kn)
                }
                _ => (&a.qraw, &a.kraw),
            };
            let table = u32::from(c.is_swa_layer(il));
            let neox = u32::from(c.rope_style == kernels::ops::RopeStyle::Neox);
            let q_scale = if gemma { c.attn_scale } else { 1.0 };
            for (src, dst, heads, s) in [(qin, &a.q, c.n_head, q_scale), (kin, &a.k, c.n_head_kv, 1.0)] {
                b.push(
                    Kernel::Rope,
                    &[
                        heads as u32,
                        c.head_dim_k as u32,
                        c.n_rot as u32,
                        neox,
                        table,
                        s.to_bits(),
                    ],
                    &[src, dst, &rope, &toks],
                    Grid::Cols {
                        x: heads as u32,
                        count: Count::Tokens,
                    },
                )?;
            }
            b.push(
                Kernel::KvStore,
                &[c.k_dim() as u32, c.v_dim() as u32, n_ctx as u32],
                &[&a.k, &a.v, &kc, &vc, &toks],
                Grid::Cols {
                    x: (c.k_dim().max(c.v_dim()) / 2) as u32,
                    count: Count::Tokens,
                },
            )?;
            let window = if c.is_swa_layer(il) {
                c.sliding_window.unwrap_or(0)
            } else {
                0
            };
            let kq_scale = if gemma { 1.0 } else { c.attn_scale };
            b.push(
                Kernel::Attention,
                &[
                    c.n_head as u32,
                    (c.n_head / c.n_head_kv) as u32,
                    c.head_dim_k as u32,
                    c.head_dim_v as u32,
                    n_ctx as u32,
                    window as u32,
                    kq_scale.to_bits(),
                ],
                &[&a.q, &kc, &vc, &a.scores, &a.att, &toks],
                Grid::Heads { n: c.n_head as u32 },
            )?;
            b.wrote(&a.att);
            match &l.post_attn_norm {
                Some(pn) => {
                    let pn = vector(&gpu, "post_attention_norm", pn);
                    b.matmul(&wo, None, &a.att, &a.xq, &a.proj, false, Count::Tokens)?;
                    b.norm(&a.proj, &a.x, &pn, c.n_embd, 1, 1, eps)?;
                }
                None => b.matmul(&wo, None, &a.att, &a.xq, &a.x, true, Count::Tokens)?,
            }
            b.wrote(&a.x);

            // Feed-forward block.
            b.norm(&a.x, &a.xb, &ffn_norm, c.n_embd, 1, 0, eps)?;
            b.matmul(&wg, None, &a.xb, &a.xq, &a.gate, false, Count::Tokens)?;
            b.matmul(&wu, None, &a.xb, &a.xq, &a.up, false, Count::Tokens)?;
            b.push(
                Kernel::Act,
                &[c.n_ff as u32, u32::from(!gemma)],
                &[&a.gate, &a.up, &toks, &gelu],
                Grid::Elems { n: c.n_ff as u32 },
            )?;
            b.wrote(&a.gate);
            match &l.post_ffn_norm {
                Some(pn) => {
                    let pn = vector(&gpu, "post_ffw_norm", pn);
                    b.matmul(&wd, None, &a.gate, &a.xq, &a.proj, false, Count::Tokens)?;
                    b.norm(&a.proj, &a.x, &pn, c.n_embd, 1, 1, eps)?;
                }
                None => b.matmul(&wd, None, &a.gate, &a.xq, &a.x, true, Count::Tokens)?,
            }
            b.wrote(&a.x);
            // Weight uploads are staged until a submission: flush them
            // layer by layer rather than holding the whole model twice.
            gpu.queue.submit([]);
        }
        let layer_ops = std::mem::take(&mut b.ops);
        b.quantized = None;
        let output_norm = vector(&gpu, "output_norm", &w.output_norm);
        b.norm(&a.x, &a.out_rows, &output_norm, c.n_embd, 1, 2, eps)?;
        let head = output.as_ref().unwrap_or(&embd);
        b.matmul(head, None, &a.out_rows, &a.xq, &logits, false, Count::Outputs)?;
        let head_ops = std::mem::take(&mut b.ops);
        drop(b);
        let _ = &a.dummy;
        gpu.queue.submit([]);
        gpu.take_error()?;
        Ok(GpuBackend {
            logits_host: vec![0.0; n_outputs * c.n_vocab],
            toks_host: vec![0; toks_len],
            rope_host: vec![0.0; rope_len],
            gpu,
            config: c,
            n_batch,
            n_ctx,
            n_slots,
            n_outputs,
            layer_ops,
            head_ops,
            toks,
            rope,
            logits,
            staging,
        })
    }

    /// The device this backend runs on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// Checks a step as the CPU path does, and fills the token table.
    fn prepare(&mut self, steps: &[Step<'_>], outputs: &[usize]) -> Result<(usize, usize), BackendError> {
        let c = &self.config;
        let n_tok: usize = steps.iter().map(|s| s.tokens.len()).sum();
        if n_tok > self.n_batch {
            return Err(ModelError::BatchTooLarge {
                n_tok,
                n_batch: self.n_batch,
            }
            .into());
        }
        let mut seen = vec![false; self.n_slots];
        for s in steps {
            match seen.get_mut(s.slot) {
                Some(used) if !*used => *used = true,
                _ => return Err(dev_err(format!("slot {} is missing or used twice", s.slot))),
            }
            let needed = s.pos0 + s.tokens.len();
            if needed > self.n_ctx {
                return Err(ModelError::ContextFull {
                    needed,
                    n_ctx: self.n_ctx,
                }
                .into());
            }
            if let Some(&token) = s.tokens.iter().find(|&&t| t as usize >= c.n_vocab) {
                return Err(ModelError::TokenOutOfRange {
                    token,
                    n_vocab: c.n_vocab,
                }
                .into());
            }
        }
        if outputs.len() > self.n_outputs || outputs.iter().any(|&o| o >= n_tok) {
            return Err(ModelError::TooManyOutputs {
                requested: outputs.len(),
                max: self.n_outputs.min(n_tok),
            }
            .into());
        }
        let th = &mut self.toks_host;
        th.fill(0);
        th[0] = n_tok as u32;
        th[1] = outputs.len() as u32;
        th[3] = self.n_batch as u32;
        let half_rot = c.n_rot / 2;
        let mut t = 0;
        for s in steps {
            for (i, &tok) in s.tokens.iter().enumerate() {
                let pos = s.pos0 + i;
                th[TOKS_HEADER + 4 * t..TOKS_HEADER + 4 * t + 4].copy_from_slice(&[
                    tok,
                    pos as u32,
                    s.slot as u32,
                    i as u32 | (s.tokens.len() as u32) << 16,
                ]);
                // The CPU path's angles (kernels::ops::rope): the base's
                // power once, then repeated multiplication in f32.
                for (table, (base, freq_scale)) in [(c.rope_base, c.rope_freq_scale), (c.rope_base_swa, 1.0)]
                    .into_iter()
                    .enumerate()
                {
                    let row = (table * self.n_batch + t) * half_rot;
                    rope_angles(
                        pos,
                        c.n_rot,
                        base,
                        freq_scale,
                        &mut self.rope_host[2 * row..2 * (row + half_rot)],
                    );
                }
                t += 1;
            }
        }
        let out0 = TOKS_HEADER + 4 * self.n_batch;
        for (i, &o) in outputs.iter().enumerate() {
            th[out0 + i] = o as u32;
        }
        Ok((n_tok, outputs.len()))
    }
}

impl Backend for GpuBackend {
    fn config(&self) -> &Config {
        &self.config
    }

    fn device(&self) -> &str {
        &self.gpu.description
    }

    fn n_batch(&self) -> usize {
        self.n_batch
    }

    fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    fn forward(&mut self, steps: &[Step<'_>], outputs: &[usize]) -> Result<&[f32], BackendError> {
        let (n_tok, n_out) = self.prepare(steps, outputs)?;
        if n_tok == 0 {
            return Ok(&self.logits_host[..0]);
        }
        let q = &self.gpu.queue;
        let words: Vec<u8> = self.toks_host.iter().flat_map(|w| w.to_le_bytes()).collect();
        q.write_buffer(&self.toks, 0, &words);
        let rope_used = 2 * self.n_batch * (self.config.n_rot / 2) * 2;
        if rope_used > 0 {
            q.write_buffer(&self.rope, 0, &f32_bytes(&self.rope_host[..rope_used]));
        }
        let mut enc = self
            .gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("step") });
        record(&mut enc, &self.layer_ops, n_tok as u32, n_out as u32);
        let bytes = (n_out * self.config.n_vocab * 4) as u64;
        if n_out > 0 {
            record(&mut enc, &self.head_ops, n_tok as u32, n_out as u32);
            enc.copy_buffer_to_buffer(&self.logits, 0, &self.staging, 0, bytes);
        }
        q.submit([enc.finish()]);
        if n_out == 0 {
            self.gpu
                .device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(dev_err)?;
            self.gpu.take_error()?;
            return Ok(&self.logits_host[..0]);
        }
        let slice = self.staging.slice(..bytes);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.gpu
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(dev_err)?;
        self.gpu.take_error()?;
        rx.recv()
            .map_err(dev_err)?
            .map_err(|e| dev_err(format!("reading the logits back: {e}")))?;
        {
            let view = slice.get_mapped_range().map_err(dev_err)?;
            for (d, s) in self.logits_host.iter_mut().zip(view.chunks_exact(4)) {
                *d = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
            }
        }
        self.staging.unmap();
        Ok(&self.logits_host[..n_out * self.config.n_vocab])
    }
}

/// The cosines and sines of position `pos`'s RoPE angles, interleaved, as
/// the CPU path computes them (kernels::ops::rope): the base's power once,
/// then repeated multiplication in f32.
pub fn rope_angles(pos: usize, n_rot: usize, base: f32, freq_scale: f32, out: &mut [f32]) {
    let theta_scale = base.powf(-2.0 / n_rot as f32);
    let mut theta = pos as f32;
    for cs in out.chunks_exact_mut(2).take(n_rot / 2) {
        let a = freq_scale * theta;
        cs[0] = a.cos();
        cs[1] = a.sin();
        theta *= theta_scale;
    }
}

/// `gelu(x)` for every f16 bit pattern `x` (ggml's table, through the CPU
/// path's own function, so the shader looks up the CPU's results).
pub fn gelu_table() -> Vec<f32> {
    (0..=u16::MAX)
        .map(|b| kernels::ops::gelu(half::f16::from_bits(b).to_f32()))
        .collect()
}

/// Whether every weight of `model` has a GPU shader (for a clear error
/// before anything is uploaded).
pub fn unsupported_type(model: &Model<'_>) -> Option<GgmlType> {
    let w = model.weights();
    let mut all = vec![w.token_embd.ty, w.output.ty];
    for l in &w.layers {
        all.extend([
            l.wq.ty,
            l.wk.ty,
            l.wv.ty,
            l.wo.ty,
            l.ffn_gate.ty,
            l.ffn_up.ty,
            l.ffn_down.ty,
        ]);
    }
    all.into_iter().find(|&t| crate::upload::layout(t).is_none())
}
