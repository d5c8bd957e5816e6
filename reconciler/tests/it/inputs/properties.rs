//! Properties: no input makes a parser panic, and a generated valid file reads back as the
//! values it was generated from.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use pos_core::time::jst;
use pos_core::Brand;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use reconciler::inputs::bank::{read_bank_statement, BankReadOptions, DateStyle, Direction};
use reconciler::inputs::card::{read_card_settlement, CardRecordType};
use reconciler::inputs::emoney::{read_emoney_settlement, EmoneyTransactionKind};
use reconciler::inputs::qr::{read_qr_settlement, QrTransactionKind};

use super::support::{
    crlf_lines, shift_jis, zengin_file, RecordBuilder, BYTE_ORDER_MARK, CARD_HEADER, EMONEY_HEADER, QR_HEADER,
};

/// Runs every parser over the bytes, reading each to its end. Only a panic can fail this.
fn read_with_every_parser(bytes: &[u8]) {
    let _ = read_card_settlement("fuzz.csv", bytes);
    let _ = read_qr_settlement("fuzz.csv", Brand::PayPay, bytes);
    let _ = read_emoney_settlement("fuzz.csv", bytes);
    let read_on = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap_or_default();
    let _ = read_bank_statement("fuzz.txt", bytes, BankReadOptions::new(read_on));
    let _ = read_bank_statement("fuzz.txt", bytes, BankReadOptions { read_on, date_style: DateStyle::Gregorian });
}

/// Valid files of every format, to be mutated.
fn valid_files() -> Vec<Vec<u8>> {
    let card = crlf_lines(&[
        CARD_HEADER,
        "SALE,2026-11-24,P20261126-001,2026-11-26,000000000010001,T0010001,2026-11-24T10:15:02+09:00,000123,632810000123,A1B2C3,VISA,411111******1111,1500,48,1452,",
        "TOTAL,2026-11-24,P20261126-001,,,,,,,,,,1500,48,1452,",
    ]);
    let qr = [
        BYTE_ORDER_MARK,
        &crlf_lines(&[
            QR_HEADER,
            "2026/11/24 11:02:45,M0001,S0010001,R0010001,支払い,04012345678901234567,PAY-01HF...,300,6,294,2026/11/30,D20261130-01",
        ]),
    ]
    .concat();
    let emoney = shift_jis(
        &[
            EMONEY_HEADER,
            "20261124,101502,000000000010001,T0010001,交通系IC,売上,000124,JE80****5678,470,14,20261127",
            "",
        ]
        .join("\r\n"),
    );
    let bank = include_bytes!("data/zengin-statement-example.txt").to_vec();
    vec![card, qr, emoney, bank]
}

/// A change to a file: replace, insert or delete one byte.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(Index, u8),
    Insert(Index, u8),
    Delete(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(index, byte)| Mutation::Replace(index, byte)),
        (any::<Index>(), any::<u8>()).prop_map(|(index, byte)| Mutation::Insert(index, byte)),
        any::<Index>().prop_map(Mutation::Delete),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match mutation {
        Mutation::Replace(index, byte) => {
            let position = index.index(bytes.len());
            bytes[position] = *byte;
        }
        Mutation::Insert(index, byte) => bytes.insert(index.index(bytes.len() + 1), *byte),
        Mutation::Delete(index) => {
            bytes.remove(index.index(bytes.len()));
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        read_with_every_parser(&bytes);
    }

    #[test]
    fn arbitrary_lines_after_a_valid_header_never_panic(
        header in 0usize..3,
        body in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let prefix = match header {
            0 => crlf_lines(&[CARD_HEADER]),
            1 => [BYTE_ORDER_MARK, &crlf_lines(&[QR_HEADER])].concat(),
            _ => shift_jis(&format!("{EMONEY_HEADER}\r\n")),
        };
        read_with_every_parser(&[prefix, body].concat());
    }

    #[test]
    fn mutated_valid_files_never_panic(
        which in 0usize..4,
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = valid_files().swap_remove(which);
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        read_with_every_parser(&bytes);
    }
}

/// A transaction time on 2026-11-24 in JST, from seconds after midnight.
fn time_on_the_day(seconds: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 24).unwrap().and_hms_opt(0, 0, 0).unwrap() + Duration::seconds(i64::from(seconds))
}

