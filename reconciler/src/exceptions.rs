//! The exceptions list: what treasury must look at, one entry per problem.
//!
//! Each exception has a kind, the records involved (journal payments and refunds, settlement
//! lines by file and line, bank lines by file and reference, shifts, payouts, cash deposits),
//! the amount at stake, and what was found in a Japanese sentence with its English beside it,
//! naming each record as treasury finds it (a payment by its receipt number, time, brand and
//! amount; a settlement line by file name and line).
//!
//! **One sign rule** (PROTOCOLS.md §4): the amount at stake is the exception's effect on the
//! city's money, negative when the city has received, or will receive, less than the journal
//! says it should (a fee charged above the contract, a deposit short, a payment never settled, a
//! 処理未了 that ends as a cancel), positive when more. What the journal says the city should
//! receive is, for each taken payment, its amount, less the fee the contract gives on what was
//! settled; for a refund, its amount back; for a payment the journal has not taken (in doubt,
//! undone), nothing. So a report's exceptions sum to the day's net difference
//! ([`crate::day::Difference`]), which the totals checker asserts for every facility-day.
//!
//! An exception's identity across runs ([`Exception::key`]) is its kind and the stable keys of
//! the records it names ([`RecordRef::key`]), never its wording or amount, so that treasury's
//! resolution survives a re-run that words or values it differently.

use std::fmt;

use chrono::NaiveDate;
use pos_core::{FacilityId, RegisterId, Yen};
use sha2::{Digest, Sha256};

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
    /// A journal record leads to a settlement line another record already matched.
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
    /// The e-money centre's 処理未了 was not settled by its deadline, or ended as 取消 for a
    /// payment the journal took.
    EmoneyOutcomeUnknown,
    /// A payment the journal undid (voided, reversed, declined) appears in a settlement.
    ReversedButSettled,
    /// The acquirer's stated payout is not the sum of its net settlement lines.
    PayoutMismatch,
    /// An expected bank deposit (acquirer payout or cash deposit) did not arrive in its window.
    BankDepositMissing,
    /// A bank deposit arrived from the right payer but for a different amount.
    BankDepositDifferent,
    /// A credit on the bank statement that no payout, cash deposit or correction explains.
    BankCreditUnmatched,
    /// A debit on the bank statement that is neither a bank charge (取引区分 18) nor a
    /// correction of another line.
    BankDebitUnmatched,
    /// More cash was counted than expected.
    CashOver,
    /// Less cash was counted than expected.
    CashShort,
}

impl ExceptionKind {
    pub const ALL: [ExceptionKind; 19] = [
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
        ExceptionKind::BankCreditUnmatched,
        ExceptionKind::BankDebitUnmatched,
        ExceptionKind::CashOver,
        ExceptionKind::CashShort,
    ];

