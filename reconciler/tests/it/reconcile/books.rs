//! Golden days of what issue 21 asked for, every figure written down: every kind of exception
//! signed by the one rule (the effect on the city's money) and summing to the day's net
//! difference; every bank line accounted for (payout, cash deposit, correction, charge, or an
//! exception on the facility-day or the city's list); refunds in the books with their revenue
//! accounts; fees of disputed lines held in suspense; and text for people, with no `Debug` form
//! of any type in any report, CSV, page or export.

use std::collections::BTreeSet;

use pos_core::{Brand, PaymentState};
use reconciler::bank::Disposition;
use reconciler::exceptions::{ExceptionKind, RecordRef};
use reconciler::inputs::bank::{BankTransactionKind, Direction, StatementEntry};
use reconciler::inputs::card::CardRecordType;
use reconciler::inputs::identifiers::{PayoutId, Rrn, Stan};
use reconciler::journal::{JournalRefund, PaymentId, RefundChannel, RefundId, ShiftId};
use reconciler::receivables::RefundBook;
use reconciler::report::accounting::{bank_entries, journal_entries};
use reconciler::report::bank::BankReport;
use reconciler::report::summary::CitySummary;
use reconciler::report::totals::{check_bank_report, check_journal_entries, check_receivables};
use reconciler::report::{csv, html, to_json, DayReport};
use reconciler::settlements::Settlements;

use super::support::*;

const AS_OF: &str = "2026-12-10";
const CARD_FILE: &str = "card-settlement-20261124.csv";

fn line(file: &str, line: u64) -> RecordRef {
    RecordRef::SettlementLine { file: file.to_string(), line }
}

/// The issue's day: a VISA sale of 8,800 (contract 3.24 %, truncated: 285) charged 286, an AMEX
/// sale of 10,000 (contract 3.5 %: 350) charged 324, a JCB sale of 2,000 settled twice, cash of
/// 1,200 with the drawer ten yen short, and the cash deposit 100 yen short at the bank.
fn the_issues_day() -> (pos_config::Config, reconciler::journal::DayJournal, Settlements, Vec<StatementEntry>) {
    let config = config();
    let payments = vec![
        payment("P1", Brand::Visa, 8_800, "2026-11-24T10:00:00", "000101", Some("632810000101")),
        payment("P2", Brand::Amex, 10_000, "2026-11-24T10:30:00", "000102", Some("632810000102")),
        payment("P3", Brand::Jcb, 2_000, "2026-11-24T11:00:00", "000103", Some("632810000103")),
        payment("P4", Brand::Cash, 1_200, "2026-11-24T11:30:00", "", None),
    ];
    let journal = journal("2026-11-24", payments, Some(FLOAT + 1_200 - 10));
    let mut settlements = settlements_for(&config, &journal);
    let mut records = settlements.card[0].settlement.records.clone();
    assert_eq!((records[0].amount_fee, records[1].amount_fee), (yen(285), yen(350)));
    records[0].amount_fee = yen(286);
    records[0].amount_net = yen(8_800 - 286);
    records[1].amount_fee = yen(324);
    records[1].amount_net = yen(10_000 - 324);
    let mut twice = records[2].clone();
    twice.line = 5;
    records.push(twice);
    settlements.card[0] = card_file(CARD_FILE, records);
    let mut bank = bank_for(&settlements, &journal);
    for entry in &mut bank {
        if entry.payer_name == FACILITY_DEPOSITOR {
            entry.amount = yen(entry.amount.get() - 100);
        }
    }
    (config, journal, settlements, bank)
}

