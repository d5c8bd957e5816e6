//! Golden days: small hand-built days whose every expected figure and exception is written here.
//!
//! The base day is Tuesday 24 November 2026 at the citizens' division: a VISA payment of 1,500
//! (fee 3.24 % truncated: 48), a transit IC payment of 470 (3 %: 14), a PayPay payment of 300
//! (1.98 %: 5) and a cash payment of 1,200, with a float of 30,000. Each test changes one thing.

use pos_config::{Owner, RevenueRule};
use pos_core::{Brand, FiscalYear, PaymentState};
use reconciler::exceptions::{ExceptionKind, RecordRef};
use reconciler::inputs::bank::BankTransactionKind;
use reconciler::inputs::card::CardRecordType;
use reconciler::inputs::emoney::EmoneyTransactionKind;
use reconciler::inputs::identifiers::{PayoutId, Rrn, Stan};
use reconciler::inputs::qr::QrTransactionKind;
use reconciler::journal::{JournalRefund, PaymentId, RefundChannel, RefundId, ShiftId};
use reconciler::matching::{DueReason, MatchHow};
use reconciler::settlements::{EmoneyFile, Settlements};

use super::support::*;

const AS_OF: &str = "2026-12-10";
const P1_RRN: &str = "632810000123";

fn base_payments() -> Vec<reconciler::journal::JournalPayment> {
    vec![
        payment("P1", Brand::Visa, 1500, "2026-11-24T10:15:02", "000123", Some(P1_RRN)),
        payment("P2", Brand::TransitIc, 470, "2026-11-24T10:20:00", "000124", None),
        payment("P3", Brand::PayPay, 300, "2026-11-24T11:02:45", "", None),
        payment("P4", Brand::Cash, 1200, "2026-11-24T11:30:00", "", None),
    ]
}

/// The base day with its matching settlements and bank credits.
fn base() -> (pos_config::Config, reconciler::journal::DayJournal, Settlements) {
    let config = config();
    let journal = journal("2026-11-24", base_payments(), None);
    let settlements = settlements_for(&config, &journal);
    (config, journal, settlements)
}

fn line(file: &str, line: u64) -> RecordRef {
    RecordRef::SettlementLine { file: file.to_string(), line }
}

const CARD_FILE: &str = "card-settlement-20261124.csv";

#[test]
fn clean_day_has_every_figure() {
    let (config, journal, settlements) = base();
    let bank = bank_for(&settlements, &journal);
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(result.exceptions, vec![]);
    assert_eq!(result.fiscal_year, FiscalYear::new(2026));
    assert_eq!(result.revenue_total, yen(3470));
    assert_eq!(result.revenue_accounts.len(), 1);
    assert_eq!(result.revenue_accounts[0].owner, Owner::City);
    assert_eq!(result.revenue_accounts[0].revenue_account, REVENUE_ACCOUNT);
    assert_eq!(result.revenue_accounts[0].lines_count, 4);
    assert_eq!(result.fee_contracted_total, yen(48 + 14 + 5));
    assert_eq!(result.fee_charged_total, yen(67));
    let payouts: Vec<_> = result
        .payouts
        .iter()
        .map(|payout| (payout.key.acquirer.as_str(), payout.key.payout_date, payout.amount_net))
        .collect();
    assert_eq!(
        payouts,
        vec![
            ("card", date("2026-11-26"), yen(1452)),
            ("paypay", date("2026-11-30"), yen(295)),
            ("emoney", date("2026-11-27"), yen(456)),
        ]
    );
    assert!(result.payouts.iter().all(|payout| payout.bank_line.is_some() && !payout.in_closing_period));
    assert_eq!(result.payouts[0].due_on, date("2026-11-27"));
    assert_eq!(result.payouts_net_total, yen(2203));
    assert_eq!(result.cash.expected_total, yen(31_200));
    assert_eq!(result.cash.counted_total, yen(31_200));
    assert_eq!(result.cash.over_short_total, yen(0));
    assert_eq!(result.cash.to_deposit_total, yen(1200));
    assert_eq!(result.cash.deposit_due_on, date("2026-11-25"));
    assert!(result.cash.bank_line.is_some());
    assert_eq!(result.match_groups.len(), 3);
    assert!(result.match_groups.iter().all(|group| group.how == MatchHow::Key));
    assert!(result.timing_differences.is_empty());
}

