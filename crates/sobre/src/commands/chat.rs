//! `sobre run MODEL` without `--prompt`: a conversation, as `ollama run`
//! offers. Each message goes through the model's chat template; the KV cache
//! keeps the conversation, so a new turn only processes the tokens that
//! changed since the last one.

use std::io::{self, BufRead, IsTerminal, Write};

use anyhow::{bail, Context};
use chat::{ChatTemplate, RenderOptions};
use model::{Model, Sampler, Step};
use serde_json::{json, Value};
use tokenizer::Tokenizer;

use super::run::{sampler_config, threads, N_BATCH};
use crate::cli::RunArgs;

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let path = super::resolve_model(&args.model)?;
    let file = gguf::GgufFile::open(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let model = Model::load(&file).with_context(|| format!("cannot load {}", path.display()))?;
    let tok = Tokenizer::from_metadata(file.metadata())
        .with_context(|| format!("no usable tokenizer in {}", path.display()))?;
    let template = ChatTemplate::from_metadata(file.metadata())?;
    let config = model.config().clone();
    let n_ctx = args.ctx_size.clamp(1, config.n_ctx_train.max(1));
    let opts = gpu::Options {
        device: args.device,
        n_slots: 1,
        n_ctx,
        n_batch: N_BATCH,
        n_outputs: 1,
        threads: threads(args),
    };
    let (mut backend, _) = super::open_backend(model, &opts)?;
    let mut sampler = Sampler::new(sampler_config(args), config.n_vocab);
    let text_of = |id: Option<u32>| id.and_then(|i| tok.token_text(i)).unwrap_or("").to_string();
    let render_opts = RenderOptions {
        add_generation_prompt: true,
        bos_token: text_of(tok.bos_id()),
        eos_token: text_of(tok.eos_id()),
        // The tokenizer adds BOS itself; a template's own would double it.
        strip_bos: tok.add_bos(),
    };

    let stdin = io::stdin();
    let terminal = stdin.is_terminal();
    let mut out = io::stdout().lock();
    if terminal {
        writeln!(out, "Chatting with {} (/bye to leave).", args.model.display())?;
    }
    let mut messages: Vec<Value> = Vec::new();
    let mut cached: Vec<u32> = Vec::new(); // the tokens the KV cache holds
    let mut lines = stdin.lock().lines();
    loop {
        if terminal {
            write!(out, ">>> ")?;
            out.flush()?;
        }
        let Some(line) = lines.next().transpose()? else {
            break;
        };
        let line = line.trim();
        if line == "/bye" {
            break;
        }
        if line.is_empty() {
            continue;
        }
        messages.push(json!({"role": "user", "content": line}));
        let prompt = template.render(&Value::Array(messages.clone()), &render_opts)?;
        let ids = tok.encode(&prompt, true, true);
        if ids.len() + 1 >= n_ctx {
            bail!("the conversation ({} tokens) no longer fits the context of {n_ctx}: start again with a larger --ctx-size", ids.len());
        }
        // Reuse what the cache already holds; at least one token is fed so
        // that there are logits to sample from.
        let common = cached
            .iter()
            .zip(&ids)
            .take_while(|(a, b)| a == b)
            .count()
            .min(ids.len() - 1);
        let mut logits = backend.eval(0, &ids[common..], common)?;
        cached = ids;
        let mut decoder = tok.stream_decoder(false);
        let mut answer = String::new();
        for _ in 0..args.n_predict {
            let next = sampler.sample(logits);
            if tok.is_eog(next) {
                break;
            }
            sampler.accept(next);
            let piece = decoder.push(next)?;
            out.write_all(piece.as_bytes())?;
            out.flush()?;
            answer.push_str(&piece);
            let pos = cached.len();
            cached.push(next);
            if pos + 1 >= n_ctx {
                break;
            }
            let step = [Step {
                slot: 0,
                tokens: &[next],
                pos0: pos,
            }];
            logits = backend.forward(&step, &[0])?;
        }
        let rest = decoder.finish();
        out.write_all(rest.as_bytes())?;
        answer.push_str(&rest);
        writeln!(out)?;
        messages.push(json!({"role": "assistant", "content": answer.trim()}));
    }
    Ok(())
}
