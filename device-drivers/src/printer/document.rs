//! A printable document: blocks of text laid out into lines of exact characters, and the
//! ESC/POS bytes of those lines.
//!
//! Layout happens here, not in the printer: alignment is done with spaces and long text is
//! wrapped by us, and the printer only ever receives lines that fit. So [`Document::lines`] is
//! exactly what is printed, [`Document::render_text`] shows it, and [`Document::encode`] sends it;
//! the printer's own alignment (`ESC a`) and wrapping are never used, because they would make
//! the paper differ from the rendering.
//!
//! Width: [`LineWidth::Columns42`] (80 mm paper, font A on the common 42-column setting) or
//! [`LineWidth::Columns32`] (58 mm paper). Columns are counted as [`super::text`] says: a
//! full-width character takes two. A double-size line has half the columns, because every
//! character is printed twice as wide; its text is laid out in that half.

use super::escpos::{
    self, Command, CODE_TABLE_KATAKANA, INTERNATIONAL_SET_USA, KANJI_CODE_SHIFT_JIS, KANJI_SIZE_DOUBLE, SIZE_DOUBLE,
};
use super::text;

/// The separator character, repeated across the line.
pub const SEPARATOR_CHAR: char = '-';
/// The most blank lines one feed block prints (the receipt needs a few; more is a mistake).
pub const FEED_LINES_MAX: u8 = 10;

/// How many columns a normal-size line has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineWidth {
    /// 58 mm paper.
    Columns32,
    /// 80 mm paper, font A at 42 columns.
    Columns42,
}

impl LineWidth {
    pub fn columns(self) -> usize {
        match self {
            LineWidth::Columns32 => 32,
            LineWidth::Columns42 => 42,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alignment {
    Left,
    Center,
    Right,
}

/// How a line is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    pub bold: bool,
    /// Double width and double height.
    pub double_size: bool,
}

impl Style {
    pub const NORMAL: Style = Style { bold: false, double_size: false };
    pub const BOLD: Style = Style { bold: true, double_size: false };
    pub const DOUBLE: Style = Style { bold: true, double_size: true };
}

/// One block of a document, before layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// Text, wrapped to the width and aligned.
    Text { text: String, alignment: Alignment, style: Style },
    /// A label on the left and a value on the right (an item and its amount). When both do not
    /// fit on one line, the label is wrapped on its own lines and the value follows, right-aligned.
    Pair { label: String, value: String, style: Style },
    /// A line of [`SEPARATOR_CHAR`].
    Separator,
    /// Blank lines, at most [`FEED_LINES_MAX`].
    Feed(u8),
}

/// One printed line: its exact characters (padding included) and its style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub style: Style,
}

/// A document: blocks laid out at a width, ending with a cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub width: LineWidth,
    pub blocks: Vec<Block>,
}

impl Document {
    pub fn new(width: LineWidth) -> Document {
        Document { width, blocks: Vec::new() }
    }

    pub fn push(&mut self, block: Block) {
        self.blocks.push(block);
    }

    /// Every printed line, in order. A feed of n gives n empty lines.
    pub fn lines(&self) -> Vec<Line> {
        let mut lines = Vec::new();
        for block in &self.blocks {
            self.layout_block(block, &mut lines);
        }
        lines
    }

    /// What the paper shows: each line's characters, one line per `\n`.
    pub fn render_text(&self) -> String {
        let mut rendered = String::new();
        for line in self.lines() {
            rendered.push_str(&line.text);
            rendered.push('\n');
        }
        rendered
    }

