//! The reports treasury reads: the daily report per facility (日計表), the city-wide and
//! per-operator summaries, and the journal entries for the accounting system.
//!
//! [`DayReport::build`] turns a [`DayResult`] (with the day's journal, for who paid by what) into
//! plain serde types; the writers render them: [`csv`] (UTF-8 with BOM and CRLF for Excel, one
//! file per section), [`html`] (one self-contained printable page) and JSON through serde.
//! [`summary`] adds facility-days up for the city and per owner; [`bank`] lists the statement's
//! lines with what each is and the city's exceptions; [`accounting`] books a day and the bank's
//! lines as debits and credits. Every total of every report is the exact sum of its lines, which the
//! checks in [`totals`] prove; each writer test runs them.
//!
//! Revenue is shown by revenue account × method × brand: each sale's lines are paid, in order, by
//! the sale's payments taken that day, in order (a sale split between cash and a card puts the
//! first lines on the first payment), so the split is exact in whole yen; what no payment of the
//! day covers is shown under no brand (未決済).

pub mod accounting;
pub mod bank;
pub mod csv;
pub mod html;
pub mod summary;
pub mod totals;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use pos_config::{Config, Owner};
use pos_core::{Brand, BusinessDate, FacilityId, Method, Yen};
use serde::{Deserialize, Serialize};

use crate::day::{DayResult, Difference};
use crate::error::{self, ReconcileError};
use crate::exceptions::{Exception, RecordRef};
use crate::journal::{DayJournal, RefundChannel, SaleId};

/// One row of the revenue section: an account, a method and a brand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueRow {
    pub revenue_account: String,
    /// `city` or the operator's id.
    pub owner: String,
    /// `None` for revenue no payment of the day covers.
    pub method: Option<Method>,
    pub brand: Option<Brand>,
    pub lines_count: u64,
    pub amount: Yen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueSection {
    pub rows: Vec<RevenueRow>,
    pub lines_count_total: u64,
    pub amount_total: Yen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftRow {
    pub register: String,
    pub shift: String,
    /// When the shift was opened (JST), which is how the register's clerks know it.
    pub opened_at: Option<String>,
    pub float_opening: Yen,
    pub cash_taken: Yen,
    pub cash_refunded: Yen,
    pub expected: Yen,
    pub counted: Option<Yen>,
    pub over_short: Option<Yen>,
    pub to_deposit: Option<Yen>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashReport {
    pub shifts: Vec<ShiftRow>,
    pub float_total: Yen,
    pub taken_total: Yen,
    pub refunded_total: Yen,
    pub expected_total: Yen,
    pub counted_total: Yen,
    pub over_short_total: Yen,
    pub to_deposit_total: Yen,
    pub deposit_due_on: NaiveDate,
    pub deposit_found: bool,
    /// The bank line of the deposit, as treasury finds it.
    pub deposit_bank_line: Option<String>,
}

/// A fee an exception holds in suspense.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldFeeRow {
    /// The settlement line, as treasury finds it.
    pub line: String,
    pub amount: Yen,
    /// The exceptions questioning the line ([`ExceptionRow::key`]): the fee is expensed once all
    /// are resolved.
    pub exception_keys: Vec<String>,
}

/// The facility's part of one acquirer payout, and what the books owe on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutRow {
    /// The payout's stable key (acquirer, payout id or date): the export's `payout` column.
    pub payout_key: String,
    pub acquirer: String,
    pub acquirer_name: String,
    pub payout_id: Option<String>,
    pub payout_date: NaiveDate,
    pub lines_count: u64,
    pub gross: Yen,
    pub fee: Yen,
    pub net: Yen,
    /// The day's payments this payout pays, as the journal has them.
    pub takings: Yen,
    /// The day's refunds through the brand it carries, positive.
    pub refunds: Yen,
    /// What the lines settled beyond the journal (`gross − takings + refunds`): to suspense.
    pub differences: Yen,
    /// Fees of lines no exception questions (expensed), and of lines one does (held).
    pub fee_clean: Yen,
    pub fee_held: Yen,
    pub fees_held: Vec<HeldFeeRow>,
    /// The whole payout, every facility: what the bank credit must be.
    pub payout_net: Yen,
    /// The bank line that paid it, as treasury finds it.
    pub bank_line: Option<String>,
    /// The net not yet seen in the bank: all of it until the payout's credit is found.
    pub receivable: Yen,
    pub due_on: NaiveDate,
    /// March revenue paid in April or May: old-year money (出納整理期間).
    pub in_closing_period: bool,
}

