//! Line framing and field splitting shared by the three comma-separated settlement files.
//!
//! Bytes come in through `BufRead` one line at a time, so a file of any size needs only one line
//! in memory. A line must end in CRLF (the last one too) and stay under [`LINE_BYTES_MAX`].
//! Fields are split on the raw bytes before decoding: a comma, a quote, CR and LF never occur
//! inside a multi-byte character of UTF-8 or Shift_JIS, so the split is the same for both, and a
//! field that fails to decode can be named by its column. Fields may be quoted as RFC 4180 says
//! (`"a,b"`, `""` for a quote), though none of the acquirers' samples are; a line break inside
//! quotes is not accepted.

use std::borrow::Cow;
use std::io::{BufRead, ErrorKind};
use std::ops::Range;

use pos_core::Yen;

use super::error::{shown, InputError, Location, Reason};
use super::field::Sign;

/// The byte order mark that starts a UTF-8 file written by Windows tools.
pub(crate) const UTF8_BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// Longest line accepted, CRLF excluded. A card settlement line is about 200 bytes; the bound
/// keeps a file without line breaks from being read into memory whole.
pub const LINE_BYTES_MAX: usize = 4096;

/// The character encoding of a comma-separated file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextEncoding {
    Utf8,
    ShiftJis,
}

impl TextEncoding {
    fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::ShiftJis => "Shift_JIS",
        }
    }

    /// The text of a field, or `None` when its bytes are not valid in this encoding.
    fn decode(self, bytes: &[u8]) -> Option<Cow<'_, str>> {
        match self {
            TextEncoding::Utf8 => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
            TextEncoding::ShiftJis => encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes),
        }
    }
}

/// Reads lines and splits them into fields, keeping the line number for messages.
pub(crate) struct DelimitedLines<R> {
    reader: R,
    file: String,
    encoding: TextEncoding,
    /// Names of the columns, for messages; also the expected number of fields.
    columns: &'static [&'static str],
    /// Number of the line last read (1-based); 0 before the first.
    line_number: u64,
    line: Vec<u8>,
    /// Field contents with quoting removed, back to back; `ranges` cut them apart.
    unquoted: Vec<u8>,
    ranges: Vec<Range<usize>>,
}

impl<R: BufRead> DelimitedLines<R> {
    pub(crate) fn new(
        file: String,
        reader: R,
        encoding: TextEncoding,
        columns: &'static [&'static str],
    ) -> DelimitedLines<R> {
        DelimitedLines {
            reader,
            file,
            encoding,
            columns,
            line_number: 0,
            line: Vec::new(),
            unquoted: Vec::new(),
            ranges: Vec::new(),
        }
    }

    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    /// An error about the line last read as a whole.
    pub(crate) fn line_error(&self, reason: Reason) -> InputError {
        InputError::new(&self.file, Location::Line { line: self.line_number }, reason)
    }

    /// An error about the place just after the last line, where the file ended too early.
    pub(crate) fn end_error(&self, reason: Reason) -> InputError {
        InputError::new(&self.file, Location::Line { line: self.line_number + 1 }, reason)
    }

    /// The raw bytes of the line last read, without its CRLF.
    pub(crate) fn raw_line(&self) -> &[u8] {
        &self.line
    }

    /// Reads the next line. `Ok(false)` at the end of the file.
    pub(crate) fn read_line(&mut self) -> Result<bool, InputError> {
        self.line.clear();
        let mut ended_with_line_feed = false;
        while !ended_with_line_feed {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => {
                    return Err(self.end_error(Reason::Io { message: error.to_string() }));
                }
            };
            if available.is_empty() {
                break;
            }
            let (taken, found) = match available.iter().position(|&byte| byte == b'\n') {
                Some(position) => (position + 1, true),
                None => (available.len(), false),
            };
            // Two more bytes for the CRLF itself.
            if self.line.len() + taken > LINE_BYTES_MAX + 2 {
                return Err(self.end_error(Reason::LineTooLong { bytes_max: LINE_BYTES_MAX }));
            }
            self.line.extend_from_slice(&available[..taken]);
            self.reader.consume(taken);
            ended_with_line_feed = found;
        }
        if self.line.is_empty() {
            return Ok(false);
        }
        self.line_number += 1;
        if !ended_with_line_feed {
            return Err(self.line_error(Reason::UnterminatedLine));
        }
        if !self.line.ends_with(b"\r\n") {
            return Err(self.line_error(Reason::BareLineFeed));
        }
        self.line.truncate(self.line.len() - 2);
        Ok(true)
    }

    /// Splits the line last read into fields, skipping `skip` leading bytes (a byte order mark).
    pub(crate) fn split(&mut self, skip: usize) -> Result<Row<'_>, InputError> {
        self.unquoted.clear();
        self.ranges.clear();
        let line = self.line.get(skip..).unwrap_or_default();
        if let Err((column, reason)) = split_fields(line, &mut self.unquoted, &mut self.ranges) {
            return Err(InputError::new(&self.file, Location::Field { line: self.line_number, column }, reason));
        }
        Ok(Row {
            file: &self.file,
            line: self.line_number,
            encoding: self.encoding,
            columns: self.columns,
            bytes: &self.unquoted,
            ranges: &self.ranges,
        })
    }
}

