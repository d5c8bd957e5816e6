//! The bank statement: 全銀協 入出金取引明細, 種別コード 03 (protocols/zengin-statement.md).
//!
//! Fixed-length records of 200 bytes, each followed by CRLF or all in one unbroken stream (the
//! first record decides which, and every record must then follow suit). Per account: a header
//! (データ区分 1), its data records (2) and a trailer (8); then one end record (9) for the file.
//! Characters are JIS8, decoded as Shift_JIS so half-width katakana come out as the same
//! half-width characters (`ｶ)ｻﾝﾌﾟﾙｶｰﾄﾞ`). Dates are 和暦 YYMMDD by default ([`DateStyle`]).
//!
//! [`BankStatementReader`] yields headers, entries and trailers one by one, checks each
//! trailer against the entries before it (counts, sums, and 取引前残高 + 入金 − 出金 = 取引後残高),
//! and the end record against the whole file. A bad data record is reported and reading goes
//! on; a bad header, trailer or framing ends reading, since what follows cannot be placed. Errors
//! name the byte offset, record number and column. [`read_bank_statement`] reads a file in
//! memory and groups it by account.

mod era_date;
mod record;

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};
use std::iter::FusedIterator;

use chrono::NaiveDate;
use pos_core::Yen;

pub use era_date::DateStyle;
pub use record::RECORD_BYTES;

use super::error::{collect_all, FileRejected, InputError, Location, Reason};
use record::Record;

/// How to read a bank's statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BankReadOptions {
    /// The day the file is read, which decides the era of 和暦 dates. Handed in by the caller
    /// from its clock, never read from the system here.
    pub read_on: NaiveDate,
    /// The bank's setting: 和暦 (the default) or Gregorian years.
    pub date_style: DateStyle,
}

impl BankReadOptions {
    /// 和暦 dates, read on `read_on`.
    pub fn new(read_on: NaiveDate) -> BankReadOptions {
        BankReadOptions { read_on, date_style: DateStyle::Wareki }
    }
}

/// 預金種目: the kind of account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountType {
    /// 1 普通
    Ordinary,
    /// 2 当座
    Current,
    /// 4 貯蓄
    Savings,
    /// 9 その他
    Other,
}

impl AccountType {
    fn from_code(code: &str) -> Option<AccountType> {
        match code {
            "1" => Some(AccountType::Ordinary),
            "2" => Some(AccountType::Current),
            "4" => Some(AccountType::Savings),
            "9" => Some(AccountType::Other),
            _ => None,
        }
    }
}

/// Which account a statement is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountKey {
    /// 銀行コード, four digits.
    pub bank_code: String,
    /// 支店コード, three digits.
    pub branch_code: String,
    pub account_type: AccountType,
    /// 口座番号, ten digits as the file has them (zero-filled).
    pub account_number: String,
}

/// 入払区分: money in or out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// 1 入金
    Credit,
    /// 2 出金
    Debit,
}

/// 取引区分: how the money moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BankTransactionKind {
    /// 10 現金
    Cash,
    /// 11 振込
    Transfer,
    /// 12 他店券入金
    OtherBankCheque,
    /// 13 交換
    Clearing,
    /// 14 振替
    AccountTransfer,
    /// 18 その他 (bank charges among them)
    Other,
    /// 19 訂正: reverses an earlier line of the account (same amount, opposite direction).
    /// Kept as a line of its own; the line it corrects is never edited.
    Correction,
}

impl BankTransactionKind {
    pub const ALL: [BankTransactionKind; 7] = [
        BankTransactionKind::Cash,
        BankTransactionKind::Transfer,
        BankTransactionKind::OtherBankCheque,
        BankTransactionKind::Clearing,
        BankTransactionKind::AccountTransfer,
        BankTransactionKind::Other,
        BankTransactionKind::Correction,
    ];