/// One generated card line.
#[derive(Debug, Clone)]
struct CardLine {
    record_type: CardRecordType,
    time: NaiveDateTime,
    stan: String,
    rrn: String,
    auth_code: Option<String>,
    brand: Brand,
    masked_pan: String,
    gross: i64,
    fee: i64,
    original_rrn: Option<String>,
}

fn card_line() -> impl Strategy<Value = CardLine> {
    let identifiers =
        ("[0-9]{6}", "[0-9A-Z]{12}", proptest::option::of("[0-9A-Z]{6}"), proptest::option::of("[0-9]{12}"));
    let card = (
        select(vec![Brand::Visa, Brand::Mastercard, Brand::Jcb, Brand::Amex, Brand::UnionPay]),
        "[0-9]{6}\\*{5,9}[0-9]{4}",
    );
    let amounts = (1i64..5_000_000, 0i64..200_000, any::<bool>());
    (select(CardRecordType::ALL.to_vec()), 0u32..86_400, identifiers, card, amounts).prop_map(
        |(
            record_type,
            seconds,
            (stan, rrn, auth_code, original_rrn),
            (brand, masked_pan),
            (magnitude, fee, negative),
        )| {
            let negative = match record_type {
                CardRecordType::Sale => false,
                CardRecordType::Refund | CardRecordType::Chargeback => true,
                CardRecordType::ChargebackReversal | CardRecordType::Adjustment => negative,
            };
            let sign = if negative { -1 } else { 1 };
            CardLine {
                record_type,
                time: time_on_the_day(seconds),
                stan,
                rrn,
                auth_code,
                brand,
                masked_pan,
                gross: sign * magnitude,
                fee: sign * fee,
                original_rrn,
            }
        },
    )
}

impl CardLine {
    fn to_line(&self) -> String {
        format!(
            "{},2026-11-24,P20261126-001,2026-11-26,000000000010001,T0010001,{}+09:00,{},{},{},{},{},{},{},{},{}",
            self.record_type.code(),
            self.time.format("%Y-%m-%dT%H:%M:%S"),
            self.stan,
            self.rrn,
            self.auth_code.as_deref().unwrap_or(""),
            self.brand.code(),
            self.masked_pan,
            self.gross,
            self.fee,
            self.gross - self.fee,
            self.original_rrn.as_deref().unwrap_or(""),
        )
    }
}

/// One generated QR line.
#[derive(Debug, Clone)]
struct QrLine {
    kind: QrTransactionKind,
    time: NaiveDateTime,
    payment_id: String,
    merchant_payment_id: String,
    gross: i64,
    fee: i64,
}

fn qr_line() -> impl Strategy<Value = QrLine> {
    (
        select(QrTransactionKind::ALL.to_vec()),
        0u32..86_400,
        "[0-9]{20}",
        "[A-Za-z0-9_-]{1,64}",
        1i64..1_000_000,
        0i64..50_000,
    )
        .prop_map(|(kind, seconds, payment_id, merchant_payment_id, magnitude, fee)| {
            let sign = if kind == QrTransactionKind::Payment { 1 } else { -1 };
            QrLine {
                kind,
                time: time_on_the_day(seconds),
                payment_id,
                merchant_payment_id,
                gross: sign * magnitude,
                fee: sign * fee,
            }
        })
}

impl QrLine {
    fn to_line(&self) -> String {
        format!(
            "{},M0001,S0010001,R0010001,{},{},{},{},{},{},2026/11/30,D20261130-01",
            self.time.format("%Y/%m/%d %H:%M:%S"),
            self.kind.code(),
            self.payment_id,
            self.merchant_payment_id,
            self.gross,
            self.fee,
            self.gross - self.fee,
        )
    }
}

