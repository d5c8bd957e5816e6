//! The acquirer's books: every financial transaction with its state, and every message received.
//!
//! Both are bounded. The ledger refuses new bookings when full (the request is answered `96`);
//! the log of received messages keeps the most recent ones. Nothing here holds a full card
//! number: a card is known by its masked PAN, an e-money card by the masked id its terminal sent.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, FixedOffset};
use iso8583::{Mti, ResponseCode};
use pos_core::{Brand, Yen};

use crate::fault::Fault;
use crate::references;

/// The most transactions one simulator books (about 150 MB of ledger); also keeps the RRN's
/// six-digit sequence from wrapping.
pub const LEDGER_ENTRIES_MAX: usize = 500_000;
/// How many received messages are remembered; older ones are forgotten first.
pub const RECEIVED_ENTRIES_MAX: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    Sale,
    Refund,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryState {
    Approved,
    Declined(ResponseCode),
    /// Undone by a reversal (0400/0401); the entry's `response_code` says what it was before.
    Reversed,
    /// E-money `Y1`: the centre does not know whether the card was charged (処理未了).
    Unknown,
}

/// One financial transaction as the acquirer booked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub terminal_id: String,
    pub merchant_id: String,
    pub stan: String,
    pub rrn: String,
    /// Issued for approved sales only (refunds carry none, as in PROTOCOLS.md §4.1).
    pub auth_code: Option<String>,
    pub brand: Brand,
    /// Card: the PAN masked to first 6 / last 4. E-money: the masked card id from field 48.
    pub masked_pan_or_card_id: String,
    /// Always positive; a refund's sign is in its `kind`.
    pub amount: Yen,
    pub kind: EntryKind,
    pub state: EntryState,
    /// When the acquirer booked it (JST).
    pub at: DateTime<FixedOffset>,
    /// A refund's original (field 48 `ORRN`).
    pub original_rrn: Option<String>,
    /// The field 39 answered when booked; after a reversal it still tells what was undone.
    pub response_code: ResponseCode,
    /// When a reversal undid it (JST).
    pub reversed_at: Option<DateTime<FixedOffset>>,
}

/// One message as received, and what the simulator did with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub mti: Mti,
    pub stan: Option<String>,
    pub terminal_id: Option<String>,
    pub processing_code: Option<String>,
    /// When it was received (JST).
    pub at: DateTime<FixedOffset>,
    pub handling: Handling,
    /// The fault applied to its answer, if a plan matched.
    pub fault: Option<Fault>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handling {
    /// 0800, answered with this code.
    Network { response_code: ResponseCode },
    /// 0200, booked under this RRN and answered with this code.
    Booked { rrn: String, response_code: ResponseCode },
    /// 0200 whose terminal id and STAN were already booked: answered `94`, nothing booked.
    Duplicate { rrn: String },
    /// Answered without booking: a malformed request (`30`), a brand of the other centre (`05`),
    /// an unreadable card number (`14`), a full ledger (`96`).
    Rejected { response_code: ResponseCode, reason: String },
    /// 0400/0401: answered `00` when it reversed (or had reversed) an original, `25` when there
    /// is no such original, `30` when malformed.
    Reversal(ReversalOutcome),
    /// Refused by a fault without acting on it, answered with this code.
    Refused { response_code: ResponseCode },
    /// A message type the simulator does not serve; answered `30` when it is a request.
    Unsupported,
}

/// What a reversal found. A reversal is idempotent: a repeat of one that reversed, or one of a
/// declined original, is answered `00`; one of a request the acquirer never booked is `25`
/// (PROTOCOLS.md §1: nothing was charged), a malformed one `30`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReversalOutcome {
    /// The original (approved or outcome unknown) is now reversed.
    Reversed { rrn: String },
    /// An earlier reversal already did it.
    AlreadyReversed { rrn: String },
    /// The original was declined; nothing was charged.
    NothingToReverse { rrn: String },
    /// No transaction with that terminal id and STAN.
    OriginalUnknown,
    /// Field 90 or 41 missing or malformed: answered `30`.
    Malformed { reason: String },
}

/// A transaction about to be booked: everything but what the acquirer decides.
#[derive(Debug, Clone)]
pub(crate) struct NewEntry {
    pub terminal_id: String,
    pub merchant_id: String,
    pub stan: String,
    pub brand: Brand,
    pub masked_pan_or_card_id: String,
    pub amount: Yen,
    pub kind: EntryKind,
    pub original_rrn: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LedgerFull;

type Key = (String, String);

pub(crate) struct Ledger {
    entries: Vec<LedgerEntry>,
    /// Terminal id and STAN to the entry's index: duplicate detection and reversal lookup.
    by_key: HashMap<Key, usize>,
    received: VecDeque<Received>,
    node: u8,
}

impl Ledger {
    pub(crate) fn new(node: u8) -> Ledger {
        Ledger { entries: Vec::new(), by_key: HashMap::new(), received: VecDeque::new(), node }
    }

