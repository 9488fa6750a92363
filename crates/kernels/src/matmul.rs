//! `out = x · Wᵀ` with `W` kept in its GGUF block layout.
//!
//! Activations are converted once per token row into the weight type's
//! vec-dot format (see [`crate::dot`]); each output element is then one
//! integer block dot product, as in ggml's CPU `mul_mat`. Work is split over
//! the persistent pool ([`crate::pool`]): by output rows for a single token
//! (decode) and by tokens for a batch (prompt processing), so that every
//! thread writes one contiguous part of `out` and nothing is allocated on the
//! supported types' path. The dot products are the SIMD ones where the CPU
//! has them ([`crate::simd`]), the portable ones otherwise.

use std::fmt;

use gguf::GgmlType;

use crate::dot::{vec_dot_for, vec_dot_path_for, DotPath, TileFn, VecDotFn, VecDotType};

/// A row-major weight matrix borrowed from a GGUF file: `rows` rows of
/// `cols` elements, each row a whole number of `ty` blocks.
#[derive(Debug, Clone, Copy)]
pub struct Matrix<'a> {
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    data: &'a [u8],
    row_bytes: usize,
}

/// Why bytes cannot be viewed as a matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatrixError {
    /// `cols` is not a multiple of the type's block size.
    PartialBlock { ty: GgmlType, cols: usize },
    /// The data length disagrees with type and shape.
    Length { expected: usize, actual: usize },
    /// No dot product and no dequantizer for this type.
    Unsupported(GgmlType),
}

impl fmt::Display for MatrixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatrixError::PartialBlock { ty, cols } => {
                write!(f, "rows of {cols} elements are not whole {ty} blocks")
            }
            MatrixError::Length { expected, actual } => {
                write!(f, "matrix needs {expected} bytes, got {actual}")
            }
            MatrixError::Unsupported(ty) => write!(f, "matmul on {ty} weights is not supported"),
        }
    }
}

impl std::error::Error for MatrixError {}

impl<'a> Matrix<'a> {
    /// Checks that `data` is exactly `rows` rows of `cols` elements of `ty`.
    pub fn new(ty: GgmlType, rows: usize, cols: usize, data: &'a [u8]) -> Result<Self, MatrixError> {
        if vec_dot_for(ty).is_none() && !crate::quant::is_supported(ty) {
            return Err(MatrixError::Unsupported(ty));
        }
        if !cols.is_multiple_of(ty.block_size()) {
            return Err(MatrixError::PartialBlock { ty, cols });
        }
        let row_bytes = cols / ty.block_size() * ty.type_size();
        let expected = row_bytes.saturating_mul(rows);
        if data.len() != expected {
            return Err(MatrixError::Length {
                expected,
                actual: data.len(),
            });
        }
        Ok(Matrix {
            ty,
            rows,
            cols,
            data,
            row_bytes,
        })
    }

    /// The raw bytes of rows `r0..r1`.
    pub fn rows_bytes(&self, r0: usize, r1: usize) -> &'a [u8] {
        &self.data[r0 * self.row_bytes..r1 * self.row_bytes]
    }

    /// The raw bytes of row `r` (`r < rows`).
    pub fn row(&self, r: usize) -> &'a [u8] {
        &self.data[r * self.row_bytes..(r + 1) * self.row_bytes]
    }

    /// Row `r` as f32 (an embedding lookup: ggml's `get_rows`).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        // Lengths were checked in `new`; the type is supported there too.
        let _ = crate::quant::dequantize(self.ty, self.row(r), out);
    }

    /// The activation format this matrix's dot product wants.
    pub fn act_type(&self) -> VecDotType {
        vec_dot_for(self.ty).map_or(VecDotType::F32, |(t, _)| t)
    }

    /// Bytes of converted activations for `n_tok` rows.
    pub fn act_bytes(&self, n_tok: usize) -> usize {
        self.act_type().row_bytes(self.cols) * n_tok
    }
}

