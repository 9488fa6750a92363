//! Byte-level BPE (GPT-2 style): each word from the pre-tokenizer starts as
//! one symbol per byte, then the adjacent pair with the lowest merge rank
//! (leftmost on ties) is merged until no pair has a rank.
//!
//! Symbols and merges work on token ids: the merge table maps a pair of ids
//! to (rank, id of the merged token), built once from `tokenizer.ggml.merges`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use gguf::{Metadata, Value};

use crate::error::TokenizerError;
use crate::hash::FxMap;
use crate::unicode::gpt2_byte_chars;
use crate::vocab::Vocab;

#[derive(Debug)]
pub(crate) struct Merges {
    /// (left id << 32 | right id) -> (rank, merged id)
    table: FxMap<u64, (u32, u32)>,
    /// The token of each byte's GPT-2 character.
    pub byte_ids: [Option<u32>; 256],
    pub byte_chars: [char; 256],
}

impl Merges {
    pub fn from_metadata(md: &Metadata, vocab: &Vocab) -> Result<Merges, TokenizerError> {
        const KEY: &str = "tokenizer.ggml.merges";
        let values = match md.get(KEY) {
            Some(Value::Array(a)) => a,
            Some(v) => {
                return Err(TokenizerError::BadKey {
                    key: KEY,
                    detail: format!("expected an array of strings, found {}", v.value_type()),
                })
            }
            None => return Err(TokenizerError::MissingKey(KEY)),
        };
        let mut table = FxMap::default();
        table.reserve(values.len());
        let mut joined = Vec::new();
        let merges = values.strs().ok_or_else(|| TokenizerError::BadKey {
            key: KEY,
            detail: format!("merges are {}s, not strings", values.elem_type()),
        })?;
        for (rank, s) in merges.enumerate() {
            // Split at the first space after the first byte, as llama.cpp does.
            let Some(pos) = s.bytes().skip(1).position(|b| b == b' ').map(|p| p + 1) else {
                continue;
            };
            let (a, b) = (&s[..pos], &s[pos + 1..]);
            joined.clear();
            joined.extend_from_slice(a.as_bytes());
            joined.extend_from_slice(b.as_bytes());
            let (Some(ia), Some(ib), Some(ij)) = (
                vocab.lookup(a.as_bytes()),
                vocab.lookup(b.as_bytes()),
                vocab.lookup(&joined),
            ) else {
                continue;
            };
            let rank = u32::try_from(rank).unwrap_or(u32::MAX);
            table.entry(key(ia, ib)).or_insert((rank, ij));
        }
        let byte_chars = gpt2_byte_chars();
        let mut byte_ids = [None; 256];
        let mut buf = [0u8; 4];
        for (slot, c) in byte_ids.iter_mut().zip(byte_chars) {
            *slot = vocab.lookup(c.encode_utf8(&mut buf).as_bytes());
        }
        Ok(Merges {
            table,
            byte_ids,
            byte_chars,
        })
    }

    #[inline]
    fn get(&self, a: u32, b: u32) -> Option<(u32, u32)> {
        self.table.get(&key(a, b)).copied()
    }
}

#[inline]
fn key(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

const NONE: usize = usize::MAX;
/// The id of a byte whose character is not in the vocabulary.
const NO_TOKEN: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Symbol {
    id: u32,
    prev: usize,
    next: usize,
    alive: bool,
}

#[derive(Debug, PartialEq, Eq)]
struct Pair {
    rank: u32,
    left: usize,
    right: usize,
    left_id: u32,
    right_id: u32,
    merged: u32,
}

impl PartialOrd for Pair {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pair {
    /// Greatest first: lower rank, then lower left index.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .rank
            .cmp(&self.rank)
            .then_with(|| other.left.cmp(&self.left))
    }
}

/// Reusable buffers for one encode call.
#[derive(Debug, Default)]
pub(crate) struct BpeSession {
    symbols: Vec<Symbol>,
    heap: BinaryHeap<Pair>,
    encoded: String,
}

impl BpeSession {
    /// Tokenizes one pre-tokenized word into `out`.
    pub fn word(&mut self, vocab: &Vocab, merges: &Merges, word: &[u8], out: &mut Vec<u32>) {
        if vocab.ignore_merges {
            self.encoded.clear();
            self.encoded
                .extend(word.iter().map(|&b| merges.byte_chars[b as usize]));
            if let Some(id) = vocab.lookup(self.encoded.as_bytes()) {
                out.push(id);
                return;
            }
        }
        if word.is_empty() {
            return;
        }
        if word.len() == 1 {
            out.extend(merges.byte_ids[word[0] as usize]);
            return;
        }
        self.symbols.clear();
        self.heap.clear();
        for (i, &b) in word.iter().enumerate() {
            self.symbols.push(Symbol {
                id: merges.byte_ids[b as usize].unwrap_or(NO_TOKEN),
                prev: if i == 0 { NONE } else { i - 1 },
                next: if i + 1 == word.len() { NONE } else { i + 1 },
                alive: true,
            });
        }
        for i in 1..self.symbols.len() {
            self.try_add(merges, i - 1, i);
        }
        while let Some(p) = self.heap.pop() {
            let (l, r) = (self.symbols[p.left], self.symbols[p.right]);
            if !l.alive || !r.alive || l.id != p.left_id || r.id != p.right_id || l.next != p.right {
                continue;
            }
            self.symbols[p.left].id = p.merged;
            self.symbols[p.left].next = r.next;
            self.symbols[p.right].alive = false;
            if r.next != NONE {
                self.symbols[r.next].prev = p.left;
            }
            if l.prev != NONE {
                self.try_add(merges, l.prev, p.left);
            }
            if r.next != NONE {
                self.try_add(merges, p.left, r.next);
            }
        }
        let mut i = 0;
        while i != NONE {
            let s = self.symbols[i];
            if s.id != NO_TOKEN {
                out.push(s.id);
            }
            i = s.next;
        }
    }

    #[inline]
    fn try_add(&mut self, merges: &Merges, left: usize, right: usize) {
        let (a, b) = (self.symbols[left].id, self.symbols[right].id);
        if a == NO_TOKEN || b == NO_TOKEN {
            return;
        }
        if let Some((rank, merged)) = merges.get(a, b) {
            self.heap.push(Pair {
                rank,
                left,
                right,
                left_id: a,
                right_id: b,
                merged,
            });
        }
    }
}
