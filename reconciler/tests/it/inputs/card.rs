//! The card acquirer's settlement file (PROTOCOLS.md §4.1).

use std::io::BufReader;

use chrono::NaiveDate;
use pos_core::{Brand, Yen};
use reconciler::inputs::card::{read_card_settlement, CardRecordType, CardSettlementReader};

use super::support::{crlf_lines, messages, replace_bytes, shift_jis, BYTE_ORDER_MARK, CARD_HEADER};

const FILE: &str = "card-settlement-20261124.csv";
/// The two example rows of PROTOCOLS.md §4.1, exactly.
const SALE: &str = "SALE,2026-11-24,P20261126-001,2026-11-26,000000000010001,T0010001,2026-11-24T10:15:02+09:00,000123,632810000123,A1B2C3,VISA,411111******1111,1500,48,1452,";
const REFUND: &str = "REFUND,2026-11-24,P20261126-001,2026-11-26,000000000010001,T0010001,2026-11-24T15:40:11+09:00,000131,632810000131,,VISA,411111******1111,-1500,-48,-1452,632810000123";
/// The trailer of the two example rows: the sums are zero, since the refund undoes the sale.
const TOTAL: &str = "TOTAL,2026-11-24,P20261126-001,,,,,,,,,,0,0,0,";

fn file(lines: &[&str]) -> Vec<u8> {
    let mut all = vec![CARD_HEADER];
    all.extend_from_slice(lines);
    crlf_lines(&all)
}

/// The messages for a file that must be rejected.
fn rejected(bytes: &[u8]) -> Vec<String> {
    messages(read_card_settlement(FILE, bytes).expect_err("the file must be rejected"))
}

fn yen(value: i64) -> Yen {
    Yen::new(value).unwrap()
}

