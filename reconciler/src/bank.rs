//! The bank statement, line by line, against everything the city expects in it.
//!
//! Every line of the statement is accounted for exactly once (protocols/zengin-statement.md,
//! "How the city's money shows up in it"), in this order, each step only over the lines the
//! steps before left:
//!
//! 1. **Corrections**: a 取引区分 19 line reverses an earlier line of the same account (same
//!    amount, opposite direction); both are kept and paired, and neither pays anything else. The
//!    original is the latest unpaired line before it from the same payer, else from anyone.
//! 2. **Acquirer payouts**: one credit (振込) per payout, of the payout's whole net (every
//!    facility's lines), from the acquirer's depositor name or naming the payout id in 摘要 or
//!    EDI情報, between the payout date and the next bank business day. Exact amounts are taken
//!    for every payout first, so that a payout whose credit differs cannot take another's.
//! 3. **Cash deposits**: one credit (現金, or 振込 when a designated manager transfers) per
//!    facility-day with cash to deposit, from the facility's depositor name, between the business
//!    date and the next bank business day; exact amounts first, facility-days in date order.
//! 4. What is left: a debit of 取引区分 18 (その他) is a **bank charge**, reported and booked to
//!    the bank-charge account; any other line is an **exception**: an unmatched credit or debit.
//!    A credit from a facility's depositor name belongs to that facility's latest day with cash
//!    to deposit on or before it; every other one goes on the city's list.
//!
//! Payouts and deposits that are late (their window has passed without a credit, and the
//! statement reaches past it: a statement that ends before the window closes cannot say the
//! credit never came) or credited with a different amount are exceptions too: a payout's on the city's list (it is every
//! facility's money), a cash deposit's on its facility-day. An acquirer's card file whose trailer
//! states another payout than its lines add up to is on the city's list. A payout whose net is
//! zero or negative (refunds above sales) expects no credit.
//!
//! The statement is reconciled against everything that explains it, not only the facility-days
//! of one run: a run for one facility still needs every facility's cash deposits of the
//! statement's dates ([`ExpectedDeposit`]), so that another facility's deposit is not taken for
//! an unexplained credit.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use pos_config::Config;
use pos_core::{BusinessDate, FacilityId, Yen};

use crate::calendar::BankCalendar;
use crate::describe;
use crate::error::{self, ReconcileError};
use crate::exceptions::{Exception, ExceptionKind, RecordRef, Wording};
use crate::inputs::bank::{BankTransactionKind, Direction, StatementEntry};
use crate::inputs::identifiers::PayoutId;
use crate::settlements::{PayoutKey, SettlementTotals};

/// A facility-day's cash to deposit: the counted cash of its closed shifts less their floats.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExpectedDeposit {
    pub facility: FacilityId,
    pub business_date: BusinessDate,
    pub amount: Yen,
}

/// What a bank line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// The credit of an acquirer's payout.
    Payout(PayoutKey),
    /// A facility's cash deposit of a business date.
    CashDeposit { facility: FacilityId, business_date: BusinessDate },
    /// A 取引区分 19 line reversing the line at this index.
    Correction { of: usize },
    /// A line reversed by the 取引区分 19 line at this index.
    Corrected { by: usize },
    /// A bank charge (a debit of 取引区分 18), reported and booked.
    Charge,
    /// Nothing explains it: an exception, of the facility-day named when it names one.
    Unmatched { facility_day: Option<(FacilityId, BusinessDate)> },
}

impl Disposition {
    /// A stable code for reports.
    pub fn code(&self) -> &'static str {
        match self {
            Disposition::Payout(_) => "payout",
            Disposition::CashDeposit { .. } => "cash_deposit",
            Disposition::Correction { .. } => "correction",
            Disposition::Corrected { .. } => "corrected",
            Disposition::Charge => "charge",
            Disposition::Unmatched { .. } => "unmatched",
        }
    }
}

/// One line of the statement and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankLine {
    pub entry: StatementEntry,
    pub disposition: Disposition,
    /// What it is, in words.
    pub description: Wording,
}

impl BankLine {
    pub fn record(&self) -> RecordRef {
        bank_ref(&self.entry)
    }
}

