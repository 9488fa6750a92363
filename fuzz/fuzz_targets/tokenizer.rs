//! Tokenizers on arbitrary text and arbitrary ids: encode with every flag
//! combination, decode, stream-decode, and the invariants that hold for each.
//!
//! The vocabularies are the real ones: Gemma 3's SentencePiece vocabulary
//! (262,144 tokens) and DeepSeek-R1-Qwen's byte-level BPE (152,064 tokens,
//! merges and pre-tokenizer), read at start from the test models that
//! `scripts/fetch-models` caches (`$SOBRE_MODELS`, default
//! `~/.cache/sobre/models`; a few MB of vocabulary each, too big to commit).
//! Small synthetic vocabularies built here run always, so the target still
//! works, with less reach, where the models are missing.
//!
//! Input: byte 0 picks the tokenizer and the flags, the rest is the text
//! (lossy UTF-8) and, read as little-endian u32s, the ids to decode.

#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use gguf::{Array, GgufFile, Metadata, Value, ValueType};
use libfuzzer_sys::fuzz_target;
use tokenizer::Tokenizer;

struct Case {
    name: &'static str,
    tok: Tokenizer,
    /// `decode(encode(s, false, false)) == s` for valid text: holds where the
    /// vocabulary covers every byte, no space prefix is added and no spaces
    /// are cleaned up on decode (SentencePiece also turns a literal U+2581
    /// in the text into a space).
    round_trip: bool,
    /// The vocabulary escapes spaces as U+2581 (SentencePiece).
    spm: bool,
    /// Decoding cleans up spaces (` ,` -> `,`) over the whole text, which a
    /// stream cannot do: streaming equals decoding only without it.
    clean_spaces: bool,
}

static TOKENIZERS: LazyLock<Vec<Case>> = LazyLock::new(load);

fn models_dir() -> PathBuf {
    match std::env::var_os("SOBRE_MODELS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/sobre/models"),
    }
}

fn load() -> Vec<Case> {
    let mut cases = vec![
        Case {
            name: "synthetic-spm",
            tok: Tokenizer::from_metadata(&synthetic_spm(false)).expect("synthetic spm"),
            round_trip: true,
            spm: true,
            clean_spaces: false,
        },
        Case {
            name: "synthetic-spm-space-prefix",
            tok: Tokenizer::from_metadata(&synthetic_spm(true)).expect("synthetic spm"),
            round_trip: false,
            spm: true,
            clean_spaces: false,
        },
        Case {
            name: "synthetic-bpe-qwen2",
            tok: Tokenizer::from_metadata(&synthetic_bpe("qwen2")).expect("synthetic bpe"),
            round_trip: true,
            spm: false,
            clean_spaces: false,
        },
        Case {
            name: "synthetic-bpe-llama3",
            tok: Tokenizer::from_metadata(&synthetic_bpe("llama3")).expect("synthetic bpe"),
            round_trip: false,
            spm: false,
            clean_spaces: true,
        },
    ];
    for (name, file, spm) in [
        ("gemma3", "gemma-3-270m-q4_k_m.gguf", true),
        (
            "deepseek-r1-qwen",
            "deepseek-r1-distill-qwen-7b-q4_k_m.part0000.gguf",
            false,
        ),
    ] {
        let path = models_dir().join(file);
        match GgufFile::open(&path) {
            Ok(f) => {
                let tok = Tokenizer::from_metadata(f.metadata()).expect("the test model's tokenizer");
                let round_trip = f.metadata().get_bool("tokenizer.ggml.add_space_prefix") != Some(true);
                // Both test models' vocabularies clean no spaces (Gemma is
                // SentencePiece, DeepSeek's `deepseek-r1-qwen` pre-tokenizer).
                cases.push(Case {
                    name,
                    tok,
                    round_trip,
                    spm,
                    clean_spaces: false,
                });
            }
            Err(e) => eprintln!(
                "fuzz/tokenizer: {e}; fuzzing without the {name} vocabulary (run scripts/fetch-models)"
            ),
        }
    }
    let names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    eprintln!("fuzz/tokenizer: vocabularies {names:?}");
    cases
}

fn strings(values: impl IntoIterator<Item = String>) -> Value {
    Value::Array(Array::new(
        ValueType::String,
        values.into_iter().map(Value::String),
    )
    .unwrap())
}

