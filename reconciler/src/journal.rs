//! What reconciliation needs of the gateway's journal for one facility and business date.
//!
//! Plain types, filled today by tests and later from the gateway's database (either backend) or
//! an export of it. They carry the journal's facts as recorded, without judgement: a payment's
//! state is the gateway's, the keys are what the acquirer answered (absent when no answer came),
//! and the shift's own expected cash is kept beside the reconciler's recomputation.

use std::fmt;

use chrono::{DateTime, FixedOffset};
use pos_core::{Brand, BusinessDate, FacilityId, FeeItemCode, FiscalYear, MaskedPan, Method, PaymentState, RegisterId};
use pos_core::{TerminalId, Yen};

use crate::inputs::identifiers::{MaskedCardId, Rrn, Stan};

/// Declares a journal identifier: the gateway's own text id, compared exactly.
macro_rules! journal_identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn new(text: impl Into<String>) -> $name {
                $name(text.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

journal_identifier!(
    /// A payment's id; for QR payments it is also the `merchantPaymentId` sent to the provider.
    PaymentId
);
journal_identifier!(
    /// A sale (one receipt), which one or more payments pay.
    SaleId
);
journal_identifier!(
    /// One clerk's shift at one register, from opening float to cash count.
    ShiftId
);
journal_identifier!(
    /// A refund's id; for QR refunds it is the `merchantRefundId` the provider echoes.
    RefundId
);

/// A receipt number (領収書番号): gapless per register and fiscal year, printed on the receipt as
/// `No. 2026-000123`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Receipt {
    pub fiscal_year: FiscalYear,
    pub number: i64,
}

impl fmt::Display for Receipt {
    /// As the receipt prints it: `No. 2026-000123`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "No. {}-{:06}", self.fiscal_year.start_year(), self.number)
    }
}

/// How a refund was paid back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundChannel {
    /// Through the original card, e-money or QR provider: it appears in that settlement.
    Original,
    /// In cash from the drawer: it lowers the shift's expected cash instead.
    Cash,
}

/// One refund of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRefund {
    pub refund_id: RefundId,
    /// The amount given back, positive.
    pub amount: Yen,
    pub channel: RefundChannel,
    /// The shift whose drawer paid a cash refund.
    pub shift: ShiftId,
    /// When the refund was made, in JST; its date is the business date it is reconciled on.
    pub time: DateTime<FixedOffset>,
    /// The refund's own trace number at the terminal (card, e-money).
    pub stan: Option<Stan>,
    /// The refund's own RRN (card).
    pub rrn: Option<Rrn>,
    /// The RRN of the payment refunded (card).
    pub original_rrn: Option<Rrn>,
}

impl JournalRefund {
    pub fn business_date(&self) -> BusinessDate {
        BusinessDate::new(self.time.date_naive())
    }
}

/// One payment as the gateway journaled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalPayment {
    pub payment_id: PaymentId,
    pub sale_id: SaleId,
    pub facility: FacilityId,
    pub register: RegisterId,
    pub shift: ShiftId,
    pub method: Method,
    pub brand: Brand,
    /// The amount charged, positive.
    pub amount: Yen,
    pub state: PaymentState,
    pub business_date: BusinessDate,
    /// When the payment was made, in JST.
    pub time: DateTime<FixedOffset>,
    pub terminal_id: Option<TerminalId>,
    /// The acquirer's STAN (card) or the 取引通番 (e-money).
    pub stan: Option<Stan>,
    pub rrn: Option<Rrn>,
    pub masked_pan: Option<MaskedPan>,
    pub card_id: Option<MaskedCardId>,
    /// The receipt of the sale the payment paid, once the sale was paid.
    pub receipt: Option<Receipt>,
    pub refunds: Vec<JournalRefund>,
}

impl JournalPayment {
    /// The `merchantPaymentId` a QR provider reports: the payment id itself.
    pub fn merchant_payment_id(&self) -> &str {
        self.payment_id.as_str()
    }

    /// Whether the money was taken (and so belongs in the takings and in a settlement).
    pub fn is_taken(&self) -> bool {
        matches!(self.state, PaymentState::Completed | PaymentState::PartiallyRefunded | PaymentState::Refunded)
    }

    /// Whether the payment was undone or never happened, so that no settlement may carry it.
    pub fn is_undone(&self) -> bool {
        matches!(
            self.state,
            PaymentState::Voided
                | PaymentState::Reversed
                | PaymentState::Declined
                | PaymentState::Cancelled
                | PaymentState::Failed
        )
    }
}

/// One line of a sale: a fee item, booked to its revenue account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalSaleLine {
    pub sale_id: SaleId,
    pub fee_item: FeeItemCode,
    /// 歳入科目, as the city's accounting system writes it.
    pub revenue_account: String,
    pub quantity: u32,
    /// The line's amount (quantity × unit price), positive.
    pub amount: Yen,
}

/// One shift at one register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalShift {
    pub shift_id: ShiftId,
    pub register: RegisterId,
    /// When the shift was opened, in JST: how treasury tells a register's shifts apart.
    pub opened_at: Option<DateTime<FixedOffset>>,
    pub float_opening: Yen,
    /// The gateway's own expected cash at closing, when the shift was closed.
    pub cash_expected_recorded: Option<Yen>,
    /// What the clerk counted, when the shift was closed.
    pub cash_counted: Option<Yen>,
    /// The gateway's own over/short, when the shift was closed.
    pub over_short_recorded: Option<Yen>,
}

/// The journal of one facility's business day.
///
/// `payments` holds the day's payments and, so that refunds made today can be tied to them,
/// earlier payments that have a refund dated today; only the day's payments are reconciled as
/// payments, and only refunds dated today as refunds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayJournal {
    pub facility: FacilityId,
    pub business_date: BusinessDate,
    pub payments: Vec<JournalPayment>,
    pub sale_lines: Vec<JournalSaleLine>,
    pub shifts: Vec<JournalShift>,
}
