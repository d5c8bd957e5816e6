//! ZVT, the ECR ↔ payment terminal protocol of PROTOCOLS.md §3, as pure codecs.
//!
//! Layers, from the wire up: [`serial`] finds frames in the serial byte stream (on TCP there is no
//! framing: [`apdu::encoded_length`] finds where an APDU ends); [`apdu`] splits a frame into class,
//! instruction and data; [`bmp`] reads the BMP fields that follow a command's fixed data, with
//! [`bcd`] for packed decimal and [`tlv`] for the container under BMP `06`; [`commands`] turns an
//! APDU into a typed command or answer and back. Everything above reads no clock and does no I/O;
//! [`transport`] owns the port or socket and the timers, and [`totals`] is BMP 60, the end of
//! day's individual totals per ZVT card slot.
//!
//! Byte offsets in decode errors count from the first byte handed to the decoder: the class byte
//! for APDU, BMP, TLV and command errors (so an offset points into the unstuffed APDU), the first
//! byte fed to a [`serial::FrameDecoder`] for framing errors.

pub mod apdu;
pub mod bcd;
pub mod bmp;
pub mod commands;
pub mod ecr;
pub mod serial;
pub mod tlv;
pub mod totals;
pub mod transport;

/// Why a value could not be turned into bytes. Encoding fails only on values the protocol cannot
/// carry (an amount beyond 12 digits, a text longer than its LLVAR allows), never on I/O.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("APDU data of {length} bytes is longer than the 65,535 bytes a ZVT length can express")]
    ApduDataTooLong { length: usize },
    #[error("amount {amount} cannot be sent: BMP 04 carries 0 to 999,999,999,999 yen")]
    AmountOutOfRange { amount: pos_core::Yen },
    #[error("{what} {value} does not fit in {digits} BCD digits")]
    NumberTooLarge { what: &'static str, value: u64, digits: usize },
    #[error("a terminal password has six digits at most")]
    PasswordTooLong,
    #[error("BMP {tag:02X} is not in the BMP table, so it cannot be sent")]
    UnknownBmp { tag: u8 },
    #[error("BMP {tag:02X} ({name}) takes {expected}, not the value given")]
    WrongBmpFormat { tag: u8, name: &'static str, expected: &'static str },
    #[error("BMP {tag:02X} ({name}) is exactly {expected} bytes, the value given has {actual}")]
    WrongBmpLength { tag: u8, name: &'static str, expected: usize, actual: usize },
    #[error("BMP {tag:02X} ({name}) holds at most {length_max} bytes, the value given has {length}")]
    BmpValueTooLong { tag: u8, name: &'static str, length: usize, length_max: usize },
    #[error("BMP {tag:02X} ({name}) value byte {index} is {byte:#04x}, which is not two BCD digits")]
    BmpValueNotBcd { tag: u8, name: &'static str, index: usize, byte: u8 },
    #[error("BMP {tag:02X} is given twice; a message carries each BMP at most once")]
    DuplicateBmp { tag: u8 },
    #[error("TLV tag {tag:#x} is not a valid BER tag: {reason}")]
    InvalidTlvTag { tag: u32, reason: &'static str },
    #[error("TLV tag {tag:#x} is {actual} but was given a {given} value")]
    TlvConstructionMismatch { tag: u32, actual: &'static str, given: &'static str },
    #[error("TLV value of {length} bytes is longer than the 65,535 bytes a ZVT TLV length can express")]
    TlvValueTooLong { length: usize },
    #[error(
        "a registration that sends a service byte or a TLV container must send the currency too (PROTOCOLS.md §3)"
    )]
    RegistrationCurrencyRequired,
    #[error("{what} of {length} bytes is longer than the {length_max} bytes it may have")]
    TextTooLong { what: &'static str, length: usize, length_max: usize },
    #[error("{what} must be printable ASCII")]
    NotAscii { what: &'static str },
}
