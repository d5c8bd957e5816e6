//! Packed BCD: two decimal digits a byte, the first digit in the high nibble.
//!
//! ZVT sends amounts, trace and receipt numbers, dates and passwords this way, always with a fixed
//! number of bytes and leading zeros. Every nibble must be 0–9; anything else is refused with the
//! index of the byte, because a misread digit in an amount is a wrong charge.

/// The most bytes [`decode_number`] reads: 9 bytes are 18 digits, which always fit a `u64`.
pub const NUMBER_BYTES_MAX: usize = 9;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BcdError {
    #[error("byte {index} is {byte:#04x}, which is not two BCD digits")]
    InvalidDigit { index: usize, byte: u8 },
    #[error("{value} does not fit in {digits} BCD digits")]
    TooManyDigits { value: u64, digits: usize },
    #[error("{bytes} BCD bytes are more than the {NUMBER_BYTES_MAX} that fit a 64-bit number")]
    TooLong { bytes: usize },
}

/// Checks that every nibble is a decimal digit.
pub fn validate(bytes: &[u8]) -> Result<(), BcdError> {
    match bytes.iter().position(|&byte| !is_bcd_byte(byte)) {
        Some(index) => Err(BcdError::InvalidDigit { index, byte: bytes[index] }),
        None => Ok(()),
    }
}

pub fn is_bcd_byte(byte: u8) -> bool {
    byte >> 4 <= 9 && byte & 0x0F <= 9
}

/// The number the BCD bytes spell.
pub fn decode_number(bytes: &[u8]) -> Result<u64, BcdError> {
    if bytes.len() > NUMBER_BYTES_MAX {
        return Err(BcdError::TooLong { bytes: bytes.len() });
    }
    validate(bytes)?;
    // At most 18 digits: the arithmetic cannot overflow a u64.
    Ok(bytes.iter().fold(0u64, |number, &byte| number * 100 + u64::from(byte >> 4) * 10 + u64::from(byte & 0x0F)))
}

/// `value` as exactly `byte_count` BCD bytes, with leading zeros.
pub fn encode_number(value: u64, byte_count: usize) -> Result<Vec<u8>, BcdError> {
    if byte_count > NUMBER_BYTES_MAX {
        return Err(BcdError::TooLong { bytes: byte_count });
    }
    // At most 18 digits, so the power of ten fits a u64.
    let digits = byte_count * 2;
    let limit = 10u64.pow(digits as u32);
    if value >= limit {
        return Err(BcdError::TooManyDigits { value, digits });
    }
    let mut bytes = vec![0u8; byte_count];
    let mut rest = value;
    for byte in bytes.iter_mut().rev() {
        let low = (rest % 10) as u8;
        let high = ((rest / 10) % 10) as u8;
        *byte = (high << 4) | low;
        rest /= 100;
    }
    Ok(bytes)
}

/// The decimal digits as text, for BCD fields that are codes rather than quantities.
pub fn digits(bytes: &[u8]) -> Result<String, BcdError> {
    validate(bytes)?;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(b'0' + (byte >> 4)));
        text.push(char::from(b'0' + (byte & 0x0F)));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_from_the_protocol_vectors() {
        assert_eq!(encode_number(470, 6).unwrap(), vec![0x00, 0x00, 0x00, 0x00, 0x04, 0x70]);
        assert_eq!(encode_number(1_610, 6).unwrap(), vec![0x00, 0x00, 0x00, 0x00, 0x16, 0x10]);
        assert_eq!(decode_number(&[0x12, 0x34, 0x56]).unwrap(), 123_456);
        assert_eq!(digits(&[0x03, 0x92]).unwrap(), "0392");
    }

    #[test]
    fn bad_input_is_refused_with_its_index() {
        assert_eq!(decode_number(&[0x12, 0x3A]), Err(BcdError::InvalidDigit { index: 1, byte: 0x3A }));
        assert_eq!(decode_number(&[0xF1]), Err(BcdError::InvalidDigit { index: 0, byte: 0xF1 }));
        assert_eq!(encode_number(1_000, 1), Err(BcdError::TooManyDigits { value: 1_000, digits: 2 }));
        assert_eq!(decode_number(&[0; 10]), Err(BcdError::TooLong { bytes: 10 }));
        assert_eq!(
            decode_number(&[0x12, 0x3A]).unwrap_err().to_string(),
            "byte 1 is 0x3a, which is not two BCD digits"
        );
    }

    #[test]
    fn widest_number_round_trips() {
        let widest = 999_999_999_999_999_999;
        assert_eq!(decode_number(&encode_number(widest, 9).unwrap()).unwrap(), widest);
    }

    proptest! {
        #[test]
        fn numbers_round_trip(value in 0u64..1_000_000_000_000, byte_count in 6usize..=9) {
            let bytes = encode_number(value, byte_count).unwrap();
            prop_assert_eq!(bytes.len(), byte_count);
            prop_assert!(bytes.iter().all(|&byte| is_bcd_byte(byte)));
            prop_assert_eq!(decode_number(&bytes).unwrap(), value);
            prop_assert_eq!(digits(&bytes).unwrap(), format!("{value:0width$}", width = byte_count * 2));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let valid = bytes.iter().all(|&byte| is_bcd_byte(byte));
            let decoded = decode_number(&bytes);
            prop_assert_eq!(decoded.is_ok(), valid && bytes.len() <= NUMBER_BYTES_MAX);
        }
    }
}