    /// The two-digit code in the file.
    pub fn code(self) -> &'static str {
        match self {
            BankTransactionKind::Cash => "10",
            BankTransactionKind::Transfer => "11",
            BankTransactionKind::OtherBankCheque => "12",
            BankTransactionKind::Clearing => "13",
            BankTransactionKind::AccountTransfer => "14",
            BankTransactionKind::Other => "18",
            BankTransactionKind::Correction => "19",
        }
    }

    pub fn name_ja(self) -> &'static str {
        match self {
            BankTransactionKind::Cash => "現金",
            BankTransactionKind::Transfer => "振込",
            BankTransactionKind::OtherBankCheque => "他店券入金",
            BankTransactionKind::Clearing => "交換",
            BankTransactionKind::AccountTransfer => "振替",
            BankTransactionKind::Other => "その他",
            BankTransactionKind::Correction => "訂正",
        }
    }
}

/// The header record of one account's statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountHeader {
    pub record_number: u64,
    /// 作成日
    pub created_on: NaiveDate,
    /// 勘定日（自）
    pub booking_date_first: NaiveDate,
    /// 勘定日（至）
    pub booking_date_last: NaiveDate,
    pub account: AccountKey,
    /// 銀行名, in half-width kana.
    pub bank_name: String,
    /// 支店名
    pub branch_name: String,
    /// 口座名
    pub account_name: String,
    /// 通帳・証書区分, when given.
    pub passbook_code: Option<String>,
    /// 取引前残高, negative when 貸越区分 says the account was overdrawn.
    pub balance_opening: Yen,
}

/// One movement on the account (a data record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementEntry {
    /// The statement file's name, as the reader was given it.
    pub file: String,
    pub record_number: u64,
    pub account: AccountKey,
    /// 照会番号: the bank's reference, unique within the account and the statement's dates.
    pub reference: String,
    /// 勘定日
    pub booking_date: NaiveDate,
    /// 預入・払出日, when given.
    pub value_date: Option<NaiveDate>,
    pub direction: Direction,
    pub kind: BankTransactionKind,
    /// 取引金額, unsigned; [`StatementEntry::amount_signed`] applies the direction.
    pub amount: Yen,
    /// うち他店券金額
    pub amount_other_bank_cheques: Option<Yen>,
    /// 交換呈示日
    pub clearing_presented_on: Option<NaiveDate>,
    /// 不渡返還日
    pub dishonoured_returned_on: Option<NaiveDate>,
    /// 手形・小切手区分
    pub cheque_kind: Option<String>,
    /// 手形・小切手番号
    pub cheque_number: Option<String>,
    /// 僚店番号
    pub sister_branch_code: Option<String>,
    /// 振込依頼人コード
    pub payer_code: Option<String>,
    /// 振込依頼人名: the payer, in half-width kana, trailing spaces trimmed.
    pub payer_name: String,
    /// 仕向銀行名
    pub remitting_bank_name: String,
    /// 仕向店名
    pub remitting_branch_name: String,
    /// 摘要内容: some acquirers put the payout id here.
    pub description: String,
    /// EDI情報: or here.
    pub edi_information: String,
}

impl StatementEntry {
    /// The amount as it moves the balance: positive for a credit, negative for a debit.
    pub fn amount_signed(&self) -> Yen {
        match self.direction {
            Direction::Credit => self.amount,
            Direction::Debit => self.amount.checked_neg(),
        }
    }
}

/// The trailer record of one account, after its checks passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTrailer {
    pub record_number: u64,
    /// 入金件数
    pub credits_count: u64,
    /// 入金額合計
    pub credits_total: Yen,
    /// 出金件数
    pub debits_count: u64,
    /// 出金額合計
    pub debits_total: Yen,
    /// 取引後残高, negative when overdrawn.
    pub balance_closing: Yen,
    /// データ件数
    pub data_records_count: u64,
}

/// What the reader yields, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementRecord {
    Header(AccountHeader),
    Entry(StatementEntry),
    Trailer(AccountTrailer),
}

/// One account's part of a statement file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountStatement {
    pub header: AccountHeader,
    pub entries: Vec<StatementEntry>,
    pub trailer: AccountTrailer,
}

/// A whole statement file, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankStatement {
    pub accounts: Vec<AccountStatement>,
}

