//! BMP fields: the tagged fields that follow a command's fixed data.
//!
//! Each field is a tag byte and a value whose shape the tag alone defines, so a field that is not
//! in [`BMP_DEFINITIONS`] cannot be skipped: its length is unknown and everything after it would be
//! misread. An unknown tag is therefore a decode error naming the tag and its offset.
//!
//! The table holds the tags PROTOCOLS.md §3 uses and a few more from the ZVT specification whose
//! format is certain. Card-holder data tags (track 1, 2 and 3 data, CVV) are deliberately absent:
//! an ECR that never stores them is better off refusing them than carrying them.
//!
//! BMP `22` (PAN) is decoded straight into a [`MaskedPan`]: digits beyond the first 6 and last 4 are
//! masked by the decoder if a terminal sent them, so a full card number never leaves this module
//! (see [`PanValue::masked_by_decoder`]).

use pos_core::masking::MASK_CHAR;
use pos_core::MaskedPan;

use super::bcd;
use super::tlv::{self, TlvContainer, TlvError};
use super::EncodeError;

/// The shape of a BMP value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BmpFormat {
    /// Packed BCD of a fixed number of bytes.
    Bcd { bytes: usize },
    /// Binary (or fixed ASCII) of a fixed number of bytes.
    Binary { bytes: usize },
    /// Two length digits sent as `F0`–`F9`, then up to 99 bytes.
    Llvar,
    /// Three length digits sent as `F0`–`F9`, then up to 999 bytes.
    Lllvar,
    /// LLVAR of packed BCD digits where an `E` nibble masks a digit and a final `F` pads (BMP 22).
    MaskedPan,
    /// A BER-style length, then TLV objects (BMP 06).
    TlvContainer,
}

/// One row of the BMP table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BmpDefinition {
    pub tag: u8,
    pub name: &'static str,
    pub format: BmpFormat,
}

const fn row(tag: u8, name: &'static str, format: BmpFormat) -> BmpDefinition {
    BmpDefinition { tag, name, format }
}

/// Every BMP tag this codec reads and writes, in tag order.
pub const BMP_DEFINITIONS: [BmpDefinition; 28] = [
    row(0x01, "timeout", BmpFormat::Binary { bytes: 1 }),
    row(0x02, "maximum status informations", BmpFormat::Binary { bytes: 1 }),
    row(0x03, "service byte", BmpFormat::Binary { bytes: 1 }),
    row(0x04, "amount", BmpFormat::Bcd { bytes: 6 }),
    row(0x05, "pump number", BmpFormat::Binary { bytes: 1 }),
    row(0x06, "TLV container", BmpFormat::TlvContainer),
    row(0x0B, "trace number", BmpFormat::Bcd { bytes: 3 }),
    row(0x0C, "time", BmpFormat::Bcd { bytes: 3 }),
    row(0x0D, "date", BmpFormat::Bcd { bytes: 2 }),
    row(0x0E, "expiry date", BmpFormat::Bcd { bytes: 2 }),
    row(0x17, "card sequence number", BmpFormat::Bcd { bytes: 2 }),
    row(0x19, "payment type", BmpFormat::Binary { bytes: 1 }),
    row(0x22, "PAN", BmpFormat::MaskedPan),
    row(0x27, "result code", BmpFormat::Binary { bytes: 1 }),
    row(0x29, "terminal id", BmpFormat::Bcd { bytes: 4 }),
    row(0x2A, "VU number", BmpFormat::Binary { bytes: 15 }),
    row(0x37, "original trace number", BmpFormat::Bcd { bytes: 3 }),
    row(0x3B, "AID (authorisation attribute)", BmpFormat::Binary { bytes: 8 }),
    row(0x3C, "additional text", BmpFormat::Lllvar),
    row(0x3D, "password", BmpFormat::Bcd { bytes: 3 }),
    row(0x49, "currency", BmpFormat::Bcd { bytes: 2 }),
    row(0x60, "totals", BmpFormat::Lllvar),
    row(0x87, "receipt number", BmpFormat::Bcd { bytes: 2 }),
    row(0x88, "turnover number", BmpFormat::Bcd { bytes: 3 }),
    row(0x8A, "card type", BmpFormat::Binary { bytes: 1 }),
    row(0x8B, "card name", BmpFormat::Llvar),
    row(0x8C, "card type of the network operator", BmpFormat::Binary { bytes: 1 }),
    row(0xA0, "result code of the authorisation system", BmpFormat::Binary { bytes: 1 }),
];

