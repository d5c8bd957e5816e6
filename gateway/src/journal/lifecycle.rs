//! The one place a payment, refund or reversal changes state.
//!
//! [`apply`] takes a [`Step`] — a new payment, refund or reversal, or one of them moving to another
//! state — checks it against `pos-core`'s transition tables, writes it with `WHERE state = <from>`
//! (so a change that lost a race is refused as [`LifecycleError::Stale`] instead of overwriting the
//! winner), and appends the event that names it, all in the caller's transaction. Nothing else in
//! the gateway writes these states.
//!
//! It also keeps the rule that at most one money-returning operation is open per payment: a refund
//! or a reversal of the payment claims `payments.money_return` when it opens (`WHERE money_return IS
//! NULL`) and releases it when it ends, so a void and a refund can never both be on their way to
//! the acquirer.

use chrono::{DateTime, Utc};
use pos_core::api::{PaymentView, RefundMethod, SaleView};
use pos_core::{PaymentState, RefundState, ReversalState, Yen};
use sqlx::AnyConnection;

use super::events::{self, EventKind, NewEvent};
use super::payments::PaymentRecord;
use super::refunds::RefundRecord;
use super::reversals::{OriginalRequest, ReversalReason, ReversalRecord};
use super::{instant_text, JournalError, WriteTx};

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The transition table does not allow it.
    #[error("{0}")]
    Illegal(String),
    /// The record was no longer in the state the step started from: another change came first.
    #[error("{what} {id} is no longer {from}: another change came first")]
    Stale { what: &'static str, id: String, from: String },
    /// Another refund or reversal is returning money on this payment.
    #[error("payment {payment} already has {open} returning money: wait for its outcome")]
    ReturnOpen { payment: String, open: String },
    /// The record belongs to a facility-day that treasury has closed (the database refused it).
    #[error("{0}: book an adjustment on today instead")]
    ClosedDay(String),
}

/// Who made the change, when, and what else the event should say.
pub struct Cause<'a> {
    pub actor: &'a str,
    pub at: DateTime<Utc>,
    pub data: serde_json::Value,
}

impl<'a> Cause<'a> {
    pub fn new(actor: &'a str, at: DateTime<Utc>) -> Cause<'a> {
        Cause { actor, at, data: serde_json::Value::Null }
    }

    pub fn with(mut self, data: serde_json::Value) -> Cause<'a> {
        self.data = data;
        self
    }
}

/// What the switch records when it forwards an authorization.
#[derive(Debug, Clone)]
pub struct Authorizing<'a> {
    pub brand: pos_core::Brand,
    pub masked_card: Option<&'a str>,
    pub acquirer_id: &'a str,
    pub acquirer_stan: Option<&'a str>,
    pub terminal_stan: Option<&'a str>,
    pub transmitted_at: Option<&'a str>,
    /// The terminal's own field 7, which its reversal names in field 90.
    pub terminal_transmitted_at: Option<&'a str>,
}

/// What a payment's step writes beside its state (each `None` keeps the column as it is).
#[derive(Debug, Clone, Default)]
pub struct PaymentFields<'a> {
    /// What the clerk is told.
    pub note: Option<&'a str>,
    pub response_code: Option<&'a str>,
    pub rrn: Option<&'a str>,
    pub auth_code: Option<&'a str>,
    /// Money given back by a refund that reached its outcome.
    pub refunded_add: Option<Yen>,
    pub authorizing: Option<Authorizing<'a>>,
}

/// What a refund's step writes beside its state.
#[derive(Debug, Clone, Default)]
pub struct RefundFields<'a> {
    pub response_code: Option<&'a str>,
    pub rrn: Option<&'a str>,
}

/// What a reversal's step writes beside its state.
#[derive(Debug, Clone, Default)]
pub struct ReversalFields<'a> {
    /// This step records an attempt (counted in `tries`).
    pub attempted: bool,
    /// The acquirer's field 39 (or what came instead of an answer).
    pub answer: Option<&'a str>,
    pub error: Option<&'a str>,
    /// When the next attempt is due (a pending reversal).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A refund to open.
