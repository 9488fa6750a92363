//! AVX-512 VNNI K-quant panels: sixteen weight rows against any number of
//! tokens, one weight row per 32-bit lane.
//!
//! The one-row kernels of `x86_avx2` keep a row's elements across the lanes
//! and pay a horizontal sum per (row, token, 64 elements); here the weights
//! of sixteen rows are transposed once per super-block (four bytes of row
//! `r` in lane `r`), so that one `vpdpbusd` against four activation bytes
//! broadcast to every lane does 64 multiply-adds for sixteen rows, and the
//! sums of a sub-block come out already reduced, one per row. The scales,
//! mins and `d`s are decoded once per super-block for sixteen rows, and
//! every token reuses them.
//!
//! Every (row, token) pair gets exactly the integers of the one-row kernels
//! (integer sums in another order are the same integers) and then the same
//! float operations in the same order, lane by lane: results are
//! bit-identical to [`crate::dot`]'s references for the same path.

use std::arch::x86_64::*;

use crate::dot::Q8_K_BYTES;

/// Weight rows per panel step: one per 32-bit lane.
const LANES: usize = 16;
/// Tokens whose float accumulators a panel keeps at once.
const CHUNK: usize = 64;

/// Four activation bytes at `p` in every lane.
#[inline(always)]
unsafe fn bcast(p: *const u8) -> __m512i {
    // SAFETY: the caller passes four readable bytes.
    unsafe { _mm512_set1_epi32(p.cast::<i32>().read_unaligned()) }
}

#[inline(always)]
fn splat(v: u32) -> __m512i {
    // SAFETY: AVX-512F, enabled in every caller.
    unsafe { _mm512_set1_epi32(v as i32) }
}

/// The row whose results lane `d` holds: the order [`transpose32`] leaves
/// (its own inverse).
const fn lane_row(d: usize) -> usize {
    4 * (d % 4) + d / 4
}

/// Offsets of the rows of lanes `0..16` (rows past `rows` repeat the last
/// one; their lanes are computed and dropped).
#[target_feature(enable = "avx512f")]
#[inline]
fn row_offsets(row_bytes: usize, rows: usize) -> __m512i {
    let mut o = [0i32; LANES];
    for (d, o) in o.iter_mut().enumerate() {
        *o = (lane_row(d).min(rows - 1) * row_bytes) as i32;
    }
    // SAFETY: `o` is 64 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm512_loadu_si512(o.as_ptr().cast()) }
}

/// Pointers to rows `0..16` (past `rows`, the last one again).
fn row_ptrs(w: &[u8], row_bytes: usize, rows: usize) -> [*const u8; LANES] {
    std::array::from_fn(|r| w[r.min(rows - 1) * row_bytes..].as_ptr())
}

/// The 32 bytes at `at` of sixteen rows, transposed: dword `k` of the row
/// [`lane_row`]`(d)` in lane `d` of vector `k`. Sixteen-byte loads into
/// the four 128-bit lanes of eight vectors, then a 4×4 dword transpose in
/// every 128-bit lane (eight in-lane shuffles per eight vectors), instead
/// of eight gathers.
///
/// # Safety
/// `rows[r] + at .. + 32` readable for every `r`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn transpose32(rows: &[*const u8; LANES], at: usize) -> [__m512i; 8] {
    // SAFETY: the caller guarantees the 32 bytes of each row are readable.
    unsafe {
        let ld = |r: usize, o: usize| _mm_loadu_si128(rows[r].add(at + o).cast());
        let four = |q: usize, o: usize| {
            let v = _mm512_castsi128_si512(ld(4 * q, o));
            let v = _mm512_inserti32x4::<1>(v, ld(4 * q + 1, o));
            let v = _mm512_inserti32x4::<2>(v, ld(4 * q + 2, o));
            _mm512_inserti32x4::<3>(v, ld(4 * q + 3, o))
        };
        let mut out = [_mm512_setzero_si512(); 8];
        for h in 0..2 {
            let a: [__m512i; 4] = std::array::from_fn(|q| four(q, 16 * h));
            let t0 = _mm512_unpacklo_epi32(a[0], a[1]);
            let t1 = _mm512_unpackhi_epi32(a[0], a[1]);
            let t2 = _mm512_unpacklo_epi32(a[2], a[3]);
            let t3 = _mm512_unpackhi_epi32(a[2], a[3]);
            out[4 * h] = _mm512_unpacklo_epi64(t0, t2);
            out[4 * h + 1] = _mm512_unpackhi_epi64(t0, t2);
            out[4 * h + 2] = _mm512_unpacklo_epi64(t1, t3);
            out[4 * h + 3] = _mm512_unpackhi_epi64(t1, t3);
        }
        out
    }
}

