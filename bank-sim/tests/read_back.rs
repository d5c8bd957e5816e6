//! The statements the simulated bank writes are read back by the reconciler's strict reader
//! with every field as written: header, data records, trailer sums and the closing balance.

use bank_sim::{Account, AccountType, BankSimError, Direction, Movement, Statement, TransactionKind};
use chrono::NaiveDate;
use pos_core::Yen;
use reconciler::inputs::bank::{self as reader, read_bank_statement, BankReadOptions, BankTransactionKind};

fn date(text: &str) -> NaiveDate {
    text.parse().expect("date")
}

fn yen(value: i64) -> Yen {
    Yen::new(value).expect("yen")
}

fn account(opening: i64) -> Account {
    Account {
        bank_code: 9900,
        bank_name: "ﾐﾅﾄｷﾞﾝｺｳ".to_string(),
        branch_code: 1,
        branch_name: "ｼﾔｸｼﾖﾏｴ".to_string(),
        account_type: AccountType::Ordinary,
        account_number: 1_234_567,
        account_name: "ﾐﾅﾄｼ ｶｲｹｲｶﾝﾘｼﾔ".to_string(),
        balance_opening: yen(opening),
    }
}

fn movement(on: &str, direction: Direction, kind: TransactionKind, amount: i64, payer: &str, text: &str) -> Movement {
    Movement {
        booking_date: date(on),
        direction,
        kind,
        amount: yen(amount),
        payer_name: payer.to_string(),
        description: text.to_string(),
    }
}

fn statement(movements: Vec<Movement>) -> Statement {
    Statement {
        created_on: date("2026-12-04"),
        from: date("2026-11-24"),
        to: date("2026-12-04"),
        accounts: vec![(account(1_000_000), movements)],
    }
}

#[test]
fn a_statement_reads_back_field_by_field() {
    let movements = vec![
        movement("2026-11-26", Direction::Credit, TransactionKind::Transfer, 1_452, "ﾐﾅﾄｶｰﾄﾞｹｯｻｲｻｰﾋﾞｽ", "P20261126-001"),
        // Given after a later day's credit: the bank lists movements by booking date.
        movement("2026-11-25", Direction::Credit, TransactionKind::Cash, 23_000, "ﾐﾅﾄｼ ｼﾐﾝｶ", ""),
        movement("2026-11-26", Direction::Debit, TransactionKind::Other, 440, "", "ﾃｽｳﾘｮｳ"),
    ];
    let bytes = bank_sim::render(&statement(movements)).expect("render");
    assert_eq!(bytes.len(), 6 * 202, "header, three data records, trailer, end; CRLF after each");

    let read = read_bank_statement("zengin-20261204.txt", &bytes, BankReadOptions::new(date("2026-12-04")))
        .expect("the reconciler reads the simulated bank's statement");
    assert_eq!(read.accounts.len(), 1);
    let account = &read.accounts[0];
    assert_eq!(account.header.account.account_number, "0001234567");
    assert_eq!(account.header.balance_opening, yen(1_000_000));
    let entries: Vec<_> = account
        .entries
        .iter()
        .map(|e| (e.reference.as_str(), e.booking_date, e.direction, e.kind, e.amount, e.payer_name.as_str()))
        .collect();
    assert_eq!(
        entries,
        [
            (
                "00000001",
                date("2026-11-25"),
                reader::Direction::Credit,
                BankTransactionKind::Cash,
                yen(23_000),
                "ﾐﾅﾄｼ ｼﾐﾝｶ"
            ),
            (
                "00000002",
                date("2026-11-26"),
                reader::Direction::Credit,
                BankTransactionKind::Transfer,
                yen(1_452),
                "ﾐﾅﾄｶｰﾄﾞｹｯｻｲｻｰﾋﾞｽ"
            ),
            ("00000003", date("2026-11-26"), reader::Direction::Debit, BankTransactionKind::Other, yen(440), ""),
        ]
    );
    assert_eq!(account.entries[1].description, "P20261126-001");
    assert_eq!((account.trailer.credits_count, account.trailer.credits_total), (2, yen(24_452)));
    assert_eq!((account.trailer.debits_count, account.trailer.debits_total), (1, yen(440)));
    assert_eq!(account.trailer.balance_closing, yen(1_024_012));
}

#[test]
fn an_overdrawn_account_and_heisei_dates_read_back() {
    let mut statement =
        statement(vec![movement("2019-04-26", Direction::Debit, TransactionKind::Other, 5_000, "", "ﾃｽｳﾘｮｳ")]);
    statement.created_on = date("2019-04-30");
    statement.from = date("2019-04-26");
    statement.to = date("2019-04-30");
    statement.accounts[0].0.balance_opening = yen(-1_000);
    let bytes = bank_sim::render(&statement).expect("render");
    // 平成31年4月26日.
    assert_eq!(&bytes[202 + 9..202 + 15], b"310426");
    let read = read_bank_statement("zengin.txt", &bytes, BankReadOptions::new(date("2019-04-30"))).expect("read");
    assert_eq!(read.accounts[0].header.balance_opening, yen(-1_000));
    assert_eq!(read.accounts[0].trailer.balance_closing, yen(-6_000));
    assert_eq!(read.accounts[0].entries[0].booking_date, date("2019-04-26"));
}

#[test]
fn what_a_bank_cannot_write_is_refused_with_the_field() {
    let kanji = statement(vec![movement("2026-11-26", Direction::Credit, TransactionKind::Cash, 1, "市民課", "")]);
    let refused = bank_sim::render(&kanji).expect_err("kanji are not JIS8");
    assert_eq!(
        refused.to_string(),
        "振込依頼人名 \"市民課\": not JIS8 (ASCII or half-width katakana)",
        "the field and the text are named"
    );
    let long =
        statement(vec![movement("2026-11-26", Direction::Credit, TransactionKind::Cash, 1, "", &"X".repeat(21))]);
    assert!(matches!(bank_sim::render(&long), Err(BankSimError::Text { field: "摘要内容", .. })));
    let outside = statement(vec![movement("2026-12-05", Direction::Credit, TransactionKind::Cash, 1, "", "")]);
    assert!(matches!(bank_sim::render(&outside), Err(BankSimError::Movement { index: 0, .. })));
    let zero = statement(vec![movement("2026-11-26", Direction::Credit, TransactionKind::Cash, 0, "", "")]);
    assert!(matches!(bank_sim::render(&zero), Err(BankSimError::Movement { .. })));
}