    /// The ESC/POS bytes: set up Kanji mode and Shift_JIS, print every line, feed to the cutter
    /// and cut.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for command in [
            Command::Initialize,
            Command::InternationalSet(INTERNATIONAL_SET_USA),
            Command::CodeTable(CODE_TABLE_KATAKANA),
            Command::KanjiModeOn,
            Command::KanjiCodeSystem(KANJI_CODE_SHIFT_JIS),
        ] {
            command.encode_into(&mut out);
        }
        let mut current = Style::NORMAL;
        for line in self.lines() {
            if line.style != current {
                encode_style(line.style, &mut out);
                current = line.style;
            }
            if !line.text.is_empty() {
                Command::Text(text::encode(&line.text)).encode_into(&mut out);
            }
            Command::LineFeed.encode_into(&mut out);
        }
        if current != Style::NORMAL {
            encode_style(Style::NORMAL, &mut out);
        }
        out.extend_from_slice(&escpos::cut());
        out
    }

    fn layout_block(&self, block: &Block, lines: &mut Vec<Line>) {
        match block {
            Block::Text { text, alignment, style } => {
                let width = self.columns_for(*style);
                for piece in text::wrap(&text::printable(text), width) {
                    lines.push(Line { text: align(&piece, *alignment, width), style: *style });
                }
            }
            Block::Pair { label, value, style } => {
                let width = self.columns_for(*style);
                let (label, value) = (text::printable(label), text::printable(value));
                let needed = text::columns(&label) + 1 + text::columns(&value);
                if needed <= width {
                    let gap = width - text::columns(&label) - text::columns(&value);
                    lines.push(Line { text: format!("{label}{}{value}", " ".repeat(gap)), style: *style });
                } else {
                    for piece in text::wrap(&label, width) {
                        lines.push(Line { text: piece, style: *style });
                    }
                    for piece in text::wrap(&value, width) {
                        lines.push(Line { text: align(&piece, Alignment::Right, width), style: *style });
                    }
                }
            }
            Block::Separator => {
                lines.push(Line { text: SEPARATOR_CHAR.to_string().repeat(self.width.columns()), style: Style::NORMAL })
            }
            Block::Feed(count) => {
                for _ in 0..(*count).min(FEED_LINES_MAX) {
                    lines.push(Line { text: String::new(), style: Style::NORMAL });
                }
            }
        }
    }

    fn columns_for(&self, style: Style) -> usize {
        if style.double_size {
            self.width.columns() / 2
        } else {
            self.width.columns()
        }
    }
}

/// Pads a piece that fits in `width` to its place. Left-aligned text gets no trailing spaces,
/// so the rendering has none to trip over.
fn align(piece: &str, alignment: Alignment, width: usize) -> String {
    let free = width.saturating_sub(text::columns(piece));
    let before = match alignment {
        Alignment::Left => 0,
        Alignment::Center => free / 2,
        Alignment::Right => free,
    };
    format!("{}{piece}", " ".repeat(before))
}

fn encode_style(style: Style, out: &mut Vec<u8>) {
    Command::Bold(style.bold).encode_into(out);
    let (size, kanji_size) = if style.double_size { (SIZE_DOUBLE, KANJI_SIZE_DOUBLE) } else { (0, 0) };
    Command::Size(size).encode_into(out);
    Command::KanjiSize(kanji_size).encode_into(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_fill_the_line_or_wrap() {
        let mut document = Document::new(LineWidth::Columns32);
        document
            .push(Block::Pair { label: "住民票の写し × 2".into(), value: "¥600".into(), style: Style::NORMAL });
        document.push(Block::Pair {
            label: "とても長い名前の証明書とても長い名前の証明書".into(),
            value: "¥1,500".into(),
            style: Style::NORMAL,
        });
        let lines = document.lines();
        assert_eq!(lines[0].text, format!("住民票の写し × 2{}￥600", " ".repeat(10)));
        assert!(lines.iter().all(|line| text::columns(&line.text) <= 32));
        assert_eq!(lines.last().map(|line| line.text.trim_start()), Some("￥1,500"));
    }

    #[test]
    fn double_size_lines_are_laid_out_in_half_the_columns() {
        let mut document = Document::new(LineWidth::Columns42);
        document.push(Block::Text { text: "領収書".into(), alignment: Alignment::Center, style: Style::DOUBLE });
        assert_eq!(document.lines()[0].text, format!("{}領収書", " ".repeat(7)));
    }
}
