//! The ESC/POS commands we send, as bytes, and a parser of the same subset back into commands.
//!
//! Only the commands the receipt needs are here, each with its bytes in one place. The parser
//! exists so tests (and the simulated printer in them) can read what was sent: it knows exactly
//! these commands and calls anything else an error, naming the byte offset.

/// Escape.
pub const ESC: u8 = 0x1B;
/// Group separator, the prefix of `GS` commands.
pub const GS: u8 = 0x1D;
/// File separator, the prefix of the Kanji (`FS`) commands.
pub const FS: u8 = 0x1C;
/// Data link escape, the prefix of real-time commands.
pub const DLE: u8 = 0x10;
/// End of transmission, the second byte of the real-time status query.
pub const EOT: u8 = 0x04;
/// Line feed: prints the buffered line and advances one line.
pub const LF: u8 = 0x0A;

/// `GS V m n` function B, partial cut: the printer first feeds the last printed line past the
/// cutter (plus `n` motion units, here none), so nothing printed is cut off.
pub const CUT_PARTIAL_FEED: u8 = 0x42;
/// `FS C n`: the Kanji code system Shift_JIS.
pub const KANJI_CODE_SHIFT_JIS: u8 = 0x01;
/// `ESC t n`: code table page 1, half-width katakana, for the one-byte range `A1`–`DF`.
pub const CODE_TABLE_KATAKANA: u8 = 0x01;
/// `ESC R n`: international character set U.S.A., so `5C` prints as the backslash it decodes to.
pub const INTERNATIONAL_SET_USA: u8 = 0x00;
/// `GS ! n`: double width and double height for one-byte characters.
pub const SIZE_DOUBLE: u8 = 0x11;
/// `FS ! n`: double width (bit 2) and double height (bit 3) for Kanji characters.
pub const KANJI_SIZE_DOUBLE: u8 = 0x0C;

/// The longest drawer pulse `ESC p` can express, in milliseconds (255 units of 2 ms).
pub const DRAWER_PULSE_MS_MAX: u16 = 510;

/// Which drawer kick-out connector pin drives the drawer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrawerPin {
    /// Pin 2, the first drawer (almost every counter has only this one).
    Pin2,
    /// Pin 5, a second drawer.
    Pin5,
}

/// One ESC/POS command of the subset we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `ESC @`: reset to power-on settings.
    Initialize,
    /// `FS &`: Kanji mode on, two-byte codes print as Kanji.
    KanjiModeOn,
    /// `FS C n`: the Kanji code system.
    KanjiCodeSystem(u8),
    /// `ESC t n`: the one-byte code table.
    CodeTable(u8),
    /// `ESC R n`: the international character set.
    InternationalSet(u8),
    /// `ESC E n`: emphasised (bold) on or off.
    Bold(bool),
    /// `GS ! n`: one-byte character size.
    Size(u8),
    /// `FS ! n`: Kanji character mode (size bits).
    KanjiSize(u8),
    /// Printable bytes, Shift_JIS.
    Text(Vec<u8>),
    /// `LF`.
    LineFeed,
    /// `ESC d n`: print and feed n lines.
    FeedLines(u8),
    /// `GS V m n`, function B.
    Cut { mode: u8, feed: u8 },
    /// `ESC p m t1 t2`: drawer kick pulse, times in units of 2 ms.
    DrawerKick { pin: u8, on_units: u8, off_units: u8 },
    /// `DLE EOT n`: real-time status query.
    StatusQuery(u8),
}

impl Command {
    /// The command's bytes.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Command::Initialize => out.extend_from_slice(&[ESC, b'@']),
            Command::KanjiModeOn => out.extend_from_slice(&[FS, b'&']),
            Command::KanjiCodeSystem(code) => out.extend_from_slice(&[FS, b'C', *code]),
            Command::CodeTable(table) => out.extend_from_slice(&[ESC, b't', *table]),
            Command::InternationalSet(set) => out.extend_from_slice(&[ESC, b'R', *set]),
            Command::Bold(on) => out.extend_from_slice(&[ESC, b'E', u8::from(*on)]),
            Command::Size(size) => out.extend_from_slice(&[GS, b'!', *size]),
            Command::KanjiSize(size) => out.extend_from_slice(&[FS, b'!', *size]),
            Command::Text(bytes) => out.extend_from_slice(bytes),
            Command::LineFeed => out.push(LF),
            Command::FeedLines(lines) => out.extend_from_slice(&[ESC, b'd', *lines]),
            Command::Cut { mode, feed } => out.extend_from_slice(&[GS, b'V', *mode, *feed]),
            Command::DrawerKick { pin, on_units, off_units } => {
                out.extend_from_slice(&[ESC, b'p', *pin, *on_units, *off_units])
            }
            Command::StatusQuery(kind) => out.extend_from_slice(&[DLE, EOT, *kind]),
        }
    }
}

/// The drawer kick pulse: `ESC p m t1 t2`, with `t1` on and `t2` off in 2 ms units (rounded
/// down, at most [`DRAWER_PULSE_MS_MAX`]).
pub fn drawer_kick(pin: DrawerPin, on_ms: u16, off_ms: u16) -> Vec<u8> {
    let units = |ms: u16| u8::try_from(ms.min(DRAWER_PULSE_MS_MAX) / 2).unwrap_or(u8::MAX);
    let pin = match pin {
        DrawerPin::Pin2 => 0,
        DrawerPin::Pin5 => 1,
    };
    let mut out = Vec::with_capacity(5);
    Command::DrawerKick { pin, on_units: units(on_ms), off_units: units(off_ms) }.encode_into(&mut out);
    out
}