/// An acquirer payout against the bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutCheck {
    pub key: PayoutKey,
    pub acquirer_name: String,
    /// The payout's whole net: what the credit must be.
    pub expected_net: Yen,
    /// The last day the credit may arrive: the payout date's next bank business day.
    pub due_on: NaiveDate,
    /// The index of the line that paid it.
    pub credit: Option<usize>,
}

/// A facility-day's cash deposit against the bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositCheck {
    pub facility: FacilityId,
    pub business_date: BusinessDate,
    pub expected: Yen,
    pub due_on: NaiveDate,
    /// The index of the line that paid it in.
    pub credit: Option<usize>,
    /// Credited less expected, or less all of it when it is overdue; zero while it may come.
    pub difference: Yen,
}

/// The statement reconciled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BankReconciliation {
    pub as_of: Option<NaiveDate>,
    /// The last booking date the statement shows: what is due after it cannot be missing yet.
    pub covered_until: Option<NaiveDate>,
    pub lines: Vec<BankLine>,
    pub payouts: Vec<PayoutCheck>,
    pub deposits: Vec<DepositCheck>,
    /// The city's list: payouts, trailers, and unmatched lines of no facility.
    pub exceptions: Vec<Exception>,
    /// Each facility-day's: its cash deposit, and credits from its depositor nothing explains.
    pub facility_exceptions: BTreeMap<(FacilityId, BusinessDate), Vec<Exception>>,
}

impl BankReconciliation {
    /// The payout's check, if the totals know it.
    pub fn payout(&self, key: &PayoutKey) -> Option<&PayoutCheck> {
        self.payouts.iter().find(|payout| &payout.key == key)
    }

    /// The line that paid a payout.
    pub fn payout_credit(&self, key: &PayoutKey) -> Option<&BankLine> {
        self.payout(key).and_then(|payout| payout.credit).map(|index| &self.lines[index])
    }

    /// A facility-day's deposit check.
    pub fn deposit(&self, facility: &FacilityId, business_date: BusinessDate) -> Option<&DepositCheck> {
        self.deposits.iter().find(|deposit| &deposit.facility == facility && deposit.business_date == business_date)
    }

    /// The exceptions the bank raises on a facility-day.
    pub fn facility_exceptions(&self, facility: &FacilityId, business_date: BusinessDate) -> &[Exception] {
        self.facility_exceptions.get(&(facility.clone(), business_date)).map_or(&[], Vec::as_slice)
    }

    /// The credits from the facility's depositor that nothing explains, on that facility-day.
    pub fn unmatched_of(&self, facility: &FacilityId, business_date: BusinessDate) -> Result<Yen, ReconcileError> {
        let lines = self.lines.iter().filter(|line| {
            matches!(&line.disposition, Disposition::Unmatched { facility_day: Some((f, d)) }
                if f == facility && *d == business_date)
        });
        error::sum(lines.map(|line| line.entry.amount_signed()), "unmatched bank lines")
    }

    /// The city's list for a run that reconciled `reconciled` facility-days: the city's own, and
    /// the facility exceptions of facility-days the run did not reconcile (so that none is lost).
    pub fn city_exceptions(&self, reconciled: &BTreeSet<(FacilityId, BusinessDate)>) -> Vec<Exception> {
        let mut exceptions = self.exceptions.clone();
        for (facility_day, list) in &self.facility_exceptions {
            if !reconciled.contains(facility_day) {
                exceptions.extend(list.iter().cloned());
            }
        }
        exceptions
    }
}

fn bank_ref(entry: &StatementEntry) -> RecordRef {
    RecordRef::BankLine {
        file: entry.file.clone(),
        reference: entry.reference.clone(),
        record_number: entry.record_number,
    }
}

fn named_bank(entry: &StatementEntry) -> (RecordRef, Wording) {
    (bank_ref(entry), describe::bank_label(entry))
}

/// A bank credit that may pay an expected amount.
struct Expected<'a> {
    payer_name: &'a str,
    kinds: &'a [BankTransactionKind],
    reference: Option<&'a str>,
    first_day: NaiveDate,
    due_on: NaiveDate,
}