/// Below this many multiply-adds a matmul runs on the calling thread: a
/// spawn costs more than the work.
const MIN_WORK_PER_THREAD: usize = 1 << 15;

/// `out[t * rows + r] = x[t] · W[r]` for `n_tok` rows of `x` (each
/// `w.cols` long), all one batch (see [`matmul_batches`]). `act` is scratch
/// of at least `w.act_bytes(n_tok)` bytes.
///
/// # Panics
/// When `x`, `out` or `act` are too short: these are programming errors of
/// the caller, which sizes its scratch from the model's own dimensions.
pub fn matmul(w: &Matrix<'_>, x: &[f32], n_tok: usize, out: &mut [f32], act: &mut [u8], threads: usize) {
    matmul_batches(w, x, n_tok, &[n_tok], out, act, threads);
}

/// [`matmul`] where the `n_tok` rows are consecutive batches of the
/// lengths in `batches` (rows past them are batches of one each): each
/// row's result is rounded as llama.cpp rounds it when it runs that batch
/// alone (see `Dots` in this module), so it does not depend on the other batches.
///
/// # Panics
/// As [`matmul`].
pub fn matmul_batches(
    w: &Matrix<'_>,
    x: &[f32],
    n_tok: usize,
    batches: &[usize],
    out: &mut [f32],
    act: &mut [u8],
    threads: usize,
) {
    let cols = w.cols;
    let rows = w.rows;
    assert!(x.len() >= n_tok * cols && out.len() >= n_tok * rows);
    let vt = w.act_type();
    let act_row = vt.row_bytes(cols);
    let act = &mut act[..act_row * n_tok];
    let work = rows * cols * n_tok;
    let threads = threads.clamp(1, (work / MIN_WORK_PER_THREAD).max(1));
    let convert = |t0: usize, a: &mut [u8]| {
        for (k, row) in a.chunks_exact_mut(act_row).enumerate() {
            let t = t0 + k;
            vt.convert_row(&x[t * cols..(t + 1) * cols], row);
        }
    };
    if threads > 1 && n_tok > SMALL_BATCH {
        // A prompt's activations: each thread quantizes a share (on one
        // thread this was several percent of prompt processing).
        crate::pool::global(threads).for_each_rows_mut(act, act_row, threads, convert);
    } else {
        convert(0, act);
    }
    let act: &[u8] = act;
    let out = &mut out[..n_tok * rows];
    let dot = vec_dot_for(w.ty).map(|(_, f)| Dots::new(w, f, batches));

    if threads == 1 {
        rows_kernel(w, dot, act, act_row, 0, n_tok, 0, rows, out);
    } else if n_tok == 1 {
        // A large matrix (an output head) in several tasks per thread,
        // claimed as threads come free: a thread slowed by other load on
        // the machine leaves its remaining share to the others instead of
        // holding up the step.
        let tasks = if rows >= SPLIT_FINE_ROWS {
            8 * threads
        } else {
            threads
        };
        let chunk = rows.div_ceil(tasks);
        crate::pool::global(threads).for_each_chunk_mut(out, chunk, |i, o| {
            rows_kernel(w, dot, act, act_row, 0, 1, i * chunk, o.len(), o)
        });
    } else if n_tok <= SMALL_BATCH {
        // A few tokens (a decode step of several sequences): split the
        // weight rows, so each weight is read from memory once per step
        // and reused from L1 for every token. Splitting the tokens instead
        // would make every thread stream the whole matrix.
        let chunk = rows.div_ceil(threads);
        let base = OutPtr(out.as_mut_ptr());
        crate::pool::global(threads).run(rows.div_ceil(chunk), |i| {
            let r0 = i * chunk;
            let nr = chunk.min(rows - r0);
            let mut cols_out: [&mut [f32]; SMALL_BATCH] = Default::default();
            for (t, o) in cols_out.iter_mut().enumerate().take(n_tok) {
                // SAFETY: `out` holds `n_tok * rows` floats (asserted above)
                // and is borrowed mutably for the whole call; task `i` alone
                // owns the rows `r0..r0 + nr` of every token, so the slices
                // of different tasks (and of different tokens) are disjoint.
                *o = unsafe { std::slice::from_raw_parts_mut(base.at(t * rows + r0), nr) };
            }
            rows_kernel_strided(w, dot, act, act_row, r0, &mut cols_out[..n_tok]);
        });
    } else {
        let chunk = n_tok.div_ceil(threads);
        crate::pool::global(threads).for_each_chunk_mut(out, chunk * rows, |i, o| {
            let a = &act[i * chunk * act_row..];
            rows_kernel(w, dot, a, act_row, i * chunk, o.len() / rows, 0, rows, o)
        });
    }
}

