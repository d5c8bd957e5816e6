//! Bad input at every layer: each error says what was wrong and at which byte.

use device_drivers::zvt::apdu::{decode_apdu, ApduError};
use device_drivers::zvt::bmp::BmpError;
use device_drivers::zvt::commands::{decode_ecr_command, decode_terminal_message, CommandError, TerminalMessage};
use device_drivers::zvt::serial::{self, decode_frame, FrameDecoder, FrameError, FrameEvent};
use device_drivers::zvt::tlv::TlvError;

use crate::hex;

#[test]
fn truncated_frame() {
    let frame = hex("10 02 06 01 07 04 00 00 00 00 04 70 10 03 52 87");
    assert_eq!(decode_frame(&frame[..8]), Err(FrameError::Truncated { offset: 8, expected: "more data or DLE ETX" }));
    assert_eq!(decode_frame(&frame[..15]), Err(FrameError::Truncated { offset: 15, expected: "the CRC high byte" }));
    assert_eq!(
        decode_frame(&frame[..15]).unwrap_err().to_string(),
        "frame ends at byte 15: expected the CRC high byte"
    );
    // The incremental decoder just waits for more.
    assert_eq!(FrameDecoder::new().feed(&frame[..15]), vec![]);
}

#[test]
fn bad_crc_is_distinct_so_the_link_can_nak() {
    let mut frame = hex("00 00 10 02 06 01 07 04 00 00 00 00 04 70 10 03 52 87");
    frame[11] = 0x05; // 470 becomes 570 on the line
    let error = decode_frame(&frame).unwrap_err();
    assert!(matches!(error, FrameError::BadCrc { offset: 2, received: 0x8752, .. }), "{error}");
    assert!(error.to_string().starts_with("frame starting at byte 2 carries CRC 0x8752, but its content gives"));
    let events = FrameDecoder::new().feed(&frame);
    assert_eq!(events.len(), 1);
    assert_eq!(serial::receiver_reply(&events[0]), Some(serial::NAK));
    assert!(matches!(events[0], FrameEvent::Rejected(FrameError::BadCrc { .. })));
}

#[test]
fn bad_apdu_length() {
    // The length says 8 data bytes, the frame carries 7: framing is fine, the APDU is not.
    let apdu = hex("06 01 08 04 00 00 00 00 04 70");
    let unstuffed = decode_frame(&serial::encode_frame(&apdu)).unwrap();
    assert_eq!(decode_apdu(&unstuffed), Err(ApduError::DataShorterThanLength { offset: 2, declared: 8, available: 7 }));
    assert_eq!(
        decode_apdu(&hex("06 01 06 04 00 00 00 00 04 70")),
        Err(ApduError::TrailingBytes { offset: 9, count: 1 })
    );
    assert_eq!(decode_apdu(&hex("06 d3 ff 10 00")), Err(ApduError::NonCanonicalLength { offset: 2, declared: 16 }));
    assert_eq!(
        decode_ecr_command(&hex("06 01 08 04 00")).unwrap_err().to_string(),
        "APDU length at byte 2 says 8 data bytes, but 2 follow"
    );
}

#[test]
fn unknown_bmp_tag() {
    let error = decode_terminal_message(&hex("04 0f 04 27 00 fe 01")).unwrap_err();
    assert_eq!(error, CommandError::Bmp(BmpError::UnknownTag { tag: 0xFE, offset: 5 }));
    assert_eq!(
        error.to_string(),
        "unknown BMP tag FE at byte 5; its length cannot be known, so nothing after it can be read"
    );
}

#[test]
fn bad_bcd_digit() {
    // In a BMP.
    assert_eq!(
        decode_ecr_command(&hex("06 01 07 04 00 00 00 00 04 7a")),
        Err(CommandError::Bmp(BmpError::InvalidBcd { tag: 0x04, offset: 9, byte: 0x7A }))
    );
    // In a fixed field.
    let error = decode_ecr_command(&hex("06 50 03 12 3f 56")).unwrap_err();
    assert_eq!(
        error,
        CommandError::InvalidBcd {
            message: "end-of-day 06 50",
            what: "the password (3 BCD bytes)",
            offset: 4,
            byte: 0x3F,
        }
    );
    assert_eq!(
        error.to_string(),
        "end-of-day 06 50: the password (3 BCD bytes) byte 4 is 0x3f, which is not two BCD digits"
    );
    // The registration currency, read by position.
    assert!(matches!(
        decode_ecr_command(&hex("06 00 06 12 34 56 ba 03 9a")),
        Err(CommandError::InvalidBcd { offset: 8, byte: 0x9A, .. })
    ));
}

