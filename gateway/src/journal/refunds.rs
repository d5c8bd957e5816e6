//! Refunds: money given back on a payment, through its acquirer or as cash recorded by treasury.
//! They change state only through [`super::lifecycle`].

use chrono::{DateTime, Utc};
use pos_core::api::{RefundMethod, RefundView};
use pos_core::RefundState;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::columns::{instant_column, parse_column, yen_column};
use super::{instant_text, JournalError};

const REFUND_COLUMNS: &str = "id, payment_id, facility_id, amount, method, state, acquirer_id, acquirer_stan, transmitted_at, rrn, response_code, reason, created_by, approved_by, created_at, updated_at";

#[derive(Debug, Clone)]
pub struct RefundRecord {
    pub view: RefundView,
    pub facility_id: String,
    pub acquirer_id: Option<String>,
    pub acquirer_stan: Option<String>,
    pub transmitted_at: Option<String>,
    pub updated_at: DateTime<Utc>,
}

fn decode(row: &AnyRow) -> Result<RefundRecord, JournalError> {
    let id: String = row.try_get("id")?;
    let method = match row.try_get::<String, _>("method")?.as_str() {
        "cash" => RefundMethod::Cash,
        _ => RefundMethod::Original,
    };
    let approved_by: Option<String> = row.try_get("approved_by")?;
    Ok(RefundRecord {
        view: RefundView {
            payment_id: row.try_get("payment_id")?,
            amount: yen_column("refunds", "amount", &id, row.try_get("amount")?)?,
            method,
            state: parse_column("refunds", "state", &id, &row.try_get::<String, _>("state")?)?,
            response_code: row.try_get("response_code")?,
            rrn: row.try_get("rrn")?,
            reason: row.try_get("reason")?,
            created_at: instant_column("refunds", "created_at", &id, &row.try_get::<String, _>("created_at")?)?,
            created_by: parse_column("refunds", "created_by", &id, &row.try_get::<String, _>("created_by")?)?,
            approved_by: approved_by.map(|a| parse_column("refunds", "approved_by", &id, &a)).transpose()?,
            id: id.clone(),
        },
        facility_id: row.try_get("facility_id")?,
        acquirer_id: row.try_get("acquirer_id")?,
        acquirer_stan: row.try_get("acquirer_stan")?,
        transmitted_at: row.try_get("transmitted_at")?,
        updated_at: instant_column("refunds", "updated_at", &id, &row.try_get::<String, _>("updated_at")?)?,
    })
}

pub async fn load(conn: &mut AnyConnection, id: &str, lock: &str) -> Result<Option<RefundRecord>, JournalError> {
    let row = sqlx::query(&format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|row| decode(&row)).transpose()
}

pub async fn of_payment(conn: &mut AnyConnection, payment_id: &str) -> Result<Vec<RefundRecord>, JournalError> {
    let rows =
        sqlx::query(&format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY created_at, id"))
            .bind(payment_id)
            .fetch_all(conn)
            .await?;
    rows.iter().map(decode).collect()
}

/// Refunds in a state, last changed before `before` (the sweep of refunds a crash left out).
pub async fn in_state_since(
    conn: &mut AnyConnection,
    state: RefundState,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<RefundRecord>, JournalError> {
    let rows = sqlx::query(&format!(
        "SELECT {REFUND_COLUMNS} FROM refunds WHERE state = $1 AND updated_at < $2 ORDER BY updated_at LIMIT $3"
    ))
    .bind(state.code())
    .bind(instant_text(before))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(decode).collect()
}

/// Marks a refund's last attempt (its `updated_at`) without changing its state: the retry clock
/// of a refund in doubt that was asked about again without an answer.
pub async fn touch(tx: &mut super::WriteTx, id: &str, at: DateTime<Utc>) -> Result<(), JournalError> {
    sqlx::query("UPDATE refunds SET updated_at = $1 WHERE id = $2")
        .bind(instant_text(at))
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}