#[test]
fn every_exception_is_signed_by_its_effect_on_the_citys_money_and_they_sum_to_the_net_difference() {
    let (config, journal, settlements, bank) = the_issues_day();
    let (result, city) = reconcile_with_bank(&config, &journal, &settlements, &bank, AS_OF);
    let found: Vec<(ExceptionKind, i64)> =
        result.exceptions.iter().map(|exception| (exception.kind, exception.amount_at_stake.get())).collect();
    assert_eq!(
        found,
        vec![
            // The JCB sale settled twice: the acquirer pays 2,000 more than the journal took.
            (ExceptionKind::Duplicate, 2_000),
            // A yen above the contract: the city gets a yen less.
            (ExceptionKind::FeeMismatch, -1),
            // 26 below the contract: the city gets 26 more.
            (ExceptionKind::FeeMismatch, 26),
            (ExceptionKind::CashShort, -10),
            (ExceptionKind::BankDepositDifferent, -100),
        ]
    );
    assert_eq!(city.exceptions, vec![], "the payout was paid what its lines say");
    let difference = &result.difference;
    assert_eq!(difference.journal_cashless, yen(20_800));
    assert_eq!(difference.settled_gross, yen(22_800));
    // Contracted on the lines settled: 285 + 350 + 60 + 60; charged: 286 + 324 + 60 + 60.
    assert_eq!((difference.fee_contracted, difference.fee_charged), (yen(755), yen(730)));
    assert_eq!((difference.cash_over_short, difference.cash_deposit_difference), (yen(-10), yen(-100)));
    assert_eq!(difference.net_difference, yen(2_000 - 1 + 26 - 10 - 100));
    let report = DayReport::build(&result, &journal, &config).unwrap();
    assert_eq!(report.exceptions.amount_at_stake_total, report.difference.net_difference);
}

#[test]
fn the_totals_checker_refuses_exceptions_that_do_not_sum_to_the_net_difference() {
    let (config, journal, settlements, bank) = the_issues_day();
    let (mut result, _) = reconcile_with_bank(&config, &journal, &settlements, &bank, AS_OF);
    // The sign the issue found: a fee charged above the contract reported as positive.
    result.exceptions[1].amount_at_stake = yen(1);
    let error = result.check_totals().unwrap_err();
    assert!(error.to_string().starts_with("exceptions against the net difference"), "{error}");
    let mut report = DayReport::build(&result, &journal, &config).unwrap();
    report.exceptions.amount_at_stake_total = yen(1_917);
    let error = reconciler::report::totals::check_day_report(&report).unwrap_err();
    assert!(error.to_string().contains("exceptions against the net difference"), "{error}");
}

fn debit(number: u64, booking_date: &str, kind: BankTransactionKind, payer: &str, amount: i64) -> StatementEntry {
    let mut entry = credit(number, booking_date, kind, payer, amount, "");
    entry.direction = Direction::Debit;
    entry
}

/// The base day's statement with what the issue's statement held besides: an unexplained credit
/// of 7,777, a bank charge of 440 (取引区分 18), a credit corrected (19) the next day, a debit
/// nothing explains, and a second deposit from the facility's depositor.
fn a_statement_with_everything(
) -> (pos_config::Config, reconciler::journal::DayJournal, Settlements, Vec<StatementEntry>) {
    let config = config();
    let payments = vec![
        payment("P1", Brand::Visa, 1_500, "2026-11-24T10:15:02", "000123", Some("632810000123")),
        payment("P4", Brand::Cash, 1_200, "2026-11-24T11:30:00", "", None),
    ];
    let journal = journal("2026-11-24", payments, None);
    let settlements = settlements_for(&config, &journal);
    let mut bank = bank_for(&settlements, &journal);
    bank.push(credit(11, "2026-11-26", BankTransactionKind::Transfer, "ﾌﾒｲ", 7_777, ""));
    bank.push(debit(12, "2026-11-30", BankTransactionKind::Other, "", 440));
    bank.push(credit(13, "2026-11-27", BankTransactionKind::Transfer, "ﾏﾁｶﾞｲ", 5_000, ""));
    bank.push(debit(14, "2026-11-30", BankTransactionKind::Correction, "ﾏﾁｶﾞｲ", 5_000));
    bank.push(debit(15, "2026-12-01", BankTransactionKind::Transfer, "ﾌﾘｶｴ", 3_000));
    bank.push(credit(16, "2026-11-25", BankTransactionKind::Cash, FACILITY_DEPOSITOR, 600, ""));
    (config, journal, settlements, bank)
}