    /// A stable code for reports, exports and filters.
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
            ExceptionKind::BankCreditUnmatched => "bank_credit_unmatched",
            ExceptionKind::BankDebitUnmatched => "bank_debit_unmatched",
            ExceptionKind::CashOver => "cash_over",
            ExceptionKind::CashShort => "cash_short",
        }
    }

    /// The kind of a code, as [`ExceptionKind::code`] writes it.
    pub fn from_code(code: &str) -> Option<ExceptionKind> {
        ExceptionKind::ALL.into_iter().find(|kind| kind.code() == code)
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
            ExceptionKind::BankCreditUnmatched => "照合先のない入金",
            ExceptionKind::BankDebitUnmatched => "照合先のない出金",
            ExceptionKind::CashOver => "現金過剰",
            ExceptionKind::CashShort => "現金不足",
        }
    }

    /// The same name in English.
    pub fn name_en(self) -> &'static str {
        match self {
            ExceptionKind::MissingInSettlement => "Not settled",
            ExceptionKind::MissingInJournal => "Not in the journal",
            ExceptionKind::AmountMismatch => "Amount differs",
            ExceptionKind::Duplicate => "Settled twice",
            ExceptionKind::ClaimedTwice => "Two records, one line",
            ExceptionKind::UnmatchedRefund => "Refund with no journal refund",
            ExceptionKind::Chargeback => "Chargeback",
            ExceptionKind::SettlementAdjustment => "Settlement adjustment",
            ExceptionKind::FeeMismatch => "Fee differs from the contract",
            ExceptionKind::PaymentInDoubt => "Payment in doubt",
            ExceptionKind::EmoneyOutcomeUnknown => "E-money outcome unknown (処理未了)",
            ExceptionKind::ReversedButSettled => "Undone payment settled",
            ExceptionKind::PayoutMismatch => "Payout differs from its lines",
            ExceptionKind::BankDepositMissing => "Deposit missing",
            ExceptionKind::BankDepositDifferent => "Deposit differs",
            ExceptionKind::BankCreditUnmatched => "Unexplained bank credit",
            ExceptionKind::BankDebitUnmatched => "Unexplained bank debit",
            ExceptionKind::CashOver => "Cash over",
            ExceptionKind::CashShort => "Cash short",
        }
    }

    /// What treasury should do, in Japanese.
    pub fn action_ja(self) -> &'static str {
        match self {
            ExceptionKind::MissingInSettlement => "加盟店会社に未精算の理由を照会する。",
            ExceptionKind::MissingInJournal => "端末の取引履歴と照合し、売上計上漏れか誤精算かを確認する。",
            ExceptionKind::AmountMismatch => "領収書控えと端末の利用票で金額を確認し、加盟店会社に訂正を依頼する。",
            ExceptionKind::Duplicate => "二重精算として加盟店会社に返還を依頼する。",
            ExceptionKind::ClaimedTwice => "同じ明細に二つの取引が対応している。取引記録の重複を確認する。",
            ExceptionKind::UnmatchedRefund => "返金の承認記録を確認し、記録がなければ加盟店会社に照会する。",
            ExceptionKind::Chargeback => "チャージバックの理由を加盟店会社に確認し、施設に証憑の提出を依頼する。",
            ExceptionKind::SettlementAdjustment => "調整の内容を加盟店会社に確認する。",
            ExceptionKind::FeeMismatch => "契約手数料との差額を加盟店会社に照会する。",
            ExceptionKind::PaymentInDoubt => {
                "精算データで結果を確認し、ゲートウェイで決済を確定または失敗として処理する。"
            }
            ExceptionKind::EmoneyOutcomeUnknown => "電子マネーセンターに処理結果を照会する。",
            ExceptionKind::ReversedButSettled => "取消済みの取引が精算されている。加盟店会社に取消処理を依頼する。",
            ExceptionKind::PayoutMismatch => "精算明細の合計と入金額の差を加盟店会社に照会する。",
            ExceptionKind::BankDepositMissing => "入金予定日を過ぎても入金がない。振込元に照会する。",
            ExceptionKind::BankDepositDifferent => "入金額と予定額の差額を振込元に照会する。",
            ExceptionKind::BankCreditUnmatched => "振込依頼人と金額から入金の内容を確認し、指定金融機関に照会する。",
            ExceptionKind::BankDebitUnmatched => "出金の内容を指定金融機関に照会し、支出の根拠を確認する。",
            ExceptionKind::CashOver => "過剰金として記録し、当日の取引と釣銭を確認する。",
            ExceptionKind::CashShort => "不足金として記録し、当日の取引と釣銭を確認する。",
        }
    }

    /// What treasury should do, in English.
    pub fn action_en(self) -> &'static str {
        match self {
            ExceptionKind::MissingInSettlement => "Ask the acquirer why the transaction was not settled.",
            ExceptionKind::MissingInJournal => "Check the terminal's log: an unrecorded sale or a wrong settlement.",
            ExceptionKind::AmountMismatch => {
                "Check the receipt and the terminal slip, then ask the acquirer to correct the amount."
            }
            ExceptionKind::Duplicate => "Ask the acquirer to reverse the duplicated line.",
            ExceptionKind::ClaimedTwice => "Two records claim one line: check the journal for a duplicate.",
            ExceptionKind::UnmatchedRefund => "Find the refund's approval; if there is none, query the acquirer.",
            ExceptionKind::Chargeback => "Ask the acquirer for the reason and the facility for the evidence.",
            ExceptionKind::SettlementAdjustment => "Ask the acquirer what the adjustment is for.",
            ExceptionKind::FeeMismatch => "Query the difference from the contracted fee with the acquirer.",
            ExceptionKind::PaymentInDoubt => {
                "Check the outcome in the settlement, then resolve the payment in the gateway as completed or failed."
            }
            ExceptionKind::EmoneyOutcomeUnknown => "Ask the e-money centre for the outcome.",
            ExceptionKind::ReversedButSettled => "Ask the acquirer to reverse the settled transaction.",
            ExceptionKind::PayoutMismatch => "Query the difference between the lines and the payout.",
            ExceptionKind::BankDepositMissing => "The deposit is overdue: ask the payer.",
            ExceptionKind::BankDepositDifferent => {
                "Query the difference between deposited and expected with the payer."
            }
            ExceptionKind::BankCreditUnmatched => {
                "Find what the credit is for from its payer and amount; ask the bank."
            }
            ExceptionKind::BankDebitUnmatched => "Ask the bank what the debit is for and find its authority.",
            ExceptionKind::CashOver => "Record the surplus and check the day's sales and change.",
            ExceptionKind::CashShort => "Record the shortage and check the day's sales and change.",
        }
    }
}

