//! Tokenizers built from the vocabulary in a GGUF file's metadata, giving the
//! same ids as llama.cpp:
//!
//! - SentencePiece-style (`tokenizer.ggml.model = llama`: Gemma 3, Llama 2,
//!   Mistral, Lucie): scores, `<0xNN>` byte fallback, the space prefix flag.
//! - Byte-level BPE (`gpt2`) with the pre-tokenizer named by
//!   `tokenizer.ggml.pre` (Qwen2 / DeepSeek-R1-Qwen, Llama 3).
//! - Special tokens recognised inside text, BOS/EOS/EOT and the add-BOS/EOS
//!   flags from metadata, end-of-generation ids.
//! - Detokenization, also streaming ([`StreamDecoder`]).
//!
//! ```no_run
//! # fn demo(md: &gguf::Metadata) -> Result<(), tokenizer::TokenizerError> {
//! let tok = tokenizer::Tokenizer::from_metadata(md)?;
//! let ids = tok.encode("Bonjour <start_of_turn>", true, true);
//! let text = tok.decode(&ids[1..])?;
//! # Ok(()) }
//! ```

mod bpe;
mod error;
mod hash;
mod pretokenize;
mod special;
mod spm;
mod stream;
mod unicode;
mod unicode_table;
mod vocab;

use gguf::Metadata;

pub use error::TokenizerError;
pub use stream::StreamDecoder;
pub use vocab::{ModelKind, PreTokenizer};

use bpe::{BpeSession, Merges};
use special::{Fragment, SpecialMatcher};
use spm::SpmSession;
use vocab::{attr, Vocab};

/// A tokenizer for one model. Cheap to share between threads (`&self` only).
#[derive(Debug)]
pub struct Tokenizer {
    vocab: Vocab,
    merges: Option<Merges>,
    specials: SpecialMatcher,
    /// SPM byte fallback: the token of each byte.
    byte_tokens: [Option<u32>; 256],
    /// Every token's text as llama.cpp renders it (control tokens included):
    /// token `i` is `pieces[piece_offs[i]..piece_offs[i + 1]]`.
    pieces: Vec<u8>,
    piece_offs: Vec<usize>,
}

/// How [`Tokenizer::decode_with`] renders ids (llama.cpp's `detokenize` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Drop a leading BOS and a trailing EOS when the model adds them.
    pub remove_special: bool,
    /// Render control tokens (`<start_of_turn>`, `<|im_end|>`) as their text;
    /// otherwise they render as nothing.
    pub render_special: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            remove_special: false,
            render_special: true,
        }
    }
}

impl Tokenizer {
    /// Builds the tokenizer from `tokenizer.ggml.*` metadata; nothing else is read.
    pub fn from_metadata(md: &Metadata) -> Result<Tokenizer, TokenizerError> {
        let vocab = Vocab::from_metadata(md)?;
        let merges = match vocab.kind {
            ModelKind::Bpe => Some(Merges::from_metadata(md, &vocab)?),
            ModelKind::Spm => None,
        };
        let specials = SpecialMatcher::new(&vocab);
        let mut byte_tokens = [None; 256];
        if vocab.kind == ModelKind::Spm {
            for (b, slot) in byte_tokens.iter_mut().enumerate() {
                *slot = vocab
                    .lookup(format!("<0x{b:02X}>").as_bytes())
                    .or_else(|| vocab.lookup(&[b as u8]));
            }
        }
        let mut tok = Tokenizer {
            vocab,
            merges,
            specials,
            byte_tokens,
            pieces: Vec::new(),
            piece_offs: Vec::new(),
        };
        tok.build_pieces();
        Ok(tok)
    }

    fn build_pieces(&mut self) {
        let n = self.vocab.len();
        let mut pieces = Vec::with_capacity(n * 8);
        let mut offs = Vec::with_capacity(n + 1);
        offs.push(0);
        for id in 0..n as u32 {
            self.render(id, &mut pieces);
            offs.push(pieces.len());
        }
        self.pieces = pieces;
        self.piece_offs = offs;
    }

