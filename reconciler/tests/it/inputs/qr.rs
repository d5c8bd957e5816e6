//! A QR provider's settlement file (PROTOCOLS.md §4.2).

use chrono::NaiveDate;
use pos_core::{Brand, Yen};
use reconciler::inputs::qr::{read_qr_settlement, QrTransactionKind};

use super::support::{crlf_lines, messages, shift_jis, BYTE_ORDER_MARK, QR_HEADER};

const FILE: &str = "qr-settlement-20261124.csv";
/// The two example rows of PROTOCOLS.md §4.2, exactly.
const PAYMENT: &str =
    "2026/11/24 11:02:45,M0001,S0010001,R0010001,支払い,04012345678901234567,PAY-01HF...,300,6,294,2026/11/30,D20261130-01";
const REFUND: &str =
    "2026/11/24 11:30:10,M0001,S0010001,R0010001,返金,04012345678901239999,PAY-01HG...,-300,-6,-294,2026/11/30,D20261130-01";

/// A file as the provider sends it: byte order mark, header, lines.
fn file(lines: &[&str]) -> Vec<u8> {
    let mut all = vec![QR_HEADER];
    all.extend_from_slice(lines);
    [BYTE_ORDER_MARK, &crlf_lines(&all)].concat()
}

fn rejected(bytes: &[u8]) -> Vec<String> {
    messages(read_qr_settlement(FILE, Brand::PayPay, bytes).expect_err("the file must be rejected"))
}

fn yen(value: i64) -> Yen {
    Yen::new(value).unwrap()
}

