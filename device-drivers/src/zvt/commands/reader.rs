//! Reading a command's data: fixed fields by position, then BMPs checked against what the
//! command allows. Every error names the offset in the APDU.

use pos_core::Yen;

use super::fields::{
    CurrencyCode, ExpiryDate, MonthDay, Password, ReceiptNumber, TerminalNumber, TimeOfDay, TraceNumber, TurnoverNumber,
};
use super::CommandError;
use crate::zvt::apdu::Apdu;
use crate::zvt::bcd;
use crate::zvt::bmp::{self, BmpField, BmpValue, LocatedField};
use crate::zvt::tlv::TlvContainer;

/// A cursor over an APDU's data for the fixed fields at its start.
#[derive(Clone)]
pub(crate) struct DataReader<'a> {
    data: &'a [u8],
    position: usize,
    base_offset: usize,
    message: &'static str,
}

impl<'a> DataReader<'a> {
    pub(crate) fn new(apdu: &'a Apdu, message: &'static str) -> DataReader<'a> {
        DataReader { data: apdu.data(), position: 0, base_offset: apdu.data_offset(), message }
    }

    /// The APDU offset of the next byte.
    pub(crate) fn offset(&self) -> usize {
        self.base_offset + self.position
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.position
    }

    pub(crate) fn take(&mut self, count: usize, expected: &'static str) -> Result<&'a [u8], CommandError> {
        let bytes = self.data.get(self.position..self.position + count).ok_or(CommandError::Truncated {
            message: self.message,
            offset: self.base_offset + self.data.len(),
            expected,
        })?;
        self.position += count;
        Ok(bytes)
    }

    pub(crate) fn byte(&mut self, expected: &'static str) -> Result<u8, CommandError> {
        let bytes = self.take(1, expected)?;
        Ok(bytes[0])
    }

    pub(crate) fn bcd_number(&mut self, count: usize, what: &'static str) -> Result<u64, CommandError> {
        let offset = self.offset();
        let bytes = self.take(count, what)?;
        decode_bcd(bytes, offset, self.message, what)
    }

    pub(crate) fn password(&mut self) -> Result<Password, CommandError> {
        let offset = self.offset();
        let value = self.bcd_number(Password::BCD_BYTES, "the password (3 BCD bytes)")?;
        let value =
            u32::try_from(value).map_err(|_| invalid(self.message, "password", offset, "more than six digits"))?;
        Password::new(value).map_err(|_| invalid(self.message, "password", offset, "more than six digits"))
    }

    pub(crate) fn currency(&mut self) -> Result<CurrencyCode, CommandError> {
        let offset = self.offset();
        let value = self.bcd_number(CurrencyCode::BCD_BYTES, "the currency code (2 BCD bytes)")?;
        currency_from(value, offset, self.message)
    }

    /// Text sent as LLLVAR (three `F0`–`F9` length digits) in fixed position.
    pub(crate) fn lllvar(&mut self, what: &'static str) -> Result<&'a [u8], CommandError> {
        let offset = self.offset();
        let digits = self.take(3, what)?;
        let mut length = 0usize;
        for (index, &byte) in digits.iter().enumerate() {
            if byte & 0xF0 != 0xF0 || byte & 0x0F > 9 {
                return Err(invalid(self.message, what, offset + index, "a length digit is not F0 to F9"));
            }
            length = length * 10 + usize::from(byte & 0x0F);
        }
        if length > self.remaining() {
            return Err(CommandError::LongerThanData {
                message: self.message,
                what,
                offset,
                declared: length,
                available: self.remaining(),
            });
        }
        self.take(length, what)
    }

    /// The rest of the data as BMP fields, each of a tag in `allowed`, none twice.
    pub(crate) fn fields(self, allowed: &[u8]) -> Result<FieldSet, CommandError> {
        let rest = &self.data[self.position..];
        let fields = bmp::decode_fields(rest, self.offset())?;
        FieldSet::new(fields, self.message, Some(allowed))
    }

    /// The rest of the data as BMP fields of any known tag, none twice.
    pub(crate) fn any_fields(self) -> Result<FieldSet, CommandError> {
        let rest = &self.data[self.position..];
        let fields = bmp::decode_fields(rest, self.offset())?;
        FieldSet::new(fields, self.message, None)
    }

    /// Checks that the data is used up.
    pub(crate) fn finish(self) -> Result<(), CommandError> {
        if self.remaining() > 0 {
            return Err(CommandError::UnexpectedData {
                message: self.message,
                offset: self.offset(),
                count: self.remaining(),
            });
        }
        Ok(())
    }
}

/// The BMP fields of one command, taken out one by one as the command reads them.
pub(crate) struct FieldSet {
    fields: Vec<LocatedField>,
    message: &'static str,
}

impl FieldSet {
    fn new(fields: Vec<LocatedField>, message: &'static str, allowed: Option<&[u8]>) -> Result<FieldSet, CommandError> {
        for (index, located) in fields.iter().enumerate() {
            let tag = located.field.tag();
            if allowed.is_some_and(|allowed| !allowed.contains(&tag)) {
                return Err(CommandError::FieldNotAllowed { message, tag, offset: located.offset });
            }
            if fields[..index].iter().any(|earlier| earlier.field.tag() == tag) {
                return Err(CommandError::DuplicateField { message, tag, offset: located.offset });
            }
        }
        Ok(FieldSet { fields, message })
    }

    pub(crate) fn take(&mut self, tag: u8) -> Option<LocatedField> {
        let index = self.fields.iter().position(|located| located.field.tag() == tag)?;
        Some(self.fields.remove(index))
    }

    pub(crate) fn message(&self) -> &'static str {
        self.message
    }

    /// The fields no typed accessor took, in the order they came.
    pub(crate) fn into_remaining(self) -> Vec<BmpField> {
        self.fields.into_iter().map(|located| located.field).collect()
    }

    pub(crate) fn amount(&mut self) -> Result<Option<Yen>, CommandError> {
        self.take(bmp::tag::AMOUNT).map(|located| amount_from(&located, self.message)).transpose()
    }

    pub(crate) fn currency(&mut self) -> Result<Option<CurrencyCode>, CommandError> {
        let message = self.message;
        self.take(bmp::tag::CURRENCY)
            .map(|located| currency_from(number_of(&located, message)?, located.offset, message))
            .transpose()
    }

    pub(crate) fn byte(&mut self, tag: u8) -> Result<Option<u8>, CommandError> {
        let message = self.message;
        self.take(tag)
            .map(|located| {
                located
                    .field
                    .as_byte()
                    .ok_or_else(|| invalid(message, located.field.name(), located.offset, "not one byte"))
            })
            .transpose()
    }

    pub(crate) fn bytes(&mut self, tag: u8) -> Result<Option<Vec<u8>>, CommandError> {
        let message = self.message;
        self.take(tag)
            .map(|located| {
                located
                    .field
                    .as_bytes()
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| invalid(message, located.field.name(), located.offset, "not a byte string"))
            })
            .transpose()
    }

    pub(crate) fn tlv(&mut self) -> Result<Option<TlvContainer>, CommandError> {
        let message = self.message;
        self.take(bmp::tag::TLV_CONTAINER)
            .map(|located| match located.field.value() {
                BmpValue::Tlv(container) => Ok(container.clone()),
                _ => Err(invalid(message, "TLV container", located.offset, "not a TLV container")),
            })
            .transpose()
    }

    pub(crate) fn trace_number(&mut self, tag: u8) -> Result<Option<TraceNumber>, CommandError> {
        self.numbered(tag, |value| u32::try_from(value).ok().and_then(|value| TraceNumber::new(value).ok()))
    }

    pub(crate) fn receipt_number(&mut self) -> Result<Option<ReceiptNumber>, CommandError> {
        self.numbered(bmp::tag::RECEIPT_NUMBER, |value| {
            u16::try_from(value).ok().and_then(|value| ReceiptNumber::new(value).ok())
        })
    }

    pub(crate) fn turnover_number(&mut self) -> Result<Option<TurnoverNumber>, CommandError> {
        self.numbered(bmp::tag::TURNOVER_NUMBER, |value| {
            u32::try_from(value).ok().and_then(|value| TurnoverNumber::new(value).ok())
        })
    }

    pub(crate) fn terminal_number(&mut self) -> Result<Option<TerminalNumber>, CommandError> {
        self.numbered(bmp::tag::TERMINAL_ID, |value| {
            u32::try_from(value).ok().and_then(|value| TerminalNumber::new(value).ok())
        })
    }

    pub(crate) fn card_sequence_number(&mut self) -> Result<Option<u16>, CommandError> {
        self.numbered(bmp::tag::CARD_SEQUENCE_NUMBER, |value| u16::try_from(value).ok())
    }

    pub(crate) fn time(&mut self) -> Result<Option<TimeOfDay>, CommandError> {
        self.dated(bmp::tag::TIME, "an hour, minute or second out of range", |groups| match groups {
            [hour, minute, second] => TimeOfDay::new(*hour, *minute, *second),
            _ => None,
        })
    }

    pub(crate) fn date(&mut self) -> Result<Option<MonthDay>, CommandError> {
        self.dated(bmp::tag::DATE, "not a day of the year", |groups| match groups {
            [month, day] => MonthDay::new(*month, *day),
            _ => None,
        })
    }

    pub(crate) fn expiry_date(&mut self) -> Result<Option<ExpiryDate>, CommandError> {
        self.dated(bmp::tag::EXPIRY_DATE, "month out of range", |groups| match groups {
            [year, month] => ExpiryDate::new(*year, *month),
            _ => None,
        })
    }

    /// A BCD field turned into a typed number; the BMP table's width keeps `make` from failing.
    fn numbered<T>(&mut self, tag: u8, make: impl Fn(u64) -> Option<T>) -> Result<Option<T>, CommandError> {
        let message = self.message;
        self.take(tag)
            .map(|located| {
                let value = number_of(&located, message)?;
                make(value).ok_or_else(|| invalid(message, located.field.name(), located.offset, "out of range"))
            })
            .transpose()
    }

    /// A BCD field read as two-digit groups (`hhmmss`, `MMDD`, `YYMM`).
    fn dated<T>(
        &mut self,
        tag: u8,
        reason: &'static str,
        make: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<Option<T>, CommandError> {
        let message = self.message;
        self.take(tag)
            .map(|located| {
                let BmpValue::Bcd(bytes) = located.field.value() else {
                    return Err(invalid(message, located.field.name(), located.offset, "not BCD"));
                };
                let groups: Vec<u8> = bytes.iter().map(|byte| (byte >> 4) * 10 + (byte & 0x0F)).collect();
                make(&groups).ok_or_else(|| invalid(message, located.field.name(), located.offset, reason))
            })
            .transpose()
    }
}