impl Expected<'_> {
    fn candidate(&self, entry: &StatementEntry) -> bool {
        entry.direction == Direction::Credit
            && self.kinds.contains(&entry.kind)
            && entry.booking_date >= self.first_day
            && entry.booking_date <= self.due_on
            && (entry.payer_name.trim() == self.payer_name.trim() || self.names_reference(entry))
    }

    fn names_reference(&self, entry: &StatementEntry) -> bool {
        self.reference
            .is_some_and(|reference| entry.description.contains(reference) || entry.edi_information.contains(reference))
    }
}

/// Finds the credit for an expected amount among the open lines: one naming the reference
/// first, then one from the payer with the exact amount, then (as a different deposit) any from
/// the payer. Returns the line and whether its amount is the expected one.
fn find_credit(expected: &Expected<'_>, amount: Yen, lines: &[BankLine], open: &[bool]) -> Option<(usize, bool)> {
    let candidate = |index: &usize| open[*index] && expected.candidate(&lines[*index].entry);
    let by_reference = (0..lines.len()).filter(candidate).find(|&index| expected.names_reference(&lines[index].entry));
    if let Some(index) = by_reference {
        return Some((index, lines[index].entry.amount == amount));
    }
    if let Some(index) = (0..lines.len()).filter(candidate).find(|&index| lines[index].entry.amount == amount) {
        return Some((index, true));
    }
    (0..lines.len()).find(candidate).map(|index| (index, false))
}

/// What a run needs to reconcile the statement.
#[derive(Debug, Clone, Copy)]
pub struct BankContext<'a> {
    pub config: &'a Config,
    pub calendar: &'a BankCalendar,
    pub as_of: NaiveDate,
}

/// Reconciles the statement's lines against every payout of the settlement files and every
/// facility-day's cash to deposit.
pub fn reconcile_bank(
    entries: &[StatementEntry],
    totals: &SettlementTotals,
    deposits: &[ExpectedDeposit],
    context: &BankContext<'_>,
) -> Result<BankReconciliation, ReconcileError> {
    let mut reconciliation = BankReconciliation {
        as_of: Some(context.as_of),
        covered_until: entries.iter().map(|entry| entry.booking_date).max(),
        lines: entries
            .iter()
            .map(|entry| BankLine {
                entry: entry.clone(),
                disposition: Disposition::Unmatched { facility_day: None },
                description: Wording::default(),
            })
            .collect(),
        ..BankReconciliation::default()
    };
    let mut open = vec![true; entries.len()];
    pair_corrections(&mut reconciliation.lines, &mut open);
    check_payouts(&mut reconciliation, &mut open, totals, context)?;
    check_trailers(&mut reconciliation, totals)?;
    check_deposits(&mut reconciliation, &mut open, deposits, context)?;
    judge_the_rest(&mut reconciliation, &open, deposits, context)?;
    Ok(reconciliation)
}

fn pair_corrections(lines: &mut [BankLine], open: &mut [bool]) {
    for index in 0..lines.len() {
        if lines[index].entry.kind != BankTransactionKind::Correction || !open[index] {
            continue;
        }
        let correction = lines[index].entry.clone();
        let reverses = |candidate: &StatementEntry| {
            candidate.kind != BankTransactionKind::Correction
                && candidate.account == correction.account
                && candidate.direction != correction.direction
                && candidate.amount == correction.amount
                && candidate.booking_date <= correction.booking_date
        };
        let mut earlier = (0..index).filter(|&other| open[other] && reverses(&lines[other].entry));
        let same_payer =
            earlier.clone().rfind(|&other| lines[other].entry.payer_name.trim() == correction.payer_name.trim());
        let Some(original) = same_payer.or_else(|| earlier.next_back()) else { continue };
        open[index] = false;
        open[original] = false;
        let (of, by) = (describe::bank_label(&lines[original].entry), describe::bank_label(&correction));
        lines[index].disposition = Disposition::Correction { of: original };
        lines[index].description =
            Wording::new(format!("訂正（{} を取り消す）", of.ja), format!("correction of {}", of.en));
        lines[original].disposition = Disposition::Corrected { by: index };
        lines[original].description =
            Wording::new(format!("{} により訂正済み", by.ja), format!("reversed by {}", by.en));
    }
}

