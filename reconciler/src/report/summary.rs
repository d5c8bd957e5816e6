//! Summaries across facility-days: the city-wide one (a row per facility-day and a total, and the
//! count of the city's list: the bank's and payouts' exceptions no facility-day carries) and the
//! per-operator one (facilities grouped by owner, a subtotal per owner, a total), both built from
//! day reports so that every figure traces back to a 日計表.

use pos_config::{Config, Owner};
use pos_core::Yen;
use serde::Serialize;

use super::bank::BankReport;
use super::DayReport;
use crate::error::{self, ReconcileError};

/// One facility-day in a summary, or a (sub)total of several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FacilityRow {
    pub facility: String,
    pub name_ja: String,
    pub owner: String,
    /// Empty on (sub)totals.
    pub business_date: String,
    pub revenue: Yen,
    pub cash_expected: Yen,
    pub cash_counted: Yen,
    pub over_short: Yen,
    pub cashless_gross: Yen,
    pub fees: Yen,
    pub net: Yen,
    pub exceptions_count: u64,
    /// The sum of the exceptions' amounts: the day's net difference.
    pub net_difference: Yen,
}

impl FacilityRow {
    fn of_report(report: &DayReport) -> FacilityRow {
        FacilityRow {
            facility: report.facility.to_string(),
            name_ja: report.facility_name_ja.clone(),
            owner: report.owner.clone(),
            business_date: report.business_date.to_string(),
            revenue: report.revenue.amount_total,
            cash_expected: report.cash.expected_total,
            cash_counted: report.cash.counted_total,
            over_short: report.cash.over_short_total,
            cashless_gross: report.cashless.gross_total,
            fees: report.cashless.fee_total,
            net: report.cashless.net_total,
            exceptions_count: report.exceptions.count,
            net_difference: report.difference.net_difference,
        }
    }

    /// The sum of rows, labelled.
    pub fn total_of(label: &str, owner: &str, rows: &[FacilityRow]) -> Result<FacilityRow, ReconcileError> {
        let sum = |field: fn(&FacilityRow) -> Yen, what| error::sum(rows.iter().map(field), what);
        Ok(FacilityRow {
            facility: label.to_string(),
            name_ja: String::new(),
            owner: owner.to_string(),
            business_date: String::new(),
            revenue: sum(|row| row.revenue, "summary revenue")?,
            cash_expected: sum(|row| row.cash_expected, "summary cash expected")?,
            cash_counted: sum(|row| row.cash_counted, "summary cash counted")?,
            over_short: sum(|row| row.over_short, "summary over/short")?,
            cashless_gross: sum(|row| row.cashless_gross, "summary cashless gross")?,
            fees: sum(|row| row.fees, "summary fees")?,
            net: sum(|row| row.net, "summary net")?,
            exceptions_count: rows.iter().map(|row| row.exceptions_count).sum(),
            net_difference: sum(|row| row.net_difference, "summary net difference")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CitySummary {
    pub city_name_ja: String,
    pub rows: Vec<FacilityRow>,
    pub total: FacilityRow,
    /// The city's list of the run: exceptions no facility-day carries (payouts, bank lines).
    pub city_exceptions_count: u64,
    pub city_exceptions_amount: Yen,
    /// The bank statement's lines, and how many nothing explains.
    pub bank_lines_count: u64,
    pub bank_lines_unmatched: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerGroup {
    /// `city` or the operator's id.
    pub owner: String,
    pub owner_name_ja: String,
    pub rows: Vec<FacilityRow>,
    pub subtotal: FacilityRow,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorSummary {
    pub groups: Vec<OwnerGroup>,
    pub total: FacilityRow,
}

impl CitySummary {
    pub fn build(reports: &[DayReport], bank: &BankReport, config: &Config) -> Result<CitySummary, ReconcileError> {
        let rows: Vec<FacilityRow> = reports.iter().map(FacilityRow::of_report).collect();
        Ok(CitySummary {
            city_name_ja: config.city.name_ja.clone(),
            total: FacilityRow::total_of("total", "", &rows)?,
            rows,
            city_exceptions_count: bank.exceptions.count,
            city_exceptions_amount: bank.exceptions.amount_at_stake_total,
            bank_lines_count: bank.lines_count,
            bank_lines_unmatched: bank.unmatched_count,
        })
    }
}

impl OperatorSummary {
    /// Groups the facilities by who runs them (pos-config's `owner`): the city first, then each
    /// designated-manager operator in configuration order.
    pub fn build(reports: &[DayReport], config: &Config) -> Result<OperatorSummary, ReconcileError> {
        let mut owners: Vec<(String, String)> = vec![("city".to_string(), config.city.name_ja.clone())];
        owners.extend(config.operators.iter().map(|operator| (operator.id.to_string(), operator.name_ja.clone())));
        let runner = |report: &DayReport| match config.facility(&report.facility).map(|facility| &facility.owner) {
            Some(Owner::Operator(operator)) => operator.to_string(),
            _ => "city".to_string(),
        };
        for report in reports {
            let owner = runner(report);
            if !owners.iter().any(|(id, _)| *id == owner) {
                owners.push((owner.clone(), owner));
            }
        }
        let mut groups = Vec::new();
        for (owner, owner_name_ja) in owners {
            let rows: Vec<FacilityRow> =
                reports.iter().filter(|report| runner(report) == owner).map(FacilityRow::of_report).collect();
            if rows.is_empty() {
                continue;
            }
            groups.push(OwnerGroup {
                subtotal: FacilityRow::total_of("subtotal", &owner, &rows)?,
                owner,
                owner_name_ja,
                rows,
            });
        }
        let subtotals: Vec<FacilityRow> = groups.iter().map(|group| group.subtotal.clone()).collect();
        Ok(OperatorSummary { total: FacilityRow::total_of("total", "", &subtotals)?, groups })
    }
}
