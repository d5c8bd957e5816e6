//! The bank statement: 全銀協 入出金取引明細 (protocols/zengin-statement.md).

use chrono::NaiveDate;
use pos_core::Yen;
use reconciler::inputs::bank::{
    read_bank_statement, AccountType, BankReadOptions, BankStatement, BankStatementReader, BankTransactionKind,
    DateStyle, Direction, StatementRecord,
};
use reconciler::inputs::file_id::FileId;

use super::support::{messages, shift_jis, zengin_file, RecordBuilder};

const FILE: &str = "zengin-20261126.txt";

/// The example statement of the 全銀協 layout (`docs/protocols.md` §4.4), copied once byte for byte
/// from the published contract's example; SHA-256
/// `6536f2fdcb04dca483abc638fd7291950b4138bd74ae2736801d1119a7981c36` (checked below).
const EXAMPLE: &[u8] = include_bytes!("data/zengin-statement-example.txt");

/// Where the example's records start: 200 bytes and CRLF each.
fn record_offset(record: usize) -> usize {
    (record - 1) * 202
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

fn yen(value: i64) -> Yen {
    Yen::new(value).unwrap()
}

/// The statement is read on the day after the booking date, as treasury would.
fn options() -> BankReadOptions {
    BankReadOptions::new(date(2026, 11, 27))
}

fn read(bytes: &[u8]) -> BankStatement {
    read_bank_statement(FILE, bytes, options()).unwrap()
}

fn rejected(bytes: &[u8]) -> Vec<String> {
    messages(read_bank_statement(FILE, bytes, options()).expect_err("the file must be rejected"))
}

/// The example with `text` written over it at 1-based `column` of 1-based `record`.
fn patched(record: usize, column: usize, text: &str) -> Vec<u8> {
    let mut bytes = EXAMPLE.to_vec();
    let start = record_offset(record) + column - 1;
    let patch = shift_jis(text);
    bytes[start..start + patch.len()].copy_from_slice(&patch);
    bytes
}

#[test]
fn the_fixture_is_the_protocol_example_unchanged() {
    assert_eq!(FileId::of_bytes(EXAMPLE).to_hex(), "6536f2fdcb04dca483abc638fd7291950b4138bd74ae2736801d1119a7981c36");
}

#[test]
fn example_file_parses_to_its_exact_content() {
    let statement = read(EXAMPLE);
    let [account] = &statement.accounts[..] else { panic!("one account expected") };

    let header = &account.header;
    assert_eq!(header.record_number, 1);
    assert_eq!(header.created_on, date(2026, 11, 26));
    assert_eq!(header.booking_date_first, date(2026, 11, 26));
    assert_eq!(header.booking_date_last, date(2026, 11, 26));
    assert_eq!(header.account.bank_code, "9900");
    assert_eq!(header.account.branch_code, "001");
    assert_eq!(header.account.account_type, AccountType::Ordinary);
    assert_eq!(header.account.account_number, "0001234567");
    assert_eq!(header.bank_name, "ｻﾝﾌﾟﾙｷﾞﾝｺｳ");
    assert_eq!(header.branch_name, "ｼﾔｸｼﾖﾏｴ");
    assert_eq!(header.account_name, "ｻﾝﾌﾟﾙｼｶｲｹｲｶﾝﾘｼﾔ");
    assert_eq!(header.passbook_code.as_deref(), Some("1"));
    assert_eq!(header.balance_opening, yen(1_000_000));

    let [payout, cash, charge] = &account.entries[..] else { panic!("three entries expected") };

    // An acquirer's payout: a transfer named after the acquirer, the payout id in 摘要.
    assert_eq!(payout.record_number, 2);
    assert_eq!(payout.account, header.account);
    assert_eq!(payout.reference, "00000001");
    assert_eq!(payout.booking_date, date(2026, 11, 26));
    assert_eq!(payout.value_date, Some(date(2026, 11, 26)));
    assert_eq!(payout.direction, Direction::Credit);
    assert_eq!(payout.kind, BankTransactionKind::Transfer);
    assert_eq!(payout.amount, yen(1452));
    assert_eq!(payout.amount_signed(), yen(1452));
    assert_eq!(payout.amount_other_bank_cheques, Some(yen(0)));
    assert_eq!(payout.clearing_presented_on, None);
    assert_eq!(payout.dishonoured_returned_on, None);
    assert_eq!(payout.cheque_kind.as_deref(), Some("0"));
    assert_eq!(payout.cheque_number.as_deref(), Some("0000000"));
    assert_eq!(payout.sister_branch_code.as_deref(), Some("000"));
    assert_eq!(payout.payer_code, None);
    assert_eq!(payout.payer_name, "ｶ)ｻﾝﾌﾟﾙｶｰﾄﾞ");
    assert_eq!(payout.remitting_bank_name, "ｻﾝﾌﾟﾙｷﾞﾝｺｳ");
    assert_eq!(payout.remitting_branch_name, "ﾎﾝﾃﾝ");
    assert_eq!(payout.description, "P20261126-001");
    assert_eq!(payout.edi_information, "");

    // A facility's cash deposit.
    assert_eq!(cash.record_number, 3);
    assert_eq!(cash.reference, "00000002");
    assert_eq!(cash.direction, Direction::Credit);
    assert_eq!(cash.kind, BankTransactionKind::Cash);
    assert_eq!(cash.amount, yen(23_000));
    assert_eq!(cash.payer_name, "ｼﾐﾝﾌﾟｰﾙ");
    assert_eq!(cash.remitting_bank_name, "");
    assert_eq!(cash.remitting_branch_name, "");
    assert_eq!(cash.description, "ｹﾞﾝｷﾝ");
    assert_eq!(cash.edi_information, "");

    // A bank charge.
    assert_eq!(charge.record_number, 4);
    assert_eq!(charge.reference, "00000003");
    assert_eq!(charge.booking_date, date(2026, 11, 26));
    assert_eq!(charge.direction, Direction::Debit);
    assert_eq!(charge.kind, BankTransactionKind::Other);
    assert_eq!(charge.amount, yen(440));
    assert_eq!(charge.amount_signed(), yen(-440));
    assert_eq!(charge.payer_name, "");
    assert_eq!(charge.description, "ﾃｽｳﾘｮｳ");

    let trailer = &account.trailer;
    assert_eq!(trailer.record_number, 5);
    assert_eq!((trailer.credits_count, trailer.credits_total), (2, yen(24_452)));
    assert_eq!((trailer.debits_count, trailer.debits_total), (1, yen(440)));
    assert_eq!(trailer.balance_closing, yen(1_024_012));
    assert_eq!(trailer.data_records_count, 3);
}

/// The example's records, built field by field: checks the builder the other tests use.
fn example_records() -> Vec<RecordBuilder> {
    vec![
        header_record(1_000_000),
        data_record(1, "1", "11", 1452, "ｶ)ｻﾝﾌﾟﾙｶｰﾄﾞ").put(130, "ｻﾝﾌﾟﾙｷﾞﾝｺｳ").put(145, "ﾎﾝﾃﾝ").put(160, "P20261126-001"),
        data_record(2, "1", "10", 23_000, "ｼﾐﾝﾌﾟｰﾙ").put(160, "ｹﾞﾝｷﾝ"),
        data_record(3, "2", "18", 440, "").put(160, "ﾃｽｳﾘｮｳ"),
        trailer_record((2, 24_452), (1, 440), 1_024_012, 3),
        end_record(6, 1),
    ]
}

fn header_record(opening: u64) -> RecordBuilder {
    RecordBuilder::new('1')
        .put(2, "030081126081126081126")
        .put(23, "9900")
        .put(27, "ｻﾝﾌﾟﾙｷﾞﾝｺｳ")
        .put(42, "001")
        .put(45, "ｼﾔｸｼﾖﾏｴ")
        .put(60, "0001")
        .put(64, "0001234567")
        .put(74, "ｻﾝﾌﾟﾙｼｶｲｹｲｶﾝﾘｼﾔ")
        .put(114, "01")
        .number(116, 14, opening)
}

fn data_record(reference: u64, direction: &str, kind: &str, amount: u64, payer: &str) -> RecordBuilder {
    RecordBuilder::new('2')
        .number(2, 8, reference)
        .put(10, "081126081126")
        .put(22, direction)
        .put(23, kind)
        .number(25, 12, amount)
        .put(37, &"0".repeat(35))
        .put(82, payer)
}

fn trailer_record(credits: (u64, u64), debits: (u64, u64), closing: u64, data_records: u64) -> RecordBuilder {
    RecordBuilder::new('8')
        .number(2, 6, credits.0)
        .number(8, 13, credits.1)
        .number(21, 6, debits.0)
        .number(27, 13, debits.1)
        .put(40, "0")
        .number(41, 14, closing)
        .number(55, 7, data_records)
}

fn end_record(records: u64, accounts: u64) -> RecordBuilder {
    RecordBuilder::new('9').number(2, 10, records).number(12, 5, accounts)
}

#[test]
fn builder_reproduces_the_example() {
    assert_eq!(zengin_file(&example_records(), true), EXAMPLE);
}

#[test]
fn unbroken_records_read_the_same() {
    let unbroken = zengin_file(&example_records(), false);
    assert_eq!(unbroken.len(), 6 * 200);
    assert_eq!(read(&unbroken), read(EXAMPLE));
}

#[test]
fn streaming_yields_header_entries_trailer_in_order() {
    let kinds: Vec<&str> = BankStatementReader::new(FILE, EXAMPLE, options())
        .map(|item| match item.unwrap() {
            StatementRecord::Header(_) => "header",
            StatementRecord::Entry(_) => "entry",
            StatementRecord::Trailer(_) => "trailer",
        })
        .collect();
    assert_eq!(kinds, ["header", "entry", "entry", "entry", "trailer"]);
}

#[test]
fn a_correction_is_kept_as_its_own_line() {
    let records = [
        header_record(1_000_000),
        data_record(1, "1", "11", 5000, "ｶ)ｻﾝﾌﾟﾙｶｰﾄﾞ"),
        data_record(2, "2", "19", 5000, "ｶ)ｻﾝﾌﾟﾙｶｰﾄﾞ"),
        trailer_record((1, 5000), (1, 5000), 1_000_000, 2),
        end_record(5, 1),
    ];
    let statement = read(&zengin_file(&records, true));
    let entries = &statement.accounts[0].entries;
    assert_eq!(entries.len(), 2);
    assert_eq!((entries[0].kind, entries[0].direction), (BankTransactionKind::Transfer, Direction::Credit));
    assert_eq!((entries[1].kind, entries[1].direction), (BankTransactionKind::Correction, Direction::Debit));
    assert_eq!(entries[1].amount, yen(5000));
}

#[test]
fn several_accounts_and_an_overdrawn_balance() {
    let second_header = header_record(3000).put(64, "0007654321").put(114, "2");
    let records = [
        header_record(1_000_000),
        data_record(1, "1", "10", 500, "ｼﾐﾝﾌﾟｰﾙ"),
        trailer_record((1, 500), (0, 0), 1_000_500, 1),
        second_header,
        data_record(1, "1", "10", 5000, "ｼﾐﾝﾌﾟｰﾙ"),
        trailer_record((1, 5000), (0, 0), 2000, 1),
        end_record(7, 2),
    ];
    let statement = read(&zengin_file(&records, false));
    assert_eq!(statement.accounts.len(), 2);
    assert_eq!(statement.accounts[1].header.account.account_number, "0007654321");
    assert_eq!(statement.accounts[1].header.balance_opening, yen(-3000));
    assert_eq!(statement.accounts[1].trailer.balance_closing, yen(2000));
    assert_eq!(statement.accounts[1].entries[0].account.account_number, "0007654321");
}

#[test]
fn gregorian_dates_are_a_bank_setting() {
    let gregorian = BankReadOptions { read_on: date(2026, 11, 27), date_style: DateStyle::Gregorian };
    let records: Vec<RecordBuilder> = example_records()
        .into_iter()
        .map(|record| match record.bytes()[0] {
            b'1' => record.put(5, "261126261126261126"),
            b'2' => record.put(10, "261126261126"),
            _ => record,
        })
        .collect();
    let statement = read_bank_statement(FILE, &zengin_file(&records, true), gregorian).unwrap();
    assert_eq!(statement.accounts[0].entries[0].booking_date, date(2026, 11, 26));
    // Read as 和暦, the same digits are 平成26年 (2014), inside the window: the setting must
    // match the bank, since the file cannot tell.
    let as_wareki = read(&zengin_file(&records, true));
    assert_eq!(as_wareki.accounts[0].entries[0].booking_date, date(2014, 11, 26));
}

#[test]
fn era_window_follows_the_reading_day() {
    let late = BankReadOptions::new(date(2060, 1, 1));
    assert_eq!(
        messages(read_bank_statement(FILE, EXAMPLE, late).unwrap_err()),
        [
            r#"zengin-20261126.txt: byte 4 (record 1, column 5): 作成日 "081126" is not a date of 令和 or 平成 between 2040-01-01 and 2061-01-01"#
        ]
    );
}

#[test]
fn utf8_text_is_not_jis8() {
    let decoded = encoding_rs::SHIFT_JIS.decode(EXAMPLE).0;
    assert_eq!(
        rejected(decoded.as_bytes()),
        ["zengin-20261126.txt: byte 26 (record 1, column 27): 銀行名 holds byte 0xEF, which is not JIS8 (ASCII or half-width katakana)"]
    );
}

#[test]
fn line_feeds_alone_are_refused() {
    let unix: Vec<u8> = EXAMPLE.iter().copied().filter(|&byte| byte != b'\r').collect();
    assert_eq!(
        rejected(&unix),
        ["zengin-20261126.txt: byte 200 (record 1, column 201): expected CRLF after the 200-byte record, found bytes 0A 32"]
    );
    // A file that starts with CRLF framing must keep it.
    let mut mixed = EXAMPLE.to_vec();
    mixed.drain(record_offset(3) - 2..record_offset(3));
    assert_eq!(
        rejected(&mixed),
        ["zengin-20261126.txt: byte 402 (record 2, column 201): expected CRLF after the 200-byte record, found bytes 32 30"]
    );
}

#[test]
fn truncated_record() {
    let cut = &EXAMPLE[..record_offset(3) + 50];
    assert_eq!(
        rejected(cut),
        ["zengin-20261126.txt: byte 404 (record 3, column 1): record is 50 bytes long; every record is 200 bytes"]
    );
    assert_eq!(rejected(b""), ["zengin-20261126.txt: byte 0 (record 1, column 1): the file is empty; expected a header record (データ区分 1)"]);
}

#[test]
fn missing_end_record() {
    let without_end = &EXAMPLE[..record_offset(6)];
    assert_eq!(
        rejected(without_end),
        ["zengin-20261126.txt: byte 1010 (record 6, column 1): file ends without the end record (データ区分 9)"]
    );
}

#[test]
fn the_end_record_is_the_last_thing() {
    let longer = [EXAMPLE, b"X"].concat();
    assert_eq!(
        rejected(&longer),
        ["zengin-20261126.txt: byte 1212 (record 7, column 1): nothing may follow the end record (データ区分 9)"]
    );
    let no_final_break = &EXAMPLE[..EXAMPLE.len() - 2];
    assert_eq!(
        rejected(no_final_break),
        ["zengin-20261126.txt: byte 1210 (record 6, column 201): expected CRLF after the 200-byte record, found the end of the file"]
    );
}

#[test]
fn trailer_figures_must_match_the_entries() {
    assert_eq!(
        rejected(&patched(5, 8, "0000000024453")),
        ["zengin-20261126.txt: byte 815 (record 5, column 8): 入金額合計 in the trailer is 24453, but the data records add up to 24452"]
    );
    assert_eq!(
        rejected(&patched(5, 2, "000003")),
        ["zengin-20261126.txt: byte 809 (record 5, column 2): 入金件数 in the trailer is 3, but the data records add up to 2"]
    );
    assert_eq!(
        rejected(&patched(5, 55, "0000004")),
        ["zengin-20261126.txt: byte 862 (record 5, column 55): データ件数 in the trailer is 4, but the data records add up to 3"]
    );
}

#[test]
fn balance_must_carry_over() {
    assert_eq!(
        rejected(&patched(5, 41, "00000001024013")),
        ["zengin-20261126.txt: byte 848 (record 5, column 41): 取引前残高 1000000 + 入金 24452 − 出金 440 of the data records = 1024012, but 取引後残高 is 1024013"]
    );
    // An overdrawn closing balance of the same figure is just as wrong.
    assert_eq!(
        rejected(&patched(5, 40, "2")),
        ["zengin-20261126.txt: byte 848 (record 5, column 41): 取引前残高 1000000 + 入金 24452 − 出金 440 of the data records = 1024012, but 取引後残高 is -1024012"]
    );
}

#[test]
fn end_record_counts() {
    assert_eq!(
        rejected(&patched(6, 2, "0000000007")),
        ["zengin-20261126.txt: byte 1011 (record 6, column 2): レコード総件数 in the end record (データ区分 9) is 7, but the records add up to 6"]
    );
    assert_eq!(
        rejected(&patched(6, 12, "00002")),
        ["zengin-20261126.txt: byte 1021 (record 6, column 12): 口座数 in the end record (データ区分 9) is 2, but the records add up to 1"]
    );
}

#[test]
fn header_codes() {
    assert_eq!(
        rejected(&patched(1, 2, "01")),
        [
            r#"zengin-20261126.txt: byte 1 (record 1, column 2): 種別コード "01" is not 03 (入出金取引明細); 01 is 振込入金通知, which is not read here"#
        ]
    );
    assert_eq!(
        rejected(&patched(1, 4, "1")),
        [
            r#"zengin-20261126.txt: byte 3 (record 1, column 4): コード区分 "1" is not 0 (JIS); EBCDIC (1) is not accepted"#
        ]
    );
    assert_eq!(
        rejected(&patched(1, 63, "3")),
        [r#"zengin-20261126.txt: byte 62 (record 1, column 63): 預金種目 "3" is not 1, 2, 4 or 9"#]
    );
}

#[test]
fn data_record_codes_and_numbers() {
    let base = record_offset(2);
    let cases = [
        ((22, "3"), 21, r#"入払区分 "3" is not 1 (入金) or 2 (出金)"#),
        ((23, "15"), 22, r#"取引区分 "15" is not 10, 11, 12, 13, 14, 18 or 19"#),
        ((25, "00000000145A"), 24, r#"取引金額 "00000000145A" is not all digits"#),
        ((25, "            "), 24, r#"取引金額 "            " is not all digits"#),
        ((10, "081131"), 9, r#"勘定日 "081131" is not a date of 令和 or 平成 between 2006-11-27 and 2027-11-27"#),
        (
            (10, "081125"),
            9,
            "勘定日 2026-11-25 is outside the statement's booking dates 2026-11-26 to 2026-11-26 (勘定日（自）–（至）)",
        ),
        ((200, "X"), 199, r#"ダミー "X" is not spaces"#),
    ];
    for ((column, text), offset_in_record, reason) in cases {
        let offset = base + offset_in_record;
        assert_eq!(
            rejected(&patched(2, column, text)),
            [format!("zengin-20261126.txt: byte {offset} (record 2, column {}): {reason}", offset_in_record + 1)],
            "column {column}"
        );
    }
}

#[test]
fn every_bad_data_record_is_reported() {
    let mut bytes = patched(2, 23, "15");
    bytes[record_offset(3) + 21] = b'7';
    assert_eq!(
        rejected(&bytes),
        [
            r#"zengin-20261126.txt: byte 224 (record 2, column 23): 取引区分 "15" is not 10, 11, 12, 13, 14, 18 or 19"#,
            r#"zengin-20261126.txt: byte 425 (record 3, column 22): 入払区分 "7" is not 1 (入金) or 2 (出金)"#,
        ]
    );
}

#[test]
fn records_must_come_in_order() {
    let without_header = &EXAMPLE[record_offset(2)..];
    assert_eq!(
        rejected(without_header),
        ["zengin-20261126.txt: byte 0 (record 1, column 1): a data record (データ区分 2) where a header record (データ区分 1) was expected"]
    );
    assert_eq!(
        rejected(&patched(3, 1, "7")),
        [
            r#"zengin-20261126.txt: byte 404 (record 3, column 1): データ区分 "7" is not 1 (header), 2 (data), 8 (trailer) or 9 (end)"#
        ]
    );
    let without_trailer = [&EXAMPLE[..record_offset(5)], &EXAMPLE[record_offset(6)..]].concat();
    assert_eq!(
        rejected(&without_trailer),
        ["zengin-20261126.txt: byte 808 (record 5, column 1): an end record (データ区分 9) where a data or trailer record (データ区分 2 or 8) was expected"]
    );
}