    /// llama.cpp's `token_to_piece` with `special = true`.
    fn render(&self, id: u32, out: &mut Vec<u8>) {
        let a = self.vocab.attrs[id as usize];
        let text = self.vocab.token(id);
        if a & (attr::UNKNOWN | attr::CONTROL | attr::USER_DEFINED) != 0 {
            out.extend_from_slice(text);
        } else if a & attr::NORMAL != 0 {
            match self.vocab.kind {
                ModelKind::Spm => {
                    // U+2581 (e2 96 81) -> space
                    let mut i = 0;
                    while i < text.len() {
                        if text[i..].starts_with("\u{2581}".as_bytes()) {
                            out.push(b' ');
                            i += 3;
                        } else {
                            out.push(text[i]);
                            i += 1;
                        }
                    }
                }
                ModelKind::Bpe => {
                    let s = String::from_utf8_lossy(text);
                    for c in s.chars() {
                        match unicode::gpt2_char_byte(c) {
                            Some(b) => out.push(b),
                            None => {
                                // llama.cpp's marker for a character outside the byte map.
                                out.extend_from_slice(b"[UNK_BYTE_0x");
                                let mut buf = [0u8; 4];
                                for b in c.encode_utf8(&mut buf).bytes() {
                                    out.extend_from_slice(format!("{b:02x}").as_bytes());
                                }
                                out.extend_from_slice(text);
                                out.push(b']');
                            }
                        }
                    }
                }
            }
        } else if a & attr::BYTE != 0 {
            let hex = text.get(3..5).and_then(|h| std::str::from_utf8(h).ok());
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
            }
        }
    }

    /// Token ids for `text`. `add_special` adds BOS/EOS as the model's
    /// metadata says (`tokenizer.ggml.add_bos_token`...); `parse_special`
    /// turns control-token text (`<start_of_turn>`) into those tokens
    /// (user-defined tokens such as `<think>` are always recognised, as in
    /// llama.cpp). Same ids as llama.cpp's `llama_tokenize`.
    pub fn encode(&self, text: &str, add_special: bool, parse_special: bool) -> Vec<u32> {
        let bytes = text.as_bytes();
        let frags = self.specials.partition(bytes, parse_special);
        let mut out = Vec::with_capacity(bytes.len() / 3 + 2);
        let v = &self.vocab;
        if add_special && v.add_bos {
            out.extend(v.bos);
        }
        match &self.merges {
            None => {
                let mut session = SpmSession::default();
                let mut buf = Vec::new();
                let mut prev_special = true;
                for f in frags {
                    match f {
                        Fragment::Raw { start, end } => {
                            buf.clear();
                            if v.add_space_prefix && prev_special {
                                buf.extend_from_slice("\u{2581}".as_bytes());
                            }
                            for &b in &bytes[start..end] {
                                if b == b' ' {
                                    buf.extend_from_slice("\u{2581}".as_bytes());
                                } else {
                                    buf.push(b);
                                }
                            }
                            session.tokenize(v, &self.byte_tokens, &buf, &mut out);
                            prev_special = false;
                        }
                        Fragment::Token(id) => {
                            out.push(id);
                            prev_special = true;
                        }
                    }
                }
            }
            Some(merges) => {
                let pre = v.pre.unwrap_or(PreTokenizer::Qwen2);
                let mut splitter = pretokenize::Splitter::default();
                let mut session = BpeSession::default();
                // Words repeat a lot in natural text: remember each one's ids.
                let mut cache: hash::FxMap<&[u8], (u32, u32)> = hash::FxMap::default();
                let mut scratch = Vec::new();
                for f in frags {
                    match f {
                        Fragment::Raw { start, end } => {
                            // Fragments start and end at token boundaries, which
                            // are valid UTF-8, so this never fails.
                            let Ok(piece) = std::str::from_utf8(&bytes[start..end]) else {
                                continue;
                            };
                            splitter.split(pre, piece, |a, b| {
                                let word = &piece.as_bytes()[a..b];
                                if let Some(&(s, e)) = cache.get(word) {
                                    out.extend_from_slice(&scratch[s as usize..e as usize]);
                                    return;
                                }
                                let s = scratch.len();
                                session.word(v, merges, word, &mut scratch);
                                let e = scratch.len();
                                out.extend_from_slice(&scratch[s..e]);
                                if word.len() <= 64 {
                                    cache.insert(word, (s as u32, e as u32));
                                } else {
                                    scratch.truncate(s);
                                }
                            });
                        }
                        Fragment::Token(id) => out.push(id),
                    }
                }
            }
        }
        if add_special && v.add_eos {
            out.extend(v.eos);
        }
        out
    }

    /// The text of `ids`, with control tokens rendered (llama.cpp's
    /// `detokenize(ids, remove_special = false, unparse_special = true)`).
    /// Invalid UTF-8 (a cut byte sequence) becomes U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        let bytes = self.decode_with(ids, DecodeOptions::default())?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// The bytes of `ids`, exactly as llama.cpp's `llama_detokenize`.
    pub fn decode_with(&self, ids: &[u32], opts: DecodeOptions) -> Result<Vec<u8>, TokenizerError> {
        let v = &self.vocab;
        let mut ids = ids;
        let mut remove_space = v.add_space_prefix;
        if opts.remove_special && v.add_bos {
            if let (Some(&first), Some(bos)) = (ids.first(), v.bos) {
                if first == bos {
                    remove_space = false;
                    ids = &ids[1..];
                }
            }
        }
        if opts.remove_special && v.add_eos {
            if let (Some(&last), Some(eos)) = (ids.last(), v.eos) {
                if last == eos {
                    ids = &ids[..ids.len() - 1];
                }
            }
        }
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            let piece = self.piece(id, opts.render_special)?;
            let piece = if remove_space {
                piece.strip_prefix(b" ").unwrap_or(piece)
            } else {
                piece
            };
            remove_space = false;
            out.extend_from_slice(piece);
        }
        if v.clean_spaces {
            out = clean_spaces(out);
        }
        Ok(out)
    }

    /// The bytes token `id` stands for (llama.cpp's `token_to_piece`); with
    /// `special` false, control and unknown tokens give nothing.
    pub fn piece(&self, id: u32, special: bool) -> Result<&[u8], TokenizerError> {
        let i = id as usize;
        if i >= self.vocab.len() {
            return Err(TokenizerError::UnknownToken {
                id,
                n_vocab: self.vocab.len(),
            });
        }
        if !special && self.vocab.attrs[i] & (attr::UNKNOWN | attr::CONTROL) != 0 {
            return Ok(&[]);
        }
        Ok(&self.pieces[self.piece_offs[i]..self.piece_offs[i + 1]])
    }

    /// The token's text as stored in the vocabulary (`▁` and GPT-2 byte
    /// characters not undone).
    pub fn token_text(&self, id: u32) -> Option<&str> {
        if (id as usize) < self.vocab.len() {
            std::str::from_utf8(self.vocab.token(id)).ok()
        } else {
            None
        }
    }

    /// The id of a token given its exact vocabulary text.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.vocab.lookup(text.as_bytes())
    }

    /// A decoder that yields text only once each UTF-8 character is complete.
    /// `special`: render control tokens as their text.
    pub fn stream_decoder(&self, special: bool) -> StreamDecoder<'_> {
        StreamDecoder::new(self, special)
    }

    pub fn n_vocab(&self) -> usize {
        self.vocab.len()
    }

    pub fn kind(&self) -> ModelKind {
        self.vocab.kind
    }

    /// `tokenizer.ggml.pre` as written in the file (may be empty).
    pub fn pre_tokenizer_name(&self) -> &str {
        &self.vocab.pre_name
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.vocab.bos
    }

    pub fn eos_id(&self) -> Option<u32> {
        self.vocab.eos
    }

    /// End of turn (`<end_of_turn>`, `<|im_end|>`...), from metadata or found by text.
    pub fn eot_id(&self) -> Option<u32> {
        self.vocab.eot
    }

    pub fn unk_id(&self) -> Option<u32> {
        self.vocab.unk
    }

    pub fn pad_id(&self) -> Option<u32> {
        self.vocab.pad
    }

    /// Whether `encode(.., add_special = true, ..)` adds BOS.
    pub fn add_bos(&self) -> bool {
        self.vocab.add_bos && self.vocab.bos.is_some()
    }

    /// Whether `encode(.., add_special = true, ..)` adds EOS.
    pub fn add_eos(&self) -> bool {
        self.vocab.add_eos && self.vocab.eos.is_some()
    }

    /// End of generation: EOS, EOT and the model's other end tokens.
    pub fn is_eog(&self, id: u32) -> bool {
        self.vocab.eog.binary_search(&id).is_ok()
    }

    /// The end-of-generation ids, sorted.
    pub fn eog_ids(&self) -> &[u32] {
        &self.vocab.eog
    }

    /// Control token (rendered only when asked).
    pub fn is_control(&self, id: u32) -> bool {
        self.vocab
            .attrs
            .get(id as usize)
            .is_some_and(|a| a & attr::CONTROL != 0)
    }
}

