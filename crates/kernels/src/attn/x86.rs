//! The AVX-512 forms of [`super`]'s kernels.

use std::arch::x86_64::*;
use std::ops::Range;

use super::LANES;

/// Query rows and keys of one score tile: 16 accumulators.
const SR: usize = 4;
const SC: usize = 4;
/// Rows of one value block, and its width in 16-float vectors.
const VR: usize = 4;
const VD: usize = 4;

pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx512f")
}

/// Lanes `lo..lo + n` of a 16-lane mask (`lo + n ≤ 16`).
#[inline]
fn lanes(lo: usize, n: usize) -> __mmask16 {
    (((1u32 << n) - 1) << lo) as __mmask16
}

/// ggml's AVX-512 `ggml_v_expf`, as `ops::v_expf` computes it lane by
/// lane: `2^n · p(b)`, `n = round(x / ln 2)`, `b = x - n ln 2` in two
/// FMA steps, a degree-5 polynomial of FMAs; 0 or inf beyond `|n| > 192`.
#[inline]
#[target_feature(enable = "avx512f")]
fn exp16(x: __m512) -> __m512 {
    let c = |bits: u32| _mm512_set1_ps(f32::from_bits(bits));
    let r = c(0x4b40_0000);
    let z = _mm512_fmadd_ps(x, c(0x3fb8_aa3b), r);
    let n = _mm512_sub_ps(z, r);
    // fnmadd(a, b, c) = -(a·b) + c, one rounding: `(-n).mul_add(b, c)`.
    let b = _mm512_fnmadd_ps(n, c(0x35bf_be8e), _mm512_fnmadd_ps(n, c(0x3f31_7200), x));
    let u = _mm512_mul_ps(b, b);
    let j = _mm512_fmadd_ps(
        _mm512_fmadd_ps(
            _mm512_fmadd_ps(c(0x3c07_2010), b, c(0x3d2b_9f17)),
            u,
            _mm512_fmadd_ps(c(0x3e2a_af33), b, c(0x3eff_fedb)),
        ),
        u,
        _mm512_fmadd_ps(c(0x3f7f_fff6), b, _mm512_set1_ps(1.0)),
    );
    let scaled = _mm512_scalef_ps(j, n);
    let big = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(_mm512_abs_ps(n), _mm512_set1_ps(192.0));
    let pos = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(n, _mm512_setzero_ps());
    let limit = _mm512_maskz_mov_ps(pos, _mm512_set1_ps(f32::INFINITY));
    _mm512_mask_blend_ps(big, scaled, limit)
}

/// [`super::softmax_from`] on AVX-512.
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn softmax_from(x: &mut [f32], first: usize) {
    let n = x.len();
    if n == 0 {
        return;
    }
    let ptr = x.as_mut_ptr();
    // SAFETY: every access is to elements `i..i + k` with `i + k ≤ n`
    // (full vectors), or masked to the lanes below `n - i`.
    unsafe {
        let mut m = _mm512_set1_ps(f32::NEG_INFINITY);
        let mut i = 0;
        while i + LANES <= n {
            m = _mm512_max_ps(m, _mm512_loadu_ps(ptr.add(i)));
            i += LANES;
        }
        if i < n {
            let k = lanes(0, n - i);
            m = _mm512_mask_max_ps(m, k, m, _mm512_maskz_loadu_ps(k, ptr.add(i)));
        }
        let max = _mm512_set1_ps(_mm512_reduce_max_ps(m));
        let mut i = 0;
        while i + LANES <= n {
            let e = exp16(_mm512_sub_ps(_mm512_loadu_ps(ptr.add(i)), max));
            _mm512_storeu_ps(ptr.add(i), e);
            i += LANES;
        }
        if i < n {
            let k = lanes(0, n - i);
            let e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, ptr.add(i)), max));
            _mm512_mask_storeu_ps(ptr.add(i), k, e);
        }
        // Groups of 16 cells aligned on cell 0: the first starts at
        // lane `first % 16`, the masked cells are zeros.
        let mut sum = 0.0f64;
        let (mut i, mut lane0) = (0, first % LANES);
        while i < n {
            let k = (LANES - lane0).min(n - i);
            let g = _mm512_maskz_expandloadu_ps(lanes(lane0, k), ptr.add(i));
            sum += f64::from(reduce16(g));
            i += k;
            lane0 = 0;
        }
        let inv = _mm512_set1_ps((1.0 / sum) as f32);
        let mut i = 0;
        while i + LANES <= n {
            _mm512_storeu_ps(ptr.add(i), _mm512_mul_ps(_mm512_loadu_ps(ptr.add(i)), inv));
            i += LANES;
        }
        if i < n {
            let k = lanes(0, n - i);
            let v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, ptr.add(i)), inv);
            _mm512_mask_storeu_ps(ptr.add(i), k, v);
        }
    }
}

