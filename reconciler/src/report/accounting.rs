//! Journal entries for the city's accounting system, one row per side of each entry.
//!
//! Revenue is booked gross: the day's revenue accounts (歳入科目) are credited with the full
//! fees charged; the money is debited where it is: cash taken to the cash account, cashless to a
//! receivable from the acquirer that takes the brand (未収金), revenue no payment of the day
//! covers to the unsettled account. The acquirer's fee is an expense, debited to the fee account
//! and credited to the acquirer's receivable, so the receivable left is the net payout. Cash
//! over is credited to miscellaneous income, cash short debited to a loss account.
//!
//! The configuration has no account codes for cash, receivables and fees yet, so they are the
//! named constants below; refunds of earlier days are not booked here yet.
//!
//! CSV columns: `date, account_code, debit, credit, amount, facility, description`; `debit` and
//! `credit` hold the amount on the side the row books (the other is 0) and `amount` the row's
//! amount. Each day's debits equal its credits ([`super::totals::check_journal_entries`]).

use chrono::NaiveDate;
use pos_config::Config;
use pos_core::{FacilityId, Method, Yen};
use serde::Serialize;

use super::DayReport;
use crate::error::{self, ReconcileError};

/// 現金 (cash in hand, to be deposited).
pub const ACCOUNT_CASH: &str = "CASH";
/// 未収金 from an acquirer: `RECEIVABLE-<acquirer id>`.
pub const ACCOUNT_RECEIVABLE_PREFIX: &str = "RECEIVABLE-";
/// 未収金 of revenue no payment of the day covers.
pub const ACCOUNT_UNSETTLED: &str = "RECEIVABLE-UNSETTLED";
/// 役務費 (手数料): the acquirers' fees.
pub const ACCOUNT_FEES: &str = "EXPENSE-FEES";
/// 雑入 (現金過剰).
pub const ACCOUNT_CASH_OVER: &str = "MISC-INCOME-CASH-OVER";
/// 現金不足 (損失).
pub const ACCOUNT_CASH_SHORT: &str = "LOSS-CASH-SHORT";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalEntry {
    pub date: NaiveDate,
    pub account_code: String,
    pub debit: Yen,
    pub credit: Yen,
    pub amount: Yen,
    pub facility: FacilityId,
    pub description: String,
}

fn side(report: &DayReport, account_code: String, debit: bool, amount: Yen, description: String) -> JournalEntry {
    JournalEntry {
        date: report.business_date.date(),
        account_code,
        debit: if debit { amount } else { Yen::ZERO },
        credit: if debit { Yen::ZERO } else { amount },
        amount,
        facility: report.facility.clone(),
        description,
    }
}

/// The entries of one facility-day.
pub fn journal_entries(report: &DayReport, config: &Config) -> Result<Vec<JournalEntry>, ReconcileError> {
    let mut entries = Vec::new();
    let mut debits: std::collections::BTreeMap<String, Yen> = std::collections::BTreeMap::new();
    for row in &report.revenue.rows {
        let account = match (row.method, row.brand) {
            (Some(Method::Cash), _) => ACCOUNT_CASH.to_string(),
            (Some(_), Some(brand)) => match config.fee_rate(brand) {
                Some((acquirer, _)) => format!("{ACCOUNT_RECEIVABLE_PREFIX}{}", acquirer.id),
                None => return Err(ReconcileError::NoContract(brand)),
            },
            _ => ACCOUNT_UNSETTLED.to_string(),
        };
        let entry = debits.entry(account).or_insert(Yen::ZERO);
        *entry = error::add(*entry, row.amount, "debits")?;
        let brand = row.brand.map_or("未決済 / unsettled", |brand| brand.display_name());
        entries.push(side(
            report,
            row.revenue_account.clone(),
            false,
            row.amount,
            format!("歳入 revenue {} ({brand})", row.owner),
        ));
    }
    for (account, amount) in debits {
        entries.push(side(report, account, true, amount, "収納 takings".to_string()));
    }
    for payout in &report.cashless.payouts {
        if payout.fee == Yen::ZERO {
            continue;
        }
        let payout_name = payout.payout_id.clone().unwrap_or_else(|| payout.payout_date.to_string());
        let description = format!("手数料 fee {} {payout_name}", payout.acquirer_name);
        entries.push(side(report, ACCOUNT_FEES.to_string(), true, payout.fee, description.clone()));
        entries.push(side(
            report,
            format!("{ACCOUNT_RECEIVABLE_PREFIX}{}", payout.acquirer),
            false,
            payout.fee,
            description,
        ));
    }
    let over_short = report.cash.over_short_total;
    if over_short > Yen::ZERO {
        entries.push(side(report, ACCOUNT_CASH.to_string(), true, over_short, "現金過剰 cash over".to_string()));
        entries.push(side(report, ACCOUNT_CASH_OVER.to_string(), false, over_short, "現金過剰 cash over".to_string()));
    } else if over_short < Yen::ZERO {
        let short = over_short.checked_neg();
        entries.push(side(report, ACCOUNT_CASH_SHORT.to_string(), true, short, "現金不足 cash short".to_string()));
        entries.push(side(report, ACCOUNT_CASH.to_string(), false, short, "現金不足 cash short".to_string()));
    }
    Ok(entries)
}
