//! Debugging aid: `dump_logits MODEL OUT.f32 ID...` feeds the ids as one
//! prompt and writes every position's logits as raw little-endian f32.

use model::{KvCache, Model};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: dump_logits MODEL OUT.f32 ID...".into());
    }
    let file = gguf::GgufFile::open(&args[1])?;
    let model = Model::load(&file)?;
    let ids: Vec<u32> = args[3..].iter().map(|s| s.parse()).collect::<Result<_, _>>()?;
    let n = ids.len();
    let mut cache = KvCache::new(model.config(), n.max(1));
    let mut scratch = model.scratch(n, n, n, 2);
    let outputs: Vec<usize> = (0..n).collect();
    let logits = model.forward(&ids, 0, &mut cache, &mut scratch, &outputs)?;
    let bytes: Vec<u8> = logits.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&args[2], bytes)?;
    Ok(())
}
