//! Payments: the current state of each, and what the switch needs to bind, authorize, reverse
//! and refund it.

use chrono::{DateTime, Utc};
use pos_core::api::{PaymentView, SaleView};
use pos_core::{PaymentState, Yen};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::columns::{instant_column, parse_column, yen_column};
use super::filter::Filter;
use super::{instant_text, JournalError, WriteTx};

const PAYMENT_COLUMNS: &str = "id, sale_id, facility_id, register_id, shift_id, method, brand, amount, tendered, change_due, state, business_date, created_at, updated_at, terminal_id, masked_card, acquirer_id, acquirer_stan, terminal_stan, transmitted_at, response_code, rrn, auth_code, note, refunded, money_return, terminal_transmitted_at, completed_at";

/// A payment with the switch's bookkeeping beside the public view.
#[derive(Debug, Clone)]
pub struct PaymentRecord {
    pub view: PaymentView,
    pub facility_id: String,
    pub register_id: String,
    pub shift_id: String,
    pub updated_at: DateTime<Utc>,
    pub acquirer_id: Option<String>,
    pub acquirer_stan: Option<String>,
    pub terminal_stan: Option<String>,
    /// Field 7 as sent to the acquirer (needed for field 90 of a reversal).
    pub transmitted_at: Option<String>,
    /// The refund or reversal now returning money on the payment, if any.
    pub money_return: Option<String>,
    /// The terminal's own field 7 of its authorization (named in field 90 of its reversal).
    pub terminal_transmitted_at: Option<String>,
    /// When the payment completed.
    pub completed_at: Option<DateTime<Utc>>,
}

fn decode(row: &AnyRow) -> Result<PaymentRecord, JournalError> {
    let id: String = row.try_get("id")?;
    let optional_text = |column: &'static str| -> Result<Option<String>, JournalError> {
        Ok(row.try_get::<Option<String>, _>(column)?)
    };
    let optional_yen = |column: &'static str| -> Result<Option<Yen>, JournalError> {
        row.try_get::<Option<i64>, _>(column)?.map(|value| yen_column("payments", column, &id, value)).transpose()
    };
    let view = PaymentView {
        sale_id: row.try_get("sale_id")?,
        method: parse_column("payments", "method", &id, &row.try_get::<String, _>("method")?)?,
        brand: optional_text("brand")?.map(|b| parse_column("payments", "brand", &id, &b)).transpose()?,
        amount: yen_column("payments", "amount", &id, row.try_get("amount")?)?,
        tendered: optional_yen("tendered")?,
        change: optional_yen("change_due")?,
        state: parse_column("payments", "state", &id, &row.try_get::<String, _>("state")?)?,
        business_date: parse_column("payments", "business_date", &id, &row.try_get::<String, _>("business_date")?)?,
        created_at: instant_column("payments", "created_at", &id, &row.try_get::<String, _>("created_at")?)?,
        terminal_id: optional_text("terminal_id")?,
        masked_card: optional_text("masked_card")?,
        response_code: optional_text("response_code")?,
        rrn: optional_text("rrn")?,
        auth_code: optional_text("auth_code")?,
        note: optional_text("note")?,
        refunded: yen_column("payments", "refunded", &id, row.try_get("refunded")?)?,
        id: id.clone(),
    };
    Ok(PaymentRecord {
        facility_id: row.try_get("facility_id")?,
        register_id: row.try_get("register_id")?,
        shift_id: row.try_get("shift_id")?,
        updated_at: instant_column("payments", "updated_at", &id, &row.try_get::<String, _>("updated_at")?)?,
        acquirer_id: optional_text("acquirer_id")?,
        acquirer_stan: optional_text("acquirer_stan")?,
        terminal_stan: optional_text("terminal_stan")?,
        transmitted_at: optional_text("transmitted_at")?,
        money_return: optional_text("money_return")?,
        terminal_transmitted_at: optional_text("terminal_transmitted_at")?,
        completed_at: optional_text("completed_at")?
            .map(|text| instant_column("payments", "completed_at", &id, &text))
            .transpose()?,
        view,
    })
}

