//! Bytes to message and back, driven by a [`Spec`]. No I/O, no clock.
//!
//! Layout: MTI (4 ASCII digits), primary bitmap (8 bytes, bit 1 = secondary bitmap present),
//! secondary bitmap (8 bytes) when any field 65–128 is present, then each present field in
//! ascending order: for LL/LLL fields the ASCII length digits, then the data.

use crate::message::{Message, Mti};
use crate::spec::{Encoding, Length, Spec};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("field {field} is not defined in the spec")]
    UnknownField { field: u8 },
    #[error("field {field} is {actual} bytes; the spec requires exactly {expected}")]
    WrongLength { field: u8, expected: usize, actual: usize },
    #[error("field {field} is {actual} bytes; the spec allows at most {max}")]
    TooLong { field: u8, max: usize, actual: usize },
    #[error("field {field} holds a byte that is not printable ASCII at position {position}")]
    NotAscii { field: u8, position: usize },
}

/// A decode failure, naming the field (when one was being read) and the byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}at byte {offset}: {reason}", field.map(|f| format!("field {f}, ")).unwrap_or_default())]
pub struct DecodeError {
    pub field: Option<u8>,
    pub offset: usize,
    pub reason: DecodeReason,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeReason {
    #[error("message ends early: {needed} more byte(s) expected for {what}")]
    Truncated { what: &'static str, needed: usize },
    #[error("message type is not four ASCII digits")]
    BadMti,
    #[error("the bitmap marks a field the spec does not define")]
    UndefinedField,
    #[error("length prefix is not ASCII digits")]
    BadLengthPrefix,
    #[error("length {length} exceeds the field's maximum {max}")]
    LengthOverMax { length: usize, max: usize },
    #[error("byte 0x{byte:02X} is not printable ASCII")]
    NotAscii { byte: u8 },
    #[error("{count} byte(s) left over after the last field")]
    TrailingBytes { count: usize },
}

fn check_value(number: u8, value: &[u8], spec: &Spec) -> Result<(), EncodeError> {
    let field = spec.field(number).ok_or(EncodeError::UnknownField { field: number })?;
    match field.length {
        Length::Fixed(expected) if value.len() != expected => {
            return Err(EncodeError::WrongLength { field: number, expected, actual: value.len() })
        }
        Length::Ll(max) | Length::Lll(max) if value.len() > max => {
            return Err(EncodeError::TooLong { field: number, max, actual: value.len() })
        }
        _ => {}
    }
    if field.encoding == Encoding::Ascii {
        if let Some(position) = value.iter().position(|b| !(0x20..0x7f).contains(b)) {
            return Err(EncodeError::NotAscii { field: number, position });
        }
    }
    Ok(())
}

pub fn encode(message: &Message, spec: &Spec) -> Result<Vec<u8>, EncodeError> {
    let mut primary = [0u8; 8];
    let mut secondary = [0u8; 8];
    let mut body = Vec::new();
    for (number, value) in message.fields() {
        if !(2..=128).contains(&number) {
            return Err(EncodeError::UnknownField { field: number });
        }
        check_value(number, value, spec)?;
        let bit = usize::from(number - 1);
        if number <= 64 {
            primary[bit / 8] |= 0x80 >> (bit % 8);
        } else {
            let bit = bit - 64;
            secondary[bit / 8] |= 0x80 >> (bit % 8);
        }
        let field = spec.field(number).ok_or(EncodeError::UnknownField { field: number })?;
        match field.length {
            Length::Fixed(_) => {}
            Length::Ll(_) => body.extend_from_slice(format!("{:02}", value.len()).as_bytes()),
            Length::Lll(_) => body.extend_from_slice(format!("{:03}", value.len()).as_bytes()),
        }
        body.extend_from_slice(value);
    }
    let has_secondary = secondary.iter().any(|b| *b != 0);
    if has_secondary {
        primary[0] |= 0x80;
    }
    let mut out = Vec::with_capacity(4 + 16 + body.len());
    out.extend_from_slice(message.mti.as_bytes());
    out.extend_from_slice(&primary);
    if has_secondary {
        out.extend_from_slice(&secondary);
    }
    out.extend_from_slice(&body);
    Ok(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize, field: Option<u8>, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let remaining = self.bytes.len() - self.offset;
        if count > remaining {
            return Err(DecodeError {
                field,
                offset: self.offset,
                reason: DecodeReason::Truncated { what, needed: count - remaining },
            });
        }
        let slice = &self.bytes[self.offset..self.offset + count];
        self.offset += count;
        Ok(slice)
    }
}

/// Decodes one message. Never panics, whatever the bytes.
pub fn decode(bytes: &[u8], spec: &Spec) -> Result<Message, DecodeError> {
    let mut reader = Reader { bytes, offset: 0 };
    let mti_bytes = reader.take(4, None, "the message type")?;
    let mti = Mti::from_bytes(mti_bytes).ok_or(DecodeError { field: None, offset: 0, reason: DecodeReason::BadMti })?;
    let mut bitmap = [0u8; 16];
    bitmap[..8].copy_from_slice(reader.take(8, None, "the primary bitmap")?);
    if bitmap[0] & 0x80 != 0 {
        bitmap[8..].copy_from_slice(reader.take(8, Some(1), "the secondary bitmap")?);
    }
    let mut message = Message::new(mti);
    for number in 2..=128u8 {
        let bit = usize::from(number - 1);
        if bitmap[bit / 8] & (0x80 >> (bit % 8)) == 0 {
            continue;
        }
        let field_start = reader.offset;
        let field = spec.field(number).ok_or(DecodeError {
            field: Some(number),
            offset: field_start,
            reason: DecodeReason::UndefinedField,
        })?;
        let length = match field.length {
            Length::Fixed(length) => length,
            Length::Ll(max) | Length::Lll(max) => {
                let digits = reader.take(field.length.prefix_digits(), Some(number), "the length prefix")?;
                let length = std::str::from_utf8(digits)
                    .ok()
                    .filter(|text| text.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|text| text.parse::<usize>().ok())
                    .ok_or(DecodeError {
                        field: Some(number),
                        offset: field_start,
                        reason: DecodeReason::BadLengthPrefix,
                    })?;
                if length > max {
                    return Err(DecodeError {
                        field: Some(number),
                        offset: field_start,
                        reason: DecodeReason::LengthOverMax { length, max },
                    });
                }
                length
            }
        };
        let data_start = reader.offset;
        let value = reader.take(length, Some(number), "the field data")?;
        if field.encoding == Encoding::Ascii {
            if let Some(position) = value.iter().position(|b| !(0x20..0x7f).contains(b)) {
                return Err(DecodeError {
                    field: Some(number),
                    offset: data_start + position,
                    reason: DecodeReason::NotAscii { byte: value[position] },
                });
            }
        }
        message.set(number, value.to_vec());
    }
    if reader.offset != bytes.len() {
        return Err(DecodeError {
            field: None,
            offset: reader.offset,
            reason: DecodeReason::TrailingBytes { count: bytes.len() - reader.offset },
        });
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields;
    use proptest::prelude::*;

    /// PROTOCOLS.md §1's vector (from moov-io/iso8583's README), in our binary-bitmap form.
    fn known_answer_bytes() -> Vec<u8> {
        let mut bytes = b"0100".to_vec();
        bytes.extend_from_slice(&[0x70, 0, 0, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(b"164242424242424242123456000000000100");
        bytes
    }

    #[test]
    fn decodes_the_published_vector() {
        let message = decode(&known_answer_bytes(), Spec::default_1987()).unwrap();
        assert_eq!(message.mti.as_str(), "0100");
        assert_eq!(message.text(2), Some("4242424242424242"));
        assert_eq!(message.text(3), Some("123456"));
        assert_eq!(message.text(4), Some("000000000100"));
        assert_eq!(message.fields().count(), 3);
    }

    #[test]
    fn encodes_the_published_vector() {
        let message = Message::new(Mti::parse("0100").unwrap())
            .with(2, "4242424242424242")
            .with(3, "123456")
            .with(4, "000000000100");
        assert_eq!(encode(&message, Spec::default_1987()).unwrap(), known_answer_bytes());
    }

    #[test]
    fn secondary_bitmap_appears_only_with_high_fields() {
        let message = Message::new(Mti::NETWORK_REQUEST)
            .with(fields::STAN, "000001")
            .with(fields::NETWORK_MANAGEMENT_CODE, "301");
        let bytes = encode(&message, Spec::default_1987()).unwrap();
        assert_eq!(bytes[4] & 0x80, 0x80);
        assert_eq!(bytes.len(), 4 + 16 + 6 + 3);
        assert_eq!(decode(&bytes, Spec::default_1987()).unwrap(), message);
    }

    #[test]
    fn decode_errors_name_the_field_and_offset() {
        let spec = Spec::default_1987();
        let mut bytes = known_answer_bytes();
        bytes.truncate(bytes.len() - 2);
        let error = decode(&bytes, spec).unwrap_err();
        assert_eq!(error.field, Some(4));
        assert_eq!(error.offset, 4 + 8 + 2 + 16 + 6);
        assert_eq!(
            error.to_string(),
            "field 4, at byte 36: message ends early: 2 more byte(s) expected for the field data"
        );

        let mut bad_length = known_answer_bytes();
        bad_length[12] = b'X';
        let error = decode(&bad_length, spec).unwrap_err();
        assert_eq!((error.field, error.offset, error.reason), (Some(2), 12, DecodeReason::BadLengthPrefix));

        let mut over = known_answer_bytes();
        over[12..14].copy_from_slice(b"20");
        assert_eq!(decode(&over, spec).unwrap_err().reason, DecodeReason::LengthOverMax { length: 20, max: 19 });

        let mut trailing = known_answer_bytes();
        trailing.push(b'0');
        assert_eq!(decode(&trailing, spec).unwrap_err().reason, DecodeReason::TrailingBytes { count: 1 });

        assert_eq!(decode(b"01A0", spec).unwrap_err().reason, DecodeReason::BadMti);
        let mut control = known_answer_bytes();
        control[31] = 0x07;
        let error = decode(&control, spec).unwrap_err();
        assert_eq!((error.field, error.offset), (Some(3), 31));
    }

    #[test]
    fn encode_refuses_values_the_spec_does_not_allow() {
        let spec = Spec::default_1987();
        let wrong = Message::new(Mti::FINANCIAL_REQUEST).with(fields::AMOUNT, "1500");
        assert_eq!(encode(&wrong, spec).unwrap_err(), EncodeError::WrongLength { field: 4, expected: 12, actual: 4 });
        let long = Message::new(Mti::FINANCIAL_REQUEST).with(fields::PAN, "4".repeat(20));
        assert!(matches!(encode(&long, spec).unwrap_err(), EncodeError::TooLong { field: 2, .. }));
        let bitmap_field = Message::new(Mti::FINANCIAL_REQUEST).with(1, vec![0; 8]);
        assert_eq!(encode(&bitmap_field, spec).unwrap_err(), EncodeError::UnknownField { field: 1 });
    }

    fn any_message() -> impl Strategy<Value = Message> {
        let spec = Spec::default_1987();
        let field_values =
            proptest::collection::btree_map(2u8..=128, proptest::collection::vec(0x20u8..0x7f, 0..300), 0..12);
        (proptest::sample::select(vec!["0200", "0210", "0400", "0401", "0410", "0800", "0810"]), field_values).prop_map(
            move |(mti, raw)| {
                let mut message = Message::new(Mti::parse(mti).unwrap());
                for (number, mut value) in raw {
                    let field = spec.field(number).unwrap();
                    match field.length {
                        Length::Fixed(n) => value.resize(n, b'0'),
                        Length::Ll(max) | Length::Lll(max) => value.truncate(max),
                    }
                    message.set(number, value);
                }
                message
            },
        )
    }

    proptest! {
        #[test]
        fn every_valid_message_round_trips(message in any_message()) {
            let bytes = encode(&message, Spec::default_1987()).unwrap();
            prop_assert_eq!(decode(&bytes, Spec::default_1987()).unwrap(), message);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decode(&bytes, Spec::default_1987());
        }

        #[test]
        fn bitmap_led_garbage_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..200), bitmap in any::<[u8; 16]>()) {
            let mut bytes = b"0200".to_vec();
            bytes.extend_from_slice(&bitmap);
            bytes.extend_from_slice(&tail);
            let _ = decode(&bytes, Spec::default_1987());
        }
    }
}
