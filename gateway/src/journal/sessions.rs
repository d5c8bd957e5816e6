//! The pages' sessions (table `sessions`, migration 0060): only the SHA-256 of a session id is
//! stored, with the user, the hash of the token it was opened with, and its expiries.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{instant_text, parse_instant, Journal, JournalError};

/// One session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub user_name: String,
    pub role: String,
    pub token_sha256: String,
    pub last_seen_at: DateTime<Utc>,
    pub idle_expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
    pub ended: bool,
}

/// A new session.
pub struct NewSession<'a> {
    pub id_sha256: &'a str,
    pub user_name: &'a str,
    pub role: &'a str,
    pub token_sha256: &'a str,
    pub now: DateTime<Utc>,
    pub idle_expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
}

pub async fn create(journal: &Journal, session: &NewSession<'_>) -> Result<(), JournalError> {
    let mut tx = journal.begin_write().await?;
    sqlx::query(
        "INSERT INTO sessions (id_sha256, user_name, role, token_sha256, created_at, last_seen_at, idle_expires_at, absolute_expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(session.id_sha256)
    .bind(session.user_name)
    .bind(session.role)
    .bind(session.token_sha256)
    .bind(instant_text(session.now))
    .bind(instant_text(session.now))
    .bind(instant_text(session.idle_expires_at))
    .bind(instant_text(session.absolute_expires_at))
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(())
}

fn instant(row: &sqlx::any::AnyRow, column: &'static str) -> Result<DateTime<Utc>, JournalError> {
    let text: String = row.try_get(column)?;
    parse_instant(&text).ok_or_else(|| JournalError::Corrupt {
        table: "sessions",
        column,
        id: "(a session)".to_string(),
        value: text.clone(),
    })
}

pub async fn find(journal: &Journal, id_sha256: &str) -> Result<Option<SessionRow>, JournalError> {
    let mut conn = journal.read().await?;
    let row = sqlx::query(
        "SELECT user_name, role, token_sha256, last_seen_at, idle_expires_at, absolute_expires_at, ended_at FROM sessions WHERE id_sha256 = $1",
    )
    .bind(id_sha256)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let ended_at: Option<String> = row.try_get("ended_at")?;
    Ok(Some(SessionRow {
        user_name: row.try_get("user_name")?,
        role: row.try_get("role")?,
        token_sha256: row.try_get("token_sha256")?,
        last_seen_at: instant(&row, "last_seen_at")?,
        idle_expires_at: instant(&row, "idle_expires_at")?,
        absolute_expires_at: instant(&row, "absolute_expires_at")?,
        ended: ended_at.is_some(),
    }))
}

/// Moves a live session's idle expiry on.
pub async fn touch(
    journal: &Journal,
    id_sha256: &str,
    now: DateTime<Utc>,
    idle_expires_at: DateTime<Utc>,
) -> Result<(), JournalError> {
    let mut tx = journal.begin_write().await?;
    sqlx::query(
        "UPDATE sessions SET last_seen_at = $1, idle_expires_at = $2 WHERE id_sha256 = $3 AND ended_at IS NULL",
    )
    .bind(instant_text(now))
    .bind(instant_text(idle_expires_at))
    .bind(id_sha256)
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends one session (if live), saying why.
pub async fn end(journal: &Journal, id_sha256: &str, now: DateTime<Utc>, reason: &str) -> Result<u64, JournalError> {
    let mut tx = journal.begin_write().await?;
    let ended =
        sqlx::query("UPDATE sessions SET ended_at = $1, ended_reason = $2 WHERE id_sha256 = $3 AND ended_at IS NULL")
            .bind(instant_text(now))
            .bind(reason)
            .bind(id_sha256)
            .execute(tx.conn())
            .await?
            .rows_affected();
    tx.commit().await?;
    Ok(ended)
}

/// Ends every live session of a user; returns how many.
pub async fn end_for_user(
    journal: &Journal,
    user_name: &str,
    now: DateTime<Utc>,
    reason: &str,
) -> Result<u64, JournalError> {
    let mut tx = journal.begin_write().await?;
    let ended =
        sqlx::query("UPDATE sessions SET ended_at = $1, ended_reason = $2 WHERE user_name = $3 AND ended_at IS NULL")
            .bind(instant_text(now))
            .bind(reason)
            .bind(user_name)
            .execute(tx.conn())
            .await?
            .rows_affected();
    tx.commit().await?;
    Ok(ended)
}
