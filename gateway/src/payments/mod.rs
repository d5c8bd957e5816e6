//! The payment lifecycle: every decision about a payment, a refund or a reversal.
//!
//! The HTTP handlers parse and authenticate, then call in here; the terminal host hands in what a
//! terminal sent; the [`recovery`] worker drives what is due. Each decision is journaled through
//! [`crate::journal::lifecycle::apply`] (the one writer of those states, checking `pos-core`'s
//! tables) *before* the side effect it allows — write-ahead — and only then does the module ask a
//! connector ([`crate::connectors`]) to talk to the outside, and journal what came back.
//!
//! - [`start`]: cash (completed at once), card and e-money (waiting for the register's terminal),
//!   QR (a code shown, or the customer's scanned code charged).
//! - [`terminal`]: a terminal's authorization bound to its payment, and a terminal's own reversal —
//!   only of its own last authorization, only while it is in flight or just answered.
//! - [`void`], [`refunds`], [`approvals`], [`resolve`]: money given back — at most one operation at
//!   a time per payment — a clerk's refund only with a supervisor's approval, treasury's settling
//!   of what stayed in doubt.
//! - [`reversals`]: 0400/0401 until the acquirer *confirms* (`00`, or `25` for an authorization
//!   that was never booked); anything else is retried and, when the tries run out, left in doubt
//!   and raised to treasury ([`exceptions`]).
//! - [`qr`]: watching QR payments, resolving them by inquiry, refunds at the provider.
//! - [`booking`]: the one place a sale's paid amount grows and its receipt number is issued.

pub mod approvals;
pub mod booking;
pub mod exceptions;
pub mod qr;
pub mod recovery;
pub mod refunds;
pub mod resolve;
pub mod reversals;
pub mod start;
pub mod terminal;
pub mod void;

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use pos_core::CustomerCode;
use tokio::sync::Notify;

use crate::journal::payments::{self, PaymentRecord};
use crate::journal::JournalError;
use crate::refusal::Refusal;
use crate::AppState;

/// Names the payment (and its sale) on the span being served — an HTTP request's or a terminal
/// message's, which declare these fields empty — so every log line written for it from here on,
/// down to the acquirer link, carries them. Spans without the fields ignore the call.
pub fn trace_payment(payment_id: &str, sale_id: &str) {
    let span = tracing::Span::current();
    span.record("payment_id", tracing::field::display(payment_id));
    span.record("sale_id", tracing::field::display(sale_id));
}

/// The actor named in the journal for what the gateway does on its own.
pub const SWITCH_ACTOR: &str = "switch";

/// What this process is busy with, beside the journal: wake-ups for due work, and the QR
/// payments and refunds a task of this process is following (so the worker does not start a
/// second one), with their inquiry tries. Customer codes scanned for a payment wait here, in
/// memory only, between the commit of `authorizing` and the request that charges them.
#[derive(Default)]
pub struct Work {
    /// Woken when reversal work is queued, so it goes out at once rather than at the next poll.
    pub reversal_wake: Notify,
    busy: Mutex<HashSet<String>>,
    tries: Mutex<HashMap<String, u32>>,
    scanned: Mutex<HashMap<String, CustomerCode>>,
}

impl Work {
    /// Marks a payment (or refund) as followed by a task of this process; false when it already was.
    pub fn claim(&self, id: &str) -> bool {
        self.busy.lock().unwrap_or_else(PoisonError::into_inner).insert(id.to_string())
    }

    pub fn release(&self, id: &str) {
        self.busy.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }

    pub fn is_busy(&self, id: &str) -> bool {
        self.busy.lock().unwrap_or_else(PoisonError::into_inner).contains(id)
    }

    /// Counts one more inquiry try of `id` and returns the count.
    pub fn count_try(&self, id: &str) -> u32 {
        let mut tries = self.tries.lock().unwrap_or_else(PoisonError::into_inner);
        let count = tries.entry(id.to_string()).or_insert(0);
        *count += 1;
        *count
    }

    pub fn tries(&self, id: &str) -> u32 {
        self.tries.lock().unwrap_or_else(PoisonError::into_inner).get(id).copied().unwrap_or(0)
    }

    pub fn forget_tries(&self, id: &str) {
        self.tries.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }

    pub fn hold_code(&self, payment_id: &str, code: CustomerCode) {
        self.scanned.lock().unwrap_or_else(PoisonError::into_inner).insert(payment_id.to_string(), code);
    }

    pub fn take_code(&self, payment_id: &str) -> Option<CustomerCode> {
        self.scanned.lock().unwrap_or_else(PoisonError::into_inner).remove(payment_id)
    }
}

/// Loads a payment for a decision, under its row lock.
pub(crate) async fn load_locked(tx: &mut crate::journal::WriteTx, payment_id: &str) -> Result<PaymentRecord, Refusal> {
    let lock = tx.for_update();
    payments::load(tx.conn(), payment_id, lock).await?.ok_or_else(|| Refusal::not_found("payment", payment_id))
}

/// The facility of a stored payment, as configured now.
pub(crate) fn facility_of<'a>(app: &'a AppState, payment: &PaymentRecord) -> Result<&'a pos_config::Facility, Refusal> {
    pos_core::FacilityId::parse(&payment.facility_id)
        .ok()
        .and_then(|id| app.config.facility(&id))
        .ok_or_else(|| Refusal::internal("a payment of a facility that is no longer configured"))
}

/// The merchant id a facility has at its acquirers (field 42).
pub(crate) fn merchant_of(app: &AppState, facility_id: &str) -> String {
    pos_core::FacilityId::parse(facility_id)
        .ok()
        .and_then(|id| app.config.facility(&id).map(|f| f.merchant_id.clone()))
        .unwrap_or_default()
}

/// Reads a payment outside any write transaction.
pub(crate) async fn read(app: &AppState, payment_id: &str) -> Result<Option<PaymentRecord>, JournalError> {
    let mut conn = app.journal.read().await?;
    payments::load(&mut conn, payment_id, "").await
}

/// The connector of an ISO 8583 acquirer, if it is configured and started.
pub(crate) fn connectors_acquirer(
    app: &AppState,
    acquirer_id: &str,
) -> Option<std::sync::Arc<dyn crate::connectors::acquirer::CardAcquirer>> {
    app.connectors.acquirer(acquirer_id).cloned()
}
