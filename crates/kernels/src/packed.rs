//! A Q8_0 matrix repacked once at load so that one `vpdpbusd` lane holds
//! one weight row: the output head, where most of a decode step's bytes and
//! (for several sequences) most of its arithmetic are.
//!
//! In the GGUF layout a 32-element block of one row fills eight 32-bit
//! lanes, and llama.cpp's arithmetic (which [`crate::matmul`] follows bit
//! for bit) scales and sums those eight lanes in float: per (row, block,
//! token) a product of scales and an FMA on eight lanes. Here sixteen rows
//! are interleaved four bytes at a time, so each `vpdpbusd` adds four
//! products to each of sixteen rows, a block's whole integer sum stays in
//! one lane, and the float work per (block, token) is one product and one
//! FMA for sixteen rows. A decode step of four sequences then costs about
//! what one costs (the weights are read once either way), and one
//! sequence's step reads a single sequential stream (huge pages where the
//! kernel grants them).
//!
//! Only the output head is repacked: its results are the logits, which
//! nothing downstream amplifies, so summing in another order moves them by
//! a few units in the last place (the `packed_vs_scalar` test bounds it) instead
//! of the 1e-2 a hidden layer's rounding would grow to (see the model's
//! golden tests). Every (row, token) gets the same arithmetic whatever the
//! number of tokens or threads, so a sequence's logits do not depend on
//! what it is batched with.

use std::fmt;

use gguf::GgmlType;

use crate::dot::{VecDotType, Q8_0_BYTES, QK8_0};
use crate::matmul::Matrix;

/// Rows interleaved in one group: one per 32-bit lane of a 512-bit register.
pub const GROUP: usize = 16;

/// Bytes of one group's block: sixteen f16 scales, then eight registers of
/// sixteen rows × four weight bytes (each stored `+ 128`, unsigned).
pub const GROUP_BLOCK_BYTES: usize = SCALES_BYTES + GROUP * QK8_0;

/// Bytes of a group block's sixteen f16 scales (lane `l`'s at `2·l`).
pub(crate) const SCALES_BYTES: usize = GROUP * 2;

/// Where, in a group block, row `lane`'s weight bytes `4k..4k + 4` lie:
/// register `k`, lane `lane`.
#[inline(always)]
fn quad(k: usize, lane: usize) -> usize {
    SCALES_BYTES + (k * GROUP + lane) * 4
}

/// Bytes per (token, block) of converted activations beyond the Q8_0 block:
/// its scale as f32 and its seed `-128·Σx`, which cancels the `+ 128` of the
/// stored weights.
const ACT_EXTRA: usize = 8;

/// The activations of `nt` tokens as a packed kernel reads them: Q8_0 rows
/// (`row_bytes` apart) and, per (token, block), the scale and seed.
#[derive(Clone, Copy)]
pub(crate) struct Acts<'a> {
    pub(crate) q: &'a [u8],
    pub(crate) row_bytes: usize,
    /// Per (token, block), little-endian: the f32 scale, then the i32 seed.
    pub(crate) extra: &'a [u8],
    pub(crate) nb: usize,
}

impl Acts<'_> {
    /// Token `t`'s block `b`: its scale and seed.
    #[inline(always)]
    pub(crate) fn extra(&self, t: usize, b: usize) -> (f32, i32) {
        let e = &self.extra[(t * self.nb + b) * ACT_EXTRA..][..ACT_EXTRA];
        (
            f32::from_le_bytes([e[0], e[1], e[2], e[3]]),
            i32::from_le_bytes([e[4], e[5], e[6], e[7]]),
        )
    }
}

