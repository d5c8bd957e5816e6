//! The life of a sale: a basket of fee items that one or more payments settle.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `open` until fully paid (`paid`, which issues the receipt number) or abandoned (`cancelled`);
/// a paid sale may be `voided` within its shift, keeping its receipt number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaleState {
    Open,
    Paid,
    Voided,
    Cancelled,
}

impl SaleState {
    pub const ALL: [SaleState; 4] = [SaleState::Open, SaleState::Paid, SaleState::Voided, SaleState::Cancelled];

    pub fn code(self) -> &'static str {
        match self {
            SaleState::Open => "open",
            SaleState::Paid => "paid",
            SaleState::Voided => "voided",
            SaleState::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for SaleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sale state {0:?}")]
pub struct UnknownSaleState(pub String);

impl FromStr for SaleState {
    type Err = UnknownSaleState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SaleState::ALL.into_iter().find(|state| state.code() == s).ok_or_else(|| UnknownSaleState(s.to_string()))
    }
}
