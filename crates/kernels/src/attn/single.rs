//! Attention of a single-token step read straight from the f16 cache, in
//! the arithmetic llama.cpp uses for it (`ggml_vec_dot_f16` on AVX-512:
//! [`LANES`] lane sums, lane `k` taking its terms in order, reduced
//! pairwise). Scores sum `q·k` over the head dimension; outputs sum
//! `Σ_j p_j v_j` over the cells, lane `k` taking the cells `j ≡ k (mod 64)`
//! (llama.cpp keeps values transposed and dots each dimension's row of
//! cells).
//!
//! A step reads each cached row once, so converting rows to f32 in memory
//! before the arithmetic (a write, then a read of twice the bytes) cost
//! more than the arithmetic itself: the SIMD kernels convert in registers.
//! Products of f16 values (queries and probabilities are rounded to f16
//! before they get here) are exact in f32, so the kernels' FMAs round as
//! the references' multiply-then-add, bit for bit.

use half::f16;

/// Lane sums per single-token sum (four 16-float accumulators).
pub const LANES: usize = 64;

/// `out[r * out_stride + c] = dot(q_r, k_c) * scale` for the `nr` query
/// rows `q_r = q[r * hk..][..hk]` and the `nc` keys
/// `k_c = keys[c * k_stride..][..hk]`, where `dot` is
/// [`crate::ops::dot_f16_vec`] of `q_r` and the widened key: 64 lane sums
/// over the first `64·⌊hk/64⌋` elements, reduced pairwise, then the
/// remaining products added in f64. Bit for bit [`scores_scalar`] when `q`
/// holds f16 values.
///
/// # Panics
/// If a slice is too short for the sizes given, `k_stride < hk` or
/// `out_stride < nc`.
#[allow(clippy::too_many_arguments)]
pub fn scores(
    q: &[f32],
    keys: &[f16],
    k_stride: usize,
    hk: usize,
    nr: usize,
    nc: usize,
    scale: f32,
    out: &mut [f32],
    out_stride: usize,
) {
    check_scores(q, keys, k_stride, hk, nr, nc, out, out_stride);
    #[cfg(target_arch = "x86_64")]
    if hk.is_multiple_of(LANES) && super::x86::available() {
        // SAFETY: the CPU has AVX-512F (checked just above), `hk` is a
        // multiple of 64, and the slices hold every element the sizes
        // address (`check_scores`).
        return unsafe { x86::scores(q, keys, k_stride, hk, nr, nc, scale, out, out_stride) };
    }
    scores_scalar(q, keys, k_stride, hk, nr, nc, scale, out, out_stride);
}

/// The reference of [`scores`]: one lane-summed dot product per pair.
///
/// # Panics
/// As [`scores`].
#[allow(clippy::too_many_arguments)]
pub fn scores_scalar(
    q: &[f32],
    keys: &[f16],
    k_stride: usize,
    hk: usize,
    nr: usize,
    nc: usize,
    scale: f32,
    out: &mut [f32],
    out_stride: usize,
) {
    check_scores(q, keys, k_stride, hk, nr, nc, out, out_stride);
    let np = hk / LANES * LANES;
    for r in 0..nr {
        let qr = &q[r * hk..(r + 1) * hk];
        for c in 0..nc {
            let k = &keys[c * k_stride..c * k_stride + hk];
            let mut acc = [0f32; LANES];
            for (i, (&x, y)) in qr[..np].iter().zip(&k[..np]).enumerate() {
                acc[i % LANES] += x * y.to_f32();
            }
            crate::ops::reduce_lanes(&mut acc, LANES, 1);
            let mut sum = f64::from(acc[0]);
            for (&x, y) in qr[np..].iter().zip(&k[np..]) {
                sum += f64::from(x * y.to_f32());
            }
            out[r * out_stride + c] = sum as f32 * scale;
        }
    }
}

