//! The one error every input parser returns: which file, where in it, and what is wrong.
//!
//! Treasury staff read these messages, so each one names the file, the place (line and column for
//! the comma-separated settlement files, byte offset for the fixed-length bank statement) and a
//! reason in plain words, e.g. `card-settlement-20261124.csv:3:13: gross_amount "12a" is not a
//! whole number of yen`. A value that may be card data is never repeated in a message.

use std::borrow::Cow;
use std::fmt;

use pos_core::mask_pan;

/// Where in a file an error was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A field of a comma-separated file: the 1-based line, and the 1-based column counted in
    /// fields (not bytes), so column 13 of a card settlement line is `gross_amount`.
    Field { line: u64, column: usize },
    /// A whole line of a comma-separated file (1-based), e.g. a line that does not end in CRLF.
    Line { line: u64 },
    /// A place in a fixed-length file: the 0-based byte offset from the start of the file, the
    /// 1-based record number, and the 1-based byte column within the record as the layout tables
    /// number them.
    Byte { offset: u64, record: u64, column: usize },
    /// The file as a whole, e.g. a file whose content was already loaded.
    File,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Field { line, column } => write!(f, "{line}:{column}"),
            Location::Line { line } => write!(f, "{line}"),
            Location::Byte { offset, record, column } => {
                write!(f, "byte {offset} (record {record}, column {column})")
            }
            Location::File => Ok(()),
        }
    }
}

/// A problem with one input file, at one place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InputError {
    /// The file's name as the caller gave it.
    pub file: String,
    pub location: Location,
    /// Boxed: errors travel in every `Result` of the parsers, and the reasons with several
    /// figures would otherwise make each of those results large.
    pub reason: Box<Reason>,
}

impl InputError {
    pub fn new(file: &str, location: Location, reason: Reason) -> InputError {
        InputError { file: file.to_string(), location, reason: Box::new(reason) }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Location::File => write!(f, "{}: {}", self.file, self.reason),
            Location::Byte { .. } => write!(f, "{}: {}: {}", self.file, self.location, self.reason),
            Location::Field { .. } | Location::Line { .. } => {
                write!(f, "{}:{}: {}", self.file, self.location, self.reason)
            }
        }
    }
}

