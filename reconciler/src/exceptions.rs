//! The exceptions list: what treasury must look at, one entry per problem.
//!
//! Each exception has a kind, the records involved (journal payments and refunds, settlement
//! lines by file and line, bank lines by reference, shifts, payouts), the amount at stake and a
//! suggested action in Japanese and English. The amount at stake is signed: positive when more
//! money arrived or was counted than the journal says, negative when less.

use std::fmt;

use chrono::NaiveDate;
use pos_core::{RegisterId, Yen};

use crate::inputs::identifiers::PayoutId;
use crate::journal::{PaymentId, RefundId, ShiftId};

/// What kind of problem an exception is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExceptionKind {
    /// A taken payment or refund is in no settlement, and its due date has passed.
    MissingInSettlement,
    /// A settlement line matches nothing in the journal.
    MissingInJournal,
    /// Journal and settlement agree on the transaction but not on its amount.
    AmountMismatch,
    /// A settlement line repeats one already matched (same keys, same amount).
    Duplicate,
    /// A settlement or bank line was claimed by a second match group.
    ClaimedTwice,
    /// A refund or cancel in a settlement matches no refund in the journal.
    UnmatchedRefund,
    /// The acquirer charged a payment back (or reversed a chargeback).
    Chargeback,
    /// An acquirer adjustment line, which no journal record explains.
    SettlementAdjustment,
    /// The fee on a line is not the contracted rate with the contracted rounding.
    FeeMismatch,
    /// The journal still has the payment in doubt (or not finished).
    PaymentInDoubt,
    /// The e-money centre reports 処理未了 and no later outcome was found.
    EmoneyOutcomeUnknown,
    /// A payment the journal undid (voided, reversed, declined) appears in a settlement.
    ReversedButSettled,
    /// The acquirer's stated payout is not the sum of its net settlement lines.
    PayoutMismatch,
    /// An expected bank deposit (acquirer payout or cash deposit) did not arrive in its window.
    BankDepositMissing,
    /// A bank deposit arrived from the right payer but for a different amount.
    BankDepositDifferent,
    /// More cash was counted than expected.
    CashOver,
    /// Less cash was counted than expected.
    CashShort,
}

impl ExceptionKind {
    pub const ALL: [ExceptionKind; 17] = [
        ExceptionKind::MissingInSettlement,
        ExceptionKind::MissingInJournal,
        ExceptionKind::AmountMismatch,
        ExceptionKind::Duplicate,
        ExceptionKind::ClaimedTwice,
        ExceptionKind::UnmatchedRefund,
        ExceptionKind::Chargeback,
        ExceptionKind::SettlementAdjustment,
        ExceptionKind::FeeMismatch,
        ExceptionKind::PaymentInDoubt,
        ExceptionKind::EmoneyOutcomeUnknown,
        ExceptionKind::ReversedButSettled,
        ExceptionKind::PayoutMismatch,
        ExceptionKind::BankDepositMissing,
        ExceptionKind::BankDepositDifferent,
        ExceptionKind::CashOver,
        ExceptionKind::CashShort,
    ];