/// The cut: `GS V 66 0` (feed to the cutter, then a partial cut).
pub fn cut() -> Vec<u8> {
    let mut out = Vec::with_capacity(4);
    Command::Cut { mode: CUT_PARTIAL_FEED, feed: 0 }.encode_into(&mut out);
    out
}

/// Why bytes could not be read as commands of our subset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("byte offset {offset}: command {prefix:#04x} {code:#04x} is not one we send")]
    UnknownCommand { offset: usize, prefix: u8, code: u8 },
    #[error("byte offset {offset}: control byte {byte:#04x} is not one we send")]
    UnknownControl { offset: usize, byte: u8 },
    #[error("byte offset {offset}: the command is cut short ({needed} bytes needed)")]
    Truncated { offset: usize, needed: usize },
}

/// Reads bytes back into commands. Consecutive printable bytes form one [`Command::Text`].
pub fn parse(bytes: &[u8]) -> Result<Vec<Command>, ParseError> {
    let mut commands = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let byte = bytes[offset];
        if byte >= 0x20 {
            let end = bytes[offset..].iter().position(|&next| next < 0x20).map_or(bytes.len(), |run| offset + run);
            commands.push(Command::Text(bytes[offset..end].to_vec()));
            offset = end;
            continue;
        }
        let (command, length) = parse_control(bytes, offset)?;
        commands.push(command);
        offset += length;
    }
    Ok(commands)
}

/// The command at the start of `bytes` and how many bytes it took, for a reader that gets bytes
/// as they arrive (the simulated printer): [`ParseError::Truncated`] means "wait for more". A run
/// of printable bytes is one [`Command::Text`] up to the next control byte or the end.
pub fn parse_first(bytes: &[u8]) -> Result<Option<(Command, usize)>, ParseError> {
    match bytes.first() {
        None => Ok(None),
        Some(&byte) if byte >= 0x20 => {
            let end = bytes.iter().position(|&next| next < 0x20).unwrap_or(bytes.len());
            Ok(Some((Command::Text(bytes[..end].to_vec()), end)))
        }
        Some(_) => parse_control(bytes, 0).map(Some),
    }
}

/// One control command at `offset`, and how many bytes it took.
fn parse_control(bytes: &[u8], offset: usize) -> Result<(Command, usize), ParseError> {
    let byte = bytes[offset];
    if byte == LF {
        return Ok((Command::LineFeed, 1));
    }
    if ![ESC, FS, GS, DLE].contains(&byte) {
        return Err(ParseError::UnknownControl { offset, byte });
    }
    let argument = |index: usize, needed: usize| {
        bytes.get(offset + index).copied().ok_or(ParseError::Truncated { offset, needed })
    };
    let code = argument(1, 2)?;
    let unknown = ParseError::UnknownCommand { offset, prefix: byte, code };
    let command = match (byte, code) {
        (ESC, b'@') => (Command::Initialize, 2),
        (ESC, b't') => (Command::CodeTable(argument(2, 3)?), 3),
        (ESC, b'R') => (Command::InternationalSet(argument(2, 3)?), 3),
        (ESC, b'E') => (Command::Bold(argument(2, 3)? & 1 == 1), 3),
        (ESC, b'd') => (Command::FeedLines(argument(2, 3)?), 3),
        (ESC, b'p') => {
            let (pin, on_units, off_units) = (argument(2, 5)?, argument(3, 5)?, argument(4, 5)?);
            (Command::DrawerKick { pin, on_units, off_units }, 5)
        }
        (FS, b'&') => (Command::KanjiModeOn, 2),
        (FS, b'C') => (Command::KanjiCodeSystem(argument(2, 3)?), 3),
        (FS, b'!') => (Command::KanjiSize(argument(2, 3)?), 3),
        (GS, b'!') => (Command::Size(argument(2, 3)?), 3),
        (GS, b'V') => (Command::Cut { mode: argument(2, 4)?, feed: argument(3, 4)? }, 4),
        (DLE, EOT) => (Command::StatusQuery(argument(2, 3)?), 3),
        _ => return Err(unknown),
    };
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_parses_back() {
        let commands = vec![
            Command::Initialize,
            Command::KanjiModeOn,
            Command::KanjiCodeSystem(KANJI_CODE_SHIFT_JIS),
            Command::CodeTable(CODE_TABLE_KATAKANA),
            Command::InternationalSet(INTERNATIONAL_SET_USA),
            Command::Bold(true),
            Command::Size(SIZE_DOUBLE),
            Command::KanjiSize(KANJI_SIZE_DOUBLE),
            Command::Text(b"No. 1".to_vec()),
            Command::LineFeed,
            Command::FeedLines(3),
            Command::Cut { mode: CUT_PARTIAL_FEED, feed: 0 },
            Command::DrawerKick { pin: 0, on_units: 25, off_units: 250 },
            Command::StatusQuery(4),
        ];
        let mut bytes = Vec::new();
        for command in &commands {
            command.encode_into(&mut bytes);
        }
        assert_eq!(parse(&bytes), Ok(commands));
    }

    #[test]
    fn unknown_and_truncated_commands_name_the_offset() {
        assert_eq!(parse(b"ab\x1b"), Err(ParseError::Truncated { offset: 2, needed: 2 }));
        assert_eq!(parse(b"\x1bZ"), Err(ParseError::UnknownCommand { offset: 0, prefix: ESC, code: b'Z' }));
        assert_eq!(parse(b"a\x07"), Err(ParseError::UnknownControl { offset: 1, byte: 0x07 }));
    }
}
