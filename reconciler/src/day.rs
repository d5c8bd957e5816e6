//! One facility's business day, reconciled: the money and the exceptions.
//!
//! [`reconcile_day`] matches the journal to the settlements ([`crate::matching`]), checks every
//! fee against the contract, ties each payout to its bank credit and the counted cash to the
//! facility's cash deposit, and adds up the day: revenue per fee line under its revenue account
//! and owner, fees per settled transaction, the facility's share of each payout, and cash per
//! shift. Every total in [`DayResult`] is the sum of lines it carries, which
//! [`DayResult::check_totals`] verifies.
//!
//! Dates are inputs: `as_of` is the day the reconciliation is run for, and decides what is late.
//! A payment belongs to the fiscal year of its business date, whatever day it settles or is paid
//! (a payment of 31 March paid out in April is old-year revenue, collected in 出納整理期間).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use pos_config::{Acquirer, Config, Facility, Owner, RevenueRule};
use pos_core::{Brand, BusinessDate, FacilityId, FeeItemCode, FiscalYear, Method, RegisterId, Yen};

use crate::calendar::BankCalendar;
use crate::error::{self, ReconcileError};
use crate::exceptions::{Exception, ExceptionKind, RecordRef};
use crate::inputs::bank::{BankTransactionKind, Direction, StatementEntry};
use crate::inputs::identifiers::PayoutId;
use crate::journal::{DayJournal, JournalPayment, RefundChannel, SaleId, ShiftId};
use crate::matching::{self, describe_line, MatchContext, MatchGroup, TimingDifference};
use crate::settlements::{LineKind, SettlementLine, Settlements, Source, StatedPayout};

/// What a day is reconciled under, besides its inputs.
#[derive(Debug, Clone, Copy)]
pub struct DayContext<'a> {
    pub config: &'a Config,
    pub calendar: &'a BankCalendar,
    /// The day the reconciliation is run for. Nothing is late before its due date has passed.
    pub as_of: NaiveDate,
}

/// One sale line booked to revenue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueLine {
    pub sale_id: SaleId,
    pub fee_item: FeeItemCode,
    pub revenue_account: String,
    pub owner: Owner,
    pub quantity: u32,
    pub amount: Yen,
}

/// The revenue of one account of one owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueAccountTotal {
    pub owner: Owner,
    pub revenue_account: String,
    pub lines_count: usize,
    pub amount: Yen,
}

/// The fee on one settled transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeLine {
    pub line: RecordRef,
    pub brand: Brand,
    pub acquirer: String,
    pub amount_gross: Yen,
    /// The contracted rate on the gross, with the contracted rounding.
    pub fee_contracted: Yen,
    /// What the acquirer charged.
    pub fee_charged: Yen,
}

/// The facility's part of one acquirer payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutShare {
    pub acquirer: String,
    /// Absent for acquirers that pay by date (the e-money centre's 精算日).
    pub payout_id: Option<PayoutId>,
    pub payout_date: NaiveDate,
    pub lines: Vec<RecordRef>,
    pub amount_gross: Yen,
    pub amount_fee: Yen,
    pub amount_net: Yen,
    /// The whole payout, all facilities: what the bank credit must be.
    pub payout_amount_net: Yen,
    /// The bank credit that paid it, when found.
    pub bank_line: Option<RecordRef>,
    /// The last day the credit may arrive: the payout date's next bank business day.
    pub due_on: NaiveDate,
    /// Paid in April or May for revenue of a March business date: old-year money collected in
    /// 出納整理期間.
    pub in_closing_period: bool,
}

/// Cash at one register for one shift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftCash {
    pub register: RegisterId,
    pub shift: ShiftId,
    pub float_opening: Yen,
    pub cash_taken: Yen,
    /// Cash refunds paid from the drawer, positive.
    pub cash_refunded: Yen,
    /// `float_opening + cash_taken − cash_refunded`.
    pub expected: Yen,
    pub counted: Option<Yen>,
    /// `counted − expected`.
    pub over_short: Option<Yen>,
    /// `counted − float_opening`: what goes to the bank; the float stays in the drawer.
    pub to_deposit: Option<Yen>,
}

