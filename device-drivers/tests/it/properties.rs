//! Round trips and robustness, over generated input.

use device_drivers::zvt::apdu::{self, Apdu};
use device_drivers::zvt::bmp;
use device_drivers::zvt::commands::fields::{
    CurrencyCode, ExpiryDate, MonthDay, Password, ReceiptNumber, ResultCode, TerminalNumber, TimeOfDay, TraceNumber,
    AMOUNT_YEN_MAX,
};
use device_drivers::zvt::commands::{
    decode_ecr_command, decode_terminal_message, Authorization, EcrCommand, Registration, RegistrationConfig,
    StatusInformation, TerminalMessage,
};
use device_drivers::zvt::serial::{self, decode_frame, FrameDecoder, FrameEvent, DLE, STX};
use device_drivers::zvt::tlv::{self, TlvContainer};
use device_drivers::zvt::totals::{IndividualTotals, SlotTotal};
use pos_core::{mask_pan, Yen};
use proptest::prelude::*;

fn any_apdu() -> impl Strategy<Value = Apdu> {
    // DLE-heavy data half the time, so stuffing is exercised hard; lengths cross 255.
    let data = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        proptest::collection::vec(prop_oneof![Just(DLE), Just(STX), Just(0x03), any::<u8>()], 0..300),
    ];
    (any::<u8>(), any::<u8>(), data).prop_map(|(class, instruction, data)| Apdu::new(class, instruction, data).unwrap())
}

/// Line noise that never contains `DLE STX`, so it cannot open a frame of its own.
fn noise() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..40).prop_map(|mut bytes| {
        for index in 1..bytes.len() {
            if bytes[index - 1] == DLE && bytes[index] == STX {
                bytes[index] = 0x00;
            }
        }
        bytes
    })
}

fn any_currency() -> impl Strategy<Value = Option<CurrencyCode>> {
    proptest::option::of((0u16..=9_999).prop_map(|code| CurrencyCode::new(code).unwrap()))
}

fn any_status_information() -> impl Strategy<Value = StatusInformation> {
    let numbers = (
        proptest::option::of(any::<u8>().prop_map(ResultCode)),
        proptest::option::of((0..=AMOUNT_YEN_MAX).prop_map(|amount| Yen::new(amount).unwrap())),
        any_currency(),
        proptest::option::of((0u32..1_000_000).prop_map(|number| TraceNumber::new(number).unwrap())),
        proptest::option::of((0u16..10_000).prop_map(|number| ReceiptNumber::new(number).unwrap())),
        proptest::option::of((0u32..100_000_000).prop_map(|number| TerminalNumber::new(number).unwrap())),
    );
    let dates = (
        proptest::option::of((0u8..24, 0u8..60, 0u8..60).prop_map(|(h, m, s)| TimeOfDay::new(h, m, s).unwrap())),
        proptest::option::of((1u8..=12, 1u8..=28).prop_map(|(month, day)| MonthDay::new(month, day).unwrap())),
        proptest::option::of((0u8..100, 1u8..=12).prop_map(|(year, month)| ExpiryDate::new(year, month).unwrap())),
    );
    let card = (
        proptest::option::of("[0-9]{12,19}".prop_map(|pan| mask_pan(&pan).unwrap())),
        proptest::option::of("[A-Z]{1,20}"),
        proptest::option::of(any::<[u8; 8]>()),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        proptest::option::of(any::<u8>()),
        proptest::option::of(any::<u8>()),
    );
    (numbers, dates, card).prop_map(
        |(
            (result_code, amount, currency, trace_number, receipt_number, terminal_id),
            (time, date, expiry_date),
            (pan, card_name, authorization_attribute, additional_text, card_type, payment_type),
        )| StatusInformation {
            result_code,
            amount,
            currency,
            trace_number,
            receipt_number,
            terminal_id,
            time,
            date,
            expiry_date,
            pan,
            card_name,
            authorization_attribute,
            additional_text,
            card_type,
            payment_type,
            ..StatusInformation::default()
        },
    )
}

