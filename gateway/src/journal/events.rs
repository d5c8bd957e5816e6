//! Append-only events: every state change, in the same transaction as the state it changes.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::{instant_text, JournalError};

pub struct NewEvent<'a> {
    pub at: DateTime<Utc>,
    pub actor: &'a str,
    pub kind: &'a str,
    pub entity_id: &'a str,
    pub facility_id: &'a str,
    pub data: serde_json::Value,
}

pub async fn append(conn: &mut AnyConnection, event: NewEvent<'_>) -> Result<(), JournalError> {
    sqlx::query("INSERT INTO events (at, actor, kind, entity_id, facility_id, data) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(instant_text(event.at))
        .bind(event.actor)
        .bind(event.kind)
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