fn check_payouts(
    reconciliation: &mut BankReconciliation,
    open: &mut [bool],
    totals: &SettlementTotals,
    context: &BankContext<'_>,
) -> Result<(), ReconcileError> {
    for (key, expected_net) in totals.payouts()? {
        let acquirer_name = context
            .config
            .acquirers
            .iter()
            .find(|acquirer| acquirer.id == key.acquirer)
            .map_or_else(|| key.acquirer.clone(), |acquirer| acquirer.name.clone());
        let due_on = context.calendar.next_business_day(key.payout_date)?;
        reconciliation.payouts.push(PayoutCheck { key, acquirer_name, expected_net, due_on, credit: None });
    }
    let mut found: Vec<Option<(usize, bool)>> = vec![None; reconciliation.payouts.len()];
    for exact_only in [true, false] {
        for (position, payout) in reconciliation.payouts.iter().enumerate() {
            if found[position].is_some() || payout.expected_net <= Yen::ZERO {
                continue;
            }
            let Some(acquirer) = context.config.acquirers.iter().find(|acquirer| acquirer.id == payout.key.acquirer)
            else {
                continue;
            };
            let expected = Expected {
                payer_name: &acquirer.depositor_name,
                kinds: &[BankTransactionKind::Transfer],
                reference: payout.key.payout_id.as_ref().map(PayoutId::as_str),
                first_day: payout.key.payout_date,
                due_on: payout.due_on,
            };
            if let Some((index, exact)) = find_credit(&expected, payout.expected_net, &reconciliation.lines, open) {
                if exact || !exact_only {
                    open[index] = false;
                    found[position] = Some((index, exact));
                }
            }
        }
    }
    for (position, found) in found.into_iter().enumerate() {
        let payout = reconciliation.payouts[position].clone();
        let name = describe::payout(&payout.acquirer_name, payout.key.payout_id.as_ref(), payout.key.payout_date);
        let named = (payout.key.record(), name.clone());
        match found {
            Some((index, exact)) => {
                reconciliation.payouts[position].credit = Some(index);
                let line = &mut reconciliation.lines[index];
                line.disposition = Disposition::Payout(payout.key.clone());
                line.description = Wording::new(format!("{} の入金", name.ja), format!("credit of {}", name.en));
                if !exact {
                    let entry = line.entry.clone();
                    let exception = different(named, &entry, payout.expected_net, &name)?;
                    reconciliation.exceptions.push(exception);
                }
            }
            None if payout.expected_net > Yen::ZERO
                && overdue(reconciliation.covered_until, payout.due_on, context) =>
            {
                reconciliation.exceptions.push(missing(named, payout.expected_net, payout.due_on, &name));
            }
            None => {}
        }
    }
    Ok(())
}

/// Whether a credit due by `due_on` is late: the day has passed, and the statement shows the
/// days up to it.
fn overdue(covered_until: Option<NaiveDate>, due_on: NaiveDate, context: &BankContext<'_>) -> bool {
    context.as_of > due_on && covered_until.is_some_and(|until| until >= due_on)
}

/// A deposit credited with another amount than expected.
fn different(
    named: (RecordRef, Wording),
    entry: &StatementEntry,
    expected: Yen,
    name: &Wording,
) -> Result<Exception, ReconcileError> {
    let difference = error::subtract(entry.amount, expected, "a deposit difference")?;
    let line = describe::bank_entry(entry);
    let detail = Wording::new(
        format!(
            "{} は {} の予定ですが、{} で {} が入金されました。差額は {} です。",
            name.ja,
            describe::yen_ja(expected),
            line.ja,
            describe::yen_ja(entry.amount),
            describe::signed_yen_ja(difference)
        ),
        format!(
            "{} was to be {}; {} credited {}: a difference of {}.",
            name.en,
            describe::yen_en(expected),
            line.en,
            describe::yen_en(entry.amount),
            describe::signed_yen_en(difference)
        ),
    );
    Ok(Exception::new(ExceptionKind::BankDepositDifferent, vec![named, named_bank(entry)], difference, detail))
}

