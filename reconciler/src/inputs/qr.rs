//! A QR provider's settlement file, `qr-settlement-YYYYMMDD.csv` (PROTOCOLS.md §4.2).
//!
//! UTF-8 starting with a byte order mark (the file is made for Excel), comma-separated, CRLF,
//! the Japanese header row, one line per payment, refund or cancel, and no trailer. The file does
//! not say which QR brand it is: there is one file per provider, and the caller, which knows the
//! provider from its configuration, passes the brand in.
//!
//! [`QrSettlementReader`] yields the lines one by one; it goes on past a bad line so that every
//! bad line is reported, and the file is good only if it yields no error at all.
//! [`read_qr_settlement`] reads a file in memory that way.

use std::io::BufRead;
use std::iter::FusedIterator;

use chrono::{DateTime, FixedOffset, NaiveDate};
use pos_core::{Brand, BusinessDate, Method, Yen};

use super::delimited::{DelimitedLines, Row, TextEncoding, UTF8_BYTE_ORDER_MARK};
use super::error::{collect_all, FileRejected, InputError, Location, Reason};
use super::field::{self, Sign};
use super::identifiers::{ExternalId, PayoutId};

/// The header row's columns, in order (PROTOCOLS.md §4.2).
pub const QR_COLUMNS: [&str; 12] = [
    "取引日時",
    "加盟店ID",
    "店舗ID",
    "端末ID",
    "取引種別",
    "決済番号",
    "加盟店決済番号",
    "取引金額",
    "決済手数料",
    "入金額",
    "入金予定日",
    "入金番号",
];

/// Index of each column in [`QR_COLUMNS`].
mod column {
    pub const TRANSACTION_TIME: usize = 0;
    pub const MERCHANT: usize = 1;
    pub const STORE: usize = 2;
    pub const TERMINAL: usize = 3;
    pub const KIND: usize = 4;
    pub const PAYMENT: usize = 5;
    pub const MERCHANT_PAYMENT: usize = 6;
    pub const GROSS_AMOUNT: usize = 7;
    pub const FEE_AMOUNT: usize = 8;
    pub const NET_AMOUNT: usize = 9;
    pub const PAYOUT_DATE: usize = 10;
    pub const PAYOUT: usize = 11;
}

const FORMAT: &str = "QR settlement";

/// What a line records (取引種別).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QrTransactionKind {
    /// 支払い
    Payment,
    /// 返金
    Refund,
    /// 取消: a payment cancelled (e.g. after a timeout), listed as a negative line.
    Cancel,
}

impl QrTransactionKind {
    pub const ALL: [QrTransactionKind; 3] =
        [QrTransactionKind::Payment, QrTransactionKind::Refund, QrTransactionKind::Cancel];

    /// The word in the 取引種別 column.
    pub fn code(self) -> &'static str {
        match self {
            QrTransactionKind::Payment => "支払い",
            QrTransactionKind::Refund => "返金",
            QrTransactionKind::Cancel => "取消",
        }
    }

    fn parse(text: &str) -> Result<QrTransactionKind, &'static str> {
        QrTransactionKind::ALL.into_iter().find(|kind| kind.code() == text).ok_or("is not 支払い, 返金 or 取消")
    }

    /// Payments bring money in; refunds and cancels take it out (PROTOCOLS.md §4: signed).
    fn gross_sign(self) -> Sign {
        match self {
            QrTransactionKind::Payment => Sign::Positive,
            QrTransactionKind::Refund | QrTransactionKind::Cancel => Sign::Negative,
        }
    }
}

/// One line of a QR settlement file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrRecord {
    /// The line in the file (1-based).
    pub line: u64,
    /// The provider's brand, as the caller said.
    pub brand: Brand,
    /// 取引日時, in JST.
    pub transaction_time: DateTime<FixedOffset>,
    /// 加盟店ID: the city's merchant id at the provider.
    pub merchant_code: ExternalId,
    /// 店舗ID: the facility's store id at the provider.
    pub store_code: ExternalId,
    /// 端末ID: the register's id at the provider.
    pub terminal_code: ExternalId,
    pub kind: QrTransactionKind,
    /// 決済番号: the provider's payment id.
    pub provider_payment_id: ExternalId,
    /// 加盟店決済番号: our `merchantPaymentId`, the key to the journal.
    pub merchant_payment_id: ExternalId,
    /// 取引金額
    pub amount_gross: Yen,
    /// 決済手数料
    pub amount_fee: Yen,
    /// 入金額, always `amount_gross − amount_fee`; the reader checks it.
    pub amount_net: Yen,
    /// 入金予定日
    pub payout_date: NaiveDate,
    /// 入金番号
    pub payout_id: PayoutId,
}