#[test]
fn every_bank_line_is_accounted_for() {
    let (config, journal, settlements, bank) = a_statement_with_everything();
    let (result, city) = reconcile_with_bank(&config, &journal, &settlements, &bank, AS_OF);
    let dispositions: Vec<(String, &'static str)> =
        city.lines.iter().map(|line| (line.entry.reference.clone(), line.disposition.code())).collect();
    let expect = |pairs: &[(u64, &'static str)]| -> Vec<(String, &'static str)> {
        pairs.iter().map(|(number, code)| (format!("{number:08}"), *code)).collect()
    };
    assert_eq!(
        dispositions,
        expect(&[
            (1, "payout"),
            (4, "cash_deposit"),
            (11, "unmatched"),
            (12, "charge"),
            (13, "corrected"),
            (14, "correction"),
            (15, "unmatched"),
            (16, "unmatched"),
        ])
    );
    assert_eq!(city.lines[5].disposition, Disposition::Correction { of: 4 });
    // The credit from the facility's depositor belongs to its day; the others to the city.
    assert_eq!(kinds(&result), vec![ExceptionKind::BankCreditUnmatched]);
    assert_eq!(result.exceptions[0].amount_at_stake, yen(600));
    assert_eq!(result.difference.bank_unmatched, yen(600));
    let city_found: Vec<(ExceptionKind, i64)> =
        city.exceptions.iter().map(|exception| (exception.kind, exception.amount_at_stake.get())).collect();
    assert_eq!(
        city_found,
        vec![(ExceptionKind::BankCreditUnmatched, 7_777), (ExceptionKind::BankDebitUnmatched, -3_000)]
    );
    assert!(city.exceptions[0].detail.ja.contains("照会番号 00000011"), "{}", city.exceptions[0].detail.ja);
    assert!(city.exceptions[0].detail.ja.contains("7,777円"));

    // The bank report lists every line, the city's list, and the charge; the summary counts them.
    let report = DayReport::build(&result, &journal, &config).unwrap();
    let reconciled = BTreeSet::from([(report.facility.clone(), report.business_date)]);
    let bank_report = BankReport::build(&city, &reconciled).unwrap();
    check_bank_report(&bank_report).unwrap();
    assert_eq!((bank_report.lines_count, bank_report.unmatched_count), (8, 3));
    assert_eq!(bank_report.charges_total, yen(440));
    assert_eq!(bank_report.exceptions.count, 2);
    let summary = CitySummary::build(std::slice::from_ref(&report), &bank_report, &config).unwrap();
    assert_eq!((summary.city_exceptions_count, summary.city_exceptions_amount), (2, yen(7_777 - 3_000)));
    // A run that did not reconcile the facility-day puts its line on the city's list, not nowhere.
    let alone = BankReport::build(&city, &BTreeSet::new()).unwrap();
    assert_eq!(alone.exceptions.count, 3);

    // Each line is booked once, on its date: the charge to the bank-charge account, the
    // unexplained lines and the correction pair against suspense, payout and deposit as paid.
    let entries = bank_entries(&bank_report, &config, |_| true).unwrap();
    check_journal_entries(&entries).unwrap();
    let charge: Vec<_> = entries.iter().filter(|entry| entry.account_code == "EXPENSE-BANK-CHARGES").collect();
    assert_eq!(charge.len(), 1);
    assert_eq!((charge[0].debit, charge[0].date), (yen(440), date("2026-11-30")));
    let suspense: i64 = entries
        .iter()
        .filter(|entry| entry.account_code == "SUSPENSE")
        .map(|entry| entry.credit.get() - entry.debit.get())
        .sum();
    assert_eq!(suspense, 7_777 - 3_000 + 600, "the correction pair nets to nothing in suspense");
    let paid: i64 =
        entries.iter().filter(|entry| entry.account_code == "RECEIVABLE-card").map(|entry| entry.credit.get()).sum();
    assert_eq!(paid, 1_452);
}

#[test]
fn a_correction_without_its_original_is_an_exception() {
    let (config, journal, settlements, mut bank) = a_statement_with_everything();
    bank.retain(|entry| entry.reference != "00000013");
    let (_, city) = reconcile_with_bank(&config, &journal, &settlements, &bank, AS_OF);
    let correction = city.exceptions.iter().find(|exception| exception.detail.ja.contains("訂正元")).unwrap();
    assert_eq!((correction.kind, correction.amount_at_stake), (ExceptionKind::BankDebitUnmatched, yen(-5_000)));
}

const P1_RRN: &str = "632810000123";

/// A refund of `amount` of the VISA payment P1 of Tuesday 24 November, made on `time` through
/// the brand.
fn refund_of_p1(amount: i64, time: &str) -> JournalRefund {
    JournalRefund {
        refund_id: RefundId::new("R1"),
        amount: yen(amount),
        channel: RefundChannel::Original,
        shift: ShiftId::new(SHIFT),
        time: at(time),
        stan: Some(Stan::parse("000131").unwrap()),
        rrn: Some(Rrn::parse("632810000131").unwrap()),
        original_rrn: Some(Rrn::parse(P1_RRN).unwrap()),
    }
}

#[test]
fn a_refund_is_booked_as_its_own_entry_and_the_receivable_is_the_payouts_net() {
    let config = config();
    // Wednesday 25 November: a cash sale, and 1,000 of Tuesday's VISA 1,500 given back.
    let mut p1 = payment("P1", Brand::Visa, 1_500, "2026-11-24T10:15:02", "000123", Some(P1_RRN));
    p1.state = PaymentState::PartiallyRefunded;
    p1.refunds.push(refund_of_p1(1_000, "2026-11-25T15:40:11"));
    let cash = payment("P5", Brand::Cash, 300, "2026-11-25T09:00:00", "", None);
    let mut journal = journal("2026-11-25", vec![cash, p1.clone()], None);
    journal.sale_lines.push(sale_line_for(&p1));
    let mut refund = card_record(
        &config,
        2,
        CardRecordType::Refund,
        Brand::Visa,
        "2026-11-25T15:40:11",
        "000131",
        "632810000131",
        -1_000,
        Some(P1_RRN),
    );
    refund.settlement_date = date("2026-11-25");
    refund.payout_id = PayoutId::parse("P20261127-001").unwrap();
    refund.payout_date = date("2026-11-27");
    let settlements =
        Settlements { card: vec![card_file("card-settlement-20261125.csv", vec![refund])], ..Settlements::default() };
    let bank = vec![credit(1, "2026-11-26", BankTransactionKind::Cash, FACILITY_DEPOSITOR, 300, "")];
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(result.exceptions, vec![]);
    assert_eq!(result.revenue_total, yen(300), "the refunded sale was Tuesday's revenue, not Wednesday's");
    assert_eq!(result.refunds.len(), 1);
    let booking = &result.refunds[0];
    assert_eq!((booking.amount, booking.book), (yen(1_000), RefundBook::RevenueReduction));
    assert_eq!(booking.allocations.len(), 1);
    assert_eq!(booking.allocations[0].revenue_account.as_deref(), Some(REVENUE_ACCOUNT));
    assert_eq!(
        booking.payout.as_ref().and_then(|key| key.payout_id.clone()),
        Some(PayoutId::parse("P20261127-001").unwrap())
    );
    // The payout carries the refund: −1,000 gross, −32 fee given back, −968 net.
    assert_eq!(result.payouts.len(), 1);
    let payout = &result.payouts[0];
    assert_eq!(
        (payout.refunds, payout.amount_gross, payout.amount_fee, payout.amount_net),
        (yen(1_000), yen(-1_000), yen(-32), yen(-968))
    );

    let report = DayReport::build(&result, &journal, &config).unwrap();
    let entries = journal_entries(&report, &config, &BTreeSet::new()).unwrap();
    check_journal_entries(&entries).unwrap();
    check_receivables(std::slice::from_ref(&report), &entries, &config).unwrap();
    let refund_entry = entries
        .iter()
        .find(|entry| entry.account_code == REVENUE_ACCOUNT && entry.debit == yen(1_000))
        .expect("the refund debits the sale's revenue account");
    assert!(refund_entry.description.contains("歳入戻出"), "{}", refund_entry.description);
    let receivable: i64 = entries
        .iter()
        .filter(|entry| entry.account_code == "RECEIVABLE-card")
        .map(|entry| entry.debit.get() - entry.credit.get())
        .sum();
    assert_eq!(receivable, -968, "the receivable booked is the payout's net");
    let fee_back: i64 = entries
        .iter()
        .filter(|entry| entry.account_code == "EXPENSE-FEES")
        .map(|entry| entry.debit.get() - entry.credit.get())
        .sum();
    assert_eq!(fee_back, -32, "the fee given back reduces the fee expense");
}

#[test]
fn a_refund_of_a_closed_years_revenue_is_paid_as_a_kago_nou_refund() {
    let config = config();
    // A sale of 31 March 2026 (FY2025, whose accounts closed on 31 May 2026), refunded in cash on
    // Monday 1 June 2026.
    let mut march = payment("P9", Brand::Cash, 2_000, "2026-03-31T15:00:00", "", None);
    march.state = PaymentState::Refunded;
    march.refunds.push(JournalRefund {
        refund_id: RefundId::new("R9"),
        amount: yen(2_000),
        channel: RefundChannel::Cash,
        shift: ShiftId::new(SHIFT),
        time: at("2026-06-01T10:00:00"),
        stan: None,
        rrn: None,
        original_rrn: None,
    });
    let mut journal = journal("2026-06-01", vec![], Some(FLOAT - 2_000));
    journal.sale_lines.push(sale_line_for(&march));
    journal.payments.push(march);
    let result = reconcile(&config, &journal, &Settlements::default(), &[], "2026-06-10");
    assert_eq!(result.exceptions, vec![]);
    assert_eq!(result.cash.expected_total, yen(FLOAT - 2_000));
    assert_eq!(result.refunds[0].book, RefundBook::ClosedYearRefund);
    assert_eq!(result.refunds[0].original_fiscal_year, pos_core::FiscalYear::new(2025));
    let report = DayReport::build(&result, &journal, &config).unwrap();
    let entries = journal_entries(&report, &config, &BTreeSet::new()).unwrap();
    check_journal_entries(&entries).unwrap();
    assert!(entries
        .iter()
        .any(|entry| entry.account_code == "EXPENSE-REFUNDS-CLOSED-YEARS" && entry.debit == yen(2_000)));
    assert!(entries.iter().any(|entry| entry.account_code == "CASH" && entry.credit == yen(2_000)));
    // On 31 May, still in its 出納整理期間, the same refund comes out of the year's revenue.
    assert_eq!(
        reconciler::receivables::refund_book(pos_core::BusinessDate::new(date("2026-03-31")), date("2026-05-31")),
        RefundBook::RevenueReduction
    );
}

#[test]
fn fees_of_disputed_lines_are_held_in_suspense_until_resolved() {
    let (config, journal, settlements, bank) = the_issues_day();
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    let payout = &result.payouts[0];
    // Held: 286 (above the contract), 324 (below it), 60 (the duplicate line); expensed: 60.
    let held: Vec<(RecordRef, i64)> =
        payout.fees_held.iter().map(|held| (held.line.clone(), held.amount.get())).collect();
    assert_eq!(held, vec![(line(CARD_FILE, 2), 286), (line(CARD_FILE, 3), 324), (line(CARD_FILE, 5), 60)]);
    assert_eq!(payout.fee_clean, yen(60));
    let report = DayReport::build(&result, &journal, &config).unwrap();
    let expensed = |resolved: &BTreeSet<String>| -> (i64, i64) {
        let entries = journal_entries(&report, &config, resolved).unwrap();
        check_journal_entries(&entries).unwrap();
        check_receivables(std::slice::from_ref(&report), &entries, &config).unwrap();
        let sum = |code: &str| -> i64 {
            entries
                .iter()
                .filter(|entry| entry.account_code == code)
                .map(|entry| entry.debit.get() - entry.credit.get())
                .sum()
        };
        (sum("EXPENSE-FEES"), sum("SUSPENSE"))
    };
    // The duplicated 2,000 is in suspense (credit) beside the held fees (debit).
    assert_eq!(expensed(&BTreeSet::new()), (60, 286 + 324 + 60 - 2_000));
    // Treasury resolves the fee exceptions: their fees are expensed; the duplicate stays held.
    let resolved: BTreeSet<String> =
        result.exceptions_of(ExceptionKind::FeeMismatch).map(|exception| exception.key()).collect();
    assert_eq!(expensed(&resolved), (60 + 286 + 324, 60 - 2_000));
}

#[test]
fn exceptions_name_records_as_treasury_finds_them_in_japanese_and_english() {
    let (config, journal, settlements, bank) = the_issues_day();
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    let fee = &result.exceptions[1];
    assert_eq!(
        fee.detail.ja,
        "card-settlement-20261124.csv 2行目（売上 VISA 2026-11-24 10:00:00 8,800円、手数料 286円） の手数料は 286円 ですが、契約（3.24%）では 285円 です。差額は -1円 です。"
    );
    assert!(
        fee.detail.en.starts_with("card-settlement-20261124.csv line 2 (sale VISA ¥8,800 at 2026-11-24 10:00:00"),
        "{}",
        fee.detail.en
    );
    let short = &result.exceptions[3];
    assert!(
        short.detail.ja.starts_with("レジ R0010001 の 2026-11-24 08:30:00 開始のシフト の現金は"),
        "{}",
        short.detail.ja
    );

    // A payment missing from every settlement, named by register, time, brand, amount, receipt.
    let payments = vec![payment("P7", Brand::Id, 3_300, "2026-11-24T14:05:09", "000777", None)];
    let id_day = super::support::journal("2026-11-24", payments, None);
    let mut settlements = settlements_for(&config, &id_day);
    settlements.emoney[0].records.clear();
    let result = reconcile(&config, &id_day, &settlements, &bank_for(&settlements, &id_day), AS_OF);
    let missing = &result.exceptions[0];
    assert_eq!(missing.kind, ExceptionKind::MissingInSettlement);
    assert_eq!(
        missing.detail.ja,
        "R0010001 2026-11-24 14:05:09 の iD 3,300円（領収書 No. 2026-000007） が、E-money centre の精算に 2026-11-27 までに計上されていません。"
    );
    assert_eq!(
        missing.detail.en,
        "the iD payment of ¥3,300 at R0010001 at 2026-11-24 14:05:09 (receipt No. 2026-000007) was due in E-money centre's settlement by 2026-11-27 and is in none."
    );
    assert_eq!(missing.labels[0].ja, "領収書 No. 2026-000007（R0010001）");
    assert_eq!(missing.records, vec![RecordRef::Payment(PaymentId::new("P7"))]);
}

/// The text a report gives to people: JSON string values, CSV cells, the page without its style.
fn texts_of_json(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) => out.push(text.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|item| texts_of_json(item, out)),
        serde_json::Value::Object(fields) => fields.values().for_each(|item| texts_of_json(item, out)),
        _ => {}
    }
}

