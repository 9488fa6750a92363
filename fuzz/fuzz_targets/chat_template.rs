//! Chat templates are code from the model file: arbitrary template source
//! and arbitrary messages must compile and render, or fail with an error,
//! quickly (the fuel budget and recursion limit), never panic. The rendered
//! prompt also goes through the reasoning splitter, whose streamed and whole
//! splits must agree.
//!
//! Input: byte 0 holds the flags; the rest is the template source, then,
//! after the first NUL byte, the messages as JSON (a default conversation
//! when they are missing or not JSON).

#![no_main]

use std::time::{Duration, Instant};

use chat::{ChatTemplate, ReasoningDelta, ReasoningSplitter, RenderOptions};
use libfuzzer_sys::fuzz_target;

/// Far above what the fuel allows even in an instrumented build; libFuzzer's
/// `-timeout` catches a render that never ends.
const SLOW: Duration = Duration::from_secs(5);

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (source, messages) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let source = String::from_utf8_lossy(source);
    let messages = messages
        .and_then(|m| serde_json::from_slice::<serde_json::Value>(m).ok())
        .unwrap_or_else(|| {
            serde_json::json!([
                {"role": "system", "content": "Tu es bref."},
                {"role": "user", "content": "Bonjour <think>"},
                {"role": "assistant", "content": "<think>hm</think>Salut", "tool_calls": [{"name": "f", "arguments": {"x": 1}}]},
                {"role": "user", "content": [{"type": "text", "text": "Et "}, {"type": "text", "text": "2+2 ?"}]},
            ])
        });
    let opts = RenderOptions {
        add_generation_prompt: flags & 1 != 0,
        bos_token: if flags & 2 != 0 {
            "<bos>".into()
        } else {
            String::new()
        },
        eos_token: "<eos>".into(),
        strip_bos: flags & 4 != 0,
    };

    let start = Instant::now();
    let rendered = ChatTemplate::new(source.as_ref()).and_then(|t| t.render(&messages, &opts));
    let elapsed = start.elapsed();
    assert!(elapsed < SLOW, "render took {elapsed:?}");
    let text = match rendered {
        Ok(text) => text,
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "error message is not one line: {msg:?}");
            return;
        }
    };

    // The splitter on the output: chunked as the input's bytes say, it gives
    // what the whole text gives.
    let prompt = if flags & 8 != 0 { "<think>\n" } else { "" };
    let whole = ReasoningSplitter::split(&text, prompt);
    let mut s = ReasoningSplitter::for_prompt(prompt);
    let mut got = ReasoningDelta::default();
    let mut pos = 0;
    for &b in rest.iter().cycle().take(64) {
        if pos >= text.len() {
            break;
        }
        let mut end = (pos + 1 + b as usize % 16).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        let d = s.push(&text[pos..end]);
        got.reasoning.push_str(&d.reasoning);
        got.content.push_str(&d.content);
        pos = end;
    }
    let d = s.push(&text[pos..]);
    got.reasoning.push_str(&d.reasoning);
    got.content.push_str(&d.content);
    let d = s.finish();
    got.reasoning.push_str(&d.reasoning);
    got.content.push_str(&d.content);
    assert_eq!(got, whole);
});