/// The dot product of each token row of one matmul. llama.cpp's CPU
/// backend (x86) rounds a row's result differently depending on the size of
/// its batch and the row's place in it: it repacks Q4_K weights and takes
/// the first `n - n % 4` rows of a batch of `n` through its 4-row gemm (one
/// FMA per 64 elements) and the others through its gemv (one per 256); Q6_K
/// weights go through its tiled matmul once a batch has 8 rows. Doing the
/// same makes the logits bit-identical to llama.cpp's; on Gemma 3 any
/// last-bit difference is amplified into logit differences of ~1e-2
/// relative (activations are requantized to 8 bits before every matmul).
#[derive(Clone, Copy)]
struct Dots<'b> {
    one: VecDotFn,
    /// Q4_K's gemm kernel, where the weights would be repacked.
    gemm4: Option<VecDotFn>,
    /// Q6_K's tiled kernel.
    tiled: Option<VecDotFn>,
    /// Blocks of rows × tokens at once, where every pair takes `one`.
    tile: Option<TileFn>,
    /// The same for whole panels of rows (fast for any shape), where the
    /// level has them.
    panel: Option<TileFn>,
    /// K-quants: one row against several tokens of the same path
    /// (`Vec`, `Gemm4`, `Tiled`, in that order), reproducing its kernel.
    row_tiles: [Option<TileFn>; 3],
    /// K-quants: many rows against many tokens of the same path (same
    /// order), where the level has them.
    k_panels: [Option<TileFn>; 3],
    batches: &'b [usize],
}

