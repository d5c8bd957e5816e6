//! Proof that every total of every report is the exact sum of its lines, that each day's
//! exceptions sum to its net difference, and that what the accounting export books on each
//! payout's receivable is the payout's net. Each report writer's tests call these, and so does
//! every run; a report that fails one must not be handed to treasury.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use pos_config::Config;
use pos_core::Yen;

use super::accounting::JournalEntry;
use super::bank::BankReport;
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
    for row in &cashless.payouts {
        let payout = format!("payout {}", row.payout_key);
        check_yen(name, &format!("{payout} fee"), row.fee, [row.fee_clean, row.fee_held])?;
        check_yen(name, &format!("{payout} fees held"), row.fee_held, row.fees_held.iter().map(|held| held.amount))?;
        check_yen(
            name,
            &format!("{payout} differences"),
            row.differences,
            [row.gross, row.takings.checked_neg(), row.refunds],
        )?;
        check_yen(
            name,
            &format!("{payout} receivable booked"),
            row.net,
            [row.takings, row.refunds.checked_neg(), row.differences, row.fee.checked_neg()],
        )?;
    }
    for row in &cashless.unpaid {
        check_yen(name, &format!("{} in no payout", row.acquirer), row.net, [row.takings, row.refunds.checked_neg()])?;
    }
    check_yen(name, "cashless gross", cashless.gross_total, cashless.payouts.iter().map(|row| row.gross))?;
    check_yen(name, "cashless fees", cashless.fee_total, cashless.payouts.iter().map(|row| row.fee))?;
    check_yen(name, "cashless net", cashless.net_total, cashless.payouts.iter().map(|row| row.net))?;
    check_yen(name, "receivable", cashless.receivable_total, cashless.payouts.iter().map(|row| row.receivable))?;
    for row in &cashless.payouts {
        check_yen(name, &format!("payout {} gross", row.payout_key), row.gross, [row.fee, row.net])?;
    }
    check_yen(name, "due items", report.due.amount_total, report.due.rows.iter().map(|row| row.amount))?;
    check_count(name, "due items", report.due.count, report.due.rows.iter().map(|_| 1))?;
    check_yen(name, "refunds", report.refunds.amount_total, report.refunds.rows.iter().map(|row| row.amount))?;
    for row in &report.refunds.rows {
        check_yen(name, &format!("refund {}", row.record_key), row.amount, row.allocations.iter().map(|a| a.amount))?;
    }
    let difference = &report.difference;
    check_yen(
        name,
        "net difference",
        difference.net_difference,
        [
            difference.settled_gross,
            difference.journal_cashless.checked_neg(),
            difference.fee_contracted,
            difference.fee_charged.checked_neg(),
            difference.other_lines_net,
            difference.cash_over_short,
            difference.cash_deposit_difference,
            difference.bank_unmatched,
        ],
    )?;
    check_yen(name, "over/short in the difference", difference.cash_over_short, [cash.over_short_total])?;
    check_fees_beside_other_lines(name, report)?;
    check_exceptions(name, &report.exceptions)?;
    check_yen(
        name,
        "exceptions against the net difference",
        difference.net_difference,
        report.exceptions.rows.iter().map(|row| row.amount_at_stake),
    )
}

/// The lines the difference compares (sales, refunds, cancels: gross less fee) and the lines
/// nothing in the journal compares with (chargebacks, adjustments: their net) are together the
/// day's payout shares.
fn check_fees_beside_other_lines(name: &str, report: &DayReport) -> Result<(), ReportTotalsError> {
    let difference = &report.difference;
    let compared_net = difference.settled_gross.checked_sub(difference.fee_charged).ok();
    let payouts_net = Yen::checked_sum([compared_net.unwrap_or(Yen::ZERO), difference.other_lines_net]).ok();
    match payouts_net {
        Some(net) if compared_net.is_some() => {
            check_yen(name, "payouts against the compared lines", net, [report.cashless.net_total])
        }
        _ => Err(ReportTotalsError {
            report: name.to_string(),
            total: "payouts against the compared lines".to_string(),
            stated: report.cashless.net_total.to_string(),
            computed: "an overflow".to_string(),
        }),
    }
}

fn check_exceptions(name: &str, exceptions: &super::ExceptionsReport) -> Result<(), ReportTotalsError> {
    check_count(name, "exceptions", exceptions.count, exceptions.rows.iter().map(|_| 1))?;
    check_yen(
        name,
        "amount at stake",
        exceptions.amount_at_stake_total,
        exceptions.rows.iter().map(|row| row.amount_at_stake),
    )
}