#[test]
fn missing_in_settlement_only_after_the_due_date() {
    let (config, journal, mut settlements) = base();
    settlements.card[0] = card_file(CARD_FILE, vec![]);
    let bank = bank_for(&settlements, &journal);
    // Card lag is two bank business days: due on Thursday 26 November.
    let early = reconcile(&config, &journal, &settlements, &bank, "2026-11-26");
    assert_eq!(early.exceptions, vec![]);
    assert_eq!(early.timing_differences.len(), 1);
    assert_eq!(early.timing_differences[0].due_on, date("2026-11-26"));
    assert_eq!(early.timing_differences[0].amount, yen(1500));

    let late = reconcile(&config, &journal, &settlements, &bank, "2026-11-27");
    assert_eq!(kinds(&late), vec![ExceptionKind::MissingInSettlement]);
    assert_eq!(late.exceptions[0].amount_at_stake, yen(-1500));
    assert_eq!(late.exceptions[0].records, vec![RecordRef::Payment(PaymentId::new("P1"))]);
    assert_eq!(late.fee_contracted_total, yen(19));
}

#[test]
fn missing_in_journal() {
    let (config, journal, mut settlements) = base();
    let extra = card_record(
        &config,
        3,
        CardRecordType::Sale,
        Brand::Jcb,
        "2026-11-24T14:00:00",
        "000140",
        "632810000140",
        2000,
        None,
    );
    let mut records = settlements.card[0].settlement.records.clone();
    records.push(extra);
    settlements.card[0] = card_file(CARD_FILE, records);
    let bank = bank_for(&settlements, &journal);
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(kinds(&result), vec![ExceptionKind::MissingInJournal]);
    assert_eq!(result.exceptions[0].amount_at_stake, yen(2000));
    assert_eq!(result.exceptions[0].records, vec![line(CARD_FILE, 3)]);
    // The unmatched line still counts in the payout and its fee (3 % of 2,000) is accrued.
    assert_eq!(result.fee_contracted_total, yen(67 + 60));
    assert_eq!(result.payouts[0].amount_net, yen(1452 + 1940));
}

#[test]
fn amount_mismatch() {
    let (config, journal, mut settlements) = base();
    let record =
        card_record(&config, 2, CardRecordType::Sale, Brand::Visa, "2026-11-24T10:15:02", "000123", P1_RRN, 1600, None);
    settlements.card[0] = card_file(CARD_FILE, vec![record]);
    let bank = bank_for(&settlements, &journal);
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(kinds(&result), vec![ExceptionKind::AmountMismatch]);
    assert_eq!(result.exceptions[0].amount_at_stake, yen(100));
    assert_eq!(result.exceptions[0].records, vec![RecordRef::Payment(PaymentId::new("P1")), line(CARD_FILE, 2)]);
}

#[test]
fn duplicate_line() {
    let (config, journal, mut settlements) = base();
    let mut records = settlements.card[0].settlement.records.clone();
    let mut copy = records[0].clone();
    copy.line = 3;
    records.push(copy);
    settlements.card[0] = card_file(CARD_FILE, records);
    let bank = bank_for(&settlements, &journal);
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(kinds(&result), vec![ExceptionKind::Duplicate]);
    assert_eq!(result.exceptions[0].amount_at_stake, yen(1500));
    assert_eq!(result.exceptions[0].records[0], line(CARD_FILE, 3));
}

#[test]
fn second_claim_on_a_line() {
    let (config, mut journal, settlements) = base();
    // A second journal payment carrying P1's RRN (a journal fault): the line is P1's already.
    let twin = payment("P1B", Brand::Visa, 1500, "2026-11-24T10:16:00", "000125", Some(P1_RRN));
    journal.sale_lines.push(sale_line_for(&twin));
    journal.payments.push(twin);
    let bank = bank_for(&settlements, &journal);
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(kinds(&result), vec![ExceptionKind::ClaimedTwice]);
    // The journal has 1,500 more than anything settles: the city gets less than it says.
    assert_eq!(result.exceptions[0].amount_at_stake, yen(-1500));
    assert_eq!(
        result.exceptions[0].records,
        vec![RecordRef::Payment(PaymentId::new("P1B")), line(CARD_FILE, 2), RecordRef::Payment(PaymentId::new("P1"))]
    );
}