/// What is wrong. Field names are the file's own column names (Japanese where the file is), so a
/// message can be checked against the file by eye.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("cannot read the file: {message}")]
    Io { message: String },
    #[error("the file is empty; expected {expected}")]
    Empty { expected: &'static str },
    #[error("line is longer than {bytes_max} bytes")]
    LineTooLong { bytes_max: usize },
    #[error("line ends with a bare LF; lines must end with CRLF")]
    BareLineFeed,
    #[error("last line does not end with CRLF (is the file cut short?)")]
    UnterminatedLine,
    #[error("quoted field has no closing quote before the end of the line")]
    UnclosedQuote,
    #[error("a quote may only enclose a whole field (and be doubled inside it)")]
    StrayQuote,
    #[error("line has {found} columns; expected {expected}")]
    ColumnCount { found: usize, expected: usize },
    #[error("file starts with a UTF-8 byte order mark, which {format} files do not have")]
    UnexpectedByteOrderMark { format: &'static str },
    #[error("file does not start with the UTF-8 byte order mark that {format} files have")]
    MissingByteOrderMark { format: &'static str },
    #[error("the file is encoded in {found}, but {format} files are {expected}")]
    WrongEncoding { found: &'static str, format: &'static str, expected: &'static str },
    #[error("{field} is not valid {encoding}")]
    Undecodable { field: &'static str, encoding: &'static str },
    #[error("header column is {found:?}; expected {expected:?}")]
    Header { found: String, expected: &'static str },
    /// The general case: a field whose text is not what its column holds.
    #[error("{field} {value:?} {problem}")]
    InvalidValue { field: &'static str, value: String, problem: &'static str },
    /// A masked card number that is not properly masked. The value is withheld on purpose: a
    /// full card number must not travel on into logs and error lists.
    #[error("{field} is not a properly masked number: {problem} (the value is not shown: it may be card data)")]
    Unmasked { field: &'static str, problem: String },
    #[error("{field} {value} of {kind} must be {sign}")]
    Sign { field: &'static str, value: i64, kind: &'static str, sign: &'static str },
    #[error("{net_field} {net} is not {gross_field} {gross} − {fee_field} {fee} = {expected}")]
    NetMismatch {
        net_field: &'static str,
        gross_field: &'static str,
        fee_field: &'static str,
        gross: i64,
        fee: i64,
        net: i64,
        expected: i64,
    },
    #[error("{field} {value:?} differs from {first_value:?} on line {first_line}; a file holds one {what}")]
    Inconsistent { field: &'static str, value: String, first_value: String, first_line: u64, what: &'static str },
    #[error("file ends without the {trailer}")]
    MissingTrailer { trailer: &'static str },
    #[error("nothing may follow the {trailer}")]
    AfterEnd { trailer: &'static str },
    #[error("{field} in the {trailer} is {stated}, but the {items} add up to {computed}")]
    TotalMismatch { field: &'static str, trailer: &'static str, stated: i64, computed: i64, items: &'static str },
    #[error("the {what} leaves the accepted range of amounts")]
    Overflow { what: &'static str },
    #[error("record is {bytes} bytes long; every record is {expected} bytes")]
    RecordTooShort { bytes: usize, expected: usize },
    #[error("expected CRLF after the 200-byte record, found {found}")]
    MissingRecordBreak { found: String },
    #[error("{field} holds byte 0x{byte:02X}, which is not JIS8 (ASCII or half-width katakana)")]
    NotJis8 { field: &'static str, byte: u8 },
    #[error("{found} where {expected} was expected")]
    RecordOrder { found: &'static str, expected: &'static str },
    #[error("{field} {value:?} is not a date of 令和 or 平成 between {earliest} and {latest}")]
    EraDate { field: &'static str, value: String, earliest: chrono::NaiveDate, latest: chrono::NaiveDate },
    #[error("{field} {value} is outside the statement's booking dates {first} to {last} (勘定日（自）–（至）)")]
    OutsideBookingDates {
        field: &'static str,
        value: chrono::NaiveDate,
        first: chrono::NaiveDate,
        last: chrono::NaiveDate,
    },
    #[error("取引前残高 {opening} + 入金 {credits} − 出金 {debits} of the data records = {expected}, but 取引後残高 is {closing}")]
    BalanceMismatch { opening: i64, credits: i64, debits: i64, expected: i64, closing: i64 },
    #[error("same content as {first_file}, which is already loaded (SHA-256 {file_id})")]
    DuplicateFile { first_file: String, file_id: String },
}

/// Longest stretch of a field's text repeated in a message; the rest is cut so that one bad
/// field cannot turn a message into a page.
pub const VALUE_CHARS_SHOWN_MAX: usize = 40;

/// A field's text as shown in a message: cut to [`VALUE_CHARS_SHOWN_MAX`] characters, and with
/// anything that looks like a card number masked, since a full card number can turn up in the
/// wrong column too.
pub(crate) fn shown(text: &str) -> String {
    let redacted = mask_card_numbers(text);
    let mut characters = redacted.chars();
    let mut shown: String = characters.by_ref().take(VALUE_CHARS_SHOWN_MAX).collect();
    if characters.next().is_some() {
        shown.push('…');
    }
    shown
}

/// Masks every run of 13 to 19 digits that passes the Luhn check (the length and checksum of a
/// card number) to its first six and last four digits.
fn mask_card_numbers(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut masked = String::new();
    // Everything before `copied` is already in `masked`; both are always at character
    // boundaries, since digit runs begin and end next to ASCII or the ends of the text.
    let mut copied = 0;
    let mut index = 0;
    while index < bytes.len() {
        if !bytes[index].is_ascii_digit() {
            index += 1;
            continue;
        }
        let start = index;
        while index < bytes.len() && bytes[index].is_ascii_digit() {
            index += 1;
        }
        let run = &text[start..index];
        if (13..=19).contains(&run.len()) && passes_luhn(run) {
            if let Ok(pan) = mask_pan(run) {
                masked.push_str(&text[copied..start]);
                masked.push_str(pan.as_str());
                copied = index;
            }
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    masked.push_str(&text[copied..]);
    Cow::Owned(masked)
}

/// The Luhn check of a string of ASCII digits.
fn passes_luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(position, byte)| {
            let digit = u32::from(byte - b'0');
            if position % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Most errors collected from one file before reading stops: enough to see a pattern in a bad
/// file, few enough that a file of garbage cannot fill memory with messages.
pub const ERRORS_REPORTED_MAX: usize = 100;

/// A file rejected whole, with every error found in it (up to [`ERRORS_REPORTED_MAX`]).
///
/// The convenience readers (`read_card_settlement` and friends) return this: a settlement file is
/// accepted only if all of it is good, and treasury fixes a bad file faster when it sees every
/// bad line at once rather than one per attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FileRejected {
    pub errors: Vec<InputError>,
    /// True when reading stopped at [`ERRORS_REPORTED_MAX`] errors, so more may follow.
    pub truncated: bool,
}

impl FileRejected {
    /// The first error, which every rejection has.
    pub fn first(&self) -> Option<&InputError> {
        self.errors.first()
    }
}

impl fmt::Display for FileRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.errors.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        if self.truncated {
            write!(f, "\n(stopped after {ERRORS_REPORTED_MAX} errors)")?;
        }
        Ok(())
    }
}

/// Drains a streaming reader into a vector, accepting the file only if no item was an error.
pub(crate) fn collect_all<T>(items: impl Iterator<Item = Result<T, InputError>>) -> Result<Vec<T>, FileRejected> {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        match item {
            Ok(record) => {
                if errors.is_empty() {
                    records.push(record);
                }
            }
            Err(error) => {
                // Records are of no use once the file is rejected; free them early.
                records = Vec::new();
                errors.push(error);
                if errors.len() >= ERRORS_REPORTED_MAX {
                    return Err(FileRejected { errors, truncated: true });
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(records)
    } else {
        Err(FileRejected { errors, truncated: false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_file_and_place() {
        let error = InputError::new(
            "card-settlement-20261124.csv",
            Location::Field { line: 3, column: 13 },
            Reason::InvalidValue {
                field: "gross_amount",
                value: "12a".into(),
                problem: "is not a whole number of yen",
            },
        );
        assert_eq!(
            error.to_string(),
            r#"card-settlement-20261124.csv:3:13: gross_amount "12a" is not a whole number of yen"#
        );
        let error = InputError::new(
            "zengin.txt",
            Location::Byte { offset: 226, record: 2, column: 25 },
            Reason::Empty { expected: "a header record" },
        );
        assert_eq!(
            error.to_string(),
            "zengin.txt: byte 226 (record 2, column 25): the file is empty; expected a header record"
        );
    }

    #[test]
    fn card_numbers_in_values_are_masked() {
        assert_eq!(shown("4111111111111111"), "411111******1111");
        assert_eq!(shown("x4111111111111111,y"), "x411111******1111,y");
        // Not a card number: fails the Luhn check, or too short.
        assert_eq!(shown("4111111111111112"), "4111111111111112");
        assert_eq!(shown("632810000123"), "632810000123");
        assert_eq!(shown("カード4111111111111111です"), "カード411111******1111です");
    }

    #[test]
    fn long_values_are_cut() {
        let long = "x".repeat(100);
        assert_eq!(shown(&long).chars().count(), VALUE_CHARS_SHOWN_MAX + 1);
        assert_eq!(shown("short"), "short");
    }
}