/// llama.cpp's `clean_up_tokenization_spaces`, in place like the original:
/// " ?" " !" " ." " ," lose the space, " ' " becomes "'", and " 's" " 'm"
/// " 're" " 've" lose the space.
fn clean_spaces(mut text: Vec<u8>) -> Vec<u8> {
    let n1 = text.len();
    let mut total = usize::from(n1 > 0);
    for i in 1..n1 {
        let x = text[i];
        if text[i - 1] == b' ' && matches!(x, b'?' | b'!' | b'.' | b',') {
            total -= 1;
        }
        text[total] = x;
        total += 1;
    }
    let n2 = total;
    total = usize::from(n2 > 0);
    let mut i = 1;
    while i < n2 {
        let x = text[i];
        if x == b'\'' && i + 1 < n2 && text[i - 1] == b' ' && text[i + 1] == b' ' {
            total -= 1;
            i += 1;
            text[i] = 0;
        }
        text[total] = x;
        total += 1;
        i += 1;
    }
    let n3 = total;
    total = usize::from(n3 > 0);
    for i in 1..n3 {
        let x = text[i];
        if text[i - 1] == b' ' && x == b'\'' && i + 1 < n3 {
            let x1 = text[i + 1];
            if matches!(x1, b's' | b'm') {
                total -= 1;
            } else if x1 != b't' && x1 != b'd' && i + 2 < n3 {
                let x2 = text[i + 2];
                if matches!((x1, x2), (b'r', b'e') | (b'v', b'e')) {
                    total -= 1;
                }
            }
        }
        text[total] = x;
        total += 1;
    }
    text.truncate(total);
    text
}

#[cfg(test)]
mod tests {
    use super::clean_spaces;

    #[test]
    fn cleans_like_llama_cpp() {
        let c = |s: &str| String::from_utf8(clean_spaces(s.as_bytes().to_vec())).unwrap_or_default();
        assert_eq!(c("Hello , world !"), "Hello, world!");
        assert_eq!(c("it 's a ' b"), "it's a'b");
        assert_eq!(c("we 're they 'll"), "we're they 'll");
        assert_eq!(c(""), "");
    }
}
