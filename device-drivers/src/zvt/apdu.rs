//! The APDU: class byte, instruction byte, length, data.
//!
//! The length is one byte when the data is shorter than 255 bytes; otherwise it is `FF` followed
//! by the length as two bytes, least significant first. The long form is used exactly when the
//! data is 255 bytes or more, and the decoder refuses a long form for a short length: the rule in
//! PROTOCOLS.md §3 leaves one encoding per APDU, and a terminal that breaks it is better found in
//! a test than guessed around in the field.

use std::fmt;

use super::EncodeError;

/// The byte that announces a two-byte length.
pub const EXTENDED_LENGTH_MARKER: u8 = 0xFF;
/// The longest data one APDU carries: the largest two-byte length.
pub const APDU_DATA_BYTES_MAX: usize = 0xFFFF;
/// The longest APDU on the wire: class, instruction, `FF`, two length bytes and the data.
pub const APDU_BYTES_MAX: usize = 5 + APDU_DATA_BYTES_MAX;

/// One ZVT message: two bytes saying what it is, and its data.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Apdu {
    class: u8,
    instruction: u8,
    data: Vec<u8>,
}

/// Why bytes are not an APDU. Offsets count from the class byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    #[error("APDU ends at byte {offset}: expected {expected}")]
    Truncated { offset: usize, expected: &'static str },
    #[error("APDU length at byte {offset} says {declared} data bytes, but {available} follow")]
    DataShorterThanLength { offset: usize, declared: usize, available: usize },
    #[error("APDU has {count} bytes after its data, from byte {offset}")]
    TrailingBytes { offset: usize, count: usize },
    #[error(
        "APDU length at byte {offset} uses the long form (FF) for {declared} bytes; lengths below 255 take one byte"
    )]
    NonCanonicalLength { offset: usize, declared: usize },
}

impl Apdu {
    /// An APDU, if its data fits a ZVT length.
    pub fn new(class: u8, instruction: u8, data: Vec<u8>) -> Result<Apdu, EncodeError> {
        if data.len() > APDU_DATA_BYTES_MAX {
            return Err(EncodeError::ApduDataTooLong { length: data.len() });
        }
        Ok(Apdu { class, instruction, data })
    }

    /// An APDU without data, such as `80 00 00`.
    pub fn empty(class: u8, instruction: u8) -> Apdu {
        Apdu { class, instruction, data: Vec::new() }
    }

    pub fn class(&self) -> u8 {
        self.class
    }

    pub fn instruction(&self) -> u8 {
        self.instruction
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Where the data starts in the encoded APDU: after a one- or three-byte length.
    pub fn data_offset(&self) -> usize {
        header_length(self.data.len())
    }

    /// The APDU as sent on the wire (before any serial framing).
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.data_offset() + self.data.len());
        self.encode_into(&mut bytes);
        bytes
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.class);
        out.push(self.instruction);
        let length = self.data.len();
        if length < usize::from(EXTENDED_LENGTH_MARKER) {
            // Below 255 the length is one byte; the cast cannot truncate.
            out.push(length as u8);
        } else {
            out.push(EXTENDED_LENGTH_MARKER);
            // `new` keeps the length within 16 bits.
            let length = u16::try_from(length).unwrap_or(u16::MAX);
            out.extend_from_slice(&length.to_le_bytes());
        }
        out.extend_from_slice(&self.data);
    }

    /// Exactly one APDU: bytes after its data are an error.
    pub fn decode(bytes: &[u8]) -> Result<Apdu, ApduError> {
        let (apdu, used) = Apdu::decode_prefix(bytes)?;
        if used < bytes.len() {
            return Err(ApduError::TrailingBytes { offset: used, count: bytes.len() - used });
        }
        Ok(apdu)
    }

    /// The APDU at the start of `bytes`, and how many bytes it took.
    pub fn decode_prefix(bytes: &[u8]) -> Result<(Apdu, usize), ApduError> {
        let header = read_header(bytes)?;
        let end = header.data_offset + header.data_length;
        let data = bytes.get(header.data_offset..end).ok_or(ApduError::DataShorterThanLength {
            offset: header.length_offset,
            declared: header.data_length,
            available: bytes.len().saturating_sub(header.data_offset),
        })?;
        let apdu = Apdu { class: header.class, instruction: header.instruction, data: data.to_vec() };
        Ok((apdu, end))
    }
}

