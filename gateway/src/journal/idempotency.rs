//! Idempotency keys: a repeated request gets the first answer; the same key with another request
//! is refused.
//!
//! The key is claimed inside the transaction that does the work, and the answer is stored in that
//! same transaction, so a key is either absent (nothing happened) or present with the answer to
//! replay; a crash in between leaves neither. Two concurrent requests with one key serialize on the
//! key's primary key (PostgreSQL makes the second insert wait for the first transaction) or on the
//! writer gate (SQLite).

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{instant_text, JournalError, WriteTx};

/// What a key says about a request.
pub enum Claim {
    /// First time: go ahead, then [`store`] the answer in the same transaction.
    Fresh,
    /// Seen before with the same request: replay this answer.
    Replay { status: u16, response: String },
    /// Seen before with a different request.
    Conflict,
}

pub async fn claim(
    tx: &mut WriteTx,
    scope: &str,
    key: &str,
    request_hash: &str,
    at: DateTime<Utc>,
) -> Result<Claim, JournalError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status, response, created_at) VALUES ($1, $2, $3, 0, '', $4) ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(request_hash)
    .bind(instant_text(at))
    .execute(tx.conn())
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::Fresh);
    }
    let row = sqlx::query("SELECT request_hash, status, response FROM idempotency_keys WHERE scope = $1 AND key = $2")
        .bind(scope)
        .bind(key)
        .fetch_one(tx.conn())
        .await?;
    let stored_hash: String = row.try_get("request_hash")?;
    if stored_hash != request_hash {
        return Ok(Claim::Conflict);
    }
    let status: i64 = row.try_get("status")?;
    let status = u16::try_from(status).map_err(|_| JournalError::Corrupt {
        table: "idempotency_keys",
        column: "status",
        id: key.to_string(),
        value: status.to_string(),
    })?;
    Ok(Claim::Replay { status, response: row.try_get("response")? })
}

pub async fn store(tx: &mut WriteTx, scope: &str, key: &str, status: u16, response: &str) -> Result<(), JournalError> {
    sqlx::query("UPDATE idempotency_keys SET status = $1, response = $2 WHERE scope = $3 AND key = $4")
        .bind(i64::from(status))
        .bind(response)
        .bind(scope)
        .bind(key)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// What a key says, read without claiming it (a request that must check something outside the
/// transaction first asks this, so a repeat is answered before anything is checked again).
pub async fn peek(
    conn: &mut sqlx::AnyConnection,
    scope: &str,
    key: &str,
    request_hash: &str,
) -> Result<Option<Claim>, JournalError> {
    let row = sqlx::query("SELECT request_hash, status, response FROM idempotency_keys WHERE scope = $1 AND key = $2")
        .bind(scope)
        .bind(key)
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let stored_hash: String = row.try_get("request_hash")?;
    if stored_hash != request_hash {
        return Ok(Some(Claim::Conflict));
    }
    let status: i64 = row.try_get("status")?;
    let Ok(status) = u16::try_from(status) else { return Ok(None) };
    if status == 0 {
        return Ok(None);
    }
    Ok(Some(Claim::Replay { status, response: row.try_get("response")? }))
}
