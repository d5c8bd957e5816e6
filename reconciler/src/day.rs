//! One facility's business day, reconciled: the money and the exceptions.
//!
//! [`reconcile_facility_day`] matches the journal to the settlements ([`crate::matching`]),
//! checks every fee against the contract, takes the facility's cash deposit and its bank lines
//! from the run's bank reconciliation ([`crate::bank`]), and adds up the day: revenue per fee
//! line under its revenue account and owner, fees per settled transaction, the facility's share
//! of each payout with what the books owe on it ([`crate::receivables`]), the refunds, cash per
//! shift, and the day's net difference ([`Difference`]). [`DayResult::check_totals`] proves every
//! total is the sum of its lines and that the exceptions sum to the net difference.
//!
//! Dates are inputs: `as_of` is the day the reconciliation is run for, and decides what is late.
//! A payment belongs to the fiscal year of its business date, whatever day it settles or is paid
//! (a payment of 31 March paid out in April is old-year revenue, collected in 出納整理期間).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use pos_config::{Config, Facility, Owner};
use pos_core::{Brand, BusinessDate, FacilityId, FeeItemCode, FiscalYear, Method, RegisterId, Yen};

use crate::bank::{self, BankContext, BankReconciliation, ExpectedDeposit};
use crate::calendar::BankCalendar;
use crate::describe;
use crate::error::{self, ReconcileError};
use crate::exceptions::{Exception, ExceptionKind, RecordRef, Wording};
use crate::inputs::bank::StatementEntry;
use crate::journal::{DayJournal, JournalPayment, RefundChannel, SaleId, ShiftId};
use crate::matching::{self, MatchContext, MatchGroup, MatchOutcome, TimingDifference};
use crate::receivables::{self, owner_of, PayoutShare, RefundBooking, UnpaidReceivable};
use crate::settlements::{LineKind, SettlementLine, SettlementTotals, Settlements};

/// What a day is reconciled under, besides its inputs.
#[derive(Debug, Clone, Copy)]
pub struct DayContext<'a> {
    pub config: &'a Config,
    pub calendar: &'a BankCalendar,
    /// The day the reconciliation is run for. Nothing is late before its due date has passed.
    pub as_of: NaiveDate,
}

impl<'a> DayContext<'a> {
    pub fn bank(&self) -> BankContext<'a> {
        BankContext { config: self.config, calendar: self.calendar, as_of: self.as_of }
    }
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

/// Cash at one register for one shift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftCash {
    pub register: RegisterId,
    pub shift: ShiftId,
    pub opened_at: Option<chrono::DateTime<chrono::FixedOffset>>,
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

/// The day's net difference, from its figures alone: what the city got or will get, less what
/// the journal says it should. The day's exceptions sum to it (the sign rule of
/// [`crate::exceptions`]); what is still due is in neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Difference {
    /// What the journal expects settled of the day's cashless payments and refunds (amounts
    /// taken, refunds negative), leaving out what is still due.
    pub journal_cashless: Yen,
    /// The gross of the day's sale, refund and cancel lines that move money.
    pub settled_gross: Yen,
    /// The contracted fee on those lines, and what was charged on them.
    pub fee_contracted: Yen,
    pub fee_charged: Yen,
    /// The net of the lines nothing in the journal compares with (chargebacks, adjustments).
    pub other_lines_net: Yen,
    pub cash_over_short: Yen,
    /// The bank against the cash to deposit: credited less expected, or all of it once overdue.
    pub cash_deposit_difference: Yen,
    /// Credits from the facility's depositor that nothing explains.
    pub bank_unmatched: Yen,
    pub net_difference: Yen,
}

impl Difference {
    /// The net difference its parts give.
    pub fn computed(&self) -> Option<Yen> {
        let settled = self.settled_gross.checked_sub(self.journal_cashless).ok()?;
        let fees = self.fee_contracted.checked_sub(self.fee_charged).ok()?;
        Yen::checked_sum([
            settled,
            fees,
            self.other_lines_net,
            self.cash_over_short,
            self.cash_deposit_difference,
            self.bank_unmatched,
        ])
        .ok()
    }
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
    /// What the acquirers owe that is in no payout yet.
    pub unpaid: Vec<UnpaidReceivable>,
    pub refunds: Vec<RefundBooking>,
    pub cash: CashSection,
    pub difference: Difference,
    pub match_groups: Vec<MatchGroup>,
    /// What is due and not late: not yet settled, or a 処理未了 before its deadline.
    pub timing_differences: Vec<TimingDifference>,
    pub exceptions: Vec<Exception>,
}