impl<'b> Dots<'b> {
    fn new(w: &Matrix<'_>, one: VecDotFn, batches: &'b [usize]) -> Dots<'b> {
        let path = |p| vec_dot_path_for(w.ty, p).unwrap_or(one);
        Dots {
            // `one` is `vec_dot_for`'s kernel, which the tile of the same
            // level reproduces (without SIMD there is neither).
            tile: crate::simd::tile_for(w.ty),
            panel: crate::simd::panel_for(w.ty),
            row_tiles: [DotPath::Vec, DotPath::Gemm4, DotPath::Tiled].map(|p| match w.ty {
                GgmlType::Q4K | GgmlType::Q6K => crate::simd::tile_path_for(w.ty, p),
                _ => None,
            }),
            k_panels: [DotPath::Vec, DotPath::Gemm4, DotPath::Tiled].map(|p| match w.ty {
                GgmlType::Q4K | GgmlType::Q6K => crate::simd::k_panel_for(w.ty, p),
                _ => None,
            }),
            one,
            // ggml repacks Q4_K only when the row count is a multiple of 8.
            gemm4: if w.ty == GgmlType::Q4K && w.rows.is_multiple_of(8) {
                Some(path(DotPath::Gemm4))
            } else {
                None
            },
            tiled: if w.ty == GgmlType::Q6K {
                Some(path(DotPath::Tiled))
            } else {
                None
            },
            batches,
        }
    }

    /// The kernel of row `t`: the `i`-th of a batch of `n`.
    #[inline]
    fn at(self, t: usize) -> VecDotFn {
        match self.path_at(t) {
            1 => self.gemm4.unwrap_or(self.one),
            2 => self.tiled.unwrap_or(self.one),
            _ => self.one,
        }
    }

    /// Which of `one` (0), `gemm4` (1), `tiled` (2) row `t` takes.
    #[inline]
    fn path_at(self, t: usize) -> usize {
        let (mut i, mut n) = (0, 1);
        let mut start = 0;
        for &len in self.batches {
            if t < start + len {
                (i, n) = (t - start, len);
                break;
            }
            start += len;
        }
        match (self.gemm4, self.tiled) {
            (Some(_), _) if i < n - n % 4 => 1,
            (_, Some(_)) if n >= 8 => 2,
            _ => 0,
        }
    }

    /// Row `wr` against tokens `t0..t0 + n_tok` (activations from `act`),
    /// each result handed to `put(token, value)`: runs of up to four
    /// tokens on the same path go through that path's row tile.
    #[inline]
    fn row(
        self,
        wr: &[u8],
        act: &[u8],
        act_row: usize,
        t0: usize,
        n_tok: usize,
        mut put: impl FnMut(usize, f32),
    ) {
        let mut buf = [0.0f32; 4];
        let mut t = 0;
        while t < n_tok {
            let p = self.path_at(t0 + t);
            let mut e = t + 1;
            while e < n_tok && e - t < 4 && self.path_at(t0 + e) == p {
                e += 1;
            }
            match self.row_tiles[p] {
                Some(tile) if e - t > 1 => {
                    tile(wr, wr.len(), 1, &act[t * act_row..], act_row, e - t, &mut buf);
                    for (j, &v) in buf[..e - t].iter().enumerate() {
                        put(t + j, v);
                    }
                }
                _ => {
                    let k = self.at(t0 + t);
                    for j in t..e {
                        put(j, k(wr, &act[j * act_row..(j + 1) * act_row]));
                    }
                }
            }
            t = e;
        }
    }
}

/// Output rows `r0..r0 + nr` for tokens `t0..t0 + n_tok` of the batch
/// (activations from `act`), handing each `(token - t0, row - r0, value)`
/// to `put`: runs of tokens on the same path go through that path's
/// K-quant panel, sixteen rows at a time, or row by row through
/// [`Dots::row`] where the path has no panel.
#[allow(clippy::too_many_arguments)]
fn k_panel_rows(
    w: &Matrix<'_>,
    f: Dots<'_>,
    act: &[u8],
    act_row: usize,
    t0: usize,
    n_tok: usize,
    r0: usize,
    nr: usize,
    mut put: impl FnMut(usize, usize, f32),
) {
    let mut t = 0;
    while t < n_tok {
        let p = f.path_at(t0 + t);
        let mut e = t + 1;
        while e < n_tok && f.path_at(t0 + e) == p {
            e += 1;
        }
        let a = &act[t * act_row..];
        match f.k_panels[p] {
            Some(panel) => {
                tile_rows(w, panel, K_PANEL, a, act_row, e - t, r0, nr, |j, i, v| {
                    put(t + j, i, v)
                });
            }
            None => {
                for r in 0..nr {
                    f.row(w.row(r0 + r), a, act_row, t0 + t, e - t, |j, v| put(t + j, r, v));
                }
            }
        }
        t = e;
    }
}

/// Fewest tokens for which a K-quant matmul takes the sixteen-row panels:
/// they decode each super-block of sixteen rows with gathers and
/// transposes, which fewer tokens do not repay. Below, rows go one by one
/// through the one-row tiles (same arithmetic). On Zen 4, one thread, a
/// decode step of Gemma 3 270M took 12.7 ms instead of 15.2 ms for two
/// sequences and 16.6 ms instead of 17.6 ms for four; from five to eight
/// the two were even.
const K_PANEL_MIN_TOKENS: usize = 5;

/// Rows from which a lone token's matmul takes several tasks per thread.
const SPLIT_FINE_ROWS: usize = 16 << 10;

