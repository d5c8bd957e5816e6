//! The e-money centre's settlement file (PROTOCOLS.md §4.3), in Shift_JIS.

use chrono::NaiveDate;
use pos_core::{Brand, Yen};
use reconciler::inputs::emoney::{read_emoney_settlement, EmoneyTransactionKind};

use super::support::{crlf_lines, messages, replace_bytes, shift_jis, BYTE_ORDER_MARK, EMONEY_HEADER};

const FILE: &str = "emoney-settlement-20261124.csv";
/// The two example rows of PROTOCOLS.md §4.3, exactly.
const SALE: &str = "20261124,101502,000000000010001,T0010001,交通系IC,売上,000124,JE80****5678,470,14,20261127";
const UNKNOWN: &str = "20261124,103011,000000000010001,T0010001,WAON,処理未了,000125,6900****0001,600,0,20261127";

/// A file as the centre sends it: Shift_JIS, header, lines, CRLF.
fn file(lines: &[&str]) -> Vec<u8> {
    let mut all = vec![EMONEY_HEADER];
    all.extend_from_slice(lines);
    shift_jis(&String::from_utf8(crlf_lines(&all)).unwrap())
}

fn rejected(bytes: &[u8]) -> Vec<String> {
    messages(read_emoney_settlement(FILE, bytes).expect_err("the file must be rejected"))
}

fn yen(value: i64) -> Yen {
    Yen::new(value).unwrap()
}

#[test]
fn example_rows_parse_to_exact_values() {
    let records = read_emoney_settlement(FILE, &file(&[SALE, UNKNOWN])).unwrap();
    let [sale, unknown] = &records[..] else { panic!("two records expected") };

    assert_eq!(sale.line, 2);
    assert_eq!(sale.transaction_time.to_rfc3339(), "2026-11-24T10:15:02+09:00");
    assert_eq!(sale.business_date().to_string(), "2026-11-24");
    assert_eq!(sale.merchant_id.as_str(), "000000000010001");
    assert_eq!(sale.terminal_id.as_str(), "T0010001");
    assert_eq!(sale.brand, Brand::TransitIc);
    assert_eq!(sale.kind, EmoneyTransactionKind::Sale);
    assert_eq!(sale.stan.as_str(), "000124");
    assert_eq!(sale.card_id.as_str(), "JE80****5678");
    assert_eq!((sale.amount_gross, sale.amount_fee), (yen(470), yen(14)));
    assert_eq!(sale.amount_net(), Ok(yen(456)));
    assert_eq!(sale.settlement_date, NaiveDate::from_ymd_opt(2026, 11, 27).unwrap());

    assert_eq!(unknown.line, 3);
    assert_eq!(unknown.transaction_time.to_rfc3339(), "2026-11-24T10:30:11+09:00");
    assert_eq!(unknown.brand, Brand::Waon);
    assert_eq!(unknown.kind, EmoneyTransactionKind::OutcomeUnknown);
    assert_eq!(unknown.stan.as_str(), "000125");
    assert_eq!(unknown.card_id.as_str(), "6900****0001");
    assert_eq!((unknown.amount_gross, unknown.amount_fee), (yen(600), yen(0)));
}

#[test]
fn every_brand_name_of_the_centre() {
    let names = [
        ("交通系IC", Brand::TransitIc),
        ("iD", Brand::Id),
        ("QUICPay", Brand::QuicPay),
        ("WAON", Brand::Waon),
        ("nanaco", Brand::Nanaco),
        ("楽天Edy", Brand::Edy),
    ];
    for (name, brand) in names {
        let line = SALE.replace("交通系IC", name);
        assert_eq!(read_emoney_settlement(FILE, &file(&[&line])).unwrap()[0].brand, brand, "{name}");
    }
}