/// Reads a statement file in memory, accepting it only if all of it is good.
pub fn read_bank_statement(
    file_name: &str,
    bytes: &[u8],
    options: BankReadOptions,
) -> Result<BankStatement, FileRejected> {
    let records = collect_all(BankStatementReader::new(file_name, bytes, options))?;
    let mut accounts = Vec::new();
    let mut open: Option<(AccountHeader, Vec<StatementEntry>)> = None;
    for record in records {
        match (record, open.take()) {
            (StatementRecord::Header(header), None) => open = Some((header, Vec::new())),
            (StatementRecord::Entry(entry), Some((header, mut entries))) => {
                entries.push(entry);
                open = Some((header, entries));
            }
            (StatementRecord::Trailer(trailer), Some((header, entries))) => {
                accounts.push(AccountStatement { header, entries, trailer });
            }
            // The reader refuses records out of order, so this is only reached if that rule
            // were broken; refuse the file rather than drop a record.
            (_, _) => {
                let error = InputError::new(
                    file_name,
                    Location::File,
                    Reason::RecordOrder { found: "a record out of order", expected: "header, data, trailer" },
                );
                return Err(FileRejected { errors: vec![error], truncated: false });
            }
        }
    }
    Ok(BankStatement { accounts })
}

/// How records are separated, learnt from the first record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Unknown,
    Crlf,
    Unbroken,
}

/// Running totals of the account being read.
#[derive(Debug, Clone)]
struct AccountProgress {
    account: AccountKey,
    booking_date_first: NaiveDate,
    booking_date_last: NaiveDate,
    balance_opening: Yen,
    credits_count: u64,
    credits_total: Yen,
    debits_count: u64,
    debits_total: Yen,
    /// Data records that failed: the trailer's figures are not compared when some records
    /// were not counted, since the file is rejected for those already.
    entries_rejected: u64,
}

/// Where the reader is in the file.
#[derive(Debug, Clone)]
enum Phase {
    /// Before the first header.
    Start,
    /// Between an account's header and its trailer.
    Account(Box<AccountProgress>),
    /// After a trailer: another header or the end record comes next.
    BetweenAccounts,
    Done,
}

/// Streams a statement file. See the module documentation for what it checks.
pub struct BankStatementReader<R> {
    reader: R,
    file: String,
    options: BankReadOptions,
    framing: Framing,
    /// Bytes consumed so far: the offset of the next byte.
    offset: u64,
    records_read: u64,
    accounts_read: u64,
    phase: Phase,
    buffer: [u8; RECORD_BYTES],
    /// Errors found together (a trailer can disagree in several figures), handed out one by one.
    pending: VecDeque<InputError>,
}

const END_RECORD: &str = "end record (データ区分 9)";

impl<R: BufRead> BankStatementReader<R> {
    pub fn new(file_name: &str, reader: R, options: BankReadOptions) -> BankStatementReader<R> {
        BankStatementReader {
            reader,
            file: file_name.to_string(),
            options,
            framing: Framing::Unknown,
            offset: 0,
            records_read: 0,
            accounts_read: 0,
            phase: Phase::Start,
            buffer: [b' '; RECORD_BYTES],
            pending: VecDeque::new(),
        }
    }

    /// An error at the current position, outside any whole record.
    fn error_here(&self, record: u64, column: usize, reason: Reason) -> InputError {
        InputError::new(&self.file, Location::Byte { offset: self.offset, record, column }, reason)
    }

    fn io_error(&self, error: &io::Error) -> InputError {
        self.error_here(self.records_read + 1, 1, Reason::Io { message: error.to_string() })
    }

