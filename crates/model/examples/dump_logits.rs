//! Debugging aid: `dump_logits MODEL OUT.f32 [--steps] ID...` feeds the ids
//! as one prompt (or, with `--steps`, one token per step, as generation
//! does) and writes every position's logits as raw little-endian f32.

use model::{KvCache, Model};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().collect();
    let steps = args
        .iter()
        .position(|a| a == "--steps")
        .map(|i| args.remove(i))
        .is_some();
    if args.len() < 4 {
        return Err("usage: dump_logits MODEL OUT.f32 [--steps] ID...".into());
    }
    let file = gguf::GgufFile::open(&args[1])?;
    let model = Model::load(&file)?;
    let ids: Vec<u32> = args[3..].iter().map(|s| s.parse()).collect::<Result<_, _>>()?;
    let n = ids.len();
    let mut cache = KvCache::new(model.config(), n.max(1));
    let mut scratch = model.scratch(n, n, n, 2);
    let logits = if steps {
        let mut all = Vec::new();
        for (pos, &id) in ids.iter().enumerate() {
            all.extend(model.forward(&[id], pos, &mut cache, &mut scratch, &[0])?);
        }
        all
    } else {
        let outputs: Vec<usize> = (0..n).collect();
        model
            .forward(&ids, 0, &mut cache, &mut scratch, &outputs)?
            .to_vec()
    };
    let bytes: Vec<u8> = logits.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&args[2], bytes)?;
    Ok(())
}
