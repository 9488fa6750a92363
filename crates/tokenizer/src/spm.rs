//! SentencePiece-style tokenization (llama.cpp's SPM): start from single
//! UTF-8 characters, repeatedly merge the adjacent pair whose concatenation
//! is the token with the highest score (leftmost on ties), then fall back to
//! `<0xNN>` byte tokens for pieces that are not tokens.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::unicode::utf8_len;
use crate::vocab::Vocab;

#[derive(Debug, Clone, Copy)]
struct Symbol {
    start: usize,
    len: usize,
    prev: usize,
    next: usize,
}

const NONE: usize = usize::MAX;

#[derive(Debug)]
struct Bigram {
    score: f32,
    left: usize,
    right: usize,
    size: usize,
}

impl PartialEq for Bigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Bigram {}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Bigram {
    /// Greatest first: higher score, then lower left index.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.left.cmp(&self.left))
    }
}

/// Reusable buffers for one encode call.
#[derive(Debug, Default)]
pub(crate) struct SpmSession {
    symbols: Vec<Symbol>,
    heap: BinaryHeap<Bigram>,
}

impl SpmSession {
    /// Tokenizes `text` (whitespace already escaped to U+2581) into `out`.
    pub fn tokenize(
        &mut self,
        vocab: &Vocab,
        byte_tokens: &[Option<u32>; 256],
        text: &[u8],
        out: &mut Vec<u32>,
    ) {
        self.symbols.clear();
        self.heap.clear();
        let mut offs = 0;
        while offs < text.len() {
            let len = utf8_len(text[offs]).min(text.len() - offs);
            let idx = self.symbols.len();
            self.symbols.push(Symbol {
                start: offs,
                len,
                prev: if idx == 0 { NONE } else { idx - 1 },
                next: if offs + len == text.len() { NONE } else { idx + 1 },
            });
            offs += len;
        }
        for i in 1..self.symbols.len() {
            self.try_add(vocab, text, i - 1, i);
        }
        while let Some(b) = self.heap.pop() {
            let (l, r) = (self.symbols[b.left], self.symbols[b.right]);
            if l.len == 0 || r.len == 0 || l.len + r.len != b.size {
                continue;
            }
            self.symbols[b.left].len += r.len;
            self.symbols[b.right].len = 0;
            self.symbols[b.left].next = r.next;
            if r.next != NONE {
                self.symbols[r.next].prev = b.left;
            }
            let prev = self.symbols[b.left].prev;
            let next = self.symbols[b.left].next;
            if prev != NONE {
                self.try_add(vocab, text, prev, b.left);
            }
            if next != NONE {
                self.try_add(vocab, text, b.left, next);
            }
        }
        let mut i = if self.symbols.is_empty() { NONE } else { 0 };
        while i != NONE {
            let s = self.symbols[i];
            let piece = &text[s.start..s.start + s.len];
            match vocab.lookup(piece) {
                Some(id) => out.push(id),
                None => out.extend(piece.iter().filter_map(|&b| byte_tokens[b as usize])),
            }
            i = s.next;
        }
    }

    #[inline]
    fn try_add(&mut self, vocab: &Vocab, text: &[u8], left: usize, right: usize) {
        let l = self.symbols[left];
        let size = l.len + self.symbols[right].len;
        if let Some(id) = vocab.lookup(&text[l.start..l.start + size]) {
            self.heap.push(Bigram {
                score: vocab.scores[id as usize],
                left,
                right,
                size,
            });
        }
    }
}