#[test]
fn llvar_longer_than_data() {
    assert_eq!(
        decode_terminal_message(&hex("04 0f 05 8b f0 f9 56 49")),
        Err(CommandError::Bmp(BmpError::VariableLongerThanData { tag: 0x8B, offset: 4, declared: 9, available: 2 }))
    );
    assert_eq!(
        decode_terminal_message(&hex("04 0f 05 8b f0 f9 56 49")).unwrap_err().to_string(),
        "BMP 8B (card name) length at byte 4 says 9 bytes, but only 2 remain"
    );
    assert_eq!(
        decode_terminal_message(&hex("04 0f 04 3c f0 f1 f5")),
        Err(CommandError::Bmp(BmpError::VariableLongerThanData { tag: 0x3C, offset: 4, declared: 15, available: 0 }))
    );
    assert_eq!(
        decode_terminal_message(&hex("04 0f 03 8b f0 a1")),
        Err(CommandError::Bmp(BmpError::InvalidLengthDigit { tag: 0x8B, offset: 5, byte: 0xA1 }))
    );
}

#[test]
fn bad_tlv() {
    assert_eq!(
        decode_ecr_command(&hex("06 01 0b 04 00 00 00 00 04 70 06 02 1f 10")),
        Err(CommandError::Bmp(BmpError::Tlv(TlvError::Truncated { offset: 14, expected: "a TLV length" })))
    );
    assert_eq!(
        decode_ecr_command(&hex("06 01 0a 04 00 00 00 00 04 70 06 80 00")),
        Err(CommandError::Bmp(BmpError::Tlv(TlvError::InvalidLength { offset: 11, byte: 0x80 })))
    );
}

#[test]
fn commands_refuse_what_they_may_not_carry() {
    assert_eq!(
        decode_ecr_command(&hex("06 01 0e 04 00 00 00 00 04 70 04 00 00 00 00 04 70")),
        Err(CommandError::DuplicateField { message: "authorization 06 01", tag: 0x04, offset: 10 })
    );
    assert_eq!(
        decode_ecr_command(&hex("06 01 03 49 03 92")),
        Err(CommandError::MissingField { message: "authorization 06 01", tag: 0x04 })
    );
    assert_eq!(
        decode_ecr_command(&hex("06 01 02 27 00")),
        Err(CommandError::FieldNotAllowed { message: "authorization 06 01", tag: 0x27, offset: 3 })
    );
    assert_eq!(
        decode_ecr_command(&hex("06 50 04 12 34 56 00")),
        Err(CommandError::UnexpectedData { message: "end-of-day 06 50", offset: 6, count: 1 })
    );
    assert_eq!(
        decode_ecr_command(&hex("06 00 02 12 34")),
        Err(CommandError::Truncated {
            message: "registration 06 00",
            offset: 5,
            expected: "the password (3 BCD bytes)",
        })
    );
    assert!(matches!(
        decode_terminal_message(&hex("80 00 01 00")),
        Err(CommandError::UnexpectedData { offset: 3, .. })
    ));
    assert!(matches!(decode_terminal_message(&hex("06 1e 00")), Err(CommandError::Truncated { offset: 3, .. })));
    // BMP 3B (AID) is exactly 8 bytes: seven leave the next tag inside the value.
    assert!(decode_terminal_message(&hex("04 0f 08 3b 31 32 33 34 35 36 00")).is_err());
}

#[test]
fn a_full_pan_never_leaves_the_parser() {
    // 4111 1111 1111 1111 in clear: the terminal broke the masking rule.
    let bytes = hex("04 0f 0d 27 00 22 f0 f8 41 11 11 11 11 11 11 11");
    let TerminalMessage::StatusInformation(status) = decode_terminal_message(&bytes).unwrap() else {
        panic!("not a status information")
    };
    let pan = status.pan.as_ref().unwrap();
    assert_eq!(pan.as_str(), "411111******1111");
    assert!(status.pan_masked_by_decoder);
    let printed = format!("{status:?}");
    assert!(!printed.contains("4111111111111111"));
    assert!(!printed.contains("1111111111"));
    // Masked again on the way out: the simulator cannot send a full PAN either.
    let re_encoded = status.to_apdu().unwrap().encode();
    assert_eq!(re_encoded, hex("04 0f 0d 27 00 22 f0 f8 41 11 11 ee ee ee 11 11"));
}

#[test]
fn a_pan_with_too_few_digits_or_a_bad_nibble_is_refused() {
    assert_eq!(
        decode_terminal_message(&hex("04 0f 06 22 f0 f3 41 11 11")),
        Err(CommandError::Bmp(BmpError::PanLength { offset: 6, digits: 6 }))
    );
    assert_eq!(
        decode_terminal_message(&hex("04 0f 0b 22 f0 f8 41 11 11 ee ef ee 11 11")),
        Err(CommandError::Bmp(BmpError::InvalidPanNibble { offset: 10, nibble: 0x0F }))
    );
}
