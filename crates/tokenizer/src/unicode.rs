//! Code point classes for the pre-tokenizers, UTF-8 helpers and the GPT-2
//! byte-to-unicode map.

use crate::unicode_table::RANGES;

/// `\p{L}`
pub(crate) const LETTER: u8 = 1;
/// `\p{N}`
pub(crate) const NUMBER: u8 = 2;
/// `\s` (the Unicode White_Space property, as llama.cpp uses it)
pub(crate) const WHITESPACE: u8 = 4;
/// Any code point (flags of a position outside the text are 0).
pub(crate) const VALID: u8 = 8;

/// The classes of `c` as a set of the flags above (always with `VALID`).
#[inline]
pub(crate) fn flags(c: char) -> u8 {
    let cp = c as u32;
    if cp < 0x80 {
        return ASCII[cp as usize];
    }
    let class = match RANGES.binary_search_by(|&(start, _)| start.cmp(&cp)) {
        Ok(i) => RANGES[i].1,
        Err(i) => RANGES[i.saturating_sub(1)].1,
    };
    let ws = if is_whitespace(cp) { WHITESPACE } else { 0 };
    VALID | ws | class
}

#[inline]
fn is_whitespace(cp: u32) -> bool {
    matches!(
        cp,
        0x09..=0x0D
            | 0x20
            | 0x85
            | 0xA0
            | 0x1680
            | 0x2000..=0x200A
            | 0x2028
            | 0x2029
            | 0x202F
            | 0x205F
            | 0x3000
    )
}

static ASCII: [u8; 128] = {
    let mut t = [VALID; 128];
    let mut i = 0;
    while i < 128 {
        let c = i as u8;
        if c.is_ascii_alphabetic() {
            t[i] |= LETTER;
        } else if c.is_ascii_digit() {
            t[i] |= NUMBER;
        } else if matches!(c, 0x09..=0x0D | 0x20) {
            t[i] |= WHITESPACE;
        }
        i += 1;
    }
    t
};

/// GPT-2's reversible map from bytes to printable code points: the printable
/// Latin-1 bytes map to themselves, the others to U+0100 and up, in order.
pub(crate) fn gpt2_byte_chars() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut n = 0u32;
    for (b, slot) in table.iter_mut().enumerate() {
        let printable = matches!(b, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF);
        let cp = if printable {
            b as u32
        } else {
            n += 1;
            255 + n
        };
        *slot = char::from_u32(cp).unwrap_or('\0');
    }
    table
}

/// The byte a GPT-2 code point stands for.
#[inline]
pub(crate) fn gpt2_char_byte(c: char) -> Option<u8> {
    let cp = c as u32;
    match cp {
        0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF => Some(cp as u8),
        0x100..=0x143 => {
            // The 68 non-printable bytes, in order: 0x00-0x20, 0x7F-0xA0, 0xAD.
            let k = cp - 0x100;
            Some(match k {
                0..=32 => k as u8,
                33..=66 => (0x7F + (k - 33)) as u8,
                _ => 0xAD,
            })
        }
        _ => None,
    }
}

/// Length of the UTF-8 sequence that starts with byte `b` (1 for a stray
/// continuation byte, as llama.cpp counts it).
#[inline]
pub(crate) fn utf8_len(b: u8) -> usize {
    const LOOKUP: [usize; 16] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4];
    LOOKUP[(b >> 4) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_map_round_trips() {
        let table = gpt2_byte_chars();
        for (b, &c) in table.iter().enumerate() {
            assert_eq!(gpt2_char_byte(c), Some(b as u8), "byte {b:#x}");
        }
        assert_eq!(table[b' ' as usize], 'Ġ');
        assert_eq!(table[b'\n' as usize], 'Ċ');
    }

    #[test]
    fn classes() {
        assert_eq!(flags('a') & LETTER, LETTER);
        assert_eq!(flags('é') & LETTER, LETTER);
        assert_eq!(flags('中') & LETTER, LETTER);
        assert_eq!(flags('٣') & NUMBER, NUMBER);
        assert_eq!(flags('²') & NUMBER, NUMBER);
        assert_eq!(flags('\u{a0}') & WHITESPACE, WHITESPACE);
        assert_eq!(flags('\u{200b}') & (WHITESPACE | LETTER | NUMBER), 0);
        assert_eq!(flags('😀') & (WHITESPACE | LETTER | NUMBER), 0);
        assert_ne!(flags('\u{10ffff}') & VALID, 0);
    }
}