fn ints(values: impl IntoIterator<Item = i32>) -> Value {
    Value::Array(Array::new(
        ValueType::I32,
        values.into_iter().map(Value::I32),
    )
    .unwrap())
}

/// Tokens with their llama.cpp token types (1 normal, 2 unknown, 3 control,
/// 4 user-defined, 6 byte).
fn push_common(md: &mut Metadata, model: &str, tokens: Vec<(String, i32)>, scores: bool) {
    let n = tokens.len();
    md.insert("tokenizer.ggml.model", Value::String(model.into()));
    md.insert("tokenizer.ggml.token_type", ints(tokens.iter().map(|t| t.1)));
    if scores {
        md.insert(
            "tokenizer.ggml.scores",
            Value::Array(Array::new(
                ValueType::F32,
                (0..n).map(|i| Value::F32(-(i as f32) / 7.0)),
            )
            .unwrap()),
        );
    }
    md.insert("tokenizer.ggml.tokens", strings(tokens.into_iter().map(|t| t.0)));
}

/// A SentencePiece vocabulary: byte fallback for all 256 bytes, pieces with
/// U+2581, control and user-defined tokens (two of which overlap).
fn synthetic_spm(space_prefix: bool) -> Metadata {
    let mut tokens = vec![
        ("<unk>".to_string(), 2),
        ("<s>".to_string(), 3),
        ("</s>".to_string(), 3),
    ];
    tokens.extend((0..=255u8).map(|b| (format!("<0x{b:02X}>"), 6)));
    for piece in [
        "\u{2581}",
        "\u{2581}\u{2581}",
        "a",
        "b",
        "ab",
        "abc",
        "\u{2581}a",
        "\u{2581}the",
        "th",
        "he",
        "é",
        "日本",
        "本語",
        "\u{2581}日本",
        "1",
        "12",
        "\n",
        "\u{2581}\n",
    ] {
        tokens.push((piece.to_string(), 1));
    }
    tokens.push(("<start_of_turn>".into(), 3));
    tokens.push(("<end_of_turn>".into(), 3));
    tokens.push(("<think>".into(), 4));
    tokens.push(("</think>".into(), 4));
    tokens.push(("<ab>".into(), 4));
    tokens.push(("b>xy".into(), 4));
    tokens.push(("<unused0>".into(), 5));
    let mut md = Metadata::new();
    push_common(&mut md, "llama", tokens, true);
    md.insert("tokenizer.ggml.add_space_prefix", Value::Bool(space_prefix));
    md.insert("tokenizer.ggml.add_bos_token", Value::Bool(true));
    md.insert("tokenizer.ggml.add_eos_token", Value::Bool(space_prefix));
    md
}

/// GPT-2's byte-to-character map.
fn gpt2_chars() -> Vec<char> {
    let printable: Vec<u32> = (33..=126).chain(161..=172).chain(174..=255).collect();
    let mut chars = vec!['\0'; 256];
    for &b in &printable {
        chars[b as usize] = char::from_u32(b).expect("latin-1");
    }
    let mut extra = 0;
    for b in 0..256u32 {
        if !printable.contains(&b) {
            chars[b as usize] = char::from_u32(256 + extra).expect("BMP");
            extra += 1;
        }
    }
    chars
}

