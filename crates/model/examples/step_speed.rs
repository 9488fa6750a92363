//! CPU time of one decode step for 1 sequence against N sequences (one
//! token each), alternating, best and mean over the steps: what continuous
//! batching costs per step, without the engine around it. With THREADS 1
//! it is the work itself; with more, pool threads that wait also count.
//!
//! ```text
//! cargo run --release -p model --example step_speed -- MODEL.gguf [N] [STEPS] [THREADS]
//! ```

use model::{KvCache, Model, Segment};

/// This process's time on the CPUs (all threads): other load on the
/// machine stretches it less than wall time.
struct Instant(f64);

impl Instant {
    fn now() -> Instant {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec to write; the clock id is a constant.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime");
        Instant(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
    }

    fn elapsed(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(Instant::now().0 - self.0)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: step_speed MODEL.gguf [N] [STEPS] [THREADS]")?;
    let n: usize = args.next().map_or(Ok(4), |s| s.parse())?;
    let steps: usize = args.next().map_or(Ok(40), |s| s.parse())?;
    let threads: usize = args.next().map_or(Ok(2), |s| s.parse())?;
    let file = gguf::GgufFile::open(&path)?;
    let model = Model::load(&file)?;
    let n_ctx = 256;
    let mut caches: Vec<KvCache> = (0..n).map(|_| KvCache::new(model.config(), n_ctx)).collect();
    let mut s = model.scratch(64, n_ctx, n, threads);
    let prompt: Vec<u32> = (0..16).map(|i| 2 + i * 17).collect();
    for c in caches.iter_mut() {
        model.forward(&prompt, 0, c, &mut s, &[])?;
    }
    let (mut one, mut many) = (f64::INFINITY, f64::INFINITY);
    let (mut sum1, mut sumn) = (0.0, 0.0);
    for step in 0..steps {
        let pos = prompt.len() + step % 64;
        let tok = [5u32 + step as u32];
        let t = Instant::now();
        model.forward(&tok, pos, &mut caches[0], &mut s, &[0])?;
        let d1 = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut segs: Vec<Segment> = caches
            .iter_mut()
            .map(|cache| Segment {
                tokens: &tok,
                pos0: pos,
                cache,
            })
            .collect();
        let outs: Vec<usize> = (0..n).collect();
        model.forward_batch(&mut segs, &mut s, &outs)?;
        let dn = t.elapsed().as_secs_f64();
        one = one.min(d1);
        many = many.min(dn);
        sum1 += d1;
        sumn += dn;
    }
    println!(
        "1 seq: best {:.2} ms mean {:.2} ms; {n} seqs: best {:.2} ms mean {:.2} ms; ratio best {:.2} mean {:.2}",
        one * 1e3,
        sum1 / steps as f64 * 1e3,
        many * 1e3,
        sumn / steps as f64 * 1e3,
        many / one,
        sumn / sum1
    );
    Ok(())
}