/// Tags of the BMPs the commands name.
pub mod tag {
    pub const TIMEOUT: u8 = 0x01;
    pub const SERVICE_BYTE: u8 = 0x03;
    pub const AMOUNT: u8 = 0x04;
    pub const TLV_CONTAINER: u8 = 0x06;
    pub const TRACE_NUMBER: u8 = 0x0B;
    pub const TIME: u8 = 0x0C;
    pub const DATE: u8 = 0x0D;
    pub const EXPIRY_DATE: u8 = 0x0E;
    pub const CARD_SEQUENCE_NUMBER: u8 = 0x17;
    pub const PAYMENT_TYPE: u8 = 0x19;
    pub const PAN: u8 = 0x22;
    pub const RESULT_CODE: u8 = 0x27;
    pub const TERMINAL_ID: u8 = 0x29;
    pub const ORIGINAL_TRACE_NUMBER: u8 = 0x37;
    pub const AUTHORIZATION_ATTRIBUTE: u8 = 0x3B;
    pub const ADDITIONAL_TEXT: u8 = 0x3C;
    pub const CURRENCY: u8 = 0x49;
    pub const TOTALS: u8 = 0x60;
    pub const RECEIPT_NUMBER: u8 = 0x87;
    pub const TURNOVER_NUMBER: u8 = 0x88;
    pub const CARD_TYPE: u8 = 0x8A;
    pub const CARD_NAME: u8 = 0x8B;
}

/// The most bytes an LLVAR carries.
pub const LLVAR_BYTES_MAX: usize = 99;
/// The most bytes an LLLVAR carries.
pub const LLLVAR_BYTES_MAX: usize = 999;
/// The shortest and longest card numbers (ISO/IEC 7812), as `MaskedPan` accepts them.
pub const PAN_DIGITS_MIN: usize = 12;
pub const PAN_DIGITS_MAX: usize = 19;

/// The table row for a tag.
pub fn definition(tag: u8) -> Option<&'static BmpDefinition> {
    BMP_DEFINITIONS.iter().find(|definition| definition.tag == tag)
}

/// A tag's name for messages; `"unknown"` outside the table.
pub fn name(tag: u8) -> &'static str {
    definition(tag).map_or("unknown", |definition| definition.name)
}

/// A BMP value, shaped as its tag's format says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BmpValue {
    /// Packed BCD bytes, every nibble a digit.
    Bcd(Vec<u8>),
    /// Fixed-length bytes.
    Binary(Vec<u8>),
    /// The content of an LLVAR or LLLVAR.
    Variable(Vec<u8>),
    Pan(PanValue),
    Tlv(TlvContainer),
}

/// BMP 22 after decoding: never more than the first 6 and last 4 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanValue {
    pub pan: MaskedPan,
    /// True when the terminal sent digits it must not (PROTOCOLS.md §3, masking) and the decoder
    /// replaced them. The payment's details are kept, because dropping an approved payment's
    /// status information would lose the payment; the flag lets the caller report the terminal.
    pub masked_by_decoder: bool,
}

/// One BMP field whose value agrees with the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BmpField {
    tag: u8,
    value: BmpValue,
}

/// A decoded field and the offset of its tag byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedField {
    pub offset: usize,
    pub field: BmpField,
}