/// A deposit whose window has passed without a credit.
fn missing(named: (RecordRef, Wording), expected: Yen, due_on: NaiveDate, name: &Wording) -> Exception {
    let detail = Wording::new(
        format!("{}（{}）が、期限 {due_on} を過ぎても入出金明細にありません。", name.ja, describe::yen_ja(expected)),
        format!("{} ({}) was due by {due_on} and is not in the bank statement.", name.en, describe::yen_en(expected)),
    );
    Exception::new(ExceptionKind::BankDepositMissing, vec![named], expected.checked_neg(), detail)
}

/// Each card file's trailer against its lines.
fn check_trailers(reconciliation: &mut BankReconciliation, totals: &SettlementTotals) -> Result<(), ReconcileError> {
    for (stated, lines_net) in totals.stated_payouts() {
        if lines_net == stated.amount_net {
            continue;
        }
        let difference = error::subtract(stated.amount_net, lines_net, "a payout difference")?;
        let label = describe::line_label(&stated.file, stated.line);
        let detail = Wording::new(
            format!(
                "{} の合計行は入金 {}（入金番号 {}）としていますが、明細の入金額の合計は {} です。",
                label.ja,
                describe::yen_ja(stated.amount_net),
                stated.payout_id,
                describe::yen_ja(lines_net)
            ),
            format!(
                "{}: the trailer states a payout of {} ({}), the lines' net sum to {}.",
                label.en,
                describe::yen_en(stated.amount_net),
                stated.payout_id,
                describe::yen_en(lines_net)
            ),
        );
        let record = RecordRef::SettlementLine { file: stated.file.clone(), line: stated.line };
        reconciliation.exceptions.push(Exception::new(
            ExceptionKind::PayoutMismatch,
            vec![(record, label)],
            difference,
            detail,
        ));
    }
    Ok(())
}

fn check_deposits(
    reconciliation: &mut BankReconciliation,
    open: &mut [bool],
    deposits: &[ExpectedDeposit],
    context: &BankContext<'_>,
) -> Result<(), ReconcileError> {
    let mut deposits: Vec<&ExpectedDeposit> = deposits.iter().filter(|deposit| deposit.amount > Yen::ZERO).collect();
    deposits.sort();
    for deposit in &deposits {
        let due_on = context.calendar.next_business_day(deposit.business_date.date())?;
        reconciliation.deposits.push(DepositCheck {
            facility: deposit.facility.clone(),
            business_date: deposit.business_date,
            expected: deposit.amount,
            due_on,
            credit: None,
            difference: Yen::ZERO,
        });
    }
    let mut found: Vec<Option<(usize, bool)>> = vec![None; deposits.len()];
    for exact_only in [true, false] {
        for (position, check) in reconciliation.deposits.iter().enumerate() {
            if found[position].is_some() {
                continue;
            }
            let Some(facility) = context.config.facility(&check.facility) else { continue };
            let expected = Expected {
                payer_name: &facility.depositor_name,
                kinds: &[BankTransactionKind::Cash, BankTransactionKind::Transfer],
                reference: None,
                first_day: check.business_date.date(),
                due_on: check.due_on,
            };
            if let Some((index, exact)) = find_credit(&expected, check.expected, &reconciliation.lines, open) {
                if exact || !exact_only {
                    open[index] = false;
                    found[position] = Some((index, exact));
                }
            }
        }
    }
    for (position, found) in found.into_iter().enumerate() {
        let check = reconciliation.deposits[position].clone();
        let facility_name =
            context.config.facility(&check.facility).map_or_else(|| check.facility.to_string(), |f| f.name_ja.clone());
        let name = describe::cash_deposit(&facility_name, check.business_date.date());
        let record =
            RecordRef::CashDeposit { facility: check.facility.clone(), business_date: check.business_date.date() };
        let facility_day = (check.facility.clone(), check.business_date);
        match found {
            Some((index, exact)) => {
                reconciliation.deposits[position].credit = Some(index);
                let line = &mut reconciliation.lines[index];
                line.disposition =
                    Disposition::CashDeposit { facility: check.facility.clone(), business_date: check.business_date };
                line.description = Wording::new(name.ja.clone(), name.en.clone());
                if !exact {
                    let entry = line.entry.clone();
                    let exception = different((record, name.clone()), &entry, check.expected, &name)?;
                    reconciliation.deposits[position].difference = exception.amount_at_stake;
                    reconciliation.facility_exceptions.entry(facility_day).or_default().push(exception);
                }
            }
            None if overdue(reconciliation.covered_until, check.due_on, context) => {
                let exception = missing((record, name.clone()), check.expected, check.due_on, &name);
                reconciliation.deposits[position].difference = exception.amount_at_stake;
                reconciliation.facility_exceptions.entry(facility_day).or_default().push(exception);
            }
            None => {}
        }
    }
    Ok(())
}