/// The cash side of the day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CashSection {
    pub shifts: Vec<ShiftCash>,
    pub expected_total: Yen,
    /// Of the shifts that were counted.
    pub counted_total: Yen,
    pub over_short_total: Yen,
    pub to_deposit_total: Yen,
    /// The facility's cash deposit found in the bank statement.
    pub bank_line: Option<RecordRef>,
    pub deposit_due_on: NaiveDate,
}

/// One facility's reconciled business day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayResult {
    pub facility: FacilityId,
    pub business_date: BusinessDate,
    pub fiscal_year: FiscalYear,
    pub as_of: NaiveDate,
    pub revenue_lines: Vec<RevenueLine>,
    pub revenue_accounts: Vec<RevenueAccountTotal>,
    pub revenue_total: Yen,
    pub fee_lines: Vec<FeeLine>,
    pub fee_contracted_total: Yen,
    pub fee_charged_total: Yen,
    pub payouts: Vec<PayoutShare>,
    pub payouts_net_total: Yen,
    pub cash: CashSection,
    pub match_groups: Vec<MatchGroup>,
    pub timing_differences: Vec<TimingDifference>,
    pub exceptions: Vec<Exception>,
}

/// A total that is not the sum of its lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{total}: stated {stated}, but its lines sum to {computed:?}")]
pub struct TotalsError {
    pub total: String,
    pub stated: Yen,
    pub computed: Option<Yen>,
}

impl DayResult {
    /// Checks that every total is the exact sum of its lines, and each line's own arithmetic.
    pub fn check_totals(&self) -> Result<(), TotalsError> {
        fn check(total: &str, stated: Yen, lines: impl IntoIterator<Item = Yen>) -> Result<(), TotalsError> {
            let computed = Yen::checked_sum(lines).ok();
            if computed == Some(stated) {
                return Ok(());
            }
            Err(TotalsError { total: total.to_string(), stated, computed })
        }
        check("revenue total", self.revenue_total, self.revenue_lines.iter().map(|line| line.amount))?;
        check("revenue total by account", self.revenue_total, self.revenue_accounts.iter().map(|total| total.amount))?;
        for account in &self.revenue_accounts {
            let lines = self
                .revenue_lines
                .iter()
                .filter(|line| line.owner == account.owner && line.revenue_account == account.revenue_account);
            let name = format!("revenue account {} of {:?}", account.revenue_account, account.owner);
            check(&name, account.amount, lines.clone().map(|line| line.amount))?;
            if lines.count() != account.lines_count {
                return Err(TotalsError {
                    total: format!("{name} (line count)"),
                    stated: account.amount,
                    computed: None,
                });
            }
        }
        check("fees contracted", self.fee_contracted_total, self.fee_lines.iter().map(|line| line.fee_contracted))?;
        check("fees charged", self.fee_charged_total, self.fee_lines.iter().map(|line| line.fee_charged))?;
        check("payouts net", self.payouts_net_total, self.payouts.iter().map(|payout| payout.amount_net))?;
        for payout in &self.payouts {
            let name = format!("payout {:?} of {} on {}", payout.payout_id, payout.acquirer, payout.payout_date);
            let net = payout.amount_gross.checked_sub(payout.amount_fee).ok();
            if net != Some(payout.amount_net) {
                return Err(TotalsError { total: format!("{name} net"), stated: payout.amount_net, computed: net });
            }
        }
        let cash = &self.cash;
        check("cash expected", cash.expected_total, cash.shifts.iter().map(|shift| shift.expected))?;
        check("cash counted", cash.counted_total, cash.shifts.iter().filter_map(|shift| shift.counted))?;
        check("cash over/short", cash.over_short_total, cash.shifts.iter().filter_map(|shift| shift.over_short))?;
        check("cash to deposit", cash.to_deposit_total, cash.shifts.iter().filter_map(|shift| shift.to_deposit))?;
        for shift in &cash.shifts {
            let name = format!("shift {} expected cash", shift.shift);
            check(&name, shift.expected, [shift.float_opening, shift.cash_taken, shift.cash_refunded.checked_neg()])?;
            if let (Some(counted), Some(over_short)) = (shift.counted, shift.over_short) {
                check(&format!("shift {} counted", shift.shift), counted, [shift.expected, over_short])?;
            }
        }
        Ok(())
    }

    /// The exceptions of one kind.
    pub fn exceptions_of(&self, kind: ExceptionKind) -> impl Iterator<Item = &Exception> {
        self.exceptions.iter().filter(move |exception| exception.kind == kind)
    }
}

