//! Refunds: money given back on a payment, through its acquirer or as cash recorded by treasury.

use chrono::{DateTime, Utc};
use pos_core::api::{RefundMethod, RefundView};
use pos_core::Yen;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::sales::{instant_column, yen_column};
use super::{instant_text, JournalError, WriteTx};

const REFUND_COLUMNS: &str = "id, payment_id, facility_id, amount, method, state, acquirer_id, acquirer_stan, transmitted_at, rrn, response_code, reason, created_at, updated_at";

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
    Ok(RefundRecord {
        view: RefundView {
            payment_id: row.try_get("payment_id")?,
            amount: yen_column("refunds", "amount", &id, row.try_get("amount")?)?,
            method,
            state: row.try_get("state")?,
            response_code: row.try_get("response_code")?,
            rrn: row.try_get("rrn")?,
            reason: row.try_get("reason")?,
            created_at: instant_column("refunds", "created_at", &id, &row.try_get::<String, _>("created_at")?)?,
            id: id.clone(),
        },
        facility_id: row.try_get("facility_id")?,
        acquirer_id: row.try_get("acquirer_id")?,
        acquirer_stan: row.try_get("acquirer_stan")?,
        transmitted_at: row.try_get("transmitted_at")?,
        updated_at: instant_column("refunds", "updated_at", &id, &row.try_get::<String, _>("updated_at")?)?,
    })
}

pub struct NewRefund<'a> {
    pub id: &'a str,
    pub payment_id: &'a str,
    pub facility_id: &'a str,
    pub amount: Yen,
    pub method: RefundMethod,
    pub state: &'a str,
    pub acquirer_id: Option<&'a str>,
    pub acquirer_stan: Option<&'a str>,
    pub transmitted_at: Option<&'a str>,
    pub reason: &'a str,
    pub created_by: &'a str,
}

pub async fn insert(tx: &mut WriteTx, refund: &NewRefund<'_>, now: DateTime<Utc>) -> Result<(), JournalError> {
    sqlx::query(
        "INSERT INTO refunds (id, payment_id, facility_id, amount, method, state, acquirer_id, acquirer_stan, transmitted_at, reason, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
    )
    .bind(refund.id)
    .bind(refund.payment_id)
    .bind(refund.facility_id)
    .bind(refund.amount.get())
    .bind(match refund.method {
        RefundMethod::Cash => "cash",
        RefundMethod::Original => "original",
    })
    .bind(refund.state)
    .bind(refund.acquirer_id)
    .bind(refund.acquirer_stan)
    .bind(refund.transmitted_at)
    .bind(refund.reason)
    .bind(refund.created_by)
    .bind(instant_text(now))
    .execute(tx.conn())
    .await?;
    Ok(())
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
    state: &str,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<RefundRecord>, JournalError> {
    let rows = sqlx::query(&format!(
        "SELECT {REFUND_COLUMNS} FROM refunds WHERE state = $1 AND updated_at < $2 ORDER BY updated_at LIMIT $3"
    ))
    .bind(state)
    .bind(instant_text(before))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(decode).collect()
}

pub async fn set_outcome(
    tx: &mut WriteTx,
    id: &str,
    state: &str,
    response_code: Option<&str>,
    rrn: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), JournalError> {
    sqlx::query("UPDATE refunds SET state = $1, response_code = COALESCE($2, response_code), rrn = COALESCE($3, rrn), updated_at = $4 WHERE id = $5")
        .bind(state)
        .bind(response_code)
        .bind(rrn)
        .bind(instant_text(now))
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}
