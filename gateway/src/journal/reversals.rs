//! Reversal work: journaled before the first 0400 is sent, claimed by a worker with a lease,
//! retried with backoff (0401) until the acquirer confirms it or the tries run out. A reversal
//! changes state only through [`super::lifecycle`].

use chrono::{DateTime, Utc};
use pos_core::ReversalState;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::columns::parse_column;
use super::{instant_text, Journal, JournalError};

const REVERSAL_COLUMNS: &str =
    "id, payment_id, refund_id, acquirer_id, reason, original, state, tries, last_error, last_answer";

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
    pub const ALL: [ReversalReason; 5] = [
        ReversalReason::Timeout,
        ReversalReason::LinkLost,
        ReversalReason::Recovery,
        ReversalReason::Void,
        ReversalReason::TerminalRequest,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ReversalReason::Timeout => "timeout",
            ReversalReason::LinkLost => "link_lost",
            ReversalReason::Recovery => "recovery",
            ReversalReason::Void => "void",
            ReversalReason::TerminalRequest => "terminal_request",
        }
    }

    /// A reversal of money the journal holds as taken (a void, a terminal's late reversal of an
    /// answered authorization), as against one of an authorization whose outcome is unknown.
    pub fn reverses_completed(self) -> bool {
        matches!(self, ReversalReason::Void | ReversalReason::TerminalRequest)
    }
}

impl std::str::FromStr for ReversalReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReversalReason::ALL.into_iter().find(|r| r.code() == s).ok_or_else(|| format!("unknown reason {s:?}"))
    }
}

/// A reversal as journaled.
#[derive(Debug, Clone)]
pub struct ReversalRecord {
    pub id: String,
    pub payment_id: String,
    pub refund_id: Option<String>,
    pub acquirer_id: String,
    pub reason: ReversalReason,
    pub original: OriginalRequest,
    pub state: ReversalState,
    pub tries: u32,
    pub last_error: Option<String>,
    pub last_answer: Option<String>,
}

fn decode(row: &AnyRow) -> Result<ReversalRecord, JournalError> {
    let id: String = row.try_get("id")?;
    let original_text: String = row.try_get("original")?;
    let original = serde_json::from_str(&original_text).map_err(|_| JournalError::Corrupt {
        table: "reversals",
        column: "original",
        id: id.clone(),
        value: original_text.clone(),
    })?;
    let tries: i64 = row.try_get("tries")?;
    Ok(ReversalRecord {
        payment_id: row.try_get("payment_id")?,
        refund_id: row.try_get("refund_id")?,
        acquirer_id: row.try_get("acquirer_id")?,
        reason: parse_column("reversals", "reason", &id, &row.try_get::<String, _>("reason")?)?,
        original,
        state: parse_column("reversals", "state", &id, &row.try_get::<String, _>("state")?)?,
        tries: u32::try_from(tries).unwrap_or(u32::MAX),
        last_error: row.try_get("last_error")?,
        last_answer: row.try_get("last_answer")?,
        id,
    })
}

/// Claims reversals that are due, pushing their next attempt out by `lease` so another worker
/// (or this one after a crash) takes them again only if this attempt never finishes.
pub async fn claim_due(
    journal: &Journal,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: i64,
) -> Result<Vec<ReversalRecord>, JournalError> {
    let mut tx = journal.begin_write().await?;
    let skip_locked = match tx.backend() {
        pos_config::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        pos_config::Backend::Sqlite => "",
    };
    let rows = sqlx::query(&format!(
        "SELECT {REVERSAL_COLUMNS} FROM reversals WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2{skip_locked}"
    ))
    .bind(instant_text(now))
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    let due = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
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

pub async fn load(conn: &mut AnyConnection, id: &str, lock: &str) -> Result<Option<ReversalRecord>, JournalError> {
    let row = sqlx::query(&format!("SELECT {REVERSAL_COLUMNS} FROM reversals WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|row| decode(&row)).transpose()
}

/// The open (pending) reversal of a payment's authorization (`refund_id` none) or of a refund.
pub async fn open_for(
    conn: &mut AnyConnection,
    payment_id: &str,
    refund_id: Option<&str>,
) -> Result<Option<ReversalRecord>, JournalError> {
    let row = sqlx::query(&format!(
        "SELECT {REVERSAL_COLUMNS} FROM reversals WHERE payment_id = $1 AND COALESCE(refund_id, '') = $2 AND state = 'pending'"
    ))
    .bind(payment_id)
    .bind(refund_id.unwrap_or(""))
    .fetch_optional(conn)
    .await?;
    row.map(|row| decode(&row)).transpose()
}

/// The reversals of a payment, oldest first.
pub async fn of_payment(conn: &mut AnyConnection, payment_id: &str) -> Result<Vec<ReversalRecord>, JournalError> {
    let rows =
        sqlx::query(&format!("SELECT {REVERSAL_COLUMNS} FROM reversals WHERE payment_id = $1 ORDER BY created_at, id"))
            .bind(payment_id)
            .fetch_all(conn)
            .await?;
    rows.iter().map(decode).collect()
}

/// Counts by state, for metrics and the treasury list.
pub async fn count(journal: &Journal, state: ReversalState) -> Result<i64, JournalError> {
    let mut conn = journal.read().await?;
    let row = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM reversals WHERE state = $1")
        .bind(state.code())
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get("n")?)
}