/// Results in lane order back to row order.
#[target_feature(enable = "avx512f")]
#[inline]
fn rows_in_order(v: __m512) -> __m512 {
    let idx: [i32; LANES] = std::array::from_fn(|r| lane_row(r) as i32);
    // SAFETY: `idx` is 64 readable bytes; `loadu` has no alignment requirement.
    _mm512_permutexvar_ps(unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }, v)
}

/// The dword at byte `at` of each of the sixteen rows at `idx` from `base`.
///
/// # Safety
/// `base + idx[r] + at .. + 4` must be readable for every lane.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn gather(idx: __m512i, base: *const u8, at: usize) -> __m512i {
    // SAFETY: the caller guarantees every lane's four bytes are readable.
    unsafe { _mm512_i32gather_epi32::<1>(idx, base.add(at).cast()) }
}

/// The low f16 of each lane as f32.
#[target_feature(enable = "avx512f")]
#[inline]
fn f16_lo(v: __m512i) -> __m512 {
    _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v))
}

/// Row-side data of one Q4_K super-block for sixteen rows.
struct Q4kRows {
    /// `[j][half][k]`: the low (`half` 0, sub-block `2j`) or high nibbles
    /// (sub-block `2j + 1`) of bytes `4k..4k + 4` of the `j`-th 32 bytes.
    q: [[[__m512i; 8]; 2]; 4],
    /// Sub-block scales (i32 lanes, below 64).
    sc: [__m512i; 8],
    /// `m_2j | m_2j+1 << 16`: the mins of sub-blocks `2j`, `2j + 1` as i16 pairs.
    mins: [__m512i; 4],
    /// The scales and the mins as floats (exact: below 64).
    sc_f: [__m512; 8],
    mins_f: [__m512; 8],
    dw: __m512,
    dmin: __m512,
}

