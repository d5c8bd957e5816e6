//! Proof that every total of every report is the exact sum of its lines. Each report writer's
//! tests call these; a report that fails one must not be handed to treasury.

use pos_core::Yen;

use super::accounting::JournalEntry;
use super::summary::{CitySummary, FacilityRow, OperatorSummary};
use super::DayReport;

/// A total that is not the sum of its lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{report}: {total} is {stated}, but its lines sum to {computed}")]
pub struct ReportTotalsError {
    pub report: String,
    pub total: String,
    pub stated: String,
    pub computed: String,
}

fn check_yen(
    report: &str,
    total: &str,
    stated: Yen,
    lines: impl IntoIterator<Item = Yen>,
) -> Result<(), ReportTotalsError> {
    let computed = Yen::checked_sum(lines).ok();
    if computed == Some(stated) {
        return Ok(());
    }
    Err(ReportTotalsError {
        report: report.to_string(),
        total: total.to_string(),
        stated: stated.to_string(),
        computed: computed.map_or_else(|| "an overflow".to_string(), |sum| sum.to_string()),
    })
}

fn check_count(
    report: &str,
    total: &str,
    stated: u64,
    lines: impl IntoIterator<Item = u64>,
) -> Result<(), ReportTotalsError> {
    let computed: u64 = lines.into_iter().sum();
    if computed == stated {
        return Ok(());
    }
    Err(ReportTotalsError {
        report: report.to_string(),
        total: total.to_string(),
        stated: stated.to_string(),
        computed: computed.to_string(),
    })
}

/// Every total of a day report, and each line's own arithmetic.
pub fn check_day_report(report: &DayReport) -> Result<(), ReportTotalsError> {
    let name = format!("日計表 {} {}", report.facility, report.business_date);
    let name = name.as_str();
    let revenue = &report.revenue;
    check_yen(name, "revenue amount", revenue.amount_total, revenue.rows.iter().map(|row| row.amount))?;
    check_count(name, "revenue lines", revenue.lines_count_total, revenue.rows.iter().map(|row| row.lines_count))?;
    let cash = &report.cash;
    check_yen(name, "float", cash.float_total, cash.shifts.iter().map(|shift| shift.float_opening))?;
    check_yen(name, "cash taken", cash.taken_total, cash.shifts.iter().map(|shift| shift.cash_taken))?;
    check_yen(name, "cash refunded", cash.refunded_total, cash.shifts.iter().map(|shift| shift.cash_refunded))?;
    check_yen(name, "cash expected", cash.expected_total, cash.shifts.iter().map(|shift| shift.expected))?;
    check_yen(name, "cash counted", cash.counted_total, cash.shifts.iter().filter_map(|shift| shift.counted))?;
    check_yen(name, "over/short", cash.over_short_total, cash.shifts.iter().filter_map(|shift| shift.over_short))?;
    check_yen(name, "to deposit", cash.to_deposit_total, cash.shifts.iter().filter_map(|shift| shift.to_deposit))?;
    for shift in &cash.shifts {
        let total = format!("shift {} expected", shift.shift);
        check_yen(
            name,
            &total,
            shift.expected,
            [shift.float_opening, shift.cash_taken, shift.cash_refunded.checked_neg()],
        )?;
        if let (Some(counted), Some(over_short)) = (shift.counted, shift.over_short) {
            check_yen(name, &format!("shift {} counted", shift.shift), counted, [shift.expected, over_short])?;
        }
    }
    let cashless = &report.cashless;
    check_yen(name, "cashless gross", cashless.gross_total, cashless.payouts.iter().map(|row| row.gross))?;
    check_yen(name, "cashless fees", cashless.fee_total, cashless.payouts.iter().map(|row| row.fee))?;
    check_yen(name, "cashless net", cashless.net_total, cashless.payouts.iter().map(|row| row.net))?;
    check_yen(name, "receivable", cashless.receivable_total, cashless.payouts.iter().map(|row| row.receivable))?;
    for row in &cashless.payouts {
        check_yen(
            name,
            &format!("payout {:?} of {} gross", row.payout_id, row.acquirer),
            row.gross,
            [row.fee, row.net],
        )?;
    }
    let exceptions = &report.exceptions;
    check_count(name, "exceptions", exceptions.count, exceptions.rows.iter().map(|_| 1))?;
    check_yen(
        name,
        "amount at stake",
        exceptions.amount_at_stake_total,
        exceptions.rows.iter().map(|row| row.amount_at_stake),
    )?;
    Ok(())
}

/// A summary column, by name.
type SummaryField = (&'static str, fn(&FacilityRow) -> Yen);

fn check_rows(name: &str, total: &FacilityRow, rows: &[FacilityRow]) -> Result<(), ReportTotalsError> {
    let fields: [SummaryField; 7] = [
        ("revenue", |row| row.revenue),
        ("cash expected", |row| row.cash_expected),
        ("cash counted", |row| row.cash_counted),
        ("over/short", |row| row.over_short),
        ("cashless gross", |row| row.cashless_gross),
        ("fees", |row| row.fees),
        ("net", |row| row.net),
    ];
    for (label, field) in fields {
        check_yen(name, label, field(total), rows.iter().map(field))?;
    }
    check_count(name, "exceptions", total.exceptions_count, rows.iter().map(|row| row.exceptions_count))
}

pub fn check_city_summary(summary: &CitySummary) -> Result<(), ReportTotalsError> {
    check_rows("city summary", &summary.total, &summary.rows)
}

pub fn check_operator_summary(summary: &OperatorSummary) -> Result<(), ReportTotalsError> {
    for group in &summary.groups {
        check_rows(&format!("operator summary, {}", group.owner), &group.subtotal, &group.rows)?;
    }
    let subtotals: Vec<FacilityRow> = summary.groups.iter().map(|group| group.subtotal.clone()).collect();
    check_rows("operator summary", &summary.total, &subtotals)
}

/// Each facility-day's debits equal its credits, and each row books one side only.
pub fn check_journal_entries(entries: &[JournalEntry]) -> Result<(), ReportTotalsError> {
    let mut days: std::collections::BTreeMap<(String, chrono::NaiveDate), Vec<&JournalEntry>> = Default::default();
    for entry in entries {
        let one_sided = (entry.debit == Yen::ZERO || entry.credit == Yen::ZERO)
            && entry.amount == Yen::checked_sum([entry.debit, entry.credit]).unwrap_or(Yen::ZERO);
        if !one_sided {
            return Err(ReportTotalsError {
                report: "journal entries".to_string(),
                total: format!("{} {} {}", entry.date, entry.facility, entry.account_code),
                stated: entry.amount.to_string(),
                computed: format!("debit {} credit {}", entry.debit, entry.credit),
            });
        }
        days.entry((entry.facility.to_string(), entry.date)).or_default().push(entry);
    }
    for ((facility, date), rows) in days {
        let credits = Yen::checked_sum(rows.iter().map(|entry| entry.credit)).unwrap_or(Yen::ZERO);
        check_yen(
            &format!("journal entries {facility} {date}"),
            "debits",
            credits,
            rows.iter().map(|entry| entry.debit),
        )?;
    }
    Ok(())
}
