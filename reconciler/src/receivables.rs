//! What a facility-day books against the acquirers: each payout's receivable (未収金) and fees,
//! and each refund of the day, as the accounting export needs them.
//!
//! **Receivables.** Revenue is booked gross and its cashless part debited to the receivable of
//! the acquirer that takes the brand, per payout: a payment matched to settlement lines belongs
//! to the payout of its first line; one in no settlement yet (due, or missing) to the acquirer's
//! "not in a payout yet" row ([`UnpaidReceivable`]). A refund through the brand is credited back
//! to the receivable of the payout that carries it. Whatever the lines of a payout settled beyond
//! (or short of) what the journal says ([`PayoutShare::differences`]: a line the journal never
//! saw, a duplicate, an amount that differs, a chargeback) goes to the suspense account until
//! treasury resolves it, and the payout's fees are credited to it, so that the receivable booked
//! for each payout is exactly the payout's net: the totals checker asserts it.
//!
//! **Fees.** A line's fee is expensed when no exception questions the line, and held in suspense
//! (仮払金) while one does ([`HeldFee`], with the exceptions' keys): a fee charged on a duplicate,
//! on a sale the journal never saw or above the contract is not the city's expense until the
//! acquirer has answered.
//!
//! **Refunds** ([`RefundBooking`]), each its own entry with the revenue account of the sale it
//! refunds (the sale's lines, first lines first): within the original revenue's fiscal year or
//! its 出納整理期間 (to 31 May after its March), taken back out of that revenue (歳入戻出);
//! after that, the year's accounts are closed and the refund is paid as 過誤納還付金 from the
//! current year's expenditure (地方自治法施行令 第165条の7, 第165条の8). A refund through the
//! brand is credited to the acquirer's receivable, a cash refund to cash.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use pos_config::{Config, Owner};
use pos_core::{Brand, BusinessDate, FiscalYear, Yen};

use crate::bank::BankReconciliation;
use crate::calendar::BankCalendar;
use crate::describe;
use crate::error::{self, ReconcileError};
use crate::exceptions::{Exception, RecordRef, Wording};
use crate::journal::{DayJournal, JournalPayment, JournalRefund, RefundChannel};
use crate::matching::MatchOutcome;
use crate::settlements::{PayoutKey, SettlementTotals};

/// The fee of one line an exception questions, held in suspense until it is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldFee {
    pub line: RecordRef,
    pub label: Wording,
    pub amount: Yen,
    /// The exceptions that question the line; the fee is expensed once all are resolved.
    pub exception_keys: Vec<String>,
}

/// The facility's part of one acquirer payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutShare {
    pub key: PayoutKey,
    pub lines: Vec<RecordRef>,
    pub amount_gross: Yen,
    pub amount_fee: Yen,
    pub amount_net: Yen,
    /// The day's payments this payout pays, as the journal has them (gross).
    pub takings: Yen,
    /// The day's refunds through the brand it carries, positive.
    pub refunds: Yen,
    /// Fees of lines no exception questions: the city's expense.
    pub fee_clean: Yen,
    /// Fees of lines an exception questions.
    pub fees_held: Vec<HeldFee>,
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

impl PayoutShare {
    /// What the lines settled beyond what the journal says (negative: short of it).
    pub fn differences(&self) -> Result<Yen, ReconcileError> {
        let journal = error::subtract(self.takings, self.refunds, "a payout's journal side")?;
        error::subtract(self.amount_gross, journal, "a payout's differences")
    }

    pub fn fee_held(&self) -> Result<Yen, ReconcileError> {
        error::sum(self.fees_held.iter().map(|held| held.amount), "fees held")
    }
}

/// The day's records an acquirer owes that are in no payout yet: due, or missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpaidReceivable {
    pub acquirer: String,
    pub takings: Yen,
    pub refunds: Yen,
}

impl UnpaidReceivable {
    pub fn net(&self) -> Result<Yen, ReconcileError> {
        error::subtract(self.takings, self.refunds, "an unpaid receivable")
    }
}

/// How a refund is booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundBook {
    /// 歳入戻出: taken back out of the revenue account it was booked to.
    RevenueReduction,
    /// 過誤納還付金: paid from the current year's expenditure, the original year being closed.
    ClosedYearRefund,
}

impl RefundBook {
    pub fn code(self) -> &'static str {
        match self {
            RefundBook::RevenueReduction => "revenue_reduction",
            RefundBook::ClosedYearRefund => "closed_year_refund",
        }
    }

    pub fn name(self) -> Wording {
        match self {
            RefundBook::RevenueReduction => Wording::new("歳入戻出", "taken back from revenue"),
            RefundBook::ClosedYearRefund => Wording::new("過誤納還付金", "refund of a closed year's revenue"),
        }
    }
}