pub struct NewRefund<'a> {
    pub id: &'a str,
    pub payment: &'a PaymentRecord,
    pub amount: Yen,
    pub method: RefundMethod,
    pub state: RefundState,
    pub acquirer_id: Option<&'a str>,
    pub acquirer_stan: Option<&'a str>,
    pub transmitted_at: Option<&'a str>,
    pub reason: &'a str,
    pub created_by: &'a str,
    pub approved_by: Option<&'a str>,
    pub business_date: pos_core::BusinessDate,
}

/// A reversal to open (of a payment's authorization, or of a refund in doubt).
pub struct NewReversal<'a> {
    pub payment: &'a PaymentRecord,
    pub refund_id: Option<&'a str>,
    pub acquirer_id: &'a str,
    pub reason: ReversalReason,
    pub original: &'a OriginalRequest,
}

pub enum Step<'a> {
    /// A new payment of a sale, in its first state.
    NewPayment {
        sale: &'a SaleView,
        payment: &'a PaymentView,
        acquirer_id: Option<&'a str>,
    },
    /// A payment moves to `to`.
    Payment {
        record: &'a PaymentRecord,
        to: PaymentState,
        fields: PaymentFields<'a>,
    },
    /// A new refund, claiming the payment's money-return while it is open.
    NewRefund(NewRefund<'a>),
    Refund {
        record: &'a RefundRecord,
        to: RefundState,
        fields: RefundFields<'a>,
    },
    /// A new reversal, claiming the payment's money-return (a refund's reversal rides on the
    /// refund's claim).
    NewReversal(NewReversal<'a>),
    Reversal {
        record: &'a ReversalRecord,
        to: ReversalState,
        fields: ReversalFields<'a>,
    },
}

/// What [`apply`] made: the id of a new refund or reversal, or the state reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Payment(PaymentState),
    Refund(RefundState),
    Reversal {
        id: String,
        state: ReversalState,
    },
    /// A new reversal was not added: one is already open for the same payment or refund.
    ReversalAlreadyOpen,
}

/// Applies one step in the caller's transaction.
pub async fn apply(tx: &mut WriteTx, step: Step<'_>, cause: Cause<'_>) -> Result<Applied, LifecycleError> {
    let result = match step {
        Step::NewPayment { sale, payment, acquirer_id } => new_payment(tx, sale, payment, acquirer_id, &cause).await,
        Step::Payment { record, to, fields } => payment_step(tx, record, to, &fields, &cause).await,
        Step::NewRefund(new) => new_refund(tx, &new, &cause).await,
        Step::Refund { record, to, fields } => refund_step(tx, record, to, &fields, &cause).await,
        Step::NewReversal(new) => new_reversal(tx, &new, &cause).await,
        Step::Reversal { record, to, fields } => reversal_step(tx, record, to, &fields, &cause).await,
    };
    result.map_err(closed_day)
}

/// A trigger refusing a closed day's change reads as [`LifecycleError::ClosedDay`].
fn closed_day(error: LifecycleError) -> LifecycleError {
    match error {
        LifecycleError::Journal(JournalError::Database(database)) if is_closed_day(&database) => {
            LifecycleError::ClosedDay(database.to_string())
        }
        other => other,
    }
}

/// Whether a database error is the closed-day trigger's refusal.
pub fn is_closed_day(error: &sqlx::Error) -> bool {
    error.to_string().contains("closed day:")
}

async fn event(
    conn: &mut AnyConnection,
    kind: EventKind,
    entity_id: &str,
    facility_id: &str,
    cause: &Cause<'_>,
    mut data: serde_json::Value,
) -> Result<(), JournalError> {
    if let (Some(object), serde_json::Value::Object(extra)) = (data.as_object_mut(), &cause.data) {
        for (key, value) in extra {
            object.insert(key.clone(), value.clone());
        }
    }
    events::append(conn, NewEvent { at: cause.at, actor: cause.actor, kind, entity_id, facility_id, data }).await
}