fn refund_of_p1(time: &str) -> JournalRefund {
    JournalRefund {
        refund_id: RefundId::new("R1"),
        amount: yen(1500),
        channel: RefundChannel::Original,
        shift: ShiftId::new(SHIFT),
        time: at(time),
        stan: Some(Stan::parse("000131").unwrap()),
        rrn: Some(Rrn::parse("632810000131").unwrap()),
        original_rrn: Some(Rrn::parse(P1_RRN).unwrap()),
    }
}

#[test]
fn refunds_match_their_originals_and_an_unknown_refund_is_an_exception() {
    let (config, mut journal, mut settlements) = base();
    let refund_line = card_record(
        &config,
        3,
        CardRecordType::Refund,
        Brand::Visa,
        "2026-11-24T15:40:11",
        "000131",
        "632810000131",
        -1500,
        Some(P1_RRN),
    );
    let mut records = settlements.card[0].settlement.records.clone();
    records.push(refund_line);
    settlements.card[0] = card_file(CARD_FILE, records);
    let bank = bank_for(&settlements, &journal);

    let unmatched = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(kinds(&unmatched), vec![ExceptionKind::UnmatchedRefund]);
    assert_eq!(unmatched.exceptions[0].amount_at_stake, yen(-1500));
    assert_eq!(unmatched.exceptions[0].records, vec![line(CARD_FILE, 3), RecordRef::Payment(PaymentId::new("P1"))]);

    journal.payments[0].state = PaymentState::Refunded;
    journal.payments[0].refunds.push(refund_of_p1("2026-11-24T15:40:11"));
    let matched = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(matched.exceptions, vec![]);
    // The refund gives the fee back: 48 − 48.
    assert_eq!(matched.fee_charged_total, yen(67 - 48));
    assert_eq!(matched.payouts[0].amount_net, yen(0));
}

#[test]
fn chargeback() {
    let (config, journal, mut settlements) = base();
    let mut chargeback = card_record(
        &config,
        3,
        CardRecordType::Chargeback,
        Brand::Visa,
        "2026-11-24T16:00:00",
        "000150",
        "632810000150",
        -1500,
        Some(P1_RRN),
    );
    chargeback.amount_fee = yen(0);
    chargeback.amount_net = yen(-1500);
    let mut records = settlements.card[0].settlement.records.clone();
    records.push(chargeback);
    settlements.card[0] = card_file(CARD_FILE, records);
    let bank = bank_for(&settlements, &journal);
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(kinds(&result), vec![ExceptionKind::Chargeback]);
    assert_eq!(result.exceptions[0].amount_at_stake, yen(-1500));
    assert_eq!(result.exceptions[0].records, vec![line(CARD_FILE, 3), RecordRef::Payment(PaymentId::new("P1"))]);
    assert_eq!(result.payouts[0].amount_net, yen(1452 - 1500));
}

#[test]
fn fee_not_at_the_contracted_rate() {
    let (config, journal, mut settlements) = base();
    let mut records = settlements.card[0].settlement.records.clone();
    records[0].amount_fee = yen(49);
    records[0].amount_net = yen(1451);
    settlements.card[0] = card_file(CARD_FILE, records);
    let bank = bank_for(&settlements, &journal);
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(kinds(&result), vec![ExceptionKind::FeeMismatch]);
    // Charged a yen above the contract: the city gets a yen less.
    assert_eq!(result.exceptions[0].amount_at_stake, yen(-1));
    assert_eq!(result.fee_contracted_total, yen(67));
    assert_eq!(result.fee_charged_total, yen(68));
}

