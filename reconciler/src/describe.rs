//! How the reconciler names things to people: every record in the words treasury finds it by,
//! in Japanese and in English ([`Wording`]).
//!
//! A payment is named by its register, time, brand and amount and its receipt number
//! (`R0101 2026-11-24 10:15:02 VISA 1,500円（領収書 No. 2026-000123）`); a settlement line by its
//! file name and line (`card-settlement-20261124.csv 3行目`), with what the line records; a bank
//! line by its file, the bank's reference (照会番号) and what it moved. Brands are named as the
//! brand names itself ([`Brand::display_name`]: iD, QUICPay+, 楽天Edy), amounts with thousands
//! separators, times in JST. Nothing here prints a Rust `Debug` form: every type that reaches a
//! report is spelt out.

use chrono::{DateTime, FixedOffset, NaiveDate};
use pos_core::{Brand, PaymentState, RegisterId, Yen};

use crate::exceptions::Wording;
use crate::inputs::bank::{BankTransactionKind, Direction, StatementEntry};
use crate::inputs::identifiers::PayoutId;
use crate::journal::{JournalPayment, JournalRefund, RefundChannel, ShiftId};
use crate::settlements::{LineKind, SettlementLine};

/// `1,500円`, `-1,500円`.
pub fn yen_ja(amount: Yen) -> String {
    let text = amount.to_string();
    match text.strip_prefix('-') {
        Some(rest) => format!("-{}円", rest.trim_start_matches('¥')),
        None => format!("{}円", text.trim_start_matches('¥')),
    }
}

/// `¥1,500`, `-¥1,500`.
pub fn yen_en(amount: Yen) -> String {
    amount.to_string()
}

/// An amount with its sign always written: `+1円`, `-26円` (and `0円`).
pub fn signed_yen_ja(amount: Yen) -> String {
    if amount > Yen::ZERO {
        format!("+{}", yen_ja(amount))
    } else {
        yen_ja(amount)
    }
}

/// `+¥1`, `-¥26`.
pub fn signed_yen_en(amount: Yen) -> String {
    if amount > Yen::ZERO {
        format!("+{}", yen_en(amount))
    } else {
        yen_en(amount)
    }
}

