//! Fields of one 200-byte record, by the byte columns of the layout tables.
//!
//! Columns are 1-based as in zengin-statement.md, so the code reads like the table
//! (`record.amount(25, 12, "取引金額")` is 取引金額 at columns 25–36). Every error points at the
//! field's first byte, or at the offending byte for a character that is not JIS8.

use chrono::NaiveDate;
use pos_core::Yen;

use super::era_date::{self, DateStyle};
use crate::inputs::error::{shown, InputError, Location, Reason};

/// Every record is this long, line break excluded.
pub const RECORD_BYTES: usize = 200;

/// One record in the file, with what is needed to read its dates and place its errors.
pub(crate) struct Record<'a> {
    pub bytes: &'a [u8; RECORD_BYTES],
    pub file: &'a str,
    /// Offset of the record's first byte in the file.
    pub offset: u64,
    /// 1-based.
    pub number: u64,
    pub date_style: DateStyle,
    pub read_on: NaiveDate,
}

/// Is this byte a JIS8 character: printable ASCII or a half-width katakana?
fn is_jis8(byte: u8) -> bool {
    (0x20..=0x7E).contains(&byte) || (0xA1..=0xDF).contains(&byte)
}

/// Bytes as text for a message, whatever they hold.
fn lossy(bytes: &[u8]) -> String {
    let (text, _, _) = encoding_rs::SHIFT_JIS.decode(bytes);
    shown(&text)
}

impl<'a> Record<'a> {
    /// An error at 1-based `column` of this record.
    pub fn error(&self, column: usize, reason: Reason) -> InputError {
        let offset = self.offset + column as u64 - 1;
        InputError::new(self.file, Location::Byte { offset, record: self.number, column }, reason)
    }

    /// The bytes of columns `column` to `column + width − 1`. The layouts are constants that
    /// fit in 200 bytes; an empty slice would only come from a mistake in them.
    fn slice(&self, column: usize, width: usize) -> &'a [u8] {
        self.bytes.get(column - 1..column - 1 + width).unwrap_or_default()
    }

    fn is_blank(&self, column: usize, width: usize) -> bool {
        self.slice(column, width).iter().all(|&byte| byte == b' ')
    }

    /// A required N field: digits only.
    pub fn digits(&self, column: usize, width: usize, field: &'static str) -> Result<&'a str, InputError> {
        let bytes = self.slice(column, width);
        if !bytes.iter().all(u8::is_ascii_digit) {
            let value = lossy(bytes);
            return Err(self.error(column, Reason::InvalidValue { field, value, problem: "is not all digits" }));
        }
        // ASCII digits are UTF-8, so this cannot fail; an empty string stands in if it did.
        Ok(std::str::from_utf8(bytes).unwrap_or_default())
    }

    /// An optional N field: all spaces is absent.
    pub fn optional_digits(
        &self,
        column: usize,
        width: usize,
        field: &'static str,
    ) -> Result<Option<&'a str>, InputError> {
        if self.is_blank(column, width) {
            return Ok(None);
        }
        self.digits(column, width, field).map(Some)
    }

    /// A required N field read as a count.
    pub fn count(&self, column: usize, width: usize, field: &'static str) -> Result<u64, InputError> {
        let digits = self.digits(column, width, field)?;
        digits.parse().map_err(|_| {
            self.error(column, Reason::InvalidValue { field, value: shown(digits), problem: "is not a number" })
        })
    }

    /// A required N field read as an (unsigned) amount of yen.
    pub fn amount(&self, column: usize, width: usize, field: &'static str) -> Result<Yen, InputError> {
        let count = self.count(column, width, field)?;
        i64::try_from(count).ok().and_then(|value| Yen::new(value).ok()).ok_or_else(|| {
            let problem = "is outside the accepted range of amounts";
            self.error(column, Reason::InvalidValue { field, value: count.to_string(), problem })
        })
    }

    /// An optional N amount.
    pub fn optional_amount(&self, column: usize, width: usize, field: &'static str) -> Result<Option<Yen>, InputError> {
        if self.is_blank(column, width) {
            return Ok(None);
        }
        self.amount(column, width, field).map(Some)
    }

    /// A required date, six digits in the bank's date style.
    pub fn date(&self, column: usize, field: &'static str) -> Result<NaiveDate, InputError> {
        let digits = self.digits(column, 6, field)?;
        era_date::parse(field, digits, self.date_style, self.read_on).map_err(|reason| self.error(column, reason))
    }

    /// An optional date: blank, or zeros (how banks write "no date"), is absent.
    pub fn optional_date(&self, column: usize, field: &'static str) -> Result<Option<NaiveDate>, InputError> {
        if self.is_blank(column, 6) || self.slice(column, 6) == b"000000" {
            return Ok(None);
        }
        self.date(column, field).map(Some)
    }

    /// A C field: JIS8 characters decoded as Shift_JIS (half-width katakana stay half-width),
    /// trailing spaces trimmed.
    pub fn text(&self, column: usize, width: usize, field: &'static str) -> Result<String, InputError> {
        let bytes = self.slice(column, width);
        if let Some(position) = bytes.iter().position(|&byte| !is_jis8(byte)) {
            let byte = bytes[position];
            return Err(self.error(column + position, Reason::NotJis8 { field, byte }));
        }
        let decoded = encoding_rs::SHIFT_JIS
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or_else(|| self.error(column, Reason::Undecodable { field, encoding: "Shift_JIS" }))?;
        Ok(decoded.trim_end_matches(' ').to_string())
    }

    /// A filler field that must be spaces: anything else means the record is misaligned.
    pub fn blank(&self, column: usize, width: usize, field: &'static str) -> Result<(), InputError> {
        match self.slice(column, width).iter().position(|&byte| byte != b' ') {
            None => Ok(()),
            Some(position) => {
                let value = lossy(self.slice(column, width).get(position..).unwrap_or_default());
                Err(self.error(column + position, Reason::InvalidValue { field, value, problem: "is not spaces" }))
            }
        }
    }

    /// A one-digit code, checked against the values the layout allows.
    pub fn code(
        &self,
        column: usize,
        width: usize,
        field: &'static str,
        allowed: &[&str],
        problem: &'static str,
    ) -> Result<&'a str, InputError> {
        let digits = self.digits(column, width, field)?;
        if allowed.contains(&digits) {
            Ok(digits)
        } else {
            Err(self.error(column, Reason::InvalidValue { field, value: digits.to_string(), problem }))
        }
    }
}
