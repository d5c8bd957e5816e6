//! The reports treasury reads: the daily report per facility (日計表), the city-wide and
//! per-operator summaries, and the journal entries for the accounting system.
//!
//! [`DayReport::build`] turns a [`DayResult`] (with the day's journal, for who paid by what) into
//! plain serde types; the writers render them: [`csv`] (UTF-8 with BOM and CRLF for Excel, one
//! file per section), [`html`] (one self-contained printable page) and JSON through serde.
//! [`summary`] adds facility-days up for the city and per owner; [`accounting`] books a day as
//! debits and credits. Every total of every report is the exact sum of its lines, which the
//! checks in [`totals`] prove; each writer test runs them.
//!
//! Revenue is shown by revenue account × method × brand: each sale's lines are paid, in order, by
//! the sale's payments taken that day, in order (a sale split between cash and a card puts the
//! first lines on the first payment), so the split is exact in whole yen; what no payment of the
//! day covers is shown under no brand (未決済).

pub mod accounting;
pub mod csv;
pub mod html;
pub mod summary;
pub mod totals;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use pos_config::{Config, Owner};
use pos_core::{Brand, BusinessDate, FacilityId, Method, Yen};
use serde::{Deserialize, Serialize};

use crate::day::DayResult;
use crate::error::{self, ReconcileError};
use crate::exceptions::RecordRef;
use crate::journal::{DayJournal, SaleId};

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
}

/// The facility's part of one acquirer payout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutRow {
    pub acquirer: String,
    pub acquirer_name: String,
    pub payout_id: Option<String>,
    pub payout_date: NaiveDate,
    pub lines_count: u64,
    pub gross: Yen,
    pub fee: Yen,
    pub net: Yen,
    /// The net not yet seen in the bank: all of it until the payout's credit is found.
    pub receivable: Yen,
    pub due_on: NaiveDate,
    /// March revenue paid in April or May: old-year money (出納整理期間).
    pub in_closing_period: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashlessReport {
    pub payouts: Vec<PayoutRow>,
    pub gross_total: Yen,
    pub fee_total: Yen,
    pub net_total: Yen,
    pub receivable_total: Yen,
    /// Fees the contract gives for the same lines, beside what was charged.
    pub fee_contracted_total: Yen,
    /// Taken payments not yet in any settlement, before their due date.
    pub timing_differences_count: u64,
    pub timing_differences_amount: Yen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionRow {
    pub kind: String,
    pub name_ja: String,
    pub records: Vec<String>,
    pub amount_at_stake: Yen,
    pub detail: String,
    pub suggested_action: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionsReport {
    pub rows: Vec<ExceptionRow>,
    pub count: u64,
    pub amount_at_stake_total: Yen,
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
    pub cash: CashReport,
    pub cashless: CashlessReport,
    pub exceptions: ExceptionsReport,
}

/// A record an exception names, as one line of text.
pub fn record_text(record: &RecordRef) -> String {
    match record {
        RecordRef::Payment(payment) => format!("payment {payment}"),
        RecordRef::Refund { payment, refund } => format!("refund {refund} of payment {payment}"),
        RecordRef::SettlementLine { file, line } => format!("{file} line {line}"),
        RecordRef::BankLine { reference, record_number } => format!("bank {reference} record {record_number}"),
        RecordRef::Shift { register, shift } => format!("register {register} shift {shift}"),
        RecordRef::Payout { acquirer, payout: Some(payout), payout_date } => {
            format!("payout {payout} of {acquirer} on {payout_date}")
        }
        RecordRef::Payout { acquirer, payout: None, payout_date } => format!("payout of {acquirer} on {payout_date}"),
        RecordRef::CashDeposit { business_date } => format!("cash deposit of {business_date}"),
    }
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
            owner: result
                .revenue_lines
                .first()
                .map_or_else(|| owner_code(&facility.owner), |line| owner_code(&line.owner)),
            operator: match &facility.owner {
                Owner::City => None,
                Owner::Operator(operator) => Some(operator.to_string()),
            },
            business_date: result.business_date,
            fiscal_year: result.fiscal_year.start_year(),
            as_of: result.as_of,
            revenue: revenue_section(result, journal)?,
            cash: cash_report(result)?,
            cashless: cashless_report(result, config)?,
            exceptions: exceptions_report(result)?,
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
        shifts,
    })
}

fn cashless_report(result: &DayResult, config: &Config) -> Result<CashlessReport, ReconcileError> {
    let payouts: Vec<PayoutRow> = result
        .payouts
        .iter()
        .map(|payout| PayoutRow {
            acquirer: payout.acquirer.clone(),
            acquirer_name: config
                .acquirers
                .iter()
                .find(|acquirer| acquirer.id == payout.acquirer)
                .map_or_else(|| payout.acquirer.clone(), |acquirer| acquirer.name.clone()),
            payout_id: payout.payout_id.as_ref().map(|id| id.as_str().to_string()),
            payout_date: payout.payout_date,
            lines_count: payout.lines.len() as u64,
            gross: payout.amount_gross,
            fee: payout.amount_fee,
            net: payout.amount_net,
            receivable: if payout.bank_line.is_some() { Yen::ZERO } else { payout.amount_net },
            due_on: payout.due_on,
            in_closing_period: payout.in_closing_period,
        })
        .collect();
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
    })
}

fn exceptions_report(result: &DayResult) -> Result<ExceptionsReport, ReconcileError> {
    let rows: Vec<ExceptionRow> = result
        .exceptions
        .iter()
        .map(|exception| ExceptionRow {
            kind: exception.kind.code().to_string(),
            name_ja: exception.kind.name_ja().to_string(),
            records: exception.records.iter().map(record_text).collect(),
            amount_at_stake: exception.amount_at_stake,
            detail: exception.detail.clone(),
            suggested_action: exception.suggested_action().to_string(),
        })
        .collect();
    Ok(ExceptionsReport {
        count: rows.len() as u64,
        amount_at_stake_total: error::sum(rows.iter().map(|row| row.amount_at_stake), "amounts at stake")?,
        rows,
    })
}

/// The JSON of a report, pretty-printed.
pub fn to_json<T: Serialize>(report: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}
