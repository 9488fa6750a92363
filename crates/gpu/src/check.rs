//! Single kernels run on their own, for the tests that hold each shader
//! against the CPU reference (`tests/shaders.rs`).

use gguf::GgmlType;
use kernels::matmul::Matrix;
use model::BackendError;

use crate::device::Gpu;
use crate::pipelines::{Kernel, Pipelines, WeightKernel};
use crate::plan::{bind, record, uniform, Count, Grid, Op};
use crate::upload::{f32_bytes, storage_init, GpuMatrix};

fn err(e: impl std::fmt::Display) -> BackendError {
    BackendError::Device(e.to_string())
}

/// Runs `ops` (for `n_tok` tokens) and reads `out` back as `len` words.
fn run_words(
    gpu: &Gpu,
    ops: &[Op],
    n_tok: u32,
    out: &wgpu::Buffer,
    len: usize,
) -> Result<Vec<u32>, BackendError> {
    let bytes = (len * 4) as u64;
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("check staging"),
        size: bytes.max(4),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    record(&mut enc, ops, n_tok, n_tok);
    enc.copy_buffer_to_buffer(out, 0, &staging, 0, bytes);
    gpu.queue.submit([enc.finish()]);
    let slice = staging.slice(..);
    slice.map_async(wgpu::MapMode::Read, |_| {});
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(err)?;
    gpu.take_error()?;
    let view = slice.get_mapped_range().map_err(err)?;
    Ok(view
        .chunks_exact(4)
        .take(len)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// [`run_words`] read as f32s.
fn run(gpu: &Gpu, ops: &[Op], n_tok: u32, out: &wgpu::Buffer, len: usize) -> Result<Vec<f32>, BackendError> {
    Ok(run_words(gpu, ops, n_tok, out, len)?
        .into_iter()
        .map(f32::from_bits)
        .collect())
}

fn out_buffer(gpu: &Gpu, len: usize) -> wgpu::Buffer {
    gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("check out"),
        size: (len * 4).max(16) as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}

/// The token table with `n_tok` tokens and as many output rows, token
/// `t` at position `pos0 + t`, the tokens one sequence's part of `part`
/// tokens after another.
fn toks(gpu: &Gpu, n_tok: usize, pos0: usize, part: usize) -> wgpu::Buffer {
    let mut words = vec![n_tok as u32, n_tok as u32, 0, n_tok as u32];
    for t in 0..n_tok {
        let n = part.min(n_tok - t / part * part);
        words.extend([0, (pos0 + t) as u32, 0, (t % part) as u32 | (n as u32) << 16]);
    }
    storage_init(
        gpu,
        "check toks",
        &words.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>(),
    )
}

/// `m` (`rows x cols` of `ty` in the file's layout) dequantized by the
/// shader's `w_at`.
pub fn dequantize(
    gpu: &Gpu,
    ty: GgmlType,
    rows: usize,
    cols: usize,
    data: &[u8],
) -> Result<Vec<f32>, BackendError> {
    let m = Matrix::new(ty, rows, cols, data).map_err(|e| err(format!("{e:?}")))?;
    let gm = GpuMatrix::upload(gpu, "check", &m)?;
    let mut pipes = Pipelines::default();
    let pipeline = pipes.weighted(gpu, WeightKernel::Dequant, ty)?.clone();
    let out = out_buffer(gpu, rows * cols);
    let (_, _, buf) = &gm.chunks[0];
    let u = uniform(gpu, &[cols as u32, gm.row_words as u32]);
    let op = Op {
        bind: bind(&gpu.device, &pipeline, &[&u, buf, &out]),
        pipeline,
        grid: Grid::Cols {
            x: cols as u32,
            count: Count::Tokens,
        },
    };
    run(gpu, &[op], rows as u32, &out, rows * cols)
}

/// `x` (`n_tok` rows of `width`) converted by the quantize shader in
/// `mode` (0: Q8_0, 1: Q8_K, 2: f16), as the words the matmul reads.
pub fn quantize(gpu: &Gpu, mode: u32, x: &[f32], width: usize) -> Result<Vec<u32>, BackendError> {
    let n_tok = x.len() / width;
    let (op, out, len) = quantize_op(gpu, mode, x, width)?;
    run_words(gpu, &[op], n_tok as u32, &out, len)
}

/// The quantize dispatch of [`quantize`], its output and output words.
fn quantize_op(
    gpu: &Gpu,
    mode: u32,
    x: &[f32],
    width: usize,
) -> Result<(Op, wgpu::Buffer, usize), BackendError> {
    let n_tok = x.len() / width;
    let mut pipes = Pipelines::default();
    let pipeline = pipes.get(gpu, Kernel::Quantize)?.clone();
    let input = storage_init(gpu, "check x", &f32_bytes(x));
    let (items, words) = match mode {
        0 => (width / 32, width / 32 * 9),
        1 => (width / 256, width / 256 * 81),
        _ => (width, width),
    };
    let out = out_buffer(gpu, n_tok * words);
    let t = toks(gpu, n_tok, 0, 1);
    let u = uniform(gpu, &[width as u32, mode, 0]);
    let op = Op {
        bind: bind(&gpu.device, &pipeline, &[&u, &input, &out, &t]),
        pipeline,
        grid: Grid::Cols {
            x: items as u32,
            count: Count::Tokens,
        },
    };
    Ok((op, out, n_tok * words))
}

/// `W · x[t]` for each row of `x`, converted by the quantize shader as
/// the weight type wants, then multiplied by the matmul shader; the tokens
/// are parts of `part` tokens of a step (which picks llama.cpp's rounding
/// per token, as [`kernels::matmul::matmul_batches`] with those batches).
pub fn matmul(
    gpu: &Gpu,
    ty: GgmlType,
    rows: usize,
    cols: usize,
    data: &[u8],
    x: &[f32],
    part: usize,
) -> Result<Vec<f32>, BackendError> {
    let n_tok = x.len() / cols;
    let m = Matrix::new(ty, rows, cols, data).map_err(|e| err(format!("{e:?}")))?;
    let gm = GpuMatrix::upload(gpu, "check", &m)?;
    let mut pipes = Pipelines::default();
    let pipeline = pipes.weighted(gpu, WeightKernel::Matmul, ty)?.clone();
    let mut ops = Vec::new();
    let input = match crate::upload::act_mode(ty) {
        Some(mode) => {
            let (op, q, _) = quantize_op(gpu, mode, x, cols)?;
            ops.push(op);
            q
        }
        None => storage_init(gpu, "check x", &f32_bytes(x)),
    };
    let out = out_buffer(gpu, n_tok * rows);
    let t = toks(gpu, n_tok, 0, part.max(1));
    for (row0, n, buf) in &gm.chunks {
        let u = uniform(
            gpu,
            &[
                *n as u32,
                cols as u32,
                gm.row_words as u32,
                cols as u32,
                rows as u32,
                *row0 as u32,
                0,
                0,
                0,
                0,
                u32::from(crate::backend::gemm_rows(&gm)),
            ],
        );
        ops.push(Op {
            bind: bind(&gpu.device, &pipeline, &[&u, buf, &input, &out, &t, &t]),
            pipeline: pipeline.clone(),
            grid: Grid::Rows {
                rows: *n as u32,
                count: Count::Tokens,
            },
        });
    }
    run(gpu, &ops, n_tok as u32, &out, n_tok * rows)
}

/// The attention kernel alone: `q` (`n_tok` tokens of `n_head` heads of
/// `hd` values) against caches `k` and `v` (`n_ctx` positions of `n_kv`
/// heads, as f16) in slot 0, token `t` at position `pos0 + t`, the tokens
/// one sequence's part of the step.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    gpu: &Gpu,
    q: &[f32],
    k: &[half::f16],
    v: &[half::f16],
    n_head: usize,
    n_kv: usize,
    hd: usize,
    n_ctx: usize,
    pos0: usize,
    window: usize,
    kq_scale: f32,
) -> Result<Vec<f32>, BackendError> {
    let n_tok = q.len() / (n_head * hd);
    let mut pipes = Pipelines::default();
    let pipeline = pipes.get(gpu, Kernel::Attention)?.clone();
    let bits = |x: &[half::f16]| -> Vec<u8> { x.iter().flat_map(|h| h.to_le_bytes()).collect() };
    let (qb, kb, vb) = (
        storage_init(gpu, "check q", &f32_bytes(q)),
        storage_init(gpu, "check k", &bits(k)),
        storage_init(gpu, "check v", &bits(v)),
    );
    let scores = out_buffer(gpu, n_tok * n_head * n_ctx);
    let out = out_buffer(gpu, n_tok * n_head * hd);
    let toks = toks(gpu, n_tok, pos0, n_tok);
    let u = uniform(
        gpu,
        &[
            n_head as u32,
            (n_head / n_kv) as u32,
            hd as u32,
            hd as u32,
            n_ctx as u32,
            window as u32,
            kq_scale.to_bits(),
        ],
    );
    let op = Op {
        bind: bind(&gpu.device, &pipeline, &[&u, &qb, &kb, &vb, &scores, &out, &toks]),
        pipeline,
        grid: Grid::Heads { n: n_head as u32 },
    };
    run(gpu, &[op], n_tok as u32, &out, n_tok * n_head * hd)
}

/// Each `width`-wide row of `x` RMS-normalized times `weight` by the norm
/// shader.
pub fn rms_norm(
    gpu: &Gpu,
    x: &[f32],
    width: usize,
    weight: &[f32],
    eps: f32,
) -> Result<Vec<f32>, BackendError> {
    let n = x.len() / width;
    let mut pipes = Pipelines::default();
    let pipeline = pipes.get(gpu, Kernel::Norm)?.clone();
    let (input, w) = (
        storage_init(gpu, "check x", &f32_bytes(x)),
        storage_init(gpu, "check w", &f32_bytes(weight)),
    );
    let out = out_buffer(gpu, x.len());
    let toks = toks(gpu, n, 0, n);
    let u = uniform(gpu, &[width as u32, 1, 0, eps.to_bits()]);
    let op = Op {
        bind: bind(&gpu.device, &pipeline, &[&u, &input, &out, &w, &toks]),
        pipeline,
        grid: Grid::RowPerGroup {
            per_tok: 1,
            count: Count::Tokens,
        },
    };
    run(gpu, &[op], n as u32, &out, x.len())
}

/// RoPE of `n_heads` heads of `head_dim` per token (token `t` at position
/// `pos0 + t`), `n_rot` dimensions rotated, then times `scale`, by the rope
/// shader with the backend's angle table.
#[allow(clippy::too_many_arguments)]
pub fn rope(
    gpu: &Gpu,
    x: &[f32],
    n_heads: usize,
    head_dim: usize,
    n_rot: usize,
    neox: bool,
    pos0: usize,
    base: f32,
    scale: f32,
) -> Result<Vec<f32>, BackendError> {
    let n = x.len() / (n_heads * head_dim);
    let half = n_rot / 2;
    let mut table = vec![0.0f32; n * half * 2];
    for t in 0..n {
        crate::backend::rope_angles(
            pos0 + t,
            n_rot,
            base,
            1.0,
            &mut table[t * half * 2..(t + 1) * half * 2],
        );
    }
    let mut pipes = Pipelines::default();
    let pipeline = pipes.get(gpu, Kernel::Rope)?.clone();
    let (input, cs) = (
        storage_init(gpu, "check x", &f32_bytes(x)),
        storage_init(gpu, "check rope", &f32_bytes(&table)),
    );
    let out = out_buffer(gpu, x.len());
    let toks = toks(gpu, n, pos0, n);
    let u = uniform(
        gpu,
        &[
            n_heads as u32,
            head_dim as u32,
            n_rot as u32,
            u32::from(neox),
            0,
            scale.to_bits(),
        ],
    );
    let op = Op {
        bind: bind(&gpu.device, &pipeline, &[&u, &input, &out, &cs, &toks]),
        pipeline,
        grid: Grid::Cols {
            x: n_heads as u32,
            count: Count::Tokens,
        },
    };
    run(gpu, &[op], n as u32, &out, x.len())
}

/// `act(gate) * up` by the activation shader (GELU, or SiLU when `silu`),
/// for one token of `gate.len()` values.
pub fn gated(gpu: &Gpu, gate: &[f32], up: &[f32], silu: bool) -> Result<Vec<f32>, BackendError> {
    let mut pipes = Pipelines::default();
    let pipeline = pipes.get(gpu, Kernel::Act)?.clone();
    let g = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("check gate"),
        size: (gate.len() * 4).max(16) as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    gpu.queue.write_buffer(&g, 0, &f32_bytes(gate));
    let (u_buf, table) = (
        storage_init(gpu, "check up", &f32_bytes(up)),
        storage_init(gpu, "gelu table", &f32_bytes(&crate::backend::gelu_table())),
    );
    let toks = toks(gpu, 1, 0, 1);
    let u = uniform(gpu, &[gate.len() as u32, u32::from(silu)]);
    let op = Op {
        bind: bind(&gpu.device, &pipeline, &[&u, &g, &u_buf, &toks, &table]),
        pipeline,
        grid: Grid::Elems { n: gate.len() as u32 },
    };
    run(gpu, &[op], 1, &g, gate.len())
}
