//! Weights on the device, in their quantized blocks. Blocks are copied as
//! they are, except that each is padded to a whole number of 32-bit words
//! (WGSL reads storage in words; a Q8_0 block of 34 bytes would otherwise
//! straddle them): two bytes after the f16 scale of Q8_0, Q4_0 and Q5_0 (so
//! their quants start on a word), two at the end of Q6_K, and an odd F16
//! row gets one more half. A matrix larger than the device's largest
//! storage binding (128 MiB on lavapipe, less than Gemma 3's 178 MB token
//! embedding) is split by rows into several buffers.

use gguf::GgmlType;
use kernels::dot::VecDotType;
use kernels::matmul::Matrix;
use model::BackendError;

use crate::device::Gpu;

/// How a weight type is laid out on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Elements per block.
    pub block: usize,
    /// Bytes per block in the file.
    pub src_bytes: usize,
    /// Bytes per block on the device.
    pub dst_bytes: usize,
    /// Where the padding goes: after the first two bytes, or at the end.
    pub pad_after_scale: bool,
}

/// The types with shaders; `None` for the others.
pub fn layout(ty: GgmlType) -> Option<Layout> {
    let l = |block, src_bytes, dst_bytes, pad_after_scale| Layout {
        block,
        src_bytes,
        dst_bytes,
        pad_after_scale,
    };
    Some(match ty {
        GgmlType::F32 => l(1, 4, 4, false),
        GgmlType::F16 => l(2, 4, 4, false),
        GgmlType::Q8_0 => l(32, 34, 36, true),
        GgmlType::Q4_0 => l(32, 18, 20, true),
        GgmlType::Q5_0 => l(32, 22, 24, true),
        GgmlType::Q4K => l(256, 144, 144, false),
        GgmlType::Q6K => l(256, 210, 212, false),
        _ => return None,
    })
}

/// The activation rounding the CPU path applies before its dot product
/// with this weight type, as the quantize shader's mode (`None`: f32).
pub fn act_mode(ty: GgmlType) -> Option<u32> {
    match kernels::dot::vec_dot_for_scalar(ty).map(|(t, _)| t) {
        Some(VecDotType::Q8_0) => Some(0),
        Some(VecDotType::Q8K) => Some(1),
        Some(VecDotType::F16) => Some(2),
        _ => None,
    }
}

/// Row `r` of `m` in the device layout, appended to `out`.
fn pack_row(m: &Matrix<'_>, lay: Layout, r: usize, out: &mut Vec<u8>) {
    let row = m.row(r);
    if m.ty == GgmlType::F16 {
        out.extend_from_slice(row);
        if !row.len().is_multiple_of(4) {
            out.extend_from_slice(&[0, 0]);
        }
        return;
    }
    if lay.src_bytes == lay.dst_bytes {
        out.extend_from_slice(row);
        return;
    }
    for b in row.chunks_exact(lay.src_bytes) {
        if lay.pad_after_scale {
            out.extend_from_slice(&b[..2]);
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&b[2..]);
        } else {
            out.extend_from_slice(b);
            out.extend_from_slice(&[0, 0]);
        }
    }
}

/// Words per row of a `cols`-wide matrix of `ty` on the device.
pub fn row_words(ty: GgmlType, cols: usize) -> Option<usize> {
    let lay = layout(ty)?;
    Some(if ty == GgmlType::F16 {
        cols.div_ceil(2)
    } else {
        cols / lay.block * lay.dst_bytes / 4
    })
}

/// A weight matrix on the device: one or more buffers of whole rows.
#[derive(Debug)]
pub struct GpuMatrix {
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    pub row_words: usize,
    /// `(first row, rows, buffer)`.
    pub chunks: Vec<(usize, usize, wgpu::Buffer)>,
}

impl GpuMatrix {
    /// Uploads `m` (named `name` in errors).
    pub fn upload(gpu: &Gpu, name: &str, m: &Matrix<'_>) -> Result<GpuMatrix, BackendError> {
        let lay = layout(m.ty).ok_or_else(|| {
            BackendError::Device(format!(
                "tensor {name} has type {}, which the GPU backend has no shader for \
                 (it runs F32, F16, Q8_0, Q5_0, Q4_0, Q4_K and Q6_K)",
                m.ty.name()
            ))
        })?;
        if !m.cols.is_multiple_of(8) {
            return Err(BackendError::Device(format!(
                "tensor {name} has rows of {} elements; the GPU matmul reads them eight at a time",
                m.cols
            )));
        }
        let row_words = row_words(m.ty, m.cols).unwrap_or(0);
        let row_bytes = row_words * 4;
        let max = gpu
            .limits
            .max_storage_buffer_binding_size
            .min(gpu.limits.max_buffer_size) as usize;
        let per_chunk = max.checked_div(row_bytes).unwrap_or(m.rows);
        if per_chunk == 0 {
            return Err(BackendError::Device(format!(
                "tensor {name}: one row ({row_bytes} bytes) exceeds the GPU's largest storage binding ({max} bytes)"
            )));
        }
        let mut chunks = Vec::new();
        let mut r0 = 0;
        while r0 < m.rows {
            let n = per_chunk.min(m.rows - r0);
            let mut bytes = Vec::with_capacity(n * row_bytes);
            for r in r0..r0 + n {
                pack_row(m, lay, r, &mut bytes);
            }
            chunks.push((r0, n, storage_init(gpu, name, &bytes)));
            r0 += n;
        }
        Ok(GpuMatrix {
            ty: m.ty,
            rows: m.rows,
            cols: m.cols,
            row_words,
            chunks,
        })
    }
}

/// A storage buffer holding `bytes` (padded to whole words).
pub fn storage_init(gpu: &Gpu, label: &str, bytes: &[u8]) -> wgpu::Buffer {
    let size = bytes.len().max(4).next_multiple_of(4);
    let buf = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    if bytes.len() == size {
        gpu.queue.write_buffer(&buf, 0, bytes);
    } else {
        let mut padded = bytes.to_vec();
        padded.resize(size, 0);
        gpu.queue.write_buffer(&buf, 0, &padded);
    }
    buf
}

/// f32 values as little-endian bytes.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
