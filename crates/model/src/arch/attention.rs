//! Causal grouped-query attention over the KV cache, in llama.cpp's CPU
//! arithmetic (see [`attend_block`]): the scratch each task works in, the
//! split of a step into tasks for the thread pool, and the per-task kernel.

use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use kernels::attn::{self, single};
use kernels::ops;

use super::Segment;
use crate::config::Config;
use crate::kv_cache::KvCache;
/// The SIMD lanes llama.cpp's CPU backend (AVX-512) sums attention scores
/// and outputs in: llamafile's tinyBLAS f16 matmul (16 lanes) when a step
/// has several tokens, `ggml_vec_dot_f16` (4 × 16 lanes) for one token.
const BATCH_LANES: usize = attn::LANES;
const SINGLE_LANES: usize = single::LANES;

/// Keys converted to f32 at a time for a batch step in [`attention`].
const KV_TILE: usize = 32;
/// Values converted to f32 at a time for a batch step: each tile is
/// walked by every token of the task, a block of columns at a time. A
/// lane's sums are loaded and stored once per tile, so long tiles keep
/// that traffic small (512: one tile for Gemma 3's window; 128 measured
/// ~20% slower in the value kernel).
const V_TILE: usize = 512;
/// Columns of the values one pass over a value tile covers: that part of
/// the tile is contiguous (`V_TILE` × 64 f32), read by every token of the
/// task in turn, and the lane sums of a block of 4 rows × 64 columns fit
/// in registers.
const V_COLS: usize = 64;
/// Cells whose values a single token's step prefetches at a time, each run
/// while computing the run's scores.
const PREFETCH_CELLS: usize = 32;
/// Query rows (tokens × heads sharing a KV head) one attention task handles.
const ATTN_ROWS: usize = 32;
/// Soft cap on one slot's score buffer, in f32s (16 MiB): fewer tokens per
/// task for long contexts, but never fewer than one.
const ATTN_SCORES_MAX: usize = 1 << 22;

/// The buffers of one attention task.
#[derive(Debug)]
struct AttnSlot {
    /// Query rows of the task rounded to f16 precision `[rows][head_dim_k]`.
    qh: Vec<f32>,
    /// Scores, then probabilities, of each row `[rows][span]`.
    scores: Vec<f32>,
    /// A tile of keys or values widened to f32 (`[KV_TILE][head_dim_k]`,
    /// or for a batch step's values `[head_dim_v / V_COLS][V_TILE][V_COLS]`).
    kv: Vec<f32>,
    /// Per row, the partial output sums of each SIMD lane llama.cpp sums
    /// in (see [`attend_block`]) `[rows][lanes][head_dim_v]`.
    lanes: Vec<f32>,
}

/// Buffers for [`attention`]: one slot per thread, allocated once with the
/// scratch, so attention allocates nothing.
#[derive(Debug)]
pub(crate) struct AttnWorkspace {
    /// Positions the score buffers cover.
    n_ctx: usize,
    /// Query tokens per task.
    tokens: usize,
    slots: Vec<Mutex<AttnSlot>>,
}

impl AttnWorkspace {
    pub(crate) fn new(c: &Config, n_batch: usize, n_ctx: usize, threads: usize) -> AttnWorkspace {
        let group = (c.n_head / c.n_head_kv.max(1)).max(1);
        let n_ctx = n_ctx.max(1);
        let tokens = (ATTN_ROWS / group)
            .min(ATTN_SCORES_MAX / (group * n_ctx))
            .clamp(1, n_batch.max(1));
        let rows = tokens * group;
        let slots = (0..threads.max(1))
            .map(|_| {
                Mutex::new(AttnSlot {
                    qh: vec![0.0; rows * c.head_dim_k],
                    scores: vec![0.0; rows * n_ctx],
                    kv: vec![
                        0.0;
                        (KV_TILE * c.head_dim_k).max(V_TILE * c.head_dim_v.next_multiple_of(V_COLS))
                    ],
                    lanes: vec![0.0; rows * BATCH_LANES * c.head_dim_v],
                })
            })
            .collect();
        AttnWorkspace { n_ctx, tokens, slots }
    }