/// The facility-day an unexplained credit from a facility's depositor belongs to: the facility's
/// latest day with cash to deposit on or before it, else the credit's own date.
fn facility_day_of(
    entry: &StatementEntry,
    deposits: &[ExpectedDeposit],
    config: &Config,
) -> Option<(FacilityId, BusinessDate)> {
    let facility =
        config.facilities.iter().find(|facility| facility.depositor_name.trim() == entry.payer_name.trim())?;
    let day = deposits
        .iter()
        .filter(|deposit| deposit.facility == facility.id && deposit.business_date.date() <= entry.booking_date)
        .map(|deposit| deposit.business_date)
        .max()
        .unwrap_or(BusinessDate::new(entry.booking_date));
    Some((facility.id.clone(), day))
}

fn judge_the_rest(
    reconciliation: &mut BankReconciliation,
    open: &[bool],
    deposits: &[ExpectedDeposit],
    context: &BankContext<'_>,
) -> Result<(), ReconcileError> {
    for (index, line) in reconciliation.lines.iter_mut().enumerate() {
        if !open[index] {
            continue;
        }
        let entry = line.entry.clone();
        let text = describe::bank_entry(&entry);
        if entry.direction == Direction::Debit && entry.kind == BankTransactionKind::Other {
            line.disposition = Disposition::Charge;
            line.description = Wording::new("銀行手数料等（取引区分 18）", "bank charge (取引区分 18)");
            continue;
        }
        let correction = entry.kind == BankTransactionKind::Correction;
        let (kind, detail) = match (entry.direction, correction) {
            (_, true) => (
                if entry.direction == Direction::Credit {
                    ExceptionKind::BankCreditUnmatched
                } else {
                    ExceptionKind::BankDebitUnmatched
                },
                Wording::new(
                    format!("{} は訂正（取引区分 19）ですが、訂正元の明細が見つかりません。", text.ja),
                    format!(
                        "{} is a correction (取引区分 19), but the line it corrects is not in the statement.",
                        text.en
                    ),
                ),
            ),
            (Direction::Credit, false) => (
                ExceptionKind::BankCreditUnmatched,
                Wording::new(
                    format!("{} は、どの入金予定（精算の入金、現金の預入）にも該当しません。", text.ja),
                    format!("{} is neither a payout of the settlements nor a cash deposit.", text.en),
                ),
            ),
            (Direction::Debit, false) => (
                ExceptionKind::BankDebitUnmatched,
                Wording::new(
                    format!("{} は、銀行手数料（取引区分 18）でも訂正でもない出金です。", text.ja),
                    format!("{} is a debit that is neither a bank charge (取引区分 18) nor a correction.", text.en),
                ),
            ),
        };
        let facility_day =
            if entry.direction == Direction::Credit { facility_day_of(&entry, deposits, context.config) } else { None };
        line.disposition = Disposition::Unmatched { facility_day: facility_day.clone() };
        line.description = Wording::new("照合先なし（例外）", "unmatched (an exception)");
        let exception = Exception::new(kind, vec![named_bank(&entry)], entry.amount_signed(), detail);
        match facility_day {
            Some(day) => reconciliation.facility_exceptions.entry(day).or_default().push(exception),
            None => reconciliation.exceptions.push(exception),
        }
    }
    Ok(())
}
