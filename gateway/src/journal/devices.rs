//! Device commands: queued for a register's counter, delivered once (and again only if the counter
//! asks before answering — it then answers from its own record, never running a charge twice),
//! and closed by the counter's result.

use chrono::{DateTime, Utc};
use pos_core::api::{CommandKind, CommandResult, CommandState, DeviceCommand};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::columns::{instant_column, parse_column};
use super::{instant_text, JournalError, WriteTx};

const COMMAND_COLUMNS: &str = "id, register_id, command, state, result, created_at";

fn state_code(state: CommandState) -> &'static str {
    match state {
        CommandState::Queued => "queued",
        CommandState::Delivered => "delivered",
        CommandState::Done => "done",
        CommandState::Failed => "failed",
        CommandState::Unknown => "unknown",
    }
}

fn decode(row: &AnyRow) -> Result<DeviceCommand, JournalError> {
    let id: String = row.try_get("id")?;
    let corrupt = |column: &'static str, value: String| JournalError::Corrupt {
        table: "device_commands",
        column,
        id: id.clone(),
        value,
    };
    let command_text: String = row.try_get("command")?;
    let command: CommandKind =
        serde_json::from_str(&command_text).map_err(|_| corrupt("command", command_text.clone()))?;
    let state_text: String = row.try_get("state")?;
    let state = match state_text.as_str() {
        "queued" => CommandState::Queued,
        "delivered" => CommandState::Delivered,
        "done" => CommandState::Done,
        "failed" => CommandState::Failed,
        "unknown" => CommandState::Unknown,
        _ => return Err(corrupt("state", state_text)),
    };
    let result = match row.try_get::<Option<String>, _>("result")? {
        Some(text) => Some(serde_json::from_str::<CommandResult>(&text).map_err(|_| corrupt("result", text.clone()))?),
        None => None,
    };
    Ok(DeviceCommand {
        register_id: parse_column("device_commands", "register_id", &id, &row.try_get::<String, _>("register_id")?)?,
        command,
        state,
        created_at: instant_column("device_commands", "created_at", &id, &row.try_get::<String, _>("created_at")?)?,
        result,
        id,
    })
}

/// Queues a command for a register, inside the caller's transaction (so a payment and its charge
/// command exist together or not at all).
pub async fn enqueue(
    tx: &mut WriteTx,
    register_id: &str,
    command: &CommandKind,
    now: DateTime<Utc>,
) -> Result<String, JournalError> {
    let id = format!("cmd_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(
        "INSERT INTO device_commands (id, register_id, command, state, created_at) VALUES ($1, $2, $3, 'queued', $4)",
    )
    .bind(&id)
    .bind(register_id)
    .bind(serde_json::to_string(command).unwrap_or_default())
    .bind(instant_text(now))
    .execute(tx.conn())
    .await?;
    tx.notify(commands_topic(register_id));
    Ok(id)
}

/// The topic a register's long poll waits on: notified when a command is queued for it.
pub fn commands_topic(register_id: &str) -> String {
    format!("device_commands:{register_id}")
}

/// The next command for a register: one delivered but unanswered first (the counter restarted
/// and must answer it from its own record), else the oldest queued, which becomes delivered.
pub async fn take_next(
    tx: &mut WriteTx,
    register_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<DeviceCommand>, JournalError> {
    let lock = tx.for_update();
    let row = sqlx::query(&format!(
        "SELECT {COMMAND_COLUMNS} FROM device_commands WHERE register_id = $1 AND state IN ('delivered', 'queued') ORDER BY CASE state WHEN 'delivered' THEN 0 ELSE 1 END, created_at, id LIMIT 1{lock}"
    ))
    .bind(register_id)
    .fetch_optional(tx.conn())
    .await?;
    let Some(mut command) = row.map(|row| decode(&row)).transpose()? else { return Ok(None) };
    if command.state == CommandState::Queued {
        sqlx::query("UPDATE device_commands SET state = 'delivered', delivered_at = $1 WHERE id = $2")
            .bind(instant_text(now))
            .bind(&command.id)
            .execute(tx.conn())
            .await?;
        command.state = CommandState::Delivered;
    }
    Ok(Some(command))
}

/// Whether a register has a command to take (a cheap read before the write that takes it).
pub async fn has_pending(conn: &mut AnyConnection, register_id: &str) -> Result<bool, JournalError> {
    let row = sqlx::query(
        "SELECT id FROM device_commands WHERE register_id = $1 AND state IN ('delivered', 'queued') LIMIT 1",
    )
    .bind(register_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

pub async fn load(conn: &mut AnyConnection, id: &str, lock: &str) -> Result<Option<DeviceCommand>, JournalError> {
    let row = sqlx::query(&format!("SELECT {COMMAND_COLUMNS} FROM device_commands WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|row| decode(&row)).transpose()
}

pub async fn complete(
    tx: &mut WriteTx,
    id: &str,
    result: &CommandResult,
    now: DateTime<Utc>,
) -> Result<(), JournalError> {
    sqlx::query("UPDATE device_commands SET state = $1, result = $2, completed_at = $3 WHERE id = $4")
        .bind(state_code(result.state))
        .bind(serde_json::to_string(result).unwrap_or_default())
        .bind(instant_text(now))
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Commands of a register, newest first.
pub async fn of_register(
    conn: &mut AnyConnection,
    register_id: &str,
    limit: i64,
) -> Result<Vec<DeviceCommand>, JournalError> {
    let rows = sqlx::query(&format!(
        "SELECT {COMMAND_COLUMNS} FROM device_commands WHERE register_id = $1 ORDER BY created_at DESC, id LIMIT $2"
    ))
    .bind(register_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(decode).collect()
}
