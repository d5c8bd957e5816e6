//! The card acquirer's settlement file, `card-settlement-YYYYMMDD.csv` (PROTOCOLS.md §4.1).
//!
//! UTF-8 without a byte order mark, comma-separated, CRLF, the English header row, one line per
//! settled transaction, and a `TOTAL` trailer row whose sums must equal the lines'. One file
//! holds one settlement date and one payout (the trailer names a single payout id), so every
//! line must agree with the first on `settlement_date`, `payout_id` and `payout_date`.
//!
//! [`CardSettlementReader`] yields the lines one by one from any `BufRead` and checks the trailer
//! when it reaches it. It goes on past a bad line so that every bad line is reported, and the
//! file is good only if it yields no error at all; a caller that streams must hold the lines it
//! has taken until the iterator ends cleanly. [`read_card_settlement`] does that for a file in
//! memory.

use std::collections::VecDeque;
use std::io::BufRead;
use std::iter::FusedIterator;

use chrono::{DateTime, FixedOffset, NaiveDate};
use pos_core::{Brand, MaskedPan};
use pos_core::{BusinessDate, Method, TerminalId, Yen};

use super::delimited::{DelimitedLines, Row, TextEncoding, UTF8_BYTE_ORDER_MARK};
use super::error::{collect_all, shown, FileRejected, InputError, Reason};
use super::field::{self, Sign};
use super::identifiers::{AuthCode, MerchantId, PayoutId, Rrn, Stan};

/// The header row's columns, in order (PROTOCOLS.md §4.1).
pub const CARD_COLUMNS: [&str; 16] = [
    "record_type",
    "settlement_date",
    "payout_id",
    "payout_date",
    "merchant_id",
    "terminal_id",
    "transaction_time",
    "stan",
    "rrn",
    "auth_code",
    "brand",
    "masked_pan",
    "gross_amount",
    "fee_amount",
    "net_amount",
    "original_rrn",
];

/// Index of each column in [`CARD_COLUMNS`].
mod column {
    pub const RECORD_TYPE: usize = 0;
    pub const SETTLEMENT_DATE: usize = 1;
    pub const PAYOUT_ID: usize = 2;
    pub const PAYOUT_DATE: usize = 3;
    pub const MERCHANT_ID: usize = 4;
    pub const TERMINAL_ID: usize = 5;
    pub const TRANSACTION_TIME: usize = 6;
    pub const STAN: usize = 7;
    pub const RRN: usize = 8;
    pub const AUTH_CODE: usize = 9;
    pub const BRAND: usize = 10;
    pub const MASKED_PAN: usize = 11;
    pub const GROSS_AMOUNT: usize = 12;
    pub const FEE_AMOUNT: usize = 13;
    pub const NET_AMOUNT: usize = 14;
    pub const ORIGINAL_RRN: usize = 15;
}

const FORMAT: &str = "card settlement";
const TRAILER: &str = "TOTAL trailer row";
const TRAILER_TYPE: &str = "TOTAL";

/// What a settlement line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardRecordType {
    Sale,
    Refund,
    Chargeback,
    ChargebackReversal,
    /// A correction by the acquirer, of either sign.
    Adjustment,
}

impl CardRecordType {
    pub const ALL: [CardRecordType; 5] = [
        CardRecordType::Sale,
        CardRecordType::Refund,
        CardRecordType::Chargeback,
        CardRecordType::ChargebackReversal,
        CardRecordType::Adjustment,
    ];

    /// The code in the `record_type` column.
    pub fn code(self) -> &'static str {
        match self {
            CardRecordType::Sale => "SALE",
            CardRecordType::Refund => "REFUND",
            CardRecordType::Chargeback => "CHARGEBACK",
            CardRecordType::ChargebackReversal => "CHARGEBACK_REVERSAL",
            CardRecordType::Adjustment => "ADJUSTMENT",
        }
    }

    fn parse(text: &str) -> Result<CardRecordType, &'static str> {
        CardRecordType::ALL
            .into_iter()
            .find(|kind| kind.code() == text)
            .ok_or("is not SALE, REFUND, CHARGEBACK, CHARGEBACK_REVERSAL, ADJUSTMENT or TOTAL")
    }

    /// The sign the gross amount must have, where PROTOCOLS.md fixes one: sales bring money in,
    /// refunds and chargebacks take it out. A chargeback reversal and an adjustment may go
    /// either way, so they are not checked.
    fn gross_sign(self) -> Option<Sign> {
        match self {
            CardRecordType::Sale => Some(Sign::Positive),
            CardRecordType::Refund | CardRecordType::Chargeback => Some(Sign::Negative),
            CardRecordType::ChargebackReversal | CardRecordType::Adjustment => None,
        }
    }
}