/// Most tokens for which a matmul splits weight rows (not tokens) between threads.
const SMALL_BATCH: usize = 8;

/// The output of a matmul shared by the tasks that fill disjoint parts of it.
#[derive(Clone, Copy)]
pub(crate) struct OutPtr(*mut f32);

// SAFETY: tasks write only their own disjoint elements through the
// pointer (see its use in `matmul`), while the slice it came from is
// borrowed mutably.
unsafe impl Send for OutPtr {}
// SAFETY: as above: no element is written by two tasks.
unsafe impl Sync for OutPtr {}

impl OutPtr {
    pub(crate) fn new(out: &mut [f32]) -> OutPtr {
        OutPtr(out.as_mut_ptr())
    }

    fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }

    /// Copies `vals` to `offset..offset + vals.len()`.
    ///
    /// # Safety
    /// That range lies inside the slice the pointer came from, which is
    /// still borrowed mutably, and no other task writes or reads it now.
    pub(crate) unsafe fn write(self, offset: usize, vals: &[f32]) {
        // SAFETY: the caller's contract.
        unsafe { std::ptr::copy_nonoverlapping(vals.as_ptr(), self.at(offset), vals.len()) };
    }
}

/// Output rows `r0..r0 + outs[t].len()` for each token `t` into `outs[t]`:
/// each weight row is loaded once and used for every token.
// `r` indexes every token's slice, inside closures.
#[allow(clippy::needless_range_loop)]
fn rows_kernel_strided(
    w: &Matrix<'_>,
    dot: Option<Dots<'_>>,
    act: &[u8],
    act_row: usize,
    r0: usize,
    outs: &mut [&mut [f32]],
) {
    let nr = outs.first().map_or(0, |o| o.len());
    match dot {
        Some(Dots {
            panel: Some(panel), ..
        }) if outs.len() > 1 => {
            let n_tok = outs.len();
            tile_rows(w, panel, PANEL, act, act_row, n_tok, r0, nr, |t, r, v| {
                outs[t][r] = v
            });
        }
        Some(Dots { tile: Some(tile), .. }) if outs.len() > 1 || w.ty != GgmlType::Q8_0 => {
            let n_tok = outs.len();
            tile_rows(w, tile, TILE, act, act_row, n_tok, r0, nr, |t, r, v| {
                outs[t][r] = v
            });
        }
        Some(f) if outs.len() >= K_PANEL_MIN_TOKENS && f.k_panels.iter().any(Option::is_some) => {
            let n_tok = outs.len();
            k_panel_rows(w, f, act, act_row, 0, n_tok, r0, nr, |t, r, v| outs[t][r] = v);
        }
        Some(f) => {
            let n_tok = outs.len();
            for r in 0..nr {
                f.row(w.row(r0 + r), act, act_row, 0, n_tok, |t, v| outs[t][r] = v);
            }
        }
        None => {
            for (t, o) in outs.iter_mut().enumerate() {
                rows_kernel(w, None, &act[t * act_row..], act_row, t, 1, r0, nr, o);
            }
        }
    }
}

/// How many weight rows ahead of the current one a matmul prefetches.
const PREFETCH_ROWS: usize = 4;

/// How [`tile_rows`] drives one kind of tile: its largest call (rows ×
/// tokens) and how many rows after each chunk it prefetches.
#[derive(Clone, Copy)]
struct TileShape {
    rows: usize,
    tokens: usize,
    ahead: usize,
    /// Whether the tile is handed the rest of the caller's rows after its
    /// own, which it prefetches as it goes (the Q8_0-family panels): the
    /// stream of prefetches then runs across chunks of rows.
    runs_on: bool,
}

/// The 4-row tiles (AVX2), four tokens at a time.
const TILE: TileShape = TileShape {
    rows: 4,
    tokens: 4,
    ahead: PREFETCH_ROWS,
    runs_on: false,
};