/// How long the APDU at the start of `bytes` is, once enough of its header has arrived.
///
/// This is the framing of the TCP transport, where APDUs follow each other with nothing between
/// them: `Ok(None)` means "read more", `Ok(Some(n))` means the first APDU is `n` bytes.
pub fn encoded_length(bytes: &[u8]) -> Result<Option<usize>, ApduError> {
    match read_header(bytes) {
        Ok(header) => Ok(Some(header.data_offset + header.data_length)),
        Err(ApduError::Truncated { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Decodes an APDU from untrusted bytes; the entry point for fuzzing. Never panics.
pub fn decode_apdu(bytes: &[u8]) -> Result<Apdu, ApduError> {
    Apdu::decode(bytes)
}

struct Header {
    class: u8,
    instruction: u8,
    length_offset: usize,
    data_offset: usize,
    data_length: usize,
}

fn read_header(bytes: &[u8]) -> Result<Header, ApduError> {
    let class = *bytes.first().ok_or(ApduError::Truncated { offset: 0, expected: "the class byte" })?;
    let instruction = *bytes.get(1).ok_or(ApduError::Truncated { offset: 1, expected: "the instruction byte" })?;
    let length_byte = *bytes.get(2).ok_or(ApduError::Truncated { offset: 2, expected: "the length byte" })?;
    if length_byte != EXTENDED_LENGTH_MARKER {
        return Ok(Header {
            class,
            instruction,
            length_offset: 2,
            data_offset: 3,
            data_length: usize::from(length_byte),
        });
    }
    let low = *bytes.get(3).ok_or(ApduError::Truncated { offset: 3, expected: "the low byte of the long length" })?;
    let high = *bytes.get(4).ok_or(ApduError::Truncated { offset: 4, expected: "the high byte of the long length" })?;
    let data_length = usize::from(u16::from_le_bytes([low, high]));
    if data_length < usize::from(EXTENDED_LENGTH_MARKER) {
        return Err(ApduError::NonCanonicalLength { offset: 2, declared: data_length });
    }
    Ok(Header { class, instruction, length_offset: 2, data_offset: 5, data_length })
}

fn header_length(data_length: usize) -> usize {
    if data_length < usize::from(EXTENDED_LENGTH_MARKER) {
        3
    } else {
        5
    }
}

impl fmt::Debug for Apdu {
    /// Hex, as the protocol documents write APDUs: `06 01 07 04 00 00 00 00 04 70`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Apdu(")?;
        for (index, byte) in self.encode().iter().enumerate() {
            if index > 0 {
                write!(f, " ")?;
            }
            write!(f, "{byte:02x}")?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths() {
        let short = Apdu::new(0x06, 0x01, vec![0xAA; 254]).unwrap();
        assert_eq!(&short.encode()[..3], &[0x06, 0x01, 0xFE]);
        let long = Apdu::new(0x06, 0x01, vec![0xAA; 255]).unwrap();
        assert_eq!(&long.encode()[..5], &[0x06, 0x01, 0xFF, 0xFF, 0x00]);
        let longer = Apdu::new(0x06, 0xD3, vec![0; 0x1234]).unwrap();
        assert_eq!(&longer.encode()[..5], &[0x06, 0xD3, 0xFF, 0x34, 0x12]);
        assert_eq!(Apdu::decode(&longer.encode()).unwrap(), longer);
        assert_eq!(longer.data_offset(), 5);
    }

    #[test]
    fn data_longer_than_a_length_is_refused() {
        assert_eq!(Apdu::new(0x06, 0xD3, vec![0; 65_536]), Err(EncodeError::ApduDataTooLong { length: 65_536 }));
    }

    #[test]
    fn decode_errors_name_offsets() {
        assert_eq!(Apdu::decode(&[]), Err(ApduError::Truncated { offset: 0, expected: "the class byte" }));
        assert_eq!(Apdu::decode(&[0x06, 0x01]), Err(ApduError::Truncated { offset: 2, expected: "the length byte" }));
        assert_eq!(
            Apdu::decode(&[0x06, 0x01, 0x07, 0x04, 0x00]),
            Err(ApduError::DataShorterThanLength { offset: 2, declared: 7, available: 2 })
        );
        assert_eq!(Apdu::decode(&[0x80, 0x00, 0x00, 0x00]), Err(ApduError::TrailingBytes { offset: 3, count: 1 }));
        assert_eq!(
            Apdu::decode(&[0x80, 0x00, 0xFF, 0x01, 0x00, 0x00]),
            Err(ApduError::NonCanonicalLength { offset: 2, declared: 1 })
        );
        assert_eq!(
            Apdu::decode(&[0x80, 0x00, 0xFF, 0x01]),
            Err(ApduError::Truncated { offset: 4, expected: "the high byte of the long length" })
        );
        let message = Apdu::decode(&[0x06, 0x01, 0x07, 0x04]).unwrap_err().to_string();
        assert_eq!(message, "APDU length at byte 2 says 7 data bytes, but 1 follow");
    }

    #[test]
    fn encoded_length_frames_a_tcp_stream() {
        assert_eq!(encoded_length(&[0x80]), Ok(None));
        assert_eq!(encoded_length(&[0x80, 0x00, 0x00, 0x06]), Ok(Some(3)));
        assert_eq!(encoded_length(&[0x06, 0xD3, 0xFF, 0x00]), Ok(None));
        assert_eq!(encoded_length(&[0x06, 0xD3, 0xFF, 0x00, 0x01]), Ok(Some(5 + 256)));
        assert!(encoded_length(&[0x06, 0xD3, 0xFF, 0x01, 0x00]).is_err());
    }

    #[test]
    fn debug_is_hex() {
        let apdu = Apdu::empty(0x80, 0x00);
        assert_eq!(format!("{apdu:?}"), "Apdu(80 00 00)");
    }
}