    /// Reads the separator after the previous record, as the framing requires.
    fn read_separator(&mut self) -> Result<(), InputError> {
        if self.framing == Framing::Unknown {
            // In an unbroken file the next byte starts a record (a digit), never a CR.
            let next = match self.reader.fill_buf() {
                Ok(next) => next.first().copied(),
                Err(error) => return Err(self.io_error(&error)),
            };
            self.framing = match next {
                Some(b'\r' | b'\n') => Framing::Crlf,
                Some(_) => Framing::Unbroken,
                None => return Ok(()),
            };
        }
        if self.framing == Framing::Unbroken {
            return Ok(());
        }
        let mut separator = [0u8; 2];
        let count = read_full(&mut self.reader, &mut separator).map_err(|error| self.io_error(&error))?;
        if separator[..count] == *b"\r\n" {
            self.offset += 2;
            return Ok(());
        }
        let found = match count {
            0 => "the end of the file".to_string(),
            _ => format!(
                "bytes {}",
                separator[..count].iter().map(|byte| format!("{byte:02X}")).collect::<Vec<_>>().join(" ")
            ),
        };
        Err(self.error_here(self.records_read, RECORD_BYTES + 1, Reason::MissingRecordBreak { found }))
    }

    /// Reads the next record into the buffer. `Ok(None)` at the end of the file; otherwise the
    /// record's offset.
    fn read_record(&mut self) -> Result<Option<u64>, InputError> {
        if self.records_read > 0 {
            self.read_separator()?;
        }
        let count = read_full(&mut self.reader, &mut self.buffer).map_err(|error| self.io_error(&error))?;
        if count == 0 {
            return Ok(None);
        }
        self.records_read += 1;
        let offset = self.offset;
        if count < RECORD_BYTES {
            return Err(self.error_here(
                self.records_read,
                1,
                Reason::RecordTooShort { bytes: count, expected: RECORD_BYTES },
            ));
        }
        self.offset += RECORD_BYTES as u64;
        Ok(Some(offset))
    }

    fn next_item(&mut self) -> Option<Result<StatementRecord, InputError>> {
        let offset = match self.read_record() {
            Err(error) => return self.stop(error),
            Ok(None) => {
                let reason = if self.records_read == 0 {
                    Reason::Empty { expected: "a header record (データ区分 1)" }
                } else {
                    Reason::MissingTrailer { trailer: END_RECORD }
                };
                let error = self.error_here(self.records_read + 1, 1, reason);
                return self.stop(error);
            }
            Ok(Some(offset)) => offset,
        };
        let record = Record {
            bytes: &self.buffer,
            file: &self.file,
            offset,
            number: self.records_read,
            date_style: self.options.date_style,
            read_on: self.options.read_on,
        };
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        match (record.bytes[0], phase) {
            (b'1', Phase::Start | Phase::BetweenAccounts) => match parse_header(&record) {
                Ok(header) => {
                    self.accounts_read += 1;
                    self.phase = Phase::Account(Box::new(AccountProgress::new(&header)));
                    Some(Ok(StatementRecord::Header(header)))
                }
                Err(error) => self.stop(error),
            },
            (b'2', Phase::Account(mut progress)) => {
                let entry = parse_entry(&self.file, &record, &progress.account)
                    .and_then(|entry| progress.count(&record, entry));
                if entry.is_err() {
                    progress.entries_rejected += 1;
                }
                self.phase = Phase::Account(progress);
                Some(entry.map(StatementRecord::Entry))
            }
            (b'8', Phase::Account(progress)) => match progress.check_trailer(&record) {
                Ok((trailer, mismatches)) => {
                    self.phase = Phase::BetweenAccounts;
                    if mismatches.is_empty() {
                        Some(Ok(StatementRecord::Trailer(trailer)))
                    } else {
                        self.pending.extend(mismatches);
                        self.pending.pop_front().map(Err)
                    }
                }
                Err(error) => self.stop(error),
            },
            (b'9', Phase::BetweenAccounts) => {
                let result = check_end(&record, self.accounts_read);
                self.finish(result)
            }
            (kind @ (b'1' | b'2' | b'8' | b'9'), phase) => {
                let error =
                    record.error(1, Reason::RecordOrder { found: record_name(kind), expected: phase.expects() });
                self.stop(error)
            }
            (_, _) => {
                let value = encoding_rs::SHIFT_JIS.decode(&record.bytes[..1]).0.to_string();
                let problem = "is not 1 (header), 2 (data), 8 (trailer) or 9 (end)";
                let error = record.error(1, Reason::InvalidValue { field: "データ区分", value, problem });
                self.stop(error)
            }
        }
    }