/// Decodes super-block `b` of sixteen Q4_K rows.
///
/// # Safety
/// `ptrs[0] + idx[d]` and `ptrs[r]`, plus `144 b .. 144 (b + 1)`, readable.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
unsafe fn q4_k_rows(idx: __m512i, ptrs: &[*const u8; LANES], b: usize, r: &mut Q4kRows) {
    // SAFETY: every gather reads inside super-block `b` of each row.
    unsafe {
        let g = |at: usize| gather(idx, ptrs[0], 144 * b + at);
        let d = g(0);
        r.dw = f16_lo(d);
        r.dmin = f16_lo(_mm512_srli_epi32::<16>(d));
        let (u0, u1, u2) = (g(4), g(8), g(12));
        let k1 = splat(0x3f3f_3f3f);
        let k2 = splat(0x0f0f_0f0f);
        let k3 = splat(0x0303_0303);
        let and = _mm512_and_si512;
        let sc_lo = and(u0, k1);
        let sc_hi = _mm512_or_si512(
            and(u2, k2),
            _mm512_slli_epi32::<4>(and(_mm512_srli_epi32::<6>(u0), k3)),
        );
        let mins_lo = and(u1, k1);
        let mins_hi = _mm512_or_si512(
            and(_mm512_srli_epi32::<4>(u2), k2),
            _mm512_slli_epi32::<4>(and(_mm512_srli_epi32::<6>(u1), k3)),
        );
        let byte = splat(0xff);
        for s in 0..4 {
            let sh = _mm_cvtsi32_si128(8 * s as i32);
            r.sc[s] = and(_mm512_srl_epi32(sc_lo, sh), byte);
            r.sc[s + 4] = and(_mm512_srl_epi32(sc_hi, sh), byte);
            r.mins_f[s] = _mm512_cvtepi32_ps(and(_mm512_srl_epi32(mins_lo, sh), byte));
            r.mins_f[s + 4] = _mm512_cvtepi32_ps(and(_mm512_srl_epi32(mins_hi, sh), byte));
        }
        for s in 0..8 {
            r.sc_f[s] = _mm512_cvtepi32_ps(r.sc[s]);
        }
        r.mins[0] = pair_bytes(mins_lo);
        r.mins[1] = pair_bytes(_mm512_srli_epi32::<16>(mins_lo));
        r.mins[2] = pair_bytes(mins_hi);
        r.mins[3] = pair_bytes(_mm512_srli_epi32::<16>(mins_hi));
        let m4 = splat(0x0f0f_0f0f);
        for j in 0..4 {
            let t = transpose32(ptrs, 144 * b + 16 + 32 * j);
            for (k, t) in t.into_iter().enumerate() {
                r.q[j][0][k] = and(t, m4);
                r.q[j][1][k] = and(_mm512_srli_epi32::<4>(t), m4);
            }
        }
    }
}

/// The low two bytes of each lane as the low bytes of its two i16 halves.
#[target_feature(enable = "avx512f")]
#[inline]
fn pair_bytes(v: __m512i) -> __m512i {
    // Bytes 2 and 3 dropped, byte 1 to byte 2, byte 0 stays.
    let v = _mm512_and_si512(v, splat(0xffff));
    _mm512_and_si512(_mm512_or_si512(v, _mm512_slli_epi32::<8>(v)), splat(0x00ff_00ff))
}

/// The loops every K-quant panel shares: rows `0..rm` (`row_bytes` apart
/// in `w`, super-blocks of `block_bytes`) against `rn` tokens (`act_row`
/// bytes apart in `x`) into `out[t * rm + r]`, sixteen rows at a time
/// against up to [`CHUNK`] tokens. Per super-block, `decode` lays out the
/// sixteen rows in `rows`; per token, `token` adds that block to the
/// token's accumulators `A`, which `finish` turns into the sixteen results.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn panel<R, A: Copy>(
    w: &[u8],
    row_bytes: usize,
    block_bytes: usize,
    rm: usize,
    x: &[u8],
    act_row: usize,
    rn: usize,
    out: &mut [f32],
    mut rows: R,
    zero: A,
    decode: impl Fn(__m512i, &[*const u8; LANES], usize, &mut R),
    token: impl Fn(&R, *const u8, A) -> A,
    token2: impl Fn(&R, [*const u8; 2], [A; 2]) -> [A; 2],
    finish: impl Fn(A) -> __m512,
) {
    let nb = row_bytes / block_bytes;
    if rm == 0 || rn == 0 {
        return;
    }
    assert!(
        row_bytes == nb * block_bytes
            && w.len() >= rm * row_bytes
            && x.len() >= (rn - 1) * act_row + nb * Q8_K_BYTES
            && out.len() >= rn * rm
    );
    let mut acc = [zero; CHUNK];
    for r0 in (0..rm).step_by(LANES) {
        let lanes = (rm - r0).min(LANES);
        let idx = row_offsets(row_bytes, lanes);
        let ptrs = row_ptrs(&w[r0 * row_bytes..], row_bytes, lanes);
        for t0 in (0..rn).step_by(CHUNK) {
            let tn = (rn - t0).min(CHUNK);
            acc[..tn].fill(zero);
            for b in 0..nb {
                // Rows `r0..r0 + lanes` (offsets clamped to them) hold `nb`
                // super-blocks (asserted above).
                decode(idx, &ptrs, b, &mut rows);
                // Super-block `b` of token `t0 + t` lies in `x` (asserted
                // above): no bounds check in the innermost loop.
                let xb = |t: usize| x.as_ptr().wrapping_add((t0 + t) * act_row + b * Q8_K_BYTES);
                // Tokens two at a time, each weight register loaded once for both.
                let mut pairs = acc[..tn].chunks_exact_mut(2);
                for (p, a) in (&mut pairs).enumerate() {
                    [a[0], a[1]] = token2(&rows, [xb(2 * p), xb(2 * p + 1)], [a[0], a[1]]);
                }
                if let [a] = pairs.into_remainder() {
                    *a = token(&rows, xb(tn - 1), *a);
                }
            }
            for t in 0..tn {
                let o = &mut out[(t0 + t) * rm + r0..][..lanes];
                // SAFETY: `o` is `lanes` writable floats; the mask writes
                // only those.
                unsafe {
                    _mm512_mask_storeu_ps(
                        o.as_mut_ptr(),
                        (1u32 << lanes).wrapping_sub(1) as u16,
                        rows_in_order(finish(acc[t])),
                    )
                };
            }
        }
    }
}