#[test]
fn payment_still_in_doubt() {
    let (config, mut journal, settlements) = base();
    let mut in_doubt = payment("P5", Brand::Visa, 800, "2026-11-24T12:00:00", "000126", None);
    in_doubt.state = PaymentState::InDoubt;
    journal.payments.push(in_doubt);
    let bank = bank_for(&settlements, &journal);
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(kinds(&result), vec![ExceptionKind::PaymentInDoubt]);
    // Neither taken in the journal nor settled: no money differs, the gateway must resolve it.
    assert_eq!(result.exceptions[0].amount_at_stake, yen(0));
    assert_eq!(result.exceptions[0].records, vec![RecordRef::Payment(PaymentId::new("P5"))]);
    // Not taken, so not revenue.
    assert_eq!(result.revenue_total, yen(3470));
}

const EMONEY_FILE: &str = "emoney-settlement-20261124.csv";

/// The transit IC payment P2 (470) as the centre's 処理未了, in the day's own file.
fn outcome_unknown(config: &pos_config::Config) -> reconciler::inputs::emoney::EmoneyRecord {
    emoney_record(
        config,
        2,
        EmoneyTransactionKind::OutcomeUnknown,
        Brand::TransitIc,
        "2026-11-24T10:20:00",
        "000124",
        470,
        "2026-11-27",
    )
}

#[test]
fn an_outcome_unknown_is_due_until_its_deadline_then_an_exception_of_what_the_journal_took() {
    let (config, mut journal, mut settlements) = base();
    settlements.emoney[0].records = vec![outcome_unknown(&config)];
    let bank = bank_for(&settlements, &journal);
    // Tuesday 24 November plus six bank business days: Wednesday 2 December.
    let due = reconcile(&config, &journal, &settlements, &bank, "2026-11-24");
    assert_eq!(due.exceptions, vec![], "due on its own business day is not an exception");
    assert_eq!(due.timing_differences.len(), 1);
    assert_eq!(due.timing_differences[0].reason, DueReason::OutcomeUnknown);
    assert_eq!(due.timing_differences[0].due_on, date("2026-12-02"));
    assert_eq!(due.timing_differences[0].amount, yen(470));
    assert!(due.timing_differences[0].description.ja.contains("確定期限 2026-12-02"));
    let on_the_deadline = reconcile(&config, &journal, &settlements, &bank, "2026-12-02");
    assert_eq!(on_the_deadline.exceptions, vec![]);

    // Past its deadline, never settled: the journal took 470 and the city did not get it.
    let late = reconcile(&config, &journal, &settlements, &bank, "2026-12-03");
    assert_eq!(kinds(&late), vec![ExceptionKind::EmoneyOutcomeUnknown]);
    assert_eq!(late.exceptions[0].amount_at_stake, yen(-470));
    assert_eq!(late.exceptions[0].records, vec![RecordRef::Payment(PaymentId::new("P2")), line(EMONEY_FILE, 2)]);
    assert_eq!(late.difference.net_difference, yen(-470));

    // Still in doubt in the gateway: the journal took nothing, so nothing differs; it is listed
    // for treasury to resolve, with its amount named in the text.
    journal.payments[1].state = PaymentState::InDoubt;
    let in_doubt = reconcile(&config, &journal, &settlements, &bank, "2026-12-03");
    assert_eq!(kinds(&in_doubt), vec![ExceptionKind::EmoneyOutcomeUnknown]);
    assert_eq!(in_doubt.exceptions[0].amount_at_stake, yen(0));
    assert!(in_doubt.exceptions[0].detail.ja.contains("470円"), "{}", in_doubt.exceptions[0].detail.ja);
    assert!(in_doubt.exceptions[0].detail.ja.contains("結果不明"));

    // Treasury resolved it in the gateway as failed: journal and centre agree nothing moved.
    journal.payments[1].state = PaymentState::Failed;
    let resolved = reconcile(&config, &journal, &settlements, &bank, "2026-12-03");
    assert_eq!(resolved.exceptions, vec![]);
}