    /// Context positions the buffers hold scores for.
    pub(crate) fn len(&self) -> usize {
        self.n_ctx
    }

    /// A free slot for task `task`: at most one task per pool thread runs
    /// at a time, so with a slot per thread one is free; should the pool
    /// have more threads than the scratch was made for, waits for one.
    fn slot(&self, task: usize) -> MutexGuard<'_, AttnSlot> {
        let n = self.slots.len();
        for k in 0..n {
            match self.slots[(task + k) % n].try_lock() {
                Ok(g) => return g,
                Err(TryLockError::Poisoned(e)) => return e.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.slots[task % n]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Causal grouped-query attention for `n_tok` queries at `pos0..`, over the
/// cache's positions `0..=pos` (or the last `window` of them). Follows
/// llama.cpp's CPU path without flash attention: queries are rounded to f16
/// to meet the f16 keys, scores are scaled by `kq_scale` and soft-maxed in
/// f32, probabilities are rounded to f16 to meet the f16 values.
///
/// Blocks of query tokens run as tasks on the thread pool. A task takes the
/// query heads of one KV head for all its tokens together, and walks the
/// keys (then values) in tiles widened to f32 once per tile, so each cached
/// row is converted once per task rather than once per query. Sums follow
/// llama.cpp's lanes (`lanes`, see [`attend_block`]).
fn attention_seq(l: Layer<'_>, qs: Queries<'_>, ws: &AttnWorkspace, out: &mut [f32], threads: usize) {
    let c = l.c;
    let row_out = c.n_head * c.head_dim_v;
    let tokens = ws.tokens;
    kernels::pool::global(threads).for_each_chunk_mut(
        &mut out[..qs.nt * row_out],
        tokens * row_out,
        |task, o| {
            let t0 = task * tokens;
            let nt = o.len() / row_out;
            attend_all_heads(l, Queries { t0, nt, ..qs }, &mut ws.slot(task), o);
        },
    );
}

/// [`attention_seq`] for each segment against its own cache. When every
/// segment has a single token (a decode step of several sequences), the
/// segments themselves are the parallel tasks; otherwise each segment's
/// tokens are split across the threads.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attention(
    c: &Config,
    il: usize,
    segs: &[Segment<'_>],
    q: &[f32],
    kq_scale: f32,
    window: Option<usize>,
    ws: &AttnWorkspace,
    out: &mut [f32],
    threads: usize,
) {
    let row_out = c.n_head * c.head_dim_v;
    let l = Layer {
        c,
        il,
        kq_scale,
        window,
    };
    if segs.len() > 1 && segs.iter().all(|g| g.tokens.len() == 1) {
        kernels::pool::global(threads).for_each_chunk_mut(
            &mut out[..segs.len() * row_out],
            row_out,
            |t, o| {
                let qt = &q[t * c.q_dim()..(t + 1) * c.q_dim()];
                attend_all_heads(l, Queries::lone(&segs[t], qt), &mut ws.slot(t), o);
            },
        );
        return;
    }
    if let [g] = segs {
        let per_task = decode_heads_per_task(c, g.tokens.len(), threads);
        if per_task < c.n_head {
            // One token (a lone sequence's decode step): its query heads,
            // a few per task, so the threads share the step's attention.
            let group = c.n_head / c.n_head_kv;
            kernels::pool::global(threads).for_each_chunk_mut(
                &mut out[..row_out],
                per_task * c.head_dim_v,
                |task, o| {
                    let first = task * per_task;
                    let heads = Heads {
                        kvh: first / group,
                        first: first % group,
                        n: o.len() / c.head_dim_v,
                        out_head: first,
                    };
                    attend_block(l, Queries::lone(g, q), heads, &mut ws.slot(task), o);
                },
            );
            return;
        }
    }
    let mut row = 0;
    for g in segs {
        let nt = g.tokens.len();
        // llama.cpp's path depends on the tokens of the batch: each
        // segment is computed as llama.cpp computes a batch of its size.
        let lanes = if nt > 1 { BATCH_LANES } else { SINGLE_LANES };
        let qs = Queries {
            cache: g.cache,
            q: &q[row * c.q_dim()..],
            t0: 0,
            nt,
            pos0: g.pos0,
            lanes,
        };
        attention_seq(l, qs, ws, &mut out[row * row_out..], threads);
        row += nt;
    }
}

/// What every attention call of one layer shares.
#[derive(Clone, Copy)]
struct Layer<'a> {
    c: &'a Config,
    il: usize,
    kq_scale: f32,
    window: Option<usize>,
}

/// Tokens `t0..t0 + nt` of one sequence (queries from `q`, the first at
/// position `pos0`) against its cache, summed in `lanes` accumulators.
#[derive(Clone, Copy)]
struct Queries<'a> {
    cache: &'a KvCache,
    q: &'a [f32],
    t0: usize,
    nt: usize,
    pos0: usize,
    lanes: usize,
}

impl<'a> Queries<'a> {
    /// The one token of segment `g` (a decode step), queries from `q`.
    fn lone(g: &'a Segment<'_>, q: &'a [f32]) -> Queries<'a> {
        Queries {
            cache: g.cache,
            q,
            t0: 0,
            nt: 1,
            pos0: g.pos0,
            lanes: SINGLE_LANES,
        }
    }
}

/// [`attend_block`] for every query head, one KV head's group at a time.
fn attend_all_heads(l: Layer<'_>, qs: Queries<'_>, slot: &mut AttnSlot, o: &mut [f32]) {
    for kvh in 0..l.c.n_head_kv {
        attend_block(l, qs, Heads::all(l.c, kvh), slot, o);
    }
}

/// The query heads one [`attend_block`] call takes: `n` heads of KV head
/// `kvh`, from its `first`; its output slice starts at head `out_head` of
/// the first token's row (0 when it holds whole rows).
#[derive(Debug, Clone, Copy)]
struct Heads {
    kvh: usize,
    first: usize,
    n: usize,
    out_head: usize,
}

impl Heads {
    /// Every query head of KV head `kvh`, into whole output rows.
    fn all(c: &Config, kvh: usize) -> Heads {
        Heads {
            kvh,
            first: 0,
            n: c.n_head / c.n_head_kv,
            out_head: 0,
        }
    }
}

/// Query heads per task when a lone sequence's step of `n_tok` tokens
/// splits its heads across `threads`; `c.n_head` when it does not (more
/// than one token, one thread, or a single head). Tasks never straddle
/// two KV heads, so the count divides the group.
fn decode_heads_per_task(c: &Config, n_tok: usize, threads: usize) -> usize {
    let group = c.n_head / c.n_head_kv;
    if n_tok != 1 || threads < 2 || c.n_head < 2 {
        return c.n_head;
    }
    // The fewest tasks (the most heads each) that still give every thread
    // one; one head each when there are fewer heads than threads.
    (1..=group)
        .rev()
        .find(|&d| group.is_multiple_of(d) && c.n_head / d >= threads)
        .unwrap_or(1)
}

/// Attention of the query heads `heads` for tokens `t0..t0 + nt`
/// into `o` (the output rows of those tokens), in llama.cpp's arithmetic
/// (bit for bit on AVX-512 machines): each `q·k` and each output element
/// `Σ_j p_j v_j` is summed in `lanes` accumulators, lane `k` taking the KV
/// cells `j ≡ k (mod lanes)` in order, reduced pairwise at the end (16 for
/// a step of several tokens, 64 for one: see [`BATCH_LANES`]); the softmax
/// is [`ops::softmax_from`]. Products of f16 values are exact in f32, so
/// these sums equal llama.cpp's FMAs. A step of several tokens widens the
/// cache to f32 a tile at a time (each row is then read by many queries);
/// a single token's heads read it as f16 ([`single`]).
fn attend_block(l: Layer<'_>, qs: Queries<'_>, heads: Heads, slot: &mut AttnSlot, o: &mut [f32]) {
    let Layer {
        c,
        il,
        kq_scale,
        window,
    } = l;
    let Queries {
        cache,
        q,
        t0,
        nt,
        pos0,
        lanes,
    } = qs;
    let (hk, hv) = (c.head_dim_k, c.head_dim_v);
    let Heads {
        kvh,
        first: h0,
        n: group,
        out_head,
    } = heads;
    let head_of = |r: usize| kvh * (c.n_head / c.n_head_kv) + h0 + r % group;
    let rows = nt * group;
    let first = |pos: usize| window.map_or(0, |w| (pos + 1).saturating_sub(w));
    // Keys any row of the block sees: `lo..=hi`; row `r` sees `range(r)`.
    let lo = first(pos0 + t0);
    let hi = pos0 + t0 + nt - 1;
    let span = hi - lo + 1;
    let range = |r: usize| {
        let pos = pos0 + t0 + r / group;
        (first(pos), pos)
    };
    let AttnSlot {
        qh,
        scores,
        kv,
        lanes: lane_acc,
    } = slot;
    let out_row = |r: usize| ((r / group) * c.n_head + head_of(r) - out_head) * hv;

    for r in 0..rows {
        let h = head_of(r);
        let t = t0 + r / group;
        let src = &q[(t * c.n_head + h) * hk..(t * c.n_head + h + 1) * hk];
        let dst = &mut qh[r * hk..(r + 1) * hk];
        dst.copy_from_slice(src);
        attn::round_to_f16(dst);
    }

    if lanes == BATCH_LANES {
        // Register-blocked kernels (`kernels::attn`), the same sums.
        // Scores of every row for every key of the block: a row's scores
        // outside its own range are computed too, and never read.
        for j0 in (lo..=hi).step_by(KV_TILE) {
            let j1 = (j0 + KV_TILE).min(hi + 1);
            for j in j0..j1 {
                let key = &cache.key(il, j)[kvh * hk..(kvh + 1) * hk];
                attn::widen(key, &mut kv[(j - j0) * hk..(j - j0 + 1) * hk]);
            }
            attn::scores(
                &qh[..rows * hk],
                &kv[..(j1 - j0) * hk],
                hk,
                rows,
                j1 - j0,
                kq_scale,
                &mut scores[j0 - lo..],
                span,
            );
        }
        for r in 0..rows {
            let (a, b) = range(r);
            let p = &mut scores[r * span + a - lo..=r * span + b - lo];
            attn::softmax_from(p, a);
            attn::round_to_f16(p);
        }
        // Value sums: the query heads of one token share their range of
        // cells, so they go through the kernel together. A tile of values
        // is widened column block by column block (`[block][cell][V_COLS]`),
        // so the part one pass walks is contiguous (no cache-set conflicts
        // from the power-of-two row stride).
        let stride = BATCH_LANES * hv;
        let lane_acc = &mut lane_acc[..rows * stride];
        lane_acc.fill(0.0);
        let block = V_TILE * V_COLS;
        for j0 in (lo..=hi).step_by(V_TILE) {
            let j1 = (j0 + V_TILE).min(hi + 1);
            for j in j0..j1 {
                let val = &cache.value(il, j)[kvh * hv..(kvh + 1) * hv];
                for (b, chunk) in val.chunks(V_COLS).enumerate() {
                    let at = b * block + (j - j0) * V_COLS;
                    attn::widen(chunk, &mut kv[at..at + chunk.len()]);
                }
            }
            for (b, d0) in (0..hv).step_by(V_COLS).enumerate() {
                let cols = d0..(d0 + V_COLS).min(hv);
                for t in 0..nt {
                    let r = t * group;
                    let (a, last) = range(r);
                    let (s, e) = (a.max(j0), (last + 1).min(j1));
                    if s >= e {
                        continue;
                    }
                    attn::values_acc(
                        &scores[r * span + s - lo..],
                        span,
                        group,
                        s,
                        e - s,
                        &kv[b * block + (s - j0) * V_COLS..],
                        V_COLS,
                        hv,
                        cols.clone(),
                        &mut lane_acc[r * stride..],
                        stride,
                    );
                }
            }
        }
        for r in 0..rows {
            let acc = &mut lane_acc[r * stride..(r + 1) * stride];
            ops::reduce_lanes(acc, BATCH_LANES, hv);
            o[out_row(r)..out_row(r) + hv].copy_from_slice(&acc[..hv]);
        }
        return;
    }

    // A single token (`lanes` is `SINGLE_LANES` only then, see
    // `attention`): its query heads read the f16 cache directly.
    let (k_dim, v_dim) = cache.dims();
    for t in 0..nt {
        let r0 = t * group;
        let (a, b) = range(r0);
        let n = b + 1 - a;
        let sc = &mut scores[r0 * span + a - lo..];
        let keys = &cache.keys(il, a, b)[kvh * hk..];
        let vals = &cache.values(il, a, b)[kvh * hv..];
        // The values of each run of cells are fetched into L2 while its
        // scores are computed (see `single::prefetch`).
        let q = &qh[r0 * hk..];
        for c0 in (0..n).step_by(PREFETCH_CELLS) {
            let cn = PREFETCH_CELLS.min(n - c0);
            single::prefetch(&vals[c0 * v_dim..], v_dim, hv, cn);
            single::scores(
                q,
                &keys[c0 * k_dim..],
                k_dim,
                hk,
                group,
                cn,
                kq_scale,
                &mut sc[c0..],
                span,
            );
        }
        for r in 0..group {
            let p = &mut sc[r * span..r * span + n];
            attn::softmax_from(p, a);
            attn::round_to_f16(p);
        }
        single::values(sc, span, group, a, n, vals, v_dim, hv, &mut o[out_row(r0)..], hv);
    }
}

#[cfg(test)]
mod tests {
    use half::f16;
    use kernels::ops::RopeStyle;

