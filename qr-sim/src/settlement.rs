//! The QR provider's daily settlement file, `qr-settlement-YYYYMMDD.csv` (PROTOCOLS.md §4.2):
//! UTF-8 with a BOM, comma-separated, a Japanese header row, CRLF line ends.
//!
//! The file of a JST date lists that date's events of the simulator's brand, in the order they
//! happened: 支払い for each payment made (positive), 取消 for each paid payment cancelled
//! (the payment's row negated, fee and all), 返金 for each refund (negative). The fee is the
//! brand's [`FeeTerm`] applied to the signed amount; 入金額 = 取引金額 − 決済手数料. 入金予定日 is
//! `payout_lag_days` business days later (Saturdays and Sundays skipped; **holidays are not
//! modelled**); 入金番号 is `D{入金予定日}-{NN}`, NN the merchant's 1-based place in the
//! configuration (one payout per merchant per day). Rendering is a pure function; [`write()`]
//! puts the bytes in place atomically (a temporary file renamed).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use pos_core::Yen;

use crate::config::{FeeTerm, QrSimConfig};
use crate::error::QrSimError;
use crate::ledger::{PaymentRecord, RefundRecord};

pub const BOM: &str = "\u{feff}";
pub const CRLF: &str = "\r\n";
pub const HEADER: &str =
    "取引日時,加盟店ID,店舗ID,端末ID,取引種別,決済番号,加盟店決済番号,取引金額,決済手数料,入金額,入金予定日,入金番号";

pub fn file_name(date: NaiveDate) -> String {
    format!("qr-settlement-{}.csv", date.format("%Y%m%d"))
}

/// One line before rendering.
struct Row<'a> {
    at: DateTime<Utc>,
    sequence: u64,
    merchant_id: &'a str,
    kind: &'static str,
    payment_id: &'a str,
    merchant_payment_id: &'a str,
    amount: Yen,
}

fn on(date: NaiveDate, at: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    at.filter(|at| at.with_timezone(&pos_core::time::jst()).date_naive() == date)
}

fn rows<'a>(payments: &'a [PaymentRecord], refunds: &'a [RefundRecord], date: NaiveDate) -> Vec<Row<'a>> {
    let mut rows = Vec::new();
    for payment in payments {
        let Some(payment_id) = payment.payment_id.as_deref() else { continue };
        let row = |at, kind, amount| Row {
            at,
            sequence: payment.sequence,
            merchant_id: &payment.merchant_id,
            kind,
            payment_id,
            merchant_payment_id: payment.merchant_payment_id.as_str(),
            amount,
        };
        if let Some(at) = on(date, payment.paid_at) {
            rows.push(row(at, "支払い", payment.amount));
        }
        if let Some(at) = on(date, payment.cancelled_at) {
            rows.push(row(at, "取消", payment.amount.checked_neg()));
        }
    }
    for refund in refunds {
        if let Some(at) = on(date, Some(refund.accepted_at)) {
            rows.push(Row {
                at,
                sequence: refund.sequence,
                merchant_id: &refund.merchant_id,
                kind: "返金",
                payment_id: &refund.payment_id,
                merchant_payment_id: refund.merchant_payment_id.as_str(),
                amount: refund.amount.checked_neg(),
            });
        }
    }
    rows.sort_by_key(|row| (row.at, row.sequence));
    rows
}

/// The `lag_days`-th business day (Monday to Friday) after `date`.
pub fn payout_date(date: NaiveDate, lag_days: u32) -> Option<NaiveDate> {
    let is_business_day = |day: NaiveDate| !matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
    let mut day = date;
    let mut counted = 0;
    while counted < lag_days || !is_business_day(day) {
        day = day.succ_opt()?;
        if is_business_day(day) {
            counted += 1;
        }
    }
    Some(day)
}

/// The file's bytes for `date`.
pub fn render(
    config: &QrSimConfig,
    payments: &[PaymentRecord],
    refunds: &[RefundRecord],
    date: NaiveDate,
) -> Result<Vec<u8>, QrSimError> {
    let term: Option<FeeTerm> = config.fee_term();
    let payout = payout_date(date, config.payout_lag_days).ok_or(QrSimError::PayoutDate { date })?;
    let mut text = format!("{BOM}{HEADER}{CRLF}");
    for (index, row) in rows(payments, refunds, date).iter().enumerate() {
        let line = index + 2;
        let fee = match term {
            Some(term) => term.rate.fee(row.amount, term.rounding).map_err(|source| QrSimError::Money {
                what: "fee",
                line,
                source,
            })?,
            None => Yen::ZERO,
        };
        let net = row.amount.checked_sub(fee).map_err(|source| QrSimError::Money { what: "net", line, source })?;
        let merchant_position =
            config.merchants.iter().position(|merchant| merchant.merchant_id == row.merchant_id).unwrap_or(0) + 1;
        let (store_id, terminal_id) = config
            .merchant(row.merchant_id)
            .map_or(("", ""), |merchant| (merchant.store_id.as_str(), merchant.terminal_id.as_str()));
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},D{}-{:02}{CRLF}",
            row.at.with_timezone(&pos_core::time::jst()).format("%Y/%m/%d %H:%M:%S"),
            row.merchant_id,
            store_id,
            terminal_id,
            row.kind,
            row.payment_id,
            row.merchant_payment_id,
            row.amount.get(),
            fee.get(),
            net.get(),
            payout.format("%Y/%m/%d"),
            payout.format("%Y%m%d"),
            merchant_position,
        ));
    }
    Ok(text.into_bytes())
}

/// Renders the file for `date` into `dir` (created if missing); returns its path.
pub fn write(
    config: &QrSimConfig,
    payments: &[PaymentRecord],
    refunds: &[RefundRecord],
    date: NaiveDate,
    dir: &Path,
) -> Result<PathBuf, QrSimError> {
    let bytes = render(config, payments, refunds, date)?;
    let path = dir.join(file_name(date));
    let temporary = dir.join(format!(".{}.partial", file_name(date)));
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| QrSimError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed(dir))?;
    std::fs::write(&temporary, bytes).map_err(failed(&temporary))?;
    std::fs::rename(&temporary, &path).map_err(failed(&path))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payout_dates_skip_weekends() {
        let date = |text: &str| text.parse::<NaiveDate>().unwrap();
        // The §4.2 example: Tuesday 2026-11-24 pays on Monday 2026-11-30, four business days on.
        assert_eq!(payout_date(date("2026-11-24"), 4), Some(date("2026-11-30")));
        assert_eq!(payout_date(date("2026-11-28"), 0), Some(date("2026-11-30")));
        assert_eq!(payout_date(date("2026-11-24"), 0), Some(date("2026-11-24")));
    }
}
