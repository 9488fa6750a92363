//! Q8_0-family panels for five or more tokens (prompts, and decode steps
//! of five or more sequences), in groups of four to eight tokens, on
//! AVX-512 VNNI with 256-bit registers: one weight row per register.
//!
//! Per (row, token, block) llama.cpp's arithmetic needs an integer dot
//! product into eight i32 lanes, their conversion and one FMA into eight
//! float lanes with the scale product `d_w·d_x`. The 512-bit panel of
//! [`super::x86_avx512_panel`] holds two rows per register and so also
//! multiplies the scales per (row pair, token, block): three operations
//! per pair on the two pipes of Zen 4 that multiply, where a 512-bit
//! operation takes both. Here the scale products of a row and eight
//! tokens are one multiplication per block, stored a few blocks ahead and
//! read by the FMAs as broadcast memory operands, so the two
//! multiplying pipes see only the dot product and the FMA per (row,
//! token, block). The weights are taken signed and the activations plus
//! 128 (unsigned), so that the `vpdpbusd` seed (`-128·Σw` per lane) is
//! the weight row's, computed once per block for every token. In a prompt
//! each pair of rows is decoded once (bytes, seeds, scales: 3.75 KiB for a
//! 640-wide row pair, in L1) and then goes against every group of the
//! run's tokens, so the decoding drops out of the inner loop; a decode
//! step's lone group decodes each block one block ahead instead. Results
//! are bit-identical to the other panel and to the per-pair dot products.

use std::arch::x86_64::*;

use super::x86_avx2::{bytes, decode_block, f16_splat, hsum_ps, load32};
use super::x86_avx512::Vnni;
use super::x86_avx512_panel::{ahead, token_scales};
use crate::dot::Q8_0_BYTES;

/// Fewest tokens this panel is used for: with fewer, the per-row seeds
/// and scale products cost more than the 512-bit panel's per-pair ones.
pub(super) const MIN_TOKENS: usize = 5;

/// Most tokens in one group: `R = 2` rows of eight tokens are sixteen
/// accumulators, with room left for the rows' weights and seeds (and the
/// next block's) in the 32 registers.
const MAX_TOKENS: usize = 8;

/// Most bytes of prepared activations a call lays out at once (about a
/// quarter of a Zen 4 or Ice Lake L2): a prompt's tokens are prepared in
/// runs of this size, each run then swept by every pair of rows.
const PREPARED_BYTES: usize = 256 << 10;

/// Most groups of tokens in one run.
const MAX_GROUPS: usize = 64;

/// `n` items split into `parts` runs as even as can be: (start, length) of each.
fn even(n: usize, parts: usize) -> impl Iterator<Item = (usize, usize)> {
    let (base, extra) = (n / parts, n % parts);
    (0..parts).map(move |i| (i * base + i.min(extra), base + usize::from(i < extra)))
}

