//! `emoney-settlement-YYYYMMDD.csv` (PROTOCOLS.md §4.3): Shift_JIS, comma, Japanese header row,
//! CRLF, no trailer.
//!
//! E-money moves value at the tap, so the centre's file lists **events**, each in the file of
//! the JST date it happened on, with amounts signed by the direction the money moves (§4:
//! refunds and reversals negative):
//!
//! | event | 取引区分 | 金額 | 手数料 |
//! |---|---|---|---|
//! | sale approved (`00`) | 売上 | +amount | fee |
//! | sale with outcome unknown (`Y1`) | 処理未了 | +amount | 0 |
//! | refund approved | 取消 | −amount | fee of −amount |
//! | reversal of an approved sale | 取消 | −amount | −fee |
//! | reversal of an approved refund | 売上 | +amount | fee |
//! | reversal of an outcome-unknown sale | 取消 | −amount | 0 |
//!
//! A reversal's row negates the row it undoes, so every 取引通番 nets to zero once reversed: a
//! reversed sale shows twice, 売上 at the tap and 取消 at the reversal, with the same 取引通番
//! (the original's STAN). A 処理未了 row carries the tap's amount and fee 0 (as in §4.3's
//! example); a reversal resolves it as §4.3 says an unknown outcome settles, with a 取消 row of
//! the same 取引通番, −amount and fee 0. Every 売上 and 処理未了 amount is positive and every 取消
//! amount negative (§4: refunds and reversals negative). Declined transactions do not
//! appear. 精算日 is `payout_lag_days` bank business days after the file's date.

use std::fmt::Write;

use chrono::{DateTime, FixedOffset, NaiveDate};
use iso8583::ResponseCode;
use pos_core::{Brand, Yen};

use super::{calendar, fee, jst_date, SettlementFaults, CRLF};
use crate::config::FeeTerm;
use crate::error::SimError;
use crate::ledger::{EntryKind, LedgerEntry};

pub const HEADER: &str = "利用日,利用時刻,加盟店番号,端末番号,ブランド,取引区分,取引通番,カードID,金額,手数料,精算日";

pub const SALE: &str = "売上";
pub const CANCEL: &str = "取消";
pub const OUTCOME_UNKNOWN: &str = "処理未了";

/// The brand as the e-money centre names it (§4.3).
pub fn brand_name(brand: Brand) -> &'static str {
    match brand {
        Brand::TransitIc => "交通系IC",
        Brand::Id => "iD",
        Brand::QuicPay => "QUICPay",
        Brand::Waon => "WAON",
        Brand::Nanaco => "nanaco",
        Brand::Edy => "楽天Edy",
        other => other.code(),
    }
}

/// How an event's money is computed.
#[derive(Clone, Copy)]
enum Money {
    /// This signed amount, with the brand's fee on it.
    WithFee(Yen),
    /// This signed amount, no fee (a 処理未了 row, or a resolution that moves nothing).
    NoFee(Yen),
}

struct Event<'a> {
    at: DateTime<FixedOffset>,
    entry: &'a LedgerEntry,
    kind: &'static str,
    money: Money,
}

/// The events of one ledger entry that fall on `date`.
fn events_of(entry: &LedgerEntry, date: NaiveDate) -> Vec<Event<'_>> {
    let signed = match entry.kind {
        EntryKind::Sale => entry.amount,
        EntryKind::Refund => entry.amount.checked_neg(),
    };
    let mut events = Vec::new();
    let booked = match entry.response_code {
        ResponseCode::Approved => Some((if signed.is_negative() { CANCEL } else { SALE }, Money::WithFee(signed))),
        ResponseCode::OutcomeUnknown => Some((OUTCOME_UNKNOWN, Money::NoFee(signed))),
        _ => None,
    };
    if let Some((kind, money)) = booked {
        if jst_date(entry.at) == date {
            events.push(Event { at: entry.at, entry, kind, money });
        }
        if let Some(reversed_at) = entry.reversed_at.filter(|at| jst_date(*at) == date) {
            // A reversal negates the row it undoes, fee and all.
            let undo = match money {
                Money::WithFee(amount) => Money::WithFee(amount.checked_neg()),
                Money::NoFee(amount) => Money::NoFee(amount.checked_neg()),
            };
            let undone = match undo {
                Money::WithFee(amount) | Money::NoFee(amount) => amount,
            };
            let undo = (if undone.is_negative() { CANCEL } else { SALE }, undo);
            events.push(Event { at: reversed_at, entry, kind: undo.0, money: undo.1 });
        }
    }
    events
}

/// The file as text (UTF-8); [`shift_jis`] makes the bytes.
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
    let payout_date = calendar::payout_date(date, payout_lag_days)?.format("%Y%m%d").to_string();
    let mut events: Vec<Event<'_>> =
        entries.iter().filter(|entry| !faults.omits(&entry.rrn)).flat_map(|entry| events_of(entry, date)).collect();
    events.sort_by(|a, b| (a.at, &a.entry.rrn).cmp(&(b.at, &b.entry.rrn)));

    let mut out = String::new();
    out.push_str(HEADER);
    out.push_str(CRLF);
    for (index, event) in events.iter().enumerate() {
        let line = index + 2;
        let (amount, fee) = match event.money {
            Money::WithFee(amount) => {
                let contracted = fee(fees, event.entry.brand, amount, line)?;
                (amount, faults.fee(&event.entry.rrn, contracted, amount.is_negative(), line)?)
            }
            Money::NoFee(amount) => (amount, Yen::ZERO),
        };
        let at = event.at.with_timezone(&pos_core::time::jst());
        let entry = event.entry;
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{payout_date}{CRLF}",
            at.format("%Y%m%d"),
            at.format("%H%M%S"),
            entry.merchant_id,
            entry.terminal_id,
            brand_name(entry.brand),
            event.kind,
            entry.stan,
            entry.masked_pan_or_card_id,
            amount.get(),
            fee.get(),
        );
    }
    Ok(out)
}

/// Shift_JIS bytes of the text, naming the first line that cannot be encoded.
pub fn shift_jis(text: &str) -> Result<Vec<u8>, SimError> {
    let mut bytes = Vec::with_capacity(text.len());
    for (index, line) in text.split_inclusive(CRLF).enumerate() {
        let (encoded, _, unmappable) = encoding_rs::SHIFT_JIS.encode(line);
        if unmappable {
            return Err(SimError::ShiftJis { line: index + 1 });
        }
        bytes.extend_from_slice(&encoded);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_jis_encodes_the_header_and_refuses_what_it_cannot() {
        let bytes = shift_jis("売上\r\n").unwrap();
        assert_eq!(bytes, vec![0x94, 0x84, 0x8F, 0xE3, b'\r', b'\n']);
        assert!(matches!(shift_jis("ok\r\n😀\r\n"), Err(SimError::ShiftJis { line: 2 })));
        assert!(shift_jis(HEADER).is_ok());
    }
}