impl fmt::Display for ExceptionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A text for people, in Japanese and in English.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wording {
    pub ja: String,
    pub en: String,
}

impl Wording {
    pub fn new(ja: impl Into<String>, en: impl Into<String>) -> Wording {
        Wording { ja: ja.into(), en: en.into() }
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
    /// A line of a bank statement file, by the bank's reference (照会番号) and record number.
    BankLine { file: String, reference: String, record_number: u64 },
    /// A shift at a register.
    Shift { register: RegisterId, shift: ShiftId },
    /// An acquirer's payout: by its id, or by its date when the acquirer gives none.
    Payout { acquirer: String, payout: Option<PayoutId>, payout_date: NaiveDate },
    /// A facility's cash deposit for a business date.
    CashDeposit { facility: FacilityId, business_date: NaiveDate },
}

impl RecordRef {
    /// A stable key: the same record always gives the same text, whatever its wording or amount.
    pub fn key(&self) -> String {
        match self {
            RecordRef::Payment(payment) => format!("payment:{payment}"),
            RecordRef::Refund { payment, refund } => format!("refund:{payment}/{refund}"),
            RecordRef::SettlementLine { file, line } => format!("line:{file}#{line}"),
            RecordRef::BankLine { file, reference, record_number } => {
                format!("bank:{file}#{reference}/{record_number}")
            }
            RecordRef::Shift { register, shift } => format!("shift:{register}/{shift}"),
            RecordRef::Payout { acquirer, payout: Some(payout), payout_date } => {
                format!("payout:{acquirer}/{payout}/{payout_date}")
            }
            RecordRef::Payout { acquirer, payout: None, payout_date } => format!("payout:{acquirer}/{payout_date}"),
            RecordRef::CashDeposit { facility, business_date } => format!("deposit:{facility}/{business_date}"),
        }
    }
}

/// One entry of the exceptions list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub kind: ExceptionKind,
    pub records: Vec<RecordRef>,
    /// Each record as treasury finds it, in the order of `records`.
    pub labels: Vec<Wording>,
    /// Its effect on the city's money (the module's sign rule).
    pub amount_at_stake: Yen,
    /// What was found, in a sentence with the records and the figures.
    pub detail: Wording,
}

impl Exception {
    pub fn new(
        kind: ExceptionKind,
        records: Vec<(RecordRef, Wording)>,
        amount_at_stake: Yen,
        detail: Wording,
    ) -> Exception {
        let (records, labels) = records.into_iter().unzip();
        Exception { kind, records, labels, amount_at_stake, detail }
    }

    /// The exception's identity across runs: its kind and the keys of its records.
    pub fn key(&self) -> String {
        exception_key(self.kind, &self.records)
    }

    /// The settlement lines whose money the exception questions: their fees are held in
    /// suspense until it is resolved. A duplicate questions only the repeated line, not the
    /// line it repeats; a second claim questions none (the line is the first record's).
    pub fn disputed_lines(&self) -> Vec<&RecordRef> {
        let lines = self.records.iter().filter(|record| matches!(record, RecordRef::SettlementLine { .. }));
        match self.kind {
            ExceptionKind::Duplicate => lines.take(1).collect(),
            ExceptionKind::ClaimedTwice | ExceptionKind::PayoutMismatch => Vec::new(),
            _ => lines.collect(),
        }
    }
}

/// The key of an exception of `kind` naming `records`.
pub fn exception_key(kind: ExceptionKind, records: &[RecordRef]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(kind.code().as_bytes());
    for record in records {
        hasher.update([0u8]);
        hasher.update(record.key().as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}