/// One settled transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRecord {
    /// The line in the file (1-based), so an exception can point back at it.
    pub line: u64,
    pub record_type: CardRecordType,
    pub settlement_date: NaiveDate,
    pub payout_id: PayoutId,
    pub payout_date: NaiveDate,
    pub merchant_id: MerchantId,
    pub terminal_id: TerminalId,
    /// In JST, as the file gives it (`+09:00`).
    pub transaction_time: DateTime<FixedOffset>,
    pub stan: Stan,
    pub rrn: Rrn,
    /// Empty on lines that had no authorization (refunds, chargebacks).
    pub auth_code: Option<AuthCode>,
    /// Always a card brand (`Method::Card`).
    pub brand: Brand,
    pub masked_pan: MaskedPan,
    pub amount_gross: Yen,
    pub amount_fee: Yen,
    /// Always `amount_gross − amount_fee`; the reader checks it.
    pub amount_net: Yen,
    /// The RRN of the transaction a refund or chargeback refers to.
    pub original_rrn: Option<Rrn>,
}

impl CardRecord {
    /// The business date of the transaction: its calendar day in Tokyo.
    pub fn business_date(&self) -> BusinessDate {
        BusinessDate::new(self.transaction_time.date_naive())
    }
}

/// The `TOTAL` row, after its sums were checked against the lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardTrailer {
    pub line: u64,
    pub settlement_date: NaiveDate,
    pub payout_id: PayoutId,
    pub amount_gross: Yen,
    pub amount_fee: Yen,
    pub amount_net: Yen,
}

/// A whole card settlement file, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSettlement {
    pub records: Vec<CardRecord>,
    pub trailer: CardTrailer,
}

/// Reads a card settlement file in memory, accepting it only if every line and the trailer are
/// good; otherwise every error found.
pub fn read_card_settlement(file_name: &str, bytes: &[u8]) -> Result<CardSettlement, FileRejected> {
    let mut reader = CardSettlementReader::new(file_name, bytes);
    let records = collect_all(&mut reader)?;
    match reader.trailer {
        Some(trailer) => Ok(CardSettlement { records, trailer }),
        // The reader reports a missing trailer as an error, so this is only reached if that
        // rule were broken; refuse rather than return a file without its check.
        None => Err(FileRejected {
            errors: vec![reader.lines.end_error(Reason::MissingTrailer { trailer: TRAILER })],
            truncated: false,
        }),
    }
}

/// Where the reader is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Header,
    Lines,
    Done,
}

/// The payout facts of the file's first line, which every later line must repeat.
#[derive(Debug, Clone)]
struct PayoutFacts {
    line: u64,
    settlement_date: NaiveDate,
    payout_id: PayoutId,
    payout_date: NaiveDate,
}

impl PayoutFacts {
    /// Checks that a later line (or the trailer, which has no payout date) repeats these facts.
    fn check(
        &self,
        row: &Row<'_>,
        settlement_date: NaiveDate,
        payout_id: &PayoutId,
        payout_date: Option<NaiveDate>,
    ) -> Result<(), InputError> {
        let inconsistent = |index: usize, value: String, first_value: String, what: &'static str| {
            row.error(
                index,
                Reason::Inconsistent { field: row.name(index), value, first_value, first_line: self.line, what },
            )
        };
        if settlement_date != self.settlement_date {
            let (value, first_value) = (settlement_date.to_string(), self.settlement_date.to_string());
            return Err(inconsistent(column::SETTLEMENT_DATE, value, first_value, "settlement date"));
        }
        if *payout_id != self.payout_id {
            let (value, first_value) = (shown(payout_id.as_str()), shown(self.payout_id.as_str()));
            return Err(inconsistent(column::PAYOUT_ID, value, first_value, "payout"));
        }
        match payout_date {
            Some(date) if date != self.payout_date => {
                let (value, first_value) = (date.to_string(), self.payout_date.to_string());
                Err(inconsistent(column::PAYOUT_DATE, value, first_value, "payout date"))
            }
            _ => Ok(()),
        }
    }
}

/// Running sums of the lines read so far.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    gross: Yen,
    fee: Yen,
    net: Yen,
}

/// Everything the reader keeps besides the line source, apart so that a borrowed line can be
/// checked against it.
#[derive(Debug, Default)]
struct State {
    payout: Option<PayoutFacts>,
    sums: Sums,
    /// Lines that failed: the trailer's sums are not compared when some lines were not counted,
    /// since the file is rejected for those lines already.
    lines_rejected: u64,
    /// Errors found together (a trailer can be wrong in several ways at once), handed out one
    /// by one.
    pending: VecDeque<InputError>,
}