impl QrRecord {
    /// The business date of the transaction: its calendar day in Tokyo.
    pub fn business_date(&self) -> BusinessDate {
        BusinessDate::new(self.transaction_time.date_naive())
    }
}

/// Reads a QR settlement file in memory, accepting it only if every line is good.
pub fn read_qr_settlement(file_name: &str, brand: Brand, bytes: &[u8]) -> Result<Vec<QrRecord>, FileRejected> {
    collect_all(QrSettlementReader::new(file_name, brand, bytes))
}

/// Streams the lines of one QR provider's settlement file.
pub struct QrSettlementReader<R> {
    lines: DelimitedLines<R>,
    brand: Brand,
    header_read: bool,
    done: bool,
}

impl<R: BufRead> QrSettlementReader<R> {
    /// A reader for the file of the provider of `brand`, which must be a QR brand; any other is
    /// reported as the reader's first error, since the file would be booked under the wrong
    /// method.
    pub fn new(file_name: &str, brand: Brand, reader: R) -> QrSettlementReader<R> {
        QrSettlementReader {
            lines: DelimitedLines::new(file_name.to_string(), reader, TextEncoding::Utf8, &QR_COLUMNS),
            brand,
            header_read: false,
            done: false,
        }
    }

    fn read_header(&mut self) -> Result<(), InputError> {
        if self.brand.method() != Method::Qr {
            return Err(InputError::new(
                self.lines.file(),
                Location::File,
                Reason::InvalidValue {
                    field: "brand given for the file",
                    value: self.brand.code().to_string(),
                    problem: "is not a QR brand",
                },
            ));
        }
        if !self.lines.read_line()? {
            return Err(self.lines.end_error(Reason::Empty { expected: "the header row" }));
        }
        let Some(header) = self.lines.raw_line().strip_prefix(UTF8_BYTE_ORDER_MARK) else {
            let header_text = QR_COLUMNS.join(",");
            let expected_in_shift_jis = encoding_rs::SHIFT_JIS.encode(&header_text).0;
            let reason = if self.lines.raw_line() == &*expected_in_shift_jis {
                Reason::WrongEncoding { found: "Shift_JIS", format: FORMAT, expected: "UTF-8 with a byte order mark" }
            } else {
                Reason::MissingByteOrderMark { format: FORMAT }
            };
            return Err(self.lines.line_error(reason));
        };
        let skip = self.lines.raw_line().len() - header.len();
        self.lines.split(skip)?.check_header()
    }

    fn next_line(&mut self) -> Option<Result<QrRecord, InputError>> {
        match self.lines.read_line() {
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
            Ok(false) => {
                self.done = true;
                None
            }
            Ok(true) => {
                let brand = self.brand;
                Some(self.lines.split(0).and_then(|row| parse_line(&row, brand)))
            }
        }
    }
}

impl<R: BufRead> Iterator for QrSettlementReader<R> {
    type Item = Result<QrRecord, InputError>;

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

impl<R: BufRead> FusedIterator for QrSettlementReader<R> {}

/// Parses one line on its own, field by field in column order.
fn parse_line(row: &Row<'_>, brand: Brand) -> Result<QrRecord, InputError> {
    row.expect_columns()?;
    let transaction_time = row.parse(column::TRANSACTION_TIME, field::timestamp_slashed)?;
    let merchant_code = row.parse(column::MERCHANT, ExternalId::parse)?;
    let store_code = row.parse(column::STORE, ExternalId::parse)?;
    let terminal_code = row.parse(column::TERMINAL, ExternalId::parse)?;
    let kind = row.parse(column::KIND, QrTransactionKind::parse)?;
    let provider_payment_id = row.parse(column::PAYMENT, ExternalId::parse)?;
    let merchant_payment_id = row.parse(column::MERCHANT_PAYMENT, ExternalId::parse)?;
    let amount_gross = row.parse(column::GROSS_AMOUNT, field::yen)?;
    let amount_fee = row.parse(column::FEE_AMOUNT, field::yen)?;
    let amount_net = row.parse(column::NET_AMOUNT, field::yen)?;
    let payout_date = row.parse(column::PAYOUT_DATE, field::date_slashed)?;
    let payout_id = row.parse(column::PAYOUT, PayoutId::parse)?;
    row.check_sign(column::GROSS_AMOUNT, amount_gross, kind.gross_sign(), kind.code())?;
    row.check_net(
        [column::GROSS_AMOUNT, column::FEE_AMOUNT, column::NET_AMOUNT],
        [amount_gross, amount_fee, amount_net],
    )?;
    Ok(QrRecord {
        line: row.line(),
        brand,
        transaction_time,
        merchant_code,
        store_code,
        terminal_code,
        kind,
        provider_payment_id,
        merchant_payment_id,
        amount_gross,
        amount_fee,
        amount_net,
        payout_date,
        payout_id,
    })
}
