//! Streaming detokenization: text comes out only once its UTF-8 characters
//! are complete, so a token that ends inside a character (byte-fallback
//! tokens, byte-level BPE pieces) yields nothing until the rest arrives.

use crate::error::TokenizerError;
use crate::Tokenizer;

/// Turns a stream of token ids into text, one complete character at a time.
///
/// Bytes that can never form valid UTF-8 come out as U+FFFD as soon as that
/// is certain; an incomplete character at the end comes out (as U+FFFD) from
/// [`StreamDecoder::finish`].
#[derive(Debug)]
pub struct StreamDecoder<'a> {
    tokenizer: &'a Tokenizer,
    pending: Vec<u8>,
    special: bool,
    first: bool,
}

impl<'a> StreamDecoder<'a> {
    pub(crate) fn new(tokenizer: &'a Tokenizer, special: bool) -> Self {
        StreamDecoder {
            tokenizer,
            pending: Vec::new(),
            special,
            first: true,
        }
    }

    /// Adds one token; returns the text that is now complete (maybe empty).
    pub fn push(&mut self, id: u32) -> Result<String, TokenizerError> {
        let piece = self.tokenizer.piece(id, self.special)?;
        // The model's space prefix is dropped from the first piece, as
        // `Tokenizer::decode` does.
        let lstrip = self.first && self.tokenizer.vocab.add_space_prefix;
        self.first = false;
        let piece = if lstrip {
            piece.strip_prefix(b" ").unwrap_or(piece)
        } else {
            piece
        };
        self.pending.extend_from_slice(piece);
        Ok(self.take_complete())
    }

    /// Ends the stream: whatever is left, invalid bytes as U+FFFD.
    pub fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        self.first = true;
        rest
    }

    fn take_complete(&mut self) -> String {
        let mut out = String::new();
        let mut start = 0;
        loop {
            match std::str::from_utf8(&self.pending[start..]) {
                Ok(s) => {
                    out.push_str(s);
                    start = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid = start + e.valid_up_to();
                    // Valid by construction: `valid_up_to` bytes were checked.
                    out.push_str(&String::from_utf8_lossy(&self.pending[start..valid]));
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            start = valid + bad;
                        }
                        None => {
                            start = valid;
                            break;
                        }
                    }
                }
            }
        }
        self.pending.drain(..start);
        out
    }
}