/// A byte-level BPE vocabulary: every byte's character, a few merges, and
/// control and user-defined tokens.
fn synthetic_bpe(pre: &str) -> Metadata {
    let chars = gpt2_chars();
    let enc = |s: &str| -> String { s.bytes().map(|b| chars[b as usize]).collect() };
    let mut tokens: Vec<(String, i32)> = chars.iter().map(|c| (c.to_string(), 1)).collect();
    let merges = [
        (" ", "t"),
        ("h", "e"),
        (" t", "he"),
        ("i", "n"),
        ("in", "g"),
        ("1", "2"),
        ("12", "3"),
        ("\n", "\n"),
        ("é", "t"),
        ("日", "本"),
    ];
    let mut merge_texts = Vec::new();
    for (a, b) in merges {
        let (ea, eb) = (enc(a), enc(b));
        // Multi-byte characters are merged from their bytes first.
        for part in [&ea, &eb] {
            let cs: Vec<char> = part.chars().collect();
            for k in 2..=cs.len() {
                let left: String = cs[..k - 1].iter().collect();
                let right = cs[k - 1].to_string();
                let joined: String = cs[..k].iter().collect();
                if !tokens.iter().any(|t| t.0 == joined) {
                    tokens.push((joined, 1));
                    merge_texts.push(format!("{left} {right}"));
                }
            }
        }
        let joined = format!("{ea}{eb}");
        if !tokens.iter().any(|t| t.0 == joined) {
            tokens.push((joined, 1));
        }
        merge_texts.push(format!("{ea} {eb}"));
    }
    tokens.push(("<|endoftext|>".into(), 3));
    tokens.push(("<|im_start|>".into(), 3));
    tokens.push(("<|im_end|>".into(), 3));
    tokens.push(("<think>".into(), 4));
    tokens.push(("</think>".into(), 4));
    let mut md = Metadata::new();
    push_common(&mut md, "gpt2", tokens, false);
    md.insert("tokenizer.ggml.pre", Value::String(pre.into()));
    md.insert("tokenizer.ggml.merges", strings(merge_texts));
    md
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let cases = &*TOKENIZERS;
    let case = &cases[(flags >> 2) as usize % cases.len()];
    let tok = &case.tok;
    let n = tok.n_vocab();
    let text = String::from_utf8_lossy(rest);
    let (add_special, parse_special) = (flags & 1 != 0, flags & 2 != 0);

    // Encode: every id inside the vocabulary; specials where they belong.
    let ids = tok.encode(&text, add_special, parse_special);
    assert!(
        ids.iter().all(|&id| (id as usize) < n),
        "{}: id outside the vocabulary",
        case.name
    );
    if add_special && tok.add_bos() {
        assert_eq!(ids.first().copied(), tok.bos_id(), "{}: no BOS", case.name);
    }
    if !add_special && !parse_special && text.is_empty() {
        assert!(ids.is_empty());
    }
    let decoded = tok.decode(&ids).expect("encoded ids decode");

    // Round trip, where it is an invariant of the algorithm.
    if case.round_trip && !add_special && !parse_special && !(case.spm && text.contains('\u{2581}')) {
        assert_eq!(decoded, text, "{}: round trip", case.name);
    }

    // Streaming gives the same text as decoding all at once.
    let mut stream = tok.stream_decoder(true);
    let mut streamed = String::new();
    for &id in &ids {
        streamed.push_str(&stream.push(id).expect("encoded ids decode"));
    }
    streamed.push_str(&stream.finish());
    if !case.clean_spaces {
        assert_eq!(streamed, decoded, "{}: stream != decode", case.name);
    }

    // Arbitrary ids: in range they decode (and stream the same), out of
    // range they are an error, never a panic.
    let raw: Vec<u32> = rest
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    // Mostly in range, with the ends and the values past them kept.
    let ids: Vec<u32> = raw
        .iter()
        .map(|&v| if v < u32::MAX - 64 { v % (n as u32 + 2) } else { v })
        .collect();
    let all_valid = ids.iter().all(|&id| (id as usize) < n);
    match tok.decode(&ids) {
        Ok(text) => {
            assert!(all_valid);
            let mut stream = tok.stream_decoder(true);
            let mut streamed = String::new();
            for &id in &ids {
                streamed.push_str(&stream.push(id).expect("valid id"));
            }
            streamed.push_str(&stream.finish());
            if !case.clean_spaces {
                assert_eq!(streamed, text, "{}: stream != decode on arbitrary ids", case.name);
            }
        }
        Err(e) => {
            assert!(!all_valid, "{}: valid ids failed to decode: {e}", case.name);
            assert!(!e.to_string().contains('\n'));
        }
    }
    let opts = tokenizer::DecodeOptions {
        remove_special: flags & 0x40 != 0,
        render_special: flags & 0x80 != 0,
    };
    let _ = tok.decode_with(&ids, opts);
    let mut quiet = tok.stream_decoder(false);
    for &id in &ids {
        let _ = quiet.push(id);
    }
    let _ = quiet.finish();
    for &id in ids.iter().take(64) {
        let _ = (
            tok.piece(id, flags & 0x20 != 0),
            tok.token_text(id),
            tok.is_control(id),
            tok.is_eog(id),
        );
    }
});