/// A total that is not the sum of its lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{total}: stated {stated}, but its lines sum to {}", computed.map_or_else(|| "an overflow".to_string(), |sum| sum.to_string()))]
pub struct TotalsError {
    pub total: String,
    pub stated: Yen,
    pub computed: Option<Yen>,
}

fn check(total: &str, stated: Yen, lines: impl IntoIterator<Item = Yen>) -> Result<(), TotalsError> {
    let computed = Yen::checked_sum(lines).ok();
    if computed == Some(stated) {
        return Ok(());
    }
    Err(TotalsError { total: total.to_string(), stated, computed })
}

impl DayResult {
    /// Checks that every total is the exact sum of its lines, each line's own arithmetic, that
    /// the exceptions sum to the day's net difference, and that what the books owe on each
    /// payout is the payout's net.
    pub fn check_totals(&self) -> Result<(), TotalsError> {
        check("revenue total", self.revenue_total, self.revenue_lines.iter().map(|line| line.amount))?;
        check("revenue total by account", self.revenue_total, self.revenue_accounts.iter().map(|total| total.amount))?;
        for account in &self.revenue_accounts {
            let lines = self
                .revenue_lines
                .iter()
                .filter(|line| line.owner == account.owner && line.revenue_account == account.revenue_account);
            let name = format!("revenue account {} of {}", account.revenue_account, owner_text(&account.owner));
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
            self.check_payout(payout)?;
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
        for refund in &self.refunds {
            let name = format!("refund {} by revenue account", refund.record.key());
            check(&name, refund.amount, refund.allocations.iter().map(|allocation| allocation.amount))?;
        }
        let difference = &self.difference;
        if difference.computed() != Some(difference.net_difference) {
            return Err(TotalsError {
                total: "net difference".to_string(),
                stated: difference.net_difference,
                computed: difference.computed(),
            });
        }
        check(
            "exceptions against the net difference",
            difference.net_difference,
            self.exceptions.iter().map(|exception| exception.amount_at_stake),
        )
    }

    /// A payout share's arithmetic, and what the books owe on it against its net.
    fn check_payout(&self, payout: &PayoutShare) -> Result<(), TotalsError> {
        let name = format!("payout {}", payout.key.record().key());
        let net = payout.amount_gross.checked_sub(payout.amount_fee).ok();
        if net != Some(payout.amount_net) {
            return Err(TotalsError { total: format!("{name} net"), stated: payout.amount_net, computed: net });
        }
        let held = payout.fees_held.iter().map(|held| held.amount);
        check(&format!("{name} fees"), payout.amount_fee, held.chain([payout.fee_clean]))?;
        let owed = payout.differences().ok().map(|differences| {
            [payout.takings, payout.refunds.checked_neg(), differences, payout.amount_fee.checked_neg()]
        });
        match owed {
            Some(parts) => check(&format!("{name} receivable"), payout.amount_net, parts),
            None => Err(TotalsError { total: format!("{name} receivable"), stated: payout.amount_net, computed: None }),
        }
    }

    /// The exceptions of one kind.
    pub fn exceptions_of(&self, kind: ExceptionKind) -> impl Iterator<Item = &Exception> {
        self.exceptions.iter().filter(move |exception| exception.kind == kind)
    }
}

fn owner_text(owner: &Owner) -> String {
    match owner {
        Owner::City => "the city".to_string(),
        Owner::Operator(operator) => operator.to_string(),
    }
}

/// Reconciles one facility's business day on its own, with a bank reconciliation of `bank`
/// against this day's cash deposit and every payout of `settlements` (tests and one-off checks;
/// a run reconciles the bank once for all its facility-days).
pub fn reconcile_day(
    facility_id: &FacilityId,
    business_date: BusinessDate,
    journal: &DayJournal,
    settlements: &Settlements,
    bank: &[StatementEntry],
    context: &DayContext<'_>,
) -> Result<DayResult, ReconcileError> {
    reconcile_day_with_bank(facility_id, business_date, journal, settlements, bank, context).map(|(day, _)| day)
}

/// As [`reconcile_day`], with the bank reconciliation (the city's list) beside the day.
pub fn reconcile_day_with_bank(
    facility_id: &FacilityId,
    business_date: BusinessDate,
    journal: &DayJournal,
    settlements: &Settlements,
    bank: &[StatementEntry],
    context: &DayContext<'_>,
) -> Result<(DayResult, BankReconciliation), ReconcileError> {
    let facility = check_inputs(facility_id, business_date, journal, context)?;
    let all_lines = settlements.lines()?;
    let totals = SettlementTotals::of(settlements, &all_lines, context.config)?;
    let deposits = expected_deposit(journal, business_date).into_iter().collect::<Vec<_>>();
    let reconciliation = bank::reconcile_bank(bank, &totals, &deposits, &context.bank())?;
    let lines = matching::facility_lines(facility, journal, &all_lines);
    let day = reconcile_facility_day(facility_id, business_date, journal, lines, &totals, &reconciliation, context)?;
    Ok((day, reconciliation))
}

/// The facility-day's cash to deposit, as the bank must see it: counted less float, over its
/// counted shifts.
pub fn expected_deposit(journal: &DayJournal, business_date: BusinessDate) -> Option<ExpectedDeposit> {
    let counted = journal.shifts.iter().filter_map(|shift| shift.cash_counted.map(|counted| (counted, shift)));
    let amount =
        Yen::checked_sum(counted.map(|(counted, shift)| counted.checked_sub(shift.float_opening).unwrap_or(Yen::ZERO)))
            .ok()?;
    Some(ExpectedDeposit { facility: journal.facility.clone(), business_date, amount })
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

/// Reconciles one facility's business day from the facility's own settlement lines (in file
/// order; lines of other facilities are not looked at), the totals of every facility's lines,
/// and the run's bank reconciliation.
pub fn reconcile_facility_day(
    facility_id: &FacilityId,
    business_date: BusinessDate,
    journal: &DayJournal,
    lines: Vec<SettlementLine>,
    totals: &SettlementTotals,
    bank: &BankReconciliation,
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
    // The spool hands a facility its own lines and the QR lines whose terminal code names no
    // register; of those, only the ones carrying its payments' merchant payment ids are its.
    let lines = matching::facility_lines(facility, journal, &lines);
    let outcome = matching::match_facility_lines(journal, lines, &match_context)?;
    let mut exceptions = outcome.exceptions.clone();
    let fee_lines = fee_lines(&outcome, context.config, &mut exceptions)?;
    let cash = cash_section(journal, facility, business_date, bank, context, &mut exceptions)?;
    exceptions.extend(bank.facility_exceptions(facility_id, business_date).iter().cloned());
    let (payouts, unpaid) = receivables::payout_shares(
        &outcome,
        business_date,
        &exceptions,
        totals,
        bank,
        context.config,
        context.calendar,
    )?;
    let owner = owner_of(facility);
    let refunds = receivables::refund_bookings(journal, &outcome, business_date, &owner, context.config)?;
    let revenue_lines = revenue_lines(journal, &owner, business_date);
    let revenue_accounts = revenue_accounts(&revenue_lines)?;
    let difference = difference(&outcome, &fee_lines, &cash, bank, facility_id, business_date)?;

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
        unpaid,
        refunds,
        cash,
        difference,
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

/// The lines whose fee the contract sets: the day's sales, refunds and cancels that move money.
fn compared_lines(outcome: &MatchOutcome) -> impl Iterator<Item = &SettlementLine> {
    outcome.lines.iter().enumerate().filter_map(move |(index, line)| {
        let compared = matches!(line.kind, LineKind::Sale | LineKind::Refund | LineKind::Cancel);
        (outcome.in_scope[index] && outcome.moves_money[index] && compared).then_some(line)
    })
}

fn fee_lines(
    outcome: &MatchOutcome,
    config: &Config,
    exceptions: &mut Vec<Exception>,
) -> Result<Vec<FeeLine>, ReconcileError> {
    let mut fees = Vec::new();
    for line in compared_lines(outcome) {
        let (acquirer, fee_contracted) = contracted_fee(config, line)?;
        let record = RecordRef::SettlementLine { file: line.file.clone(), line: line.line };
        if fee_contracted != line.amount_fee {
            // Charged above the contract, the city gets less: negative.
            let difference = error::subtract(fee_contracted, line.amount_fee, "a fee difference")?;
            let text = describe::line(line);
            let rate = config.fee_rate(line.brand).map(|(_, fee)| fee.rate.to_string()).unwrap_or_default();
            let detail = Wording::new(
                format!(
                    "{} の手数料は {} ですが、契約（{rate}）では {} です。差額は {} です。",
                    text.ja,
                    describe::yen_ja(line.amount_fee),
                    describe::yen_ja(fee_contracted),
                    describe::signed_yen_ja(difference)
                ),
                format!(
                    "{}: the fee charged is {}, the contract ({rate}) gives {}: a difference of {}.",
                    text.en,
                    describe::yen_en(line.amount_fee),
                    describe::yen_en(fee_contracted),
                    describe::signed_yen_en(difference)
                ),
            );
            let label = describe::line_label(&line.file, line.line);
            exceptions.push(Exception::new(
                ExceptionKind::FeeMismatch,
                vec![(record.clone(), label)],
                difference,
                detail,
            ));
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

/// The day's net difference from its figures (never from its exceptions).
fn difference(
    outcome: &MatchOutcome,
    fee_lines: &[FeeLine],
    cash: &CashSection,
    bank: &BankReconciliation,
    facility: &FacilityId,
    business_date: BusinessDate,
) -> Result<Difference, ReconcileError> {
    let journal_cashless =
        error::sum(outcome.items.iter().filter(|item| !item.pending).map(|item| item.expected), "the journal")?;
    let settled_gross = error::sum(compared_lines(outcome).map(|line| line.amount_gross), "settled gross")?;
    let other_lines = outcome.lines.iter().enumerate().filter(|(index, line)| {
        outcome.in_scope[*index]
            && outcome.moves_money[*index]
            && matches!(line.kind, LineKind::Chargeback | LineKind::ChargebackReversal | LineKind::Adjustment)
    });
    let other_lines_net = error::sum(other_lines.map(|(_, line)| line.amount_net), "other lines")?;
    let mut difference = Difference {
        journal_cashless,
        settled_gross,
        fee_contracted: error::sum(fee_lines.iter().map(|line| line.fee_contracted), "fees contracted")?,
        fee_charged: error::sum(fee_lines.iter().map(|line| line.fee_charged), "fees charged")?,
        other_lines_net,
        cash_over_short: cash.over_short_total,
        cash_deposit_difference: bank.deposit(facility, business_date).map_or(Yen::ZERO, |deposit| deposit.difference),
        bank_unmatched: bank.unmatched_of(facility, business_date)?,
        net_difference: Yen::ZERO,
    };
    difference.net_difference = difference.computed().ok_or(ReconcileError::Money {
        what: "the net difference",
        source: pos_core::MoneyError::Overflow("the net difference"),
    })?;
    Ok(difference)
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
    bank: &BankReconciliation,
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
        if let (Some(over_short), Some(counted)) =
            (over_short.filter(|amount| *amount != Yen::ZERO), shift.cash_counted)
        {
            let kind = if over_short.is_negative() { ExceptionKind::CashShort } else { ExceptionKind::CashOver };
            let record = RecordRef::Shift { register: shift.register.clone(), shift: shift.shift_id.clone() };
            let name = describe::shift(&shift.register, &shift.shift_id, shift.opened_at);
            let detail = Wording::new(
                format!(
                    "{} の現金は、あるべき額 {}（釣銭準備金 {} + 収納 {} − 現金返金 {}）に対し、実査額 {} で、{} です。",
                    name.ja,
                    describe::yen_ja(expected),
                    describe::yen_ja(shift.float_opening),
                    describe::yen_ja(cash_taken),
                    describe::yen_ja(cash_refunded),
                    describe::yen_ja(counted),
                    describe::signed_yen_ja(over_short)
                ),
                format!(
                    "{}: expected {} (float {} + taken {} − refunded {}), counted {}: {}.",
                    name.en,
                    describe::yen_en(expected),
                    describe::yen_en(shift.float_opening),
                    describe::yen_en(cash_taken),
                    describe::yen_en(cash_refunded),
                    describe::yen_en(counted),
                    describe::signed_yen_en(over_short)
                ),
            );
            exceptions.push(Exception::new(kind, vec![(record, name)], over_short, detail));
        }
        shifts.push(ShiftCash {
            register: shift.register.clone(),
            shift: shift.shift_id.clone(),
            opened_at: shift.opened_at,
            float_opening: shift.float_opening,
            cash_taken,
            cash_refunded,
            expected,
            counted: shift.cash_counted,
            over_short,
            to_deposit,
        });
    }
    let deposit = bank.deposit(&facility.id, business_date);
    Ok(CashSection {
        expected_total: error::sum(shifts.iter().map(|shift| shift.expected), "cash expected")?,
        counted_total: error::sum(shifts.iter().filter_map(|shift| shift.counted), "cash counted")?,
        over_short_total: error::sum(shifts.iter().filter_map(|shift| shift.over_short), "over/short")?,
        to_deposit_total: error::sum(shifts.iter().filter_map(|shift| shift.to_deposit), "cash to deposit")?,
        shifts,
        bank_line: deposit.and_then(|deposit| deposit.credit).map(|index| bank.lines[index].record()),
        deposit_due_on: match deposit {
            Some(deposit) => deposit.due_on,
            None => context.calendar.next_business_day(business_date.date())?,
        },
    })
}

/// The sale lines of the sales paid on the day: a sale counts once one of its payments of the
/// day was taken (a refund later does not unbook the sale; it is a refund of its own day).
fn revenue_lines(journal: &DayJournal, owner: &Owner, business_date: BusinessDate) -> Vec<RevenueLine> {
    let paid: BTreeSet<&SaleId> = journal
        .payments
        .iter()
        .filter(|payment| payment.business_date == business_date && payment.is_taken())
        .map(|payment| &payment.sale_id)
        .collect();
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
