//! The BPE pre-tokenizers: split text into words before merging, by
//! hand-written scanners equal to the regexes of `tokenizer.ggml.pre` (the
//! same approach and the same corner cases as llama.cpp's custom splitters):
//!
//! - Qwen2: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
//! - Llama 3: the same with `\p{N}{1,3}` for numbers.

use crate::unicode::{flags, LETTER, NUMBER, VALID, WHITESPACE};
use crate::vocab::PreTokenizer;

/// Reusable buffers.
#[derive(Debug, Default)]
pub(crate) struct Splitter {
    cpts: Vec<char>,
    flags: Vec<u8>,
    /// Byte offset of each code point, plus the end.
    offs: Vec<usize>,
}

impl Splitter {
    /// Calls `word` with the byte range of each word of `text`, in order.
    pub fn split(&mut self, pre: PreTokenizer, text: &str, mut word: impl FnMut(usize, usize)) {
        self.cpts.clear();
        self.flags.clear();
        self.offs.clear();
        for (i, c) in text.char_indices() {
            self.cpts.push(c);
            self.flags.push(flags(c));
            self.offs.push(i);
        }
        self.offs.push(text.len());
        let n = self.cpts.len();
        let cpt = |i: usize| -> Option<char> { self.cpts.get(i).copied() };
        let fl = |i: usize| -> u8 { self.flags.get(i).copied().unwrap_or(0) };
        let max_digits = match pre {
            PreTokenizer::Qwen2 => 1,
            PreTokenizer::Llama3 => 3,
        };

        let mut prev_end = 0;
        let mut emit = |end: usize, prev_end: &mut usize| {
            if end > *prev_end {
                word(self.offs[*prev_end], self.offs[end]);
            }
            *prev_end = end;
        };

        let mut pos = 0;
        while pos < n {
            let c = self.cpts[pos];
            let f = self.flags[pos];

            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if c == '\'' && pos + 1 < n {
                let c1 = self.cpts[pos + 1].to_ascii_lowercase();
                if matches!(c1, 's' | 't' | 'm' | 'd') {
                    pos += 2;
                    emit(pos, &mut prev_end);
                    continue;
                }
                if pos + 2 < n {
                    let c2 = self.cpts[pos + 2].to_ascii_lowercase();
                    if matches!((c1, c2), ('r', 'e') | ('v', 'e') | ('l', 'l')) {
                        pos += 3;
                        emit(pos, &mut prev_end);
                        continue;
                    }
                }
            }

            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(c == '\r' || c == '\n' || f & NUMBER != 0) && (f & LETTER != 0 || fl(pos + 1) & LETTER != 0)
            {
                pos += 1;
                while fl(pos) & LETTER != 0 {
                    pos += 1;
                }
                emit(pos, &mut prev_end);
                continue;
            }

            // \p{N}{1,max_digits}
            if f & NUMBER != 0 {
                let mut start = pos;
                while fl(pos) & NUMBER != 0 {
                    pos += 1;
                    if pos - start >= max_digits {
                        emit(pos, &mut prev_end);
                        start = pos;
                    }
                }
                emit(pos, &mut prev_end);
                continue;
            }

            // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
            let not_wln = |x: u8| x & (WHITESPACE | LETTER | NUMBER) == 0;
            let mut f2 = if c == ' ' { fl(pos + 1) } else { f };
            if not_wln(f2) && f & VALID != 0 {
                if c == ' ' {
                    pos += 1;
                }
                while not_wln(f2) && f2 & VALID != 0 {
                    pos += 1;
                    f2 = fl(pos);
                }
                while matches!(cpt(pos), Some('\r' | '\n')) {
                    pos += 1;
                }
                emit(pos, &mut prev_end);
                continue;
            }

            let mut n_ws = 0;
            let mut last_nl = None;
            while fl(pos + n_ws) & WHITESPACE != 0 {
                if matches!(cpt(pos + n_ws), Some('\r' | '\n')) {
                    last_nl = Some(pos + n_ws + 1);
                }
                n_ws += 1;
            }
            // \s*[\r\n]+
            if let Some(end) = last_nl {
                pos = end;
                emit(pos, &mut prev_end);
                continue;
            }
            // \s+(?!\S)
            if n_ws > 1 && pos + n_ws < n {
                pos += n_ws - 1;
                emit(pos, &mut prev_end);
                continue;
            }
            // \s+
            if n_ws > 0 {
                pos += n_ws;
                emit(pos, &mut prev_end);
                continue;
            }
            // no match
            pos += 1;
            emit(pos, &mut prev_end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(pre: PreTokenizer, text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        Splitter::default().split(pre, text, |a, b| out.push(&text[a..b]));
        out
    }

    #[test]
    fn qwen2_words() {
        assert_eq!(
            words(PreTokenizer::Qwen2, "Hello world's 1234  x\n\n  y!!\n"),
            ["Hello", " world", "'s", " ", "1", "2", "3", "4", " ", " x", "\n\n", " ", " y", "!!\n"]
        );
    }

    #[test]
    fn llama3_digits() {
        assert_eq!(words(PreTokenizer::Llama3, "1234567"), ["123", "456", "7"]);
    }
}