/// Q4_K rows `0..rm` (`row_bytes` apart in `w`) against `rn` tokens
/// (`act_row` bytes apart in `x`) into `out[t * rm + r]`, as
/// [`crate::dot::q4_k_q8_k`] (`GEMM` false) or
/// [`crate::dot::q4_k_q8_k_gemm`] (`GEMM` true) computes each pair.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn q4_k_panel<const GEMM: bool>(
    w: &[u8],
    row_bytes: usize,
    rm: usize,
    x: &[u8],
    act_row: usize,
    rn: usize,
    out: &mut [f32],
) {
    let zero = _mm512_setzero_si512();
    let rows = Q4kRows {
        q: [[[zero; 8]; 2]; 4],
        sc: [zero; 8],
        mins: [zero; 4],
        sc_f: [_mm512_setzero_ps(); 8],
        mins_f: [_mm512_setzero_ps(); 8],
        dw: _mm512_setzero_ps(),
        dmin: _mm512_setzero_ps(),
    };
    let z = _mm512_setzero_ps();
    // SAFETY: these closures go only to `panel`, which calls `decode` with
    // the offsets and pointers of rows holding super-block `b` and `token`
    // with a pointer to a whole activation block (it asserts the sizes).
    let (decode, token, token2) = unsafe {
        (
            |idx, ptrs: &_, b, r: &mut Q4kRows| q4_k_rows(idx, ptrs, b, r),
            |r: &Q4kRows, xb, acc| q4_k_tokens::<GEMM, 1>(r, [xb], [acc])[0],
            |r: &Q4kRows, xb, acc| q4_k_tokens::<GEMM, 2>(r, xb, acc),
        )
    };
    panel(
        w,
        row_bytes,
        144,
        rm,
        x,
        act_row,
        rn,
        out,
        rows,
        (z, z),
        decode,
        token,
        token2,
        |(a, am)| _mm512_sub_ps(a, am),
    );
}

