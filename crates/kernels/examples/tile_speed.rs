//! Per-pair dot products against the matmul tiles, single thread, on the
//! shapes of Gemma 3 270M: best of several runs, so other load on the
//! machine matters less.
//!
//! ```text
//! cargo run --release -p kernels --example tile_speed
//! ```

use gguf::GgmlType;
use kernels::dot::vec_dot_for;
use kernels::matmul::{matmul, Matrix};

/// This thread's time on a CPU: other load on the machine then stretches
/// the runs less than it stretches wall time.
fn cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn best_of(reps: usize, mut f: impl FnMut()) -> f64 {
    (0..reps)
        .map(|_| {
            let t = cpu_time();
            f();
            cpu_time() - t
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (ty, rows, cols) in [
        (GgmlType::Q8_0, 32768, 640),
        (GgmlType::Q8_0, 1024, 640),
        (GgmlType::Q5_0, 2048, 640),
        (GgmlType::Q5_0, 640, 2048),
    ] {
        // Enough copies to overflow the caches, as a forward pass does:
        // each run reads the next one from memory.
        let bytes = rows * cols / 32 * ty.type_size();
        // (SOBRE_CACHED=1: two copies, to see the compute alone.)
        let copies = if std::env::var_os("SOBRE_CACHED").is_some() {
            2
        } else {
            (96 << 20) / bytes + 1
        };
        let mut data: Vec<u8> = (0..bytes * copies).map(|_| next() as u8).collect();
        for block in data.chunks_exact_mut(ty.type_size()) {
            block[0] = 0x00;
            block[1] = 0x20; // a small positive f16
        }
        let mats: Vec<Matrix> = data
            .chunks_exact(bytes)
            .map(|d| Matrix::new(ty, rows, cols, d).unwrap())
            .collect();
        let w = mats[0];
        let (vt, dot) = vec_dot_for(ty).unwrap();
        for n_tok in [1usize, 4, 8] {
            let x: Vec<f32> = (0..n_tok * cols)
                .map(|_| (next() % 2000) as f32 / 1000.0 - 1.0)
                .collect();
            let mut act = vec![0u8; w.act_bytes(n_tok)];
            let mut out = vec![0.0f32; n_tok * rows];
            let mut k = 0;
            let tiled = best_of(7, || {
                k += 1;
                for m in &mats[(k % 2) * copies / 2..][..copies / 2] {
                    matmul(m, &x, n_tok, &mut out, &mut act, 1);
                }
            }) / (copies / 2) as f64;
            matmul(&w, &x, n_tok, &mut out, &mut act, 1);
            let ar = vt.row_bytes(cols);
            let mut out2 = vec![0.0f32; n_tok * rows];
            let pairs = best_of(7, || {
                k += 1;
                for m in &mats[(k % 2) * copies / 2..][..copies / 2] {
                    for r in 0..rows {
                        for t in 0..n_tok {
                            out2[t * rows + r] = dot(m.row(r), &act[t * ar..(t + 1) * ar]);
                        }
                    }
                }
            }) / (copies / 2) as f64;
            for r in 0..rows {
                for t in 0..n_tok {
                    out2[t * rows + r] = dot(w.row(r), &act[t * ar..(t + 1) * ar]);
                }
            }
            assert!(out.iter().zip(&out2).all(|(a, b)| a.to_bits() == b.to_bits()));
            println!(
                "{ty} {rows}x{cols} tokens {n_tok}: per pair {:.2} ms, tiles {:.2} ms ({:.2}x); {:.1} ns/pair-block",
                pairs * 1e3,
                tiled * 1e3,
                pairs / tiled,
                tiled * 1e9 / (rows * n_tok * cols / 32) as f64
            );
        }
    }
}