    /// A booked transaction by its RRN (a refund names its original so).
    pub(crate) fn find_by_rrn(&self, rrn: &str) -> Option<&LedgerEntry> {
        self.entries().iter().find(|entry| entry.rrn == rrn)
    }

    pub(crate) fn find(&self, terminal_id: &str, stan: &str) -> Option<&LedgerEntry> {
        let index = *self.by_key.get(&(terminal_id.to_string(), stan.to_string()))?;
        self.entries.get(index)
    }

    /// Books a transaction with the acquirer's answer, issuing its RRN (and its authorization
    /// code when it is an approved sale).
    pub(crate) fn book(
        &mut self,
        entry: NewEntry,
        response_code: ResponseCode,
        at: DateTime<FixedOffset>,
    ) -> Result<&LedgerEntry, LedgerFull> {
        if self.entries.len() >= LEDGER_ENTRIES_MAX {
            return Err(LedgerFull);
        }
        let sequence = self.entries.len() as u64 + 1;
        let state = match response_code {
            ResponseCode::Approved => EntryState::Approved,
            ResponseCode::OutcomeUnknown => EntryState::Unknown,
            ref declined => EntryState::Declined(declined.clone()),
        };
        let auth_code = (state == EntryState::Approved && entry.kind == EntryKind::Sale)
            .then(|| references::authorization_code(sequence));
        let key = (entry.terminal_id.clone(), entry.stan.clone());
        let index = self.entries.len();
        self.entries.push(LedgerEntry {
            terminal_id: entry.terminal_id,
            merchant_id: entry.merchant_id,
            stan: entry.stan,
            rrn: references::retrieval_reference(at, self.node, sequence),
            auth_code,
            brand: entry.brand,
            masked_pan_or_card_id: entry.masked_pan_or_card_id,
            amount: entry.amount,
            kind: entry.kind,
            state,
            at,
            original_rrn: entry.original_rrn,
            response_code,
            reversed_at: None,
        });
        self.by_key.insert(key, index);
        Ok(&self.entries[index])
    }

    /// Reverses the transaction of this terminal and STAN, if there is one to reverse.
    pub(crate) fn reverse(&mut self, terminal_id: &str, stan: &str, at: DateTime<FixedOffset>) -> ReversalOutcome {
        let Some(index) = self.by_key.get(&(terminal_id.to_string(), stan.to_string())).copied() else {
            return ReversalOutcome::OriginalUnknown;
        };
        let Some(entry) = self.entries.get_mut(index) else {
            return ReversalOutcome::OriginalUnknown;
        };
        let rrn = entry.rrn.clone();
        match entry.state {
            EntryState::Approved | EntryState::Unknown => {
                entry.state = EntryState::Reversed;
                entry.reversed_at = Some(at);
                ReversalOutcome::Reversed { rrn }
            }
            EntryState::Reversed => ReversalOutcome::AlreadyReversed { rrn },
            EntryState::Declined(_) => ReversalOutcome::NothingToReverse { rrn },
        }
    }

    pub(crate) fn record(&mut self, received: Received) {
        if self.received.len() >= RECEIVED_ENTRIES_MAX {
            self.received.pop_front();
        }
        self.received.push_back(received);
    }

    pub(crate) fn entries(&self) -> &[LedgerEntry] {
        &self.entries
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sale(stan: &str) -> NewEntry {
        NewEntry {
            terminal_id: "T0010001".to_string(),
            merchant_id: "000000000010001".to_string(),
            stan: stan.to_string(),
            brand: Brand::Visa,
            masked_pan_or_card_id: "411111******1111".to_string(),
            amount: Yen::new(1500).unwrap(),
            kind: EntryKind::Sale,
            original_rrn: None,
        }
    }

    #[test]
    fn books_and_reverses_once() {
        let at = pos_core::time::jst().with_ymd_and_hms(2026, 11, 24, 10, 15, 2).unwrap();
        let mut ledger = Ledger::new(10);
        let rrn = ledger.book(sale("000123"), ResponseCode::Approved, at).unwrap().rrn.clone();
        assert_eq!(rrn, "632810000001");
        assert!(ledger.find("T0010001", "000123").unwrap().auth_code.is_some());
        assert_eq!(ledger.reverse("T0010001", "000123", at), ReversalOutcome::Reversed { rrn: rrn.clone() });
        assert_eq!(ledger.reverse("T0010001", "000123", at), ReversalOutcome::AlreadyReversed { rrn });
        assert_eq!(ledger.reverse("T0010001", "999999", at), ReversalOutcome::OriginalUnknown);
        let declined = ledger.book(sale("000124"), ResponseCode::InsufficientFunds, at).unwrap();
        assert_eq!(declined.state, EntryState::Declined(ResponseCode::InsufficientFunds));
        assert_eq!(declined.auth_code, None);
        assert!(matches!(ledger.reverse("T0010001", "000124", at), ReversalOutcome::NothingToReverse { .. }));
    }
}
