//! A simulated bank: the 全銀協 入出金取引明細 file (種別コード 03) of one or more accounts, as
//! `docs/protocols.md` §4.4 lays it out, written from the movements it is given.
//!
//! The demo hands it the acquirers' payouts and the facilities' cash deposits and gets the
//! statement the treasury's bank would deliver; the reconciler reads it like any bank's file.
//! Records are 200 bytes of JIS8 (printable ASCII and half-width katakana, Shift_JIS single
//! bytes), each followed by CRLF; dates are 和暦 YYMMDD (令和, or 平成 before 2019-05-01);
//! numbers zero-filled, texts space-filled. The trailer's counts, sums and closing balance are
//! computed here, so a statement is always internally consistent; a text that is not JIS8 or does
//! not fit its field is refused with the field named, never cut.

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use pos_core::Yen;

/// Every record is this many bytes, CRLF not counted.
pub const RECORD_BYTES: usize = 200;
/// The first day of 令和 (令和1 = 2019); 平成 before it (平成1 = 1989).
const REIWA_FIRST_DAY: (i32, u32, u32) = (2019, 5, 1);
const REIWA_YEAR_ZERO: i32 = 2018;
const HEISEI_YEAR_ZERO: i32 = 1988;
/// The first day of 平成; earlier dates cannot be written.
const HEISEI_FIRST_DAY: (i32, u32, u32) = (1989, 1, 8);

#[derive(Debug, thiserror::Error)]
pub enum BankSimError {
    #[error("{field} {text:?}: {problem}")]
    Text { field: &'static str, text: String, problem: &'static str },
    #[error("{field} {value}: does not fit {width} digits")]
    Number { field: &'static str, value: i64, width: usize },
    #[error("{field} {date}: before 平成, not writable as 和暦")]
    Date { field: &'static str, date: NaiveDate },
    #[error("{what}: {source}")]
    Money { what: &'static str, source: pos_core::MoneyError },
    #[error("movement {index} of account {account}: {problem}")]
    Movement { account: String, index: usize, problem: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// 預金種目.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountType {
    /// 普通
    Ordinary,
    /// 当座
    Current,
}

impl AccountType {
    fn code(self) -> &'static str {
        match self {
            AccountType::Ordinary => "1",
            AccountType::Current => "2",
        }
    }
}

/// The account a statement is of, as the header names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub bank_code: u16,
    /// Half-width kana.
    pub bank_name: String,
    pub branch_code: u16,
    pub branch_name: String,
    pub account_type: AccountType,
    pub account_number: u64,
    pub account_name: String,
    /// 取引前残高; negative when overdrawn.
    pub balance_opening: Yen,
}

/// 入払区分.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Credit,
    Debit,
}

/// 取引区分.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionKind {
    /// 10 現金
    Cash,
    /// 11 振込
    Transfer,
    /// 18 その他 (bank charges)
    Other,
}

impl TransactionKind {
    fn code(self) -> &'static str {
        match self {
            TransactionKind::Cash => "10",
            TransactionKind::Transfer => "11",
            TransactionKind::Other => "18",
        }
    }
}

/// One credit or debit of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    /// 勘定日 (also written as 預入・払出日).
    pub booking_date: NaiveDate,
    pub direction: Direction,
    pub kind: TransactionKind,
    /// Positive, whole yen; the direction says which way.
    pub amount: Yen,
    /// 振込依頼人名: the payer, half-width kana.
    pub payer_name: String,
    /// 摘要内容: where an acquirer puts its payout id.
    pub description: String,
}

/// A statement file: its creation date, the booking dates it covers, and its accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub created_on: NaiveDate,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub accounts: Vec<(Account, Vec<Movement>)>,
}

/// A record being filled: spaces until fields are put in.
struct Record([u8; RECORD_BYTES]);

impl Record {
    fn new(kind: u8) -> Record {
        let mut bytes = [b' '; RECORD_BYTES];
        bytes[0] = kind;
        Record(bytes)
    }

    /// A C field at 1-based `column`: JIS8, left-aligned, space-filled.
    fn text(&mut self, column: usize, width: usize, field: &'static str, text: &str) -> Result<(), BankSimError> {
        let refused = |problem| BankSimError::Text { field, text: text.to_string(), problem };
        let (encoded, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
        let jis8 = |byte: &u8| (0x20..=0x7E).contains(byte) || (0xA1..=0xDF).contains(byte);
        if unmappable || !encoded.iter().all(jis8) {
            return Err(refused("not JIS8 (ASCII or half-width katakana)"));
        }
        if encoded.len() > width {
            return Err(refused("longer than its field"));
        }
        self.0[column - 1..column - 1 + encoded.len()].copy_from_slice(&encoded);
        Ok(())
    }

    /// An N field at 1-based `column`: zero-filled digits.
    fn number(&mut self, column: usize, width: usize, field: &'static str, value: i64) -> Result<(), BankSimError> {
        let digits = format!("{value:0width$}");
        if value < 0 || digits.len() > width {
            return Err(BankSimError::Number { field, value, width });
        }
        self.0[column - 1..column - 1 + width].copy_from_slice(digits.as_bytes());
        Ok(())
    }

    fn date(&mut self, column: usize, field: &'static str, date: NaiveDate) -> Result<(), BankSimError> {
        let on = |(year, month, day): (i32, u32, u32)| NaiveDate::from_ymd_opt(year, month, day);
        let era_year = if Some(date) >= on(REIWA_FIRST_DAY) {
            date.year() - REIWA_YEAR_ZERO
        } else if Some(date) >= on(HEISEI_FIRST_DAY) {
            date.year() - HEISEI_YEAR_ZERO
        } else {
            return Err(BankSimError::Date { field, date });
        };
        let text = format!("{era_year:02}{:02}{:02}", date.month(), date.day());
        self.text(column, 6, field, &text)
    }
}

fn balance_sign(balance: Yen) -> &'static str {
    if balance.is_negative() {
        "2"
    } else {
        "1"
    }
}

