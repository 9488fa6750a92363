//! `sobre chat-template MODEL --messages FILE.json`: the prompt a
//! conversation becomes, rendered by the model's own template (or the
//! built-in one for its architecture), exactly as `sobre serve` would.

use anyhow::Context;
use chat::{ChatTemplate, RenderOptions};
use gguf::GgufFile;
use serde_json::Value;
use tokenizer::Tokenizer;

use crate::cli::ChatTemplateArgs;

pub fn run(args: &ChatTemplateArgs) -> anyhow::Result<()> {
    let file = GgufFile::open(&args.file).with_context(|| format!("{}", args.file.display()))?;
    let text = std::fs::read_to_string(&args.messages)
        .with_context(|| format!("cannot read {}", args.messages.display()))?;
    let doc: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", args.messages.display()))?;
    let messages = match doc {
        Value::Object(mut o) => o
            .remove("messages")
            .with_context(|| format!("{} has no \"messages\" list", args.messages.display()))?,
        other => other,
    };
    let template = ChatTemplate::from_metadata(file.metadata())?;
    let tok = Tokenizer::from_metadata(file.metadata())?;
    let text_of = |id: Option<u32>| id.and_then(|i| tok.token_text(i)).unwrap_or("").to_string();
    let opts = RenderOptions {
        add_generation_prompt: !args.no_generation_prompt,
        bos_token: text_of(tok.bos_id()),
        eos_token: text_of(tok.eos_id()),
        strip_bos: false,
    };
    let prompt = template.render(&messages, &opts)?;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(prompt.as_bytes())?;
    out.flush()?;
    Ok(())
}
