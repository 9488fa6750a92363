//! RMS normalisation as ggml computes it: the sum of squares of each row
//! accumulated in f64 element by element, in order, which makes rows the
//! unit of parallelism (eight chains at once, on AVX-512 through an 8×8
//! transpose).

/// RMS normalisation in place, then multiplication by `weight`, as ggml's
/// `rms_norm` followed by `mul`: the sum of squares is accumulated in f64
/// (`ggml_float`), the scale is `1 / sqrt(mean + eps)` in f32.
pub fn rms_norm(x: &mut [f32], weight: &[f32], eps: f32) {
    let sum: f64 = x.iter().map(|&v| f64::from(v * v)).sum();
    scale_row(x, sum, weight, eps);
}

/// [`rms_norm`] of each `width`-long row of `x`, bit for bit the same.
/// Each row's sum of squares is a chain of dependent f64 additions (in
/// order, as ggml sums it); one row at a time, each addition waits for the
/// last, so rows go eight at a time with their chains interleaved.
pub fn rms_norm_rows(x: &mut [f32], width: usize, weight: &[f32], eps: f32) {
    const R: usize = 8;
    if width == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    let simd = std::arch::is_x86_feature_detected!("avx512f");
    let mut groups = x.chunks_exact_mut(R * width);
    for g in groups.by_ref() {
        let rows: [&[f32]; R] = std::array::from_fn(|r| &g[r * width..][..width]);
        let mut sum = [0.0f64; R];
        let mut done = 0;
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: the running CPU has AVX-512F, checked above.
            (sum, done) = unsafe { sum_squares8_avx512(&rows) };
        }
        for i in done..width {
            for (s, row) in sum.iter_mut().zip(&rows) {
                let v = row[i];
                *s += f64::from(v * v);
            }
        }
        for (row, s) in g.chunks_exact_mut(width).zip(sum) {
            scale_row(row, s, weight, eps);
        }
    }
    for row in groups.into_remainder().chunks_exact_mut(width) {
        rms_norm(row, weight, eps);
    }
}

/// The sums of squares of eight rows over their first `8·⌊width/8⌋`
/// elements (and that count), each row's chain of f64 additions in order
/// as in [`rms_norm_rows`]: eight elements of each row are squared in f32
/// and widened, the 8×8 block is transposed so that lane `r` holds row `r`,
/// and the eight columns are added in order, one `vaddpd` for all rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx512f")]
fn sum_squares8_avx512(rows: &[&[f32]; 8]) -> ([f64; 8], usize) {
    use std::arch::x86_64::*;
    let width = rows.iter().map(|r| r.len()).min().unwrap_or(0);
    let body = width - width % 8;
    let mut s = _mm512_setzero_pd();
    for i in (0..body).step_by(8) {
        let d: [__m512d; 8] = std::array::from_fn(|r| {
            // SAFETY: `i + 8 <= body <= rows[r].len()`; `loadu` needs no
            // alignment.
            let v = unsafe { _mm256_loadu_ps(rows[r].as_ptr().add(i)) };
            _mm512_cvtps_pd(_mm256_mul_ps(v, v))
        });
        // Pairs of rows: lanes (r, k) for even k, then odd k.
        let lo: [__m512d; 4] = std::array::from_fn(|p| _mm512_unpacklo_pd(d[2 * p], d[2 * p + 1]));
        let hi: [__m512d; 4] = std::array::from_fn(|p| _mm512_unpackhi_pd(d[2 * p], d[2 * p + 1]));
        // Four rows: 128-bit lanes of columns {0, 4} (0x88) or {2, 6}
        // (0xDD) of the even ones; the same of the odd ones.
        let (e04_a, e04_b) = (
            _mm512_shuffle_f64x2::<0x88>(lo[0], lo[1]),
            _mm512_shuffle_f64x2::<0x88>(lo[2], lo[3]),
        );
        let (e26_a, e26_b) = (
            _mm512_shuffle_f64x2::<0xDD>(lo[0], lo[1]),
            _mm512_shuffle_f64x2::<0xDD>(lo[2], lo[3]),
        );
        let (o15_a, o15_b) = (
            _mm512_shuffle_f64x2::<0x88>(hi[0], hi[1]),
            _mm512_shuffle_f64x2::<0x88>(hi[2], hi[3]),
        );
        let (o37_a, o37_b) = (
            _mm512_shuffle_f64x2::<0xDD>(hi[0], hi[1]),
            _mm512_shuffle_f64x2::<0xDD>(hi[2], hi[3]),
        );
        // Column k of all eight rows, in order.
        let cols = [
            _mm512_shuffle_f64x2::<0x88>(e04_a, e04_b),
            _mm512_shuffle_f64x2::<0x88>(o15_a, o15_b),
            _mm512_shuffle_f64x2::<0x88>(e26_a, e26_b),
            _mm512_shuffle_f64x2::<0x88>(o37_a, o37_b),
            _mm512_shuffle_f64x2::<0xDD>(e04_a, e04_b),
            _mm512_shuffle_f64x2::<0xDD>(o15_a, o15_b),
            _mm512_shuffle_f64x2::<0xDD>(e26_a, e26_b),
            _mm512_shuffle_f64x2::<0xDD>(o37_a, o37_b),
        ];
        for c in cols {
            s = _mm512_add_pd(s, c);
        }
    }
    let mut out = [0.0f64; 8];
    // SAFETY: `out` is eight f64s.
    unsafe { _mm512_storeu_pd(out.as_mut_ptr(), s) };
    (out, body)
}

