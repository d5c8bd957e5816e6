//! Mistakes an acquirer makes in its settlement file, planted on purpose: the reconciler must
//! find each of them, and the demo plants them to show it does.
//!
//! A transaction is named by its RRN. An omitted one is left out of the file (all its rows, a
//! reversal's too) and so out of the payout, as if the acquirer had lost it. A fee offset adds
//! its yen to the contracted fee of the transaction's rows (the net follows, so the file and its
//! trailer stay internally consistent: the acquirer charged the wrong fee and paid accordingly).

use std::collections::{BTreeMap, BTreeSet};

use pos_core::Yen;

use crate::error::SimError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettlementFaults {
    /// RRNs of transactions the file leaves out.
    pub omit_rrns: BTreeSet<String>,
    /// RRN → yen added to the contracted fee (negative: less than contracted).
    pub fee_offsets: BTreeMap<String, i64>,
}

impl SettlementFaults {
    pub fn is_empty(&self) -> bool {
        self.omit_rrns.is_empty() && self.fee_offsets.is_empty()
    }

    pub(crate) fn omits(&self, rrn: &str) -> bool {
        self.omit_rrns.contains(rrn)
    }

    /// The fee the file states for a row of `rrn` whose contracted fee is `contracted`. An offset
    /// follows the row's sign, so a reversal row still negates the row it undoes.
    pub(crate) fn fee(&self, rrn: &str, contracted: Yen, negative_row: bool, line: usize) -> Result<Yen, SimError> {
        let Some(offset) = self.fee_offsets.get(rrn) else { return Ok(contracted) };
        let money = |source| SimError::Money { what: "planted fee", line, source };
        let offset = Yen::new(if negative_row { -offset } else { *offset }).map_err(money)?;
        contracted.checked_add(offset).map_err(money)
    }
}