#[test]
fn an_outcome_unknown_decided_in_a_later_file() {
    let (config, mut journal, mut settlements) = base();
    settlements.emoney[0].records = vec![outcome_unknown(&config)];

    // The centre settles it as 売上 in a later file, and the gateway resolved it as completed.
    let decided = emoney_record(
        &config,
        2,
        EmoneyTransactionKind::Sale,
        Brand::TransitIc,
        "2026-11-24T10:20:00",
        "000124",
        470,
        "2026-11-30",
    );
    let mut sold = settlements.clone();
    sold.emoney.push(EmoneyFile { name: "emoney-settlement-20261127.csv".to_string(), records: vec![decided] });
    let mut bank = bank_for(&sold, &journal);
    bank.retain(|entry| entry.payer_name != EMONEY_DEPOSITOR);
    bank.push(credit(9, "2026-11-30", BankTransactionKind::Transfer, EMONEY_DEPOSITOR, 456, ""));
    let result = reconcile(&config, &journal, &sold, &bank, AS_OF);
    assert_eq!(result.exceptions, vec![]);
    assert!(result.timing_differences.is_empty());
    let emoney = result.payouts.iter().find(|payout| payout.key.acquirer == "emoney").unwrap();
    assert_eq!((emoney.key.payout_date, emoney.amount_net), (date("2026-11-30"), yen(456)));

    // The centre decides it as 取消 instead (−470, fee 0, when it decided).
    let mut cancel = emoney_record(
        &config,
        2,
        EmoneyTransactionKind::Cancel,
        Brand::TransitIc,
        "2026-11-26T09:00:00",
        "000124",
        -470,
        "2026-12-01",
    );
    cancel.amount_fee = yen(0);
    let mut cancelled = settlements.clone();
    cancelled.emoney.push(EmoneyFile { name: "emoney-settlement-20261126.csv".to_string(), records: vec![cancel] });
    let bank: Vec<_> =
        bank_for(&cancelled, &journal).into_iter().filter(|entry| entry.payer_name != EMONEY_DEPOSITOR).collect();
    // The gateway has it completed: the city will not get the 470 it took.
    let result = reconcile(&config, &journal, &cancelled, &bank, AS_OF);
    assert_eq!(kinds(&result), vec![ExceptionKind::EmoneyOutcomeUnknown]);
    assert_eq!(result.exceptions[0].amount_at_stake, yen(-470));
    assert!(result.exceptions[0].detail.ja.contains("取消として確定"), "{}", result.exceptions[0].detail.ja);
    // Neither the 処理未了 nor the 取消 deciding it moves money: no payout, no unmatched refund.
    assert!(result.payouts.iter().all(|payout| payout.key.acquirer != "emoney"));
    // Resolved as failed in the gateway, the journal and the centre agree.
    journal.payments[1].state = PaymentState::Failed;
    let result = reconcile(&config, &journal, &cancelled, &bank, AS_OF);
    assert_eq!(result.exceptions, vec![]);
    // Still in doubt: listed to resolve as failed, nothing at stake.
    journal.payments[1].state = PaymentState::InDoubt;
    let result = reconcile(&config, &journal, &cancelled, &bank, AS_OF);
    assert_eq!(kinds(&result), vec![ExceptionKind::PaymentInDoubt]);
    assert_eq!(result.exceptions[0].amount_at_stake, yen(0));
}

#[test]
fn reversed_payment_must_be_absent() {
    let (config, mut journal, settlements) = base();
    journal.payments[0].state = PaymentState::Reversed;
    let bank = bank_for(&settlements, &journal);
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(kinds(&result), vec![ExceptionKind::ReversedButSettled]);
    assert_eq!(result.exceptions[0].amount_at_stake, yen(1500));
    assert_eq!(result.revenue_total, yen(1970));

    // Absent, as it should be: nothing to report, no revenue, no fee.
    let mut absent = settlements.clone();
    absent.card[0] = card_file(CARD_FILE, vec![]);
    let bank = bank_for(&absent, &journal);
    let result = reconcile(&config, &journal, &absent, &bank, AS_OF);
    assert_eq!(result.exceptions, vec![]);
    assert_eq!(result.fee_contracted_total, yen(19));
}