/// Splits one line into fields, unquoting quoted ones. The error carries the 1-based column.
fn split_fields(line: &[u8], out: &mut Vec<u8>, ranges: &mut Vec<Range<usize>>) -> Result<(), (usize, Reason)> {
    let mut position = 0;
    let mut column = 1;
    loop {
        let start = out.len();
        if line.get(position) == Some(&b'"') {
            position += 1;
            loop {
                match line.get(position) {
                    None => return Err((column, Reason::UnclosedQuote)),
                    Some(b'"') if line.get(position + 1) == Some(&b'"') => {
                        out.push(b'"');
                        position += 2;
                    }
                    Some(b'"') => {
                        position += 1;
                        break;
                    }
                    Some(&byte) => {
                        out.push(byte);
                        position += 1;
                    }
                }
            }
            ranges.push(start..out.len());
            match line.get(position) {
                None => return Ok(()),
                Some(b',') => position += 1,
                Some(_) => return Err((column, Reason::StrayQuote)),
            }
        } else {
            let rest = line.get(position..).unwrap_or_default();
            let length = rest.iter().position(|&byte| byte == b',').unwrap_or(rest.len());
            let field = &rest[..length];
            if field.contains(&b'"') {
                return Err((column, Reason::StrayQuote));
            }
            out.extend_from_slice(field);
            ranges.push(start..out.len());
            if length == rest.len() {
                return Ok(());
            }
            position += length + 1;
        }
        column += 1;
    }
}

/// One line's fields, with what is needed to decode them and to place an error.
pub(crate) struct Row<'a> {
    file: &'a str,
    line: u64,
    encoding: TextEncoding,
    columns: &'static [&'static str],
    bytes: &'a [u8],
    ranges: &'a [Range<usize>],
}

impl<'a> Row<'a> {
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    pub(crate) fn len(&self) -> usize {
        self.ranges.len()
    }

