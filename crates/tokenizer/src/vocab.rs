//! The vocabulary read from GGUF metadata: token texts, scores, types,
//! special ids and flags, with the defaults and fix-ups llama.cpp applies so
//! that ids come out the same.

use gguf::{Array, Metadata, Value};

use crate::error::TokenizerError;
use crate::hash::FxHasher;

/// Token attributes (llama.cpp's `llama_token_attr` bits).
pub(crate) mod attr {
    pub const UNKNOWN: u8 = 1 << 0;
    pub const UNUSED: u8 = 1 << 1;
    pub const NORMAL: u8 = 1 << 2;
    pub const CONTROL: u8 = 1 << 3;
    pub const USER_DEFINED: u8 = 1 << 4;
    pub const BYTE: u8 = 1 << 5;
}

/// Which algorithm the vocabulary is for (`tokenizer.ggml.model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// `llama`: SentencePiece-style, highest score merged first, byte fallback.
    Spm,
    /// `gpt2`: byte-level BPE with ranked merges.
    Bpe,
}

/// The BPE pre-tokenizer (`tokenizer.ggml.pre`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreTokenizer {
    /// Qwen2 / DeepSeek-R1-Qwen: one digit per word.
    Qwen2,
    /// Llama 3: up to three digits per word.
    Llama3,
}

#[derive(Debug)]
pub(crate) struct Vocab {
    pub kind: ModelKind,
    pub pre: Option<PreTokenizer>,
    pub pre_name: String,
    /// All token texts, concatenated; token `i` is `text[offsets[i]..offsets[i+1]]`.
    text: Vec<u8>,
    offsets: Vec<usize>,
    pub scores: Vec<f32>,
    pub attrs: Vec<u8>,
    /// Token text -> id.
    index: TextIndex,
    pub max_token_len: usize,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub eot: Option<u32>,
    pub eom: Option<u32>,
    pub unk: Option<u32>,
    pub pad: Option<u32>,
    pub eog: Vec<u32>,
    pub add_bos: bool,
    pub add_eos: bool,
    pub add_space_prefix: bool,
    pub clean_spaces: bool,
    pub ignore_merges: bool,
}

fn array<'a>(md: &'a Metadata, key: &'static str) -> Result<Option<&'a Array>, TokenizerError> {
    match md.get(key) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(v) => Err(TokenizerError::BadKey {
            key,
            detail: format!("expected an array, found {}", v.value_type()),
        }),
    }
}

fn opt_bool(md: &Metadata, key: &'static str) -> Result<Option<bool>, TokenizerError> {
    match md.get(key) {
        None => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or_else(|| TokenizerError::BadKey {
            key,
            detail: format!("expected a bool, found {}", v.value_type()),
        }),
    }
}

/// An id key; ids outside the vocabulary are ignored as llama.cpp does.
fn opt_id(md: &Metadata, key: &'static str, n: usize) -> Result<Option<u32>, TokenizerError> {
    match md.get(key) {
        None => Ok(None),
        Some(v) => {
            let id = v.as_u64().ok_or_else(|| TokenizerError::BadKey {
                key,
                detail: format!("expected an unsigned integer, found {}", v.value_type()),
            })?;
            Ok(usize::try_from(id).ok().filter(|&i| i < n).map(|i| i as u32))
        }
    }
}

const EOT_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
];
const FIM_PAD_TEXTS: &[&str] = &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
const FIM_REP_TEXTS: &[&str] = &[
    "<|fim_repo|>",
    "<|repo_name|>",
    "<fim-repo>",
    "<REPO>",
    "<reponame>",
];
const FIM_SEP_TEXTS: &[&str] = &["<|file_sep|>"];
const FIM_PRE_TEXTS: &[&str] = &[
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
];
const FIM_SUF_TEXTS: &[&str] = &[
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
];
const FIM_MID_TEXTS: &[&str] = &[
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
    "<|code_middle|>",
    "<|middle|>",
];
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];