#[test]
fn payout_not_the_sum_of_its_lines_is_on_the_citys_list() {
    let (config, journal, mut settlements) = base();
    let bank = bank_for(&settlements, &journal);
    settlements.card[0].settlement.trailer.amount_net = yen(1462);
    let (result, city) = reconcile_with_bank(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(result.exceptions, vec![], "a payout is every facility's: not on one facility-day");
    let kinds: Vec<ExceptionKind> = city.exceptions.iter().map(|exception| exception.kind).collect();
    assert_eq!(kinds, vec![ExceptionKind::PayoutMismatch]);
    assert_eq!(city.exceptions[0].amount_at_stake, yen(10));
}

#[test]
fn bank_deposit_missing_after_its_window() {
    let (config, journal, settlements) = base();
    let mut bank = bank_for(&settlements, &journal);
    bank.retain(|entry| entry.payer_name != CARD_DEPOSITOR && entry.payer_name != FACILITY_DEPOSITOR);
    // Paid on Thursday 26 November, or at the latest on the next business day, Friday 27; the
    // cash of Tuesday 24 is due at the bank on Wednesday 25.
    let (in_window, city) = reconcile_with_bank(&config, &journal, &settlements, &bank, "2026-11-25");
    assert_eq!((in_window.exceptions.len(), city.exceptions.len()), (0, 0));
    let (late, city) = reconcile_with_bank(&config, &journal, &settlements, &bank, "2026-11-28");
    assert_eq!(kinds(&late), vec![ExceptionKind::BankDepositMissing]);
    assert_eq!(late.exceptions[0].amount_at_stake, yen(-1200));
    assert_eq!(late.difference.cash_deposit_difference, yen(-1200));
    let city_kinds: Vec<ExceptionKind> = city.exceptions.iter().map(|exception| exception.kind).collect();
    assert_eq!(city_kinds, vec![ExceptionKind::BankDepositMissing]);
    assert_eq!(city.exceptions[0].amount_at_stake, yen(-1452));
    assert_eq!(
        city.exceptions[0].records,
        vec![RecordRef::Payout {
            acquirer: "card".to_string(),
            payout: Some(PayoutId::parse("P20261126-001").unwrap()),
            payout_date: date("2026-11-26")
        }]
    );
    assert!(
        city.exceptions[0].detail.ja.contains("Card acquirer の入金 P20261126-001"),
        "{}",
        city.exceptions[0].detail.ja
    );
}

#[test]
fn bank_deposit_different_for_a_payout_and_for_cash() {
    let (config, journal, settlements) = base();
    let mut bank = bank_for(&settlements, &journal);
    for entry in &mut bank {
        if entry.payer_name == CARD_DEPOSITOR {
            entry.amount = yen(1450);
        }
        if entry.payer_name == FACILITY_DEPOSITOR {
            entry.amount = yen(1000);
        }
    }
    let (result, city) = reconcile_with_bank(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(kinds(&result), vec![ExceptionKind::BankDepositDifferent]);
    assert_eq!(result.exceptions[0].amount_at_stake, yen(-200));
    assert_eq!(city.exceptions.len(), 1);
    assert_eq!(
        (city.exceptions[0].kind, city.exceptions[0].amount_at_stake),
        (ExceptionKind::BankDepositDifferent, yen(-2))
    );
}

#[test]
fn cash_over_and_short() {
    let (config, _, settlements) = base();
    let over = journal("2026-11-24", base_payments(), Some(31_210));
    let bank = bank_for(&settlements, &over);
    let result = reconcile(&config, &over, &settlements, &bank, AS_OF);
    assert_eq!(kinds(&result), vec![ExceptionKind::CashOver]);
    assert_eq!(result.exceptions[0].amount_at_stake, yen(10));
    assert_eq!(result.cash.to_deposit_total, yen(1210));

    let short = journal("2026-11-24", base_payments(), Some(31_190));
    let bank = bank_for(&settlements, &short);
    let result = reconcile(&config, &short, &settlements, &bank, AS_OF);
    assert_eq!(kinds(&result), vec![ExceptionKind::CashShort]);
    assert_eq!(result.exceptions[0].amount_at_stake, yen(-10));
    assert_eq!(result.cash.shifts[0].over_short, Some(yen(-10)));
    assert_eq!(result.cash.shifts[0].expected, yen(31_200));
}

#[test]
fn midnight_payment_settled_next_day_is_a_timing_difference() {
    let config = config();
    let late = payment("P9", Brand::Visa, 3000, "2026-11-24T23:50:00", "000199", Some("632810000199"));
    let journal = journal("2026-11-24", vec![late], None);
    // The day's own card file does not have it.
    let empty = Settlements { card: vec![card_file(CARD_FILE, vec![])], ..Settlements::default() };
    let result = reconcile(&config, &journal, &empty, &[], "2026-11-25");
    assert_eq!(result.exceptions, vec![]);
    assert_eq!(result.timing_differences.len(), 1);
    assert_eq!(result.timing_differences[0].due_on, date("2026-11-26"));

    // The next day's file carries it, settled on the 25th and paid on the 27th.
    let mut record = card_record(
        &config,
        2,
        CardRecordType::Sale,
        Brand::Visa,
        "2026-11-24T23:50:00",
        "000199",
        "632810000199",
        3000,
        None,
    );
    record.settlement_date = date("2026-11-25");
    record.payout_id = PayoutId::parse("P20261127-001").unwrap();
    record.payout_date = date("2026-11-27");
    let next = Settlements {
        card: vec![card_file(CARD_FILE, vec![]), card_file("card-settlement-20261125.csv", vec![record])],
        ..Settlements::default()
    };
    // 3 % … 3.24 % of 3,000 is 97.2, truncated to 97.
    let bank = vec![credit(1, "2026-11-27", BankTransactionKind::Transfer, CARD_DEPOSITOR, 2903, "P20261127-001")];
    let result = reconcile(&config, &journal, &next, &bank, AS_OF);
    assert_eq!(result.exceptions, vec![]);
    assert!(result.timing_differences.is_empty());
    assert_eq!(result.payouts.len(), 1);
    assert_eq!((result.payouts[0].key.payout_date, result.payouts[0].amount_net), (date("2026-11-27"), yen(2903)));
    assert_eq!(result.revenue_total, yen(3000));
}

#[test]
fn payment_of_31_march_settled_in_april_is_old_fiscal_year() {
    let config = config();
    let late = payment("P31", Brand::Visa, 5000, "2026-03-31T23:50:00", "000301", Some("632810000301"));
    let journal = journal("2026-03-31", vec![late], None);
    let mut record = card_record(
        &config,
        2,
        CardRecordType::Sale,
        Brand::Visa,
        "2026-03-31T23:50:00",
        "000301",
        "632810000301",
        5000,
        None,
    );
    record.settlement_date = date("2026-04-01");
    record.payout_id = PayoutId::parse("P20260403-001").unwrap();
    record.payout_date = date("2026-04-03");
    let settlements =
        Settlements { card: vec![card_file("card-settlement-20260401.csv", vec![record])], ..Settlements::default() };
    // 3.24 % of 5,000 is 162.
    let bank = vec![credit(1, "2026-04-03", BankTransactionKind::Transfer, CARD_DEPOSITOR, 4838, "")];
    let result = reconcile(&config, &journal, &settlements, &bank, "2026-04-20");
    assert_eq!(result.exceptions, vec![]);
    assert_eq!(result.fiscal_year, FiscalYear::new(2025));
    assert_eq!(result.revenue_total, yen(5000));
    assert_eq!(result.payouts[0].amount_net, yen(4838));
    assert!(result.payouts[0].in_closing_period);
}

#[test]
fn split_qr_lines_match_one_payment() {
    let config = config();
    let qr = payment("PQ", Brand::PayPay, 1000, "2026-11-24T13:00:00", "", None);
    let journal = journal("2026-11-24", vec![qr], None);
    let records = vec![
        qr_record(&config, 2, QrTransactionKind::Payment, "2026-11-24T13:00:00", "PQ", 600),
        qr_record(&config, 3, QrTransactionKind::Payment, "2026-11-24T13:00:00", "PQ", 400),
    ];
    let settlements = Settlements {
        qr: vec![reconciler::settlements::QrFile { name: "qr.csv".to_string(), records }],
        ..Settlements::default()
    };
    // 1.98 %: 11.88 → 11 and 7.92 → 7; net 589 + 393.
    let bank = vec![credit(1, "2026-11-30", BankTransactionKind::Transfer, QR_DEPOSITOR, 982, "")];
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(result.exceptions, vec![]);
    assert_eq!(result.match_groups.len(), 1);
    assert_eq!(result.match_groups[0].how, MatchHow::SplitLines);
    assert_eq!(result.fee_charged_total, yen(18));
}

#[test]
fn a_qr_line_under_the_providers_own_terminal_is_scoped_by_its_merchant_payment_id() {
    let config = config();
    let qr = payment("PQ", Brand::PayPay, 1000, "2026-11-24T13:00:00", "", None);
    let journal = journal("2026-11-24", vec![qr], None);
    let mut ours = qr_record(&config, 2, QrTransactionKind::Payment, "2026-11-24T13:00:00", "PQ", 1000);
    // The gateway does not pass the register, so the provider writes its own terminal id.
    ours.terminal_code = reconciler::inputs::identifiers::ExternalId::parse("PROVIDER-T1").unwrap();
    let mut elsewhere = ours.clone();
    elsewhere.line = 3;
    elsewhere.merchant_payment_id = reconciler::inputs::identifiers::ExternalId::parse("PQ-OTHER").unwrap();
    let settlements = Settlements {
        qr: vec![reconciler::settlements::QrFile { name: "qr.csv".to_string(), records: vec![ours, elsewhere] }],
        ..Settlements::default()
    };
    // Both lines are one payout of 2 × 981; only the first is this facility's.
    let bank = vec![credit(1, "2026-11-30", BankTransactionKind::Transfer, QR_DEPOSITOR, 1_962, "")];
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(result.exceptions, vec![]);
    assert_eq!(result.match_groups.len(), 1);
    assert_eq!(result.payouts.len(), 1);
    assert_eq!((result.payouts[0].amount_net, result.payouts[0].payout_amount_net), (yen(981), yen(1_962)));
}

#[test]
fn aggregated_emoney_line_matches_several_payments_without_keys() {
    let config = config();
    let first = payment("E1", Brand::Waon, 470, "2026-11-24T13:00:00", "", None);
    let second = payment("E2", Brand::Waon, 300, "2026-11-24T13:01:00", "", None);
    let journal = journal("2026-11-24", vec![first, second], None);
    let record = emoney_record(
        &config,
        2,
        EmoneyTransactionKind::Sale,
        Brand::Waon,
        "2026-11-24T13:01:30",
        "000500",
        770,
        "2026-11-27",
    );
    let settlements = Settlements {
        emoney: vec![EmoneyFile { name: "emoney.csv".to_string(), records: vec![record] }],
        ..Settlements::default()
    };
    // 2.75 % of 770 is 21.175, truncated to 21.
    let bank = vec![credit(1, "2026-11-27", BankTransactionKind::Transfer, EMONEY_DEPOSITOR, 749, "")];
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(result.exceptions, vec![]);
    assert_eq!(result.match_groups.len(), 1);
    assert_eq!(result.match_groups[0].how, MatchHow::Aggregated);
    assert_eq!(result.match_groups[0].journal.len(), 2);
    assert_eq!(result.fee_charged_total, yen(21));
}

#[test]
fn payment_without_keys_matches_by_amount_terminal_and_time() {
    let config = config();
    let keyless = payment("K1", Brand::Jcb, 2200, "2026-11-24T09:00:00", "", None);
    let journal = journal("2026-11-24", vec![keyless], None);
    let record = card_record(
        &config,
        2,
        CardRecordType::Sale,
        Brand::Jcb,
        "2026-11-24T09:02:00",
        "000777",
        "632810000777",
        2200,
        None,
    );
    let settlements = Settlements { card: vec![card_file(CARD_FILE, vec![record])], ..Settlements::default() };
    // 3 % of 2,200 is 66.
    let bank = vec![credit(1, "2026-11-26", BankTransactionKind::Transfer, CARD_DEPOSITOR, 2134, "")];
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(result.exceptions, vec![]);
    assert_eq!(result.match_groups[0].how, MatchHow::AmountTerminalTime);
}

#[test]
fn operator_revenue_under_riyo_ryokin() {
    let config = config_with(RevenueRule::RiyoRyokin);
    let journal = journal("2026-11-24", base_payments(), None);
    let settlements = settlements_for(&config, &journal);
    let bank = bank_for(&settlements, &journal);
    let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
    assert_eq!(result.exceptions, vec![]);
    assert_eq!(result.revenue_accounts[0].owner, Owner::Operator(pos_core::OperatorId::parse("SPORTS-CO").unwrap()));
    assert_eq!(result.revenue_total, yen(3470));
}