/// What an acquirer owes for the day that is in no payout yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnpaidRow {
    pub acquirer: String,
    pub acquirer_name: String,
    pub takings: Yen,
    pub refunds: Yen,
    pub net: Yen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashlessReport {
    pub payouts: Vec<PayoutRow>,
    pub unpaid: Vec<UnpaidRow>,
    pub gross_total: Yen,
    pub fee_total: Yen,
    pub net_total: Yen,
    pub receivable_total: Yen,
    /// Fees the contract gives for the same lines, beside what was charged.
    pub fee_contracted_total: Yen,
    /// What is due and not late (count and amount in question); listed in [`DueReport`].
    pub timing_differences_count: u64,
    pub timing_differences_amount: Yen,
}

/// Something due and not late: "due on `<date>`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueRow {
    pub record_key: String,
    /// `settlement` or `outcome_unknown` (処理未了).
    pub reason: String,
    pub description_ja: String,
    pub description_en: String,
    pub amount: Yen,
    pub due_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueReport {
    pub rows: Vec<DueRow>,
    pub count: u64,
    pub amount_total: Yen,
}

/// One refund of the day and how it is booked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRow {
    pub record_key: String,
    pub description_ja: String,
    pub description_en: String,
    /// `original` (through the brand) or `cash`.
    pub channel: String,
    pub brand: Brand,
    /// The acquirer that gives the money back, and its payout once settled.
    pub acquirer: Option<String>,
    pub payout_key: Option<String>,
    /// The fiscal year of the revenue refunded.
    pub original_fiscal_year: i32,
    /// `revenue_reduction` (歳入戻出) or `closed_year_refund` (過誤納還付金).
    pub book: String,
    pub book_name_ja: String,
    pub amount: Yen,
    pub allocations: Vec<RefundAllocationRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundAllocationRow {
    /// `None` when the journal has no line of the sale refunded.
    pub revenue_account: Option<String>,
    pub owner: String,
    pub amount: Yen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundsReport {
    pub rows: Vec<RefundRow>,
    pub amount_total: Yen,
}

/// The day's net difference, from its figures: the exceptions sum to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DifferenceReport {
    pub journal_cashless: Yen,
    pub settled_gross: Yen,
    pub fee_contracted: Yen,
    pub fee_charged: Yen,
    pub other_lines_net: Yen,
    pub cash_over_short: Yen,
    pub cash_deposit_difference: Yen,
    pub bank_unmatched: Yen,
    pub net_difference: Yen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionRow {
    /// The exception's identity across runs (its kind and the keys of its records).
    pub key: String,
    pub kind: String,
    pub name_ja: String,
    pub name_en: String,
    /// Each record as treasury finds it.
    pub records: Vec<String>,
    pub records_en: Vec<String>,
    /// Each record's stable key.
    pub record_keys: Vec<String>,
    /// Its effect on the city's money: negative when the city gets less than the journal says.
    pub amount_at_stake: Yen,
    pub detail_ja: String,
    pub detail_en: String,
    pub action_ja: String,
    pub action_en: String,
}

impl ExceptionRow {
    pub fn of(exception: &Exception) -> ExceptionRow {
        ExceptionRow {
            key: exception.key(),
            kind: exception.kind.code().to_string(),
            name_ja: exception.kind.name_ja().to_string(),
            name_en: exception.kind.name_en().to_string(),
            records: exception.labels.iter().map(|label| label.ja.clone()).collect(),
            records_en: exception.labels.iter().map(|label| label.en.clone()).collect(),
            record_keys: exception.records.iter().map(RecordRef::key).collect(),
            amount_at_stake: exception.amount_at_stake,
            detail_ja: exception.detail.ja.clone(),
            detail_en: exception.detail.en.clone(),
            action_ja: exception.kind.action_ja().to_string(),
            action_en: exception.kind.action_en().to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionsReport {
    pub rows: Vec<ExceptionRow>,
    pub count: u64,
    pub amount_at_stake_total: Yen,
}

impl ExceptionsReport {
    pub fn of(exceptions: &[Exception]) -> Result<ExceptionsReport, ReconcileError> {
        let rows: Vec<ExceptionRow> = exceptions.iter().map(ExceptionRow::of).collect();
        Ok(ExceptionsReport {
            count: rows.len() as u64,
            amount_at_stake_total: error::sum(rows.iter().map(|row| row.amount_at_stake), "amounts at stake")?,
            rows,
        })
    }
}

/// The daily report of one facility (日計表).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayReport {
    pub facility: FacilityId,
    pub facility_name_ja: String,
    pub facility_name_en: String,
    /// `city` or the operator's id: whose revenue the takings are.
    pub owner: String,
    /// The operator running the facility, when it is a designated manager's.
    pub operator: Option<String>,
    pub business_date: BusinessDate,
    /// The fiscal year, named by its April's calendar year.
    pub fiscal_year: i32,
    pub as_of: NaiveDate,
    pub revenue: RevenueSection,
    pub refunds: RefundsReport,
    pub cash: CashReport,
    pub cashless: CashlessReport,
    pub due: DueReport,
    pub difference: DifferenceReport,
    pub exceptions: ExceptionsReport,
}

pub fn owner_code(owner: &Owner) -> String {
    match owner {
        Owner::City => "city".to_string(),
        Owner::Operator(operator) => operator.to_string(),
    }
}

impl DayReport {
    /// Builds the report of a reconciled day. `journal` is the one the result was reconciled
    /// from; it says which payments paid which sale.
    pub fn build(result: &DayResult, journal: &DayJournal, config: &Config) -> Result<DayReport, ReconcileError> {
        let facility = config
            .facility(&result.facility)
            .ok_or_else(|| ReconcileError::UnknownFacility(result.facility.clone()))?;
        Ok(DayReport {
            facility: result.facility.clone(),
            facility_name_ja: facility.name_ja.clone(),
            facility_name_en: facility.name_en.clone(),
            owner: owner_code(&crate::receivables::owner_of(facility)),
            operator: match &facility.owner {
                Owner::City => None,
                Owner::Operator(operator) => Some(operator.to_string()),
            },
            business_date: result.business_date,
            fiscal_year: result.fiscal_year.start_year(),
            as_of: result.as_of,
            revenue: revenue_section(result, journal)?,
            refunds: refunds_report(result)?,
            cash: cash_report(result)?,
            cashless: cashless_report(result, config)?,
            due: due_report(result)?,
            difference: difference_report(&result.difference),
            exceptions: ExceptionsReport::of(&result.exceptions)?,
        })
    }
}

/// A payment's remaining amount, to be spread over its sale's lines.
struct Tender {
    method: Method,
    brand: Brand,
    left: Yen,
}

/// A revenue row's key: account, owner, method and brand.
type RevenueKey = (String, String, Option<Method>, Option<Brand>);

fn revenue_section(result: &DayResult, journal: &DayJournal) -> Result<RevenueSection, ReconcileError> {
    let mut tenders: BTreeMap<&SaleId, Vec<Tender>> = BTreeMap::new();
    for payment in
        journal.payments.iter().filter(|payment| payment.business_date == result.business_date && payment.is_taken())
    {
        tenders.entry(&payment.sale_id).or_default().push(Tender {
            method: payment.method,
            brand: payment.brand,
            left: payment.amount,
        });
    }
    let mut rows: BTreeMap<RevenueKey, (u64, Yen)> = BTreeMap::new();
    for line in &result.revenue_lines {
        let mut left = line.amount;
        let owner = owner_code(&line.owner);
        let mut book = |method: Option<Method>, brand: Option<Brand>, amount: Yen| -> Result<(), ReconcileError> {
            let entry =
                rows.entry((line.revenue_account.clone(), owner.clone(), method, brand)).or_insert((0, Yen::ZERO));
            entry.0 += 1;
            entry.1 = error::add(entry.1, amount, "revenue by brand")?;
            Ok(())
        };
        for tender in tenders.get_mut(&line.sale_id).into_iter().flatten() {
            if left <= Yen::ZERO {
                break;
            }
            if tender.left <= Yen::ZERO {
                continue;
            }
            let part = left.min(tender.left);
            tender.left = error::subtract(tender.left, part, "a tender")?;
            left = error::subtract(left, part, "a revenue line")?;
            book(Some(tender.method), Some(tender.brand), part)?;
        }
        if left != Yen::ZERO {
            book(None, None, left)?;
        }
    }
    let rows: Vec<RevenueRow> = rows
        .into_iter()
        .map(|((revenue_account, owner, method, brand), (lines_count, amount))| RevenueRow {
            revenue_account,
            owner,
            method,
            brand,
            lines_count,
            amount,
        })
        .collect();
    Ok(RevenueSection {
        lines_count_total: rows.iter().map(|row| row.lines_count).sum(),
        amount_total: error::sum(rows.iter().map(|row| row.amount), "revenue")?,
        rows,
    })
}

fn cash_report(result: &DayResult) -> Result<CashReport, ReconcileError> {
    let cash = &result.cash;
    let shifts: Vec<ShiftRow> = cash
        .shifts
        .iter()
        .map(|shift| ShiftRow {
            register: shift.register.to_string(),
            shift: shift.shift.to_string(),
            opened_at: shift.opened_at.map(crate::describe::time),
            float_opening: shift.float_opening,
            cash_taken: shift.cash_taken,
            cash_refunded: shift.cash_refunded,
            expected: shift.expected,
            counted: shift.counted,
            over_short: shift.over_short,
            to_deposit: shift.to_deposit,
        })
        .collect();
    Ok(CashReport {
        float_total: error::sum(shifts.iter().map(|shift| shift.float_opening), "float")?,
        taken_total: error::sum(shifts.iter().map(|shift| shift.cash_taken), "cash taken")?,
        refunded_total: error::sum(shifts.iter().map(|shift| shift.cash_refunded), "cash refunded")?,
        expected_total: cash.expected_total,
        counted_total: cash.counted_total,
        over_short_total: cash.over_short_total,
        to_deposit_total: cash.to_deposit_total,
        deposit_due_on: cash.deposit_due_on,
        deposit_found: cash.bank_line.is_some(),
        deposit_bank_line: cash.bank_line.as_ref().map(bank_line_text),
        shifts,
    })
}

fn acquirer_name(config: &Config, id: &str) -> String {
    config.acquirers.iter().find(|acquirer| acquirer.id == id).map_or_else(|| id.to_string(), |a| a.name.clone())
}

fn cashless_report(result: &DayResult, config: &Config) -> Result<CashlessReport, ReconcileError> {
    let mut payouts = Vec::new();
    for payout in &result.payouts {
        payouts.push(PayoutRow {
            payout_key: payout.key.record().key(),
            acquirer: payout.key.acquirer.clone(),
            acquirer_name: acquirer_name(config, &payout.key.acquirer),
            payout_id: payout.key.payout_id.as_ref().map(|id| id.as_str().to_string()),
            payout_date: payout.key.payout_date,
            lines_count: payout.lines.len() as u64,
            gross: payout.amount_gross,
            fee: payout.amount_fee,
            net: payout.amount_net,
            takings: payout.takings,
            refunds: payout.refunds,
            differences: payout.differences()?,
            fee_clean: payout.fee_clean,
            fee_held: payout.fee_held()?,
            fees_held: payout
                .fees_held
                .iter()
                .map(|held| HeldFeeRow {
                    line: held.label.ja.clone(),
                    amount: held.amount,
                    exception_keys: held.exception_keys.clone(),
                })
                .collect(),
            payout_net: payout.payout_amount_net,
            bank_line: payout.bank_line.as_ref().map(bank_line_text),
            receivable: if payout.bank_line.is_some() { Yen::ZERO } else { payout.amount_net },
            due_on: payout.due_on,
            in_closing_period: payout.in_closing_period,
        });
    }
    let mut unpaid = Vec::new();
    for row in &result.unpaid {
        unpaid.push(UnpaidRow {
            acquirer: row.acquirer.clone(),
            acquirer_name: acquirer_name(config, &row.acquirer),
            takings: row.takings,
            refunds: row.refunds,
            net: row.net()?,
        });
    }
    Ok(CashlessReport {
        gross_total: error::sum(payouts.iter().map(|row| row.gross), "cashless gross")?,
        fee_total: error::sum(payouts.iter().map(|row| row.fee), "cashless fees")?,
        net_total: error::sum(payouts.iter().map(|row| row.net), "cashless net")?,
        receivable_total: error::sum(payouts.iter().map(|row| row.receivable), "receivable")?,
        fee_contracted_total: result.fee_contracted_total,
        timing_differences_count: result.timing_differences.len() as u64,
        timing_differences_amount: error::sum(
            result.timing_differences.iter().map(|difference| difference.amount),
            "timing differences",
        )?,
        payouts,
        unpaid,
    })
}

/// A bank line's record as treasury finds it.
fn bank_line_text(record: &RecordRef) -> String {
    match record {
        RecordRef::BankLine { file, reference, .. } => format!("{file} 照会番号 {reference}"),
        other => other.key(),
    }
}

fn due_report(result: &DayResult) -> Result<DueReport, ReconcileError> {
    let rows: Vec<DueRow> = result
        .timing_differences
        .iter()
        .map(|due| DueRow {
            record_key: due.record.key(),
            reason: due.reason.code().to_string(),
            description_ja: due.description.ja.clone(),
            description_en: due.description.en.clone(),
            amount: due.amount,
            due_on: due.due_on,
        })
        .collect();
    Ok(DueReport {
        count: rows.len() as u64,
        amount_total: error::sum(rows.iter().map(|row| row.amount), "due items")?,
        rows,
    })
}

fn refunds_report(result: &DayResult) -> Result<RefundsReport, ReconcileError> {
    let rows: Vec<RefundRow> = result
        .refunds
        .iter()
        .map(|refund| RefundRow {
            record_key: refund.record.key(),
            description_ja: refund.label.ja.clone(),
            description_en: refund.label.en.clone(),
            channel: match refund.channel {
                RefundChannel::Original => "original",
                RefundChannel::Cash => "cash",
            }
            .to_string(),
            brand: refund.brand,
            acquirer: refund.acquirer.clone(),
            payout_key: refund.payout.as_ref().map(|key| key.record().key()),
            original_fiscal_year: refund.original_fiscal_year.start_year(),
            book: refund.book.code().to_string(),
            book_name_ja: refund.book.name().ja,
            amount: refund.amount,
            allocations: refund
                .allocations
                .iter()
                .map(|allocation| RefundAllocationRow {
                    revenue_account: allocation.revenue_account.clone(),
                    owner: owner_code(&allocation.owner),
                    amount: allocation.amount,
                })
                .collect(),
        })
        .collect();
    Ok(RefundsReport { amount_total: error::sum(rows.iter().map(|row| row.amount), "refunds")?, rows })
}

fn difference_report(difference: &Difference) -> DifferenceReport {
    DifferenceReport {
        journal_cashless: difference.journal_cashless,
        settled_gross: difference.settled_gross,
        fee_contracted: difference.fee_contracted,
        fee_charged: difference.fee_charged,
        other_lines_net: difference.other_lines_net,
        cash_over_short: difference.cash_over_short,
        cash_deposit_difference: difference.cash_deposit_difference,
        bank_unmatched: difference.bank_unmatched,
        net_difference: difference.net_difference,
    }
}

/// The JSON of a report, pretty-printed.
pub fn to_json<T: Serialize>(report: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}