pub async fn of_sale(conn: &mut AnyConnection, sale_id: &str) -> Result<Vec<PaymentView>, JournalError> {
    let rows =
        sqlx::query(&format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE sale_id = $1 ORDER BY created_at, id"))
            .bind(sale_id)
            .fetch_all(conn)
            .await?;
    rows.iter().map(|row| decode(row).map(|record| record.view)).collect()
}

pub async fn load(conn: &mut AnyConnection, id: &str, lock: &str) -> Result<Option<PaymentRecord>, JournalError> {
    let row = sqlx::query(&format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|row| decode(&row)).transpose()
}

/// The payment waiting for a card at this terminal, if any.
pub async fn awaiting_at_terminal(
    conn: &mut AnyConnection,
    terminal_id: &str,
    lock: &str,
) -> Result<Option<PaymentRecord>, JournalError> {
    let row = sqlx::query(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE terminal_id = $1 AND state = 'awaiting_device'{lock}"
    ))
    .bind(terminal_id)
    .fetch_optional(conn)
    .await?;
    row.map(|row| decode(&row)).transpose()
}

/// The payment a terminal is busy with (waiting for a card or being authorized), if any.
pub async fn list_pending_at_terminal(
    conn: &mut AnyConnection,
    terminal_id: &str,
    lock: &str,
) -> Result<Option<PaymentRecord>, JournalError> {
    let row = sqlx::query(&format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE terminal_id = $1 AND state IN ('awaiting_device', 'authorizing'){lock}"))
        .bind(terminal_id)
        .fetch_optional(conn)
        .await?;
    row.map(|row| decode(&row)).transpose()
}

/// A payment of a terminal by the STAN the terminal gave it (terminal-initiated reversals).
pub async fn by_terminal_stan(
    conn: &mut AnyConnection,
    terminal_id: &str,
    terminal_stan: &str,
    lock: &str,
) -> Result<Option<PaymentRecord>, JournalError> {
    let row = sqlx::query(&format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE terminal_id = $1 AND terminal_stan = $2 ORDER BY created_at DESC LIMIT 1{lock}"))
        .bind(terminal_id)
        .bind(terminal_stan)
        .fetch_optional(conn)
        .await?;
    row.map(|row| decode(&row)).transpose()
}

/// Payments in a state, last changed before `before` (sweeps of stale work).
pub async fn in_state_since(
    conn: &mut AnyConnection,
    state: PaymentState,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<PaymentRecord>, JournalError> {
    let rows = sqlx::query(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE state = $1 AND updated_at < $2 ORDER BY updated_at LIMIT $3"
    ))
    .bind(state.code())
    .bind(instant_text(before))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(decode).collect()
}

/// Payments of some facilities (all when `None`), optionally in one state.
pub async fn list(
    conn: &mut AnyConnection,
    facilities: Option<&[String]>,
    state: Option<PaymentState>,
    limit: i64,
) -> Result<Vec<PaymentView>, JournalError> {
    let rows = Filter::new()
        .equal("state", state.map(|s| s.code().to_string()))
        .one_of("facility_id", facilities)
        .fetch(conn, PAYMENT_COLUMNS, "payments", &format!("ORDER BY created_at, id LIMIT {}", limit.max(1)))
        .await?;
    rows.iter().map(|row| decode(row).map(|record| record.view)).collect()
}

pub(super) async fn insert(
    tx: &mut WriteTx,
    sale: &SaleView,
    payment: &PaymentView,
    acquirer_id: Option<&str>,
) -> Result<(), JournalError> {
    sqlx::query(
        "INSERT INTO payments (id, sale_id, facility_id, register_id, shift_id, method, brand, amount, tendered, change_due, state, business_date, created_at, updated_at, terminal_id, note, masked_card, acquirer_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, $17)",
    )
    .bind(&payment.id)
    .bind(&sale.id)
    .bind(sale.facility_id.as_str())
    .bind(sale.register_id.as_str())
    .bind(&sale.shift_id)
    .bind(payment.method.code())
    .bind(payment.brand.map(|b| b.code()))
    .bind(payment.amount.get())
    .bind(payment.tendered.map(Yen::get))
    .bind(payment.change.map(Yen::get))
    .bind(payment.state.code())
    .bind(payment.business_date.to_string())
    .bind(instant_text(payment.created_at))
    .bind(payment.terminal_id.as_deref())
    .bind(payment.note.as_deref())
    .bind(payment.masked_card.as_deref())
    .bind(acquirer_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Changes only what the clerk is told about a payment.
pub async fn set_note(tx: &mut WriteTx, id: &str, note: &str, at: DateTime<Utc>) -> Result<(), JournalError> {
    sqlx::query("UPDATE payments SET note = $1, updated_at = $2 WHERE id = $3")
        .bind(note)
        .bind(instant_text(at))
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Reserves `count` system trace audit numbers toward an acquirer for this node and returns the
/// first; the counter runs 000001 to 999999 and then round again, so the block is `first ..
/// first + count` modulo that range. Reserved in a transaction of its own: a node that dies
/// loses the rest of its block, which is harmless (a STAN only has to differ from the ones still
/// in flight).
pub async fn reserve_stans(journal: &super::Journal, acquirer_id: &str, count: u32) -> Result<u32, JournalError> {
    let mut tx = journal.begin_write().await?;
    sqlx::query(
        "INSERT INTO stan_counters (acquirer_id, last_stan) VALUES ($1, 0) ON CONFLICT (acquirer_id) DO NOTHING",
    )
    .bind(acquirer_id)
    .execute(tx.conn())
    .await?;
    let row = sqlx::query(
        "UPDATE stan_counters SET last_stan = CASE WHEN last_stan + $1 > 999999 THEN $1 ELSE last_stan + $1 END WHERE acquirer_id = $2 RETURNING last_stan",
    )
    .bind(i64::from(count))
    .bind(acquirer_id)
    .fetch_one(tx.conn())
    .await?;
    tx.commit().await?;
    let last: i64 = row.try_get("last_stan")?;
    let first = last - i64::from(count) + 1;
    u32::try_from(first).map_err(|_| JournalError::Corrupt {
        table: "stan_counters",
        column: "last_stan",
        id: acquirer_id.to_string(),
        value: last.to_string(),
    })
}

/// The facility a payment belongs to.
pub async fn facility_of(conn: &mut AnyConnection, id: &str) -> Result<String, JournalError> {
    let row = sqlx::query("SELECT facility_id FROM payments WHERE id = $1").bind(id).fetch_optional(conn).await?;
    Ok(match row {
        Some(row) => row.try_get("facility_id")?,
        None => String::new(),
    })
}

/// The payment a terminal most recently sent for authorization (the only one its own reversal
/// may name, PROTOCOLS.md §1).
pub async fn last_authorized_at_terminal(
    conn: &mut AnyConnection,
    terminal_id: &str,
    lock: &str,
) -> Result<Option<PaymentRecord>, JournalError> {
    let row = sqlx::query(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE terminal_id = $1 AND terminal_stan IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT 1{lock}"
    ))
    .bind(terminal_id)
    .fetch_optional(conn)
    .await?;
    row.map(|row| decode(&row)).transpose()
}

/// Payments of a facility-day that are not settled: still pending (waiting, authorizing, in
/// doubt) or with a refund or reversal on its way. A day with any cannot close.
pub async fn unsettled_of_day(
    conn: &mut AnyConnection,
    facility_id: &str,
    date: pos_core::BusinessDate,
) -> Result<Vec<String>, JournalError> {
    let rows = sqlx::query(
        "SELECT id FROM payments WHERE facility_id = $1 AND business_date = $2 AND (state IN ('created', 'awaiting_device', 'authorizing', 'approved', 'in_doubt') OR money_return IS NOT NULL) ORDER BY id LIMIT 100",
    )
    .bind(facility_id)
    .bind(date.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| row.try_get::<String, _>("id").map_err(JournalError::from)).collect()
}
