//! The facts charts are made of, read from the journal for a range of business dates, a set of
//! facilities and a method: taken payments added up by the database — per day, facility and
//! brand; per amount and brand (so that a fee can be worked out per payment, as the acquirers
//! charge it); per hour — and the fee items sold, per item and method.
//!
//! Each query is one plain text for SQLite and PostgreSQL alike; hours and weekdays are worked
//! out here from the stored UTC text rather than with either database's date functions, which
//! differ. A sale paid by one payment books all its lines to that payment's method in SQL; the
//! few sales split between payments are read in detail and split here (see `charts`). Every read
//! is bounded by [`FACT_ROWS_MAX`] so that no request can fill the gateway's memory.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use futures::TryStreamExt;
use pos_core::{Brand, BusinessDate, FacilityId, FeeItemCode, Method, PaymentState, Yen};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::AnalyticsError;
use crate::journal::columns::{instant_column, parse_column, yen_column};
use crate::journal::{Journal, JournalError};

/// The most rows one query of a chart returns. Rows are already added up (a facility-day has a
/// few brands), so a year of the whole city (BRIEF.md: about 465,000 payments) is far below it.
pub const FACT_ROWS_MAX: usize = 1_000_000;

/// The states in which a payment's money was taken — the reconciler's `JournalPayment::is_taken`.
pub const TAKEN_STATES: [PaymentState; 3] =
    [PaymentState::Completed, PaymentState::PartiallyRefunded, PaymentState::Refunded];

/// Taken payments of one day, facility, method and brand, added up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayGroup {
    pub business_date: BusinessDate,
    pub facility: FacilityId,
    pub method: Method,
    pub brand: Brand,
    pub count: u64,
    pub amount: Yen,
}

/// Taken payments of one brand and one amount: `count` payments of `amount` each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountGroup {
    pub method: Method,
    pub brand: Brand,
    pub amount: Yen,
    pub count: u64,
}

/// Taken payments made within one hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourGroup {
    /// The start of the hour, in Asia/Tokyo.
    pub hour: DateTime<FixedOffset>,
    pub count: u64,
    pub amount: Yen,
}

/// The lines of one fee item paid, whole, by payments of one method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemGroup {
    pub fee_item: FeeItemCode,
    pub name_ja: String,
    pub method: Method,
    pub count: u64,
    pub amount: Yen,
}

/// One taken payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFact {
    pub id: String,
    pub sale_id: String,
    pub facility: FacilityId,
    pub method: Method,
    pub brand: Brand,
    pub amount: Yen,
    pub business_date: BusinessDate,
    /// When the payment was made (its `created_at`), in Asia/Tokyo.
    pub time: DateTime<FixedOffset>,
}

/// One line of a sale that a taken payment paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFact {
    pub sale_id: String,
    pub fee_item: FeeItemCode,
    /// The item's name as it was sold (the journal keeps it with the line).
    pub name_ja: String,
    pub amount: Yen,
}

/// The range and facilities facts are read for.
#[derive(Debug, Clone)]
pub struct FactFilter<'a> {
    pub from: BusinessDate,
    pub to: BusinessDate,
    /// `None` for every facility.
    pub facilities: Option<&'a [FacilityId]>,
    /// `None` for every method.
    pub method: Option<Method>,
}

impl FactFilter<'_> {
    /// The `WHERE` conditions on `payments` (aliased `p`) and their values, in placeholder order.
    pub(crate) fn payment_conditions(&self, with_method: bool) -> (String, Vec<String>) {
        let mut binds = vec![self.from.to_string(), self.to.to_string()];
        let states: Vec<String> = TAKEN_STATES
            .iter()
            .map(|state| {
                binds.push(state.code().to_string());
                format!("${}", binds.len())
            })
            .collect();
        let mut conditions =
            format!("p.business_date >= $1 AND p.business_date <= $2 AND p.state IN ({})", states.join(", "));
        if let Some(facilities) = self.facilities {
            let placeholders: Vec<String> = facilities
                .iter()
                .map(|facility| {
                    binds.push(facility.to_string());
                    format!("${}", binds.len())
                })
                .collect();
            conditions.push_str(&format!(" AND p.facility_id IN ({})", placeholders.join(", ")));
        }
        if let Some(method) = self.method.filter(|_| with_method) {
            binds.push(method.code().to_string());
            conditions.push_str(&format!(" AND p.method = ${}", binds.len()));
        }
        (conditions, binds)
    }

    pub(crate) fn matches_nothing(&self) -> bool {
        self.facilities.is_some_and(<[FacilityId]>::is_empty)
    }
}

async fn fetch_bounded<T>(
    journal: &Journal,
    sql: &str,
    binds: Vec<String>,
    what: &'static str,
    decode: impl Fn(&AnyRow) -> Result<T, JournalError>,
) -> Result<Vec<T>, AnalyticsError> {
    let mut conn = journal.read().await?;
    let mut query = sqlx::query(sql);
    for bind in binds {
        query = query.bind(bind);
    }
    let mut rows = query.fetch(&mut *conn);
    let mut facts = Vec::new();
    while let Some(row) = rows.try_next().await.map_err(JournalError::from)? {
        if facts.len() == FACT_ROWS_MAX {
            return Err(AnalyticsError::TooLarge { what, limit: FACT_ROWS_MAX });
        }
        facts.push(decode(&row)?);
    }
    Ok(facts)
}