/// `N` tokens' super-blocks against sixteen decoded Q4_K rows: the float
/// steps of the one-row kernel, one lane per row. Each weight register is
/// loaded once for the `N` tokens.
///
/// # Safety
/// Each `xb[t]` is a whole Q8_K block.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
// Indices pair sub-blocks across several arrays, as the math reads.
#[allow(clippy::needless_range_loop)]
unsafe fn q4_k_tokens<const GEMM: bool, const N: usize>(
    r: &Q4kRows,
    xb: [*const u8; N],
    acc: [(__m512, __m512); N],
) -> [(__m512, __m512); N] {
    // SAFETY: every read is inside the 292-byte blocks at `xb`.
    unsafe {
        let zero = _mm512_setzero_si512();
        let mut acc = acc;
        let mut d = [_mm512_setzero_ps(); N];
        let mut dmin = [_mm512_setzero_ps(); N];
        // Sums of the 32-element sub-blocks' block sums, as i16 pairs
        // (sub-blocks 2j, 2j + 1 in dword j): |·| ≤ 2·16·127.
        let mut pairs = [_mm_setzero_si128(); N];
        for t in 0..N {
            let yd = _mm512_set1_ps(xb[t].cast::<f32>().read_unaligned());
            d[t] = _mm512_mul_ps(r.dw, yd);
            dmin[t] = _mm512_mul_ps(r.dmin, yd);
            let bs = _mm256_loadu_si256(xb[t].add(4 + 256).cast());
            pairs[t] = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256::<1>(bs));
        }
        // The sixteen 4-element sums of elements `64j .. 64j + 64` of
        // each token, each weight register loaded once.
        let sums = |j: usize| {
            let mut s = [[zero; 4]; N];
            for k in 0..4 {
                let w = [r.q[j][0][k], r.q[j][0][k + 4], r.q[j][1][k], r.q[j][1][k + 4]];
                for t in 0..N {
                    let xs = xb[t].add(4 + 64 * j);
                    for (h, w) in w.into_iter().enumerate() {
                        s[t][h] = _mm512_dpbusd_epi32(s[t][h], w, bcast(xs.add(16 * h + 4 * k)));
                    }
                }
            }
            s
        };
        if GEMM {
            // Per 64 elements the integers `isum_j = sc_a·S_a + sc_b·S_b`
            // (|S| ≤ 32·15·128 per sub-block) and `msum_j = m_a·B_a +
            // m_b·B_b` stay below 2²⁴ in magnitude, as do their products
            // and partial sums: computed in floats they are exact, so each
            // equals `isum_j as f32` (`msum_j as f32`), and the float
            // units take the scaling off the integer port.
            let mut bsf = [[0f32; 8]; N];
            for t in 0..N {
                bsf[t] = std::mem::transmute::<__m256, [f32; 8]>(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(
                    pairs[t],
                )));
            }
            for j in 0..4 {
                let s = sums(j);
                for t in 0..N {
                    let sa = _mm512_cvtepi32_ps(_mm512_add_epi32(s[t][0], s[t][1]));
                    let sb = _mm512_cvtepi32_ps(_mm512_add_epi32(s[t][2], s[t][3]));
                    let ij = _mm512_fmadd_ps(sb, r.sc_f[2 * j + 1], _mm512_mul_ps(sa, r.sc_f[2 * j]));
                    let mj = _mm512_fmadd_ps(
                        r.mins_f[2 * j + 1],
                        _mm512_set1_ps(bsf[t][2 * j + 1]),
                        _mm512_mul_ps(r.mins_f[2 * j], _mm512_set1_ps(bsf[t][2 * j])),
                    );
                    acc[t].0 = _mm512_fmadd_ps(ij, d[t], acc[t].0);
                    acc[t].1 = _mm512_fmadd_ps(mj, dmin[t], acc[t].1);
                }
            }
            return acc;
        }
        let mut isum = [zero; N];
        let mut msum = [zero; N];
        for j in 0..4 {
            let s = sums(j);
            for t in 0..N {
                // Sixteen elements per sum: |·| ≤ 16·15·128 fits i16, so
                // `vpdpwssd` against the scale (high half zero) multiplies it.
                let lo = _mm512_dpwssd_epi32(_mm512_madd_epi16(s[t][0], r.sc[2 * j]), s[t][1], r.sc[2 * j]);
                let hi = _mm512_dpwssd_epi32(
                    _mm512_madd_epi16(s[t][2], r.sc[2 * j + 1]),
                    s[t][3],
                    r.sc[2 * j + 1],
                );
                let p: [i32; 4] = std::mem::transmute(pairs[t]);
                let mj = _mm512_madd_epi16(r.mins[j], _mm512_set1_epi32(p[j]));
                isum[t] = _mm512_add_epi32(isum[t], _mm512_add_epi32(lo, hi));
                msum[t] = _mm512_add_epi32(msum[t], mj);
            }
        }
        // The vec path's steps, once per super-block.
        for t in 0..N {
            acc[t].0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), d[t], acc[t].0);
            acc[t].1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(msum[t]), dmin[t], acc[t].1);
        }
        acc
    }
}

