//! Shifts: a register's working session, from the opening float to the counted drawer.

use chrono::{DateTime, Utc};
use pos_core::api::{CashReconciliation, ShiftState, ShiftView};
use pos_core::{BusinessDate, Yen};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::columns::parse_column;
use super::filter::Filter;
use super::{instant_text, parse_instant, JournalError, WriteTx};

const SHIFT_COLUMNS: &str = "id, facility_id, register_id, state, business_date, opened_at, opened_by, opening_float, closed_at, closed_by, cash_sales, cash_expected, cash_counted, over_short, count_json";

pub async fn insert(tx: &mut WriteTx, shift: &ShiftView) -> Result<(), JournalError> {
    sqlx::query(
        "INSERT INTO shifts (id, facility_id, register_id, state, business_date, opened_at, opened_by, opening_float) VALUES ($1, $2, $3, 'open', $4, $5, $6, $7)",
    )
    .bind(&shift.id)
    .bind(shift.facility_id.as_str())
    .bind(shift.register_id.as_str())
    .bind(shift.business_date.to_string())
    .bind(instant_text(shift.opened_at))
    .bind(shift.opened_by.as_str())
    .bind(shift.opening_float.get())
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn close(
    tx: &mut WriteTx,
    id: &str,
    closed_at: DateTime<Utc>,
    closed_by: &str,
    cash: &CashReconciliation,
) -> Result<(), JournalError> {
    let count_json = serde_json::to_string(&cash.count).unwrap_or_default();
    sqlx::query(
        "UPDATE shifts SET state = 'closed', closed_at = $1, closed_by = $2, cash_sales = $3, cash_expected = $4, cash_counted = $5, over_short = $6, count_json = $7 WHERE id = $8 AND state = 'open'",
    )
    .bind(instant_text(closed_at))
    .bind(closed_by)
    .bind(cash.cash_sales.get())
    .bind(cash.expected.get())
    .bind(cash.counted.get())
    .bind(cash.over_short.get())
    .bind(count_json)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn load(conn: &mut AnyConnection, id: &str, lock: &str) -> Result<Option<ShiftView>, JournalError> {
    let row = sqlx::query(&format!("SELECT {SHIFT_COLUMNS} FROM shifts WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|row| decode(&row)).transpose()
}

pub async fn open_at_register(
    conn: &mut AnyConnection,
    register_id: &str,
    lock: &str,
) -> Result<Option<ShiftView>, JournalError> {
    let row =
        sqlx::query(&format!("SELECT {SHIFT_COLUMNS} FROM shifts WHERE register_id = $1 AND state = 'open'{lock}"))
            .bind(register_id)
            .fetch_optional(conn)
            .await?;
    row.map(|row| decode(&row)).transpose()
}

/// Shifts of some facilities on a business date (all facilities when `facilities` is `None`).
pub async fn list(
    conn: &mut AnyConnection,
    facilities: Option<&[String]>,
    business_date: Option<BusinessDate>,
) -> Result<Vec<ShiftView>, JournalError> {
    let rows = Filter::new()
        .equal("business_date", business_date.map(|d| d.to_string()))
        .one_of("facility_id", facilities)
        .fetch(conn, SHIFT_COLUMNS, "shifts", "ORDER BY opened_at, id")
        .await?;
    rows.iter().map(decode).collect()
}

/// Cash taken in a shift: cash payments that still hold money (voided ones went back to the
/// citizen).
pub async fn cash_sales(conn: &mut AnyConnection, shift_id: &str) -> Result<Yen, JournalError> {
    let row = sqlx::query("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM payments WHERE shift_id = $1 AND method = 'cash' AND state = 'completed'")
        .bind(shift_id)
        .fetch_one(conn)
        .await?;
    let total: i64 = row.try_get("total")?;
    Yen::new(total).map_err(|_| JournalError::Corrupt {
        table: "payments",
        column: "amount",
        id: shift_id.to_string(),
        value: total.to_string(),
    })
}

/// Sales of a shift that are still open (created, not fully paid).
pub async fn open_sale_ids(conn: &mut AnyConnection, shift_id: &str) -> Result<Vec<String>, JournalError> {
    let rows = sqlx::query("SELECT id FROM sales WHERE shift_id = $1 AND state = 'open' ORDER BY created_at")
        .bind(shift_id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
}

fn decode(row: &AnyRow) -> Result<ShiftView, JournalError> {
    let id: String = row.try_get("id")?;
    let text = |column: &'static str| -> Result<String, JournalError> { Ok(row.try_get::<String, _>(column)?) };
    let optional_text = |column: &'static str| -> Result<Option<String>, JournalError> {
        Ok(row.try_get::<Option<String>, _>(column)?)
    };
    let yen = |column: &'static str| -> Result<Option<Yen>, JournalError> {
        row.try_get::<Option<i64>, _>(column)?
            .map(|value| {
                Yen::new(value).map_err(|_| JournalError::Corrupt {
                    table: "shifts",
                    column,
                    id: id.clone(),
                    value: value.to_string(),
                })
            })
            .transpose()
    };
    let state = match text("state")?.as_str() {
        "open" => ShiftState::Open,
        _ => ShiftState::Closed,
    };
    let cash = match (
        yen("cash_sales")?,
        yen("cash_expected")?,
        yen("cash_counted")?,
        yen("over_short")?,
        optional_text("count_json")?,
    ) {
        (Some(cash_sales), Some(expected), Some(counted), Some(over_short), Some(count_json)) => {
            Some(CashReconciliation {
                opening_float: yen("opening_float")?.unwrap_or_default(),
                cash_sales,
                expected,
                counted,
                over_short,
                count: serde_json::from_str(&count_json).map_err(|_| JournalError::Corrupt {
                    table: "shifts",
                    column: "count_json",
                    id: id.clone(),
                    value: count_json.clone(),
                })?,
            })
        }
        _ => None,
    };
    Ok(ShiftView {
        facility_id: parse_column("shifts", "facility_id", &id, &text("facility_id")?)?,
        register_id: parse_column("shifts", "register_id", &id, &text("register_id")?)?,
        state,
        business_date: parse_column("shifts", "business_date", &id, &text("business_date")?)?,
        opened_at: parse_instant(&text("opened_at")?).ok_or_else(|| JournalError::Corrupt {
            table: "shifts",
            column: "opened_at",
            id: id.clone(),
            value: String::new(),
        })?,
        opened_by: parse_column("shifts", "opened_by", &id, &text("opened_by")?)?,
        opening_float: yen("opening_float")?.unwrap_or_default(),
        closed_at: optional_text("closed_at")?.as_deref().and_then(parse_instant),
        closed_by: optional_text("closed_by")?
            .map(|name| parse_column("shifts", "closed_by", &id, &name))
            .transpose()?,
        cash,
        id,
    })
}
