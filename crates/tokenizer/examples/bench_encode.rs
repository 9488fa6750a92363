//! Encoding speed: `cargo run --release -p tokenizer --example bench_encode -- MODEL.gguf TEXT_FILE [RUNS [IDS.json]]`
//!
//! Prints one JSON line: tokens, bytes, best and median seconds over RUNS
//! (default 5) encodes of the whole file (add BOS, parse specials), tokens/s;
//! with IDS.json (a JSON array of reference ids) also whether the ids are identical.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: bench_encode MODEL.gguf TEXT_FILE [RUNS]".into());
    }
    let runs: usize = args.get(3).map(|r| r.parse()).transpose()?.unwrap_or(5).max(1);
    let t0 = Instant::now();
    let file = gguf::GgufFile::open(&args[1])?;
    let tok = tokenizer::Tokenizer::from_metadata(file.metadata())?;
    let load_s = t0.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&args[2])?;
    let mut times = Vec::new();
    let mut n = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let ids = tok.encode(&text, true, true);
        times.push(t.elapsed().as_secs_f64());
        n = ids.len();
    }
    let identical = match args.get(4) {
        Some(path) => {
            let want: Vec<u32> = std::fs::read_to_string(path)?
                .trim_matches(|c| c == '[' || c == ']' || char::is_whitespace(c))
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().parse())
                .collect::<Result<_, _>>()?;
            format!("{}", want == tok.encode(&text, true, true))
        }
        None => "null".to_string(),
    };
    times.sort_by(f64::total_cmp);
    let best = times[0];
    let median = times[times.len() / 2];
    println!(
        "{{\"tokens\": {n}, \"bytes\": {}, \"load_s\": {load_s:.3}, \"best_s\": {best:.4}, \"median_s\": {median:.4}, \"tokens_per_s\": {:.0}, \"identical\": {identical}}}",
        text.len(),
        n as f64 / best
    );
    Ok(())
}
