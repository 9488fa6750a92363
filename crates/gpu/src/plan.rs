//! The forward pass as a list of dispatches, built once when the model is
//! loaded: every bind group (weights, activations, the KV cache of each
//! layer, the per-step token table) is made then, so a step only writes the
//! token table and RoPE angles, records the list into one command buffer
//! and submits it once.

use model::BackendError;

use crate::device::Gpu;

/// Which count a dispatch scales with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// The step's tokens.
    Tokens,
    /// The step's logit rows.
    Outputs,
}

/// How many workgroups a dispatch takes, given the step's counts.
#[derive(Debug, Clone, Copy)]
pub enum Grid {
    /// One workgroup per 64 weight rows (over x and y), `ceil(count / 8)` in z.
    Rows { rows: u32, count: Count },
    /// One workgroup per row of `per_tok` rows per counted item.
    RowPerGroup { per_tok: u32, count: Count },
    /// 64-wide groups over `x` items, one group row per counted item.
    Cols { x: u32, count: Count },
    /// One workgroup per head and token.
    Heads { n: u32 },
    /// One thread per element of `n` per token.
    Elems { n: u32 },
}

const MAX_DIM: u32 = 65_535;

/// Weight rows one matmul workgroup computes (its size in matmul.wgsl).
const MATMUL_ROWS: u32 = 64;

/// `n` workgroups laid out over x, then y.
fn split(n: u32) -> (u32, u32) {
    (n.clamp(1, MAX_DIM), n.div_ceil(MAX_DIM).max(1))
}

impl Grid {
    /// Workgroups in x, y, z; `None` when there is nothing to do.
    pub fn size(self, n_tok: u32, n_out: u32) -> Option<(u32, u32, u32)> {
        let pick = |c: Count| if c == Count::Tokens { n_tok } else { n_out };
        let s = match self {
            Grid::Rows { rows, count } => {
                let (x, y) = split(rows.div_ceil(MATMUL_ROWS));
                (x, y, pick(count).div_ceil(8))
            }
            Grid::RowPerGroup { per_tok, count } => {
                let (x, y) = split(pick(count) * per_tok);
                (x, y, pick(count).min(1))
            }
            Grid::Cols { x, count } => (x.div_ceil(64), pick(count), 1),
            Grid::Heads { n } => (n, n_tok, 1),
            Grid::Elems { n } => {
                let (x, y) = split((n * n_tok).div_ceil(64));
                (x, y, n_tok.min(1))
            }
        };
        (s.0 > 0 && s.1 > 0 && s.2 > 0).then_some(s)
    }
}

/// One dispatch of the forward pass.
#[derive(Debug)]
pub struct Op {
    pub pipeline: wgpu::ComputePipeline,
    pub bind: wgpu::BindGroup,
    pub grid: Grid,
}

/// Records `ops` into one compute pass.
pub fn record(enc: &mut wgpu::CommandEncoder, ops: &[Op], n_tok: u32, n_out: u32) {
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("forward"),
        timestamp_writes: None,
    });
    for op in ops {
        if let Some((x, y, z)) = op.grid.size(n_tok, n_out) {
            pass.set_pipeline(&op.pipeline);
            pass.set_bind_group(0, &op.bind, &[]);
            pass.dispatch_workgroups(x, y, z);
        }
    }
}

/// A uniform buffer of 32-bit parameters (f32s go in as their bits).
pub fn uniform(gpu: &Gpu, words: &[u32]) -> wgpu::Buffer {
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    bytes.resize(bytes.len().next_multiple_of(16).max(64), 0);
    let buf = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("params"),
        size: bytes.len() as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    gpu.queue.write_buffer(&buf, 0, &bytes);
    buf
}

/// A bind group of `buffers` at bindings 0, 1, ... of `pipeline`'s group 0.
pub fn bind(
    device: &wgpu::Device,
    pipeline: &wgpu::ComputePipeline,
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry<'_>> = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: b.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    })
}

/// Checks that a buffer of `bytes` fits the device's storage bindings.
pub fn check_fits(limits: &wgpu::Limits, what: &str, bytes: u64) -> Result<(), BackendError> {
    let max = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
    if bytes > max {
        return Err(BackendError::Device(format!(
            "{what} needs {bytes} bytes, more than the GPU's largest storage binding ({max} bytes); \
             lower --ctx-size or --parallel"
        )));
    }
    Ok(())
}