proptest! {
    #[test]
    fn apdu_survives_encode_and_decode(apdu in any_apdu()) {
        let bytes = apdu.encode();
        prop_assert_eq!(apdu::encoded_length(&bytes), Ok(Some(bytes.len())));
        prop_assert_eq!(Apdu::decode(&bytes), Ok(apdu.clone()));
        // Decoding then encoding gives the same bytes: there is one encoding per APDU.
        prop_assert_eq!(Apdu::decode(&bytes).unwrap().encode(), bytes);
    }

    #[test]
    fn apdus_back_to_back_split_on_lengths(first in any_apdu(), second in any_apdu()) {
        let mut stream = first.encode();
        stream.extend(second.encode());
        let (decoded, used) = Apdu::decode_prefix(&stream).unwrap();
        prop_assert_eq!(decoded, first);
        prop_assert_eq!(Apdu::decode(&stream[used..]), Ok(second));
    }

    #[test]
    fn framed_apdu_survives_noise_and_chunking(apdu in any_apdu(), prefix in noise(), cut in any::<prop::sample::Index>()) {
        let bytes = apdu.encode();
        let frame = serial::encode_frame(&bytes);
        // A stuffed frame holds no lone DLE: every DLE is doubled or part of a control pair.
        prop_assert_eq!(frame.len(), bytes.len() + bytes.iter().filter(|&&byte| byte == DLE).count() + 6);
        let mut stream = prefix.clone();
        stream.extend_from_slice(&frame);
        prop_assert_eq!(decode_frame(&stream), Ok(bytes.clone()));

        // Fed in two chunks split anywhere, the decoder finds the same frame after any ACK/NAK noise.
        let split = cut.index(stream.len() + 1);
        let mut decoder = FrameDecoder::new();
        let mut events = decoder.feed(&stream[..split]);
        events.extend(decoder.feed(&stream[split..]));
        let (last, before) = events.split_last().unwrap();
        prop_assert_eq!(last, &FrameEvent::Frame(bytes));
        prop_assert!(before.iter().all(|event| matches!(event, FrameEvent::Ack | FrameEvent::Nak)));
        prop_assert!(decoder.is_idle());
    }

    #[test]
    fn a_flipped_bit_is_never_taken_for_the_frame(apdu in any_apdu(), position in any::<prop::sample::Index>(), bit in 0u8..8) {
        let bytes = apdu.encode();
        let mut frame = serial::encode_frame(&bytes);
        let index = position.index(frame.len());
        frame[index] ^= 1 << bit;
        prop_assert_ne!(decode_frame(&frame), Ok(bytes));
    }

    #[test]
    fn authorization_round_trips(amount in 0..=AMOUNT_YEN_MAX, currency in any_currency(), tlv in any::<bool>()) {
        let command = EcrCommand::Authorization(Authorization {
            amount: Yen::new(amount).unwrap(),
            currency,
            tlv: tlv.then(TlvContainer::empty),
        });
        let bytes = command.to_apdu().unwrap().encode();
        prop_assert_eq!(decode_ecr_command(&bytes), Ok(command));
    }

    #[test]
    fn registration_round_trips(
        password in 0u32..1_000_000,
        config in any::<u8>(),
        currency in any_currency(),
        service_byte in proptest::option::of(any::<u8>()),
        tlv in any::<bool>(),
    ) {
        let registration = Registration {
            password: Password::new(password).unwrap(),
            config: RegistrationConfig(config),
            currency,
            service_byte,
            tlv: tlv.then(TlvContainer::empty),
        };
        match registration.to_apdu() {
            Ok(apdu) => prop_assert_eq!(decode_ecr_command(&apdu.encode()), Ok(EcrCommand::Registration(registration))),
            // Only a registration that needs the currency by position but has none is refused.
            Err(_) => prop_assert!(currency.is_none() && (service_byte.is_some() || tlv)),
        }
    }

    #[test]
    fn status_information_round_trips(status in any_status_information()) {
        let bytes = status.to_apdu().unwrap().encode();
        let decoded = decode_terminal_message(&bytes).unwrap();
        prop_assert_eq!(decoded, TerminalMessage::StatusInformation(Box::new(status)));
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = apdu::decode_apdu(&bytes);
        let _ = apdu::encoded_length(&bytes);
        let _ = decode_frame(&bytes);
        let _ = FrameDecoder::new().feed(&bytes);
        let _ = bmp::decode_bmp_fields(&bytes);
        let _ = tlv::decode_container(&bytes);
        let _ = decode_ecr_command(&bytes);
        let _ = decode_terminal_message(&bytes);
        let _ = IndividualTotals::decode(&bytes);
    }

    #[test]
    fn individual_totals_round_trip(
        first in 0u16..10_000,
        last in 0u16..10_000,
        slots in proptest::array::uniform7((any::<u8>(), 0..=AMOUNT_YEN_MAX)),
    ) {
        let totals = IndividualTotals {
            receipt_first: ReceiptNumber::new(first).unwrap(),
            receipt_last: ReceiptNumber::new(last).unwrap(),
            slots: slots.map(|(count, turnover)| SlotTotal { count, turnover: Yen::new(turnover).unwrap() }),
        };
        let bytes = totals.encode().unwrap();
        prop_assert_eq!(bytes.len(), device_drivers::zvt::totals::VALUE_BYTES);
        prop_assert_eq!(IndividualTotals::decode(&bytes).unwrap(), totals);
    }

    #[test]
    fn individual_totals_decoder_checks_every_digit(value in proptest::collection::vec(any::<u8>(), 53)) {
        // Whatever it takes, it takes only when every BCD byte is two digits.
        let bcd_ok = value[..4].iter().all(|byte| byte >> 4 <= 9 && byte & 0x0F <= 9)
            && (0..7).all(|slot| value[5 + slot * 7..4 + (slot + 1) * 7].iter().all(|byte| byte >> 4 <= 9 && byte & 0x0F <= 9));
        prop_assert_eq!(IndividualTotals::decode(&value).is_ok(), bcd_ok);
    }

    #[test]
    fn command_decoders_never_panic_on_arbitrary_data(
        control in prop::sample::select(vec![
            (0x06, 0x00), (0x06, 0x01), (0x06, 0x02), (0x06, 0x30), (0x06, 0x31), (0x06, 0x50), (0x06, 0xB0),
            (0x05, 0x01), (0x80, 0x00), (0x84, 0x9C), (0x04, 0xFF), (0x04, 0x0F), (0x06, 0xD1), (0x06, 0xD3),
            (0x06, 0x0F), (0x06, 0x1E),
        ]),
        data in proptest::collection::vec(
            prop_oneof![
                any::<u8>(),
                // Bytes that look like BMP tags and length digits, to get past the first field.
                prop::sample::select(vec![0x04, 0x06, 0x0B, 0x22, 0x27, 0x29, 0x3B, 0x3C, 0x49, 0x87, 0x8B, 0xF0, 0xF1, 0xF9, 0x00, 0x81, 0x82]),
            ],
            0..120,
        ),
    ) {
        let apdu = Apdu::new(control.0, control.1, data).unwrap();
        let bytes = apdu.encode();
        // Whatever parses must build again, and build the same message.
        if let Ok(command) = decode_ecr_command(&bytes) {
            let rebuilt = command.to_apdu().unwrap();
            prop_assert_eq!(decode_ecr_command(&rebuilt.encode()), Ok(command));
        }
        if let Ok(message) = decode_terminal_message(&bytes) {
            let rebuilt = message.to_apdu().unwrap();
            prop_assert_eq!(decode_terminal_message(&rebuilt.encode()), Ok(message));
        }
    }
}