async fn new_payment(
    tx: &mut WriteTx,
    sale: &SaleView,
    payment: &PaymentView,
    acquirer_id: Option<&str>,
    cause: &Cause<'_>,
) -> Result<Applied, LifecycleError> {
    // A payment is born `created` and may be journaled already in its next state (a cash payment
    // completed, a card payment waiting for the device): that first step must be in the table.
    if payment.state != PaymentState::Created && !PaymentState::Created.can_become(payment.state, payment.method) {
        return Err(LifecycleError::Illegal(format!("a {} payment cannot begin as {}", payment.method, payment.state)));
    }
    super::payments::insert(tx, sale, payment, acquirer_id).await?;
    let data = serde_json::json!({
        "sale_id": sale.id, "method": payment.method, "brand": payment.brand, "amount": payment.amount,
        "tendered": payment.tendered, "change": payment.change, "terminal_id": payment.terminal_id,
        "acquirer": acquirer_id, "masked_card": payment.masked_card,
    });
    event(tx.conn(), EventKind::Payment(payment.state), &payment.id, sale.facility_id.as_str(), cause, data).await?;
    Ok(Applied::Payment(payment.state))
}

async fn payment_step(
    tx: &mut WriteTx,
    record: &PaymentRecord,
    to: PaymentState,
    fields: &PaymentFields<'_>,
    cause: &Cause<'_>,
) -> Result<Applied, LifecycleError> {
    let from = record.view.state;
    from.transition(to, record.view.method).map_err(|e| LifecycleError::Illegal(e.to_string()))?;
    let authorizing = fields.authorizing.as_ref();
    let updated = sqlx::query(
        "UPDATE payments SET state = $1, updated_at = $2, note = COALESCE($3, note), \
         response_code = COALESCE($4, response_code), rrn = COALESCE($5, rrn), auth_code = COALESCE($6, auth_code), \
         refunded = refunded + $7, brand = COALESCE($8, brand), masked_card = COALESCE($9, masked_card), \
         acquirer_id = COALESCE($10, acquirer_id), acquirer_stan = COALESCE($11, acquirer_stan), \
         terminal_stan = COALESCE($12, terminal_stan), transmitted_at = COALESCE($13, transmitted_at), \
         terminal_transmitted_at = COALESCE($16, terminal_transmitted_at), \
         completed_at = CASE WHEN $1 = 'completed' THEN $2 ELSE completed_at END \
         WHERE id = $14 AND state = $15",
    )
    .bind(to.code())
    .bind(instant_text(cause.at))
    .bind(fields.note)
    .bind(fields.response_code)
    .bind(fields.rrn)
    .bind(fields.auth_code)
    .bind(fields.refunded_add.map_or(0, Yen::get))
    .bind(authorizing.map(|a| a.brand.code()))
    .bind(authorizing.and_then(|a| a.masked_card))
    .bind(authorizing.map(|a| a.acquirer_id))
    .bind(authorizing.and_then(|a| a.acquirer_stan))
    .bind(authorizing.and_then(|a| a.terminal_stan))
    .bind(authorizing.and_then(|a| a.transmitted_at))
    .bind(&record.view.id)
    .bind(from.code())
    .bind(authorizing.and_then(|a| a.terminal_transmitted_at))
    .execute(tx.conn())
    .await
    .map_err(JournalError::from)?
    .rows_affected();
    if updated != 1 {
        return Err(LifecycleError::Stale { what: "payment", id: record.view.id.clone(), from: from.code().into() });
    }
    let data = serde_json::json!({
        "from": from, "to": to, "note": fields.note, "response_code": fields.response_code, "rrn": fields.rrn,
        "refunded": fields.refunded_add,
        "brand": authorizing.map(|a| a.brand), "masked_card": authorizing.and_then(|a| a.masked_card),
        "acquirer": authorizing.map(|a| a.acquirer_id), "stan": authorizing.and_then(|a| a.acquirer_stan),
        "terminal_stan": authorizing.and_then(|a| a.terminal_stan),
    });
    event(tx.conn(), EventKind::Payment(to), &record.view.id, &record.facility_id, cause, data).await?;
    if to == PaymentState::InDoubt {
        metrics::counter!("payments_in_doubt_total", "method" => record.view.method.code()).increment(1);
    }
    Ok(Applied::Payment(to))
}