impl Vocab {
    pub fn from_metadata(md: &Metadata) -> Result<Vocab, TokenizerError> {
        let model = md
            .get_str("tokenizer.ggml.model")
            .ok_or(TokenizerError::MissingKey("tokenizer.ggml.model"))?;
        let kind = match model {
            "llama" => ModelKind::Spm,
            "gpt2" => ModelKind::Bpe,
            other => return Err(TokenizerError::UnsupportedModel(other.to_string())),
        };
        let pre_name = md.get_str("tokenizer.ggml.pre").unwrap_or("").to_string();

        let tokens =
            array(md, "tokenizer.ggml.tokens")?.ok_or(TokenizerError::MissingKey("tokenizer.ggml.tokens"))?;
        let n = tokens.len();
        if n == 0 {
            return Err(TokenizerError::EmptyVocabulary);
        }
        if u32::try_from(n).is_err() {
            return Err(TokenizerError::BadKey {
                key: "tokenizer.ggml.tokens",
                detail: format!("{n} tokens do not fit 32-bit ids"),
            });
        }

        let mut text = Vec::new();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        let texts = tokens.strs().ok_or_else(|| TokenizerError::BadKey {
            key: "tokenizer.ggml.tokens",
            detail: format!("tokens are {}s, not strings", tokens.elem_type()),
        })?;
        for (i, s) in texts.enumerate() {
            if s.is_empty() {
                text.extend_from_slice(format!("[EMPTY_{i}]").as_bytes());
            } else {
                text.extend_from_slice(s.as_bytes());
            }
            offsets.push(text.len());
        }

        let scores = match array(md, "tokenizer.ggml.scores")? {
            None => vec![0.0; n],
            Some(values) => {
                if values.len() < n {
                    return Err(TokenizerError::BadKey {
                        key: "tokenizer.ggml.scores",
                        detail: format!("{} scores for {n} tokens", values.len()),
                    });
                }
                values
                    .iter()
                    .take(n)
                    .map(|v| {
                        v.as_f32().ok_or_else(|| TokenizerError::BadKey {
                            key: "tokenizer.ggml.scores",
                            detail: format!("a {} is not a number", v.value_type()),
                        })
                    })
                    .collect::<Result<Vec<f32>, _>>()?
            }
        };

        let mut attrs = match array(md, "tokenizer.ggml.token_type")? {
            None => vec![attr::NORMAL; n],
            Some(values) => {
                if values.len() < n {
                    return Err(TokenizerError::BadKey {
                        key: "tokenizer.ggml.token_type",
                        detail: format!("{} types for {n} tokens", values.len()),
                    });
                }
                values
                    .iter()
                    .take(n)
                    .map(|v| match v.as_i64() {
                        Some(1) => Ok(attr::NORMAL),
                        Some(2) => Ok(attr::UNKNOWN),
                        Some(3) => Ok(attr::CONTROL),
                        Some(4) => Ok(attr::USER_DEFINED),
                        Some(5) => Ok(attr::UNUSED),
                        Some(6) => Ok(attr::BYTE),
                        Some(_) => Ok(0),
                        None => Err(TokenizerError::BadKey {
                            key: "tokenizer.ggml.token_type",
                            detail: format!("a {} is not an integer", v.value_type()),
                        }),
                    })
                    .collect::<Result<Vec<u8>, _>>()?
            }
        };

        let mut vocab = Vocab {
            kind,
            pre: None,
            pre_name,
            text,
            offsets,
            scores,
            attrs: Vec::new(),
            index: TextIndex::default(),
            max_token_len: 0,
            bos: None,
            eos: None,
            eot: None,
            eom: None,
            unk: None,
            pad: None,
            eog: Vec::new(),
            add_bos: false,
            add_eos: false,
            add_space_prefix: false,
            clean_spaces: false,
            ignore_merges: false,
        };
        vocab.index = TextIndex::new(&vocab.text, &vocab.offsets);
        vocab.max_token_len = vocab.offsets.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);

        let in_range = |id: u32| (id as usize) < n;
        match kind {
            ModelKind::Spm => {
                vocab.bos = Some(1).filter(|&i| in_range(i));
                vocab.eos = Some(2).filter(|&i| in_range(i));
                vocab.unk = Some(0).filter(|&i| in_range(i));
                vocab.add_space_prefix = true;
                vocab.add_bos = true;
            }
            ModelKind::Bpe => {
                vocab.bos = Some(11).filter(|&i| in_range(i));
                vocab.eos = Some(11).filter(|&i| in_range(i));
                vocab.clean_spaces = true;
                let pre = vocab.pre_name.as_str();
                vocab.pre = Some(match pre {
                    "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" => {
                        vocab.clean_spaces = false;
                        PreTokenizer::Qwen2
                    }
                    "megrez" => PreTokenizer::Qwen2,
                    "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral"
                    | "midm-2.0" | "lfm2" | "jina-v5-nano" => {
                        vocab.ignore_merges = true;
                        vocab.add_bos = true;
                        PreTokenizer::Llama3
                    }
                    other => return Err(TokenizerError::UnsupportedPreTokenizer(other.to_string())),
                });
            }
        }
        if let Some(v) = opt_bool(md, "tokenizer.ggml.add_space_prefix")? {
            vocab.add_space_prefix = v;
        }