/// `2026-11-24 10:15:02`, in the time's own offset (JST throughout the reconciler).
pub fn time(instant: DateTime<FixedOffset>) -> String {
    instant.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A payment state as treasury says it.
pub fn state(state: PaymentState) -> Wording {
    let (ja, en) = match state {
        PaymentState::Created => ("作成のみ", "created only"),
        PaymentState::AwaitingDevice => ("カード待ち", "waiting for the card"),
        PaymentState::Authorizing => ("承認待ち", "being authorized"),
        PaymentState::Approved => ("承認済み（未完了）", "approved, not completed"),
        PaymentState::Completed => ("完了", "completed"),
        PaymentState::Declined => ("拒否", "declined"),
        PaymentState::Cancelled => ("中止", "cancelled"),
        PaymentState::Failed => ("失敗", "failed"),
        PaymentState::InDoubt => ("結果不明", "in doubt"),
        PaymentState::Reversed => ("取消（リバーサル）", "reversed"),
        PaymentState::Voided => ("取消（売上取消）", "voided"),
        PaymentState::PartiallyRefunded => ("一部返金済み", "partly refunded"),
        PaymentState::Refunded => ("返金済み", "refunded"),
    };
    Wording::new(ja, en)
}

fn receipt_of(payment: &JournalPayment) -> Wording {
    match payment.receipt {
        Some(receipt) => Wording::new(format!("領収書 {receipt}"), format!("receipt {receipt}")),
        None => Wording::new(
            format!("領収書なし、決済番号 {}", payment.payment_id),
            format!("no receipt, payment {}", payment.payment_id),
        ),
    }
}

/// A payment in full: register, time, brand, amount and receipt.
pub fn payment(payment: &JournalPayment) -> Wording {
    let receipt = receipt_of(payment);
    let brand = payment.brand.display_name();
    Wording::new(
        format!("{} {} の {brand} {}（{}）", payment.register, time(payment.time), yen_ja(payment.amount), receipt.ja),
        format!(
            "the {brand} payment of {} at {} at {} ({})",
            yen_en(payment.amount),
            payment.register,
            time(payment.time),
            receipt.en
        ),
    )
}

/// A payment, short: for the records column.
pub fn payment_label(payment: &JournalPayment) -> Wording {
    match payment.receipt {
        Some(receipt) => Wording::new(
            format!("領収書 {receipt}（{}）", payment.register),
            format!("receipt {receipt} ({})", payment.register),
        ),
        None => Wording::new(
            format!("決済 {}（{}、領収書なし）", payment.payment_id, payment.register),
            format!("payment {} ({}, no receipt)", payment.payment_id, payment.register),
        ),
    }
}

/// A refund in full: time, amount, how it was paid back, and the payment it refunds.
pub fn refund(payment_of: &JournalPayment, refund: &JournalRefund) -> Wording {
    let original = self::payment(payment_of);
    let (how_ja, how_en) = match refund.channel {
        RefundChannel::Original => (format!("{} への", payment_of.brand.display_name()), "through the brand"),
        RefundChannel::Cash => ("現金での".to_string(), "in cash"),
    };
    Wording::new(
        format!("{} の{how_ja}返金 {}（元の決済: {}）", time(refund.time), yen_ja(refund.amount), original.ja),
        format!("the refund of {} {how_en} at {} (of {})", yen_en(refund.amount), time(refund.time), original.en),
    )
}

/// A refund, short.
pub fn refund_label(payment_of: &JournalPayment, refund: &JournalRefund) -> Wording {
    let original = payment_label(payment_of);
    let at = time(refund.time);
    Wording::new(format!("{} の返金（{at}）", original.ja), format!("refund of {} ({at})", original.en))
}

/// What a settlement line records.
pub fn line_kind(kind: LineKind) -> Wording {
    let (ja, en) = match kind {
        LineKind::Sale => ("売上", "sale"),
        LineKind::Refund => ("返金", "refund"),
        LineKind::Cancel => ("取消", "cancel"),
        LineKind::OutcomeUnknown => ("処理未了", "outcome unknown (処理未了)"),
        LineKind::Chargeback => ("チャージバック", "chargeback"),
        LineKind::ChargebackReversal => ("チャージバック取消", "chargeback reversal"),
        LineKind::Adjustment => ("調整", "adjustment"),
    };
    Wording::new(ja, en)
}

/// A settlement line, short: its file and line.
pub fn line_label(file: &str, line: u64) -> Wording {
    Wording::new(format!("{file} {line}行目"), format!("{file} line {line}"))
}

/// A settlement line in full: file and line, what it records, brand, time, amount and fee.
pub fn line(line: &SettlementLine) -> Wording {
    let label = line_label(&line.file, line.line);
    let kind = line_kind(line.kind);
    let brand = line.brand.display_name();
    Wording::new(
        format!(
            "{}（{} {brand} {} {}、手数料 {}）",
            label.ja,
            kind.ja,
            time(line.time),
            yen_ja(line.amount_gross),
            yen_ja(line.amount_fee)
        ),
        format!(
            "{} ({} {brand} {} at {}, fee {})",
            label.en,
            kind.en,
            yen_en(line.amount_gross),
            time(line.time),
            yen_en(line.amount_fee)
        ),
    )
}

/// 取引区分 in both languages.
pub fn bank_kind(kind: BankTransactionKind) -> Wording {
    let en = match kind {
        BankTransactionKind::Cash => "cash",
        BankTransactionKind::Transfer => "transfer",
        BankTransactionKind::OtherBankCheque => "cheque of another bank",
        BankTransactionKind::Clearing => "clearing",
        BankTransactionKind::AccountTransfer => "account transfer",
        BankTransactionKind::Other => "other",
        BankTransactionKind::Correction => "correction",
    };
    Wording::new(kind.name_ja(), en)
}

/// A bank line, short: its file and reference.
pub fn bank_label(entry: &StatementEntry) -> Wording {
    Wording::new(
        format!("{} 照会番号 {}", entry.file, entry.reference),
        format!("{} reference {}", entry.file, entry.reference),
    )
}

/// A bank line in full: file, reference, date, direction, kind, amount and payer.
pub fn bank_entry(entry: &StatementEntry) -> Wording {
    let label = bank_label(entry);
    let kind = bank_kind(entry.kind);
    let (direction_ja, direction_en) = match entry.direction {
        Direction::Credit => ("入金", "credit"),
        Direction::Debit => ("出金", "debit"),
    };
    let payer = entry.payer_name.trim();
    let (payer_ja, payer_en) = if payer.is_empty() {
        (String::new(), String::new())
    } else {
        (format!("、振込依頼人 {payer}"), format!(", payer {payer}"))
    };
    Wording::new(
        format!(
            "{}（勘定日 {}、{} {direction_ja} {}{payer_ja}）",
            label.ja,
            entry.booking_date,
            kind.ja,
            yen_ja(entry.amount)
        ),
        format!(
            "{} ({} {direction_en} of {} on {}{payer_en})",
            label.en,
            kind.en,
            yen_en(entry.amount),
            entry.booking_date
        ),
    )
}

/// An acquirer's payout, by its id or its date.
pub fn payout(acquirer_name: &str, payout: Option<&PayoutId>, payout_date: NaiveDate) -> Wording {
    match payout {
        Some(id) => Wording::new(
            format!("{acquirer_name} の入金 {id}（入金予定日 {payout_date}）"),
            format!("{acquirer_name}'s payout {id} (due {payout_date})"),
        ),
        None => Wording::new(
            format!("{acquirer_name} の {payout_date} 入金分"),
            format!("{acquirer_name}'s payout of {payout_date}"),
        ),
    }
}

/// A shift at a register: by the time it was opened, which is how the register's clerks know it
/// (its id only when the journal has no opening time).
pub fn shift(register: &RegisterId, shift: &ShiftId, opened_at: Option<DateTime<FixedOffset>>) -> Wording {
    match opened_at {
        Some(opened) => Wording::new(
            format!("レジ {register} の {} 開始のシフト", time(opened)),
            format!("register {register}, the shift opened at {}", time(opened)),
        ),
        None => {
            Wording::new(format!("レジ {register} のシフト {shift}"), format!("register {register}, shift {shift}"))
        }
    }
}

/// A facility's cash deposit of a business date.
pub fn cash_deposit(facility_name: &str, business_date: NaiveDate) -> Wording {
    Wording::new(
        format!("{facility_name} の {business_date} 分の現金預入"),
        format!("{facility_name}'s cash deposit of {business_date}"),
    )
}

/// A brand's name as the brand writes it.
pub fn brand(brand: Brand) -> &'static str {
    brand.display_name()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_treasury_writes_them() {
        let yen = |amount| Yen::new(amount).unwrap();
        assert_eq!(yen_ja(yen(1500)), "1,500円");
        assert_eq!(yen_ja(yen(-26)), "-26円");
        assert_eq!(signed_yen_ja(yen(1)), "+1円");
        assert_eq!(signed_yen_ja(yen(0)), "0円");
        assert_eq!(yen_en(yen(-4400)), "-¥4,400");
        assert_eq!(signed_yen_en(yen(26)), "+¥26");
    }

    #[test]
    fn brands_are_named_as_the_brand_does() {
        assert_eq!(brand(Brand::Id), "iD");
        assert_eq!(brand(Brand::QuicPay), "QUICPay+");
        assert_eq!(brand(Brand::Edy), "楽天Edy");
    }
}