/// The Q8_0-family panels for the few tokens of a decode step (at most
/// [`SMALL_BATCH`]): chunks of rows (the panel prefetches ahead of its
/// rows, into the next chunks), every token at once.
const PANEL: TileShape = TileShape {
    rows: 256,
    tokens: SMALL_BATCH,
    ahead: 0,
    runs_on: true,
};

/// The K-quant panels: sixteen rows (one per lane) against up to 64 tokens.
const K_PANEL: TileShape = TileShape {
    rows: 16,
    tokens: 64,
    ahead: 0,
    runs_on: false,
};

/// Output rows `r0..r0 + nr` for `n_tok` tokens through `tile`, in calls
/// of at most `shape`, handing each `(token, row - r0, value)` to `put`.
/// Rows are the outer loop: a chunk of rows stays in L1 while the tokens'
/// activations (a few hundred KiB at most) come from L2, so the weights
/// are streamed from memory once; the first rows of the next chunk are
/// prefetched meanwhile.
#[allow(clippy::too_many_arguments)]
fn tile_rows(
    w: &Matrix<'_>,
    tile: TileFn,
    shape: TileShape,
    act: &[u8],
    act_row: usize,
    n_tok: usize,
    r0: usize,
    nr: usize,
    mut put: impl FnMut(usize, usize, f32),
) {
    let rb = w.row_bytes;
    let mut buf = [0.0f32; 2048];
    let mut r = 0;
    while r < nr {
        let rm = (nr - r).min(shape.rows);
        let end = if shape.runs_on { r0 + nr } else { r0 + r + rm };
        let rows = &w.data[(r0 + r) * rb..end * rb];
        let ahead = (nr - r - rm).min(shape.ahead);
        if ahead > 0 {
            crate::simd::prefetch(&w.data[(r0 + r + rm) * rb..(r0 + r + rm + ahead) * rb]);
        }
        let mut t = 0;
        while t < n_tok {
            let rn = (n_tok - t).min(shape.tokens);
            tile(
                rows,
                rb,
                rm,
                &act[t * act_row..],
                act_row,
                rn,
                &mut buf[..rm * rn],
            );
            for j in 0..rn {
                for i in 0..rm {
                    put(t + j, r + i, buf[j * rm + i]);
                }
            }
            t += rn;
        }
        r += rm;
    }
}