/// A group of sixteen packed rows (`nb` blocks) against tokens `t0..t0 +
/// out.len()` of `acts`: `out[j][lane]` is row `lane` against token `t0 + j`.
pub(crate) type GroupFn = fn(group: &[u8], acts: Acts<'_>, t0: usize, out: &mut [[f32; GROUP]]);

/// A Q8_0 matrix in the interleaved layout (see the module docs).
pub struct PackedQ8_0 {
    rows: usize,
    cols: usize,
    data: Buffer,
    kernel: GroupFn,
}

impl fmt::Debug for PackedQ8_0 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PackedQ8_0")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// The packed bytes: an anonymous map the kernel may back with huge pages
/// (the head is read front to back on every step, and 4 KiB pages cost it
/// a TLB miss every 4 KiB), or a plain vector where mapping fails.
enum Buffer {
    Map(memmap2::MmapMut),
    Vec(Vec<u8>),
}

impl Buffer {
    fn zeroed(len: usize) -> Buffer {
        match memmap2::MmapOptions::new().len(len.max(1)).map_anon() {
            Ok(map) => {
                #[cfg(target_os = "linux")]
                let _ = map.advise(memmap2::Advice::HugePage);
                Buffer::Map(map)
            }
            Err(_) => Buffer::Vec(vec![0; len]),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Buffer::Map(m) => m,
            Buffer::Vec(v) => v,
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Buffer::Map(m) => m,
            Buffer::Vec(v) => v,
        }
    }

    fn len(&self) -> usize {
        self.bytes().len()
    }
}

/// Rows the packing handles between calls of its `done` callback.
const PACK_CHUNK_ROWS: usize = 4096;

impl PackedQ8_0 {
    /// Repacks `w` when it is Q8_0 and this CPU has the packed kernel;
    /// `None` otherwise (the caller keeps the GGUF layout). `done` gets
    /// each run of source bytes once it has been copied, so a caller can
    /// drop those pages of its map as it goes.
    pub fn pack(w: &Matrix<'_>, mut done: impl FnMut(&[u8])) -> Option<PackedQ8_0> {
        if w.ty != GgmlType::Q8_0 || w.rows == 0 || w.cols == 0 {
            return None;
        }
        let kernel = crate::simd::packed_q8_0_kernel()?;
        Some(Self::pack_with(w, kernel, &mut done))
    }

    /// [`pack`](Self::pack) with the portable kernel: the reference the
    /// SIMD kernels are tested against.
    pub fn pack_reference(w: &Matrix<'_>) -> Option<PackedQ8_0> {
        (w.ty == GgmlType::Q8_0).then(|| Self::pack_with(w, group_scalar, &mut |_| {}))
    }

    fn pack_with(w: &Matrix<'_>, kernel: GroupFn, done: &mut dyn FnMut(&[u8])) -> PackedQ8_0 {
        let nb = w.cols / QK8_0;
        let groups = w.rows.div_ceil(GROUP);
        let group_bytes = nb * GROUP_BLOCK_BYTES;
        let mut data = Buffer::zeroed(groups * group_bytes);
        let out = data.bytes_mut();
        for r0 in (0..w.rows).step_by(PACK_CHUNK_ROWS) {
            let r1 = (r0 + PACK_CHUNK_ROWS).min(w.rows);
            for r in r0..r1 {
                let (g, lane) = (r / GROUP, r % GROUP);
                let dst = &mut out[g * group_bytes..(g + 1) * group_bytes];
                let src = w.row(r);
                for (blk, sb) in dst
                    .chunks_exact_mut(GROUP_BLOCK_BYTES)
                    .zip(src.chunks_exact(Q8_0_BYTES))
                {
                    blk[lane * 2..lane * 2 + 2].copy_from_slice(&sb[..2]);
                    for k in 0..QK8_0 / 4 {
                        let o = &mut blk[quad(k, lane)..][..4];
                        for (o, &q) in o.iter_mut().zip(&sb[2 + 4 * k..2 + 4 * k + 4]) {
                            *o = q ^ 0x80;
                        }
                    }
                }
            }
            done(w.rows_bytes(r0, r1));
        }
        // Padding rows of the last group: scale 0 (already), weights 0,
        // stored as 128.
        for r in w.rows..groups * GROUP {
            let (g, lane) = (r / GROUP, r % GROUP);
            let dst = &mut out[g * group_bytes..(g + 1) * group_bytes];
            for blk in dst.chunks_exact_mut(GROUP_BLOCK_BYTES) {
                for k in 0..QK8_0 / 4 {
                    blk[quad(k, lane)..][..4].fill(0x80);
                }
            }
        }
        PackedQ8_0 {
            rows: w.rows,
            cols: w.cols,
            data,
            kernel,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `r` as f32, exactly as Q8_0's dequantizer gives it from the
    /// GGUF layout (an embedding lookup in a head tied to the embedding,
    /// whose file pages were released).
    ///
    /// # Panics
    /// When `r >= rows` or `out` is shorter than `cols`.
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        assert!(r < self.rows && out.len() >= self.cols);
        let nb = self.cols / QK8_0;
        let (g, lane) = (r / GROUP, r % GROUP);
        let group = &self.data.bytes()[g * nb * GROUP_BLOCK_BYTES..(g + 1) * nb * GROUP_BLOCK_BYTES];
        for (blk, o) in group
            .chunks_exact(GROUP_BLOCK_BYTES)
            .zip(out.chunks_exact_mut(QK8_0))
        {
            let d = half::f16::from_le_bytes([blk[lane * 2], blk[lane * 2 + 1]]).to_f32();
            for k in 0..QK8_0 / 4 {
                let w = &blk[quad(k, lane)..][..4];
                for i in 0..4 {
                    o[4 * k + i] = f32::from((w[i] ^ 0x80) as i8) * d;
                }
            }
        }
    }

    /// Scratch bytes [`matmul`](Self::matmul) needs for `n_tok` tokens.
    pub fn act_bytes(cols: usize, n_tok: usize) -> usize {
        let nb = cols / QK8_0;
        n_tok * nb * (Q8_0_BYTES + ACT_EXTRA)
    }

    /// `out[t * rows + r] = x[t] · W[r]` for `n_tok` rows of `x`; `act` is
    /// scratch of at least [`act_bytes`](Self::act_bytes) bytes.
    ///
    /// # Panics
    /// When `x`, `out` or `act` are too short (the caller's sizing error).
    pub fn matmul(&self, x: &[f32], n_tok: usize, out: &mut [f32], act: &mut [u8], threads: usize) {
        let (rows, cols) = (self.rows, self.cols);
        assert!(x.len() >= n_tok * cols && out.len() >= n_tok * rows);
        assert!(act.len() >= Self::act_bytes(cols, n_tok));
        if n_tok == 0 || rows == 0 {
            return;
        }
        let nb = cols / QK8_0;
        let row_bytes = nb * Q8_0_BYTES;
        let (q, extra) = act.split_at_mut(n_tok * row_bytes);
        let extra = &mut extra[..n_tok * nb * ACT_EXTRA];
        for t in 0..n_tok {
            let qr = &mut q[t * row_bytes..(t + 1) * row_bytes];
            VecDotType::Q8_0.convert_row(&x[t * cols..(t + 1) * cols], qr);
            for (b, blk) in qr.chunks_exact(Q8_0_BYTES).enumerate() {
                let e = &mut extra[(t * nb + b) * ACT_EXTRA..][..ACT_EXTRA];
                let sum: i32 = blk[2..].iter().map(|&v| i32::from(v as i8)).sum();
                e[..4].copy_from_slice(&half::f16::from_le_bytes([blk[0], blk[1]]).to_f32().to_le_bytes());
                e[4..].copy_from_slice(&(-128 * sum).to_le_bytes());
            }
        }
        let acts = Acts {
            q,
            row_bytes,
            extra,
            nb,
        };
        let groups = rows.div_ceil(GROUP);
        let group_bytes = nb * GROUP_BLOCK_BYTES;
        let data = self.data.bytes();
        let kernel = self.kernel;
        let threads = threads.clamp(1, groups);
        // Several tasks per thread, claimed as threads come free: a thread
        // slowed by other load leaves the rest of its share to the others.
        let tasks = if threads > 1 { (8 * threads).min(groups) } else { 1 };
        let per_task = groups.div_ceil(tasks);
        let base = crate::matmul::OutPtr::new(out);
        crate::pool::global(threads).run(groups.div_ceil(per_task), |i| {
            let g0 = i * per_task;
            let g1 = (g0 + per_task).min(groups);
            let mut buf = [[0.0f32; GROUP]; MAX_TOKENS];
            for g in g0..g1 {
                let group = &data[g * group_bytes..(g + 1) * group_bytes];
                let r0 = g * GROUP;
                let nr = GROUP.min(rows - r0);
                for t0 in (0..n_tok).step_by(MAX_TOKENS) {
                    let nt = MAX_TOKENS.min(n_tok - t0);
                    kernel(group, acts, t0, &mut buf[..nt]);
                    for (j, vals) in buf[..nt].iter().enumerate() {
                        // SAFETY: `out` holds `n_tok * rows` floats (asserted
                        // above) and is borrowed mutably for the whole call;
                        // group `g` belongs to task `i` alone, so no two
                        // writes touch the same element.
                        unsafe { base.write((t0 + j) * rows + r0, &vals[..nr]) };
                    }
                }
            }
        });
    }
}

/// Most tokens one kernel call takes (the weights of a block stay in
/// registers across them).
pub(crate) const MAX_TOKENS: usize = 8;

/// The portable kernel, and the reference for the SIMD ones: per (row,
/// token) the exact integer sum of each block, then
/// `acc = fma(d_w·d_x, sum, acc)` block after block in f32.
pub(crate) fn group_scalar(group: &[u8], acts: Acts<'_>, t0: usize, out: &mut [[f32; GROUP]]) {
    let nb = acts.nb;
    for (j, o) in out.iter_mut().enumerate() {
        let t = t0 + j;
        let xq = &acts.q[t * acts.row_bytes..(t + 1) * acts.row_bytes];
        for (lane, v) in o.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for b in 0..nb {
                let blk = &group[b * GROUP_BLOCK_BYTES..(b + 1) * GROUP_BLOCK_BYTES];
                let dw = half::f16::from_le_bytes([blk[lane * 2], blk[lane * 2 + 1]]).to_f32();
                let xb = &xq[b * Q8_0_BYTES + 2..(b + 1) * Q8_0_BYTES];
                let (dx, mut sum) = acts.extra(t, b);
                for k in 0..QK8_0 / 4 {
                    let w = &blk[quad(k, lane)..][..4];
                    for i in 0..4 {
                        sum += i32::from(w[i]) * i32::from(xb[4 * k + i] as i8);
                    }
                }
                acc = (dw * dx).mul_add(sum as f32, acc);
            }
            *v = acc;
        }
    }
}