/// Reconciles one facility's business day.
///
/// `settlements` are all settlement files available (later dates included, all facilities);
/// `bank` the credits and debits of the statements available.
pub fn reconcile_day(
    facility_id: &FacilityId,
    business_date: BusinessDate,
    journal: &DayJournal,
    settlements: &Settlements,
    bank: &[StatementEntry],
    context: &DayContext<'_>,
) -> Result<DayResult, ReconcileError> {
    let facility = check_inputs(facility_id, business_date, journal, context)?;
    let all_lines = settlements.lines()?;
    let totals = SettlementTotals::of(settlements, &all_lines, context.config)?;
    let lines = matching::facility_lines(facility, journal, &all_lines);
    reconcile_facility_day(facility_id, business_date, journal, lines, &totals, bank, context)
}

/// The facility of the day, once the journal is known to be its and the day's.
fn check_inputs<'c>(
    facility_id: &FacilityId,
    business_date: BusinessDate,
    journal: &DayJournal,
    context: &DayContext<'c>,
) -> Result<&'c Facility, ReconcileError> {
    let facility =
        context.config.facility(facility_id).ok_or_else(|| ReconcileError::UnknownFacility(facility_id.clone()))?;
    if &journal.facility != facility_id || journal.business_date != business_date {
        return Err(ReconcileError::WrongJournal {
            expected: format!("{facility_id} on {business_date}"),
            found: format!("{} on {}", journal.facility, journal.business_date),
        });
    }
    Ok(facility)
}

/// What a facility-day needs from the settlement lines of every facility: the whole net of each
/// payout (what its bank credit must be) and each card file's net beside its trailer's stated
/// payout. Built in one pass over the lines, so that a facility-day can then be reconciled from
/// its own lines alone ([`reconcile_facility_day`]). It holds one entry per payout and per file,
/// never a line.
#[derive(Debug, Clone, Default)]
pub struct SettlementTotals {
    payout_net: BTreeMap<PayoutKey, Yen>,
    file_net: BTreeMap<String, Yen>,
    stated: Vec<StatedPayout>,
    /// The first brand seen on a line without a contract: a payout cannot be told without one.
    uncontracted: Option<Brand>,
}

impl SettlementTotals {
    pub fn new() -> SettlementTotals {
        SettlementTotals::default()
    }

    /// The totals of the lines of `settlements` (as [`Settlements::lines`] gives them).
    pub fn of(
        settlements: &Settlements,
        lines: &[SettlementLine],
        config: &Config,
    ) -> Result<SettlementTotals, ReconcileError> {
        let mut totals = SettlementTotals::new();
        for line in lines {
            totals.add_line(config, line)?;
        }
        for stated in settlements.stated_payouts() {
            totals.add_stated(stated);
        }
        Ok(totals)
    }

    /// Counts one line of any facility.
    pub fn add_line(&mut self, config: &Config, line: &SettlementLine) -> Result<(), ReconcileError> {
        let file_net = self.file_net.entry(line.file.clone()).or_insert(Yen::ZERO);
        *file_net = error::add(*file_net, line.amount_net, "a card file's net")?;
        if line.kind == LineKind::OutcomeUnknown {
            return Ok(());
        }
        if config.fee_rate(line.brand).is_none() {
            self.uncontracted.get_or_insert(line.brand);
            return Ok(());
        }
        let payout_net = self.payout_net.entry(payout_key(config, line)?).or_insert(Yen::ZERO);
        *payout_net = error::add(*payout_net, line.amount_net, "a payout")?;
        Ok(())
    }

    /// Records a card file's trailer.
    pub fn add_stated(&mut self, stated: StatedPayout) {
        self.stated.push(stated);
    }
}