    /// A stable code for reports and exports.
    pub fn code(self) -> &'static str {
        match self {
            ExceptionKind::MissingInSettlement => "missing_in_settlement",
            ExceptionKind::MissingInJournal => "missing_in_journal",
            ExceptionKind::AmountMismatch => "amount_mismatch",
            ExceptionKind::Duplicate => "duplicate",
            ExceptionKind::ClaimedTwice => "claimed_twice",
            ExceptionKind::UnmatchedRefund => "unmatched_refund",
            ExceptionKind::Chargeback => "chargeback",
            ExceptionKind::SettlementAdjustment => "settlement_adjustment",
            ExceptionKind::FeeMismatch => "fee_mismatch",
            ExceptionKind::PaymentInDoubt => "payment_in_doubt",
            ExceptionKind::EmoneyOutcomeUnknown => "emoney_outcome_unknown",
            ExceptionKind::ReversedButSettled => "reversed_but_settled",
            ExceptionKind::PayoutMismatch => "payout_mismatch",
            ExceptionKind::BankDepositMissing => "bank_deposit_missing",
            ExceptionKind::BankDepositDifferent => "bank_deposit_different",
            ExceptionKind::CashOver => "cash_over",
            ExceptionKind::CashShort => "cash_short",
        }
    }

    /// The name treasury reads on the list.
    pub fn name_ja(self) -> &'static str {
        match self {
            ExceptionKind::MissingInSettlement => "精算データ未着",
            ExceptionKind::MissingInJournal => "取引記録なし",
            ExceptionKind::AmountMismatch => "金額不一致",
            ExceptionKind::Duplicate => "重複計上",
            ExceptionKind::ClaimedTwice => "二重照合",
            ExceptionKind::UnmatchedRefund => "返金の照合先なし",
            ExceptionKind::Chargeback => "チャージバック",
            ExceptionKind::SettlementAdjustment => "精算調整",
            ExceptionKind::FeeMismatch => "手数料不一致",
            ExceptionKind::PaymentInDoubt => "決済結果不明",
            ExceptionKind::EmoneyOutcomeUnknown => "電子マネー処理未了",
            ExceptionKind::ReversedButSettled => "取消済み取引の精算",
            ExceptionKind::PayoutMismatch => "入金額と精算合計の不一致",
            ExceptionKind::BankDepositMissing => "入金なし",
            ExceptionKind::BankDepositDifferent => "入金額相違",
            ExceptionKind::CashOver => "現金過剰",
            ExceptionKind::CashShort => "現金不足",
        }
    }

    /// What treasury should do, Japanese first.
    pub fn suggested_action(self) -> &'static str {
        match self {
            ExceptionKind::MissingInSettlement => {
                "加盟店会社に未精算の理由を照会する / Ask the acquirer why the transaction was not settled."
            }
            ExceptionKind::MissingInJournal => {
                "端末の取引履歴と照合し、売上計上漏れか誤精算かを確認する / Check the terminal's log: an unrecorded sale or a wrong settlement."
            }
            ExceptionKind::AmountMismatch => {
                "領収書控えと端末の利用票で金額を確認し、加盟店会社に訂正を依頼する / Check the receipt and terminal slip, then ask the acquirer to correct the amount."
            }
            ExceptionKind::Duplicate => {
                "二重精算として加盟店会社に返還を依頼する / Ask the acquirer to reverse the duplicated line."
            }
            ExceptionKind::ClaimedTwice => {
                "同じ明細に二つの取引が対応している。取引記録の重複を確認する / Two records claim one line: check the journal for a duplicate."
            }
            ExceptionKind::UnmatchedRefund => {
                "返金の承認記録を確認し、記録がなければ加盟店会社に照会する / Find the refund's approval; if none, query the acquirer."
            }
            ExceptionKind::Chargeback => {
                "チャージバックの理由を加盟店会社に確認し、施設に証憑の提出を依頼する / Ask the acquirer for the reason and the facility for the evidence."
            }
            ExceptionKind::SettlementAdjustment => {
                "調整の内容を加盟店会社に確認する / Ask the acquirer what the adjustment is for."
            }
            ExceptionKind::FeeMismatch => {
                "契約手数料率との差額を加盟店会社に照会する / Query the difference from the contracted fee with the acquirer."
            }
            ExceptionKind::PaymentInDoubt => {
                "精算データで結果を確認し、ゲートウェイで決済を確定または取消する / Resolve the payment in the gateway from the settlement's outcome."
            }
            ExceptionKind::EmoneyOutcomeUnknown => {
                "センターの後日の精算(売上/取消)を待ち、期限を過ぎたらセンターに照会する / Wait for the centre's later 売上 or 取消; query it when overdue."
            }
            ExceptionKind::ReversedButSettled => {
                "取消済みの取引が精算されている。加盟店会社に取消処理を依頼する / Ask the acquirer to reverse the settled transaction."
            }
            ExceptionKind::PayoutMismatch => {
                "精算明細の合計と入金額の差を加盟店会社に照会する / Query the difference between the lines and the payout."
            }
            ExceptionKind::BankDepositMissing => {
                "入金予定日を過ぎても入金がない。振込元に照会する / The deposit is overdue: ask the payer."
            }
            ExceptionKind::BankDepositDifferent => {
                "入金額と予定額の差額を振込元に照会する / Query the difference between deposited and expected."
            }
            ExceptionKind::CashOver => {
                "過剰金として記録し、当日の取引と釣銭を確認する / Record the surplus and check the day's sales and change."
            }
            ExceptionKind::CashShort => {
                "不足金として記録し、当日の取引と釣銭を確認する / Record the shortage and check the day's sales and change."
            }
        }
    }
}

impl fmt::Display for ExceptionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A record an exception or a match refers to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordRef {
    /// A journal payment.
    Payment(PaymentId),
    /// A journal refund, with the payment it refunds.
    Refund { payment: PaymentId, refund: RefundId },
    /// A line of a settlement file (1-based line number).
    SettlementLine { file: String, line: u64 },
    /// A line of the bank statement, by the bank's reference (照会番号) and record number.
    BankLine { reference: String, record_number: u64 },
    /// A shift at a register.
    Shift { register: RegisterId, shift: ShiftId },
    /// An acquirer's payout: by its id, or by its date when the acquirer gives none.
    Payout { acquirer: String, payout: Option<PayoutId>, payout_date: NaiveDate },
    /// A facility's cash deposit for a business date.
    CashDeposit { business_date: NaiveDate },
}

/// One entry of the exceptions list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub kind: ExceptionKind,
    pub records: Vec<RecordRef>,
    /// Signed: positive when more arrived than expected, negative when less.
    pub amount_at_stake: Yen,
    /// What was found, in a sentence with the figures.
    pub detail: String,
}

impl Exception {
    pub fn new(kind: ExceptionKind, records: Vec<RecordRef>, amount_at_stake: Yen, detail: String) -> Exception {
        Exception { kind, records, amount_at_stake, detail }
    }

    pub fn suggested_action(&self) -> &'static str {
        self.kind.suggested_action()
    }
}