/// The second half of [`rms_norm`], from the row's sum of squares.
#[inline(always)]
fn scale_row(x: &mut [f32], sum: f64, weight: &[f32], eps: f32) {
    let mean = (sum / x.len() as f64) as f32;
    let scale = 1.0 / (mean + eps).sqrt();
    for (v, &w) in x.iter_mut().zip(weight) {
        *v = (*v * scale) * w;
    }
}

/// Out-of-place [`rms_norm`].
pub fn rms_norm_into(out: &mut [f32], x: &[f32], weight: &[f32], eps: f32) {
    out.copy_from_slice(x);
    rms_norm(out, weight, eps);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::tests::values;

    #[test]
    fn rms_norm_rows_is_rms_norm_per_row() {
        for (rows, width) in [
            (0, 5),
            (1, 7),
            (3, 640),
            (4, 256),
            (9, 33),
            (13, 1),
            (16, 7),
            (8, 8),
            (8, 23),
            (17, 640),
        ] {
            // Magnitudes from 1e-3 to 1e3: squares 40 bits apart, so the f64
            // sums are inexact and their order shows in the last bits.
            let x: Vec<f32> = values(rows * width, 5)
                .iter()
                .enumerate()
                .map(|(i, v)| v * 10f32.powi((i * 5 % 7) as i32 - 3))
                .collect();
            let w = values(width, 6);
            let mut got = x.clone();
            rms_norm_rows(&mut got, width, &w, 1e-6);
            let mut want = x.clone();
            for row in want.chunks_exact_mut(width) {
                rms_norm(row, &w, 1e-6);
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{rows} rows of {width}");
        }
    }

    /// The f64 sums themselves (the f32 result hides most of their last
    /// bits), on squares 40 bits apart, where the order of the additions
    /// shows.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_sums_of_squares_keep_the_order() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            return;
        }
        for width in [8, 16, 40, 256, 643] {
            let x: Vec<f32> = values(8 * width, 9)
                .iter()
                .enumerate()
                .map(|(i, v)| v * 10f32.powi((i * 5 % 7) as i32 - 3))
                .collect();
            let rows: [&[f32]; 8] = std::array::from_fn(|r| &x[r * width..][..width]);
            // SAFETY: AVX-512F was checked above.
            let (got, body) = unsafe { sum_squares8_avx512(&rows) };
            for (r, row) in rows.iter().enumerate() {
                let want = row[..body].iter().fold(0.0f64, |s, &v| s + f64::from(v * v));
                assert_eq!(got[r].to_bits(), want.to_bits(), "row {r} of width {width}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    proptest::proptest! {
        /// The same on random rows: widths of 1 to 700, values of random
        /// sign and magnitude (2^-40 to 2^40).
        #[test]
        fn simd_sums_of_squares_match_the_chain(
            width in 1usize..700,
            seed in proptest::prelude::any::<u64>(),
        ) {
            if !std::arch::is_x86_feature_detected!("avx512f") {
                return Ok(());
            }
            let mut s = seed | 1;
            let x: Vec<f32> = (0..8 * width)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    let m = (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                    m * 2f32.powi((s % 81) as i32 - 40)
                })
                .collect();
            let rows: [&[f32]; 8] = std::array::from_fn(|r| &x[r * width..][..width]);
            // SAFETY: AVX-512F was checked above.
            let (got, body) = unsafe { sum_squares8_avx512(&rows) };
            proptest::prop_assert_eq!(body, width - width % 8);
            for (r, row) in rows.iter().enumerate() {
                let want = row[..body].iter().fold(0.0f64, |s, &v| s + f64::from(v * v));
                proptest::prop_assert_eq!(got[r].to_bits(), want.to_bits(), "row {}", r);
            }
        }
    }

    #[test]
    fn rms_norm_unit_weight() {
        let mut x = [3.0f32, 4.0];
        rms_norm(&mut x, &[1.0, 1.0], 0.0);
        let r = (12.5f32).sqrt();
        assert!((x[0] - 3.0 / r).abs() < 1e-6 && (x[1] - 4.0 / r).abs() < 1e-6);
    }
}
