//! Single-thread throughput of each dot product, in GB/s of weight bytes
//! streamed: `cargo run --release -p kernels --example vec_dot_bench`.
//!
//! For each type a Gemma-like matrix (640 columns for the 32-element types,
//! 2048 for K-quants, since 640 is not a multiple of 256) is swept row by
//! row against one activation row, as one decode matvec does. Two sizes:
//! `dram` (~128 MiB of weights, far beyond the caches: what decode sees)
//! and `l2` (~256 KiB, kept in cache: the kernel's own compute speed).
//! Columns: the scalar reference, `dot::vec_dot_for` (what matmul uses
//! today), and each `simd` level this CPU has.
//!
//! Optional arguments: `dram_mib` (default 128) and `repeats` (default 5).

use std::hint::black_box;
use std::time::Instant;

use gguf::GgmlType;
use kernels::dot::{self, VecDotFn};
use kernels::simd;

fn rand_bytes(n: usize, seed: &mut u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed >> 24) as u8
        })
        .collect()
}

/// Random blocks with small, finite f16 scales at the start of each
/// 2-byte-aligned scale field (exact values do not matter for speed).
fn weights(ty: GgmlType, rows: usize, cols: usize, seed: &mut u64) -> Vec<u8> {
    let mut w = rand_bytes(rows * cols / ty.block_size() * ty.type_size(), seed);
    let offsets: &[usize] = match ty {
        GgmlType::Q4K | GgmlType::Q5K => &[0, 2],
        GgmlType::Q6K => &[208],
        _ => &[0],
    };
    for block in w.chunks_exact_mut(ty.type_size()) {
        for &o in offsets {
            block[o..o + 2].copy_from_slice(&half::f16::from_f32(0.01).to_le_bytes());
        }
    }
    w
}

/// Best-of-`repeats` GB/s of sweeping all rows of `w` with `f`.
fn sweep(f: VecDotFn, w: &[u8], row_bytes: usize, act: &[u8], out: &mut [f32], repeats: usize) -> f64 {
    let mut best = f64::INFINITY;
    // Small matrices are swept many times per timing to get past timer noise.
    let inner = (64 << 20) / w.len().max(1) + 1;
    for _ in 0..repeats {
        let t = Instant::now();
        for _ in 0..inner {
            for (o, row) in out.iter_mut().zip(w.chunks_exact(row_bytes)) {
                *o = f(black_box(row), act);
            }
            black_box(&mut *out);
        }
        best = best.min(t.elapsed().as_secs_f64() / inner as f64);
    }
    w.len() as f64 / best / 1e9
}

/// Best-of-`repeats` GB/s of just reading `buf` (a wrapping sum of its
/// 64-bit words): the single-thread streaming limit the kernels approach.
fn read_bw(buf: &[u8], repeats: usize) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let t = Instant::now();
        let mut acc = [0u64; 8];
        for c in black_box(buf).chunks_exact(64) {
            for (a, w) in acc.iter_mut().zip(c.chunks_exact(8)) {
                *a = a.wrapping_add(u64::from_le_bytes(w.try_into().unwrap()));
            }
        }
        black_box(acc);
        best = best.min(t.elapsed().as_secs_f64());
    }
    buf.len() as f64 / best / 1e9
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let dram_mib = args.first().copied().unwrap_or(128);
    let repeats = args.get(1).copied().unwrap_or(5);
    let levels: Vec<simd::Level> = simd::available_levels().collect();
    let mut header = format!(
        "{:<6} {:>5} {:<5} {:>8} {:>10}",
        "type", "cols", "size", "scalar", "dot::now"
    );
    for l in &levels {
        header += &format!(" {:>11}", l.name());
    }
    println!("GB/s of weight bytes, one thread, best of {repeats}");
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let buf = rand_bytes(dram_mib << 20, &mut seed);
    println!("plain read of {dram_mib} MiB: {:.2} GB/s", read_bw(&buf, repeats));
    drop(buf);
    println!("{header}");
    for ty in [
        GgmlType::Q8_0,
        GgmlType::Q4_0,
        GgmlType::Q5_0,
        GgmlType::Q4K,
        GgmlType::Q5K,
        GgmlType::Q6K,
    ] {
        let cols = if ty.block_size() == 256 { 2048 } else { 640 };
        let row_bytes = cols / ty.block_size() * ty.type_size();
        let (vt, scalar) = dot::vec_dot_for_scalar(ty).unwrap();
        let (_, now) = dot::vec_dot_for(ty).unwrap();
        let x: Vec<f32> = rand_bytes(cols, &mut seed)
            .iter()
            .map(|&b| f32::from(b as i8) / 31.0)
            .collect();
        let mut act = vec![0u8; vt.row_bytes(cols)];
        vt.convert_row(&x, &mut act);
        for (label, bytes) in [("dram", dram_mib << 20), ("l2", 256 << 10)] {
            let rows = (bytes / row_bytes).max(1);
            let w = weights(ty, rows, cols, &mut seed);
            let mut out = vec![0.0f32; rows];
            let mut line = format!("{:<6} {:>5} {:<5}", ty.to_string(), cols, label);
            line += &format!(" {:>8.2}", sweep(scalar, &w, row_bytes, &act, &mut out, repeats));
            line += &format!(" {:>10.2}", sweep(now, &w, row_bytes, &act, &mut out, repeats));
            for &l in &levels {
                let (_, f) = simd::vec_dot_for_level(l, ty).unwrap();
                line += &format!(" {:>11.2}", sweep(f, &w, row_bytes, &act, &mut out, repeats));
            }
            println!("{line}");
        }
    }
}
