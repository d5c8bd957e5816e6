//! Journal entries for the city's accounting system, one row per side of each entry.
//!
//! Revenue is booked gross: the day's revenue accounts (歳入科目) are credited with the full
//! fees charged; the money is debited where it is: cash taken to the cash account, cashless to a
//! receivable from the acquirer that takes the brand (未収金), revenue no payment of the day
//! covers to the unsettled account. The acquirer's fee is an expense, debited to the fee account
//! and credited to the acquirer's receivable, so the receivable left is the net payout. Cash
//! over is credited to miscellaneous income, cash short debited to a loss account.
//!
//! The account codes are the configuration's: `[accounting]` for cash, unsettled revenue, fees
//! and cash over/short, each acquirer's `receivable_account` for its 未収金 (without them, codes
//! that say what they stand for, [`pos_config::Accounting::unmapped`]). Refunds of earlier days
//! are not booked here yet.
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
    let accounts = &config.accounting;
    let receivable = |acquirer: &str| {
        config
            .acquirers
            .iter()
            .find(|candidate| candidate.id == acquirer)
            .map_or_else(|| pos_config::Accounting::unmapped_receivable(acquirer), |a| a.receivable_account.clone())
    };
    let mut entries = Vec::new();
    let mut debits: std::collections::BTreeMap<String, Yen> = std::collections::BTreeMap::new();
    for row in &report.revenue.rows {
        let account = match (row.method, row.brand) {
            (Some(Method::Cash), _) => accounts.cash_account.clone(),
            (Some(_), Some(brand)) => match config.fee_rate(brand) {
                Some((acquirer, _)) => acquirer.receivable_account.clone(),
                None => return Err(ReconcileError::NoContract(brand)),
            },
            _ => accounts.unsettled_account.clone(),
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
        entries.push(side(report, accounts.fee_expense_account.clone(), true, payout.fee, description.clone()));
        entries.push(side(report, receivable(&payout.acquirer), false, payout.fee, description));
    }
    let over_short = report.cash.over_short_total;
    if over_short > Yen::ZERO {
        let over = "現金過剰 cash over";
        entries.push(side(report, accounts.cash_account.clone(), true, over_short, over.to_string()));
        entries.push(side(report, accounts.cash_over_account.clone(), false, over_short, over.to_string()));
    } else if over_short < Yen::ZERO {
        let short = over_short.checked_neg();
        let text = "現金不足 cash short";
        entries.push(side(report, accounts.cash_short_account.clone(), true, short, text.to_string()));
        entries.push(side(report, accounts.cash_account.clone(), false, short, text.to_string()));
    }
    Ok(entries)
}
