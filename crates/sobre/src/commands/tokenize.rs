//! `sobre tokenize` and `sobre detokenize`: the model's own tokenizer, built
//! from the GGUF metadata alone (so a file whose weights are cut off works).

use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::Context;
use tokenizer::{DecodeOptions, Tokenizer};

use crate::cli::{DetokenizeArgs, TokenizeArgs};

fn load(path: &Path) -> anyhow::Result<Tokenizer> {
    let file = gguf::GgufFile::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    Tokenizer::from_metadata(file.metadata())
        .with_context(|| format!("no usable tokenizer in {}", path.display()))
}

pub fn tokenize(args: &TokenizeArgs) -> anyhow::Result<()> {
    let tok = load(&args.file)?;
    let text = match &args.text {
        Some(t) => t.clone(),
        None => {
            let mut bytes = Vec::new();
            io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
            String::from_utf8(bytes).map_err(|e| {
                anyhow::anyhow!(
                    "standard input is not valid UTF-8 (at byte {})",
                    e.utf8_error().valid_up_to()
                )
            })?
        }
    };
    let mut ids = tok.encode(&text, true, !args.no_special);
    if args.no_bos {
        if let (Some(bos), Some(&first)) = (tok.bos_id(), ids.first()) {
            if tok.add_bos() && first == bos {
                ids.remove(0);
            }
        }
    }
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &serde_json::json!({ "ids": ids }))?;
        writeln!(out)?;
    } else {
        let line: Vec<String> = ids.iter().map(u32::to_string).collect();
        writeln!(out, "{}", line.join(" "))?;
    }
    out.flush()?;
    Ok(())
}

pub fn detokenize(args: &DetokenizeArgs) -> anyhow::Result<()> {
    let tok = load(&args.file)?;
    let bytes = tok
        .decode_with(&args.ids, DecodeOptions::default())
        .with_context(|| format!("cannot detokenize with {}", args.file.display()))?;
    let mut out = io::stdout().lock();
    if args.json {
        let text = String::from_utf8_lossy(&bytes);
        serde_json::to_writer(&mut out, &serde_json::json!({ "text": text }))?;
        writeln!(out)?;
    } else {
        // The text exactly, with no newline added (pieces may end inside a
        // character: the bytes are written as they are).
        out.write_all(&bytes)?;
    }
    out.flush()?;
    Ok(())
}