fn count_column(row: &AnyRow, what: &'static str) -> Result<u64, JournalError> {
    let count: i64 = row.try_get("n")?;
    u64::try_from(count).map_err(|_| JournalError::Corrupt {
        table: "payments",
        column: "count",
        id: what.to_string(),
        value: count.to_string(),
    })
}

/// The method and brand of a row; cash payments carry no brand, and every payment has one here,
/// as in the reconciler.
fn method_and_brand(row: &AnyRow, id: &str) -> Result<(Method, Brand), JournalError> {
    let method: Method = parse_column("payments", "method", id, &row.try_get::<String, _>("method")?)?;
    let brand = match row.try_get::<Option<String>, _>("brand")?.filter(|text| !text.is_empty()) {
        Some(text) => parse_column("payments", "brand", id, &text)?,
        None if method == Method::Cash => Brand::Cash,
        None => {
            return Err(JournalError::Corrupt {
                table: "payments",
                column: "brand",
                id: id.to_string(),
                value: String::new(),
            })
        }
    };
    Ok((method, brand))
}

fn decode_day(row: &AnyRow) -> Result<DayGroup, JournalError> {
    let date: String = row.try_get("business_date")?;
    let facility: String = row.try_get("facility_id")?;
    let id = format!("{facility} {date}");
    let (method, brand) = method_and_brand(row, &id)?;
    Ok(DayGroup {
        business_date: parse_column("payments", "business_date", &id, &date)?,
        facility: parse_column("payments", "facility_id", &id, &facility)?,
        method,
        brand,
        count: count_column(row, "a day's payments")?,
        amount: yen_column("payments", "amount", &id, row.try_get("total")?)?,
    })
}

fn decode_amount(row: &AnyRow) -> Result<AmountGroup, JournalError> {
    let (method, brand) = method_and_brand(row, "payments by amount")?;
    Ok(AmountGroup {
        method,
        brand,
        amount: yen_column("payments", "amount", "payments by amount", row.try_get("amount")?)?,
        count: count_column(row, "payments by amount")?,
    })
}

/// Stored instants are RFC 3339 UTC text of fixed width, so their first 13 characters name the
/// hour (`2026-11-25T01`).
const HOUR_PREFIX_CHARS: i64 = 13;

fn decode_hour(row: &AnyRow) -> Result<HourGroup, JournalError> {
    let text: String = row.try_get("hour")?;
    let corrupt = || JournalError::Corrupt {
        table: "payments",
        column: "created_at",
        id: "payments by hour".to_string(),
        value: text.clone(),
    };
    let start = NaiveDateTime::parse_from_str(&format!("{text}:00:00"), "%Y-%m-%dT%H:%M:%S").map_err(|_| corrupt())?;
    Ok(HourGroup {
        hour: Utc.from_utc_datetime(&start).with_timezone(&pos_core::time::jst()),
        count: count_column(row, "payments by hour")?,
        amount: yen_column("payments", "amount", "payments by hour", row.try_get("total")?)?,
    })
}

fn decode_item(row: &AnyRow) -> Result<ItemGroup, JournalError> {
    let code: String = row.try_get("fee_item")?;
    let method: Method = parse_column("payments", "method", &code, &row.try_get::<String, _>("method")?)?;
    Ok(ItemGroup {
        fee_item: parse_column("sale_lines", "fee_item", &code, &code)?,
        name_ja: row.try_get("name_ja")?,
        method,
        count: count_column(row, "sale lines by item")?,
        amount: yen_column("sale_lines", "amount", &code, row.try_get("total")?)?,
    })
}

pub(crate) fn decode_payment(row: &AnyRow) -> Result<PaymentFact, JournalError> {
    let id: String = row.try_get("id")?;
    let (method, brand) = method_and_brand(row, &id)?;
    let created_at = instant_column("payments", "created_at", &id, &row.try_get::<String, _>("created_at")?)?;
    Ok(PaymentFact {
        sale_id: row.try_get("sale_id")?,
        facility: parse_column("payments", "facility_id", &id, &row.try_get::<String, _>("facility_id")?)?,
        method,
        brand,
        amount: yen_column("payments", "amount", &id, row.try_get("amount")?)?,
        business_date: parse_column("payments", "business_date", &id, &row.try_get::<String, _>("business_date")?)?,
        time: created_at.with_timezone(&pos_core::time::jst()),
        id,
    })
}

fn decode_line(row: &AnyRow) -> Result<LineFact, JournalError> {
    let sale_id: String = row.try_get("sale_id")?;
    Ok(LineFact {
        fee_item: parse_column("sale_lines", "fee_item", &sale_id, &row.try_get::<String, _>("fee_item")?)?,
        name_ja: row.try_get("name_ja")?,
        amount: yen_column("sale_lines", "amount", &sale_id, row.try_get("amount")?)?,
        sale_id,
    })
}

