//! Interoperability with an independent ISO 8583 implementation: the PyPI package `pyiso8583`
//! (4.0.1) with its `specs.default`. Every message type this system sends is decoded by it to
//! field-identical values, and what it encodes we decode — and encode to the same bytes.
//!
//! The test fails (never skips) when Python or the package is missing: `.ci/run` installs it.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use iso8583::{decode, encode, fields, BrandData, Message, Mti, Spec};
use pos_core::{Brand, Yen};

const REQUIRED_VERSION: &str = "4.0.1";

/// Which fields are binary in the spec (shown as hex by the peer).
fn is_binary(number: u8) -> bool {
    Spec::default_1987().field(number).is_some_and(|f| f.encoding == iso8583::spec::Encoding::Binary)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A message's fields as the peer represents them.
fn as_peer_fields(message: &Message) -> BTreeMap<String, String> {
    message
        .fields()
        .map(|(number, value)| {
            let shown =
                if is_binary(number) { hex(value) } else { String::from_utf8(value.to_vec()).expect("ascii field") };
            (number.to_string(), shown)
        })
        .collect()
}

/// Every message type the gateway, terminals and acquirers exchange (PROTOCOLS.md §1).
fn messages_we_send() -> Vec<Message> {
    let amount = iso8583::amount_field(Yen::new(1_500).expect("yen")).expect("amount");
    let purchase = Message::new(Mti::FINANCIAL_REQUEST)
        .with(fields::PAN, "4111111111111111")
        .with(fields::PROCESSING_CODE, fields::PROCESSING_PURCHASE)
        .with(fields::AMOUNT, amount.clone())
        .with(fields::TRANSMISSION_DATE_TIME, "1124011502")
        .with(fields::STAN, "000123")
        .with(fields::LOCAL_TIME, "101502")
        .with(fields::LOCAL_DATE, "1124")
        .with(fields::POS_ENTRY_MODE, "051")
        .with(fields::TERMINAL_ID, "T0010101")
        .with(fields::MERCHANT_ID, "000000000010001")
        .with(fields::BRAND_DATA, BrandData { brand: Some(Brand::Visa), ..BrandData::default() }.format())
        .with(fields::CURRENCY, fields::CURRENCY_JPY)
        .with(
            fields::ICC_DATA,
            vec![0x9F, 0x26, 0x08, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x82, 0x02, 0x39, 0x00],
        );
    let track_purchase = purchase
        .clone()
        .with(fields::TRACK_2, "4111111111111111=28121010000012345678")
        .with(fields::PIN_DATA, vec![0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0]);
    let mut emoney = purchase.clone();
    emoney.remove(fields::PAN);
    emoney.remove(fields::ICC_DATA);
    emoney.set(fields::POS_ENTRY_MODE, "071");
    emoney.set(
        fields::BRAND_DATA,
        BrandData {
            brand: Some(Brand::Waon),
            card_id: Some("6900****0001".into()),
            balance: Some(Yen::new(1_200).expect("yen")),
            ..BrandData::default()
        }
        .format(),
    );
    let refund = purchase.clone().with(fields::PROCESSING_CODE, fields::PROCESSING_REFUND);
    let approval = purchase
        .response_skeleton()
        .with(fields::RETRIEVAL_REFERENCE, "632810000123")
        .with(fields::AUTHORIZATION_CODE, "A1B2C3")
        .with(fields::RESPONSE_CODE, "00");
    let unknown =
        emoney.response_skeleton().with(fields::RETRIEVAL_REFERENCE, "632810000124").with(fields::RESPONSE_CODE, "Y1");
    let original = iso8583::original_data_elements(&purchase, 9_001).expect("field 90");
    assert_eq!(original.len(), 42);
    let reversal = Message::new(Mti::REVERSAL_REQUEST)
        .with(fields::PROCESSING_CODE, fields::PROCESSING_PURCHASE)
        .with(fields::AMOUNT, amount)
        .with(fields::TRANSMISSION_DATE_TIME, "1124011530")
        .with(fields::STAN, "000124")
        .with(fields::TERMINAL_ID, "T0010101")
        .with(fields::MERCHANT_ID, "000000000010001")
        .with(fields::CURRENCY, fields::CURRENCY_JPY)
        .with(fields::ORIGINAL_DATA, original);
    let mut repeat = reversal.clone();
    repeat.mti = Mti::REVERSAL_REPEAT;
    let reversal_answer = reversal
        .response_skeleton()
        .with(fields::RESPONSE_CODE, "00")
        .with(fields::ORIGINAL_DATA, reversal.get(fields::ORIGINAL_DATA).expect("90").to_vec());
    let network = |code: &str| {
        Message::new(Mti::NETWORK_REQUEST)
            .with(fields::TRANSMISSION_DATE_TIME, "1124011500")
            .with(fields::STAN, "000001")
            .with(fields::NETWORK_MANAGEMENT_CODE, code.to_string())
    };
    let sign_on = network(fields::NETWORK_SIGN_ON);
    let echo = network(fields::NETWORK_ECHO);
    let sign_off = network(fields::NETWORK_SIGN_OFF);
    let echo_answer = echo.response_skeleton().with(fields::RESPONSE_CODE, "00");
    vec![
        purchase,
        track_purchase,
        emoney,
        refund,
        approval,
        unknown,
        reversal,
        repeat,
        reversal_answer,
        sign_on,
        echo,
        sign_off,
        echo_answer,
    ]
}

fn run_peer(request: &serde_json::Value) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pyiso8583_peer.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("Python ({python}) is required for the ISO 8583 interop test: {e}"));
    child.stdin.take().expect("stdin").write_all(request.to_string().as_bytes()).expect("write request");
    let output = child.wait_with_output().expect("peer runs");
    assert!(
        output.status.success(),
        "pyiso8583 peer failed (is `pyiso8583=={REQUIRED_VERSION}` installed? .ci/run installs it): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("peer answers JSON")
}