/// A refund's part of one revenue account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundAllocation {
    /// The 歳入科目 of the refunded sale's line; `None` when the journal has no line for it.
    pub revenue_account: Option<String>,
    pub owner: Owner,
    pub amount: Yen,
}

/// One refund of the day, as the books take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundBooking {
    pub record: RecordRef,
    pub label: Wording,
    pub channel: RefundChannel,
    pub brand: Brand,
    /// The acquirer's payout the money comes back from (through the brand, once settled).
    pub payout: Option<PayoutKey>,
    /// The acquirer that takes the brand (through the brand).
    pub acquirer: Option<String>,
    pub original_fiscal_year: FiscalYear,
    pub book: RefundBook,
    pub amount: Yen,
    pub allocations: Vec<RefundAllocation>,
}

/// Whose revenue the facility's takings are.
pub fn owner_of(facility: &pos_config::Facility) -> Owner {
    match facility.revenue_rule {
        pos_config::RevenueRule::Shiyoryo => Owner::City,
        pos_config::RevenueRule::RiyoRyokin => facility.owner.clone(),
    }
}

fn is_closing_period(business_date: BusinessDate, paid_on: NaiveDate) -> bool {
    use chrono::Datelike;
    business_date.date().month() == 3
        && matches!(paid_on.month(), 4 | 5)
        && paid_on.year() == business_date.date().year()
}

/// The payout of a group's first line that moves money, if any.
fn payout_of_group(
    outcome: &MatchOutcome,
    group: Option<usize>,
    config: &Config,
) -> Result<Option<PayoutKey>, ReconcileError> {
    let Some(group) = group else { return Ok(None) };
    let first = outcome.groups[group].lines.iter().copied().find(|&index| outcome.moves_money[index]);
    first.map(|index| PayoutKey::of(config, &outcome.lines[index])).transpose()
}

/// The facility's payout shares and unpaid receivables of the day. `exceptions` are the
/// facility-day's (they decide which fees are held).
pub fn payout_shares(
    outcome: &MatchOutcome,
    business_date: BusinessDate,
    exceptions: &[Exception],
    totals: &SettlementTotals,
    bank: &BankReconciliation,
    config: &Config,
    calendar: &BankCalendar,
) -> Result<(Vec<PayoutShare>, Vec<UnpaidReceivable>), ReconcileError> {
    let mut disputed: HashMap<&RecordRef, Vec<String>> = HashMap::new();
    for exception in exceptions {
        for line in exception.disputed_lines() {
            disputed.entry(line).or_default().push(exception.key());
        }
    }
    let mut shares: BTreeMap<PayoutKey, PayoutShare> = BTreeMap::new();
    for (index, line) in outcome.lines.iter().enumerate() {
        if !outcome.in_scope[index] || !outcome.moves_money[index] {
            continue;
        }
        if let Some(brand) = totals.uncontracted() {
            return Err(ReconcileError::NoContract(brand));
        }
        let key = PayoutKey::of(config, line)?;
        let share = match shares.get_mut(&key) {
            Some(share) => share,
            None => {
                let share = PayoutShare {
                    key: key.clone(),
                    lines: Vec::new(),
                    amount_gross: Yen::ZERO,
                    amount_fee: Yen::ZERO,
                    amount_net: Yen::ZERO,
                    takings: Yen::ZERO,
                    refunds: Yen::ZERO,
                    fee_clean: Yen::ZERO,
                    fees_held: Vec::new(),
                    payout_amount_net: bank.payout(&key).map_or(totals.payout_net(&key)?, |payout| payout.expected_net),
                    bank_line: bank.payout_credit(&key).map(|credit| credit.record()),
                    due_on: calendar.next_business_day(key.payout_date)?,
                    in_closing_period: is_closing_period(business_date, key.payout_date),
                };
                shares.entry(key).or_insert(share)
            }
        };
        let record = RecordRef::SettlementLine { file: line.file.clone(), line: line.line };
        share.amount_gross = error::add(share.amount_gross, line.amount_gross, "a payout share")?;
        share.amount_fee = error::add(share.amount_fee, line.amount_fee, "a payout share")?;
        share.amount_net = error::add(share.amount_net, line.amount_net, "a payout share")?;
        match disputed.get(&record) {
            Some(keys) if line.amount_fee != Yen::ZERO => share.fees_held.push(HeldFee {
                line: record.clone(),
                label: describe::line_label(&line.file, line.line),
                amount: line.amount_fee,
                exception_keys: keys.clone(),
            }),
            _ => share.fee_clean = error::add(share.fee_clean, line.amount_fee, "fees")?,
        }
        share.lines.push(record);
    }
    let mut unpaid: BTreeMap<String, UnpaidReceivable> = BTreeMap::new();
    for item in outcome.items.iter().filter(|item| item.expected != Yen::ZERO) {
        let (takings, refunds) = if item.expected.is_negative() {
            (Yen::ZERO, item.expected.checked_neg())
        } else {
            (item.expected, Yen::ZERO)
        };
        match payout_of_group(outcome, item.group, config)?.and_then(|key| shares.get_mut(&key)) {
            Some(share) => {
                share.takings = error::add(share.takings, takings, "takings")?;
                share.refunds = error::add(share.refunds, refunds, "refunds")?;
            }
            None => {
                let (acquirer, _) = config.fee_rate(item.brand).ok_or(ReconcileError::NoContract(item.brand))?;
                let row = unpaid.entry(acquirer.id.clone()).or_insert(UnpaidReceivable {
                    acquirer: acquirer.id.clone(),
                    takings: Yen::ZERO,
                    refunds: Yen::ZERO,
                });
                row.takings = error::add(row.takings, takings, "takings")?;
                row.refunds = error::add(row.refunds, refunds, "refunds")?;
            }
        }
    }
    Ok((shares.into_values().collect(), unpaid.into_values().collect()))
}