/// Patterns that only a Rust `Debug` form writes.
pub const DEBUG_PATTERNS: [&str; 12] = [
    "Some(",
    "None)",
    "None,",
    "Id(\"",
    "{ ",
    " }",
    "::",
    "Yen(",
    "Payment(",
    "Refund {",
    "SettlementLine",
    "BankLine",
];

pub fn assert_no_debug(what: &str, text: &str) {
    for pattern in DEBUG_PATTERNS {
        assert!(!text.contains(pattern), "{what} shows a Debug form ({pattern:?}): {text}");
    }
}

#[test]
fn no_debug_form_reaches_a_report_csv_page_or_export() {
    let mut days = Vec::new();
    let (config, journal, settlements, bank) = the_issues_day();
    days.push(reconcile_with_bank(&config, &journal, &settlements, &bank, AS_OF));
    days.push(reconcile_with_bank(&config, &journal, &settlements, &bank, "2026-11-24"));
    let (config, journal2, settlements2, bank2) = a_statement_with_everything();
    days.push(reconcile_with_bank(&config, &journal2, &settlements2, &bank2, AS_OF));
    let journals = [&journal, &journal, &journal2];
    for ((result, city), journal) in days.iter().zip(journals) {
        let report = DayReport::build(result, journal, &config).unwrap();
        let reconciled = BTreeSet::from([(report.facility.clone(), report.business_date)]);
        let bank_report = BankReport::build(city, &reconciled).unwrap();
        let mut texts = Vec::new();
        texts_of_json(&serde_json::from_str(&to_json(&report).unwrap()).unwrap(), &mut texts);
        texts_of_json(&serde_json::from_str(&to_json(&bank_report).unwrap()).unwrap(), &mut texts);
        for text in &texts {
            assert_no_debug("the report's JSON", text);
        }
        for (name, bytes) in csv::day_report_files(&report) {
            assert_no_debug(&name, &String::from_utf8(bytes).unwrap());
        }
        assert_no_debug("bank lines", &String::from_utf8(csv::bank_lines(&bank_report).to_bytes()).unwrap());
        assert_no_debug("city list", &String::from_utf8(csv::city_exceptions(&bank_report).to_bytes()).unwrap());
        let page = html::day_report_page(&report);
        let style_end = page.find("</style>").unwrap();
        assert_no_debug("the page", &page[style_end..]);
        let mut entries = journal_entries(&report, &config, &BTreeSet::new()).unwrap();
        entries.extend(bank_entries(&bank_report, &config, |_| true).unwrap());
        assert_no_debug("the export", &String::from_utf8(csv::journal_entries(&entries).to_bytes()).unwrap());
    }
    // The check itself finds what the issue saw.
    let caught = std::panic::catch_unwind(|| assert_no_debug("x", "Payment(PaymentId(\"pay_1\"))"));
    assert!(caught.is_err());
}

