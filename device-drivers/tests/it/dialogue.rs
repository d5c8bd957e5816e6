//! The rest of the dialogue, both ways: commands the terminal simulator parses and answers the
//! ECR parses, each built to exact bytes and parsed back.

use device_drivers::zvt::apdu::Apdu;
use device_drivers::zvt::bmp::{self, BmpField, BmpValue};
use device_drivers::zvt::commands::fields::{CurrencyCode, Password, ReceiptNumber, ResultCode, TerminalNumber};
use device_drivers::zvt::commands::{
    decode_ecr_command, decode_terminal_message, Acknowledgement, Authorization, CommandError, Completion, EcrCommand,
    IntermediateStatus, PrintLine, Refund, Registration, RegistrationConfig, Reversal, StatusEnquiryCompletion,
    StatusInformation, TerminalAbort, TerminalMessage, TextBlock,
};
use device_drivers::zvt::tlv::{TlvContainer, TlvObject, TlvTag};
use device_drivers::zvt::EncodeError;
use pos_core::{Brand, MaskedPan, Yen};

use crate::hex;

fn password() -> Password {
    Password::new(123_456).unwrap()
}

fn yen(amount: i64) -> Yen {
    Yen::new(amount).unwrap()
}

/// Builds `command`, checks its bytes, and checks the terminal parses them back to it.
fn assert_ecr_both_ways(command: EcrCommand, apdu_hex: &str) {
    assert_eq!(command.to_apdu().unwrap().encode(), hex(apdu_hex), "{command:?}");
    assert_eq!(decode_ecr_command(&hex(apdu_hex)).unwrap(), command);
}

/// Builds `message`, checks its bytes, and checks the ECR parses them back to it.
fn assert_terminal_both_ways(message: TerminalMessage, apdu_hex: &str) {
    assert_eq!(message.to_apdu().unwrap().encode(), hex(apdu_hex), "{message:?}");
    assert_eq!(decode_terminal_message(&hex(apdu_hex)).unwrap(), message);
}

#[test]
fn registration_currency_is_read_by_position() {
    // `03 92` right after the config byte is JPY, never "service byte 0x92".
    let with_currency = decode_ecr_command(&hex("06 00 06 12 34 56 ba 03 92")).unwrap();
    let EcrCommand::Registration(registration) = &with_currency else { panic!("not a registration") };
    assert_eq!(registration.currency, Some(CurrencyCode::JPY));
    assert_eq!(registration.service_byte, None);
    assert_eq!(registration.config, RegistrationConfig::COUNTERD);
    assert!(registration.config.has(RegistrationConfig::INTERMEDIATE_STATUS));
    assert_ecr_both_ways(with_currency, "06 00 06 12 34 56 ba 03 92");

    let everything = Registration {
        password: password(),
        config: RegistrationConfig(0xBA),
        currency: Some(CurrencyCode::JPY),
        service_byte: Some(0x00),
        tlv: Some(TlvContainer::empty()),
    };
    assert_ecr_both_ways(EcrCommand::Registration(everything), "06 00 0a 12 34 56 ba 03 92 03 00 06 00");
}

#[test]
fn registration_without_currency_cannot_send_bmps() {
    let registration =
        Registration { service_byte: Some(0x00), ..Registration::new(password(), RegistrationConfig(0xBA)) };
    assert_eq!(registration.to_apdu(), Err(EncodeError::RegistrationCurrencyRequired));
}

#[test]
fn authorization_with_currency_and_empty_tlv() {
    let authorization =
        Authorization { amount: yen(470), currency: Some(CurrencyCode::JPY), tlv: Some(TlvContainer::empty()) };
    assert_ecr_both_ways(EcrCommand::Authorization(authorization), "06 01 0c 04 00 00 00 00 04 70 49 03 92 06 00");
    let only_tlv = Authorization { amount: yen(470), currency: None, tlv: Some(TlvContainer::empty()) };
    assert_ecr_both_ways(EcrCommand::Authorization(only_tlv), "06 01 09 04 00 00 00 00 04 70 06 00");
}

#[test]
fn a_foreign_currency_is_parsed_so_the_terminal_can_refuse_it() {
    let command = decode_ecr_command(&hex("06 01 0a 04 00 00 00 00 04 70 49 09 78")).unwrap();
    let EcrCommand::Authorization(authorization) = command else { panic!("not an authorization") };
    assert_eq!(authorization.currency, Some(CurrencyCode::EUR));
    // The terminal's answer: acknowledge, then abort with result code 6F.
    assert_terminal_both_ways(TerminalMessage::Acknowledgement(Acknowledgement::Positive), "80 00 00");
    assert_terminal_both_ways(TerminalMessage::Abort(TerminalAbort::new(ResultCode::WRONG_CURRENCY)), "06 1e 01 6f");
}

#[test]
fn other_ecr_commands() {
    let reversal = Reversal { password: password(), receipt_number: ReceiptNumber::new(42).unwrap() };
    assert_ecr_both_ways(EcrCommand::Reversal(reversal), "06 30 06 12 34 56 87 00 42");
    let refund = Refund { password: password(), amount: yen(1_610) };
    assert_ecr_both_ways(EcrCommand::Refund(refund), "06 31 0a 12 34 56 04 00 00 00 00 16 10");
    assert_ecr_both_ways(EcrCommand::Abort, "06 b0 00");
    assert_ecr_both_ways(EcrCommand::LogOff, "06 02 00");
}

#[test]
fn acknowledgements() {
    assert_terminal_both_ways(TerminalMessage::Acknowledgement(Acknowledgement::Negative { code: 0x83 }), "84 83 00");
    assert_eq!(Acknowledgement::decode(&Apdu::decode(&hex("80 00 00")).unwrap()).unwrap(), Acknowledgement::Positive);
}