    use super::*;
    use crate::config::Arch;

    fn config(n_head: usize, n_head_kv: usize, hk: usize, hv: usize) -> Config {
        Config {
            arch: Arch::Llama,
            n_vocab: 1,
            n_ctx_train: 128,
            n_layer: 2,
            n_embd: 8,
            n_head,
            n_head_kv,
            head_dim_k: hk,
            head_dim_v: hv,
            n_ff: 8,
            rms_eps: 1e-6,
            n_rot: hk,
            rope_style: RopeStyle::Neox,
            rope_base: 10000.0,
            rope_freq_scale: 1.0,
            rope_base_swa: 10000.0,
            sliding_window: None,
            swa_pattern: 0,
            attn_scale: 1.0,
        }
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(7);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x as f32 / u32::MAX as f32) * 4.0 - 2.0
            })
            .collect()
    }

    /// The straightforward per-(token, head) loop, with llama.cpp's sums
    /// written out: `q·k` and `Σ p_j v_j` in `lanes` lane sums by KV cell,
    /// reduced pairwise.
    fn reference(l: Layer<'_>, qs: Queries<'_>, out: &mut [f32]) {
        let Layer {
            c,
            il,
            kq_scale,
            window,
        } = l;
        let Queries {
            cache,
            q,
            t0,
            nt: n_tok,
            pos0,
            lanes,
        } = qs;
        assert_eq!(t0, 0, "the reference takes a sequence's tokens from its first");
        let lane_sum = |terms: &mut dyn Iterator<Item = (usize, f32)>| {
            let mut acc = vec![0.0f32; lanes];
            for (j, t) in terms {
                acc[j % lanes] += t;
            }
            let mut w = lanes / 2;
            while w >= 1 {
                for k in 0..w {
                    acc[k] += acc[k + w];
                }
                w /= 2;
            }
            acc[0]
        };
        let (hk, hv) = (c.head_dim_k, c.head_dim_v);
        let group = c.n_head / c.n_head_kv;
        let mut qh = vec![0.0f32; hk];
        let mut key = vec![0.0f32; hk];
        for t in 0..n_tok {
            let pos = pos0 + t;
            let first = window.map_or(0, |w| (pos + 1).saturating_sub(w));
            for h in 0..c.n_head {
                let kvh = h / group;
                let qrow = &q[(t * c.n_head + h) * hk..(t * c.n_head + h + 1) * hk];
                for (d, &s) in qh.iter_mut().zip(qrow) {
                    *d = f16::from_f32(s).to_f32();
                }
                let mut sc: Vec<f32> = (first..=pos)
                    .map(|j| {
                        let k = &cache.key(il, j)[kvh * hk..(kvh + 1) * hk];
                        for (d, s) in key.iter_mut().zip(k) {
                            *d = s.to_f32();
                        }
                        let score = if lanes == SINGLE_LANES {
                            ops::dot_f16_vec(&qh, &key)
                        } else {
                            ops::dot(&qh, &key)
                        };
                        score * kq_scale
                    })
                    .collect();
                ops::softmax_from(&mut sc, first);
                let o = &mut out[(t * c.n_head + h) * hv..(t * c.n_head + h + 1) * hv];
                for (d, od) in o.iter_mut().enumerate() {
                    *od = lane_sum(&mut (first..=pos).zip(&sc).map(|(j, &p)| {
                        let p = f16::from_f32(p).to_f32();
                        (j, p * cache.value(il, j)[kvh * hv + d].to_f32())
                    }));
                }
            }
        }
    }

    /// Layer 1 of `c` with scale `kq_scale`.
    fn layer(c: &Config, kq_scale: f32, window: Option<usize>) -> Layer<'_> {
        Layer {
            c,
            il: 1,
            kq_scale,
            window,
        }
    }

    /// `n_tok` tokens of one sequence from `pos0`.
    fn queries<'a>(cache: &'a KvCache, q: &'a [f32], n_tok: usize, pos0: usize, lanes: usize) -> Queries<'a> {
        Queries {
            cache,
            q,
            t0: 0,
            nt: n_tok,
            pos0,
            lanes,
        }
    }

    #[test]
    fn tiled_parallel_attention_equals_reference() {
        for (n_head, n_head_kv, hk, hv) in [(6, 2, 40, 24), (4, 4, 16, 16), (8, 1, 33, 17)] {
            let c = config(n_head, n_head_kv, hk, hv);
            let n_ctx = 90;
            let mut cache = KvCache::new(&c, n_ctx);
            for il in 0..c.n_layer {
                for pos in 0..n_ctx {
                    let seed = (il * 1000 + pos) as u32;
                    cache.store(il, pos, &values(c.k_dim(), seed), &values(c.v_dim(), seed + 500));
                }
            }
            for (n_batch, pos0, n_tok, window) in [
                (64, 5, 64, None),
                (64, 3, 50, Some(7)),
                (1, 80, 1, None),
                (8, 40, 8, Some(1)),
            ] {
                let ws = AttnWorkspace::new(&c, n_batch, n_ctx, 2);
                let q = values(n_tok * c.q_dim(), 77 + n_tok as u32);
                for lanes in [BATCH_LANES, SINGLE_LANES] {
                    if lanes == SINGLE_LANES && n_tok > 1 {
                        continue;
                    }
                    let mut got = vec![f32::NAN; n_tok * n_head * hv];
                    let mut want = vec![0.0f32; n_tok * n_head * hv];
                    let (l, qs) = (layer(&c, 0.3, window), queries(&cache, &q, n_tok, pos0, lanes));
                    attention_seq(l, qs, &ws, &mut got, 2);
                    reference(l, qs, &mut want);
                    assert_eq!(
                        got, want,
                        "heads {n_head}/{n_head_kv}, pos0 {pos0}, window {window:?}, lanes {lanes}"
                    );
                }
            }
        }
    }

    /// Gemma 3's shape (4 query heads on one KV head, head width 256) over
    /// spans of several value tiles, with and without a sliding window.
    #[test]
    fn gemma_shaped_attention_equals_reference() {
        let c = config(4, 1, 256, 256);
        let n_ctx = 300;
        let mut cache = KvCache::new(&c, n_ctx);
        for pos in 0..n_ctx {
            let seed = (1000 + pos) as u32;
            cache.store(1, pos, &values(c.k_dim(), seed), &values(c.v_dim(), seed + 500));
        }
        for (pos0, n_tok, window) in [(0, 300, None), (20, 270, Some(200)), (150, 40, Some(129))] {
            let ws = AttnWorkspace::new(&c, 512, n_ctx, 2);
            let q = values(n_tok * c.q_dim(), 5 + n_tok as u32);
            let mut got = vec![f32::NAN; n_tok * 4 * 256];
            let mut want = vec![0.0f32; n_tok * 4 * 256];
            let (l, qs) = (
                layer(&c, 0.0625, window),
                queries(&cache, &q, n_tok, pos0, BATCH_LANES),
            );
            attention_seq(l, qs, &ws, &mut got, 2);
            reference(l, qs, &mut want);
            let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "pos0 {pos0}, {n_tok} tokens, window {window:?}");
        }
    }

    /// A lone sequence's decode step splits its query heads across the
    /// threads: each head's output is still the reference's, whatever the
    /// split (whole KV groups, parts of one, one head per task).
    #[test]
    fn lone_token_head_split_equals_reference() {
        for (n_head, n_head_kv, hk, hv) in [(4, 1, 256, 256), (6, 2, 40, 24), (4, 4, 16, 16), (8, 1, 33, 17)]
        {
            let c = config(n_head, n_head_kv, hk, hv);
            let n_ctx = 100;
            let mut cache = KvCache::new(&c, n_ctx);
            for pos in 0..n_ctx {
                let seed = (3000 + pos) as u32;
                cache.store(1, pos, &values(c.k_dim(), seed), &values(c.v_dim(), seed + 500));
            }
            for threads in [2, 3, 16] {
                assert!(decode_heads_per_task(&c, 1, threads) < n_head);
                for (pos0, window) in [(0, None), (70, None), (99, Some(30))] {
                    let ws = AttnWorkspace::new(&c, 4, n_ctx, threads);
                    let q = values(c.q_dim(), 11 + pos0 as u32);
                    let mut got = vec![f32::NAN; n_head * hv];
                    let mut want = vec![0.0f32; n_head * hv];
                    let seg = Segment {
                        tokens: &[0],
                        pos0,
                        cache: &mut cache,
                    };
                    attention(&c, 1, &[seg], &q, 0.3, window, &ws, &mut got, threads);
                    let qs = queries(&cache, &q, 1, pos0, SINGLE_LANES);
                    reference(layer(&c, 0.3, window), qs, &mut want);
                    let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "heads {n_head}/{n_head_kv}, {threads} threads, pos0 {pos0}");
                }
            }
        }
        // No split for a batch, one thread or one head.
        let c = config(4, 1, 16, 16);
        assert_eq!(decode_heads_per_task(&c, 2, 2), 4);
        assert_eq!(decode_heads_per_task(&c, 1, 1), 4);
        assert_eq!(decode_heads_per_task(&config(1, 1, 16, 16), 1, 2), 1);
        // The most heads per task that still feeds every thread, within one KV group.
        assert_eq!(decode_heads_per_task(&c, 1, 2), 2);
        assert_eq!(decode_heads_per_task(&config(28, 4, 16, 16), 1, 2), 7);
        assert_eq!(decode_heads_per_task(&config(28, 4, 16, 16), 1, 8), 1);
    }
}