/// Why bytes are not BMP fields. Offsets count from the first byte handed to the decoder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BmpError {
    #[error("unknown BMP tag {tag:02X} at byte {offset}; its length cannot be known, so nothing after it can be read")]
    UnknownTag { tag: u8, offset: usize },
    #[error("BMP {tag:02X} ({name}) at byte {offset} needs {expected} bytes, but only {available} remain", name = name(*.tag))]
    Truncated { tag: u8, offset: usize, expected: usize, available: usize },
    #[error("BMP {tag:02X} ({name}) length digit at byte {offset} is {byte:#04x}; expected F0 to F9", name = name(*.tag))]
    InvalidLengthDigit { tag: u8, offset: usize, byte: u8 },
    #[error("BMP {tag:02X} ({name}) length at byte {offset} says {declared} bytes, but only {available} remain", name = name(*.tag))]
    VariableLongerThanData { tag: u8, offset: usize, declared: usize, available: usize },
    #[error("BMP {tag:02X} ({name}) byte {offset} is {byte:#04x}, which is not two BCD digits", name = name(*.tag))]
    InvalidBcd { tag: u8, offset: usize, byte: u8 },
    #[error(
        "BMP 22 (PAN) byte {offset} holds nibble {nibble:X}; expected a digit, E for a masked digit or a final F pad"
    )]
    InvalidPanNibble { offset: usize, nibble: u8 },
    #[error("BMP 22 (PAN) at byte {offset} has {digits} digits; expected {PAN_DIGITS_MIN} to {PAN_DIGITS_MAX}")]
    PanLength { offset: usize, digits: usize },
    #[error(transparent)]
    Tlv(#[from] TlvError),
}

impl BmpField {
    /// A field, if the value has the shape the table gives its tag.
    pub fn new(tag: u8, value: BmpValue) -> Result<BmpField, EncodeError> {
        let definition = definition(tag).ok_or(EncodeError::UnknownBmp { tag })?;
        check_value(definition, &value)?;
        Ok(BmpField { tag, value })
    }

    /// A BCD field holding `number`, as wide as the table says.
    pub fn number(tag: u8, number: u64) -> Result<BmpField, EncodeError> {
        let definition = definition(tag).ok_or(EncodeError::UnknownBmp { tag })?;
        let BmpFormat::Bcd { bytes } = definition.format else {
            return Err(wrong_format(definition));
        };
        let encoded = bcd::encode_number(number, bytes).map_err(|_| EncodeError::NumberTooLarge {
            what: definition.name,
            value: number,
            digits: bytes * 2,
        })?;
        Ok(BmpField { tag, value: BmpValue::Bcd(encoded) })
    }

    /// A one-byte binary field such as the result code or the payment type.
    pub fn byte(tag: u8, byte: u8) -> Result<BmpField, EncodeError> {
        BmpField::new(tag, BmpValue::Binary(vec![byte]))
    }

    pub fn pan(pan: MaskedPan) -> BmpField {
        BmpField { tag: tag::PAN, value: BmpValue::Pan(PanValue { pan, masked_by_decoder: false }) }
    }

    pub fn tlv(container: TlvContainer) -> BmpField {
        BmpField { tag: tag::TLV_CONTAINER, value: BmpValue::Tlv(container) }
    }

    pub fn tag(&self) -> u8 {
        self.tag
    }

    pub fn value(&self) -> &BmpValue {
        &self.value
    }

    pub fn name(&self) -> &'static str {
        name(self.tag)
    }

    /// The BCD number of a BCD field; `None` for any other shape.
    pub fn as_number(&self) -> Option<u64> {
        match &self.value {
            BmpValue::Bcd(bytes) => bcd::decode_number(bytes).ok(),
            _ => None,
        }
    }

    /// The bytes of a binary or variable-length field.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.value {
            BmpValue::Binary(bytes) | BmpValue::Variable(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// The single byte of a one-byte binary field.
    pub fn as_byte(&self) -> Option<u8> {
        match &self.value {
            BmpValue::Binary(bytes) if bytes.len() == 1 => bytes.first().copied(),
            _ => None,
        }
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(self.tag);
        match &self.value {
            BmpValue::Bcd(bytes) | BmpValue::Binary(bytes) => out.extend_from_slice(bytes),
            BmpValue::Variable(bytes) => {
                let digit_count = match definition(self.tag).map(|definition| definition.format) {
                    Some(BmpFormat::Lllvar) => 3,
                    _ => 2,
                };
                write_length_digits(bytes.len(), digit_count, out);
                out.extend_from_slice(bytes);
            }
            BmpValue::Pan(value) => {
                let packed = pack_pan(&value.pan);
                write_length_digits(packed.len(), 2, out);
                out.extend_from_slice(&packed);
            }
            BmpValue::Tlv(container) => {
                let inner = container.encode_value()?;
                tlv::encode_length(inner.len(), out)?;
                out.extend_from_slice(&inner);
            }
        }
        Ok(())
    }
}

