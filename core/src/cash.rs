//! Cash in the drawer, counted by denomination.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::money::{MoneyError, Yen};

/// A Japanese note or coin in circulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Denomination(u32);

impl Denomination {
    /// Every denomination, largest first: 10,000 / 5,000 / 2,000 / 1,000 yen notes, 500 / 100 / 50 /
    /// 10 / 5 / 1 yen coins.
    pub const ALL_YEN: [u32; 10] = [10_000, 5_000, 2_000, 1_000, 500, 100, 50, 10, 5, 1];

    pub fn new(yen: u32) -> Option<Denomination> {
        Denomination::ALL_YEN.contains(&yen).then_some(Denomination(yen))
    }

    pub fn yen(self) -> u32 {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CashCountError {
    #[error("{0:?} is not a Japanese denomination (10000, 5000, 2000, 1000, 500, 100, 50, 10, 5, 1)")]
    UnknownDenomination(String),
    #[error("count of {denomination}-yen pieces is {count}; at most {max} are accepted")]
    TooMany { denomination: u32, count: u64, max: u64 },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// The most pieces of one denomination a drawer count may declare.
pub const PIECES_PER_DENOMINATION_MAX: u64 = 1_000_000;

/// A drawer count: how many pieces of each denomination. Keys are the face values in yen as
/// strings in JSON (`{"10000": 3, "1000": 12, "100": 7}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<String, u64>", into = "BTreeMap<String, u64>")]
pub struct CashCount {
    pieces: BTreeMap<Denomination, u64>,
}

impl CashCount {
    pub fn pieces(&self) -> impl Iterator<Item = (Denomination, u64)> + '_ {
        self.pieces.iter().rev().map(|(d, n)| (*d, *n))
    }

    pub fn total(&self) -> Result<Yen, MoneyError> {
        Yen::checked_sum(
            self.pieces
                .iter()
                .map(|(denomination, count)| {
                    let count = i64::try_from(*count).map_err(|_| MoneyError::Overflow("cash count"))?;
                    Yen::new(i64::from(denomination.yen()))?.checked_mul(count)
                })
                .collect::<Result<Vec<_>, _>>()?,
        )
    }
}

impl TryFrom<BTreeMap<String, u64>> for CashCount {
    type Error = CashCountError;
    fn try_from(raw: BTreeMap<String, u64>) -> Result<Self, Self::Error> {
        let mut pieces = BTreeMap::new();
        for (key, count) in raw {
            let denomination = key
                .parse::<u32>()
                .ok()
                .and_then(Denomination::new)
                .ok_or_else(|| CashCountError::UnknownDenomination(key.clone()))?;
            if count > PIECES_PER_DENOMINATION_MAX {
                return Err(CashCountError::TooMany {
                    denomination: denomination.yen(),
                    count,
                    max: PIECES_PER_DENOMINATION_MAX,
                });
            }
            pieces.insert(denomination, count);
        }
        let count = CashCount { pieces };
        count.total()?;
        Ok(count)
    }
}

impl From<CashCount> for BTreeMap<String, u64> {
    fn from(count: CashCount) -> Self {
        count.pieces.into_iter().map(|(d, n)| (d.yen().to_string(), n)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_a_drawer() {
        let count: CashCount = serde_json::from_str(r#"{"10000": 2, "1000": 5, "500": 1, "10": 3, "1": 4}"#).unwrap();
        assert_eq!(count.total().unwrap().get(), 25_534);
    }

    #[test]
    fn refuses_unknown_denominations() {
        let error = serde_json::from_str::<CashCount>(r#"{"3000": 1}"#).unwrap_err().to_string();
        assert!(error.contains("\"3000\" is not a Japanese denomination"), "{error}");
        assert!(serde_json::from_str::<CashCount>(r#"{"100": -1}"#).is_err());
        assert!(serde_json::from_str::<CashCount>(r#"{"100": 1000001}"#).is_err());
    }
}