#[test]
fn an_adjustment_and_a_chargeback_reversal_count_their_whole_net() {
    let config = config();
    let p1 = payment("P1", Brand::Visa, 1_500, "2026-11-24T10:15:02", "000123", Some(P1_RRN));
    let journal = journal("2026-11-24", vec![p1], None);
    let mut settlements = settlements_for(&config, &journal);
    let mut records = settlements.card[0].settlement.records.clone();
    // The acquirer takes 200 back with a 6-yen fee (net −206), and reverses a chargeback of 1,500
    // with its 48-yen fee (net +1,452).
    let mut adjustment = card_record(
        &config,
        3,
        CardRecordType::Adjustment,
        Brand::Visa,
        "2026-11-24T18:00:00",
        "000901",
        "632810000901",
        -200,
        None,
    );
    adjustment.amount_fee = yen(6);
    adjustment.amount_net = yen(-206);
    let reversal = card_record(
        &config,
        4,
        CardRecordType::ChargebackReversal,
        Brand::Visa,
        "2026-11-24T18:30:00",
        "000902",
        "632810000902",
        1_500,
        Some(P1_RRN),
    );
    records.extend([adjustment, reversal]);
    settlements.card[0] = card_file(CARD_FILE, records);
    let bank = bank_for(&settlements, &journal);
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    let found: Vec<(ExceptionKind, i64)> =
        result.exceptions.iter().map(|exception| (exception.kind, exception.amount_at_stake.get())).collect();
    assert_eq!(found, vec![(ExceptionKind::SettlementAdjustment, -206), (ExceptionKind::Chargeback, 1_452)]);
    assert_eq!(result.difference.other_lines_net, yen(1_246));
    assert_eq!(result.difference.net_difference, yen(1_246));
    assert!(result.exceptions[1].detail.ja.contains("チャージバック取消"), "{}", result.exceptions[1].detail.ja);
    // Their fees are the lines' own, held with them while the exceptions are open.
    assert_eq!(result.payouts[0].fee_held().unwrap(), yen(6 + 48));
}