fn wrong_format(definition: &BmpDefinition) -> EncodeError {
    let expected = match definition.format {
        BmpFormat::Bcd { .. } => "a BCD number",
        BmpFormat::Binary { .. } => "fixed-length bytes",
        BmpFormat::Llvar | BmpFormat::Lllvar => "variable-length bytes",
        BmpFormat::MaskedPan => "a masked PAN",
        BmpFormat::TlvContainer => "a TLV container",
    };
    EncodeError::WrongBmpFormat { tag: definition.tag, name: definition.name, expected }
}

fn check_value(definition: &BmpDefinition, value: &BmpValue) -> Result<(), EncodeError> {
    let (tag, name) = (definition.tag, definition.name);
    match (definition.format, value) {
        (BmpFormat::Bcd { bytes }, BmpValue::Bcd(value)) => {
            check_fixed_length(definition, bytes, value.len())?;
            bcd::validate(value).map_err(|error| match error {
                bcd::BcdError::InvalidDigit { index, byte } => EncodeError::BmpValueNotBcd { tag, name, index, byte },
                _ => wrong_format(definition),
            })
        }
        (BmpFormat::Binary { bytes }, BmpValue::Binary(value)) => check_fixed_length(definition, bytes, value.len()),
        (BmpFormat::Llvar, BmpValue::Variable(value)) => {
            check_variable_length(definition, LLVAR_BYTES_MAX, value.len())
        }
        (BmpFormat::Lllvar, BmpValue::Variable(value)) => {
            check_variable_length(definition, LLLVAR_BYTES_MAX, value.len())
        }
        (BmpFormat::MaskedPan, BmpValue::Pan(_)) => Ok(()),
        (BmpFormat::TlvContainer, BmpValue::Tlv(_)) => Ok(()),
        _ => Err(wrong_format(definition)),
    }
}

fn check_fixed_length(definition: &BmpDefinition, expected: usize, actual: usize) -> Result<(), EncodeError> {
    if expected != actual {
        return Err(EncodeError::WrongBmpLength { tag: definition.tag, name: definition.name, expected, actual });
    }
    Ok(())
}

fn check_variable_length(definition: &BmpDefinition, length_max: usize, length: usize) -> Result<(), EncodeError> {
    if length > length_max {
        return Err(EncodeError::BmpValueTooLong { tag: definition.tag, name: definition.name, length, length_max });
    }
    Ok(())
}

/// Length digits as `F0`–`F9` bytes, most significant first.
fn write_length_digits(length: usize, digit_count: u32, out: &mut Vec<u8>) {
    for position in (0..digit_count).rev() {
        let digit = (length / 10usize.pow(position)) % 10;
        out.push(0xF0 | digit as u8);
    }
}

/// A masked PAN as BCD nibbles: digits as themselves, `*` as `E`, an `F` pad when odd.
fn pack_pan(pan: &MaskedPan) -> Vec<u8> {
    let mut nibbles: Vec<u8> =
        pan.as_str().chars().map(|character| character.to_digit(10).map_or(0x0E, |digit| digit as u8)).collect();
    if nibbles.len() % 2 == 1 {
        nibbles.push(0x0F);
    }
    nibbles.chunks(2).map(|pair| (pair[0] << 4) | pair[1]).collect()
}

/// Decodes BMP fields filling all of `bytes`. `base_offset` is the offset of `bytes[0]` in the
/// APDU, so errors and [`LocatedField::offset`] point into the APDU.
pub fn decode_fields(bytes: &[u8], base_offset: usize) -> Result<Vec<LocatedField>, BmpError> {
    let mut fields = Vec::new();
    let mut position = 0;
    while position < bytes.len() {
        let (field, used) = decode_field(bytes, position, base_offset)?;
        fields.push(LocatedField { offset: base_offset + position, field });
        position += used;
    }
    Ok(fields)
}