/// Row-side data of one Q6_K super-block for sixteen rows.
struct Q6kRows {
    /// `[n][g][k]`: six-bit values of elements `128n + 32g + 4k .. + 4`.
    q: [[[__m512i; 8]; 4]; 2],
    /// The sixteen scales, sign-extended to i32.
    sc: [__m512i; 16],
    /// Scales `2i`, `2i + 1` as i16 pairs.
    sc_pairs: [__m512i; 8],
    dw: __m512,
}

/// Decodes super-block `b` of sixteen Q6_K rows.
///
/// # Safety
/// `ptrs[0] + idx[d]` and `ptrs[r]`, plus `210 b .. 210 (b + 1)`, readable.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
unsafe fn q6_k_rows(idx: __m512i, ptrs: &[*const u8; LANES], b: usize, r: &mut Q6kRows) {
    // SAFETY: every gather reads inside super-block `b` of each row.
    unsafe {
        let g = |at: usize| gather(idx, ptrs[0], 210 * b + at);
        r.dw = f16_lo(_mm512_srli_epi32::<16>(g(206)));
        for i in 0..4 {
            let v = g(192 + 4 * i);
            let s0 = _mm512_srai_epi32::<24>(_mm512_slli_epi32::<24>(v));
            let s1 = _mm512_srai_epi32::<24>(_mm512_slli_epi32::<16>(v));
            let s2 = _mm512_srai_epi32::<24>(_mm512_slli_epi32::<8>(v));
            let s3 = _mm512_srai_epi32::<24>(v);
            r.sc[4 * i..4 * i + 4].copy_from_slice(&[s0, s1, s2, s3]);
            let lo16 = splat(0xffff);
            r.sc_pairs[2 * i] = _mm512_or_si512(_mm512_and_si512(s0, lo16), _mm512_slli_epi32::<16>(s1));
            r.sc_pairs[2 * i + 1] = _mm512_or_si512(_mm512_and_si512(s2, lo16), _mm512_slli_epi32::<16>(s3));
        }
        let m4 = splat(0x0f0f_0f0f);
        let m30 = splat(0x3030_3030);
        // (a & 0x0F) | (h & 0x30): ternary-logic table for A | (B & C)
        // after masking `a`.
        let join =
            |a: __m512i, h: __m512i| _mm512_ternarylogic_epi32::<0xF8>(_mm512_and_si512(a, m4), h, m30);
        for n in 0..2 {
            let ql0 = transpose32(ptrs, 210 * b + 64 * n);
            let ql1 = transpose32(ptrs, 210 * b + 64 * n + 32);
            let qh = transpose32(ptrs, 210 * b + 128 + 32 * n);
            for k in 0..8 {
                let (ql0, ql1, qh) = (ql0[k], ql1[k], qh[k]);
                r.q[n][0][k] = join(ql0, _mm512_slli_epi32::<4>(qh));
                r.q[n][1][k] = join(ql1, _mm512_slli_epi32::<2>(qh));
                r.q[n][2][k] = join(_mm512_srli_epi32::<4>(ql0), qh);
                r.q[n][3][k] = join(_mm512_srli_epi32::<4>(ql1), _mm512_srli_epi32::<2>(qh));
            }
        }
    }
}