/// [`super::round_to_f16`] on AVX-512.
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn round_to_f16(x: &mut [f32]) {
    let n = x.len();
    let ptr = x.as_mut_ptr();
    let round =
        |v: __m512| _mm512_cvtph_ps(_mm512_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v));
    let mut i = 0;
    // SAFETY: elements `i..i + 16` exist (full vectors), or the access
    // is masked to the lanes below `n - i`.
    unsafe {
        while i + LANES <= n {
            _mm512_storeu_ps(ptr.add(i), round(_mm512_loadu_ps(ptr.add(i))));
            i += LANES;
        }
        if i < n {
            let k = lanes(0, n - i);
            _mm512_mask_storeu_ps(ptr.add(i), k, round(_mm512_maskz_loadu_ps(k, ptr.add(i))));
        }
    }
}

/// [`super::widen`] on AVX-512.
///
/// # Safety
/// The CPU must have AVX-512F; `out` is as long as `src`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn widen(src: &[half::f16], out: &mut [f32]) {
    let n = src.len();
    let mut i = 0;
    while i + LANES <= n {
        // SAFETY: elements `i..i + 16` exist in both slices.
        unsafe {
            let h = _mm256_loadu_si256(src.as_ptr().add(i).cast());
            _mm512_storeu_ps(out.as_mut_ptr().add(i), _mm512_cvtph_ps(h));
        }
        i += LANES;
    }
    super::widen_scalar(&src[i..], &mut out[i..n]);
}

/// [`super::scores`] on AVX-512.
///
/// # Safety
/// The CPU must have AVX-512F, and the sizes must pass `check_scores`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn scores(
    q: &[f32],
    k: &[f32],
    hk: usize,
    nr: usize,
    nc: usize,
    scale: f32,
    out: &mut [f32],
    os: usize,
) {
    let (q, k, out) = (q.as_ptr(), k.as_ptr(), out.as_mut_ptr());
    let mut r0 = 0;
    while r0 < nr {
        let rn = (nr - r0).min(SR);
        let mut c0 = 0;
        while c0 < nc {
            let cn = (nc - c0).min(SC);
            // SAFETY: rows `r0..r0 + rn` of `q`, keys `c0..c0 + cn` of
            // `k` and their scores in `out` lie inside the slices
            // (`check_scores`); the caller guarantees AVX-512F.
            unsafe {
                let (qb, kb, ob) = (q.add(r0 * hk), k.add(c0 * hk), out.add(r0 * os + c0));
                macro_rules! tile {
                    ($r:literal) => {
                        match cn {
                            1 => score_tile::<$r, 1>(qb, kb, hk, scale, ob, os),
                            2 => score_tile::<$r, 2>(qb, kb, hk, scale, ob, os),
                            3 => score_tile::<$r, 3>(qb, kb, hk, scale, ob, os),
                            _ => score_tile::<$r, 4>(qb, kb, hk, scale, ob, os),
                        }
                    };
                }
                match rn {
                    1 => tile!(1),
                    2 => tile!(2),
                    3 => tile!(3),
                    _ => tile!(4),
                }
            }
            c0 += cn;
        }
        r0 += rn;
    }
}

