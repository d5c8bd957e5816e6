//! Exceptions the payment lifecycle raises for treasury itself, without waiting for a
//! reconciliation run: a reversal the acquirer would not confirm (so a payment stays in doubt, a
//! void stays unconfirmed, or a refund in doubt stays so), and a QR provider whose "paid" names
//! another amount than the payment. They sit on treasury's exceptions list of the payment's
//! facility-day beside the reconciler's, keep the day from closing, and end only by treasury's
//! resolution (a reconciliation run does not clear them).

use chrono::{DateTime, Utc};
use pos_core::Yen;

use crate::journal::payments::PaymentRecord;
use crate::journal::reversals::ReversalRecord;
use crate::journal::{raised, JournalError, WriteTx};

/// One exception, as treasury reads it.
#[derive(Debug, Clone)]
pub struct SwitchException {
    pub facility_id: String,
    pub business_date: String,
    /// A stable kind (`reversal_unconfirmed`, `void_unconfirmed`, `refund_unconfirmed`,
    /// `qr_amount_mismatch`).
    pub kind: &'static str,
    pub name_ja: &'static str,
    /// The records it is about (payment, reversal, refund ids): with the kind, its identity.
    pub records: Vec<String>,
    pub amount_at_stake: Yen,
    pub detail: String,
    pub suggested_action: String,
}

impl SwitchException {
    fn of(payment: &PaymentRecord, kind: &'static str, name_ja: &'static str, records: Vec<String>) -> SwitchException {
        SwitchException {
            facility_id: payment.facility_id.clone(),
            business_date: payment.view.business_date.to_string(),
            kind,
            name_ja,
            records,
            amount_at_stake: payment.view.amount,
            detail: String::new(),
            suggested_action: String::new(),
        }
    }

    /// An authorization in doubt whose reversal the acquirer never confirmed.
    pub fn reversal_unconfirmed(
        payment: &PaymentRecord,
        reversal: &ReversalRecord,
        answer: &str,
        tries: u32,
    ) -> SwitchException {
        let mut exception = SwitchException::of(
            payment,
            "reversal_unconfirmed",
            "取消未確認（結果不明）",
            vec![payment.view.id.clone(), reversal.id.clone()],
        );
        exception.detail = format!(
            "決済 {} ({} 円) は結果不明のまま、取消 (0400/0401) が {tries} 回とも確認されませんでした（最後の応答: {answer}）。 / Payment {} ({} yen) is in doubt and its reversal was not confirmed after {tries} tries (last answer: {answer}).",
            payment.view.id, payment.view.amount.get(), payment.view.id, payment.view.amount.get()
        );
        exception.suggested_action = "Ask the acquirer whether the authorization stands; then resolve the payment (completed or failed). / 加盟店窓口で売上の有無を確認し、決済を確定してください。".to_string();
        exception
    }

    /// A void whose reversal the acquirer never confirmed: the money is still taken.
    pub fn void_unconfirmed(
        payment: &PaymentRecord,
        reversal: &ReversalRecord,
        answer: &str,
        tries: u32,
    ) -> SwitchException {
        let mut exception = SwitchException::of(
            payment,
            "void_unconfirmed",
            "取消未完了（売上残存）",
            vec![payment.view.id.clone(), reversal.id.clone()],
        );
        exception.detail = format!(
            "取り消した売上の決済 {} ({} 円) の取消がアクワイアラで確認されませんでした（{tries} 回、最後の応答: {answer}）。代金はまだ受領済みです。 / The void of payment {} ({} yen) was not confirmed by the acquirer ({tries} tries, last answer: {answer}); the money is still taken.",
            payment.view.id, payment.view.amount.get(), payment.view.id, payment.view.amount.get()
        );
        exception.suggested_action = "Refund the payment to the customer (treasury), or confirm with the acquirer that it was reversed. / 返金処理を行うか、アクワイアラに取消の有無を確認してください。".to_string();
        exception
    }

    /// A refund in doubt whose reversal the acquirer never confirmed.
    pub fn refund_unconfirmed(
        payment: &PaymentRecord,
        refund_id: &str,
        reversal: &ReversalRecord,
        answer: &str,
        tries: u32,
    ) -> SwitchException {
        let mut exception = SwitchException::of(
            payment,
            "refund_unconfirmed",
            "返金結果不明",
            vec![payment.view.id.clone(), refund_id.to_string(), reversal.id.clone()],
        );
        exception.detail = format!(
            "返金 {refund_id} は結果不明のまま、その取消が確認されませんでした（{tries} 回、最後の応答: {answer}）。 / Refund {refund_id} of payment {} is in doubt and its reversal was not confirmed ({tries} tries, last answer: {answer}).",
            payment.view.id
        );
        exception.suggested_action =
            "Ask the acquirer whether the refund was booked. / アクワイアラに返金の有無を確認してください。"
                .to_string();
        exception
    }

    /// The QR provider refused the refund that voids a QR-paid sale: the money is still taken.
    pub fn void_refused(payment: &PaymentRecord, refund_id: &str, reason: &str) -> SwitchException {
        let mut exception = SwitchException::of(
            payment,
            "void_unconfirmed",
            "取消未完了（売上残存）",
            vec![payment.view.id.clone(), refund_id.to_string()],
        );
        exception.detail = format!(
            "取り消した売上の QR 決済 {} ({} 円) の返金を事業者が拒否しました（{reason}）。代金はまだ受領済みです。 / The QR provider refused the refund voiding payment {} ({} yen): {reason}; the money is still taken.",
            payment.view.id, payment.view.amount.get(), payment.view.id, payment.view.amount.get()
        );
        exception.suggested_action =
            "Refund the customer another way (treasury), then resolve. / 別の方法で返金し、解決してください。"
                .to_string();
        exception
    }

    /// The QR provider reported the payment paid for another amount.
    pub fn qr_amount_mismatch(
        payment: &PaymentRecord,
        provider_amount: Yen,
        provider_payment_id: Option<&str>,
    ) -> SwitchException {
        let mut exception =
            SwitchException::of(payment, "qr_amount_mismatch", "QR決済金額相違", vec![payment.view.id.clone()]);
        exception.amount_at_stake = provider_amount;
        exception.detail = format!(
            "QR事業者は決済 {} を {} 円で支払済みと回答しましたが、請求額は {} 円です（事業者の決済番号: {}）。 / The QR provider reports payment {} paid for {} yen; the payment is for {} yen (provider payment id: {}).",
            payment.view.id,
            provider_amount.get(),
            payment.view.amount.get(),
            provider_payment_id.unwrap_or("-"),
            payment.view.id,
            provider_amount.get(),
            payment.view.amount.get(),
            provider_payment_id.unwrap_or("-"),
        );
        exception.suggested_action = "Confirm the amount with the QR provider; refund or collect the difference, then resolve the payment. / 事業者に金額を確認し、差額を精算してください。".to_string();
        exception
    }
}

/// Puts the exception on treasury's list (once: raising it again changes nothing).
pub async fn raise(tx: &mut WriteTx, exception: &SwitchException, at: DateTime<Utc>) -> Result<(), JournalError> {
    metrics::counter!("switch_exceptions_total", "kind" => exception.kind).increment(1);
    raised::insert(
        tx,
        &raised::Raised {
            facility_id: &exception.facility_id,
            business_date: &exception.business_date,
            kind: exception.kind,
            name_ja: exception.name_ja,
            records: &exception.records,
            amount_at_stake: exception.amount_at_stake,
            detail: &exception.detail,
            suggested_action: &exception.suggested_action,
        },
        at,
    )
    .await
}