        let id_keys: [(&'static str, &mut Option<u32>); 6] = [
            ("tokenizer.ggml.bos_token_id", &mut vocab.bos),
            ("tokenizer.ggml.eos_token_id", &mut vocab.eos),
            ("tokenizer.ggml.eot_token_id", &mut vocab.eot),
            ("tokenizer.ggml.eom_token_id", &mut vocab.eom),
            ("tokenizer.ggml.unknown_token_id", &mut vocab.unk),
            ("tokenizer.ggml.padding_token_id", &mut vocab.pad),
        ];
        for (key, slot) in id_keys {
            if let Some(id) = opt_id(md, key, n)? {
                *slot = Some(id);
            }
        }
        // llama.cpp reads these from the file before looking for them by text.
        let mut fim_pad = opt_id(md, "tokenizer.ggml.fim_pad_token_id", n)?;
        let mut fim_rep = opt_id(md, "tokenizer.ggml.fim_rep_token_id", n)?;
        let mut fim_sep = opt_id(md, "tokenizer.ggml.fim_sep_token_id", n)?;
        if let Some(v) = opt_bool(md, "tokenizer.ggml.add_bos_token")? {
            vocab.add_bos = v;
        }
        if let Some(v) = opt_bool(md, "tokenizer.ggml.add_eos_token")? {
            vocab.add_eos = v;
        }

        // Control-looking tokens that are not typed as control become control,
        // and the first of each kind fills a missing special id.
        let find = |texts: &[&str]| -> Vec<u32> {
            let mut ids: Vec<u32> = texts
                .iter()
                .filter_map(|t| vocab.index.get(&vocab.text, &vocab.offsets, t.as_bytes()))
                .collect();
            ids.sort_unstable();
            ids
        };
        let mut make_control = |ids: &[u32], slot: &mut Option<u32>| {
            if slot.is_none() {
                if let Some(&id) = ids.first() {
                    *slot = Some(id);
                    attrs[id as usize] |= attr::CONTROL;
                }
            }
        };
        make_control(&find(EOT_TEXTS), &mut vocab.eot);
        make_control(&find(&["<|eom_id|>"]), &mut vocab.eom);
        make_control(&find(FIM_PAD_TEXTS), &mut fim_pad);
        make_control(&find(FIM_REP_TEXTS), &mut fim_rep);
        make_control(&find(FIM_SEP_TEXTS), &mut fim_sep);
        let mut fim_other = [
            opt_id(md, "tokenizer.ggml.fim_pre_token_id", n)?.or(opt_id(
                md,
                "tokenizer.ggml.prefix_token_id",
                n,
            )?),
            opt_id(md, "tokenizer.ggml.fim_suf_token_id", n)?.or(opt_id(
                md,
                "tokenizer.ggml.suffix_token_id",
                n,
            )?),
            opt_id(md, "tokenizer.ggml.fim_mid_token_id", n)?.or(opt_id(
                md,
                "tokenizer.ggml.middle_token_id",
                n,
            )?),
        ];
        for (texts, slot) in [FIM_PRE_TEXTS, FIM_SUF_TEXTS, FIM_MID_TEXTS]
            .iter()
            .zip(&mut fim_other)
        {
            make_control(&find(texts), slot);
        }

        let mut eog: Vec<u32> = [fim_pad, fim_rep, fim_sep].into_iter().flatten().collect();
        for id in find(EOG_TEXTS) {
            eog.push(id);
            attrs[id as usize] |= attr::CONTROL;
        }
        for t in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let Some(id) = vocab.index.get(&vocab.text, &vocab.offsets, t.as_bytes()) {
                attrs[id as usize] = attr::USER_DEFINED;
            }
        }
        eog.extend([vocab.eos, vocab.eot, vocab.eom].into_iter().flatten());
        eog.sort_unstable();
        eog.dedup();
        vocab.eog = eog;
        vocab.attrs = attrs;
        Ok(vocab)
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// The text of token `id` (which must be in range).
    #[inline]
    pub fn token(&self, id: u32) -> &[u8] {
        let i = id as usize;
        &self.text[self.offsets[i]..self.offsets[i + 1]]
    }