/// Scores of `R` rows × `C` keys, one 16-lane accumulator per pair.
///
/// # Safety
/// AVX-512F; `q` holds `R` rows and `k` holds `C` keys of `hk` floats,
/// `out` row `r < R` has `C` scores at `r * os`.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn score_tile<const R: usize, const C: usize>(
    q: *const f32,
    k: *const f32,
    hk: usize,
    scale: f32,
    out: *mut f32,
    os: usize,
) {
    let mut acc = [[_mm512_setzero_ps(); C]; R];
    let n16 = hk / LANES;
    // SAFETY: every offset stays below `R * hk` in `q`, `C * hk` in
    // `k` and addresses the `R × C` scores in `out` (the contract).
    unsafe {
        for s in 0..n16 {
            let mut kv = [_mm512_setzero_ps(); C];
            for (c, kc) in kv.iter_mut().enumerate() {
                *kc = _mm512_loadu_ps(k.add(c * hk + s * LANES));
            }
            for (r, ar) in acc.iter_mut().enumerate() {
                let qv = _mm512_loadu_ps(q.add(r * hk + s * LANES));
                for (a, &kc) in ar.iter_mut().zip(&kv) {
                    *a = _mm512_fmadd_ps(qv, kc, *a);
                }
            }
        }
        if R == 4 && C == 4 && hk == n16 * LANES {
            // A whole tile: the sixteen reductions side by side, with
            // the same additions (see `reduce16x16`), in a quarter of
            // the instructions.
            let mut a = [_mm512_setzero_ps(); 16];
            for (r, ar) in acc.iter().enumerate() {
                for (c, &x) in ar.iter().enumerate() {
                    a[4 * c + r] = x;
                }
            }
            let v = _mm512_mul_ps(reduce16x16(a), _mm512_set1_ps(scale));
            _mm_storeu_ps(out, _mm512_extractf32x4_ps::<0>(v));
            _mm_storeu_ps(out.add(os), _mm512_extractf32x4_ps::<1>(v));
            _mm_storeu_ps(out.add(2 * os), _mm512_extractf32x4_ps::<2>(v));
            _mm_storeu_ps(out.add(3 * os), _mm512_extractf32x4_ps::<3>(v));
            return;
        }
        for (r, ar) in acc.iter().enumerate() {
            for (c, &a) in ar.iter().enumerate() {
                let mut sum = reduce16(a);
                for i in n16 * LANES..hk {
                    sum += *q.add(r * hk + i) * *k.add(c * hk + i);
                }
                *out.add(r * os + c) = sum * scale;
            }
        }
    }
}

/// The pairwise sum of the 16 lanes: `a[k] += a[k + w]` for `w` = 8,
/// 4, 2, 1, as [`crate::ops::dot`] reduces its accumulators.
#[inline]
#[target_feature(enable = "avx512f")]
fn reduce16(a: __m512) -> f32 {
    let lo = _mm512_castps512_ps256(a);
    let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(a)));
    let s8 = _mm256_add_ps(lo, hi);
    let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
    let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    let s1 = _mm_add_ss(s2, _mm_shuffle_ps::<1>(s2, s2));
    _mm_cvtss_f32(s1)
}

/// [`reduce16`] of sixteen accumulators at once: lane `4q + p` of the
/// result is the sum of `a[4p + q]`. Each level adds the same pairs as
/// `reduce16` (lane `k` and `k + w`, for `w` = 8, 4, 2, 1), only with
/// several accumulators' lanes side by side in one vector.
#[inline]
#[target_feature(enable = "avx512f")]
pub(super) fn reduce16x16(a: [__m512; 16]) -> __m512 {
    // w = 8: accumulators 2i (lanes 0..8) and 2i + 1 (lanes 8..16).
    let s: [__m512; 8] = std::array::from_fn(|i| {
        let (x, y) = (a[2 * i], a[2 * i + 1]);
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b01_00_01_00>(x, y),
            _mm512_shuffle_f32x4::<0b11_10_11_10>(x, y),
        )
    });
    // w = 4: accumulator 4i + q in 128-bit quarter q.
    let t: [__m512; 4] = std::array::from_fn(|i| {
        let (x, y) = (s[2 * i], s[2 * i + 1]);
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b10_00_10_00>(x, y),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(x, y),
        )
    });
    // w = 2: per quarter, two lanes of each of two vectors.
    let u: [__m512; 2] = std::array::from_fn(|i| {
        let (x, y) = (t[2 * i], t[2 * i + 1]);
        _mm512_add_ps(
            _mm512_shuffle_ps::<0b01_00_01_00>(x, y),
            _mm512_shuffle_ps::<0b11_10_11_10>(x, y),
        )
    });
    // w = 1: quarter q holds `t[p]`'s quarter q in lane p.
    _mm512_add_ps(
        _mm512_shuffle_ps::<0b10_00_10_00>(u[0], u[1]),
        _mm512_shuffle_ps::<0b11_01_11_01>(u[0], u[1]),
    )
}