/// Reconciles one facility's business day from the facility's own settlement lines (in file
/// order; lines of other facilities are not looked at) and the totals of every facility's lines.
/// [`reconcile_day`] is this after picking the facility's lines out of all of them.
pub fn reconcile_facility_day(
    facility_id: &FacilityId,
    business_date: BusinessDate,
    journal: &DayJournal,
    lines: Vec<SettlementLine>,
    totals: &SettlementTotals,
    bank: &[StatementEntry],
    context: &DayContext<'_>,
) -> Result<DayResult, ReconcileError> {
    let facility = check_inputs(facility_id, business_date, journal, context)?;
    let match_context = MatchContext {
        config: context.config,
        facility,
        calendar: context.calendar,
        business_date,
        as_of: context.as_of,
    };
    let outcome = matching::match_facility_lines(journal, lines, &match_context)?;
    let mut exceptions = outcome.exceptions.clone();
    let scoped: Vec<&SettlementLine> =
        outcome.lines.iter().zip(&outcome.in_scope).filter(|(_, in_scope)| **in_scope).map(|(line, _)| line).collect();

    let fee_lines = fee_lines(&scoped, context.config, &mut exceptions)?;
    let mut bank_claimed = vec![false; bank.len()];
    let payouts = payout_shares(&scoped, totals, business_date, bank, &mut bank_claimed, context, &mut exceptions)?;
    check_stated_payouts(totals, &payouts, &mut exceptions)?;
    let cash = cash_section(journal, facility, business_date, bank, &mut bank_claimed, context, &mut exceptions)?;
    let revenue_lines = revenue_lines(journal, facility, business_date);
    let revenue_accounts = revenue_accounts(&revenue_lines)?;

    Ok(DayResult {
        facility: facility_id.clone(),
        business_date,
        fiscal_year: business_date.fiscal_year(),
        as_of: context.as_of,
        revenue_total: error::sum(revenue_lines.iter().map(|line| line.amount), "revenue")?,
        revenue_lines,
        revenue_accounts,
        fee_contracted_total: error::sum(fee_lines.iter().map(|line| line.fee_contracted), "fees contracted")?,
        fee_charged_total: error::sum(fee_lines.iter().map(|line| line.fee_charged), "fees charged")?,
        fee_lines,
        payouts_net_total: error::sum(payouts.iter().map(|payout| payout.amount_net), "payouts")?,
        payouts,
        cash,
        match_groups: outcome.groups,
        timing_differences: outcome.timing_differences,
        exceptions,
    })
}

/// The contracted fee of a line's gross: the rate on a sale; on a refund or cancel, the fee the
/// sale of the same amount would have had, given back (so that a full refund returns exactly the
/// fee charged, whatever the rounding direction).
fn contracted_fee(config: &Config, line: &SettlementLine) -> Result<(String, Yen), ReconcileError> {
    let (acquirer, fee) = config.fee_rate(line.brand).ok_or(ReconcileError::NoContract(line.brand))?;
    let money = |source| ReconcileError::Money { what: "a contracted fee", source };
    let amount = if line.amount_gross.is_negative() {
        fee.rate.fee(line.amount_gross.checked_neg(), fee.rounding).map_err(money)?.checked_neg()
    } else {
        fee.rate.fee(line.amount_gross, fee.rounding).map_err(money)?
    };
    Ok((acquirer.id.clone(), amount))
}

fn fee_lines(
    scoped: &[&SettlementLine],
    config: &Config,
    exceptions: &mut Vec<Exception>,
) -> Result<Vec<FeeLine>, ReconcileError> {
    let mut fees = Vec::new();
    for line in scoped.iter().filter(|line| matches!(line.kind, LineKind::Sale | LineKind::Refund | LineKind::Cancel)) {
        let (acquirer, fee_contracted) = contracted_fee(config, line)?;
        let record = RecordRef::SettlementLine { file: line.file.clone(), line: line.line };
        if fee_contracted != line.amount_fee {
            let difference = error::subtract(line.amount_fee, fee_contracted, "a fee difference")?;
            let detail = format!(
                "{}: fee charged {}, contracted {} on {}",
                describe_line(line),
                line.amount_fee,
                fee_contracted,
                line.amount_gross
            );
            exceptions.push(Exception::new(ExceptionKind::FeeMismatch, vec![record.clone()], difference, detail));
        }
        fees.push(FeeLine {
            line: record,
            brand: line.brand,
            acquirer,
            amount_gross: line.amount_gross,
            fee_contracted,
            fee_charged: line.amount_fee,
        });
    }
    Ok(fees)
}

/// A payout, as lines name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct PayoutKey {
    source: Source,
    acquirer: String,
    payout_id: Option<PayoutId>,
    payout_date: NaiveDate,
}

fn payout_key(config: &Config, line: &SettlementLine) -> Result<PayoutKey, ReconcileError> {
    let (acquirer, _) = config.fee_rate(line.brand).ok_or(ReconcileError::NoContract(line.brand))?;
    Ok(PayoutKey {
        source: line.source,
        acquirer: acquirer.id.clone(),
        payout_id: line.payout_id.clone(),
        payout_date: line.payout_date,
    })
}

