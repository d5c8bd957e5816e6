//! The e-money centre's settlement file, `emoney-settlement-YYYYMMDD.csv` (PROTOCOLS.md §4.3).
//!
//! Shift_JIS (decoded with `encoding_rs`, which reads it as Windows does), comma-separated,
//! CRLF, the Japanese header row, one line per transaction, and no trailer. Every brand of
//! e-money comes in the one file, named in the ブランド column. A line whose outcome is unknown at
//! the centre (処理未了) settles later, on another date, as 売上 or 取消 with the same 取引通番.
//!
//! [`EmoneySettlementReader`] yields the lines one by one; it goes on past a bad line so that
//! every bad line is reported, and the file is good only if it yields no error at all.
//! [`read_emoney_settlement`] reads a file in memory that way.

use std::io::BufRead;
use std::iter::FusedIterator;

use chrono::{DateTime, FixedOffset, NaiveDate};
use pos_core::{Brand, BusinessDate, TerminalId, Yen};

use super::delimited::{DelimitedLines, Row, TextEncoding, UTF8_BYTE_ORDER_MARK};
use super::error::{collect_all, FileRejected, InputError, Reason};
use super::field::{self, Sign};
use super::identifiers::{MaskedCardId, MerchantId, Stan};

/// The header row's columns, in order (PROTOCOLS.md §4.3).
pub const EMONEY_COLUMNS: [&str; 11] = [
    "利用日",
    "利用時刻",
    "加盟店番号",
    "端末番号",
    "ブランド",
    "取引区分",
    "取引通番",
    "カードID",
    "金額",
    "手数料",
    "精算日",
];

/// Index of each column in [`EMONEY_COLUMNS`].
mod column {
    pub const DATE: usize = 0;
    pub const TIME: usize = 1;
    pub const MERCHANT: usize = 2;
    pub const TERMINAL: usize = 3;
    pub const BRAND: usize = 4;
    pub const KIND: usize = 5;
    pub const SERIAL: usize = 6;
    pub const CARD_ID: usize = 7;
    pub const AMOUNT: usize = 8;
    pub const FEE: usize = 9;
    pub const SETTLEMENT_DATE: usize = 10;
}

const FORMAT: &str = "e-money settlement";

/// The brands as the centre writes them, and ours.
const BRAND_NAMES: [(&str, Brand); 6] = [
    ("交通系IC", Brand::TransitIc),
    ("iD", Brand::Id),
    ("QUICPay", Brand::QuicPay),
    ("WAON", Brand::Waon),
    ("nanaco", Brand::Nanaco),
    ("楽天Edy", Brand::Edy),
];

fn emoney_brand(text: &str) -> Result<Brand, &'static str> {
    BRAND_NAMES
        .iter()
        .find(|(name, _)| *name == text)
        .map(|&(_, brand)| brand)
        .ok_or("is not one of 交通系IC, iD, QUICPay, WAON, nanaco, 楽天Edy")
}

/// What a line records (取引区分).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmoneyTransactionKind {
    /// 売上
    Sale,
    /// 取消
    Cancel,
    /// 処理未了: the centre does not know whether the card was charged; a later file settles it.
    OutcomeUnknown,
}

impl EmoneyTransactionKind {
    pub const ALL: [EmoneyTransactionKind; 3] =
        [EmoneyTransactionKind::Sale, EmoneyTransactionKind::Cancel, EmoneyTransactionKind::OutcomeUnknown];

    /// The word in the 取引区分 column.
    pub fn code(self) -> &'static str {
        match self {
            EmoneyTransactionKind::Sale => "売上",
            EmoneyTransactionKind::Cancel => "取消",
            EmoneyTransactionKind::OutcomeUnknown => "処理未了",
        }
    }

    fn parse(text: &str) -> Result<EmoneyTransactionKind, &'static str> {
        EmoneyTransactionKind::ALL.into_iter().find(|kind| kind.code() == text).ok_or("is not 売上, 取消 or 処理未了")
    }

    /// A sale, and a payment of unknown outcome, carry the payment's amount; a cancel takes it
    /// back and is negative (PROTOCOLS.md §4: signed).
    fn amount_sign(self) -> Sign {
        match self {
            EmoneyTransactionKind::Sale | EmoneyTransactionKind::OutcomeUnknown => Sign::Positive,
            EmoneyTransactionKind::Cancel => Sign::Negative,
        }
    }
}

/// One line of the e-money settlement file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmoneyRecord {
    /// The line in the file (1-based).
    pub line: u64,
    /// 利用日 and 利用時刻 together, in JST.
    pub transaction_time: DateTime<FixedOffset>,
    /// 加盟店番号
    pub merchant_id: MerchantId,
    /// 端末番号
    pub terminal_id: TerminalId,
    pub brand: Brand,
    pub kind: EmoneyTransactionKind,
    /// 取引通番: the terminal's trace number, six digits like the card side's STAN, and the key
    /// that ties a 処理未了 line to its later outcome.
    pub stan: Stan,
    /// カードID, masked.
    pub card_id: MaskedCardId,
    /// 金額
    pub amount_gross: Yen,
    /// 手数料
    pub amount_fee: Yen,
    /// 精算日
    pub settlement_date: NaiveDate,
}