/// [`super::x86_avx512_panel::panel`] for [`MIN_TOKENS`] or more tokens:
/// `out[j * rm + i] = w_i · x_j`.
///
/// The tokens are split into even runs of at most [`PREPARED_BYTES`] of
/// prepared activations, and each run into even groups of at most
/// [`MAX_TOKENS`], so that every group has four to eight tokens. Then
/// each pair of rows is decoded once (into [`Decoded`] blocks, in L1) and
/// goes against every group of the run; results land in `out` directly.
/// The rows about [`super::x86_avx512_panel::PREFETCH_LEAD`] bytes ahead
/// are prefetched during each pair's first group.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn panel<const KIND: u8, const BW: usize>(
    m: Vnni,
    w: &[u8],
    row_bytes: usize,
    rm: usize,
    x: &[u8],
    act_row: usize,
    rn: usize,
    out: &mut [f32],
) {
    assert!(rn >= MIN_TOKENS && row_bytes.is_multiple_of(BW) && w.len() >= rm * row_bytes);
    let nb = row_bytes / BW;
    // Each thread's buffers, kept between calls: the hot path allocates
    // nothing once they have reached their size.
    thread_local! {
        static ACT: std::cell::RefCell<Vec<__m256i>> = const { std::cell::RefCell::new(Vec::new()) };
        static DEC: std::cell::RefCell<Vec<[Decoded; 2]>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    ACT.with_borrow_mut(|act| {
        DEC.with_borrow_mut(|dec| {
            // A prepared token takes one register per block.
            let per_run =
                (PREPARED_BYTES / (nb * size_of::<__m256i>())).clamp(MAX_TOKENS, MAX_GROUPS * MAX_TOKENS);
            for (t0, tn) in even(rn, rn.div_ceil(per_run)) {
                // (first token, tokens, first prepared register) of each group.
                let mut groups = [(0, 0, 0); MAX_GROUPS];
                let ng = tn.div_ceil(MAX_TOKENS);
                act.clear();
                for ((t, n), g) in even(tn, ng).zip(&mut groups) {
                    // Runs of five or more tokens or of half a run (eight or more).
                    assert!((4..=MAX_TOKENS).contains(&n));
                    *g = (t0 + t, n, act.len());
                    prepare(&x[(t0 + t) * act_row..], act_row, n, nb, act);
                }
                for r in (0..rm).step_by(2) {
                    let nr = (rm - r).min(2);
                    // The rows that far ahead, prefetched during the first group.
                    let next = ahead(w, row_bytes, r, 2);
                    // A lone last row is decoded twice; its copy's sums are dropped.
                    let (w0, w1) = (&w[r * row_bytes..], &w[(r + nr - 1) * row_bytes..]);
                    let block = |w: &[u8], b: usize| -> [u8; BW] {
                        *w[b * BW..].first_chunk().expect("whole blocks")
                    };
                    let decoded =
                        |b: usize| [decode::<KIND>(m, &block(w0, b)), decode::<KIND>(m, &block(w1, b))];
                    let scales = |b: usize| [f16_splat(&block(w0, b)), f16_splat(&block(w1, b))];
                    let rows = (r, nr, next);
                    if ng == 1 {
                        // One group (a decode step): each block decoded as it is used.
                        group_of(nb, decoded, scales, act, groups[0], rows, out, rm);
                        continue;
                    }
                    // Several: the rows decoded once for all of them, the
                    // first group prefetching.
                    dec.clear();
                    dec.extend((0..nb).map(decoded));
                    for (g, &at) in groups[..ng].iter().enumerate() {
                        let rows = (r, nr, if g == 0 { next } else { &[] });
                        group_of(nb, |b| dec[b], |b| dec[b].map(|r| r.d), act, at, rows, out, rm);
                    }
                }
            }
        })
    })
}

/// [`group`] for the group at `(t, n, a)` (first token, tokens, first
/// prepared register in `act`) and rows `(r, nr, next)` (first row, rows,
/// rows to prefetch), into `out[t * rm + r..]`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn group_of(
    nb: usize,
    decoded: impl Fn(usize) -> [Decoded; 2],
    scales: impl Fn(usize) -> [__m256; 2],
    act: &[__m256i],
    (t, n, a): (usize, usize, usize),
    (r, nr, next): (usize, usize, &[u8]),
    out: &mut [f32],
    rm: usize,
) {
    let (act, out) = (&act[a..], &mut out[t * rm + r..]);
    match n {
        4 => group::<4>(nb, decoded, scales, act, out, rm, nr, next),
        5 => group::<5>(nb, decoded, scales, act, out, rm, nr, next),
        6 => group::<6>(nb, decoded, scales, act, out, rm, nr, next),
        7 => group::<7>(nb, decoded, scales, act, out, rm, nr, next),
        _ => group::<8>(nb, decoded, scales, act, out, rm, nr, next),
    }
}

/// One weight row's block, decoded: its bytes (signed), its `vpdpbusd`
/// seed (`-128·Σw` per 4-byte lane, against activations plus 128) and
/// its scale in every lane.
#[derive(Clone, Copy)]
struct Decoded {
    q: __m256i,
    seed: __m256i,
    d: __m256,
}

/// Two rows of `nb` blocks (`decoded(b)` gives block `b` of both,
/// `scales(b)` only their scales; the second row's sums dropped when `nr`
/// is 1) against the `T` prepared tokens, into `out[j * ostride + i]`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
#[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
fn group<const T: usize>(
    nb: usize,
    decoded: impl Fn(usize) -> [Decoded; 2],
    scales: impl Fn(usize) -> [__m256; 2],
    act: &[__m256i],
    out: &mut [f32],
    ostride: usize,
    nr: usize,
    next: &[u8],
) {
    const R: usize = 2;
    let pf_per_block = next.len().div_ceil(64).div_ceil(nb.max(1));
    assert!(act.len() >= nb * (1 + T) && (1..=R).contains(&nr) && out.len() > (T - 1) * ostride + nr - 1);
    let ap = act.as_ptr();
    let mut acc = [[_mm256_setzero_ps(); T]; R];
    // The scale products of the next `AHEAD` blocks, each written
    // `AHEAD` blocks before it is read: a broadcast load from a wider
    // store still in flight waits for the store to retire.
    let mut dp = Products([[[0f32; 8]; R]; AHEAD]);
    let products = |b: usize, slot: &mut [[f32; 8]; R]| {
        // SAFETY: block `b < nb` of the prepared tokens (asserted above).
        let dxv = _mm256_castsi256_ps(unsafe { *ap.add(b * (1 + T)) });
        for (r, d) in scales(b).into_iter().enumerate() {
            // SAFETY: `slot[r]` is 8 aligned floats.
            unsafe { _mm256_store_ps(slot[r].as_mut_ptr(), _mm256_mul_ps(d, dxv)) };
        }
    };
    for b in 0..AHEAD.min(nb) {
        products(b, &mut dp.0[b]);
    }
    // Each block is decoded during the block before it: decoding is a
    // chain of dependent operations that would otherwise hold up the
    // block's first products.
    let mut rows = decoded(0);
    for b in 0..nb {
        for line in next.chunks(64).skip(b * pf_per_block).take(pf_per_block) {
            _mm_prefetch::<_MM_HINT_T1>(line.as_ptr().cast());
        }
        let following = decoded((b + 1).min(nb - 1));
        // SAFETY: block `b < nb` of the prepared tokens (asserted above).
        let ab = unsafe { ap.add(b * (1 + T)) };
        let slot = b % AHEAD;
        for j in 0..T {
            // SAFETY: token `j < T` of the prepared block.
            let xv = unsafe { *ab.add(1 + j) };
            for r in 0..R {
                let s: __m256i;
                // SAFETY: writes only the named registers.
                unsafe {
                    std::arch::asm!(
                        "vpdpbusd {s:y}, {x:y}, {q:y}",
                        "vcvtdq2ps {s:y}, {s:y}",
                        s = inout(zmm_reg) rows[r].seed => s,
                        x = in(zmm_reg) xv,
                        q = in(zmm_reg) rows[r].q,
                        options(pure, nomem, nostack, preserves_flags)
                    )
                }
                acc[r][j] = _mm256_fmadd_ps(
                    _mm256_castsi256_ps(s),
                    _mm256_set1_ps(dp.0[slot][r][j]),
                    acc[r][j],
                );
            }
        }
        if b + AHEAD < nb {
            products(b + AHEAD, &mut dp.0[slot]);
        }
        rows = following;
    }
    for r in 0..nr {
        if T == 8 {
            let mut sums = [0f32; 8];
            // SAFETY: 8 writable floats; `storeu` has no alignment requirement.
            unsafe { _mm256_storeu_ps(sums.as_mut_ptr(), hsum8(acc[r][..].try_into().expect("8 tokens"))) };
            for (j, v) in sums.into_iter().enumerate() {
                out[j * ostride + r] = v;
            }
        } else {
            for j in 0..T {
                out[j * ostride + r] = hsum_ps(acc[r][j]);
            }
        }
    }
}