#[test]
fn example_rows_parse_to_exact_values() {
    let settlement = read_card_settlement(FILE, &file(&[SALE, REFUND, TOTAL])).unwrap();
    let [sale, refund] = &settlement.records[..] else { panic!("two records expected") };

    assert_eq!(sale.line, 2);
    assert_eq!(sale.record_type, CardRecordType::Sale);
    assert_eq!(sale.settlement_date, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
    assert_eq!(sale.payout_id.as_str(), "P20261126-001");
    assert_eq!(sale.payout_date, NaiveDate::from_ymd_opt(2026, 11, 26).unwrap());
    assert_eq!(sale.merchant_id.as_str(), "000000000010001");
    assert_eq!(sale.terminal_id.as_str(), "T0010001");
    assert_eq!(sale.transaction_time.to_rfc3339(), "2026-11-24T10:15:02+09:00");
    assert_eq!(sale.business_date().to_string(), "2026-11-24");
    assert_eq!(sale.stan.as_str(), "000123");
    assert_eq!(sale.rrn.as_str(), "632810000123");
    assert_eq!(sale.auth_code.as_ref().map(|code| code.as_str()), Some("A1B2C3"));
    assert_eq!(sale.brand, Brand::Visa);
    assert_eq!(sale.masked_pan.as_str(), "411111******1111");
    assert_eq!((sale.amount_gross, sale.amount_fee, sale.amount_net), (yen(1500), yen(48), yen(1452)));
    assert_eq!(sale.original_rrn, None);

    assert_eq!(refund.line, 3);
    assert_eq!(refund.record_type, CardRecordType::Refund);
    assert_eq!(refund.transaction_time.to_rfc3339(), "2026-11-24T15:40:11+09:00");
    assert_eq!(refund.stan.as_str(), "000131");
    assert_eq!(refund.auth_code, None);
    assert_eq!((refund.amount_gross, refund.amount_fee, refund.amount_net), (yen(-1500), yen(-48), yen(-1452)));
    assert_eq!(refund.original_rrn.as_ref().map(|rrn| rrn.as_str()), Some("632810000123"));

    let trailer = &settlement.trailer;
    assert_eq!(trailer.line, 4);
    assert_eq!(trailer.payout_id.as_str(), "P20261126-001");
    assert_eq!((trailer.amount_gross, trailer.amount_fee, trailer.amount_net), (yen(0), yen(0), yen(0)));
}

#[test]
fn a_file_of_one_sale_has_its_sums_in_the_trailer() {
    let total = "TOTAL,2026-11-24,P20261126-001,,,,,,,,,,1500,48,1452,";
    let settlement = read_card_settlement(FILE, &file(&[SALE, total])).unwrap();
    assert_eq!(settlement.records.len(), 1);
    assert_eq!(settlement.trailer.amount_net, yen(1452));
}

#[test]
fn a_day_without_card_payments_is_header_and_trailer() {
    let settlement = read_card_settlement(FILE, &file(&[TOTAL])).unwrap();
    assert!(settlement.records.is_empty());
}

#[test]
fn quoted_fields_are_read_as_their_content() {
    let quoted = SALE.replace("A1B2C3", "\"A1B2C3\"").replace(",1500,", ",\"1500\",");
    let total = "TOTAL,2026-11-24,P20261126-001,,,,,,,,,,1500,48,1452,";
    let settlement = read_card_settlement(FILE, &file(&[&quoted, total])).unwrap();
    assert_eq!(settlement.records[0].amount_gross, yen(1500));
}

#[test]
fn streaming_through_a_tiny_buffer_gives_the_same_records() {
    let bytes = file(&[SALE, REFUND, TOTAL]);
    let mut reader = CardSettlementReader::new(FILE, BufReader::with_capacity(7, &bytes[..]));
    let records: Vec<_> = reader.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(records, read_card_settlement(FILE, &bytes).unwrap().records);
    assert_eq!(reader.trailer().map(|trailer| trailer.line), Some(4));
}

#[test]
fn bad_number_names_line_column_and_value() {
    let bad = REFUND.replace(",-1500,", ",12a,");
    assert_eq!(
        rejected(&file(&[SALE, &bad, TOTAL])),
        [r#"card-settlement-20261124.csv:3:13: gross_amount "12a" is not a whole number of yen"#]
    );
}

#[test]
fn truncated_line_names_the_first_missing_column() {
    let cut = &SALE[..SALE.find(",1500").unwrap()];
    assert_eq!(rejected(&file(&[cut, TOTAL])), ["card-settlement-20261124.csv:2:13: line has 12 columns; expected 16"]);
    let extra = format!("{SALE},");
    assert_eq!(
        rejected(&file(&[&extra, TOTAL])),
        ["card-settlement-20261124.csv:2:17: line has 17 columns; expected 16"]
    );
}

#[test]
fn unknown_and_non_card_brands() {
    let diners = SALE.replace(",VISA,", ",DINERS,");
    assert_eq!(
        rejected(&file(&[&diners, TOTAL])),
        [r#"card-settlement-20261124.csv:2:11: brand "DINERS" is not a known brand code"#]
    );
    let paypay = SALE.replace(",VISA,", ",PAYPAY,");
    assert_eq!(
        rejected(&file(&[&paypay, TOTAL])),
        [r#"card-settlement-20261124.csv:2:11: brand "PAYPAY" is not a card brand (VISA, MC, JCB, AMEX, UPI)"#]
    );
}

#[test]
fn unknown_record_type() {
    let void = SALE.replace("SALE,", "VOID,");
    assert_eq!(
        rejected(&file(&[&void, TOTAL])),
        [
            r#"card-settlement-20261124.csv:2:1: record_type "VOID" is not SALE, REFUND, CHARGEBACK, CHARGEBACK_REVERSAL, ADJUSTMENT or TOTAL"#
        ]
    );
}

#[test]
fn missing_trailer() {
    assert_eq!(
        rejected(&file(&[SALE, REFUND])),
        ["card-settlement-20261124.csv:4: file ends without the TOTAL trailer row"]
    );
}

#[test]
fn trailer_sums_must_agree_each_one_reported() {
    let wrong = "TOTAL,2026-11-24,P20261126-001,,,,,,,,,,1500,48,1400,";
    assert_eq!(
        rejected(&file(&[SALE, REFUND, wrong])),
        [
            "card-settlement-20261124.csv:4:13: gross_amount in the TOTAL trailer row is 1500, but the lines add up to 0",
            "card-settlement-20261124.csv:4:14: fee_amount in the TOTAL trailer row is 48, but the lines add up to 0",
            "card-settlement-20261124.csv:4:15: net_amount in the TOTAL trailer row is 1400, but the lines add up to 0",
        ]
    );
}

#[test]
fn trailer_must_have_the_shape_of_the_header() {
    // One empty column short: the sums would sit under the wrong columns.
    let short = "TOTAL,2026-11-24,P20261126-001,,,,,,,,,0,0,0,";
    assert_eq!(rejected(&file(&[short])), ["card-settlement-20261124.csv:2:16: line has 15 columns; expected 16"]);
    let filled = "TOTAL,2026-11-24,P20261126-001,2026-11-26,,,,,,,,,0,0,0,";
    assert_eq!(
        rejected(&file(&[filled])),
        [r#"card-settlement-20261124.csv:2:4: payout_date "2026-11-26" must be empty on this row"#]
    );
    let other_payout = "TOTAL,2026-11-24,P20261126-002,,,,,,,,,,1500,48,1452,";
    assert_eq!(
        rejected(&file(&[SALE, other_payout])),
        [
            r#"card-settlement-20261124.csv:3:3: payout_id "P20261126-002" differs from "P20261126-001" on line 2; a file holds one payout"#
        ]
    );
}

#[test]
fn nothing_may_follow_the_trailer() {
    assert_eq!(
        rejected(&file(&[SALE, REFUND, TOTAL, TOTAL])),
        ["card-settlement-20261124.csv:5: nothing may follow the TOTAL trailer row"]
    );
    assert_eq!(
        rejected(&file(&[SALE, REFUND, TOTAL, ""])),
        ["card-settlement-20261124.csv:5: nothing may follow the TOTAL trailer row"]
    );
}

#[test]
fn full_card_number_is_refused_and_never_repeated() {
    let full = SALE.replace("411111******1111", "4111111111111111");
    let messages = rejected(&file(&[&full, TOTAL]));
    assert_eq!(
        messages,
        ["card-settlement-20261124.csv:2:12: masked_pan is not a properly masked number: masked card number reveals more than the first 6 and last 4 digits (the value is not shown: it may be card data)"]
    );
    assert!(!messages[0].contains("4111111111111111"));
    assert!(!format!("{:?}", read_card_settlement(FILE, &file(&[&full, TOTAL]))).contains("4111111111111111"));

    // A full card number in another column is masked in the message all the same.
    let misplaced = SALE.replace(",A1B2C3,", ",4111111111111111,");
    assert_eq!(
        rejected(&file(&[&misplaced, TOTAL])),
        [r#"card-settlement-20261124.csv:2:10: auth_code "411111******1111" is not 6 letters or digits"#]
    );
}

#[test]
fn shift_jis_bytes_in_the_utf8_file() {
    // A half-width katakana in Shift_JIS is one byte (0xB1 for ｱ), never valid UTF-8 alone.
    let auth_code = [b"A1B2C".as_slice(), &shift_jis("ｱ")].concat();
    let line = replace_bytes(SALE.as_bytes(), b"A1B2C3", &auth_code);
    let bytes = [crlf_lines(&[CARD_HEADER]), line, b"\r\n".to_vec(), crlf_lines(&[TOTAL])].concat();
    assert_eq!(rejected(&bytes), ["card-settlement-20261124.csv:2:10: auth_code is not valid UTF-8"]);
}

#[test]
fn byte_order_mark_is_not_part_of_this_format() {
    let bytes = [BYTE_ORDER_MARK, &file(&[SALE, REFUND, TOTAL])].concat();
    assert_eq!(
        rejected(&bytes),
        ["card-settlement-20261124.csv:1: file starts with a UTF-8 byte order mark, which card settlement files do not have"]
    );
}

#[test]
fn header_must_be_exact() {
    let header = CARD_HEADER.replace("merchant_id", "merchant");
    assert_eq!(
        rejected(&crlf_lines(&[&header, TOTAL])),
        [r#"card-settlement-20261124.csv:1:5: header column is "merchant"; expected "merchant_id""#]
    );
    assert_eq!(rejected(b""), ["card-settlement-20261124.csv:1: the file is empty; expected the header row"]);
}

#[test]
fn line_endings_must_be_crlf() {
    let mut bytes = file(&[SALE, REFUND, TOTAL]);
    let first_break = bytes.windows(2).position(|window| window == b"\r\n").unwrap();
    bytes.remove(first_break);
    assert_eq!(
        rejected(&bytes),
        ["card-settlement-20261124.csv:1: line ends with a bare LF; lines must end with CRLF"]
    );

    let mut cut = file(&[SALE, REFUND, TOTAL]);
    cut.truncate(cut.len() - 2);
    assert_eq!(
        rejected(&cut),
        ["card-settlement-20261124.csv:4: last line does not end with CRLF (is the file cut short?)"]
    );
}

#[test]
fn net_must_be_gross_less_fee() {
    let bad = SALE.replace(",1452,", ",1450,");
    assert_eq!(
        rejected(&file(&[&bad, TOTAL])),
        ["card-settlement-20261124.csv:2:15: net_amount 1450 is not gross_amount 1500 − fee_amount 48 = 1452"]
    );
}

#[test]
fn signs_follow_the_record_type() {
    let negative_sale = SALE.replace(",1500,48,1452,", ",-1500,-48,-1452,");
    assert_eq!(
        rejected(&file(&[&negative_sale, TOTAL])),
        ["card-settlement-20261124.csv:2:13: gross_amount -1500 of SALE must be positive"]
    );
    let positive_refund = REFUND.replace(",-1500,-48,-1452,", ",1500,48,1452,");
    assert_eq!(
        rejected(&file(&[&positive_refund, TOTAL])),
        ["card-settlement-20261124.csv:2:13: gross_amount 1500 of REFUND must be negative"]
    );
}

#[test]
fn bad_dates_times_and_identifiers() {
    let cases = [
        (
            SALE.replace(",2026-11-24T10:15:02+09:00,", ",2026-11-24T10:15:02Z,"),
            r#"card-settlement-20261124.csv:2:7: transaction_time "2026-11-24T10:15:02Z" is not a JST time of the form YYYY-MM-DDThh:mm:ss+09:00"#,
        ),
        (
            SALE.replace(",2026-11-26,", ",2026-11-31,"),
            r#"card-settlement-20261124.csv:2:4: payout_date "2026-11-31" is not a date of the form YYYY-MM-DD"#,
        ),
        (SALE.replace(",000123,", ",123,"), r#"card-settlement-20261124.csv:2:8: stan "123" is not 6 digits"#),
        (
            SALE.replace(",632810000123,", ",6328100001,"),
            r#"card-settlement-20261124.csv:2:9: rrn "6328100001" is not 12 letters or digits"#,
        ),
        (
            SALE.replace(",T0010001,", ",T001,"),
            r#"card-settlement-20261124.csv:2:6: terminal_id "T001" is not 8 letters or digits"#,
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(rejected(&file(&[&line, TOTAL])), [expected]);
    }
}

#[test]
fn every_bad_line_is_reported_not_just_the_first() {
    let bad_sale = SALE.replace(",VISA,", ",DINERS,");
    let bad_refund = REFUND.replace(",000131,", ",13x,");
    assert_eq!(
        rejected(&file(&[&bad_sale, &bad_refund, TOTAL])),
        [
            r#"card-settlement-20261124.csv:2:11: brand "DINERS" is not a known brand code"#,
            r#"card-settlement-20261124.csv:3:8: stan "13x" is not 6 digits"#,
        ]
    );
}

#[test]
fn a_second_payout_in_one_file_is_refused() {
    let other = REFUND.replace("P20261126-001", "P20261126-002");
    assert_eq!(
        rejected(&file(&[SALE, &other, TOTAL])),
        [
            r#"card-settlement-20261124.csv:3:3: payout_id "P20261126-002" differs from "P20261126-001" on line 2; a file holds one payout"#
        ]
    );
}

/// A card settlement file of many sales, made as it is read, so that the test holds no more of
/// it in memory than the reader does.
struct GeneratedCardFile {
    sales_total: u64,
    sales_written: u64,
    trailer_written: bool,
    chunk: Vec<u8>,
    position: usize,
}

impl GeneratedCardFile {
    fn new(sales_total: u64) -> GeneratedCardFile {
        let chunk = crlf_lines(&[CARD_HEADER]);
        GeneratedCardFile { sales_total, sales_written: 0, trailer_written: false, chunk, position: 0 }
    }

    /// The next line, or `None` after the trailer.
    fn next_line(&mut self) -> Option<String> {
        if self.sales_written < self.sales_total {
            let stan = self.sales_written % 1_000_000;
            self.sales_written += 1;
            return Some(format!(
                "SALE,2026-11-24,P20261126-001,2026-11-26,000000000010001,T0010001,2026-11-24T10:15:02+09:00,{stan:06},6328{stan:08},A1B2C3,JCB,353011******0000,470,15,455,"
            ));
        }
        if self.trailer_written {
            return None;
        }
        self.trailer_written = true;
        let count = self.sales_total as i64;
        Some(format!("TOTAL,2026-11-24,P20261126-001,,,,,,,,,,{},{},{},", 470 * count, 15 * count, 455 * count))
    }
}

impl std::io::Read for GeneratedCardFile {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        if self.position == self.chunk.len() {
            match self.next_line() {
                Some(line) => {
                    self.chunk = crlf_lines(&[&line]);
                    self.position = 0;
                }
                None => return Ok(0),
            }
        }
        let count = buffer.len().min(self.chunk.len() - self.position);
        buffer[..count].copy_from_slice(&self.chunk[self.position..self.position + count]);
        self.position += count;
        Ok(count)
    }
}

#[test]
fn a_large_file_streams_line_by_line() {
    const SALES: u64 = 100_000;
    let mut reader = CardSettlementReader::new(FILE, BufReader::new(GeneratedCardFile::new(SALES)));
    let mut count = 0;
    for record in reader.by_ref() {
        let record = record.unwrap();
        assert_eq!(record.amount_net, yen(455));
        count += 1;
    }
    assert_eq!(count, SALES);
    let trailer = reader.trailer().unwrap();
    assert_eq!(trailer.amount_gross, yen(47_000_000));
    assert_eq!(trailer.line, SALES + 2);
}