fn acquirer<'c>(config: &'c Config, id: &str) -> Option<&'c Acquirer> {
    config.acquirers.iter().find(|acquirer| acquirer.id == id)
}

fn is_closing_period(business_date: BusinessDate, paid_on: NaiveDate) -> bool {
    business_date.date().month() == 3
        && matches!(paid_on.month(), 4 | 5)
        && paid_on.year() == business_date.date().year()
}

/// A bank credit that may pay an expected deposit.
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

/// Finds the bank credit for an expected amount: one naming the reference first, then one from
/// the payer with the exact amount, then (as a different deposit) any from the payer.
fn find_credit(
    expected: &Expected<'_>,
    amount: Yen,
    bank: &[StatementEntry],
    claimed: &[bool],
) -> Option<(usize, bool)> {
    let open = |index: &usize| !claimed[*index] && expected.candidate(&bank[*index]);
    let by_reference = (0..bank.len()).filter(open).find(|&index| expected.names_reference(&bank[index]));
    if let Some(index) = by_reference {
        return Some((index, bank[index].amount == amount));
    }
    if let Some(index) = (0..bank.len()).filter(open).find(|&index| bank[index].amount == amount) {
        return Some((index, true));
    }
    (0..bank.len()).find(open).map(|index| (index, false))
}

fn bank_ref(entry: &StatementEntry) -> RecordRef {
    RecordRef::BankLine { reference: entry.reference.clone(), record_number: entry.record_number }
}

/// Raises the exception for an expected deposit that was found different or not found.
fn judge_deposit(
    found: Option<(usize, bool)>,
    record: RecordRef,
    amount: Yen,
    due_on: NaiveDate,
    bank: &[StatementEntry],
    as_of: NaiveDate,
    exceptions: &mut Vec<Exception>,
) -> Result<Option<RecordRef>, ReconcileError> {
    match found {
        Some((index, true)) => Ok(Some(bank_ref(&bank[index]))),
        Some((index, false)) => {
            let entry = &bank[index];
            let difference = error::subtract(entry.amount, amount, "a deposit difference")?;
            let detail = format!(
                "{:?}: expected {amount}, the bank credited {} on {}",
                record, entry.amount, entry.booking_date
            );
            let records = vec![record, bank_ref(entry)];
            exceptions.push(Exception::new(ExceptionKind::BankDepositDifferent, records, difference, detail));
            Ok(Some(bank_ref(entry)))
        }
        None if as_of > due_on => {
            let detail = format!("{:?}: {amount} was due by {due_on} and is not in the bank statement", record);
            exceptions.push(Exception::new(
                ExceptionKind::BankDepositMissing,
                vec![record],
                amount.checked_neg(),
                detail,
            ));
            Ok(None)
        }
        None => Ok(None),
    }
}