/// Decodes BMP fields from untrusted bytes; an entry point for fuzzing. Never panics.
pub fn decode_bmp_fields(bytes: &[u8]) -> Result<Vec<LocatedField>, BmpError> {
    decode_fields(bytes, 0)
}

/// Decodes the field whose tag is at `position`: the field and how many bytes it took.
pub fn decode_field(bytes: &[u8], position: usize, base_offset: usize) -> Result<(BmpField, usize), BmpError> {
    let offset = base_offset + position;
    let Some(&tag) = bytes.get(position) else {
        return Err(BmpError::Truncated { tag: 0, offset, expected: 1, available: 0 });
    };
    let definition = definition(tag).ok_or(BmpError::UnknownTag { tag, offset })?;
    let value_position = position + 1;
    let rest = &bytes[value_position..];
    let value_offset = base_offset + value_position;
    let (value, used) = match definition.format {
        BmpFormat::Bcd { bytes: length } => {
            let value = take(tag, rest, length, value_offset)?;
            if let Err(bcd::BcdError::InvalidDigit { index, byte }) = bcd::validate(value) {
                return Err(BmpError::InvalidBcd { tag, offset: value_offset + index, byte });
            }
            (BmpValue::Bcd(value.to_vec()), length)
        }
        BmpFormat::Binary { bytes: length } => {
            (BmpValue::Binary(take(tag, rest, length, value_offset)?.to_vec()), length)
        }
        BmpFormat::Llvar => {
            let (value, used) = decode_variable(tag, rest, 2, value_offset)?;
            (BmpValue::Variable(value.to_vec()), used)
        }
        BmpFormat::Lllvar => {
            let (value, used) = decode_variable(tag, rest, 3, value_offset)?;
            (BmpValue::Variable(value.to_vec()), used)
        }
        BmpFormat::MaskedPan => {
            let (packed, used) = decode_variable(tag, rest, 2, value_offset)?;
            (BmpValue::Pan(unpack_pan(packed, value_offset + 2)?), used)
        }
        BmpFormat::TlvContainer => {
            let (length, length_used) = tlv::decode_length(rest, 0, value_offset)?;
            let available = rest.len() - length_used;
            if length > available {
                return Err(BmpError::VariableLongerThanData {
                    tag,
                    offset: value_offset,
                    declared: length,
                    available,
                });
            }
            let inner = &rest[length_used..length_used + length];
            (BmpValue::Tlv(tlv::decode_objects(inner, value_offset + length_used)?), length_used + length)
        }
    };
    Ok((BmpField { tag, value }, 1 + used))
}

fn take(tag: u8, rest: &[u8], length: usize, offset: usize) -> Result<&[u8], BmpError> {
    rest.get(..length).ok_or(BmpError::Truncated { tag, offset, expected: length, available: rest.len() })
}

/// Reads `digit_count` length digits and the value they announce: the value and the bytes used.
fn decode_variable(tag: u8, rest: &[u8], digit_count: usize, offset: usize) -> Result<(&[u8], usize), BmpError> {
    let digits = take(tag, rest, digit_count, offset)?;
    let mut length = 0usize;
    for (index, &byte) in digits.iter().enumerate() {
        if byte & 0xF0 != 0xF0 || byte & 0x0F > 9 {
            return Err(BmpError::InvalidLengthDigit { tag, offset: offset + index, byte });
        }
        length = length * 10 + usize::from(byte & 0x0F);
    }
    let available = rest.len() - digit_count;
    if length > available {
        return Err(BmpError::VariableLongerThanData { tag, offset, declared: length, available });
    }
    Ok((&rest[digit_count..digit_count + length], digit_count + length))
}