impl EmoneyRecord {
    /// The business date of the transaction: its calendar day in Tokyo.
    pub fn business_date(&self) -> BusinessDate {
        BusinessDate::new(self.transaction_time.date_naive())
    }

    /// What the centre pays for the line (the file has no column for it).
    pub fn amount_net(&self) -> Result<Yen, pos_core::MoneyError> {
        self.amount_gross.checked_sub(self.amount_fee)
    }
}

/// Reads an e-money settlement file in memory, accepting it only if every line is good.
pub fn read_emoney_settlement(file_name: &str, bytes: &[u8]) -> Result<Vec<EmoneyRecord>, FileRejected> {
    collect_all(EmoneySettlementReader::new(file_name, bytes))
}

/// Streams the lines of the e-money settlement file.
pub struct EmoneySettlementReader<R> {
    lines: DelimitedLines<R>,
    header_read: bool,
    done: bool,
}

impl<R: BufRead> EmoneySettlementReader<R> {
    pub fn new(file_name: &str, reader: R) -> EmoneySettlementReader<R> {
        EmoneySettlementReader {
            lines: DelimitedLines::new(file_name.to_string(), reader, TextEncoding::ShiftJis, &EMONEY_COLUMNS),
            header_read: false,
            done: false,
        }
    }

    fn read_header(&mut self) -> Result<(), InputError> {
        if !self.lines.read_line()? {
            return Err(self.lines.end_error(Reason::Empty { expected: "the header row" }));
        }
        // A UTF-8 file would often decode as valid (if meaningless) Shift_JIS, so recognise the
        // header in UTF-8 and say so, rather than complain about a header full of mojibake.
        let raw = self.lines.raw_line();
        let without_mark = raw.strip_prefix(UTF8_BYTE_ORDER_MARK);
        if without_mark.unwrap_or(raw) == EMONEY_COLUMNS.join(",").as_bytes() {
            return Err(self.lines.line_error(Reason::WrongEncoding {
                found: "UTF-8",
                format: FORMAT,
                expected: "Shift_JIS",
            }));
        }
        if without_mark.is_some() {
            return Err(self.lines.line_error(Reason::UnexpectedByteOrderMark { format: FORMAT }));
        }
        self.lines.split(0)?.check_header()
    }

    fn next_line(&mut self) -> Option<Result<EmoneyRecord, InputError>> {
        match self.lines.read_line() {
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
            Ok(false) => {
                self.done = true;
                None
            }
            Ok(true) => Some(self.lines.split(0).and_then(|row| parse_line(&row))),
        }
    }
}

impl<R: BufRead> Iterator for EmoneySettlementReader<R> {
    type Item = Result<EmoneyRecord, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if !self.header_read {
            self.header_read = true;
            if let Err(error) = self.read_header() {
                self.done = true;
                return Some(Err(error));
            }
        }
        self.next_line()
    }
}

impl<R: BufRead> FusedIterator for EmoneySettlementReader<R> {}

/// Parses one line on its own, field by field in column order.
fn parse_line(row: &Row<'_>) -> Result<EmoneyRecord, InputError> {
    row.expect_columns()?;
    let date = row.parse(column::DATE, field::date_compact)?;
    let time = row.parse(column::TIME, field::time_compact)?;
    let merchant_id = row.parse(column::MERCHANT, MerchantId::parse)?;
    let terminal_id =
        row.parse(column::TERMINAL, |text| TerminalId::parse(text).map_err(|_| "is not 8 letters or digits"))?;
    let brand = row.parse(column::BRAND, emoney_brand)?;
    let kind = row.parse(column::KIND, EmoneyTransactionKind::parse)?;
    let stan = row.parse(column::SERIAL, Stan::parse)?;
    let card_id = parse_card_id(row)?;
    let amount_gross = row.parse(column::AMOUNT, field::yen)?;
    let amount_fee = row.parse(column::FEE, field::yen)?;
    let settlement_date = row.parse(column::SETTLEMENT_DATE, field::date_compact)?;
    row.check_sign(column::AMOUNT, amount_gross, kind.amount_sign(), kind.code())?;
    let transaction_time = field::instant_jst(date, time).ok_or_else(|| {
        row.error(
            column::TIME,
            Reason::InvalidValue {
                field: row.name(column::TIME),
                value: time.to_string(),
                problem: "is not a time in JST",
            },
        )
    })?;
    Ok(EmoneyRecord {
        line: row.line(),
        transaction_time,
        merchant_id,
        terminal_id,
        brand,
        kind,
        stan,
        card_id,
        amount_gross,
        amount_fee,
        settlement_date,
    })
}

/// The masked card id; like a card number, its value stays out of messages.
fn parse_card_id(row: &Row<'_>) -> Result<MaskedCardId, InputError> {
    let text = row.text(column::CARD_ID)?;
    MaskedCardId::parse(&text).map_err(|problem| {
        row.error(column::CARD_ID, Reason::Unmasked { field: row.name(column::CARD_ID), problem: problem.to_string() })
    })
}
