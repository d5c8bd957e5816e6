//! Sales, their lines and payments, and the gapless receipt counters.

use chrono::{DateTime, Utc};
use pos_core::api::{ReceiptNumber, SaleLineView, SaleView};
use pos_core::{BusinessDate, FiscalYear, SaleState, Yen};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::columns::{instant_column, parse_column, yen_column};
use super::filter::Filter;
use super::{instant_text, JournalError, WriteTx};

/// The most sales one list request returns.
pub const SALE_LIST_MAX: i64 = 1_000;

const SALE_COLUMNS: &str = "id, facility_id, register_id, shift_id, state, business_date, created_at, created_by, amount_total, amount_paid, receipt_fiscal_year, receipt_number, paid_at, voided_at, void_reason";

pub async fn insert_sale(tx: &mut WriteTx, sale: &SaleView) -> Result<(), JournalError> {
    sqlx::query(
        "INSERT INTO sales (id, facility_id, register_id, shift_id, state, business_date, created_at, created_by, amount_total, amount_paid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&sale.id)
    .bind(sale.facility_id.as_str())
    .bind(sale.register_id.as_str())
    .bind(&sale.shift_id)
    .bind(sale.state.code())
    .bind(sale.business_date.to_string())
    .bind(instant_text(sale.created_at))
    .bind(sale.created_by.as_str())
    .bind(sale.amount_total.get())
    .bind(sale.amount_paid.get())
    .execute(tx.conn())
    .await?;
    for (index, line) in sale.lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO sale_lines (sale_id, line_no, fee_item, name_ja, unit_price, quantity, amount, revenue_account) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&sale.id)
        .bind(i64::try_from(index).unwrap_or(i64::MAX))
        .bind(line.fee_item.as_str())
        .bind(&line.name_ja)
        .bind(line.unit_price.get())
        .bind(i64::from(line.quantity))
        .bind(line.amount.get())
        .bind(&line.revenue_account)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Records a payment against the sale and, when it is fully paid, the receipt number.
pub async fn set_paid(
    tx: &mut WriteTx,
    sale_id: &str,
    amount_paid: Yen,
    receipt: Option<(ReceiptNumber, DateTime<Utc>)>,
) -> Result<(), JournalError> {
    match receipt {
        Some((receipt, paid_at)) => {
            sqlx::query("UPDATE sales SET amount_paid = $1, state = 'paid', receipt_fiscal_year = $2, receipt_number = $3, paid_at = $4 WHERE id = $5")
                .bind(amount_paid.get())
                .bind(i64::from(receipt.fiscal_year.start_year()))
                .bind(receipt.number)
                .bind(instant_text(paid_at))
                .bind(sale_id)
                .execute(tx.conn())
                .await?;
        }
        None => {
            sqlx::query("UPDATE sales SET amount_paid = $1 WHERE id = $2")
                .bind(amount_paid.get())
                .bind(sale_id)
                .execute(tx.conn())
                .await?;
        }
    }
    Ok(())
}

pub async fn set_voided(
    tx: &mut WriteTx,
    sale_id: &str,
    state: SaleState,
    at: DateTime<Utc>,
    by: &str,
    reason: &str,
) -> Result<(), JournalError> {
    sqlx::query("UPDATE sales SET state = $1, voided_at = $2, voided_by = $3, void_reason = $4 WHERE id = $5")
        .bind(state.code())
        .bind(instant_text(at))
        .bind(by)
        .bind(reason)
        .bind(sale_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Voids a paid sale whose payment was reversed after it completed (the terminal never heard the
/// approval); an unpaid or already voided sale is left as it is.
pub async fn void_if_paid(
    tx: &mut WriteTx,
    sale_id: &str,
    at: DateTime<Utc>,
    by: &str,
    reason: &str,
) -> Result<(), JournalError> {
    sqlx::query("UPDATE sales SET state = 'voided', voided_at = $1, voided_by = $2, void_reason = $3 WHERE id = $4 AND state = 'paid'")
        .bind(instant_text(at))
        .bind(by)
        .bind(reason)
        .bind(sale_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The next receipt number of a register in a fiscal year. Called inside the transaction that
/// marks the sale paid, so a number is used exactly when a sale is committed as paid: no gaps, no
/// duplicates, even across crashes and gateway nodes (the counter row is locked until commit).
pub async fn next_receipt_number(
    tx: &mut WriteTx,
    register_id: &str,
    fiscal_year: FiscalYear,
) -> Result<ReceiptNumber, JournalError> {
    let year = i64::from(fiscal_year.start_year());
    sqlx::query("INSERT INTO receipt_counters (register_id, fiscal_year, last_number) VALUES ($1, $2, 0) ON CONFLICT (register_id, fiscal_year) DO NOTHING")
        .bind(register_id)
        .bind(year)
        .execute(tx.conn())
        .await?;
    let row = sqlx::query("UPDATE receipt_counters SET last_number = last_number + 1 WHERE register_id = $1 AND fiscal_year = $2 RETURNING last_number")
        .bind(register_id)
        .bind(year)
        .fetch_one(tx.conn())
        .await?;
    Ok(ReceiptNumber { fiscal_year, number: row.try_get("last_number")? })
}

pub async fn load(conn: &mut AnyConnection, id: &str, lock: &str) -> Result<Option<SaleView>, JournalError> {
    let row = sqlx::query(&format!("SELECT {SALE_COLUMNS} FROM sales WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => Ok(Some(complete(conn, decode_sale(&row)?).await?)),
        None => Ok(None),
    }
}

#[derive(Debug, Default, Clone)]
pub struct SaleFilter {
    /// `None`: every facility.
    pub facilities: Option<Vec<String>>,
    pub register_id: Option<String>,
    pub shift_id: Option<String>,
    pub business_date: Option<BusinessDate>,
    pub limit: i64,
}

pub async fn list(conn: &mut AnyConnection, filter: &SaleFilter) -> Result<Vec<SaleView>, JournalError> {
    let rows = Filter::new()
        .equal("register_id", filter.register_id.clone())
        .equal("shift_id", filter.shift_id.clone())
        .equal("business_date", filter.business_date.map(|d| d.to_string()))
        .one_of("facility_id", filter.facilities.as_deref())
        .fetch(
            &mut *conn,
            SALE_COLUMNS,
            "sales",
            &format!("ORDER BY created_at, id LIMIT {}", filter.limit.clamp(1, SALE_LIST_MAX)),
        )
        .await?;
    let mut sales = Vec::with_capacity(rows.len());
    for row in &rows {
        sales.push(complete(conn, decode_sale(row)?).await?);
    }
    Ok(sales)
}

async fn complete(conn: &mut AnyConnection, mut sale: SaleView) -> Result<SaleView, JournalError> {
    let lines = sqlx::query("SELECT fee_item, name_ja, unit_price, quantity, amount, revenue_account FROM sale_lines WHERE sale_id = $1 ORDER BY line_no")
        .bind(&sale.id)
        .fetch_all(&mut *conn)
        .await?;
    for row in &lines {
        let quantity: i64 = row.try_get("quantity")?;
        sale.lines.push(SaleLineView {
            fee_item: parse_column("sale_lines", "fee_item", &sale.id, &row.try_get::<String, _>("fee_item")?)?,
            name_ja: row.try_get("name_ja")?,
            unit_price: yen_column("sale_lines", "unit_price", &sale.id, row.try_get("unit_price")?)?,
            quantity: u32::try_from(quantity).map_err(|_| JournalError::Corrupt {
                table: "sale_lines",
                column: "quantity",
                id: sale.id.clone(),
                value: quantity.to_string(),
            })?,
            amount: yen_column("sale_lines", "amount", &sale.id, row.try_get("amount")?)?,
            revenue_account: row.try_get("revenue_account")?,
        });
    }
    sale.payments = super::payments::of_sale(conn, &sale.id).await?;
    Ok(sale)
}

fn decode_sale(row: &AnyRow) -> Result<SaleView, JournalError> {
    let id: String = row.try_get("id")?;
    let text = |column: &'static str| -> Result<String, JournalError> { Ok(row.try_get::<String, _>(column)?) };
    let optional_text = |column: &'static str| -> Result<Option<String>, JournalError> {
        Ok(row.try_get::<Option<String>, _>(column)?)
    };
    let amount_total = yen_column("sales", "amount_total", &id, row.try_get("amount_total")?)?;
    let amount_paid = yen_column("sales", "amount_paid", &id, row.try_get("amount_paid")?)?;
    let receipt =
        match (row.try_get::<Option<i64>, _>("receipt_fiscal_year")?, row.try_get::<Option<i64>, _>("receipt_number")?)
        {
            (Some(year), Some(number)) => Some(ReceiptNumber {
                fiscal_year: FiscalYear::new(i32::try_from(year).map_err(|_| JournalError::Corrupt {
                    table: "sales",
                    column: "receipt_fiscal_year",
                    id: id.clone(),
                    value: year.to_string(),
                })?),
                number,
            }),
            _ => None,
        };
    let state: SaleState = parse_column("sales", "state", &id, &text("state")?)?;
    let amount_due =
        if state == SaleState::Open { amount_total.checked_sub(amount_paid).unwrap_or_default() } else { Yen::ZERO };
    Ok(SaleView {
        facility_id: parse_column("sales", "facility_id", &id, &text("facility_id")?)?,
        register_id: parse_column("sales", "register_id", &id, &text("register_id")?)?,
        shift_id: text("shift_id")?,
        state,
        business_date: parse_column("sales", "business_date", &id, &text("business_date")?)?,
        created_at: instant_column("sales", "created_at", &id, &text("created_at")?)?,
        created_by: parse_column("sales", "created_by", &id, &text("created_by")?)?,
        amount_total,
        amount_paid,
        amount_due,
        receipt,
        paid_at: optional_text("paid_at")?.map(|t| instant_column("sales", "paid_at", &id, &t)).transpose()?,
        voided_at: optional_text("voided_at")?.map(|t| instant_column("sales", "voided_at", &id, &t)).transpose()?,
        void_reason: optional_text("void_reason")?,
        lines: Vec::new(),
        payments: Vec::new(),
        id,
    })
}