    /// After the end record: nothing may follow it but its own line break.
    fn finish(&mut self, end: Result<(), InputError>) -> Option<Result<StatementRecord, InputError>> {
        self.phase = Phase::Done;
        if let Err(error) = end {
            return Some(Err(error));
        }
        if let Err(error) = self.read_separator() {
            return Some(Err(error));
        }
        match self.reader.fill_buf() {
            Ok([]) => None,
            Ok(_) => Some(Err(self.error_here(self.records_read + 1, 1, Reason::AfterEnd { trailer: END_RECORD }))),
            Err(error) => Some(Err(self.io_error(&error))),
        }
    }

    fn stop(&mut self, error: InputError) -> Option<Result<StatementRecord, InputError>> {
        self.phase = Phase::Done;
        Some(Err(error))
    }
}

impl<R: BufRead> Iterator for BankStatementReader<R> {
    type Item = Result<StatementRecord, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(error) = self.pending.pop_front() {
            return Some(Err(error));
        }
        if matches!(self.phase, Phase::Done) {
            return None;
        }
        self.next_item()
    }
}

impl<R: BufRead> FusedIterator for BankStatementReader<R> {}

/// Fills `buffer` as far as the reader allows; fewer bytes only at the end of the file.
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(count) => filled += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

fn record_name(kind: u8) -> &'static str {
    match kind {
        b'1' => "a header record (データ区分 1)",
        b'2' => "a data record (データ区分 2)",
        b'8' => "a trailer record (データ区分 8)",
        _ => "an end record (データ区分 9)",
    }
}

impl Phase {
    fn expects(&self) -> &'static str {
        match self {
            Phase::Start => "a header record (データ区分 1)",
            Phase::Account(_) => "a data or trailer record (データ区分 2 or 8)",
            Phase::BetweenAccounts | Phase::Done => "a header or end record (データ区分 1 or 9)",
        }
    }
}

/// A balance with its 貸越区分: `2` is overdrawn (negative); `1` is a positive balance, and `0`,
/// which the example file and some banks write, is read the same way.
fn signed_balance(
    record: &Record<'_>,
    sign_column: usize,
    column: usize,
    field: &'static str,
) -> Result<Yen, InputError> {
    let problem = "is not 0 or 1 (balance), or 2 (overdrawn)";
    let sign = record.code(sign_column, 1, "貸越区分", &["0", "1", "2"], problem)?;
    let balance = record.amount(column, 14, field)?;
    Ok(if sign == "2" { balance.checked_neg() } else { balance })
}

fn parse_header(record: &Record<'_>) -> Result<AccountHeader, InputError> {
    let kind = record.digits(2, 2, "種別コード")?;
    if kind != "03" {
        let problem = "is not 03 (入出金取引明細); 01 is 振込入金通知, which is not read here";
        return Err(record.error(2, Reason::InvalidValue { field: "種別コード", value: kind.to_string(), problem }));
    }
    record.code(4, 1, "コード区分", &["0"], "is not 0 (JIS); EBCDIC (1) is not accepted")?;
    let created_on = record.date(5, "作成日")?;
    let booking_date_first = record.date(11, "勘定日（自）")?;
    let booking_date_last = record.date(17, "勘定日（至）")?;
    if booking_date_last < booking_date_first {
        let value = booking_date_last.to_string();
        let problem = "is before 勘定日（自）";
        return Err(record.error(17, Reason::InvalidValue { field: "勘定日（至）", value, problem }));
    }
    let bank_code = record.digits(23, 4, "銀行コード")?.to_string();
    let bank_name = record.text(27, 15, "銀行名")?;
    let branch_code = record.digits(42, 3, "支店コード")?.to_string();
    let branch_name = record.text(45, 15, "支店名")?;
    if let Some(filler) = record.optional_digits(60, 3, "ダミー")? {
        if filler != "000" {
            let problem = "is not 000";
            return Err(record.error(60, Reason::InvalidValue { field: "ダミー", value: filler.to_string(), problem }));
        }
    }
    let account_type_code = record.code(63, 1, "預金種目", &["1", "2", "4", "9"], "is not 1, 2, 4 or 9")?;
    let account_type = AccountType::from_code(account_type_code).unwrap_or(AccountType::Other);
    let account_number = record.digits(64, 10, "口座番号")?.to_string();
    let account_name = record.text(74, 40, "口座名")?;
    let balance_opening = signed_balance(record, 114, 116, "取引前残高")?;
    let passbook_code = record.optional_digits(115, 1, "通帳・証書区分")?.map(str::to_string);
    record.blank(130, 71, "ダミー")?;
    Ok(AccountHeader {
        record_number: record.number,
        created_on,
        booking_date_first,
        booking_date_last,
        account: AccountKey { bank_code, branch_code, account_type, account_number },
        bank_name,
        branch_name,
        account_name,
        passbook_code,
        balance_opening,
    })
}