    #[inline]
    pub fn lookup(&self, text: &[u8]) -> Option<u32> {
        if text.len() > self.max_token_len {
            return None;
        }
        self.index.get(&self.text, &self.offsets, text)
    }
}

/// Token text -> id without a copy of each text: open addressing over the
/// ids, which point into the vocabulary's one text buffer. A probe first
/// reads a 16-bit tag of the hash (0: empty slot), so a lookup that misses,
/// the common case when SentencePiece tries a pair of pieces, walks a 1 MiB
/// array of tags and compares no text. At most half the slots are used. (A
/// map of boxed texts cost 262k allocations, ~16 MB more and most of the
/// tokenizer's load time for Gemma's vocabulary.)
#[derive(Debug, Default)]
struct TextIndex {
    tags: Vec<u16>,
    ids: Vec<u32>,
}

impl TextIndex {
    fn new(text: &[u8], offsets: &[usize]) -> TextIndex {
        let n = offsets.len().saturating_sub(1);
        let len = (2 * n).next_power_of_two().max(2);
        let mut index = TextIndex {
            tags: vec![0; len],
            ids: vec![0; len],
        };
        for id in 0..n as u32 {
            let key = &text[offsets[id as usize]..offsets[id as usize + 1]];
            let (i, tag) = index.probe(text, offsets, key);
            // A duplicate text lands on its first id's slot: the last id
            // wins, as in llama.cpp's map.
            (index.tags[i], index.ids[i]) = (tag, id);
        }
        index
    }

    fn get(&self, text: &[u8], offsets: &[usize], key: &[u8]) -> Option<u32> {
        if self.tags.is_empty() {
            return None;
        }
        let (i, _) = self.probe(text, offsets, key);
        (self.tags[i] != 0).then(|| self.ids[i])
    }

    /// The slot holding `key`, or the empty slot where it would go; and
    /// the key's tag. The table is never full (at most half used).
    fn probe(&self, text: &[u8], offsets: &[usize], key: &[u8]) -> (usize, u16) {
        let mask = self.tags.len() - 1;
        let h = hash(key);
        let tag = tag(h);
        let mut i = h as usize & mask;
        loop {
            match self.tags[i] {
                0 => return (i, tag),
                t if t == tag => {
                    let id = self.ids[i] as usize;
                    if &text[offsets[id]..offsets[id + 1]] == key {
                        return (i, tag);
                    }
                }
                _ => {}
            }
            i = (i + 1) & mask;
        }
    }
}

/// 15 high bits of the hash, never 0.
fn tag(h: u64) -> u16 {
    (h >> 49) as u16 | 0x8000
}

fn hash(key: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = FxHasher::default();
    h.write(key);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::TextIndex;

    fn build(texts: &[&[u8]]) -> (Vec<u8>, Vec<usize>, TextIndex) {
        let mut text = Vec::new();
        let mut offsets = vec![0];
        for t in texts {
            text.extend_from_slice(t);
            offsets.push(text.len());
        }
        let index = TextIndex::new(&text, &offsets);
        (text, offsets, index)
    }

    #[test]
    fn finds_every_text_and_the_last_of_duplicates() {
        let (text, offsets, index) = build(&[b"a", b"b", b"a", b"abc", b"\xff\x00"]);
        let get = |k: &[u8]| index.get(&text, &offsets, k);
        assert_eq!(get(b"a"), Some(2));
        assert_eq!(get(b"b"), Some(1));
        assert_eq!(get(b"abc"), Some(3));
        assert_eq!(get(b"\xff\x00"), Some(4));
        assert_eq!(get(b"ab"), None);
        assert_eq!(get(b""), None);
    }

    #[test]
    fn many_texts_with_collisions() {
        // 40k distinct texts in a table of 128k slots: long probe runs.
        let texts: Vec<Vec<u8>> = (0..40_000u32).map(|i| format!("t{i}").into_bytes()).collect();
        let refs: Vec<&[u8]> = texts.iter().map(|t| t.as_slice()).collect();
        let (text, offsets, index) = build(&refs);
        for (i, t) in texts.iter().enumerate() {
            assert_eq!(index.get(&text, &offsets, t), Some(i as u32));
        }
        for i in 40_000..41_000u32 {
            assert_eq!(index.get(&text, &offsets, format!("t{i}").as_bytes()), None);
        }
        let empty = TextIndex::default();
        assert_eq!(empty.get(&[], &[0], b"x"), None);
    }
}
