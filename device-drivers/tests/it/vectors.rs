//! Every test vector of PROTOCOLS.md §3, both ways: build → exact bytes, bytes → the same value,
//! for the APDU and for the serial frame.

use device_drivers::zvt::apdu::Apdu;
use device_drivers::zvt::commands::fields::Password;
use device_drivers::zvt::commands::{
    Acknowledgement, Authorization, Completion, EcrCommand, EndOfDay, Registration, RegistrationConfig, StatusEnquiry,
    TerminalMessage,
};
use device_drivers::zvt::serial::{self, FrameDecoder, FrameEvent};
use pos_core::Yen;

use crate::hex;

/// One row of the table, as a value of either direction.
enum Message {
    Ecr(EcrCommand),
    Terminal(TerminalMessage),
}

impl Message {
    fn to_apdu(&self) -> Apdu {
        match self {
            Message::Ecr(command) => command.to_apdu().unwrap(),
            Message::Terminal(message) => message.to_apdu().unwrap(),
        }
    }

    fn assert_decodes_from(&self, apdu: &Apdu) {
        match self {
            Message::Ecr(command) => assert_eq!(&EcrCommand::decode(apdu).unwrap(), command),
            Message::Terminal(message) => assert_eq!(&TerminalMessage::decode(apdu).unwrap(), message),
        }
    }
}

fn password() -> Password {
    Password::new(123_456).unwrap()
}

fn table() -> Vec<(&'static str, Message, &'static str, &'static str)> {
    vec![
        (
            "registration, password 123456, config byte BA",
            Message::Ecr(EcrCommand::Registration(Registration::new(password(), RegistrationConfig(0xBA)))),
            "06 00 04 12 34 56 ba",
            "10 02 06 00 04 12 34 56 ba 10 03 74 31",
        ),
        (
            "authorization, 470",
            Message::Ecr(EcrCommand::Authorization(Authorization::new(Yen::new(470).unwrap()))),
            "06 01 07 04 00 00 00 00 04 70",
            "10 02 06 01 07 04 00 00 00 00 04 70 10 03 52 87",
        ),
        (
            "authorization, 1,610 (DLE stuffing)",
            Message::Ecr(EcrCommand::Authorization(Authorization::new(Yen::new(1_610).unwrap()))),
            "06 01 07 04 00 00 00 00 16 10",
            "10 02 06 01 07 04 00 00 00 00 16 10 10 10 03 2a d2",
        ),
        (
            "end-of-day, password 123456",
            Message::Ecr(EcrCommand::EndOfDay(EndOfDay { password: password() })),
            "06 50 03 12 34 56",
            "10 02 06 50 03 12 34 56 10 03 c4 af",
        ),
        (
            "status enquiry, password 123456",
            Message::Ecr(EcrCommand::StatusEnquiry(StatusEnquiry { password: password() })),
            "05 01 03 12 34 56",
            "10 02 05 01 03 12 34 56 10 03 e0 43",
        ),
        (
            "positive acknowledgement",
            Message::Terminal(TerminalMessage::Acknowledgement(Acknowledgement::Positive)),
            "80 00 00",
            "10 02 80 00 00 10 03 f5 1f",
        ),
        (
            "completion",
            Message::Terminal(TerminalMessage::Completion(Completion::default())),
            "06 0f 00",
            "10 02 06 0f 00 10 03 c6 33",
        ),
    ]
}

#[test]
fn building_gives_the_exact_apdu_and_frame() {
    for (what, message, apdu_hex, frame_hex) in table() {
        let apdu = message.to_apdu();
        assert_eq!(apdu.encode(), hex(apdu_hex), "APDU of {what}");
        assert_eq!(serial::encode_apdu_frame(&apdu), hex(frame_hex), "frame of {what}");
        assert_eq!(serial::encode_frame(&hex(apdu_hex)), hex(frame_hex), "frame of {what} from bytes");
    }
}

#[test]
fn parsing_the_apdu_gives_the_value() {
    for (what, message, apdu_hex, _) in table() {
        let apdu = Apdu::decode(&hex(apdu_hex)).unwrap_or_else(|error| panic!("{what}: {error}"));
        message.assert_decodes_from(&apdu);
    }
}

#[test]
fn parsing_the_frame_gives_the_apdu_and_the_value() {
    for (what, message, apdu_hex, frame_hex) in table() {
        let unstuffed = serial::decode_frame(&hex(frame_hex)).unwrap_or_else(|error| panic!("{what}: {error}"));
        assert_eq!(unstuffed, hex(apdu_hex), "{what}");
        message.assert_decodes_from(&Apdu::decode(&unstuffed).unwrap());

        // The incremental decoder, fed a byte at a time, agrees.
        let mut decoder = FrameDecoder::new();
        let events: Vec<FrameEvent> = hex(frame_hex).into_iter().filter_map(|byte| decoder.push(byte)).collect();
        assert_eq!(events, vec![FrameEvent::Frame(hex(apdu_hex))], "{what}");
    }
}

#[test]
fn crcs_of_the_table() {
    for (what, _, apdu_hex, frame_hex) in table() {
        let frame = hex(frame_hex);
        let crc = u16::from_le_bytes([frame[frame.len() - 2], frame[frame.len() - 1]]);
        assert_eq!(serial::frame_crc(&hex(apdu_hex)), crc, "{what}");
    }
}