fn parse_entry(file: &str, record: &Record<'_>, account: &AccountKey) -> Result<StatementEntry, InputError> {
    let reference = record.digits(2, 8, "照会番号")?.to_string();
    let booking_date = record.date(10, "勘定日")?;
    let value_date = record.optional_date(16, "預入・払出日")?;
    let direction = match record.code(22, 1, "入払区分", &["1", "2"], "is not 1 (入金) or 2 (出金)")? {
        "1" => Direction::Credit,
        _ => Direction::Debit,
    };
    let kind_code = record.digits(23, 2, "取引区分")?;
    let kind = BankTransactionKind::ALL.into_iter().find(|kind| kind.code() == kind_code).ok_or_else(|| {
        let problem = "is not 10, 11, 12, 13, 14, 18 or 19";
        record.error(23, Reason::InvalidValue { field: "取引区分", value: kind_code.to_string(), problem })
    })?;
    let amount = record.amount(25, 12, "取引金額")?;
    let amount_other_bank_cheques = record.optional_amount(37, 12, "うち他店券金額")?;
    let clearing_presented_on = record.optional_date(49, "交換呈示日")?;
    let dishonoured_returned_on = record.optional_date(55, "不渡返還日")?;
    let cheque_kind = record.optional_digits(61, 1, "手形・小切手区分")?.map(str::to_string);
    let cheque_number = record.optional_digits(62, 7, "手形・小切手番号")?.map(str::to_string);
    let sister_branch_code = record.optional_digits(69, 3, "僚店番号")?.map(str::to_string);
    let payer_code = record.optional_digits(72, 10, "振込依頼人コード")?.map(str::to_string);
    let payer_name = record.text(82, 48, "振込依頼人名")?;
    let remitting_bank_name = record.text(130, 15, "仕向銀行名")?;
    let remitting_branch_name = record.text(145, 15, "仕向店名")?;
    let description = record.text(160, 20, "摘要内容")?;
    let edi_information = record.text(180, 20, "EDI情報")?;
    record.blank(200, 1, "ダミー")?;
    Ok(StatementEntry {
        file: file.to_string(),
        record_number: record.number,
        account: account.clone(),
        reference,
        booking_date,
        value_date,
        direction,
        kind,
        amount,
        amount_other_bank_cheques,
        clearing_presented_on,
        dishonoured_returned_on,
        cheque_kind,
        cheque_number,
        sister_branch_code,
        payer_code,
        payer_name,
        remitting_bank_name,
        remitting_branch_name,
        description,
        edi_information,
    })
}

impl AccountProgress {
    fn new(header: &AccountHeader) -> AccountProgress {
        AccountProgress {
            account: header.account.clone(),
            booking_date_first: header.booking_date_first,
            booking_date_last: header.booking_date_last,
            balance_opening: header.balance_opening,
            credits_count: 0,
            credits_total: Yen::ZERO,
            debits_count: 0,
            debits_total: Yen::ZERO,
            entries_rejected: 0,
        }
    }

