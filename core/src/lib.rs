//! Domain types shared by every part of the counter payment system.
//!
//! `pos-core` is the vocabulary the gateway, the reconciler, the configuration and the counter
//! devices speak: money ([`Yen`], [`Rate`], [`Rounding`]), what a payment is made with
//! ([`Brand`] grouped by [`Method`]), the identifiers of facilities, registers, terminals and
//! operators, business dates and fiscal years in Asia/Tokyo, cash counts by denomination, the
//! payment and sale state machines with their allowed transitions, the masking of card data,
//! and Japanese national holidays and bank business days by the rules of the 祝日法. Every value here is parsed through a constructor that can fail, so code holding one can
//! rely on it being valid. Nothing here does I/O or reads the system clock directly: time comes
//! through a [`Clock`].

pub mod api;
pub mod brand;
pub mod cash;
pub mod holidays;
pub mod ids;
pub mod masking;
pub mod money;
pub mod payment;
pub mod refund;
pub mod sale;
pub mod schema;
pub mod time;

pub use brand::{Brand, Method};
pub use cash::{CashCount, Denomination};
pub use ids::{FacilityId, FeeItemCode, IdError, OperatorId, RegisterId, TerminalId, UserName};
pub use masking::{
    mask_if_customer_code, mask_pan, mask_scanned, url_for_display, CustomerCode, CustomerCodeError, MaskedPan,
};
pub use money::{MoneyError, Rate, Rounding, Yen};
pub use payment::{IllegalTransition, PaymentState};
pub use refund::{RefundState, ReversalState};
pub use sale::SaleState;
pub use time::{BusinessDate, Clock, FiscalYear, ManualClock, SystemClock, JST_OFFSET_SECONDS};