#[test]
fn example_rows_parse_to_exact_values() {
    let records = read_qr_settlement(FILE, Brand::PayPay, &file(&[PAYMENT, REFUND])).unwrap();
    let [payment, refund] = &records[..] else { panic!("two records expected") };

    assert_eq!(payment.line, 2);
    assert_eq!(payment.brand, Brand::PayPay);
    assert_eq!(payment.transaction_time.to_rfc3339(), "2026-11-24T11:02:45+09:00");
    assert_eq!(payment.merchant_code.as_str(), "M0001");
    assert_eq!(payment.store_code.as_str(), "S0010001");
    assert_eq!(payment.terminal_code.as_str(), "R0010001");
    assert_eq!(payment.kind, QrTransactionKind::Payment);
    assert_eq!(payment.provider_payment_id.as_str(), "04012345678901234567");
    assert_eq!(payment.merchant_payment_id.as_str(), "PAY-01HF...");
    assert_eq!((payment.amount_gross, payment.amount_fee, payment.amount_net), (yen(300), yen(6), yen(294)));
    assert_eq!(payment.payout_date, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
    assert_eq!(payment.payout_id.as_str(), "D20261130-01");

    assert_eq!(refund.line, 3);
    assert_eq!(refund.kind, QrTransactionKind::Refund);
    assert_eq!(refund.transaction_time.to_rfc3339(), "2026-11-24T11:30:10+09:00");
    assert_eq!(refund.provider_payment_id.as_str(), "04012345678901239999");
    assert_eq!(refund.merchant_payment_id.as_str(), "PAY-01HG...");
    assert_eq!((refund.amount_gross, refund.amount_fee, refund.amount_net), (yen(-300), yen(-6), yen(-294)));
}

#[test]
fn cancels_are_negative_lines() {
    let cancel = REFUND.replace("返金", "取消");
    let records = read_qr_settlement(FILE, Brand::AuPay, &file(&[&cancel])).unwrap();
    assert_eq!(records[0].kind, QrTransactionKind::Cancel);
    assert_eq!(records[0].brand, Brand::AuPay);
    let positive = PAYMENT.replace("支払い", "取消");
    assert_eq!(
        rejected(&file(&[&positive])),
        ["qr-settlement-20261124.csv:2:8: 取引金額 300 of 取消 must be negative"]
    );
}

#[test]
fn a_header_alone_is_a_day_without_payments() {
    assert_eq!(read_qr_settlement(FILE, Brand::PayPay, &file(&[])).unwrap(), vec![]);
}

#[test]
fn missing_byte_order_mark() {
    let without = crlf_lines(&[QR_HEADER, PAYMENT]);
    assert_eq!(
        rejected(&without),
        ["qr-settlement-20261124.csv:1: file does not start with the UTF-8 byte order mark that QR settlement files have"]
    );
}

#[test]
fn shift_jis_file_given_to_the_utf8_reader() {
    let shift_jis_file = shift_jis(&format!("{QR_HEADER}\r\n{PAYMENT}\r\n"));
    assert_eq!(
        rejected(&shift_jis_file),
        ["qr-settlement-20261124.csv:1: the file is encoded in Shift_JIS, but QR settlement files are UTF-8 with a byte order mark"]
    );
    // With a byte order mark in front, the Shift_JIS header itself fails to decode.
    let marked = [BYTE_ORDER_MARK, &shift_jis_file].concat();
    assert_eq!(rejected(&marked), ["qr-settlement-20261124.csv:1:1: 取引日時 is not valid UTF-8"]);
    // And a Shift_JIS line in a UTF-8 file is named by its column.
    let line = [shift_jis(PAYMENT), b"\r\n".to_vec()].concat();
    let mixed = [file(&[]), line].concat();
    assert_eq!(rejected(&mixed), ["qr-settlement-20261124.csv:2:5: 取引種別 is not valid UTF-8"]);
}

#[test]
fn truncated_line() {
    let cut = &PAYMENT[..PAYMENT.find(",2026/11/30").unwrap()];
    assert_eq!(rejected(&file(&[cut])), ["qr-settlement-20261124.csv:2:11: line has 10 columns; expected 12"]);
}

#[test]
fn bad_values() {
    let cases = [
        (
            PAYMENT.replace(",300,", ",3O0,"),
            r#"qr-settlement-20261124.csv:2:8: 取引金額 "3O0" is not a whole number of yen"#,
        ),
        (
            PAYMENT.replace("支払い", "売上"),
            r#"qr-settlement-20261124.csv:2:5: 取引種別 "売上" is not 支払い, 返金 or 取消"#,
        ),
        (
            PAYMENT.replace("2026/11/24 11:02:45", "2026-11-24 11:02:45"),
            r#"qr-settlement-20261124.csv:2:1: 取引日時 "2026-11-24 11:02:45" is not a time of the form YYYY/MM/DD hh:mm:ss"#,
        ),
        (
            PAYMENT.replace(",2026/11/30,", ",2026/11/31,"),
            r#"qr-settlement-20261124.csv:2:11: 入金予定日 "2026/11/31" is not a date of the form YYYY/MM/DD"#,
        ),
        (
            PAYMENT.replace(",294,", ",295,"),
            "qr-settlement-20261124.csv:2:10: 入金額 295 is not 取引金額 300 − 決済手数料 6 = 294",
        ),
        (PAYMENT.replace(",PAY-01HF...,", ",,"), r#"qr-settlement-20261124.csv:2:7: 加盟店決済番号 "" is empty"#),
    ];
    for (line, expected) in cases {
        assert_eq!(rejected(&file(&[&line])), [expected]);
    }
}

#[test]
fn header_must_be_exact() {
    let header = QR_HEADER.replace("入金番号", "振込番号");
    let bytes = [BYTE_ORDER_MARK, &crlf_lines(&[&header])].concat();
    assert_eq!(
        rejected(&bytes),
        [r#"qr-settlement-20261124.csv:1:12: header column is "振込番号"; expected "入金番号""#]
    );
}

#[test]
fn the_brand_given_must_be_a_qr_brand() {
    let result = read_qr_settlement(FILE, Brand::Visa, &file(&[PAYMENT]));
    assert_eq!(
        messages(result.unwrap_err()),
        [r#"qr-settlement-20261124.csv: brand given for the file "VISA" is not a QR brand"#]
    );
}