/// Counts and sums are cast so that both backends return a 64-bit integer (PostgreSQL's `SUM` of
/// a `BIGINT` is a `NUMERIC`).
const COUNT_AND_TOTAL: &str = "CAST(COUNT(*) AS BIGINT) AS n, CAST(SUM(p.amount) AS BIGINT) AS total";

/// Taken payments per business date, facility, method and brand.
pub async fn by_day(journal: &Journal, filter: &FactFilter<'_>) -> Result<Vec<DayGroup>, AnalyticsError> {
    if filter.matches_nothing() {
        return Ok(Vec::new());
    }
    let (conditions, binds) = filter.payment_conditions(true);
    let sql = format!(
        "SELECT p.business_date, p.facility_id, p.method, p.brand, {COUNT_AND_TOTAL} FROM payments p \
         WHERE {conditions} GROUP BY p.business_date, p.facility_id, p.method, p.brand"
    );
    fetch_bounded(journal, &sql, binds, "payments by day", decode_day).await
}

/// Taken payments per method, brand and amount.
pub async fn by_amount(journal: &Journal, filter: &FactFilter<'_>) -> Result<Vec<AmountGroup>, AnalyticsError> {
    if filter.matches_nothing() {
        return Ok(Vec::new());
    }
    let (conditions, binds) = filter.payment_conditions(true);
    let sql = format!(
        "SELECT p.method, p.brand, p.amount, CAST(COUNT(*) AS BIGINT) AS n FROM payments p \
         WHERE {conditions} GROUP BY p.method, p.brand, p.amount"
    );
    fetch_bounded(journal, &sql, binds, "payments by amount", decode_amount).await
}

/// Taken payments per hour they were made in.
pub async fn by_hour(journal: &Journal, filter: &FactFilter<'_>) -> Result<Vec<HourGroup>, AnalyticsError> {
    if filter.matches_nothing() {
        return Ok(Vec::new());
    }
    let (conditions, binds) = filter.payment_conditions(true);
    let sql = format!(
        "SELECT SUBSTR(p.created_at, 1, {HOUR_PREFIX_CHARS}) AS hour, {COUNT_AND_TOTAL} FROM payments p \
         WHERE {conditions} GROUP BY SUBSTR(p.created_at, 1, {HOUR_PREFIX_CHARS})"
    );
    fetch_bounded(journal, &sql, binds, "payments by hour", decode_hour).await
}

/// The fee items of sales paid whole by one payment, per item and the payment's method.
pub async fn items_paid_whole(journal: &Journal, filter: &FactFilter<'_>) -> Result<Vec<ItemGroup>, AnalyticsError> {
    if filter.matches_nothing() {
        return Ok(Vec::new());
    }
    let (conditions, binds) = filter.payment_conditions(true);
    let sql = format!(
        "SELECT l.fee_item, MIN(l.name_ja) AS name_ja, p.method, CAST(COUNT(*) AS BIGINT) AS n, \
         CAST(SUM(l.amount) AS BIGINT) AS total \
         FROM payments p JOIN sales s ON s.id = p.sale_id JOIN sale_lines l ON l.sale_id = p.sale_id \
         WHERE {conditions} AND p.amount = s.amount_total GROUP BY l.fee_item, p.method"
    );
    fetch_bounded(journal, &sql, binds, "sale lines by item", decode_item).await
}

/// The taken payments that paid part of a sale (split tender), any method, in the order they
/// were made, and the lines of their sales.
pub async fn split_sales(
    journal: &Journal,
    filter: &FactFilter<'_>,
) -> Result<(Vec<PaymentFact>, Vec<LineFact>), AnalyticsError> {
    if filter.matches_nothing() {
        return Ok((Vec::new(), Vec::new()));
    }
    // Every payment of a split sale is needed to split it, whatever the method filter.
    let (conditions, binds) = filter.payment_conditions(false);
    let partial = format!("{conditions} AND p.amount < s.amount_total");
    let sql = format!(
        "SELECT p.id, p.sale_id, p.facility_id, p.method, p.brand, p.amount, p.business_date, p.created_at \
         FROM payments p JOIN sales s ON s.id = p.sale_id WHERE {partial} ORDER BY p.created_at, p.id"
    );
    let payments = fetch_bounded(journal, &sql, binds.clone(), "split payments", decode_payment).await?;
    let sql = format!(
        "SELECT l.sale_id, l.line_no, l.fee_item, l.name_ja, l.amount FROM sale_lines l WHERE l.sale_id IN \
         (SELECT p.sale_id FROM payments p JOIN sales s ON s.id = p.sale_id WHERE {partial}) \
         ORDER BY l.sale_id, l.line_no"
    );
    let lines = fetch_bounded(journal, &sql, binds, "split sale lines", decode_line).await?;
    Ok((payments, lines))
}
