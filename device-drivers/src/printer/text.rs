//! Receipt text as the printer sees it: Shift_JIS bytes, and columns counted from them.
//!
//! A character's width on the paper is its Shift_JIS length: a one-byte character (ASCII,
//! half-width katakana) takes one column, a two-byte character (kanji, kana, full-width forms)
//! takes two. Counting this way means the width of a line is simply its encoded length, so the
//! layout can never disagree with what the printer receives.
//!
//! Text is made printable before layout ([`printable`]), so that everything laid out encodes and
//! decodes back to itself: the half-width yen sign becomes the full-width `￥` (Shift_JIS has no
//! byte for U+00A5 that decodes back to it; `encoding_rs` writes it as `0x5C`, the backslash),
//! control characters become spaces, and any character Shift_JIS cannot hold becomes `?`.

use encoding_rs::SHIFT_JIS;

/// Replaces a character Shift_JIS cannot carry.
pub const REPLACEMENT_CHAR: char = '?';
/// The full-width yen sign, which round-trips through Shift_JIS (`81 8F`).
pub const YEN_SIGN_FULL_WIDTH: char = '￥';

/// The Shift_JIS bytes of text that went through [`printable`].
pub fn encode(text: &str) -> Vec<u8> {
    let (bytes, _encoding, _had_errors) = SHIFT_JIS.encode(text);
    bytes.into_owned()
}

/// Text decoded from Shift_JIS bytes; undecodable bytes become U+FFFD.
pub fn decode(bytes: &[u8]) -> String {
    let (text, _had_errors) = SHIFT_JIS.decode_without_bom_handling(bytes);
    text.into_owned()
}

/// The columns one printable character takes: its Shift_JIS length.
pub fn char_columns(character: char) -> usize {
    let mut buffer = [0_u8; 4];
    encode(character.encode_utf8(&mut buffer)).len()
}

/// The columns a printable text takes.
pub fn columns(text: &str) -> usize {
    encode(text).len()
}

/// The text with every character replaced by one that prints and round-trips (see the module
/// documentation).
pub fn printable(text: &str) -> String {
    text.chars().map(printable_char).collect()
}

fn printable_char(character: char) -> char {
    if character == '¥' {
        return YEN_SIGN_FULL_WIDTH;
    }
    if character.is_control() {
        return ' ';
    }
    let mut buffer = [0_u8; 4];
    let original = character.encode_utf8(&mut buffer);
    let (bytes, _encoding, had_errors) = SHIFT_JIS.encode(original);
    if had_errors || decode(&bytes) != *original {
        REPLACEMENT_CHAR
    } else {
        character
    }
}

/// Splits printable text into pieces of at most `width` columns, never inside a character.
/// Empty text gives one empty piece, so a blank line stays a line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    for character in text.chars() {
        let needed = char_columns(character);
        if used + needed > width && !current.is_empty() {
            pieces.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(character);
        used += needed;
    }
    pieces.push(current);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_characters_take_two_columns() {
        assert_eq!(columns("住民票の写し"), 12);
        assert_eq!(columns("No. 12"), 6);
        assert_eq!(columns("ｱｲｳ"), 3);
        assert_eq!(columns("￥1,500"), 7);
    }

    #[test]
    fn yen_sign_and_unmappable_characters_are_replaced() {
        assert_eq!(printable("¥1,500"), "￥1,500");
        assert_eq!(printable("a\tb"), "a b");
        assert_eq!(printable("😀"), "?");
        let text = printable("戸籍全部事項証明書 × 2 ¥900");
        assert_eq!(decode(&encode(&text)), text);
    }

    #[test]
    fn wrapping_never_splits_a_character() {
        assert_eq!(wrap("住民票の写し", 5), vec!["住民", "票の", "写し"]);
        assert_eq!(wrap("", 5), vec![""]);
    }
}
