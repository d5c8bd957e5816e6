//! Reversal work: journaled before the first 0400 is sent, claimed by a worker with a lease,
//! retried with backoff (0401) until the acquirer answers 0410 or the tries run out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{for_update, instant_text, Journal, JournalError, WriteTx};

/// What a reversal needs of the request it reverses (never card data: a reversal is matched by
/// terminal, STAN and time, PROTOCOLS.md §1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginalRequest {
    pub mti: String,
    pub processing_code: String,
    pub amount: i64,
    pub terminal_id: String,
    pub merchant_id: String,
    pub stan: String,
    pub transmitted_at: String,
    pub brand_data: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReversalReason {
    /// No answer by the deadline.
    Timeout,
    /// The link dropped or the acquirer sent garbage after the request went out.
    LinkLost,
    /// The gateway stopped while the request was out (found on start-up).
    Recovery,
    /// A clerk voided a same-day card payment.
    Void,
    /// The terminal asked (it did not get our answer).
    TerminalRequest,
}

impl ReversalReason {
    pub fn code(self) -> &'static str {
        match self {
            ReversalReason::Timeout => "timeout",
            ReversalReason::LinkLost => "link_lost",
            ReversalReason::Recovery => "recovery",
            ReversalReason::Void => "void",
            ReversalReason::TerminalRequest => "terminal_request",
        }
    }

    pub fn parse(code: &str) -> ReversalReason {
        match code {
            "timeout" => ReversalReason::Timeout,
            "link_lost" => ReversalReason::LinkLost,
            "void" => ReversalReason::Void,
            "terminal_request" => ReversalReason::TerminalRequest,
            _ => ReversalReason::Recovery,
        }
    }
}

pub struct NewReversal<'a> {
    pub payment_id: &'a str,
    pub refund_id: Option<&'a str>,
    pub acquirer_id: &'a str,
    pub reason: ReversalReason,
    pub original: &'a OriginalRequest,
}

/// Queues a reversal; a second one for the same payment (or refund) while one is open is not
/// added.
pub async fn enqueue(tx: &mut WriteTx, reversal: &NewReversal<'_>, now: DateTime<Utc>) -> Result<bool, JournalError> {
    let original = serde_json::to_string(reversal.original).unwrap_or_default();
    let inserted = sqlx::query(
        "INSERT INTO reversals (id, payment_id, refund_id, acquirer_id, reason, original, state, tries, next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7) ON CONFLICT DO NOTHING",
    )
    .bind(format!("rev_{}", uuid::Uuid::new_v4().simple()))
    .bind(reversal.payment_id)
    .bind(reversal.refund_id)
    .bind(reversal.acquirer_id)
    .bind(reversal.reason.code())
    .bind(original)
    .bind(instant_text(now))
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

#[derive(Debug, Clone)]
pub struct DueReversal {
    pub id: String,
    pub payment_id: String,
    pub refund_id: Option<String>,
    pub acquirer_id: String,
    pub reason: ReversalReason,
    pub original: OriginalRequest,
    pub tries: u32,
}

/// Claims reversals that are due, pushing their next attempt out by `lease` so another worker
/// (or this one after a crash) takes them again only if this attempt never finishes.
pub async fn claim_due(
    journal: &Journal,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: i64,
) -> Result<Vec<DueReversal>, JournalError> {
    let mut tx = journal.begin_write().await?;
    let skip_locked = match tx.backend() {
        pos_config::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        pos_config::Backend::Sqlite => "",
    };
    let rows = sqlx::query(&format!(
        "SELECT id, payment_id, refund_id, acquirer_id, reason, original, tries FROM reversals WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2{skip_locked}"
    ))
    .bind(instant_text(now))
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    let mut due = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.try_get("id")?;
        let original_text: String = row.try_get("original")?;
        let original = serde_json::from_str(&original_text).map_err(|_| JournalError::Corrupt {
            table: "reversals",
            column: "original",
            id: id.clone(),
            value: original_text.clone(),
        })?;
        let tries: i64 = row.try_get("tries")?;
        due.push(DueReversal {
            payment_id: row.try_get("payment_id")?,
            refund_id: row.try_get("refund_id")?,
            acquirer_id: row.try_get("acquirer_id")?,
            reason: ReversalReason::parse(&row.try_get::<String, _>("reason")?),
            original,
            tries: u32::try_from(tries).unwrap_or(u32::MAX),
            id,
        });
    }
    for reversal in &due {
        sqlx::query("UPDATE reversals SET next_attempt_at = $1 WHERE id = $2")
            .bind(instant_text(now + lease))
            .bind(&reversal.id)
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await?;
    Ok(due)
}

pub async fn mark_done(
    tx: &mut WriteTx,
    id: &str,
    response_code: &str,
    now: DateTime<Utc>,
) -> Result<(), JournalError> {
    sqlx::query(
        "UPDATE reversals SET state = 'done', response_code = $1, tries = tries + 1, updated_at = $2 WHERE id = $3",
    )
    .bind(response_code)
    .bind(instant_text(now))
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records a failed attempt: retry at `next_attempt_at`, or give up (`None`).
pub async fn mark_failed(
    tx: &mut WriteTx,
    id: &str,
    error: &str,
    next_attempt_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), JournalError> {
    let state = if next_attempt_at.is_some() { "pending" } else { "gave_up" };
    sqlx::query("UPDATE reversals SET state = $1, tries = tries + 1, last_error = $2, next_attempt_at = $3, updated_at = $4 WHERE id = $5")
        .bind(state)
        .bind(error)
        .bind(instant_text(next_attempt_at.unwrap_or(now)))
        .bind(instant_text(now))
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Whether a payment has an open (pending) reversal.
pub async fn open_for_payment(tx: &mut WriteTx, payment_id: &str) -> Result<bool, JournalError> {
    let lock = for_update(tx.backend());
    let row = sqlx::query(&format!(
        "SELECT id FROM reversals WHERE payment_id = $1 AND refund_id IS NULL AND state = 'pending'{lock}"
    ))
    .bind(payment_id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.is_some())
}

/// Counts by state, for metrics and the treasury list.
pub async fn count(journal: &Journal, state: &str) -> Result<i64, JournalError> {
    let mut conn = journal.read().await?;
    let row = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM reversals WHERE state = $1")
        .bind(state)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get("n")?)
}