#[test]
fn pyiso8583_decodes_what_we_send_and_we_decode_what_it_encodes() {
    let spec = Spec::default_1987();
    let ours = messages_we_send();
    let encoded: Vec<String> = ours.iter().map(|m| hex(&encode(m, spec).expect("encode"))).collect();
    let to_encode: Vec<serde_json::Value> =
        ours.iter().map(|m| serde_json::json!({ "t": m.mti.as_str(), "fields": as_peer_fields(m) })).collect();
    let answer = run_peer(&serde_json::json!({ "decode": encoded, "encode": to_encode }));
    assert_eq!(answer["version"], REQUIRED_VERSION, "the interop test is pinned to pyiso8583 {REQUIRED_VERSION}");

    let decoded = answer["decoded"].as_array().expect("decoded list");
    assert_eq!(decoded.len(), ours.len());
    for (message, theirs) in ours.iter().zip(decoded) {
        let mut expected: BTreeMap<String, String> = as_peer_fields(message);
        expected.insert("t".to_string(), message.mti.as_str().to_string());
        let theirs: BTreeMap<String, String> = serde_json::from_value(theirs.clone()).expect("string fields");
        assert_eq!(theirs, expected, "pyiso8583 reads {} differently", message.mti);
    }

    let their_bytes = answer["encoded"].as_array().expect("encoded list");
    for ((message, theirs), our_hex) in ours.iter().zip(their_bytes).zip(&encoded) {
        let theirs = theirs.as_str().expect("hex");
        assert_eq!(theirs, our_hex, "pyiso8583 encodes {} to other bytes", message.mti);
        let bytes: Vec<u8> =
            (0..theirs.len()).step_by(2).map(|i| u8::from_str_radix(&theirs[i..i + 2], 16).expect("hex")).collect();
        assert_eq!(&decode(&bytes, spec).expect("we decode pyiso8583's bytes"), message);
    }
}