fn payout_shares(
    scoped: &[&SettlementLine],
    totals: &SettlementTotals,
    business_date: BusinessDate,
    bank: &[StatementEntry],
    bank_claimed: &mut [bool],
    context: &DayContext<'_>,
    exceptions: &mut Vec<Exception>,
) -> Result<Vec<PayoutShare>, ReconcileError> {
    let mut by_payout: BTreeMap<PayoutKey, Vec<&SettlementLine>> = BTreeMap::new();
    for line in scoped.iter().filter(|line| line.kind != LineKind::OutcomeUnknown) {
        by_payout.entry(payout_key(context.config, line)?).or_default().push(line);
    }
    if let (Some(brand), false) = (totals.uncontracted, by_payout.is_empty()) {
        return Err(ReconcileError::NoContract(brand));
    }
    let mut shares = Vec::new();
    for (key, lines) in by_payout {
        let payout_amount_net = totals.payout_net.get(&key).copied().unwrap_or(Yen::ZERO);
        shares.push(PayoutShare {
            acquirer: key.acquirer.clone(),
            payout_id: key.payout_id.clone(),
            payout_date: key.payout_date,
            lines: lines
                .iter()
                .map(|line| RecordRef::SettlementLine { file: line.file.clone(), line: line.line })
                .collect(),
            amount_gross: error::sum(lines.iter().map(|line| line.amount_gross), "a payout share")?,
            amount_fee: error::sum(lines.iter().map(|line| line.amount_fee), "a payout share")?,
            amount_net: error::sum(lines.iter().map(|line| line.amount_net), "a payout share")?,
            payout_amount_net,
            bank_line: None,
            due_on: context.calendar.next_business_day(key.payout_date)?,
            in_closing_period: is_closing_period(business_date, key.payout_date),
        });
    }
    // Exact credits are taken for every payout first, so that a payout whose credit differs
    // cannot take the credit of another payout from the same acquirer.
    let mut found = vec![None; shares.len()];
    for exact_only in [true, false] {
        for (position, share) in shares.iter().enumerate() {
            if found[position].is_some() {
                continue;
            }
            let Some(acquirer) = acquirer(context.config, &share.acquirer) else { continue };
            let expected = Expected {
                payer_name: &acquirer.depositor_name,
                kinds: &[BankTransactionKind::Transfer],
                reference: share.payout_id.as_ref().map(PayoutId::as_str),
                first_day: share.payout_date,
                due_on: share.due_on,
            };
            if let Some((index, exact)) = find_credit(&expected, share.payout_amount_net, bank, bank_claimed) {
                if exact || !exact_only {
                    bank_claimed[index] = true;
                    found[position] = Some((index, exact));
                }
            }
        }
    }
    for (share, found) in shares.iter_mut().zip(found) {
        let record = RecordRef::Payout {
            acquirer: share.acquirer.clone(),
            payout: share.payout_id.clone(),
            payout_date: share.payout_date,
        };
        share.bank_line =
            judge_deposit(found, record, share.payout_amount_net, share.due_on, bank, context.as_of, exceptions)?;
    }
    Ok(shares)
}

/// The card acquirer's trailer states the payout; it must be the sum of the file's net lines.
fn check_stated_payouts(
    totals: &SettlementTotals,
    payouts: &[PayoutShare],
    exceptions: &mut Vec<Exception>,
) -> Result<(), ReconcileError> {
    for stated in &totals.stated {
        let touched = payouts.iter().any(|payout| payout.payout_id.as_ref() == Some(&stated.payout_id));
        if !touched {
            continue;
        }
        let lines_net = totals.file_net.get(&stated.file).copied().unwrap_or(Yen::ZERO);
        if lines_net != stated.amount_net {
            let difference = error::subtract(stated.amount_net, lines_net, "a payout difference")?;
            let detail = format!(
                "{}: the trailer states a payout of {}, the lines' net sum to {lines_net}",
                stated.file, stated.amount_net
            );
            let records = vec![RecordRef::SettlementLine { file: stated.file.clone(), line: stated.line }];
            exceptions.push(Exception::new(ExceptionKind::PayoutMismatch, records, difference, detail));
        }
    }
    Ok(())
}

fn cash_payments(journal: &DayJournal, business_date: BusinessDate) -> impl Iterator<Item = &JournalPayment> {
    journal.payments.iter().filter(move |payment| {
        payment.method == Method::Cash && payment.business_date == business_date && payment.is_taken()
    })
}

