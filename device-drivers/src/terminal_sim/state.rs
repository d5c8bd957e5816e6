//! What the terminal keeps across a power loss: its trace and receipt counters, the payments a
//! reversal may name, and the totals of the open period (since the last end of day): payments
//! per brand net of reversals, refunds per brand, and the period's first receipt number. PROTOCOLS.md §3 requires the
//! counters to survive; the simulator writes them to a small JSON file (write to a temporary file,
//! then rename, so a crash leaves the old or the new state, never half of one) before it tells
//! the ECR or the host anything that depends on them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How many past payments the terminal remembers for reversals.
pub const RECEIPTS_KEPT_MAX: usize = 1_000;
/// The largest trace number (3 BCD bytes); the counter wraps to 1 after it.
pub const TRACE_NUMBER_MAX: u32 = 999_999;
/// The largest receipt number (2 BCD bytes); the counter wraps to 1 after it.
pub const RECEIPT_NUMBER_MAX: u16 = 9_999;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredPayment {
    pub brand: String,
    pub amount_yen: i64,
    pub trace_number: u32,
    pub reversed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandTotalState {
    pub count: u32,
    pub amount_yen: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalState {
    /// The last trace number used (0: none yet).
    pub trace_number: u32,
    /// The last receipt number used (0: none yet).
    pub receipt_number: u16,
    /// Payments of the open period by receipt number, for reversals (a closed period's payments
    /// can no longer be reversed).
    pub payments: BTreeMap<u16, StoredPayment>,
    /// Payments per brand code since the last end of day, net of reversals.
    pub totals: BTreeMap<String, BrandTotalState>,
    /// Refunds per brand code since the last end of day (printed; not part of BMP 60).
    #[serde(default)]
    pub refund_totals: BTreeMap<String, BrandTotalState>,
    /// The receipt number of the open period's first receipt.
    #[serde(default)]
    pub period_first_receipt: Option<u16>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read terminal state {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("terminal state {path} is not valid: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("cannot write terminal state {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl TerminalState {
    /// The state in `path`, or a fresh one when the file does not exist yet.
    pub fn load(path: &Path) -> Result<TerminalState, StateError> {
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| StateError::Parse { path: path.to_path_buf(), source })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(TerminalState::default()),
            Err(source) => Err(StateError::Read { path: path.to_path_buf(), source }),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let write_error = |source| StateError::Write { path: path.to_path_buf(), source };
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|source| write_error(std::io::Error::new(std::io::ErrorKind::InvalidData, source)))?;
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        std::fs::write(&temporary, bytes).map_err(write_error)?;
        std::fs::rename(&temporary, path).map_err(write_error)
    }

    pub fn next_trace_number(&mut self) -> u32 {
        self.trace_number = if self.trace_number >= TRACE_NUMBER_MAX { 1 } else { self.trace_number + 1 };
        self.trace_number
    }

    pub fn next_receipt_number(&mut self) -> u16 {
        self.receipt_number = if self.receipt_number >= RECEIPT_NUMBER_MAX { 1 } else { self.receipt_number + 1 };
        self.period_first_receipt.get_or_insert(self.receipt_number);
        self.receipt_number
    }

    /// A payment approved: counted in its brand's total.
    pub fn add_payment(&mut self, brand: &str, amount_yen: i64) {
        let total = self.totals.entry(brand.to_string()).or_default();
        total.count = total.count.saturating_add(1);
        total.amount_yen = total.amount_yen.saturating_add(amount_yen);
    }

    /// A payment of the open period reversed: it leaves its brand's total as if never made.
    pub fn remove_reversed(&mut self, brand: &str, amount_yen: i64) {
        let total = self.totals.entry(brand.to_string()).or_default();
        total.count = total.count.saturating_sub(1);
        total.amount_yen = total.amount_yen.saturating_sub(amount_yen);
    }

    /// A refund approved.
    pub fn add_refund(&mut self, brand: &str, amount_yen: i64) {
        let total = self.refund_totals.entry(brand.to_string()).or_default();
        total.count = total.count.saturating_add(1);
        total.amount_yen = total.amount_yen.saturating_add(amount_yen);
    }

    /// The end of day closed the period: its totals start from zero and its payments can no
    /// longer be reversed.
    pub fn close_period(&mut self) {
        self.totals.clear();
        self.refund_totals.clear();
        self.payments.clear();
        self.period_first_receipt = None;
    }

    pub fn remember_payment(&mut self, receipt: u16, payment: StoredPayment) {
        self.payments.insert(receipt, payment);
        while self.payments.len() > RECEIPTS_KEPT_MAX {
            // Receipt numbers wrap, so "oldest" is the lowest key after the newest; dropping the
            // first entry that is not the one just stored keeps the bound.
            let Some(oldest) = self.payments.keys().copied().find(|key| *key != receipt) else { break };
            self.payments.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_survive_a_restart_and_wrap() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("terminal.json");
        let mut state = TerminalState::load(&path).unwrap();
        assert_eq!(state.next_trace_number(), 1);
        assert_eq!(state.next_receipt_number(), 1);
        state.save(&path).unwrap();
        let mut again = TerminalState::load(&path).unwrap();
        assert_eq!(again.next_trace_number(), 2);
        again.trace_number = TRACE_NUMBER_MAX;
        assert_eq!(again.next_trace_number(), 1);
    }
}