/// Asks the CPU to bring `n` cached rows of `width` values, `stride`
/// apart in `rows`, into its L2 cache (one prefetch per 64-byte line), and
/// returns at once. A step's cache rows are usually in memory (the
/// weights streamed through since the last step evict them), and
/// [`values`] walks its cells 64 apart, which hardware prefetchers do not
/// follow: prefetched while the scores are computed, they are in L2 when
/// the values are summed.
pub fn prefetch(rows: &[f16], stride: usize, width: usize, n: usize) {
    #[cfg(target_arch = "x86_64")]
    for c in 0..n {
        let Some(row) = rows.get(c * stride..c * stride + width) else {
            return;
        };
        for line in row.chunks(32) {
            // SAFETY: a prefetch is only a hint: it never faults and reads
            // or writes nothing visible (this address is valid anyway).
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(line.as_ptr().cast())
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (rows, stride, width, n);
}

#[allow(clippy::too_many_arguments)]
fn check_scores(
    q: &[f32],
    keys: &[f16],
    k_stride: usize,
    hk: usize,
    nr: usize,
    nc: usize,
    out: &[f32],
    out_stride: usize,
) {
    assert!(q.len() >= nr * hk, "queries: {} < {nr} × {hk}", q.len());
    assert!(k_stride >= hk, "key stride {k_stride} < {hk}");
    if nc > 0 {
        assert!(keys.len() >= (nc - 1) * k_stride + hk, "keys too short");
    }
    if nr > 0 && nc > 0 {
        assert!(out_stride >= nc, "score stride {out_stride} < {nc} keys");
        assert!(out.len() >= (nr - 1) * out_stride + nc, "score buffer too short");
    }
}

/// `out[r * out_stride + d] = Σ_i p[r * p_stride + i] · v_i[d]` for the
/// `nr` rows of probabilities over the `n` cells `first..first + n`, whose
/// values are `v_i = values[i * v_stride..][..hv]`: cell `first + i` goes
/// to lane `(first + i) % 64`, each lane sums its cells in order, and the
/// lanes are reduced pairwise ([`crate::ops::reduce_lanes`]). Bit for bit
/// [`values_scalar`] when `p` holds f16 values.
///
/// # Panics
/// If a slice is too short for the sizes given, `v_stride < hv` or
/// `out_stride < hv`.
#[allow(clippy::too_many_arguments)]
pub fn values(
    p: &[f32],
    p_stride: usize,
    nr: usize,
    first: usize,
    n: usize,
    values: &[f16],
    v_stride: usize,
    hv: usize,
    out: &mut [f32],
    out_stride: usize,
) {
    check_values(p, p_stride, nr, n, values, v_stride, hv, out, out_stride);
    #[cfg(target_arch = "x86_64")]
    if hv.is_multiple_of(x86::V_COLS) && super::x86::available() {
        // The kernel puts cell `first + i` in lane `i % 64`, not
        // `(first + i) % 64`: the pairwise reduction of the lanes gives the
        // same bits for any rotation of them (level `w` adds lanes `w`
        // apart, modulo `2w`, and each addition commutes).
        // SAFETY: the CPU has AVX-512F (checked just above), `hv` is a
        // multiple of the kernel's column block, and the slices hold every
        // element the sizes address (`check_values`).
        return unsafe { x86::values(p, p_stride, nr, n, values, v_stride, hv, out, out_stride) };
    }
    values_scalar(p, p_stride, nr, first, n, values, v_stride, hv, out, out_stride);
}

/// The reference of [`values`]: per row and column, the 64 lane sums
/// (multiply, then add), reduced.
///
/// # Panics
/// As [`values`].
#[allow(clippy::too_many_arguments)]
pub fn values_scalar(
    p: &[f32],
    p_stride: usize,
    nr: usize,
    first: usize,
    n: usize,
    values: &[f16],
    v_stride: usize,
    hv: usize,
    out: &mut [f32],
    out_stride: usize,
) {
    check_values(p, p_stride, nr, n, values, v_stride, hv, out, out_stride);
    for r in 0..nr {
        for d in 0..hv {
            let mut acc = [0f32; LANES];
            for i in 0..n {
                acc[(first + i) % LANES] += p[r * p_stride + i] * values[i * v_stride + d].to_f32();
            }
            crate::ops::reduce_lanes(&mut acc, LANES, 1);
            out[r * out_stride + d] = acc[0];
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_values(
    p: &[f32],
    p_stride: usize,
    nr: usize,
    n: usize,
    values: &[f16],
    v_stride: usize,
    hv: usize,
    out: &[f32],
    out_stride: usize,
) {
    assert!(v_stride >= hv, "value stride {v_stride} < {hv}");
    if n > 0 {
        assert!(values.len() >= (n - 1) * v_stride + hv, "values too short");
    }
    if nr > 0 {
        assert!(out_stride >= hv, "output stride {out_stride} < {hv}");
        assert!(out.len() >= (nr - 1) * out_stride + hv, "output too short");
        if n > 0 {
            assert!(p.len() >= (nr - 1) * p_stride + n, "probabilities too short");
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use half::f16;

    use super::LANES;
    use crate::attn::x86::reduce16x16;

    /// Columns of one pass of [`values`]: a 64-byte line of f16 per cell,
    /// so each pass over the cells reads every line it loads whole.
    pub(super) const V_COLS: usize = 32;

    /// 16 f16 values at `p`, widened.
    ///
    /// # Safety
    /// AVX-512F; 16 readable values at `p`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load16(p: *const f16) -> __m512 {
        // SAFETY: 32 readable bytes (the caller's contract); `loadu` has no
        // alignment requirement.
        _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(p.cast()) })
    }

    /// [`super::scores`] on AVX-512, for `hk` a multiple of 64.
    ///
    /// # Safety
    /// The CPU must have AVX-512F, `hk % 64 == 0`, and the sizes must pass
    /// `check_scores`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn scores(
        q: &[f32],
        keys: &[f16],
        ks: usize,
        hk: usize,
        nr: usize,
        nc: usize,
        scale: f32,
        out: &mut [f32],
        os: usize,
    ) {
        let (q, k, out) = (q.as_ptr(), keys.as_ptr(), out.as_mut_ptr());
        let mut r0 = 0;
        while r0 < nr {
            let rn = (nr - r0).min(4);
            // SAFETY: rows `r0..r0 + rn` of `q`, every key and the rows'
            // scores lie inside the slices (`check_scores`).
            unsafe {
                let (qb, ob) = (q.add(r0 * hk), out.add(r0 * os));
                match rn {
                    1 => score_rows::<1>(qb, k, ks, hk, nc, scale, ob, os),
                    2 => score_rows::<2>(qb, k, ks, hk, nc, scale, ob, os),
                    3 => score_rows::<3>(qb, k, ks, hk, nc, scale, ob, os),
                    _ => score_rows::<4>(qb, k, ks, hk, nc, scale, ob, os),
                }
            }
            r0 += rn;
        }
    }

    /// Scores of `R` query rows against `nc` keys: each key is widened once
    /// for all rows, each (row, key) sums in four 16-lane accumulators
    /// (lanes 0..64), folded to one vector (`w` = 32, 16 of the pairwise
    /// tree); sixteen keys' vectors finish the tree together.
    ///
    /// # Safety
    /// AVX-512F; `q` holds `R` rows of `hk` floats (`hk % 64 == 0`), `k`
    /// holds `nc` keys `ks` apart, `out` row `r < R` has `nc` scores at
    /// `r * os`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn score_rows<const R: usize>(
        q: *const f32,
        k: *const f16,
        ks: usize,
        hk: usize,
        nc: usize,
        scale: f32,
        out: *mut f32,
        os: usize,
    ) {
        let scale = _mm512_set1_ps(scale);
        let mut c0 = 0;
        while c0 < nc {
            let cn = (nc - c0).min(16);
            let mut folded = [[_mm512_setzero_ps(); 16]; R];
            for c in 0..cn {
                let kc = k.wrapping_add((c0 + c) * ks);
                let mut acc = [[_mm512_setzero_ps(); 4]; R];
                let mut d = 0;
                while d < hk {
                    for g in 0..4 {
                        // SAFETY: element `d + 16g + 15 < hk` of key `c0 + c`.
                        let kv = unsafe { load16(kc.add(d + 16 * g)) };
                        for (r, a) in acc.iter_mut().enumerate() {
                            // SAFETY: element `d + 16g + 15 < hk` of row `r`.
                            let qv = unsafe { _mm512_loadu_ps(q.add(r * hk + d + 16 * g)) };
                            a[g] = _mm512_fmadd_ps(qv, kv, a[g]);
                        }
                    }
                    d += LANES;
                }
                // `reduce16x16` puts the sum of its input `4p + q` in lane
                // `4q + p`: key `c` goes in at `4(c % 4) + c / 4` to come
                // out in lane `c`.
                let at = 4 * (c % 4) + c / 4;
                for (f, a) in folded.iter_mut().zip(&acc) {
                    f[at] = _mm512_add_ps(_mm512_add_ps(a[0], a[2]), _mm512_add_ps(a[1], a[3]));
                }
            }
            let keep = ((1u32 << cn) - 1) as __mmask16;
            for (r, f) in folded.iter().enumerate() {
                let s = _mm512_mul_ps(reduce16x16(*f), scale);
                // SAFETY: scores `c0..c0 + cn` of row `r`.
                unsafe { _mm512_mask_storeu_ps(out.add(r * os + c0), keep, s) };
            }
            c0 += cn;
        }
    }

    /// [`super::values`] on AVX-512, for `hv` a multiple of [`V_COLS`].
    ///
    /// # Safety
    /// The CPU must have AVX-512F, `hv % V_COLS == 0`, and the sizes must
    /// pass `check_values`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn values(
        p: &[f32],
        ps: usize,
        nr: usize,
        n: usize,
        v: &[f16],
        vs: usize,
        hv: usize,
        out: &mut [f32],
        os: usize,
    ) {
        let (p, v, out) = (p.as_ptr(), v.as_ptr(), out.as_mut_ptr());
        let mut r0 = 0;
        while r0 < nr {
            let rn = (nr - r0).min(4);
            // SAFETY: rows `r0..r0 + rn` of `p` and `out`, and every cell's
            // values, lie inside the slices (`check_values`).
            unsafe {
                let (pb, ob) = (p.add(r0 * ps), out.add(r0 * os));
                match rn {
                    1 => value_rows::<1, 8>(pb, ps, n, v, vs, hv, ob, os),
                    2 => value_rows::<2, 4>(pb, ps, n, v, vs, hv, ob, os),
                    3 => value_rows::<3, 2>(pb, ps, n, v, vs, hv, ob, os),
                    _ => value_rows::<4, 2>(pb, ps, n, v, vs, hv, ob, os),
                }
            }
            r0 += rn;
        }
    }

    /// Outputs of `R` rows, [`V_COLS`] columns at a time: the 64 lane sums
    /// of those columns are computed `G` lanes at a time in registers (a
    /// lane's cells are 64 apart), stored, then reduced pairwise.
    ///
    /// # Safety
    /// AVX-512F; `p` holds `R` rows of `n` probabilities `ps` apart, `v`
    /// holds `n` cells of `hv` values `vs` apart (`hv % V_COLS == 0`),
    /// `out` row `r < R` has `hv` floats at `r * os`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn value_rows<const R: usize, const G: usize>(
        p: *const f32,
        ps: usize,
        n: usize,
        v: *const f16,
        vs: usize,
        hv: usize,
        out: *mut f32,
        os: usize,
    ) {
        // Lane sums of the current columns: `[row][lane][half]`.
        let mut lanes = [[[_mm512_setzero_ps(); 2]; LANES]; R];
        let mut d0 = 0;
        while d0 < hv {
            // The cells `m, m + 64, ...` share lane `m`.
            let mut m0 = 0;
            while m0 < LANES {
                let mut acc = [[[_mm512_setzero_ps(); 2]; R]; G];
                let mut base = 0;
                while base + m0 < n {
                    for (g, ag) in acc.iter_mut().enumerate() {
                        let i = base + m0 + g;
                        if i >= n {
                            break;
                        }
                        // SAFETY: columns `d0..d0 + 32 ≤ hv` of cell `i < n`.
                        let (v0, v1) = unsafe {
                            let at = v.add(i * vs + d0);
                            (load16(at), load16(at.add(16)))
                        };
                        for (r, a) in ag.iter_mut().enumerate() {
                            // SAFETY: probability `i < n` of row `r`.
                            let w = _mm512_set1_ps(unsafe { *p.add(r * ps + i) });
                            a[0] = _mm512_fmadd_ps(w, v0, a[0]);
                            a[1] = _mm512_fmadd_ps(w, v1, a[1]);
                        }
                    }
                    base += LANES;
                }
                for (g, ag) in acc.iter().enumerate() {
                    for (r, a) in ag.iter().enumerate() {
                        lanes[r][m0 + g] = *a;
                    }
                }
                m0 += G;
            }
            for (r, l) in lanes.iter_mut().enumerate() {
                let mut w = LANES / 2;
                while w >= 1 {
                    for k in 0..w {
                        let hi = l[k + w];
                        for (x, y) in l[k].iter_mut().zip(hi) {
                            *x = _mm512_add_ps(*x, y);
                        }
                    }
                    w /= 2;
                }
                // SAFETY: columns `d0..d0 + 32 ≤ hv` of output row `r`.
                unsafe {
                    let o = out.add(r * os + d0);
                    _mm512_storeu_ps(o, l[0][0]);
                    _mm512_storeu_ps(o.add(16), l[0][1]);
                }
            }
            d0 += V_COLS;
        }
    }
}