fn cash_section(
    journal: &DayJournal,
    facility: &Facility,
    business_date: BusinessDate,
    bank: &[StatementEntry],
    bank_claimed: &mut [bool],
    context: &DayContext<'_>,
    exceptions: &mut Vec<Exception>,
) -> Result<CashSection, ReconcileError> {
    let mut shifts = Vec::new();
    for shift in &journal.shifts {
        let cash_taken = error::sum(
            cash_payments(journal, business_date)
                .filter(|payment| payment.shift == shift.shift_id)
                .map(|payment| payment.amount),
            "cash taken",
        )?;
        let cash_refunded = error::sum(
            journal
                .payments
                .iter()
                .flat_map(|payment| &payment.refunds)
                .filter(|refund| {
                    refund.channel == RefundChannel::Cash
                        && refund.shift == shift.shift_id
                        && refund.business_date() == business_date
                })
                .map(|refund| refund.amount),
            "cash refunded",
        )?;
        let expected = error::subtract(
            error::add(shift.float_opening, cash_taken, "cash expected")?,
            cash_refunded,
            "cash expected",
        )?;
        let over_short =
            shift.cash_counted.map(|counted| error::subtract(counted, expected, "over/short")).transpose()?;
        let to_deposit = shift
            .cash_counted
            .map(|counted| error::subtract(counted, shift.float_opening, "cash to deposit"))
            .transpose()?;
        if let Some(over_short) = over_short.filter(|amount| *amount != Yen::ZERO) {
            let kind = if over_short.is_negative() { ExceptionKind::CashShort } else { ExceptionKind::CashOver };
            let record = RecordRef::Shift { register: shift.register.clone(), shift: shift.shift_id.clone() };
            let detail = format!(
                "register {} shift {}: expected {expected}, counted {}",
                shift.register,
                shift.shift_id,
                shift.cash_counted.unwrap_or(Yen::ZERO)
            );
            exceptions.push(Exception::new(kind, vec![record], over_short, detail));
        }
        shifts.push(ShiftCash {
            register: shift.register.clone(),
            shift: shift.shift_id.clone(),
            float_opening: shift.float_opening,
            cash_taken,
            cash_refunded,
            expected,
            counted: shift.cash_counted,
            over_short,
            to_deposit,
        });
    }
    let to_deposit_total = error::sum(shifts.iter().filter_map(|shift| shift.to_deposit), "cash to deposit")?;
    let deposit_due_on = context.calendar.next_business_day(business_date.date())?;
    let mut bank_line = None;
    // A drawer short by more than its takings leaves nothing to deposit; the shortage is
    // already on the list as such.
    if to_deposit_total > Yen::ZERO {
        let expected = Expected {
            payer_name: &facility.depositor_name,
            kinds: &[BankTransactionKind::Cash, BankTransactionKind::Transfer],
            reference: None,
            first_day: business_date.date(),
            due_on: deposit_due_on,
        };
        let found = find_credit(&expected, to_deposit_total, bank, bank_claimed);
        if let Some((index, _)) = found {
            bank_claimed[index] = true;
        }
        let record = RecordRef::CashDeposit { business_date: business_date.date() };
        bank_line = judge_deposit(found, record, to_deposit_total, deposit_due_on, bank, context.as_of, exceptions)?;
    }
    Ok(CashSection {
        expected_total: error::sum(shifts.iter().map(|shift| shift.expected), "cash expected")?,
        counted_total: error::sum(shifts.iter().filter_map(|shift| shift.counted), "cash counted")?,
        over_short_total: error::sum(shifts.iter().filter_map(|shift| shift.over_short), "over/short")?,
        to_deposit_total,
        shifts,
        bank_line,
        deposit_due_on,
    })
}

/// Whose revenue the facility's takings are.
fn owner_of(facility: &Facility) -> Owner {
    match facility.revenue_rule {
        RevenueRule::Shiyoryo => Owner::City,
        RevenueRule::RiyoRyokin => facility.owner.clone(),
    }
}

/// The sale lines of the sales paid on the day: a sale counts once one of its payments of the
/// day was taken (a refund later does not unbook the sale; it is a refund of its own day).
fn revenue_lines(journal: &DayJournal, facility: &Facility, business_date: BusinessDate) -> Vec<RevenueLine> {
    let paid: BTreeSet<&SaleId> = journal
        .payments
        .iter()
        .filter(|payment| payment.business_date == business_date && payment.is_taken())
        .map(|payment| &payment.sale_id)
        .collect();
    let owner = owner_of(facility);
    journal
        .sale_lines
        .iter()
        .filter(|line| paid.contains(&line.sale_id))
        .map(|line| RevenueLine {
            sale_id: line.sale_id.clone(),
            fee_item: line.fee_item.clone(),
            revenue_account: line.revenue_account.clone(),
            owner: owner.clone(),
            quantity: line.quantity,
            amount: line.amount,
        })
        .collect()
}

fn revenue_accounts(lines: &[RevenueLine]) -> Result<Vec<RevenueAccountTotal>, ReconcileError> {
    let mut totals: BTreeMap<(Owner, String), (usize, Yen)> = BTreeMap::new();
    for line in lines {
        let entry = totals.entry((line.owner.clone(), line.revenue_account.clone())).or_insert((0, Yen::ZERO));
        entry.0 += 1;
        entry.1 = error::add(entry.1, line.amount, "a revenue account")?;
    }
    Ok(totals
        .into_iter()
        .map(|((owner, revenue_account), (lines_count, amount))| RevenueAccountTotal {
            owner,
            revenue_account,
            lines_count,
            amount,
        })
        .collect())
}