/// Output rows `r0..r0 + nr` for `n_tok` tokens (tokens `t0..t0 + n_tok`
/// of the batch, whose activations start `act`) into `out`, laid out
/// `[t][nr]` when `nr == rows`, or a single token's slice otherwise.
#[allow(clippy::too_many_arguments)]
fn rows_kernel(
    w: &Matrix<'_>,
    dot: Option<Dots<'_>>,
    act: &[u8],
    act_row: usize,
    t0: usize,
    n_tok: usize,
    r0: usize,
    nr: usize,
    out: &mut [f32],
) {
    match dot {
        // Panels where the level has them, for any number of tokens (a
        // lone token's rows in pairs: as fast as the per-pair loop on Q8_0,
        // measured with the `tensor_speed` example).
        Some(Dots {
            panel: Some(panel), ..
        }) => {
            // One call for every row and token: the panel writes
            // `out[t * nr + r]` itself, prefetches as it goes and prepares
            // each token's activations once (chunks added a scatter, and for
            // a prompt prepared the activations again for every chunk; at a
            // chunk's end, a burst of prefetches stalled on the line-fill
            // buffers: 4% of a decode step).
            let rb = w.row_bytes;
            panel(
                &w.data[r0 * rb..(r0 + nr) * rb],
                rb,
                nr,
                act,
                act_row,
                n_tok,
                &mut out[..n_tok * nr],
            );
        }
        // Without panels (AVX2), a lone token of Q8_0 weights streams them
        // faster row by row (`tile_speed`: tiles 0.75-0.95x there, 1.1-1.25x
        // for Q5_0, 1.5-2.2x for four tokens of either).
        Some(Dots { tile: Some(tile), .. }) if n_tok > 1 || w.ty != GgmlType::Q8_0 => {
            tile_rows(w, tile, TILE, act, act_row, n_tok, r0, nr, |t, r, v| {
                out[t * nr + r] = v
            });
        }
        // K-quant panels for five tokens or more.
        Some(f) if n_tok >= K_PANEL_MIN_TOKENS && f.k_panels.iter().any(Option::is_some) => {
            k_panel_rows(w, f, act, act_row, t0, n_tok, r0, nr, |t, r, v| {
                out[t * nr + r] = v
            });
        }
        Some(f) if n_tok == 1 => {
            // A lone token (decode): one kernel for every row.
            let (k, a) = (f.at(t0), &act[..act_row]);
            for (r, o) in out[..nr].iter_mut().enumerate() {
                if r + PREFETCH_ROWS < nr {
                    crate::simd::prefetch(w.row(r0 + r + PREFETCH_ROWS));
                }
                *o = k(w.row(r0 + r), a);
            }
        }
        Some(f) => {
            for r in 0..nr {
                f.row(w.row(r0 + r), act, act_row, t0, n_tok, |t, v| out[t * nr + r] = v);
            }
        }
        None => {
            // Fallback: dequantize the weight row, float dot (activations are F32).
            let mut buf = vec![0.0f32; w.cols];
            for r in 0..nr {
                w.dequantize_row(r0 + r, &mut buf);
                for t in 0..n_tok {
                    let a = &act[t * act_row..(t + 1) * act_row];
                    out[t * nr + r] = buf
                        .iter()
                        .zip(a.chunks_exact(4))
                        .map(|(&wv, b)| wv * f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .sum();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn matches_naive_for_every_split() {
        // Enough work that 2+ threads split it (by rows for few tokens, by
        // tokens for many).
        let (rows, cols, n_tok) = (301, 64, 12);
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let x: Vec<f32> = (0..n_tok * cols)
            .map(|i| ((i * 31) % 17) as f32 / 8.0 - 1.0)
            .collect();
        let wb = f32_bytes(&w);
        let m = Matrix::new(GgmlType::F32, rows, cols, &wb).unwrap();
        for threads in [1, 2, 3, 8] {
            for nt in [1, 2, 5, n_tok] {
                let mut out = vec![0.0f32; nt * rows];
                let mut act = vec![0u8; m.act_bytes(nt)];
                // Force threading even for tiny work by calling the kernel split directly.
                matmul(&m, &x, nt, &mut out, &mut act, threads);
                for t in 0..nt {
                    for r in 0..rows {
                        let want: f32 = (0..cols).map(|c| w[r * cols + c] * x[t * cols + c]).sum();
                        assert!((out[t * rows + r] - want).abs() < 1e-4);
                    }
                }
            }
        }
    }

    #[test]
    fn q4_1_uses_the_fallback() {
        // One Q4_1 block per row: d = 1, m = 0, nibbles all 1 -> every weight is 1.
        let mut row = vec![0x00, 0x3C, 0x00, 0x00];
        row.extend([0x11u8; 16]);
        let data: Vec<u8> = row.iter().chain(row.iter()).copied().collect();
        let m = Matrix::new(GgmlType::Q4_1, 2, 32, &data).unwrap();
        let x = vec![0.5f32; 32];
        let mut out = vec![0.0f32; 2];
        let mut act = vec![0u8; m.act_bytes(1)];
        matmul(&m, &x, 1, &mut out, &mut act, 1);
        assert_eq!(out, vec![16.0, 16.0]);
    }

    #[test]
    fn rejects_bad_shapes() {
        assert!(matches!(
            Matrix::new(GgmlType::Q8_0, 1, 33, &[0u8; 34]),
            Err(MatrixError::PartialBlock { .. })
        ));
        assert!(matches!(
            Matrix::new(GgmlType::Q8_0, 2, 32, &[0u8; 34]),
            Err(MatrixError::Length { .. })
        ));
    }
}
