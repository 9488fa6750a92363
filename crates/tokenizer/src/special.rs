//! Splitting text at special tokens, exactly as llama.cpp's
//! `tokenizer_st_partition` does: special tokens (control, user-defined and
//! unknown ones) are taken longest first; each one is cut out of the raw text
//! that earlier, longer ones left, left to right without overlaps.
//!
//! llama.cpp searches the whole text once per special token (Gemma has about
//! 6,400). Here tokens of the same length form a group that is matched in
//! one pass, which gives the same result whenever no two tokens of a group
//! can overlap each other (checked when the group is built); groups where
//! they can fall back to one pass per token, in id order.

use crate::hash::FxMap;
use crate::vocab::{attr, Vocab};

/// A piece of the text: raw text to tokenize, or a special token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fragment {
    Raw { start: usize, end: usize },
    Token(u32),
}

#[derive(Debug)]
struct Group {
    len: usize,
    /// Token texts of this length, mapped to (id, skipped unless parsing specials).
    tokens: FxMap<Box<[u8]>, (u32, bool)>,
    /// (id, text, control) in id order, for the one-pass-per-token fallback.
    ids: Vec<(u32, Box<[u8]>, bool)>,
    first: [bool; 256],
    /// Bit set of (first byte, second byte) pairs, for groups with len >= 2.
    pairs: Vec<u64>,
    overlapping: bool,
}

#[derive(Debug)]
pub(crate) struct SpecialMatcher {
    /// Longest first.
    groups: Vec<Group>,
    any_first: [bool; 256],
}

impl Default for Group {
    fn default() -> Self {
        Group {
            len: 0,
            tokens: FxMap::default(),
            ids: Vec::new(),
            first: [false; 256],
            pairs: vec![0; 1024],
            overlapping: false,
        }
    }
}

impl Group {
    #[inline]
    fn may_start(&self, text: &[u8], p: usize) -> bool {
        if !self.first[text[p] as usize] {
            return false;
        }
        if self.len >= 2 {
            let k = ((text[p] as usize) << 8) | text[p + 1] as usize;
            return self.pairs[k >> 6] & (1u64 << (k & 63)) != 0;
        }
        true
    }
}

impl SpecialMatcher {
    pub fn new(vocab: &Vocab) -> SpecialMatcher {
        let mut by_len: FxMap<usize, Group> = FxMap::default();
        let mut any_first = [false; 256];
        for id in 0..vocab.len() as u32 {
            let a = vocab.attrs[id as usize];
            if a & (attr::CONTROL | attr::USER_DEFINED | attr::UNKNOWN) == 0 {
                continue;
            }
            let text = vocab.token(id);
            let Some(&b0) = text.first() else { continue };
            let g = by_len.entry(text.len()).or_default();
            g.len = text.len();
            let control = a & (attr::CONTROL | attr::UNKNOWN) != 0;
            g.tokens.insert(text.into(), (id, control));
            g.ids.push((id, text.into(), control));
            g.first[b0 as usize] = true;
            any_first[b0 as usize] = true;
            if let Some(&b1) = text.get(1) {
                let k = ((b0 as usize) << 8) | b1 as usize;
                g.pairs[k >> 6] |= 1u64 << (k & 63);
            }
        }
        let mut groups: Vec<Group> = by_len.into_values().collect();
        groups.sort_by_key(|g| std::cmp::Reverse(g.len));
        for g in &mut groups {
            g.overlapping = cross_overlap(g);
        }
        SpecialMatcher { groups, any_first }
    }

    /// Splits `text` into raw pieces and special tokens. Control and unknown
    /// tokens are only recognised when `parse_special` is set; user-defined
    /// ones always are (as in llama.cpp and Hugging Face's tokenizers).
    pub fn partition(&self, text: &[u8], parse_special: bool) -> Vec<Fragment> {
        let mut frags = Vec::new();
        if text.is_empty() {
            return frags;
        }
        frags.push(Fragment::Raw {
            start: 0,
            end: text.len(),
        });
        // Positions where some special token may start, found once.
        let cands: Vec<usize> = text
            .iter()
            .enumerate()
            .filter(|&(_, &b)| self.any_first[b as usize])
            .map(|(i, _)| i)
            .collect();
        if cands.is_empty() {
            return frags;
        }
        let mut next = Vec::new();
        for g in &self.groups {
            if g.overlapping {
                per_token(g, text, parse_special, &mut frags, &mut next);
                continue;
            }
            next.clear();
            for &f in &frags {
                let Fragment::Raw { start, end } = f else {
                    next.push(f);
                    continue;
                };
                let mut raw_start = start;
                let first = cands.partition_point(|&p| p < start);
                for &p in &cands[first..] {
                    if p + g.len > end {
                        break;
                    }
                    if p < raw_start || !g.may_start(text, p) {
                        continue;
                    }
                    if let Some(&(id, control)) = g.tokens.get(&text[p..p + g.len]) {
                        if parse_special || !control {
                            if p > raw_start {
                                next.push(Fragment::Raw {
                                    start: raw_start,
                                    end: p,
                                });
                            }
                            next.push(Fragment::Token(id));
                            raw_start = p + g.len;
                        }
                    }
                }
                if end > raw_start {
                    next.push(Fragment::Raw {
                        start: raw_start,
                        end,
                    });
                }
            }
            std::mem::swap(&mut frags, &mut next);
        }
        frags
    }
}

/// One pass per token of the group, in id order (llama.cpp's order for
/// tokens of equal length is unspecified).
fn per_token(
    g: &Group,
    text: &[u8],
    parse_special: bool,
    frags: &mut Vec<Fragment>,
    next: &mut Vec<Fragment>,
) {
    for (id, needle, control) in &g.ids {
        let (id, control) = (*id, *control);
        if control && !parse_special {
            continue;
        }
        next.clear();
        for &f in frags.iter() {
            let Fragment::Raw { start, end } = f else {
                next.push(f);
                continue;
            };
            let mut raw_start = start;
            let mut p = start;
            while p + g.len <= end {
                if text[p..p + g.len] == needle[..] {
                    if p > raw_start {
                        next.push(Fragment::Raw {
                            start: raw_start,
                            end: p,
                        });
                    }
                    next.push(Fragment::Token(id));
                    p += g.len;
                    raw_start = p;
                } else {
                    p += 1;
                }
            }
            if end > raw_start {
                next.push(Fragment::Raw {
                    start: raw_start,
                    end,
                });
            }
        }
        std::mem::swap(frags, next);
    }
}

/// Whether a proper suffix of one token of the group is a prefix of another
/// token of the group (overlaps of a token with itself are fine: the
/// left-to-right scan handles them as llama.cpp's repeated `find` does).
fn cross_overlap(g: &Group) -> bool {
    // prefix -> (owner id, owned by several tokens)
    let mut prefixes: FxMap<&[u8], (u32, bool)> = FxMap::default();
    for (t, &(id, _)) in &g.tokens {
        for k in 1..t.len() {
            prefixes
                .entry(&t[..k])
                .and_modify(|e| e.1 = true)
                .or_insert((id, false));
        }
    }
    for (t, &(id, _)) in &g.tokens {
        for k in 1..t.len() {
            if let Some(&(owner, several)) = prefixes.get(&t[k..]) {
                if several || owner != id {
                    return true;
                }
            }
        }
    }
    false
}