/// The refund's parts by the revenue accounts of the sale it refunds, first lines first.
fn allocate(
    journal: &DayJournal,
    payment: &JournalPayment,
    amount: Yen,
    owner: &Owner,
) -> Result<Vec<RefundAllocation>, ReconcileError> {
    let mut left = amount;
    let mut allocations: Vec<RefundAllocation> = Vec::new();
    for line in journal.sale_lines.iter().filter(|line| line.sale_id == payment.sale_id) {
        if left <= Yen::ZERO {
            break;
        }
        let part = left.min(line.amount);
        left = error::subtract(left, part, "a refund's allocation")?;
        match allocations
            .iter_mut()
            .find(|allocation| allocation.revenue_account.as_ref() == Some(&line.revenue_account))
        {
            Some(allocation) => allocation.amount = error::add(allocation.amount, part, "a refund's allocation")?,
            None => allocations.push(RefundAllocation {
                revenue_account: Some(line.revenue_account.clone()),
                owner: owner.clone(),
                amount: part,
            }),
        }
    }
    if left > Yen::ZERO {
        allocations.push(RefundAllocation { revenue_account: None, owner: owner.clone(), amount: left });
    }
    Ok(allocations)
}

/// How a refund made on `refunded_on` of revenue of `original` is booked.
pub fn refund_book(original: BusinessDate, refunded_on: NaiveDate) -> RefundBook {
    let closing_period_end = NaiveDate::from_ymd_opt(original.fiscal_year().start_year() + 1, 5, 31);
    match closing_period_end {
        Some(end) if refunded_on > end => RefundBook::ClosedYearRefund,
        _ => RefundBook::RevenueReduction,
    }
}

/// The day's refunds, through the brand and in cash, as the books take them.
pub fn refund_bookings(
    journal: &DayJournal,
    outcome: &MatchOutcome,
    business_date: BusinessDate,
    owner: &Owner,
    config: &Config,
) -> Result<Vec<RefundBooking>, ReconcileError> {
    let mut bookings = Vec::new();
    for payment in &journal.payments {
        for refund in payment.refunds.iter().filter(|refund| refund.business_date() == business_date) {
            bookings.push(booking(journal, outcome, payment, refund, owner, config)?);
        }
    }
    Ok(bookings)
}

fn booking(
    journal: &DayJournal,
    outcome: &MatchOutcome,
    payment: &JournalPayment,
    refund: &JournalRefund,
    owner: &Owner,
    config: &Config,
) -> Result<RefundBooking, ReconcileError> {
    let record = RecordRef::Refund { payment: payment.payment_id.clone(), refund: refund.refund_id.clone() };
    let (payout, acquirer) = match refund.channel {
        RefundChannel::Cash => (None, None),
        RefundChannel::Original => {
            let group = outcome.items.iter().find(|item| item.record == record).and_then(|item| item.group);
            let acquirer = config.fee_rate(payment.brand).map(|(acquirer, _)| acquirer.id.clone());
            (payout_of_group(outcome, group, config)?, acquirer)
        }
    };
    Ok(RefundBooking {
        label: describe::refund(payment, refund),
        record,
        channel: refund.channel,
        brand: payment.brand,
        payout,
        acquirer,
        original_fiscal_year: payment.business_date.fiscal_year(),
        book: refund_book(payment.business_date, refund.business_date().date()),
        amount: refund.amount,
        allocations: allocate(journal, payment, refund.amount, owner)?,
    })
}