/// The bank report: every line is accounted for once, and its totals are its lines'.
pub fn check_bank_report(report: &BankReport) -> Result<(), ReportTotalsError> {
    let name = "bank statement";
    check_count(name, "lines", report.lines_count, report.lines.iter().map(|_| 1))?;
    let credits = report.lines.iter().filter(|line| line.direction == "credit").map(|line| line.amount);
    check_yen(name, "credits", report.credits_total, credits)?;
    let debits = report.lines.iter().filter(|line| line.direction == "debit").map(|line| line.amount);
    check_yen(name, "debits", report.debits_total, debits)?;
    let charges = report.lines.iter().filter(|line| line.disposition == "charge").map(|line| line.amount);
    check_yen(name, "charges", report.charges_total, charges)?;
    let unmatched = report.lines.iter().filter(|line| line.disposition == "unmatched").map(|_| 1);
    check_count(name, "unmatched lines", report.unmatched_count, unmatched)?;
    check_exceptions(name, &report.exceptions)
}

/// Per facility-day and payout, what the entries book on the receivable is the payout's net;
/// what they book outside any payout is what the report says is in no payout yet.
pub fn check_receivables(
    reports: &[DayReport],
    entries: &[JournalEntry],
    config: &Config,
) -> Result<(), ReportTotalsError> {
    let receivables: BTreeSet<String> =
        config.acquirers.iter().map(|acquirer| super::accounting::receivable_account(config, &acquirer.id)).collect();
    let mut booked: BTreeMap<(String, NaiveDate, Option<String>), Vec<Yen>> = BTreeMap::new();
    for entry in entries.iter().filter(|entry| receivables.contains(&entry.account_code)) {
        let Some(facility) = &entry.facility else { continue };
        let signed = entry.debit.checked_sub(entry.credit).unwrap_or(Yen::ZERO);
        booked.entry((facility.to_string(), entry.date, entry.payout.clone())).or_default().push(signed);
    }
    for report in reports {
        let name = format!("accounting export {} {}", report.facility, report.business_date);
        let date = report.business_date.date();
        for row in &report.cashless.payouts {
            let key = (report.facility.to_string(), date, Some(row.payout_key.clone()));
            let amounts = booked.remove(&key).unwrap_or_default();
            check_yen(&name, &format!("receivable of payout {}", row.payout_key), row.net, amounts)?;
        }
        let unpaid = Yen::checked_sum(report.cashless.unpaid.iter().map(|row| row.net)).unwrap_or(Yen::ZERO);
        let amounts = booked.remove(&(report.facility.to_string(), date, None)).unwrap_or_default();
        check_yen(&name, "receivable in no payout yet", unpaid, amounts)?;
    }
    match booked.into_iter().find(|(_, amounts)| amounts.iter().any(|amount| *amount != Yen::ZERO)) {
        Some(((facility, date, payout), amounts)) => Err(ReportTotalsError {
            report: format!("accounting export {facility} {date}"),
            total: format!("receivable of {}", payout.unwrap_or_else(|| "no payout".to_string())),
            stated: "0 (no such payout in the report)".to_string(),
            computed: Yen::checked_sum(amounts).map_or_else(|_| "an overflow".to_string(), |sum| sum.to_string()),
        }),
        None => Ok(()),
    }
}

/// A summary column, by name.
type SummaryField = (&'static str, fn(&FacilityRow) -> Yen);

fn check_rows(name: &str, total: &FacilityRow, rows: &[FacilityRow]) -> Result<(), ReportTotalsError> {
    let fields: [SummaryField; 8] = [
        ("revenue", |row| row.revenue),
        ("cash expected", |row| row.cash_expected),
        ("cash counted", |row| row.cash_counted),
        ("over/short", |row| row.over_short),
        ("cashless gross", |row| row.cashless_gross),
        ("fees", |row| row.fees),
        ("net", |row| row.net),
        ("net difference", |row| row.net_difference),
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
                total: format!(
                    "{} {} {}",
                    entry.date,
                    entry.facility.as_ref().map_or("city", |f| f.as_str()),
                    entry.account_code
                ),
                stated: entry.amount.to_string(),
                computed: format!("debit {} credit {}", entry.debit, entry.credit),
            });
        }
        let facility = entry.facility.as_ref().map_or_else(|| "city".to_string(), |facility| facility.to_string());
        days.entry((facility, entry.date)).or_default().push(entry);
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
