//! A matmul against one real tensor of a GGUF file, for 1, 2, 4 and 8
//! tokens (or the counts given) on one thread: thread CPU time per call and per (row block,
//! token) pair. For Gemma 3's output matrix (262144 × 640 Q8_0, 178 MB,
//! read from memory on every call) it shows how much more a decode step of
//! several sequences costs than one.
//!
//! ```text
//! cargo run --release -p kernels --example tensor_speed -- MODEL.gguf [TENSOR [TOKENS...]]
//! ```
//!
//! The tokens are one batch (a prompt's rounding); with
//! `SOBRE_ONE_PER_BATCH=1` each is a batch of its own, as in a decode step
//! of several sequences (K-quants then take llama.cpp's gemv arithmetic).

use kernels::matmul::{matmul_batches, Matrix};
use kernels::packed::PackedQ8_0;

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: tensor_speed MODEL.gguf [TENSOR [TOKENS...]]")?;
    let name = args.next().unwrap_or_else(|| "token_embd.weight".into());
    let counts: Vec<usize> = args.map(|a| a.parse()).collect::<Result<_, _>>()?;
    let counts = if counts.is_empty() {
        vec![1, 2, 4, 8]
    } else {
        counts
    };
    let max = counts.iter().copied().max().unwrap_or(1);
    let file = gguf::GgufFile::open(&path)?;
    let info = file.require_tensor(&name)?;
    let (cols, rows) = match info.shape[..] {
        [c, r] => (c as usize, r as usize),
        _ => return Err(format!("{name} is not a matrix").into()),
    };
    let w = Matrix::new(info.ggml_type, rows, cols, file.tensor_data(info)?)?;
    let x: Vec<f32> = (0..max * cols)
        .map(|i| (i * 31 % 17) as f32 / 8.0 - 1.0)
        .collect();
    let mut out = vec![0f32; max * rows];
    let mut act = vec![0u8; w.act_bytes(max).max(PackedQ8_0::act_bytes(cols, max))];
    // SOBRE_PACKED=1: the repacked layout the output head uses (Q8_0 only).
    let packed = std::env::var_os("SOBRE_PACKED")
        .and_then(|_| PackedQ8_0::pack(&w, |_| {}))
        .inspect(|_| println!("{name}: repacked"));
    let ones = vec![1usize; max];
    let one_per_batch = std::env::var_os("SOBRE_ONE_PER_BATCH").is_some();
    let blocks = rows * cols / info.ggml_type.block_size();
    for round in 0..3 {
        for &n in &counts {
            let t = cpu_time();
            for _ in 0..3 {
                match &packed {
                    Some(p) => p.matmul(&x, n, &mut out, &mut act, 1),
                    None if one_per_batch => matmul_batches(&w, &x, n, &ones[..n], &mut out, &mut act, 1),
                    None => matmul_batches(&w, &x, n, &[n], &mut out, &mut act, 1),
                }
            }
            let el = (cpu_time() - t) / 3.0;
            println!(
                "round {round}: {name} {} {rows}x{cols}, {n} tokens: {:.2} ms, {:.2} ns per block and token",
                info.ggml_type,
                el * 1e3,
                el * 1e9 / (blocks * n) as f64
            );
        }
    }
    Ok(())
}