/// [`super::values_acc`] on AVX-512.
///
/// # Safety
/// The CPU must have AVX-512F, and the sizes must pass `check_values`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn values_acc(
    p: &[f32],
    ps: usize,
    nr: usize,
    first: usize,
    n: usize,
    v: &[f32],
    vs: usize,
    hv: usize,
    cols: Range<usize>,
    acc: &mut [f32],
    acs: usize,
) {
    if n == 0 {
        return;
    }
    let (p, v, acc) = (p.as_ptr(), v.as_ptr(), acc.as_mut_ptr());
    let mut r0 = 0;
    while r0 < nr {
        let rn = (nr - r0).min(VR);
        // SAFETY: rows `r0..r0 + rn` of `p` and `acc` lie inside the
        // slices (`check_values`); the caller guarantees AVX-512F.
        unsafe {
            let (pb, ab) = (p.add(r0 * ps), acc.add(r0 * acs));
            match rn {
                1 => value_rows::<1>(pb, ps, first, n, v, vs, hv, &cols, ab, acs),
                2 => value_rows::<2>(pb, ps, first, n, v, vs, hv, &cols, ab, acs),
                3 => value_rows::<3>(pb, ps, first, n, v, vs, hv, &cols, ab, acs),
                _ => value_rows::<4>(pb, ps, first, n, v, vs, hv, &cols, ab, acs),
            }
        }
        r0 += rn;
    }
}

/// The value sums of `R` rows over `cols`: blocks of 64 columns, then
/// of 16, then the last few columns one by one.
///
/// # Safety
/// AVX-512F; `p` holds `R` rows of `n` probabilities `ps` apart, `v`
/// holds the columns `cols` of `n` cells `vs` apart, `acc` holds `R`
/// rows of `LANES × hv` sums `acs` apart, `cols` lies in `0..hv`.
#[allow(clippy::too_many_arguments)]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn value_rows<const R: usize>(
    p: *const f32,
    ps: usize,
    first: usize,
    n: usize,
    v: *const f32,
    vs: usize,
    hv: usize,
    cols: &Range<usize>,
    acc: *mut f32,
    acs: usize,
) {
    let mut d = cols.start;
    // SAFETY: the blocks cover columns `d..d + 16·VD` (or `d..d + 16`)
    // inside `cols`, and the tail the rest of `cols` (the contract).
    unsafe {
        while d + VD * LANES <= cols.end {
            value_block::<R, VD>(p, ps, first, n, v.add(d - cols.start), vs, hv, d, acc, acs);
            d += VD * LANES;
        }
        while d + LANES <= cols.end {
            value_block::<R, 1>(p, ps, first, n, v.add(d - cols.start), vs, hv, d, acc, acs);
            d += LANES;
        }
        for r in 0..R {
            for i in 0..n {
                let w = *p.add(r * ps + i);
                let a = acc.add(r * acs + (first + i) % LANES * hv);
                for c in d..cols.end {
                    *a.add(c) += w * *v.add(i * vs + c - cols.start);
                }
            }
        }
    }
}

/// Columns `d..d + 16·D` of the value sums of `R` rows: for each lane,
/// its sums of the block are loaded into registers, the lane's cells
/// walked in order (each chunk of values loaded once for all rows,
/// each probability broadcast once for all chunks), and stored back.
///
/// # Safety
/// As [`value_rows`], with `v` at column `d` of the first cell and
/// `d + 16·D` inside the columns.
#[allow(clippy::too_many_arguments)]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn value_block<const R: usize, const D: usize>(
    p: *const f32,
    ps: usize,
    first: usize,
    n: usize,
    v: *const f32,
    vs: usize,
    hv: usize,
    d: usize,
    acc: *mut f32,
    acs: usize,
) {
    // SAFETY: cells `i < n`, rows `r < R` and columns
    // `d..d + 16·D` inside the columns stay inside the buffers (the
    // contract).
    unsafe {
        for lane in 0..LANES {
            // The first cell `first + i` of this lane.
            let i0 = (lane + LANES - first % LANES) % LANES;
            if i0 >= n {
                continue;
            }
            let mut a = [[_mm512_setzero_ps(); D]; R];
            for (r, ar) in a.iter_mut().enumerate() {
                for (c, x) in ar.iter_mut().enumerate() {
                    *x = _mm512_loadu_ps(acc.add(r * acs + lane * hv + d + c * LANES));
                }
            }
            let mut i = i0;
            while i < n {
                let mut vv = [_mm512_setzero_ps(); D];
                for (c, x) in vv.iter_mut().enumerate() {
                    *x = _mm512_loadu_ps(v.add(i * vs + c * LANES));
                }
                for (r, ar) in a.iter_mut().enumerate() {
                    let w = _mm512_set1_ps(*p.add(r * ps + i));
                    for (x, &vc) in ar.iter_mut().zip(&vv) {
                        *x = _mm512_fmadd_ps(w, vc, *x);
                    }
                }
                i += LANES;
            }
            for (r, ar) in a.iter().enumerate() {
                for (c, &x) in ar.iter().enumerate() {
                    _mm512_storeu_ps(acc.add(r * acs + lane * hv + d + c * LANES), x);
                }
            }
        }
    }
}