fn abs(amount: Yen) -> i64 {
    amount.get().abs()
}

/// The statement's bytes: per account a header, its movements in booking order and a trailer;
/// then the end record. Every record ends with CRLF.
pub fn render(statement: &Statement) -> Result<Vec<u8>, BankSimError> {
    let mut records: Vec<Record> = Vec::new();
    for (account, movements) in &statement.accounts {
        let mut header = Record::new(b'1');
        header.text(2, 2, "種別コード", "03")?;
        header.text(4, 1, "コード区分", "0")?;
        header.date(5, "作成日", statement.created_on)?;
        header.date(11, "勘定日（自）", statement.from)?;
        header.date(17, "勘定日（至）", statement.to)?;
        header.number(23, 4, "銀行コード", i64::from(account.bank_code))?;
        header.text(27, 15, "銀行名", &account.bank_name)?;
        header.number(42, 3, "支店コード", i64::from(account.branch_code))?;
        header.text(45, 15, "支店名", &account.branch_name)?;
        header.number(60, 3, "ダミー", 0)?;
        header.text(63, 1, "預金種目", account.account_type.code())?;
        let number = i64::try_from(account.account_number).unwrap_or(i64::MAX);
        header.number(64, 10, "口座番号", number)?;
        header.text(74, 40, "口座名", &account.account_name)?;
        header.text(114, 1, "貸越区分", balance_sign(account.balance_opening))?;
        header.text(115, 1, "通帳・証書区分", "0")?;
        header.number(116, 14, "取引前残高", abs(account.balance_opening))?;
        records.push(header);

        let mut ordered: Vec<&Movement> = movements.iter().collect();
        // Stable: movements of one day keep the order they were given in.
        ordered.sort_by_key(|movement| movement.booking_date);
        let (mut credits, mut debits) = ((0_i64, Yen::ZERO), (0_i64, Yen::ZERO));
        for (index, movement) in ordered.iter().enumerate() {
            let invalid = |problem: &str| BankSimError::Movement {
                account: account.account_number.to_string(),
                index,
                problem: problem.to_string(),
            };
            if movement.amount <= Yen::ZERO {
                return Err(invalid("the amount must be positive; the direction gives the sign"));
            }
            if movement.booking_date < statement.from || movement.booking_date > statement.to {
                return Err(invalid("booked outside the statement's dates"));
            }
            let total = match movement.direction {
                Direction::Credit => &mut credits,
                Direction::Debit => &mut debits,
            };
            total.0 += 1;
            total.1 =
                total.1.checked_add(movement.amount).map_err(|source| BankSimError::Money { what: "sums", source })?;
            let mut data = Record::new(b'2');
            let reference = i64::try_from(index + 1).unwrap_or(i64::MAX);
            data.number(2, 8, "照会番号", reference)?;
            data.date(10, "勘定日", movement.booking_date)?;
            data.date(16, "預入・払出日", movement.booking_date)?;
            data.text(22, 1, "入払区分", if movement.direction == Direction::Credit { "1" } else { "2" })?;
            data.text(23, 2, "取引区分", movement.kind.code())?;
            data.number(25, 12, "取引金額", movement.amount.get())?;
            data.number(37, 12, "うち他店券金額", 0)?;
            data.text(82, 48, "振込依頼人名", &movement.payer_name)?;
            data.text(160, 20, "摘要内容", &movement.description)?;
            records.push(data);
        }
        let balance_closing = account
            .balance_opening
            .checked_add(credits.1)
            .and_then(|balance| balance.checked_sub(debits.1))
            .map_err(|source| BankSimError::Money { what: "the closing balance", source })?;
        let mut trailer = Record::new(b'8');
        trailer.number(2, 6, "入金件数", credits.0)?;
        trailer.number(8, 13, "入金額合計", credits.1.get())?;
        trailer.number(21, 6, "出金件数", debits.0)?;
        trailer.number(27, 13, "出金額合計", debits.1.get())?;
        trailer.text(40, 1, "貸越区分", balance_sign(balance_closing))?;
        trailer.number(41, 14, "取引後残高", abs(balance_closing))?;
        trailer.number(55, 7, "データ件数", credits.0 + debits.0)?;
        records.push(trailer);
    }
    let mut end = Record::new(b'9');
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    end.number(2, 10, "レコード総件数", count(records.len() + 1))?;
    end.number(12, 5, "口座数", count(statement.accounts.len()))?;
    records.push(end);

    let mut bytes = Vec::with_capacity(records.len() * (RECORD_BYTES + 2));
    for record in &records {
        bytes.extend_from_slice(&record.0);
        bytes.extend_from_slice(b"\r\n");
    }
    Ok(bytes)
}

/// The file's name for a statement delivered on `created_on`.
pub fn file_name(created_on: NaiveDate) -> String {
    format!("zengin-{}.txt", created_on.format("%Y%m%d"))
}

/// Renders the statement into `dir` (created if missing) atomically: a temporary file renamed,
/// so a reader never sees half a statement. Returns its path.
pub fn write(statement: &Statement, dir: &Path) -> Result<PathBuf, BankSimError> {
    let bytes = render(statement)?;
    let name = file_name(statement.created_on);
    let path = dir.join(&name);
    let temporary = dir.join(format!(".{name}.partial"));
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BankSimError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed(dir))?;
    std::fs::write(&temporary, bytes).map_err(failed(&temporary))?;
    std::fs::rename(&temporary, &path).map_err(failed(&path))?;
    Ok(path)
}