#[test]
fn intermediate_status_forms() {
    let plain = IntermediateStatus { status: 0x0A, timeout_seconds: None, tlv: None };
    assert_terminal_both_ways(TerminalMessage::IntermediateStatus(plain), "04 ff 01 0a");
    let with_timeout = IntermediateStatus { status: 0x0A, timeout_seconds: Some(0x3C), tlv: None };
    assert_terminal_both_ways(TerminalMessage::IntermediateStatus(with_timeout), "04 ff 02 0a 3c");
    let with_tlv = IntermediateStatus { status: 0x0A, timeout_seconds: None, tlv: Some(TlvContainer::empty()) };
    assert_terminal_both_ways(TerminalMessage::IntermediateStatus(with_tlv), "04 ff 03 0a 06 00");
    // A timeout of 06 followed by a TLV: the lone-TLV reading fails, so the byte is a timeout.
    let both = IntermediateStatus { status: 0x0A, timeout_seconds: Some(0x06), tlv: Some(TlvContainer::empty()) };
    assert_terminal_both_ways(TerminalMessage::IntermediateStatus(both), "04 ff 04 0a 06 06 00");
}

#[test]
fn status_information_of_a_payment() {
    let status = StatusInformation {
        result_code: Some(ResultCode::SUCCESS),
        amount: Some(yen(470)),
        currency: Some(CurrencyCode::JPY),
        receipt_number: Some(ReceiptNumber::new(7).unwrap()),
        terminal_id: Some(TerminalNumber::new(10_010_001).unwrap()),
        pan: Some(MaskedPan::parse_masked("411111******1111").unwrap()),
        card_name: Some("JCB".to_string()),
        ..StatusInformation::default()
    };
    let expected = "04 0f 25 27 00 04 00 00 00 00 04 70 22 f0 f8 41 11 11 ee ee ee 11 11 29 10 01 00 01 \
                    49 03 92 87 00 07 8b f0 f3 4a 43 42";
    assert_terminal_both_ways(TerminalMessage::StatusInformation(Box::new(status.clone())), expected);
    assert_eq!(status.brand(), Some(Brand::Jcb));
}

#[test]
fn end_of_day_status_carries_bmp_60_as_lllvar() {
    let status = StatusInformation {
        result_code: Some(ResultCode::SUCCESS),
        totals: Some(vec![0x00, 0x01, 0x00, 0x09]),
        ..StatusInformation::default()
    };
    assert_terminal_both_ways(
        TerminalMessage::StatusInformation(Box::new(status)),
        "04 0f 0a 27 00 60 f0 f0 f4 00 01 00 09",
    );
}

#[test]
fn print_line_and_text_block() {
    let line = PrintLine { attribute: 0x00, text: b"TOTAL 470".to_vec() };
    assert_eq!(line.text_lossy(), "TOTAL 470");
    assert_terminal_both_ways(TerminalMessage::PrintLine(line), "06 d1 0a 00 54 4f 54 41 4c 20 34 37 30");
    let line_tag = TlvTag::new(0x07).unwrap();
    let block = TextBlock {
        tlv: TlvContainer::new(vec![TlvObject::constructed(
            TlvTag::new(0x25).unwrap(),
            vec![TlvObject::primitive(line_tag, b"OK".to_vec()).unwrap()],
        )
        .unwrap()]),
    };
    assert_terminal_both_ways(TerminalMessage::TextBlock(block), "06 d3 08 06 06 25 04 07 02 4f 4b");
}

#[test]
fn completion_carries_only_its_four_bmps() {
    let completion = Completion {
        payment_type: Some(0x40),
        terminal_id: Some(TerminalNumber::new(10_010_001).unwrap()),
        currency: Some(CurrencyCode::JPY),
        tlv: Some(TlvContainer::empty()),
    };
    assert_terminal_both_ways(TerminalMessage::Completion(completion), "06 0f 0c 19 40 29 10 01 00 01 49 03 92 06 00");
    // Transaction details belong in the status information, not the completion.
    assert_eq!(
        decode_terminal_message(&hex("06 0f 07 04 00 00 00 00 04 70")),
        Err(CommandError::FieldNotAllowed { message: "completion 06 0F", tag: bmp::tag::AMOUNT, offset: 3 })
    );
}

#[test]
fn status_enquiry_completion() {
    let completion =
        StatusEnquiryCompletion { software_version: "SIM 1.0".to_string(), terminal_status: 0x00, tlv: None };
    assert!(completion.is_ready());
    assert_terminal_both_ways(
        TerminalMessage::StatusEnquiryCompletion(completion),
        "06 0f 0b f0 f0 f7 53 49 4d 20 31 2e 30 00",
    );
}

#[test]
fn abort_with_additional_text() {
    let text = BmpField::new(bmp::tag::ADDITIONAL_TEXT, BmpValue::Variable(b"NG".to_vec())).unwrap();
    let abort = TerminalAbort { result_code: ResultCode(0x6C), fields: vec![text] };
    assert_eq!(abort.additional_text_lossy().as_deref(), Some("NG"));
    assert_terminal_both_ways(TerminalMessage::Abort(abort), "06 1e 07 6c 3c f0 f0 f2 4e 47");
}

#[test]
fn an_answer_is_not_a_command_and_back() {
    assert!(matches!(decode_ecr_command(&hex("80 00 00")), Err(CommandError::UnexpectedControlField { .. })));
    assert!(matches!(decode_terminal_message(&hex("06 01 00")), Err(CommandError::UnexpectedControlField { .. })));
}