/// One generated e-money line.
#[derive(Debug, Clone)]
struct EmoneyLine {
    brand: (&'static str, Brand),
    kind: EmoneyTransactionKind,
    time: NaiveDateTime,
    stan: String,
    card_id: String,
    gross: i64,
    fee: i64,
}

fn emoney_line() -> impl Strategy<Value = EmoneyLine> {
    let brands = vec![
        ("交通系IC", Brand::TransitIc),
        ("iD", Brand::Id),
        ("QUICPay", Brand::QuicPay),
        ("WAON", Brand::Waon),
        ("nanaco", Brand::Nanaco),
        ("楽天Edy", Brand::Edy),
    ];
    (
        select(brands),
        select(EmoneyTransactionKind::ALL.to_vec()),
        0u32..86_400,
        "[0-9]{6}",
        "[A-Z0-9]{4}\\*{4,8}[0-9]{4}",
        1i64..100_000,
        0i64..5_000,
    )
        .prop_map(|(brand, kind, seconds, stan, card_id, magnitude, fee)| {
            let sign = if kind == EmoneyTransactionKind::Cancel { -1 } else { 1 };
            EmoneyLine {
                brand,
                kind,
                time: time_on_the_day(seconds),
                stan,
                card_id,
                gross: sign * magnitude,
                fee: sign * fee,
            }
        })
}

impl EmoneyLine {
    fn to_line(&self) -> String {
        format!(
            "{},000000000010001,T0010001,{},{},{},{},{},{},20261127",
            self.time.format("%Y%m%d,%H%M%S"),
            self.brand.0,
            self.kind.code(),
            self.stan,
            self.card_id,
            self.gross,
            self.fee,
        )
    }
}

proptest! {
    #[test]
    fn generated_card_files_read_back(lines in prop::collection::vec(card_line(), 0..20)) {
        let texts: Vec<String> = lines.iter().map(CardLine::to_line).collect();
        let (gross, fee) = lines.iter().fold((0, 0), |(gross, fee), line| (gross + line.gross, fee + line.fee));
        let total = format!("TOTAL,2026-11-24,P20261126-001,,,,,,,,,,{gross},{fee},{},", gross - fee);
        let mut all: Vec<&str> = vec![CARD_HEADER];
        all.extend(texts.iter().map(String::as_str));
        all.push(&total);
        let settlement = read_card_settlement("card.csv", &crlf_lines(&all)).unwrap();
        prop_assert_eq!(settlement.records.len(), lines.len());
        for (record, line) in settlement.records.iter().zip(&lines) {
            prop_assert_eq!(record.record_type, line.record_type);
            prop_assert_eq!(record.transaction_time.naive_local(), line.time);
            prop_assert_eq!(record.transaction_time.offset(), &jst());
            prop_assert_eq!(record.stan.as_str(), &line.stan);
            prop_assert_eq!(record.rrn.as_str(), &line.rrn);
            prop_assert_eq!(record.auth_code.as_ref().map(|code| code.as_str().to_string()), line.auth_code.clone());
            prop_assert_eq!(record.brand, line.brand);
            prop_assert_eq!(record.masked_pan.as_str(), &line.masked_pan);
            prop_assert_eq!(record.amount_gross.get(), line.gross);
            prop_assert_eq!(record.amount_fee.get(), line.fee);
            prop_assert_eq!(record.amount_net.get(), line.gross - line.fee);
            prop_assert_eq!(record.original_rrn.as_ref().map(|rrn| rrn.as_str().to_string()), line.original_rrn.clone());
        }
        prop_assert_eq!(settlement.trailer.amount_gross.get(), gross);
    }

    #[test]
    fn generated_qr_files_read_back(lines in prop::collection::vec(qr_line(), 0..20)) {
        let texts: Vec<String> = lines.iter().map(QrLine::to_line).collect();
        let mut all: Vec<&str> = vec![QR_HEADER];
        all.extend(texts.iter().map(String::as_str));
        let bytes = [BYTE_ORDER_MARK, &crlf_lines(&all)].concat();
        let records = read_qr_settlement("qr.csv", Brand::LinePay, &bytes).unwrap();
        prop_assert_eq!(records.len(), lines.len());
        for (record, line) in records.iter().zip(&lines) {
            prop_assert_eq!(record.brand, Brand::LinePay);
            prop_assert_eq!(record.kind, line.kind);
            prop_assert_eq!(record.transaction_time.naive_local(), line.time);
            prop_assert_eq!(record.provider_payment_id.as_str(), &line.payment_id);
            prop_assert_eq!(record.merchant_payment_id.as_str(), &line.merchant_payment_id);
            prop_assert_eq!(record.amount_gross.get(), line.gross);
            prop_assert_eq!(record.amount_fee.get(), line.fee);
            prop_assert_eq!(record.amount_net.get(), line.gross - line.fee);
        }
    }

    #[test]
    fn generated_emoney_files_read_back(lines in prop::collection::vec(emoney_line(), 0..20)) {
        let mut text = format!("{EMONEY_HEADER}\r\n");
        for line in &lines {
            text.push_str(&line.to_line());
            text.push_str("\r\n");
        }
        let records = read_emoney_settlement("emoney.csv", &shift_jis(&text)).unwrap();
        prop_assert_eq!(records.len(), lines.len());
        for (record, line) in records.iter().zip(&lines) {
            prop_assert_eq!(record.brand, line.brand.1);
            prop_assert_eq!(record.kind, line.kind);
            prop_assert_eq!(record.transaction_time.naive_local(), line.time);
            prop_assert_eq!(record.stan.as_str(), &line.stan);
            prop_assert_eq!(record.card_id.as_str(), &line.card_id);
            prop_assert_eq!(record.amount_gross.get(), line.gross);
            prop_assert_eq!(record.amount_fee.get(), line.fee);
        }
    }
}

/// One generated bank entry.
#[derive(Debug, Clone)]
struct BankLine {
    day: u32,
    credit: bool,
    kind: &'static str,
    amount: u64,
    payer: String,
    description: String,
    edi: String,
}

fn bank_line() -> impl Strategy<Value = BankLine> {
    (
        1u32..=30,
        any::<bool>(),
        select(vec!["10", "11", "12", "13", "14", "18", "19"]),
        0u64..100_000_000,
        "[ｦ-ﾟ()A-Z0-9./-]{0,48}",
        "[A-Z0-9-]{0,20}",
        "[ｦ-ﾟA-Z0-9]{0,20}",
    )
        .prop_map(|(day, credit, kind, amount, payer, description, edi)| BankLine {
            day,
            credit,
            kind,
            amount,
            payer,
            description,
            edi,
        })
}

proptest! {
    #[test]
    fn generated_bank_statements_read_back(
        lines in prop::collection::vec(bank_line(), 0..20),
        opening in 0u64..10_000_000_000,
        crlf in any::<bool>(),
    ) {
        // 令和8年11月 is November 2026; the file covers the whole month.
        let header = RecordBuilder::new('1')
            .put(2, "030081201081101081130")
            .put(23, "9900")
            .put(27, "ｻﾝﾌﾟﾙｷﾞﾝｺｳ")
            .put(42, "001")
            .put(60, "0001")
            .put(64, "0001234567")
            .put(114, "11")
            .number(116, 14, opening);
        let mut records = vec![header];
        let (mut credits, mut debits) = ((0u64, 0u64), (0u64, 0u64));
        for (index, line) in lines.iter().enumerate() {
            let date = format!("0811{:02}", line.day);
            records.push(
                RecordBuilder::new('2')
                    .number(2, 8, index as u64 + 1)
                    .put(10, &date)
                    .put(22, if line.credit { "1" } else { "2" })
                    .put(23, line.kind)
                    .number(25, 12, line.amount)
                    .put(82, &line.payer)
                    .put(160, &line.description)
                    .put(180, &line.edi),
            );
            let totals = if line.credit { &mut credits } else { &mut debits };
            totals.0 += 1;
            totals.1 += line.amount;
        }
        let closing = i128::from(opening) + i128::from(credits.1) - i128::from(debits.1);
        records.push(
            RecordBuilder::new('8')
                .number(2, 6, credits.0)
                .number(8, 13, credits.1)
                .number(21, 6, debits.0)
                .number(27, 13, debits.1)
                .put(40, if closing < 0 { "2" } else { "1" })
                .number(41, 14, u64::try_from(closing.unsigned_abs()).unwrap())
                .number(55, 7, lines.len() as u64),
        );
        records.push(RecordBuilder::new('9').number(2, 10, lines.len() as u64 + 3).number(12, 5, 1));

        let read_on = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let statement = read_bank_statement("bank.txt", &zengin_file(&records, crlf), BankReadOptions::new(read_on)).unwrap();
        let account = &statement.accounts[0];
        prop_assert_eq!(account.header.balance_opening.get(), i64::try_from(opening).unwrap());
        prop_assert_eq!(account.entries.len(), lines.len());
        for (entry, line) in account.entries.iter().zip(&lines) {
            prop_assert_eq!(entry.booking_date, NaiveDate::from_ymd_opt(2026, 11, line.day).unwrap());
            prop_assert_eq!(entry.direction, if line.credit { Direction::Credit } else { Direction::Debit });
            prop_assert_eq!(entry.kind.code(), line.kind);
            prop_assert_eq!(entry.amount.get(), i64::try_from(line.amount).unwrap());
            prop_assert_eq!(&entry.payer_name, line.payer.trim_end_matches(' '));
            prop_assert_eq!(&entry.description, &line.description);
            prop_assert_eq!(&entry.edi_information, &line.edi);
        }
        prop_assert_eq!(i128::from(account.trailer.balance_closing.get()), closing);
    }
}