/// Claims the payment's money-return for `operation`, or says which operation holds it.
async fn claim_return(
    tx: &mut WriteTx,
    payment_id: &str,
    operation: &str,
    at: DateTime<Utc>,
) -> Result<(), LifecycleError> {
    let claimed =
        sqlx::query("UPDATE payments SET money_return = $1, updated_at = $2 WHERE id = $3 AND money_return IS NULL")
            .bind(operation)
            .bind(instant_text(at))
            .bind(payment_id)
            .execute(tx.conn())
            .await
            .map_err(JournalError::from)?
            .rows_affected();
    if claimed == 1 {
        return Ok(());
    }
    let open = open_return(tx.conn(), payment_id).await?.unwrap_or_else(|| "another operation".to_string());
    Err(LifecycleError::ReturnOpen { payment: payment_id.to_string(), open })
}

async fn release_return(tx: &mut WriteTx, payment_id: &str, operation: &str) -> Result<(), JournalError> {
    sqlx::query("UPDATE payments SET money_return = NULL WHERE id = $1 AND money_return = $2")
        .bind(payment_id)
        .bind(operation)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The refund or reversal now returning money on a payment, if any.
pub async fn open_return(conn: &mut AnyConnection, payment_id: &str) -> Result<Option<String>, JournalError> {
    use sqlx::Row;
    let row =
        sqlx::query("SELECT money_return FROM payments WHERE id = $1").bind(payment_id).fetch_optional(conn).await?;
    Ok(match row {
        Some(row) => row.try_get::<Option<String>, _>("money_return")?,
        None => None,
    })
}

async fn new_refund(tx: &mut WriteTx, new: &NewRefund<'_>, cause: &Cause<'_>) -> Result<Applied, LifecycleError> {
    if !RefundState::INITIAL.contains(&new.state) {
        return Err(LifecycleError::Illegal(format!("a refund cannot begin as {}", new.state)));
    }
    let payment_id = new.payment.view.id.as_str();
    if new.state.is_open() {
        claim_return(tx, payment_id, new.id, cause.at).await?;
    } else if let Some(open) = open_return(tx.conn(), payment_id).await? {
        return Err(LifecycleError::ReturnOpen { payment: payment_id.to_string(), open });
    }
    sqlx::query(
        "INSERT INTO refunds (id, payment_id, facility_id, amount, method, state, acquirer_id, acquirer_stan, transmitted_at, reason, created_by, approved_by, business_date, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
    )
    .bind(new.id)
    .bind(payment_id)
    .bind(&new.payment.facility_id)
    .bind(new.amount.get())
    .bind(match new.method {
        RefundMethod::Cash => "cash",
        RefundMethod::Original => "original",
    })
    .bind(new.state.code())
    .bind(new.acquirer_id)
    .bind(new.acquirer_stan)
    .bind(new.transmitted_at)
    .bind(new.reason)
    .bind(new.created_by)
    .bind(new.approved_by)
    .bind(new.business_date.to_string())
    .bind(instant_text(cause.at))
    .execute(tx.conn())
    .await
    .map_err(JournalError::from)?;
    let data = serde_json::json!({
        "payment_id": payment_id, "amount": new.amount, "method": new.method, "state": new.state,
        "reason": new.reason, "approved_by": new.approved_by,
    });
    event(tx.conn(), EventKind::Refund(new.state), new.id, &new.payment.facility_id, cause, data).await?;
    Ok(Applied::Refund(new.state))
}

async fn refund_step(
    tx: &mut WriteTx,
    record: &RefundRecord,
    to: RefundState,
    fields: &RefundFields<'_>,
    cause: &Cause<'_>,
) -> Result<Applied, LifecycleError> {
    let from = record.view.state;
    from.transition(to).map_err(|e| LifecycleError::Illegal(e.to_string()))?;
    let updated = sqlx::query(
        "UPDATE refunds SET state = $1, response_code = COALESCE($2, response_code), rrn = COALESCE($3, rrn), updated_at = $4 WHERE id = $5 AND state = $6",
    )
    .bind(to.code())
    .bind(fields.response_code)
    .bind(fields.rrn)
    .bind(instant_text(cause.at))
    .bind(&record.view.id)
    .bind(from.code())
    .execute(tx.conn())
    .await
    .map_err(JournalError::from)?
    .rows_affected();
    if updated != 1 {
        return Err(LifecycleError::Stale { what: "refund", id: record.view.id.clone(), from: from.code().into() });
    }
    if !to.is_open() {
        release_return(tx, &record.view.payment_id, &record.view.id).await?;
    }
    let data = serde_json::json!({ "from": from, "to": to, "response_code": fields.response_code, "rrn": fields.rrn });
    event(tx.conn(), EventKind::Refund(to), &record.view.id, &record.facility_id, cause, data).await?;
    Ok(Applied::Refund(to))
}

async fn new_reversal(tx: &mut WriteTx, new: &NewReversal<'_>, cause: &Cause<'_>) -> Result<Applied, LifecycleError> {
    let payment_id = new.payment.view.id.as_str();
    if super::reversals::open_for(tx.conn(), payment_id, new.refund_id).await?.is_some() {
        return Ok(Applied::ReversalAlreadyOpen);
    }
    let id = format!("rev_{}", uuid::Uuid::new_v4().simple());
    if new.refund_id.is_none() {
        claim_return(tx, payment_id, &id, cause.at).await?;
    }
    let original = serde_json::to_string(new.original).map_err(|e| LifecycleError::Illegal(e.to_string()))?;
    sqlx::query(
        "INSERT INTO reversals (id, payment_id, refund_id, acquirer_id, reason, original, state, tries, next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8, $8)",
    )
    .bind(&id)
    .bind(payment_id)
    .bind(new.refund_id)
    .bind(new.acquirer_id)
    .bind(new.reason.code())
    .bind(original)
    .bind(ReversalState::Pending.code())
    .bind(instant_text(cause.at))
    .execute(tx.conn())
    .await
    .map_err(JournalError::from)?;
    let data = serde_json::json!({
        "payment_id": payment_id, "refund_id": new.refund_id, "acquirer": new.acquirer_id,
        "reason": new.reason.code(), "stan": new.original.stan,
    });
    event(tx.conn(), EventKind::Reversal(ReversalState::Pending), &id, &new.payment.facility_id, cause, data).await?;
    Ok(Applied::Reversal { id, state: ReversalState::Pending })
}

async fn reversal_step(
    tx: &mut WriteTx,
    record: &ReversalRecord,
    to: ReversalState,
    fields: &ReversalFields<'_>,
    cause: &Cause<'_>,
) -> Result<Applied, LifecycleError> {
    let from = record.state;
    from.transition(to).map_err(|e| LifecycleError::Illegal(e.to_string()))?;
    if from == ReversalState::GaveUp && record.refund_id.is_none() {
        // Treasury asks for another round: it must own the money-return again.
        claim_return(tx, &record.payment_id, &record.id, cause.at).await?;
    }
    let next = fields.next_attempt_at.unwrap_or(cause.at);
    let updated = sqlx::query(
        "UPDATE reversals SET state = $1, tries = tries + $2, last_answer = COALESCE($3, last_answer), \
         last_error = COALESCE($4, last_error), response_code = CASE WHEN $1 = 'done' THEN $3 ELSE response_code END, \
         next_attempt_at = $5, updated_at = $6 WHERE id = $7 AND state = $8",
    )
    .bind(to.code())
    .bind(i64::from(fields.attempted))
    .bind(fields.answer)
    .bind(fields.error)
    .bind(instant_text(next))
    .bind(instant_text(cause.at))
    .bind(&record.id)
    .bind(from.code())
    .execute(tx.conn())
    .await
    .map_err(JournalError::from)?
    .rows_affected();
    if updated != 1 {
        return Err(LifecycleError::Stale { what: "reversal", id: record.id.clone(), from: from.code().into() });
    }
    if !to.is_open() && record.refund_id.is_none() {
        release_return(tx, &record.payment_id, &record.id).await?;
    }
    let facility = super::payments::facility_of(tx.conn(), &record.payment_id).await?;
    let data = serde_json::json!({
        "from": from, "to": to, "answer": fields.answer, "error": fields.error, "tries": record.tries + u32::from(fields.attempted),
        "payment_id": record.payment_id, "refund_id": record.refund_id,
    });
    // A failed try that stays pending is worth an event only when it says something new.
    if to != from || fields.answer.is_some() || fields.error.is_some() {
        event(tx.conn(), EventKind::Reversal(to), &record.id, &facility, cause, data).await?;
    }
    Ok(Applied::Reversal { id: record.id.clone(), state: to })
}
