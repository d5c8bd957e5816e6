//! The simulator's one error type.

use std::path::PathBuf;

use chrono::NaiveDate;
use pos_core::{Brand, MoneyError};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("unknown centre {0:?} (expected card or emoney)")]
    UnknownCentre(String),
    #[error("fault plan {text:?}: {reason}")]
    FaultPlan { text: String, reason: String },
    #[error("no fee term for brand {brand}: the settlement file cannot compute its fee")]
    MissingFeeTerm { brand: Brand },
    #[error("amount arithmetic for {what} (line {line}): {source}")]
    Money { what: &'static str, line: usize, source: MoneyError },
    #[error("payout lag of {days} days exceeds the limit of {max}")]
    PayoutLagTooLong { days: u32, max: u32 },
    #[error("no payout date {days} business days after {date}")]
    PayoutDate { date: NaiveDate, days: u32 },
    #[error("{0}")]
    Calendar(String),
    #[error("line {line} of the e-money file holds a character Shift_JIS cannot encode")]
    ShiftJis { line: usize },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}