fn decode_bcd(bytes: &[u8], offset: usize, message: &'static str, what: &'static str) -> Result<u64, CommandError> {
    bcd::decode_number(bytes).map_err(|error| match error {
        bcd::BcdError::InvalidDigit { index, byte } => {
            CommandError::InvalidBcd { message, what, offset: offset + index, byte }
        }
        _ => invalid(message, what, offset, "too many BCD digits"),
    })
}

fn number_of(located: &LocatedField, message: &'static str) -> Result<u64, CommandError> {
    located.field.as_number().ok_or_else(|| invalid(message, located.field.name(), located.offset, "not a BCD number"))
}

fn amount_from(located: &LocatedField, message: &'static str) -> Result<Yen, CommandError> {
    let value = number_of(located, message)?;
    // Twelve digits always fit i64 and the accepted range of `Yen`.
    i64::try_from(value)
        .ok()
        .and_then(|value| Yen::new(value).ok())
        .ok_or_else(|| invalid(message, "amount", located.offset, "out of range"))
}

fn currency_from(value: u64, offset: usize, message: &'static str) -> Result<CurrencyCode, CommandError> {
    u16::try_from(value)
        .ok()
        .and_then(|value| CurrencyCode::new(value).ok())
        .ok_or_else(|| invalid(message, "currency code", offset, "more than four digits"))
}

pub(crate) fn invalid(message: &'static str, what: &'static str, offset: usize, reason: &'static str) -> CommandError {
    CommandError::InvalidValue { message, what, offset, reason }
}