/// [`hsum_ps`] of eight registers at once, lane `j` the sum of `a[j]`:
/// the same additions of the same pairs, in a third of the instructions.
#[target_feature(enable = "avx2")]
#[inline]
fn hsum8(a: &[__m256; 8]) -> __m256 {
    // Each register's halves added (lanes `j` and `j + 4`), two registers per result.
    let halves = |x: __m256, y: __m256| {
        _mm256_add_ps(
            _mm256_permute2f128_ps::<0x31>(x, y),
            _mm256_permute2f128_ps::<0x20>(x, y),
        )
    };
    let (s04, s15, s26, s37) = (
        halves(a[0], a[4]),
        halves(a[1], a[5]),
        halves(a[2], a[6]),
        halves(a[3], a[7]),
    );
    // Lanes `0 + 2` and `1 + 3` of each.
    let pairs = |x: __m256, y: __m256| {
        _mm256_add_ps(_mm256_shuffle_ps::<0x44>(x, y), _mm256_shuffle_ps::<0xEE>(x, y))
    };
    let (v0, v1) = (pairs(s04, s15), pairs(s26, s37));
    _mm256_add_ps(
        _mm256_shuffle_ps::<0x88>(v0, v1),
        _mm256_shuffle_ps::<0xDD>(v0, v1),
    )
}

/// Blocks whose scale products [`group`] computes ahead of using them.
const AHEAD: usize = 8;

/// `R` rows' scale products with the tokens of [`AHEAD`] blocks.
#[repr(align(32))]
struct Products<const R: usize>([[[f32; 8]; R]; AHEAD]);

/// The activation side for [`group`]: per block one register of the
/// tokens' scales (lane `j`), then each token's 32 bytes plus 128.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn prepare(x: &[u8], act_row: usize, rn: usize, nb: usize, act: &mut Vec<__m256i>) {
    act.reserve(nb * (1 + rn));
    for b in 0..nb {
        let dx: [f32; 8] = token_scales(x, act_row, rn, b);
        // SAFETY: 8 readable floats; `loadu` has no alignment requirement.
        act.push(_mm256_castps_si256(unsafe { _mm256_loadu_ps(dx.as_ptr()) }));
        for j in 0..rn {
            let xb: &[u8; Q8_0_BYTES] = bytes(x, j * act_row + b * Q8_0_BYTES);
            act.push(_mm256_xor_si256(
                load32(bytes(xb, 2)),
                _mm256_set1_epi8(0x80u8 as i8),
            ));
        }
    }
}

/// One block's weights decoded: signed bytes, the seed that makes
/// `vpdpbusd` of these against the activations plus 128 (unsigned) the
/// exact signed lane sums, and the scale.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn decode<const KIND: u8>(m: Vnni, wb: &[u8]) -> Decoded {
    let q = decode_block::<Vnni, KIND>(m, wb);
    let zero = _mm256_setzero_si256();
    let seed = _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, _mm256_set1_epi8(0x80u8 as i8), q));
    Decoded {
        q,
        seed,
        d: f16_splat(wb),
    }
}