    /// The name of the column at `index` (0-based), from the format's header.
    pub(crate) fn name(&self, index: usize) -> &'static str {
        self.columns.get(index).copied().unwrap_or("extra column")
    }

    /// Checks a header row against the format's column names, naming the first that differs.
    pub(crate) fn check_header(&self) -> Result<(), InputError> {
        for (index, &expected) in self.columns.iter().enumerate().take(self.len()) {
            let text = self.text(index)?;
            if text != expected {
                return Err(self.error(index, Reason::Header { found: shown(&text), expected }));
            }
        }
        self.expect_columns()
    }

    /// An error at the field with 0-based `index`.
    pub(crate) fn error(&self, index: usize, reason: Reason) -> InputError {
        InputError::new(self.file, Location::Field { line: self.line, column: index + 1 }, reason)
    }

    /// Checks that the line has exactly as many fields as the header, naming the first missing
    /// or first extra column.
    pub(crate) fn expect_columns(&self) -> Result<(), InputError> {
        let expected = self.columns.len();
        let found = self.len();
        if found == expected {
            return Ok(());
        }
        let column_index = found.min(expected);
        Err(self.error(column_index, Reason::ColumnCount { found, expected }))
    }

    /// The raw bytes of a field after unquoting.
    pub(crate) fn bytes(&self, index: usize) -> &'a [u8] {
        self.ranges.get(index).and_then(|range| self.bytes.get(range.clone())).unwrap_or_default()
    }

    /// The decoded text of a field.
    pub(crate) fn text(&self, index: usize) -> Result<Cow<'a, str>, InputError> {
        let bytes = self.bytes(index);
        self.encoding.decode(bytes).ok_or_else(|| {
            self.error(index, Reason::Undecodable { field: self.name(index), encoding: self.encoding.name() })
        })
    }

    /// A required field parsed by `parse`, whose error text completes "<field> <value> …".
    pub(crate) fn parse<T>(
        &self,
        index: usize,
        parse: impl FnOnce(&str) -> Result<T, &'static str>,
    ) -> Result<T, InputError> {
        let text = self.text(index)?;
        parse(&text).map_err(|problem| {
            self.error(index, Reason::InvalidValue { field: self.name(index), value: shown(&text), problem })
        })
    }

    /// An optional field: empty is absent, anything else must parse.
    pub(crate) fn parse_optional<T>(
        &self,
        index: usize,
        parse: impl FnOnce(&str) -> Result<T, &'static str>,
    ) -> Result<Option<T>, InputError> {
        if self.bytes(index).is_empty() {
            return Ok(None);
        }
        self.parse(index, parse).map(Some)
    }

    /// An amount whose sign the record's kind fixes.
    pub(crate) fn check_sign(
        &self,
        index: usize,
        amount: Yen,
        sign: Sign,
        kind: &'static str,
    ) -> Result<(), InputError> {
        if sign.admits(amount) {
            return Ok(());
        }
        Err(self.error(index, Reason::Sign { field: self.name(index), value: amount.get(), kind, sign: sign.word() }))
    }

    /// Checks net = gross − fee, given the columns of the three amounts and their values.
    pub(crate) fn check_net(&self, columns: [usize; 3], amounts: [Yen; 3]) -> Result<(), InputError> {
        let [gross_column, fee_column, net_column] = columns;
        let [gross, fee, net] = amounts;
        let expected = gross
            .checked_sub(fee)
            .map_err(|_| self.error(net_column, Reason::Overflow { what: "difference of the amounts" }))?;
        if expected == net {
            return Ok(());
        }
        Err(self.error(
            net_column,
            Reason::NetMismatch {
                net_field: self.name(net_column),
                gross_field: self.name(gross_column),
                fee_field: self.name(fee_column),
                gross: gross.get(),
                fee: fee.get(),
                net: net.get(),
                expected: expected.get(),
            },
        ))
    }

    /// A field that must be empty (the unused columns of a trailer row).
    pub(crate) fn expect_empty(&self, index: usize) -> Result<(), InputError> {
        if self.bytes(index).is_empty() {
            return Ok(());
        }
        self.parse(index, |_| Err("must be empty on this row"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &[u8]) -> Result<Vec<Vec<u8>>, (usize, Reason)> {
        let mut out = Vec::new();
        let mut ranges = Vec::new();
        split_fields(line, &mut out, &mut ranges)?;
        Ok(ranges.into_iter().map(|range| out[range].to_vec()).collect())
    }

    #[test]
    fn splits_plain_and_quoted_fields() {
        assert_eq!(split(b"a,,b,").unwrap(), vec![b"a".to_vec(), vec![], b"b".to_vec(), vec![]]);
        assert_eq!(split(b"").unwrap(), vec![Vec::<u8>::new()]);
        assert_eq!(
            split(br#""a,b","say ""hi""",c"#).unwrap(),
            vec![b"a,b".to_vec(), br#"say "hi""#.to_vec(), b"c".to_vec()]
        );
        assert_eq!(split(br#"a,"b"#).unwrap_err(), (2, Reason::UnclosedQuote));
        assert_eq!(split(br#"a,b"c"#).unwrap_err(), (2, Reason::StrayQuote));
        assert_eq!(split(br#""a"b,c"#).unwrap_err(), (1, Reason::StrayQuote));
    }

    #[test]
    fn lines_must_end_in_crlf() {
        let mut lines = DelimitedLines::new("f.csv".into(), &b"a\r\nb\nc"[..], TextEncoding::Utf8, &["x"]);
        assert!(lines.read_line().unwrap());
        assert_eq!(lines.raw_line(), b"a");
        assert_eq!(
            lines.read_line().unwrap_err().to_string(),
            "f.csv:2: line ends with a bare LF; lines must end with CRLF"
        );
    }

    #[test]
    fn long_lines_are_refused_without_reading_them_whole() {
        let long = vec![b'a'; LINE_BYTES_MAX + 10];
        let mut lines = DelimitedLines::new("f.csv".into(), &long[..], TextEncoding::Utf8, &["x"]);
        assert_eq!(*lines.read_line().unwrap_err().reason, Reason::LineTooLong { bytes_max: LINE_BYTES_MAX });
    }
}