    /// Checks an entry against the header's dates and adds it to the totals.
    fn count(&mut self, record: &Record<'_>, entry: StatementEntry) -> Result<StatementEntry, InputError> {
        if !(self.booking_date_first..=self.booking_date_last).contains(&entry.booking_date) {
            return Err(record.error(
                10,
                Reason::OutsideBookingDates {
                    field: "勘定日",
                    value: entry.booking_date,
                    first: self.booking_date_first,
                    last: self.booking_date_last,
                },
            ));
        }
        let overflow = |_| record.error(25, Reason::Overflow { what: "sum of 取引金額" });
        match entry.direction {
            Direction::Credit => {
                self.credits_total = self.credits_total.checked_add(entry.amount).map_err(overflow)?;
                self.credits_count += 1;
            }
            Direction::Debit => {
                self.debits_total = self.debits_total.checked_add(entry.amount).map_err(overflow)?;
                self.debits_count += 1;
            }
        }
        Ok(entry)
    }

    /// Parses the trailer; returns it with every figure that disagrees with the entries.
    fn check_trailer(&self, record: &Record<'_>) -> Result<(AccountTrailer, Vec<InputError>), InputError> {
        let trailer = AccountTrailer {
            record_number: record.number,
            credits_count: record.count(2, 6, "入金件数")?,
            credits_total: record.amount(8, 13, "入金額合計")?,
            debits_count: record.count(21, 6, "出金件数")?,
            debits_total: record.amount(27, 13, "出金額合計")?,
            balance_closing: signed_balance(record, 40, 41, "取引後残高")?,
            data_records_count: record.count(55, 7, "データ件数")?,
        };
        record.blank(62, 139, "ダミー")?;
        let mut mismatches = Vec::new();
        if self.entries_rejected > 0 {
            return Ok((trailer, mismatches));
        }
        let mut compare = |column: usize, field: &'static str, stated: i64, computed: i64| {
            if stated != computed {
                let trailer = "trailer";
                let items = "data records";
                mismatches
                    .push(record.error(column, Reason::TotalMismatch { field, trailer, stated, computed, items }));
            }
        };
        let as_signed = |count: u64| i64::try_from(count).unwrap_or(i64::MAX);
        compare(2, "入金件数", as_signed(trailer.credits_count), as_signed(self.credits_count));
        compare(8, "入金額合計", trailer.credits_total.get(), self.credits_total.get());
        compare(21, "出金件数", as_signed(trailer.debits_count), as_signed(self.debits_count));
        compare(27, "出金額合計", trailer.debits_total.get(), self.debits_total.get());
        let records = self.credits_count + self.debits_count;
        compare(55, "データ件数", as_signed(trailer.data_records_count), as_signed(records));
        // The balance is checked against what the entries moved, so it holds even when a
        // total above was also misstated.
        let expected = self
            .balance_opening
            .checked_add(self.credits_total)
            .and_then(|balance| balance.checked_sub(self.debits_total))
            .map_err(|_| record.error(41, Reason::Overflow { what: "balance" }))?;
        if expected != trailer.balance_closing {
            mismatches.push(record.error(
                41,
                Reason::BalanceMismatch {
                    opening: self.balance_opening.get(),
                    credits: self.credits_total.get(),
                    debits: self.debits_total.get(),
                    expected: expected.get(),
                    closing: trailer.balance_closing.get(),
                },
            ));
        }
        Ok((trailer, mismatches))
    }
}

/// Checks the end record's counts: every record including itself, and the accounts.
fn check_end(record: &Record<'_>, accounts_read: u64) -> Result<(), InputError> {
    let records_stated = record.count(2, 10, "レコード総件数")?;
    let accounts_stated = record.count(12, 5, "口座数")?;
    record.blank(17, 184, "ダミー")?;
    let as_signed = |count: u64| i64::try_from(count).unwrap_or(i64::MAX);
    let mismatch = |column: usize, field: &'static str, stated: u64, computed: u64| {
        let (stated, computed) = (as_signed(stated), as_signed(computed));
        record.error(column, Reason::TotalMismatch { field, trailer: END_RECORD, stated, computed, items: "records" })
    };
    if records_stated != record.number {
        return Err(mismatch(2, "レコード総件数", records_stated, record.number));
    }
    if accounts_stated != accounts_read {
        return Err(mismatch(12, "口座数", accounts_stated, accounts_read));
    }
    Ok(())
}
