//! The facts charts are made of: taken payments and the sale lines they paid, read from the
//! journal for a range of business dates and a set of facilities.
//!
//! One plain query per kind of fact, the same text on SQLite and PostgreSQL; dates, hours and
//! weekdays are worked out here from the stored text rather than with either database's date
//! functions, which differ. Reads are bounded by [`FACT_ROWS_MAX`] so that no request can fill
//! the gateway's memory.

use chrono::{DateTime, FixedOffset};
use futures::TryStreamExt;
use pos_core::{Brand, BusinessDate, FacilityId, FeeItemCode, Method, PaymentState, Yen};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::AnalyticsError;
use crate::journal::sales::{instant_column, parse_column, yen_column};
use crate::journal::{Journal, JournalError};

/// The most payments, or sale lines, one chart reads: a year of the city's whole volume
/// (BRIEF.md: about 465,000 payments a year) with room to spare.
pub const FACT_ROWS_MAX: usize = 2_000_000;

/// The states in which a payment's money was taken — the reconciler's `JournalPayment::is_taken`.
pub const TAKEN_STATES: [PaymentState; 3] =
    [PaymentState::Completed, PaymentState::PartiallyRefunded, PaymentState::Refunded];

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
}

impl FactFilter<'_> {
    /// The `WHERE` conditions on `payments` (aliased `p`) and their values, in placeholder order.
    fn payment_conditions(&self) -> (String, Vec<String>) {
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
        (conditions, binds)
    }

    fn matches_nothing(&self) -> bool {
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

fn decode_payment(row: &AnyRow) -> Result<PaymentFact, JournalError> {
    let id: String = row.try_get("id")?;
    let method: Method = parse_column("payments", "method", &id, &row.try_get::<String, _>("method")?)?;
    let brand = match row.try_get::<Option<String>, _>("brand")?.filter(|text| !text.is_empty()) {
        Some(text) => parse_column("payments", "brand", &id, &text)?,
        // Cash payments carry no brand; every payment has one here, as in the reconciler.
        None if method == Method::Cash => Brand::Cash,
        None => return Err(JournalError::Corrupt { table: "payments", column: "brand", id, value: String::new() }),
    };
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

/// The taken payments of the range, in the order they were made.
pub async fn taken_payments(journal: &Journal, filter: &FactFilter<'_>) -> Result<Vec<PaymentFact>, AnalyticsError> {
    if filter.matches_nothing() {
        return Ok(Vec::new());
    }
    let (conditions, binds) = filter.payment_conditions();
    let sql = format!(
        "SELECT p.id, p.sale_id, p.facility_id, p.method, p.brand, p.amount, p.business_date, p.created_at \
         FROM payments p WHERE {conditions} ORDER BY p.created_at, p.id"
    );
    fetch_bounded(journal, &sql, binds, "payment", decode_payment).await
}

/// The lines of every sale a taken payment of the range paid, in sale and line order.
pub async fn paid_sale_lines(journal: &Journal, filter: &FactFilter<'_>) -> Result<Vec<LineFact>, AnalyticsError> {
    if filter.matches_nothing() {
        return Ok(Vec::new());
    }
    let (conditions, binds) = filter.payment_conditions();
    let sql = format!(
        "SELECT l.sale_id, l.line_no, l.fee_item, l.name_ja, l.amount FROM sale_lines l \
         WHERE l.sale_id IN (SELECT p.sale_id FROM payments p WHERE {conditions}) ORDER BY l.sale_id, l.line_no"
    );
    fetch_bounded(journal, &sql, binds, "sale line", decode_line).await
}