/// Streams the lines of a card settlement file. See the module documentation for the contract.
pub struct CardSettlementReader<R> {
    lines: DelimitedLines<R>,
    phase: Phase,
    state: State,
    trailer: Option<CardTrailer>,
}

impl<R: BufRead> CardSettlementReader<R> {
    pub fn new(file_name: &str, reader: R) -> CardSettlementReader<R> {
        CardSettlementReader {
            lines: DelimitedLines::new(file_name.to_string(), reader, TextEncoding::Utf8, &CARD_COLUMNS),
            phase: Phase::Header,
            state: State::default(),
            trailer: None,
        }
    }

    /// The checked trailer, once the iterator has ended without errors.
    pub fn trailer(&self) -> Option<&CardTrailer> {
        self.trailer.as_ref()
    }

    fn read_header(&mut self) -> Result<(), InputError> {
        if !self.lines.read_line()? {
            return Err(self.lines.end_error(Reason::Empty { expected: "the header row" }));
        }
        if self.lines.raw_line().starts_with(UTF8_BYTE_ORDER_MARK) {
            return Err(self.lines.line_error(Reason::UnexpectedByteOrderMark { format: FORMAT }));
        }
        self.lines.split(0)?.check_header()
    }

    fn next_line(&mut self) -> Option<Result<CardRecord, InputError>> {
        match self.lines.read_line() {
            Err(error) => {
                self.phase = Phase::Done;
                Some(Err(error))
            }
            Ok(false) => {
                self.phase = Phase::Done;
                Some(Err(self.lines.end_error(Reason::MissingTrailer { trailer: TRAILER })))
            }
            Ok(true) => {
                let row = match self.lines.split(0) {
                    Ok(row) => row,
                    Err(error) => {
                        self.state.lines_rejected += 1;
                        return Some(Err(error));
                    }
                };
                if row.bytes(column::RECORD_TYPE) == TRAILER_TYPE.as_bytes() {
                    let trailer = self.state.check_trailer(&row);
                    self.phase = Phase::Done;
                    self.finish(trailer);
                    return self.state.pending.pop_front().map(Err);
                }
                let record = parse_line(&row).and_then(|record| self.state.accept(record, &row));
                if record.is_err() {
                    self.state.lines_rejected += 1;
                }
                Some(record)
            }
        }
    }

    /// After the trailer: nothing may follow it, and its sums must be the lines'.
    fn finish(&mut self, trailer: Result<CardTrailer, InputError>) {
        match self.lines.read_line() {
            Ok(false) => {}
            Ok(true) => self.state.pending.push_back(self.lines.line_error(Reason::AfterEnd { trailer: TRAILER })),
            Err(error) => self.state.pending.push_back(error),
        }
        match trailer {
            Ok(trailer) if self.state.pending.is_empty() => self.trailer = Some(trailer),
            Ok(_) => {}
            Err(error) => self.state.pending.push_front(error),
        }
    }
}

impl<R: BufRead> Iterator for CardSettlementReader<R> {
    type Item = Result<CardRecord, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(error) = self.state.pending.pop_front() {
            return Some(Err(error));
        }
        match self.phase {
            Phase::Done => None,
            Phase::Header => {
                if let Err(error) = self.read_header() {
                    self.phase = Phase::Done;
                    return Some(Err(error));
                }
                self.phase = Phase::Lines;
                self.next_line()
            }
            Phase::Lines => self.next_line(),
        }
    }
}

impl<R: BufRead> FusedIterator for CardSettlementReader<R> {}

impl State {
    /// Checks a parsed line against the file's payout and adds it to the sums.
    fn accept(&mut self, record: CardRecord, row: &Row<'_>) -> Result<CardRecord, InputError> {
        match &self.payout {
            None => {
                self.payout = Some(PayoutFacts {
                    line: record.line,
                    settlement_date: record.settlement_date,
                    payout_id: record.payout_id.clone(),
                    payout_date: record.payout_date,
                });
            }
            Some(first) => first.check(row, record.settlement_date, &record.payout_id, Some(record.payout_date))?,
        }
        let overflow = |_| row.error(column::GROSS_AMOUNT, Reason::Overflow { what: "sum of the lines" });
        self.sums = Sums {
            gross: self.sums.gross.checked_add(record.amount_gross).map_err(overflow)?,
            fee: self.sums.fee.checked_add(record.amount_fee).map_err(overflow)?,
            net: self.sums.net.checked_add(record.amount_net).map_err(overflow)?,
        };
        Ok(record)
    }

