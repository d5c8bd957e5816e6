//! Journal entries for the city's accounting system, one row per side of each entry.
//!
//! A facility-day ([`journal_entries`]) books:
//!
//! - **Revenue**, gross: each revenue account (歳入科目) credited with the fees charged; the
//!   money debited where it is: cash taken to cash, revenue no payment of the day covers to the
//!   unsettled account, and the cashless takings to the receivable (未収金) of the acquirer that
//!   takes the brand, **per payout** (the export's `payout` column), or to its row of what is in
//!   no payout yet (`payout` empty) when the payment is still due or missing from every
//!   settlement.
//! - **Refunds**, each its own entry: the revenue account of the sale refunded debited (歳入戻出)
//!   or, for revenue of a fiscal year already closed, the closed-year refund account
//!   (過誤納還付金); credited to cash for a cash refund, to the acquirer's receivable of the
//!   payout that carries it for a refund through the brand.
//! - **What a payout settled beyond the journal** (a line the journal never saw, a duplicate, a
//!   different amount, a chargeback, an adjustment): between the receivable and the suspense
//!   account (仮受金・仮払金), until treasury resolves the exception.
//! - **Fees**: a line's fee to the fee expense account when no exception questions the line (or
//!   every exception that does is resolved: `resolved` names them), else to the suspense
//!   account; credited to the payout's receivable. So each payout's receivable ends at exactly the
//!   payout's net, which [`super::totals::check_receivables`] asserts.
//! - **Cash over/short**: over credited to miscellaneous income, short debited to a loss account.
//!
//! The bank's lines ([`bank_entries`]) are booked on their booking date, each once: a payout's
//! credit against the acquirer's receivable, a cash deposit against cash, a charge to the
//! bank-charge account, an unexplained line and a correction pair against the suspense account.
//!
//! A negative amount is booked as the opposite entry (a fee given back with a refund credits the
//! fee expense), so every row's amount is positive. The account codes are the configuration's
//! (`[accounting]` and each acquirer's `receivable_account`; without them, codes that say what
//! they stand for, [`pos_config::Accounting::unmapped`]).
//!
//! CSV columns: `date, account_code, debit, credit, amount, facility, payout, description`;
//! `debit` and `credit` hold the amount on the side the row books (the other is 0), `amount` the
//! row's amount, `payout` the payout's key for receivable rows. Each facility-day's and each bank
//! line's debits equal its credits ([`super::totals::check_journal_entries`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use pos_config::Config;
use pos_core::{FacilityId, Method, Yen};
use serde::Serialize;

use super::bank::BankReport;
use super::DayReport;
use crate::error::{self, ReconcileError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalEntry {
    pub date: NaiveDate,
    pub account_code: String,
    pub debit: Yen,
    pub credit: Yen,
    pub amount: Yen,
    /// The facility-day's facility; `None` for a bank line of the city.
    pub facility: Option<FacilityId>,
    /// The payout a receivable row belongs to (its key); `None` elsewhere, and for what is in
    /// no payout yet.
    pub payout: Option<String>,
    pub description: String,
}

/// Rows being written for one facility-day or one bank line.
struct Book<'a> {
    date: NaiveDate,
    facility: Option<&'a FacilityId>,
    entries: Vec<JournalEntry>,
}

impl Book<'_> {
    fn side(&mut self, account: &str, debit: bool, amount: Yen, payout: Option<&str>, description: &str) {
        if amount == Yen::ZERO {
            return;
        }
        let (debit, amount) = if amount.is_negative() { (!debit, amount.checked_neg()) } else { (debit, amount) };
        self.entries.push(JournalEntry {
            date: self.date,
            account_code: account.to_string(),
            debit: if debit { amount } else { Yen::ZERO },
            credit: if debit { Yen::ZERO } else { amount },
            amount,
            facility: self.facility.cloned(),
            payout: payout.map(str::to_string),
            description: description.to_string(),
        });
    }

    /// Debit one account and credit another with the same amount; each side may name a payout.
    fn pair(
        &mut self,
        (debit, debit_payout): (&str, Option<&str>),
        (credit, credit_payout): (&str, Option<&str>),
        amount: Yen,
        description: &str,
    ) {
        self.side(debit, true, amount, debit_payout, description);
        self.side(credit, false, amount, credit_payout, description);
    }
}

/// An acquirer's receivable account.
pub fn receivable_account(config: &Config, acquirer: &str) -> String {
    config
        .acquirers
        .iter()
        .find(|candidate| candidate.id == acquirer)
        .map_or_else(|| pos_config::Accounting::unmapped_receivable(acquirer), |a| a.receivable_account.clone())
}

