//! `card-settlement-YYYYMMDD.csv` (PROTOCOLS.md §4.1): UTF-8, comma, header row, CRLF.
//!
//! One `SALE` row per sale booked on that JST date and still approved (declined and reversed
//! sales never settle: a card reversal is an authorization reversal before clearing), one
//! `REFUND` row per approved, unreversed refund of that date with negative amounts and the
//! original's RRN. Rows are in booking order. The fee is the brand's contracted rate times the
//! signed gross, rounded as its term says; net = gross − fee. Every row of the file shares one
//! payout: `P{payout_date}-001`, paid `payout_lag_days` business days after the date. A `TOTAL`
//! trailer with the sums of gross, fee and net ends the file (also when there are no rows).

use std::fmt::Write;

use chrono::NaiveDate;
use pos_core::Yen;

use super::{calendar, fee, jst_date, SettlementFaults, CRLF};
use crate::config::FeeTerm;
use crate::error::SimError;
use crate::ledger::{EntryKind, EntryState, LedgerEntry};

pub const HEADER: &str = "record_type,settlement_date,payout_id,payout_date,merchant_id,terminal_id,transaction_time,stan,rrn,auth_code,brand,masked_pan,gross_amount,fee_amount,net_amount,original_rrn";

/// Whether an entry settles in the card file of `date`.
pub fn settles_on(entry: &LedgerEntry, date: NaiveDate) -> bool {
    entry.state == EntryState::Approved && jst_date(entry.at) == date
}

pub fn payout_id(payout_date: NaiveDate) -> String {
    format!("P{}-001", payout_date.format("%Y%m%d"))
}

pub fn render(
    entries: &[LedgerEntry],
    date: NaiveDate,
    fees: &[FeeTerm],
    payout_lag_days: u32,
) -> Result<String, SimError> {
    render_with(entries, date, fees, payout_lag_days, &SettlementFaults::default())
}

/// [`render`] with planted mistakes ([`SettlementFaults`]).
pub fn render_with(
    entries: &[LedgerEntry],
    date: NaiveDate,
    fees: &[FeeTerm],
    payout_lag_days: u32,
    faults: &SettlementFaults,
) -> Result<String, SimError> {
    let payout_date = calendar::payout_date(date, payout_lag_days)?;
    let payout_id = payout_id(payout_date);
    let settlement_date = date.format("%Y-%m-%d").to_string();
    let mut rows: Vec<&LedgerEntry> =
        entries.iter().filter(|entry| settles_on(entry, date) && !faults.omits(&entry.rrn)).collect();
    rows.sort_by(|a, b| (a.at, &a.rrn).cmp(&(b.at, &b.rrn)));

    let mut out = String::new();
    out.push_str(HEADER);
    out.push_str(CRLF);
    let money = |line| move |source| SimError::Money { what: "sum", line, source };
    let (mut gross_sum, mut fee_sum, mut net_sum) = (Yen::ZERO, Yen::ZERO, Yen::ZERO);
    for (index, entry) in rows.into_iter().enumerate() {
        // The header is line 1.
        let line = index + 2;
        let (record_type, gross) = match entry.kind {
            EntryKind::Sale => ("SALE", entry.amount),
            EntryKind::Refund => ("REFUND", entry.amount.checked_neg()),
        };
        let fee = faults.fee(&entry.rrn, fee(fees, entry.brand, gross, line)?, gross.is_negative(), line)?;
        let net = gross.checked_sub(fee).map_err(money(line))?;
        gross_sum = gross_sum.checked_add(gross).map_err(money(line))?;
        fee_sum = fee_sum.checked_add(fee).map_err(money(line))?;
        net_sum = net_sum.checked_add(net).map_err(money(line))?;
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "{record_type},{settlement_date},{payout_id},{},{},{},{},{},{},{},{},{},{},{},{},{}{CRLF}",
            payout_date.format("%Y-%m-%d"),
            entry.merchant_id,
            entry.terminal_id,
            entry.at.with_timezone(&pos_core::time::jst()).format("%Y-%m-%dT%H:%M:%S%:z"),
            entry.stan,
            entry.rrn,
            entry.auth_code.as_deref().unwrap_or(""),
            entry.brand.code(),
            entry.masked_pan_or_card_id,
            gross.get(),
            fee.get(),
            net.get(),
            entry.original_rrn.as_deref().unwrap_or(""),
        );
    }
    debug_assert_eq!(gross_sum.checked_sub(fee_sum).ok(), Some(net_sum));
    let _ = write!(
        out,
        "TOTAL,{settlement_date},{payout_id},,,,,,,,,,{},{},{},{CRLF}",
        gross_sum.get(),
        fee_sum.get(),
        net_sum.get()
    );
    Ok(out)
}
