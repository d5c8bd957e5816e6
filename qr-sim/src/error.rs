//! Errors of the simulator's library handle (the HTTP answers have their own, [`crate::api::ApiError`]).

use std::path::PathBuf;

use pos_core::MoneyError;

#[derive(Debug, thiserror::Error)]
pub enum QrSimError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot read the listener's address: {0}")]
    Listener(#[source] std::io::Error),
    #[error("no code for merchantPaymentId {0:?}")]
    UnknownPayment(String),
    #[error("merchantPaymentId {0:?} is used by several merchants; name the merchant")]
    AmbiguousPayment(String),
    #[error("no code {0:?}")]
    UnknownCode(String),
    #[error("payment {merchant_payment_id:?} cannot be paid: it is {status}")]
    NotPayable { merchant_payment_id: String, status: String },
    #[error("settlement: {what} on line {line}: {source}")]
    Money { what: &'static str, line: usize, source: MoneyError },
    #[error("settlement: the payout date of {date} is out of range")]
    PayoutDate { date: chrono::NaiveDate },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}