/// The entries of one facility-day. `resolved` are the keys of the exceptions treasury has
/// resolved: the fees they held are expensed.
pub fn journal_entries(
    report: &DayReport,
    config: &Config,
    resolved: &BTreeSet<String>,
) -> Result<Vec<JournalEntry>, ReconcileError> {
    let accounts = &config.accounting;
    let mut book = Book { date: report.business_date.date(), facility: Some(&report.facility), entries: Vec::new() };
    let mut takings_cash = Yen::ZERO;
    let mut takings_unsettled = Yen::ZERO;
    for row in &report.revenue.rows {
        let brand = row.brand.map_or("未決済 / unsettled", |brand| brand.display_name());
        book.side(&row.revenue_account, false, row.amount, None, &format!("歳入 revenue {} ({brand})", row.owner));
        match row.method {
            Some(Method::Cash) => takings_cash = error::add(takings_cash, row.amount, "cash takings")?,
            Some(_) => {}
            None => takings_unsettled = error::add(takings_unsettled, row.amount, "unsettled takings")?,
        }
    }
    book.side(&accounts.cash_account, true, takings_cash, None, "収納 現金 / cash takings");
    book.side(&accounts.unsettled_account, true, takings_unsettled, None, "収納 未決済 / revenue no payment covers");
    for payout in &report.cashless.payouts {
        let receivable = receivable_account(config, &payout.acquirer);
        let name = payout.payout_id.clone().unwrap_or_else(|| payout.payout_date.to_string());
        let at = Some(payout.payout_key.as_str());
        let takings = format!("収納 {} {name} / takings", payout.acquirer_name);
        book.side(&receivable, true, payout.takings, at, &takings);
        let refunds = format!("返金 {} {name} / refunds", payout.acquirer_name);
        book.side(&receivable, false, payout.refunds, at, &refunds);
        let differences =
            format!("照合中差額 {} {name} / settled beyond the journal, in suspense", payout.acquirer_name);
        book.pair((&receivable, at), (&accounts.suspense_account, None), payout.differences, &differences);
        let fee = format!("手数料 {} {name} / fees", payout.acquirer_name);
        book.pair((&accounts.fee_expense_account, None), (&receivable, at), payout.fee_clean, &fee);
        for held in &payout.fees_held {
            let settled = held.exception_keys.iter().all(|key| resolved.contains(key));
            let (account, what) = if settled {
                (&accounts.fee_expense_account, "手数料（例外解決済み） / fee, exception resolved")
            } else {
                (&accounts.suspense_account, "手数料 仮払（例外照会中） / fee held while an exception is open")
            };
            book.pair((account, None), (&receivable, at), held.amount, &format!("{what}: {}", held.line));
        }
    }
    for unpaid in &report.cashless.unpaid {
        let receivable = receivable_account(config, &unpaid.acquirer);
        let what = format!("{} 未入金 / in no payout yet", unpaid.acquirer_name);
        book.side(&receivable, true, unpaid.takings, None, &format!("収納 {what}"));
        book.side(&receivable, false, unpaid.refunds, None, &format!("返金 {what}"));
    }
    for refund in &report.refunds.rows {
        for allocation in &refund.allocations {
            let account = match (refund.book.as_str(), &allocation.revenue_account) {
                ("closed_year_refund", _) => &accounts.refund_expense_account,
                (_, Some(account)) => account,
                (_, None) => &accounts.unsettled_account,
            };
            let what = format!("{} {} / refund: {}", refund.book_name_ja, allocation.owner, refund.description_ja);
            book.side(account, true, allocation.amount, None, &what);
        }
        if refund.channel == "cash" {
            book.side(
                &accounts.cash_account,
                false,
                refund.amount,
                None,
                &format!("現金返金 / cash refund: {}", refund.description_ja),
            );
        }
    }
    let over_short = report.cash.over_short_total;
    if over_short > Yen::ZERO {
        let over = "現金過剰 cash over";
        book.pair((&accounts.cash_account, None), (&accounts.cash_over_account, None), over_short, over);
    } else if over_short < Yen::ZERO {
        let short = "現金不足 cash short";
        book.pair(
            (&accounts.cash_short_account, None),
            (&accounts.cash_account, None),
            over_short.checked_neg(),
            short,
        );
    }
    Ok(book.entries)
}

/// The entries of the bank's lines booked on a date of `dates` (each line once, on its booking
/// date): payouts against receivables, cash deposits against cash, charges, and the suspense
/// account for what nothing explains and for corrections.
pub fn bank_entries(
    report: &BankReport,
    config: &Config,
    dates: impl Fn(NaiveDate) -> bool,
) -> Result<Vec<JournalEntry>, ReconcileError> {
    let accounts = &config.accounting;
    let mut entries = Vec::new();
    let mut by_date: BTreeMap<NaiveDate, Vec<&super::bank::BankLineRow>> = BTreeMap::new();
    for line in report.lines.iter().filter(|line| dates(line.booking_date)) {
        by_date.entry(line.booking_date).or_default().push(line);
    }
    for (date, lines) in by_date {
        for line in lines {
            let facility = line.facility.as_ref();
            let mut book = Book { date, facility, entries: Vec::new() };
            let what = format!("{} 照会番号 {}: {}", line.file, line.reference, line.description_ja);
            let bank = (accounts.bank_account.as_str(), None);
            let amount = line.amount_signed;
            match line.disposition.as_str() {
                "payout" => {
                    let acquirer = line.acquirer.as_deref().unwrap_or_default();
                    let receivable = receivable_account(config, acquirer);
                    book.pair(bank, (&receivable, line.payout_key.as_deref()), amount, &what);
                }
                "cash_deposit" => book.pair(bank, (&accounts.cash_account, None), amount, &what),
                "charge" => {
                    book.pair((&accounts.bank_charge_account, None), bank, amount.checked_neg(), &what);
                }
                _ => book.pair(bank, (&accounts.suspense_account, None), amount, &what),
            }
            entries.extend(book.entries);
        }
    }
    let _ = error::sum(entries.iter().map(|entry| entry.amount), "bank entries")?;
    Ok(entries)
}