/// Reads packed PAN nibbles into a masked PAN, masking any digit the terminal should not have sent.
fn unpack_pan(packed: &[u8], offset: usize) -> Result<PanValue, BmpError> {
    let nibble_count = packed.len() * 2;
    let mut text = String::with_capacity(nibble_count);
    for (index, byte) in packed.iter().enumerate() {
        for (half, nibble) in [(0, byte >> 4), (1, byte & 0x0F)] {
            let is_last_nibble = index * 2 + half == nibble_count - 1;
            match nibble {
                0..=9 => text.push(char::from(b'0' + nibble)),
                0x0E => text.push(MASK_CHAR),
                0x0F if is_last_nibble => {}
                _ => return Err(BmpError::InvalidPanNibble { offset: offset + index, nibble }),
            }
        }
    }
    let digits = text.chars().count();
    if !(PAN_DIGITS_MIN..=PAN_DIGITS_MAX).contains(&digits) {
        return Err(BmpError::PanLength { offset, digits });
    }
    // Only positions 0–5 and the last four may show a digit; anything in between is masked here.
    let mut masked_by_decoder = false;
    let masked: String = text
        .chars()
        .enumerate()
        .map(|(position, character)| {
            let in_middle = position >= 6 && position < digits - 4;
            if in_middle && character != MASK_CHAR {
                masked_by_decoder = true;
                MASK_CHAR
            } else {
                character
            }
        })
        .collect();
    // The text now has the shape `parse_masked` accepts; a refusal would be a bug here, and is
    // reported as a length error rather than a panic.
    let pan = MaskedPan::parse_masked(&masked).map_err(|_| BmpError::PanLength { offset, digits })?;
    Ok(PanValue { pan, masked_by_decoder })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for pair in BMP_DEFINITIONS.windows(2) {
            assert!(pair[0].tag < pair[1].tag, "{:02X} before {:02X}", pair[0].tag, pair[1].tag);
        }
    }

    #[test]
    fn amount_and_currency() {
        let fields = decode_fields(&[0x04, 0x00, 0x00, 0x00, 0x00, 0x04, 0x70, 0x49, 0x03, 0x92], 3).unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].offset, 3);
        assert_eq!(fields[0].field.as_number(), Some(470));
        assert_eq!(fields[1].offset, 10);
        assert_eq!(fields[1].field.as_number(), Some(392));
    }

    #[test]
    fn variable_lengths_use_f_digits() {
        let field = BmpField::new(tag::CARD_NAME, BmpValue::Variable(b"VISA".to_vec())).unwrap();
        let mut bytes = Vec::new();
        field.encode_into(&mut bytes).unwrap();
        assert_eq!(bytes, vec![0x8B, 0xF0, 0xF4, b'V', b'I', b'S', b'A']);
        let text = BmpField::new(tag::ADDITIONAL_TEXT, BmpValue::Variable(vec![b'x'; 123])).unwrap();
        let mut bytes = Vec::new();
        text.encode_into(&mut bytes).unwrap();
        assert_eq!(&bytes[..4], &[0x3C, 0xF1, 0xF2, 0xF3]);
        assert_eq!(decode_bmp_fields(&bytes).unwrap()[0].field, text);
    }

    #[test]
    fn pan_with_e_nibbles_and_pad() {
        // 4111 11EE EEEE 1111: a 16-digit PAN masked first 6 / last 4.
        let bytes = [0x22, 0xF0, 0xF8, 0x41, 0x11, 0x11, 0xEE, 0xEE, 0xEE, 0x11, 0x11];
        let fields = decode_bmp_fields(&bytes).unwrap();
        let BmpValue::Pan(value) = fields[0].field.value() else { panic!("not a PAN") };
        assert_eq!(value.pan.as_str(), "411111******1111");
        assert!(!value.masked_by_decoder);
        let mut encoded = Vec::new();
        fields[0].field.encode_into(&mut encoded).unwrap();
        assert_eq!(encoded, bytes);

        // 15 digits: a final F pads the last byte.
        let amex = MaskedPan::parse_masked("378282*****0005").unwrap();
        let mut encoded = Vec::new();
        BmpField::pan(amex.clone()).encode_into(&mut encoded).unwrap();
        assert_eq!(encoded, vec![0x22, 0xF0, 0xF8, 0x37, 0x82, 0x82, 0xEE, 0xEE, 0xE0, 0x00, 0x5F]);
        let BmpValue::Pan(value) = decode_bmp_fields(&encoded).unwrap()[0].field.value().clone() else {
            panic!("not a PAN")
        };
        assert_eq!(value.pan, amex);
    }

    #[test]
    fn a_full_pan_is_masked_before_it_leaves_the_decoder() {
        let bytes = [0x22, 0xF0, 0xF8, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11];
        let fields = decode_bmp_fields(&bytes).unwrap();
        let BmpValue::Pan(value) = fields[0].field.value() else { panic!("not a PAN") };
        assert_eq!(value.pan.as_str(), "411111******1111");
        assert!(value.masked_by_decoder);
        assert!(!format!("{fields:?}").contains("4111111111111111"));
    }

    #[test]
    fn bad_input_names_tag_and_offset() {
        assert_eq!(
            decode_fields(&[0x04, 0x00], 3),
            Err(BmpError::Truncated { tag: 4, offset: 4, expected: 6, available: 1 })
        );
        assert_eq!(decode_fields(&[0xFE, 0x00], 5), Err(BmpError::UnknownTag { tag: 0xFE, offset: 5 }));
        assert_eq!(
            decode_fields(&[0x04, 0x00, 0x00, 0x00, 0x00, 0x04, 0x7A], 3),
            Err(BmpError::InvalidBcd { tag: 4, offset: 9, byte: 0x7A })
        );
        assert_eq!(
            decode_fields(&[0x8B, 0xF0, 0xF9, b'V', b'I'], 0),
            Err(BmpError::VariableLongerThanData { tag: 0x8B, offset: 1, declared: 9, available: 2 })
        );
        assert_eq!(
            decode_fields(&[0x8B, 0xF0, 0x04, b'V'], 0),
            Err(BmpError::InvalidLengthDigit { tag: 0x8B, offset: 2, byte: 0x04 })
        );
        assert_eq!(
            decode_fields(&[0x22, 0xF0, 0xF1, 0xA1], 0),
            Err(BmpError::InvalidPanNibble { offset: 3, nibble: 0x0A })
        );
        assert_eq!(decode_fields(&[0x22, 0xF0, 0xF1, 0x41], 0), Err(BmpError::PanLength { offset: 3, digits: 2 }));
        assert_eq!(
            decode_fields(&[0x06, 0x05, 0x01], 3),
            Err(BmpError::VariableLongerThanData { tag: 6, offset: 4, declared: 5, available: 1 })
        );
        assert_eq!(
            BmpError::UnknownTag { tag: 0xFE, offset: 5 }.to_string(),
            "unknown BMP tag FE at byte 5; its length cannot be known, so nothing after it can be read"
        );
        assert_eq!(
            BmpError::InvalidBcd { tag: 4, offset: 9, byte: 0x7A }.to_string(),
            "BMP 04 (amount) byte 9 is 0x7a, which is not two BCD digits"
        );
    }

    #[test]
    fn encoding_checks_the_table() {
        assert_eq!(BmpField::new(0xFE, BmpValue::Binary(vec![])), Err(EncodeError::UnknownBmp { tag: 0xFE }));
        assert!(matches!(
            BmpField::new(tag::AMOUNT, BmpValue::Bcd(vec![0; 5])),
            Err(EncodeError::WrongBmpLength { .. })
        ));
        assert!(matches!(
            BmpField::new(tag::AMOUNT, BmpValue::Binary(vec![0; 6])),
            Err(EncodeError::WrongBmpFormat { .. })
        ));
        assert!(matches!(
            BmpField::new(tag::CARD_NAME, BmpValue::Variable(vec![0; 100])),
            Err(EncodeError::BmpValueTooLong { .. })
        ));
        assert!(matches!(BmpField::number(tag::RECEIPT_NUMBER, 10_000), Err(EncodeError::NumberTooLarge { .. })));
        assert!(matches!(
            BmpField::new(tag::AMOUNT, BmpValue::Bcd(vec![0, 0, 0, 0, 0, 0x0A])),
            Err(EncodeError::BmpValueNotBcd { index: 5, .. })
        ));
    }

    #[test]
    fn empty_tlv_container() {
        let fields = decode_bmp_fields(&[0x06, 0x00]).unwrap();
        assert_eq!(fields[0].field, BmpField::tlv(TlvContainer::empty()));
        let mut bytes = Vec::new();
        fields[0].field.encode_into(&mut bytes).unwrap();
        assert_eq!(bytes, vec![0x06, 0x00]);
    }
}