/// Q6_K rows `0..rm` against `rn` tokens into `out[t * rm + r]`, as
/// [`crate::dot::q6_k_q8_k_tiled`] computes each pair.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn q6_k_tiled_panel(
    w: &[u8],
    row_bytes: usize,
    rm: usize,
    x: &[u8],
    act_row: usize,
    rn: usize,
    out: &mut [f32],
) {
    let zero = _mm512_setzero_si512();
    let rows = Q6kRows {
        q: [[[zero; 8]; 4]; 2],
        sc: [zero; 16],
        sc_pairs: [zero; 8],
        dw: _mm512_setzero_ps(),
    };
    // SAFETY: as in `q4_k_panel`.
    let (decode, token, token2) = unsafe {
        (
            |idx, ptrs: &_, b, r: &mut Q6kRows| q6_k_rows(idx, ptrs, b, r),
            |r: &Q6kRows, xb, acc| q6_k_tokens::<1>(r, [xb], [acc])[0],
            |r: &Q6kRows, xb, acc| q6_k_tokens::<2>(r, xb, acc),
        )
    };
    panel(
        w,
        row_bytes,
        210,
        rm,
        x,
        act_row,
        rn,
        out,
        rows,
        _mm512_setzero_ps(),
        decode,
        token,
        token2,
        |a| a,
    );
}

/// `N` tokens' super-blocks against sixteen decoded Q6_K rows:
/// `acc + (isum · d_w) · d_x` per lane, `isum = Σ_s sc_s Σ (q6 − 32)·q8`.
/// Each weight register is loaded once for the `N` tokens.
///
/// # Safety
/// Each `xb[t]` is a whole Q8_K block.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")]
#[inline]
#[allow(clippy::needless_range_loop)]
unsafe fn q6_k_tokens<const N: usize>(r: &Q6kRows, xb: [*const u8; N], acc: [__m512; N]) -> [__m512; N] {
    // SAFETY: every read is inside the 292-byte blocks at `xb`.
    unsafe {
        let zero = _mm512_setzero_si512();
        let mut sums = [[zero; 4]; N];
        for n in 0..2 {
            for g in 0..4 {
                let (mut lo, mut hi) = ([zero; N], [zero; N]);
                for k in 0..4 {
                    let (wl, wh) = (r.q[n][g][k], r.q[n][g][k + 4]);
                    for t in 0..N {
                        let xs = xb[t].add(4 + 128 * n + 32 * g);
                        lo[t] = _mm512_dpbusd_epi32(lo[t], wl, bcast(xs.add(4 * k)));
                        hi[t] = _mm512_dpbusd_epi32(hi[t], wh, bcast(xs.add(16 + 4 * k)));
                    }
                }
                let s = 8 * n + 2 * g;
                for t in 0..N {
                    let v = _mm512_add_epi32(
                        _mm512_mullo_epi32(lo[t], r.sc[s]),
                        _mm512_mullo_epi32(hi[t], r.sc[s + 1]),
                    );
                    sums[t][g] = _mm512_add_epi32(sums[t][g], v);
                }
            }
        }
        let mut out = acc;
        for t in 0..N {
            // The `-32` offset: `32 · Σ_s sc_s · bsum_s` (pairs in i16).
            let (mut o0, mut o1) = (zero, zero);
            for i in 0..4 {
                o0 = _mm512_dpwssd_epi32(o0, r.sc_pairs[2 * i], bcast(xb[t].add(260 + 8 * i)));
                o1 = _mm512_dpwssd_epi32(o1, r.sc_pairs[2 * i + 1], bcast(xb[t].add(264 + 8 * i)));
            }
            let s = sums[t];
            let isum = _mm512_add_epi32(_mm512_add_epi32(s[0], s[1]), _mm512_add_epi32(s[2], s[3]));
            let isum = _mm512_sub_epi32(isum, _mm512_slli_epi32::<5>(_mm512_add_epi32(o0, o1)));
            let yd = _mm512_set1_ps(xb[t].cast::<f32>().read_unaligned());
            out[t] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(isum), r.dw), yd, acc[t]);
        }
        out
    }
}
