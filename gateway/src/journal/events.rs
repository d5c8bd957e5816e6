//! Append-only events: every state change, in the same transaction as the state it changes.
//!
//! What an event says happened is an [`EventKind`], never a bare string: a payment, refund or
//! reversal entering a state is named by that state (see [`super::lifecycle`], the one place those
//! change), everything else by its own variant.

use chrono::{DateTime, Utc};
use pos_core::{PaymentState, RefundState, ReversalState};
use sqlx::AnyConnection;

use super::{instant_text, JournalError};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A payment entered this state.
    Payment(PaymentState),
    /// A refund entered this state.
    Refund(RefundState),
    /// A reversal entered this state (a failed try that stays pending is `Reversal(Pending)`).
    Reversal(ReversalState),
    /// A void of a cashless payment was asked for; the payment changes when its acquirer answers.
    PaymentVoidRequested,
    /// The clerk asked to cancel a QR payment; it is in doubt until the provider confirms.
    PaymentCancelRequested,
    /// Treasury settled a payment left in doubt.
    PaymentResolved,
    /// The provider's answer disagreed with the journal (e.g. another amount): raised to treasury.
    PaymentDisputed,
    SaleCreated,
    SalePaid,
    SaleVoided,
    SaleCancelled,
    ShiftOpened,
    ShiftClosed,
    DeviceCommandResult,
    /// A clerk asked a supervisor to approve a refund.
    RefundRequested,
    /// A supervisor approved or rejected a clerk's refund request.
    RefundRequestDecided,
    /// A supervisor issued a one-time approval code for a refund.
    ApprovalCodeIssued,
    /// A one-time approval code was used, refused or locked.
    ApprovalCodeUsed,
    ApprovalCodeLocked,
}

impl EventKind {
    pub fn code(self) -> String {
        match self {
            EventKind::Payment(state) => format!("payment.{}", state.code()),
            EventKind::Refund(state) => format!("refund.{}", state.code()),
            EventKind::Reversal(state) => format!("reversal.{}", state.code()),
            other => other.fixed_code().to_string(),
        }
    }

    fn fixed_code(self) -> &'static str {
        match self {
            EventKind::PaymentVoidRequested => "payment.void_requested",
            EventKind::PaymentCancelRequested => "payment.cancel_requested",
            EventKind::PaymentResolved => "payment.resolved",
            EventKind::PaymentDisputed => "payment.disputed",
            EventKind::SaleCreated => "sale.created",
            EventKind::SalePaid => "sale.paid",
            EventKind::SaleVoided => "sale.voided",
            EventKind::SaleCancelled => "sale.cancelled",
            EventKind::ShiftOpened => "shift.opened",
            EventKind::ShiftClosed => "shift.closed",
            EventKind::DeviceCommandResult => "device.command_result",
            EventKind::RefundRequested => "refund.requested",
            EventKind::RefundRequestDecided => "refund.request_decided",
            EventKind::ApprovalCodeIssued => "refund.approval_code_issued",
            EventKind::ApprovalCodeUsed => "refund.approval_code_used",
            EventKind::ApprovalCodeLocked => "refund.approval_code_locked",
            EventKind::Payment(_) | EventKind::Refund(_) | EventKind::Reversal(_) => "",
        }
    }
}

pub struct NewEvent<'a> {
    pub at: DateTime<Utc>,
    pub actor: &'a str,
    pub kind: EventKind,
    pub entity_id: &'a str,
    pub facility_id: &'a str,
    pub data: serde_json::Value,
}

pub async fn append(conn: &mut AnyConnection, event: NewEvent<'_>) -> Result<(), JournalError> {
    sqlx::query("INSERT INTO events (at, actor, kind, entity_id, facility_id, data) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(instant_text(event.at))
        .bind(event.actor)
        .bind(event.kind.code())
        .bind(event.entity_id)
        .bind(event.facility_id)
        .bind(event.data.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// An event as stored, for tests and exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub kind: String,
    pub entity_id: String,
    pub data: String,
}

pub async fn for_entity(conn: &mut AnyConnection, entity_id: &str) -> Result<Vec<StoredEvent>, JournalError> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT seq, kind, entity_id, data FROM events WHERE entity_id = $1 ORDER BY seq")
        .bind(entity_id)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredEvent {
                seq: row.try_get("seq")?,
                kind: row.try_get("kind")?,
                entity_id: row.try_get("entity_id")?,
                data: row.try_get("data")?,
            })
        })
        .collect()
}