    /// Parses the trailer and compares it with the lines. Sum mismatches go to `pending`.
    fn check_trailer(&mut self, row: &Row<'_>) -> Result<CardTrailer, InputError> {
        row.expect_columns()?;
        let settlement_date = row.parse(column::SETTLEMENT_DATE, field::date_dashed)?;
        let payout_id = row.parse(column::PAYOUT_ID, PayoutId::parse)?;
        for index in column::PAYOUT_DATE..=column::MASKED_PAN {
            row.expect_empty(index)?;
        }
        row.expect_empty(column::ORIGINAL_RRN)?;
        let amount_gross = row.parse(column::GROSS_AMOUNT, field::yen)?;
        let amount_fee = row.parse(column::FEE_AMOUNT, field::yen)?;
        let amount_net = row.parse(column::NET_AMOUNT, field::yen)?;
        if let Some(first) = &self.payout {
            first.check(row, settlement_date, &payout_id, None)?;
        }
        if self.lines_rejected == 0 {
            let comparisons = [
                (column::GROSS_AMOUNT, amount_gross, self.sums.gross),
                (column::FEE_AMOUNT, amount_fee, self.sums.fee),
                (column::NET_AMOUNT, amount_net, self.sums.net),
            ];
            for (index, stated, computed) in comparisons {
                if stated != computed {
                    self.pending.push_back(row.error(
                        index,
                        Reason::TotalMismatch {
                            field: row.name(index),
                            trailer: TRAILER,
                            stated: stated.get(),
                            computed: computed.get(),
                            items: "lines",
                        },
                    ));
                }
            }
        }
        Ok(CardTrailer { line: row.line(), settlement_date, payout_id, amount_gross, amount_fee, amount_net })
    }
}

/// Parses one transaction line on its own, field by field in column order so that the error
/// reported is the leftmost.
fn parse_line(row: &Row<'_>) -> Result<CardRecord, InputError> {
    let record_type = row.parse(column::RECORD_TYPE, CardRecordType::parse)?;
    row.expect_columns()?;
    let settlement_date = row.parse(column::SETTLEMENT_DATE, field::date_dashed)?;
    let payout_id = row.parse(column::PAYOUT_ID, PayoutId::parse)?;
    let payout_date = row.parse(column::PAYOUT_DATE, field::date_dashed)?;
    let merchant_id = row.parse(column::MERCHANT_ID, MerchantId::parse)?;
    let terminal_id =
        row.parse(column::TERMINAL_ID, |text| TerminalId::parse(text).map_err(|_| "is not 8 letters or digits"))?;
    let transaction_time = row.parse(column::TRANSACTION_TIME, field::timestamp_jst_offset)?;
    let stan = row.parse(column::STAN, Stan::parse)?;
    let rrn = row.parse(column::RRN, Rrn::parse)?;
    let auth_code = row.parse_optional(column::AUTH_CODE, AuthCode::parse)?;
    let brand = row.parse(column::BRAND, card_brand)?;
    let masked_pan = parse_masked_pan(row)?;
    let amount_gross = row.parse(column::GROSS_AMOUNT, field::yen)?;
    let amount_fee = row.parse(column::FEE_AMOUNT, field::yen)?;
    let amount_net = row.parse(column::NET_AMOUNT, field::yen)?;
    let original_rrn = row.parse_optional(column::ORIGINAL_RRN, Rrn::parse)?;
    if let Some(sign) = record_type.gross_sign() {
        row.check_sign(column::GROSS_AMOUNT, amount_gross, sign, record_type.code())?;
    }
    row.check_net(
        [column::GROSS_AMOUNT, column::FEE_AMOUNT, column::NET_AMOUNT],
        [amount_gross, amount_fee, amount_net],
    )?;
    Ok(CardRecord {
        line: row.line(),
        record_type,
        settlement_date,
        payout_id,
        payout_date,
        merchant_id,
        terminal_id,
        transaction_time,
        stan,
        rrn,
        auth_code,
        brand,
        masked_pan,
        amount_gross,
        amount_fee,
        amount_net,
        original_rrn,
    })
}

/// The masked card number. Its value never goes into a message, whatever is wrong with it:
/// a full card number in this column is exactly what must not spread further.
fn parse_masked_pan(row: &Row<'_>) -> Result<MaskedPan, InputError> {
    let unmasked = |problem: String| {
        row.error(column::MASKED_PAN, Reason::Unmasked { field: row.name(column::MASKED_PAN), problem })
    };
    let text = row.text(column::MASKED_PAN).map_err(|_| unmasked("it is not valid UTF-8".to_string()))?;
    MaskedPan::parse_masked(&text).map_err(|error| unmasked(error.to_string()))
}

/// A card brand by its wire code (PROTOCOLS.md §1).
fn card_brand(text: &str) -> Result<Brand, &'static str> {
    let brand: Brand = text.parse().map_err(|_| "is not a known brand code")?;
    if brand.method() != Method::Card {
        return Err("is not a card brand (VISA, MC, JCB, AMEX, UPI)");
    }
    Ok(brand)
}