#[test]
fn a_credit_cannot_be_missing_from_a_statement_that_ends_before_its_window_closes() {
    let config = config();
    let payments = vec![
        payment("P1", Brand::Visa, 1_500, "2026-11-24T10:15:02", "000123", Some(P1_RRN)),
        payment("P4", Brand::Cash, 1_200, "2026-11-24T11:30:00", "", None),
    ];
    let journal = journal("2026-11-24", payments, None);
    let settlements = settlements_for(&config, &journal);
    // The statement ends on Wednesday 25 November with the cash deposit; the card payout of the
    // 26th may be credited up to Friday 27, which the statement does not reach.
    let bank: Vec<StatementEntry> =
        bank_for(&settlements, &journal).into_iter().filter(|entry| entry.payer_name == FACILITY_DEPOSITOR).collect();
    let (result, city) = reconcile_with_bank(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!((result.exceptions.len(), city.exceptions.len()), (0, 0));
    let report = DayReport::build(&result, &journal, &config).unwrap();
    let bank_report =
        BankReport::build(&city, &BTreeSet::from([(report.facility.clone(), report.business_date)])).unwrap();
    assert_eq!(bank_report.payouts[0].state, "due");
    assert_eq!(report.cashless.receivable_total, yen(1_452), "still owed, and shown as such");
    // A statement reaching past the 27th without the credit: now it is missing.
    let mut longer = bank.clone();
    longer.push(credit(30, "2026-11-30", BankTransactionKind::Cash, FACILITY_DEPOSITOR, 900, ""));
    let (_, city) = reconcile_with_bank(&config, &journal, &settlements, &longer, AS_OF);
    let kinds: Vec<ExceptionKind> = city.exceptions.iter().map(|exception| exception.kind).collect();
    assert_eq!(kinds, vec![ExceptionKind::BankDepositMissing]);
}