#[test]
fn cancels_are_negative() {
    let cancel = SALE.replace("売上", "取消").replace(",470,14,", ",-470,-14,");
    let records = read_emoney_settlement(FILE, &file(&[&cancel])).unwrap();
    assert_eq!(records[0].kind, EmoneyTransactionKind::Cancel);
    assert_eq!(records[0].amount_gross, yen(-470));
    let positive = SALE.replace("売上", "取消");
    assert_eq!(
        rejected(&file(&[&positive])),
        ["emoney-settlement-20261124.csv:2:9: 金額 470 of 取消 must be negative"]
    );
}

#[test]
fn utf8_file_given_to_the_shift_jis_reader() {
    let utf8 = crlf_lines(&[EMONEY_HEADER, SALE]);
    assert_eq!(
        rejected(&utf8),
        ["emoney-settlement-20261124.csv:1: the file is encoded in UTF-8, but e-money settlement files are Shift_JIS"]
    );
    let marked = [BYTE_ORDER_MARK, &utf8].concat();
    assert_eq!(
        rejected(&marked),
        ["emoney-settlement-20261124.csv:1: the file is encoded in UTF-8, but e-money settlement files are Shift_JIS"]
    );
}

#[test]
fn invalid_shift_jis_is_named_by_line_and_column() {
    // 0x81 opens a two-byte character; 0x20 cannot close one.
    let broken = replace_bytes(&file(&[SALE]), &shift_jis("売上"), b"\x81\x20");
    assert_eq!(rejected(&broken), ["emoney-settlement-20261124.csv:2:6: 取引区分 is not valid Shift_JIS"]);
}

#[test]
fn unknown_brand() {
    let line = SALE.replace("交通系IC", "Suica");
    assert_eq!(
        rejected(&file(&[&line])),
        [
            r#"emoney-settlement-20261124.csv:2:5: ブランド "Suica" is not one of 交通系IC, iD, QUICPay, WAON, nanaco, 楽天Edy"#
        ]
    );
}

#[test]
fn unknown_transaction_kind() {
    let line = SALE.replace("売上", "返品");
    assert_eq!(
        rejected(&file(&[&line])),
        [r#"emoney-settlement-20261124.csv:2:6: 取引区分 "返品" is not 売上, 取消 or 処理未了"#]
    );
}

#[test]
fn truncated_line_and_bad_numbers() {
    let cut = &SALE[..SALE.rfind(",20261127").unwrap()];
    assert_eq!(rejected(&file(&[cut])), ["emoney-settlement-20261124.csv:2:11: line has 10 columns; expected 11"]);
    let cases = [
        (
            SALE.replace(",470,", ",４７０,"),
            r#"emoney-settlement-20261124.csv:2:9: 金額 "４７０" is not a whole number of yen"#,
        ),
        (
            SALE.replace(",101502,", ",251502,"),
            r#"emoney-settlement-20261124.csv:2:2: 利用時刻 "251502" is not a time of the form hhmmss"#,
        ),
        (
            SALE.replace("20261124,", "2026124,"),
            r#"emoney-settlement-20261124.csv:2:1: 利用日 "2026124" is not a date of the form YYYYMMDD"#,
        ),
        (
            SALE.replace(",000124,", ",00124,"),
            r#"emoney-settlement-20261124.csv:2:7: 取引通番 "00124" is not 6 digits"#,
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(rejected(&file(&[&line])), [expected]);
    }
}

#[test]
fn unmasked_card_id_is_refused_and_not_repeated() {
    let line = SALE.replace("JE80****5678", "JE8012345678");
    let messages = rejected(&file(&[&line]));
    assert_eq!(
        messages,
        ["emoney-settlement-20261124.csv:2:8: カードID is not a properly masked number: shows too much of the card id (the value is not shown: it may be card data)"]
    );
    assert!(!messages[0].contains("JE8012345678"));
}

#[test]
fn header_must_be_exact() {
    let header = EMONEY_HEADER.replace("精算日", "入金日");
    assert_eq!(
        rejected(&shift_jis(&format!("{header}\r\n"))),
        [r#"emoney-settlement-20261124.csv:1:11: header column is "入金日"; expected "精算日""#]
    );
}
