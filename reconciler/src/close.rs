//! Closing a facility's day, and the adjustments found after.
//!
//! The reconciler keeps its own small store, a SQLite file (never the gateway's tables). Closing a
//! day writes its report and its open items (timing differences and exceptions) once; triggers
//! refuse any later change or deletion, and [`Store::ensure_open`] refuses to reconcile a closed
//! day again. What arrives later (a settlement of a payment that was still a timing difference,
//! a new exception, a changed fee or payout) is found by reconciling the closed day again in
//! memory and comparing with what was closed ([`adjustments_for`]); each difference is stored
//! as an adjustment dated on the day it was found, referring to the original day.
//!
//! Fiscal year (April–March): an adjustment belongs to the original day's fiscal year while that
//! year's 出納整理期間 lasts (until 31 May after its March), so a payment of 31 March settled in
//! April is old-year money; found later, it is booked to the fiscal year it is found in.

use std::path::Path;

use chrono::NaiveDate;
use futures::TryStreamExt;
use pos_core::{BusinessDate, FacilityId, FiscalYear, Yen};
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

use crate::day::DayResult;
use crate::report::DayReport;

/// The most closed days one facility's adjustment search looks back over.
pub const ADJUSTMENT_LOOKBACK_DAYS_MAX: i64 = 120;
/// The most open items or adjustments read for one facility at once.
pub const STORE_ROWS_MAX: usize = 100_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS closed_days (
    facility_id TEXT NOT NULL,
    business_date TEXT NOT NULL,
    fiscal_year INTEGER NOT NULL,
    closed_on TEXT NOT NULL,
    revenue_total INTEGER NOT NULL,
    fee_total INTEGER NOT NULL,
    net_total INTEGER NOT NULL,
    cash_counted_total INTEGER NOT NULL,
    report_json TEXT NOT NULL,
    PRIMARY KEY (facility_id, business_date)
);
CREATE TABLE IF NOT EXISTS closed_open_items (
    facility_id TEXT NOT NULL,
    business_date TEXT NOT NULL,
    item_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (facility_id, business_date, item_key)
);
CREATE TABLE IF NOT EXISTS adjustments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    found_on TEXT NOT NULL,
    facility_id TEXT NOT NULL,
    original_date TEXT NOT NULL,
    fiscal_year INTEGER NOT NULL,
    kind TEXT NOT NULL,
    item_key TEXT NOT NULL,
    amount INTEGER NOT NULL,
    detail TEXT NOT NULL,
    UNIQUE (facility_id, original_date, kind, item_key)
);
CREATE TRIGGER IF NOT EXISTS closed_days_immutable_update BEFORE UPDATE ON closed_days
BEGIN SELECT RAISE(ABORT, 'a closed day is immutable'); END;
CREATE TRIGGER IF NOT EXISTS closed_days_immutable_delete BEFORE DELETE ON closed_days
BEGIN SELECT RAISE(ABORT, 'a closed day is immutable'); END;
CREATE TRIGGER IF NOT EXISTS closed_items_immutable_update BEFORE UPDATE ON closed_open_items
BEGIN SELECT RAISE(ABORT, 'a closed day is immutable'); END;
CREATE TRIGGER IF NOT EXISTS closed_items_immutable_delete BEFORE DELETE ON closed_open_items
BEGIN SELECT RAISE(ABORT, 'a closed day is immutable'); END;
CREATE TRIGGER IF NOT EXISTS adjustments_append_only_update BEFORE UPDATE ON adjustments
BEGIN SELECT RAISE(ABORT, 'adjustments are append-only'); END;
CREATE TRIGGER IF NOT EXISTS adjustments_append_only_delete BEFORE DELETE ON adjustments
BEGIN SELECT RAISE(ABORT, 'adjustments are append-only'); END;
";

#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    #[error("the reconciler's store {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("the reconciler's store: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{facility} on {date} was closed on {closed_on}; it cannot be reconciled or closed again (later findings become adjustments)")]
    AlreadyClosed { facility: FacilityId, date: BusinessDate, closed_on: NaiveDate },
    #[error("the store holds an unreadable value {value:?} in {column}")]
    Corrupt { column: &'static str, value: String },
    #[error("the report could not be serialized: {0}")]
    Json(#[from] serde_json::Error),
    #[error("more than {STORE_ROWS_MAX} rows of {table} for {facility}")]
    TooLarge { table: &'static str, facility: FacilityId },
}

/// Something still open when a day was closed: a timing difference or an exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenItem {
    pub key: String,
    pub kind: String,
    pub amount: Yen,
}

/// A closed day, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClosedDay {
    pub facility: FacilityId,
    pub business_date: BusinessDate,
    pub fiscal_year: i32,
    pub closed_on: NaiveDate,
    pub revenue_total: Yen,
    pub fee_total: Yen,
    pub net_total: Yen,
    pub cash_counted_total: Yen,
    pub open_items: Vec<OpenItem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentKind {
    /// An item open at closing (not yet settled, or an exception) is resolved.
    Resolved,
    /// An exception not on the closed day's list.
    NewException,
    /// The day's revenue changed.
    Revenue,
    /// The day's fees charged changed.
    Fees,
    /// The day's net payouts changed.
    Net,
}

impl AdjustmentKind {
    pub fn code(self) -> &'static str {
        match self {
            AdjustmentKind::Resolved => "resolved",
            AdjustmentKind::NewException => "new_exception",
            AdjustmentKind::Revenue => "revenue",
            AdjustmentKind::Fees => "fees",
            AdjustmentKind::Net => "net",
        }
    }
}

/// A later finding about a closed day, booked on the day it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Adjustment {
    pub found_on: NaiveDate,
    pub facility: FacilityId,
    pub original_date: BusinessDate,
    /// The fiscal year it is booked to (see the module documentation).
    pub fiscal_year: i32,
    pub kind: AdjustmentKind,
    pub item_key: String,
    pub amount: Yen,
    pub detail: String,
}

/// The fiscal year a finding about `original` found on `found_on` is booked to: the original
/// day's while its 出納整理期間 (to 31 May after the year's March) lasts, else the finding's own.
pub fn fiscal_year_booked(original: BusinessDate, found_on: NaiveDate) -> FiscalYear {
    let original_year = original.fiscal_year();
    let closing_period_end = NaiveDate::from_ymd_opt(original_year.start_year() + 1, 5, 31);
    match closing_period_end {
        Some(end) if found_on <= end => original_year,
        _ => BusinessDate::new(found_on).fiscal_year(),
    }
}

/// The open items of a reconciled day: its timing differences and its exceptions.
pub fn open_items(result: &DayResult) -> Vec<OpenItem> {
    let timing = result.timing_differences.iter().map(|difference| OpenItem {
        key: format!("unsettled:{}", difference.record.key()),
        kind: "timing_difference".to_string(),
        amount: difference.amount,
    });
    let exceptions = result.exceptions.iter().map(|exception| OpenItem {
        key: format!(
            "{}:{}",
            exception.kind.code(),
            exception.records.iter().map(|record| record.key()).collect::<Vec<_>>().join("; ")
        ),
        kind: exception.kind.code().to_string(),
        amount: exception.amount_at_stake,
    });
    timing.chain(exceptions).collect()
}

/// What changed between a closed day and the same day reconciled again on `found_on`.
/// `earlier` are the adjustments already recorded for the day, so a change is booked once.
pub fn adjustments_for(
    closed: &ClosedDay,
    again: &DayResult,
    report: &DayReport,
    earlier: &[Adjustment],
    found_on: NaiveDate,
) -> Vec<Adjustment> {
    let fiscal_year = fiscal_year_booked(closed.business_date, found_on).start_year();
    let adjustment = |kind, item_key: String, amount, detail: String| Adjustment {
        found_on,
        facility: closed.facility.clone(),
        original_date: closed.business_date,
        fiscal_year,
        kind,
        item_key,
        amount,
        detail,
    };
    let recorded = |kind: AdjustmentKind, key: &str| {
        earlier.iter().any(|adjustment| adjustment.kind == kind && adjustment.item_key == key)
    };
    let now_open = open_items(again);
    let mut found = Vec::new();
    for item in &closed.open_items {
        if !now_open.iter().any(|open| open.key == item.key) && !recorded(AdjustmentKind::Resolved, &item.key) {
            let detail = format!("{} ({}) open at closing is resolved", item.key, item.kind);
            found.push(adjustment(AdjustmentKind::Resolved, item.key.clone(), item.amount, detail));
        }
    }
    for item in now_open.iter().filter(|item| item.kind != "timing_difference") {
        let known = closed.open_items.iter().any(|open| open.key == item.key);
        if !known && !recorded(AdjustmentKind::NewException, &item.key) {
            let detail = format!("{} found after closing", item.key);
            found.push(adjustment(AdjustmentKind::NewException, item.key.clone(), item.amount, detail));
        }
    }
    let totals = [
        (AdjustmentKind::Revenue, closed.revenue_total, report.revenue.amount_total),
        (AdjustmentKind::Fees, closed.fee_total, report.cashless.fee_total),
        (AdjustmentKind::Net, closed.net_total, report.cashless.net_total),
    ];
    for (kind, at_closing, now) in totals {
        let booked = Yen::checked_sum(
            earlier.iter().filter(|adjustment| adjustment.kind == kind).map(|adjustment| adjustment.amount),
        );
        let difference =
            booked.and_then(|booked| at_closing.checked_add(booked)).and_then(|known| now.checked_sub(known));
        if let Ok(difference) = difference {
            if difference != Yen::ZERO {
                let key = format!("{}:{now}", kind.code());
                let detail = format!("{} was {at_closing} at closing, is {now}", kind.code());
                found.push(adjustment(kind, key, difference, detail));
            }
        }
    }
    found
}

fn date_column(column: &'static str, text: &str) -> Result<NaiveDate, CloseError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| CloseError::Corrupt { column, value: text.to_string() })
}

fn yen_column(column: &'static str, value: i64) -> Result<Yen, CloseError> {
    Yen::new(value).map_err(|_| CloseError::Corrupt { column, value: value.to_string() })
}

/// The reconciler's own store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub async fn open(path: &Path) -> Result<Store, CloseError> {
        let failed = |source| CloseError::Open { path: path.display().to_string(), source };
        let options = SqliteConnectOptions::new().filename(path).create_if_missing(true);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.map_err(failed)?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await.map_err(failed)?;
        Ok(Store { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Refuses a day that is closed.
    pub async fn ensure_open(&self, facility: &FacilityId, date: BusinessDate) -> Result<(), CloseError> {
        match self.closed_day(facility, date).await? {
            Some(closed) => {
                Err(CloseError::AlreadyClosed { facility: facility.clone(), date, closed_on: closed.closed_on })
            }
            None => Ok(()),
        }
    }

    /// The closed day, if it is closed.
    pub async fn closed_day(&self, facility: &FacilityId, date: BusinessDate) -> Result<Option<ClosedDay>, CloseError> {
        let row = sqlx::query(
            "SELECT fiscal_year, closed_on, revenue_total, fee_total, net_total, cash_counted_total FROM closed_days \
             WHERE facility_id = $1 AND business_date = $2",
        )
        .bind(facility.as_str())
        .bind(date.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut open_items = Vec::new();
        let mut rows = sqlx::query(
            "SELECT item_key, kind, amount FROM closed_open_items WHERE facility_id = $1 AND business_date = $2 ORDER BY item_key",
        )
        .bind(facility.as_str())
        .bind(date.to_string())
        .fetch(&self.pool);
        while let Some(item) = rows.try_next().await? {
            open_items.push(OpenItem {
                key: item.try_get("item_key")?,
                kind: item.try_get("kind")?,
                amount: yen_column("closed_open_items.amount", item.try_get("amount")?)?,
            });
            if open_items.len() > STORE_ROWS_MAX {
                return Err(CloseError::TooLarge { table: "closed_open_items", facility: facility.clone() });
            }
        }
        Ok(Some(ClosedDay {
            facility: facility.clone(),
            business_date: date,
            fiscal_year: row.try_get::<i64, _>("fiscal_year")? as i32,
            closed_on: date_column("closed_days.closed_on", &row.try_get::<String, _>("closed_on")?)?,
            revenue_total: yen_column("closed_days.revenue_total", row.try_get("revenue_total")?)?,
            fee_total: yen_column("closed_days.fee_total", row.try_get("fee_total")?)?,
            net_total: yen_column("closed_days.net_total", row.try_get("net_total")?)?,
            cash_counted_total: yen_column("closed_days.cash_counted_total", row.try_get("cash_counted_total")?)?,
            open_items,
        }))
    }

    /// Closes a reconciled day: stores its report and open items, once.
    pub async fn close_day(
        &self,
        result: &DayResult,
        report: &DayReport,
        closed_on: NaiveDate,
    ) -> Result<ClosedDay, CloseError> {
        self.ensure_open(&result.facility, result.business_date).await?;
        let json = serde_json::to_string(report)?;
        let mut transaction = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO closed_days (facility_id, business_date, fiscal_year, closed_on, revenue_total, fee_total, net_total, cash_counted_total, report_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(result.facility.as_str())
        .bind(result.business_date.to_string())
        .bind(i64::from(result.fiscal_year.start_year()))
        .bind(closed_on.to_string())
        .bind(report.revenue.amount_total.get())
        .bind(report.cashless.fee_total.get())
        .bind(report.cashless.net_total.get())
        .bind(report.cash.counted_total.get())
        .bind(json)
        .execute(&mut *transaction)
        .await?;
        for item in open_items(result) {
            // Two exceptions of one kind on the same records are one open item.
            sqlx::query(
                "INSERT OR IGNORE INTO closed_open_items (facility_id, business_date, item_key, kind, amount) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(result.facility.as_str())
            .bind(result.business_date.to_string())
            .bind(&item.key)
            .bind(&item.kind)
            .bind(item.amount.get())
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        self.closed_day(&result.facility, result.business_date)
            .await?
            .ok_or(CloseError::Corrupt { column: "closed_days", value: "the day just closed is not there".to_string() })
    }

    /// The closed days of a facility before `date`, at most [`ADJUSTMENT_LOOKBACK_DAYS_MAX`]
    /// days back, oldest first.
    pub async fn closed_days_before(
        &self,
        facility: &FacilityId,
        date: BusinessDate,
    ) -> Result<Vec<BusinessDate>, CloseError> {
        let first = date.date() - chrono::Duration::days(ADJUSTMENT_LOOKBACK_DAYS_MAX);
        let mut rows = sqlx::query(
            "SELECT business_date FROM closed_days WHERE facility_id = $1 AND business_date >= $2 AND business_date < $3 ORDER BY business_date",
        )
        .bind(facility.as_str())
        .bind(first.to_string())
        .bind(date.to_string())
        .fetch(&self.pool);
        let mut days = Vec::new();
        while let Some(row) = rows.try_next().await? {
            days.push(BusinessDate::new(date_column(
                "closed_days.business_date",
                &row.try_get::<String, _>("business_date")?,
            )?));
        }
        Ok(days)
    }

    /// Stores adjustments; one already stored (same day, kind and item) is not stored twice.
    pub async fn record_adjustments(&self, adjustments: &[Adjustment]) -> Result<(), CloseError> {
        let mut transaction = self.pool.begin().await?;
        for adjustment in adjustments {
            sqlx::query(
                "INSERT OR IGNORE INTO adjustments (found_on, facility_id, original_date, fiscal_year, kind, item_key, amount, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(adjustment.found_on.to_string())
            .bind(adjustment.facility.as_str())
            .bind(adjustment.original_date.to_string())
            .bind(i64::from(adjustment.fiscal_year))
            .bind(adjustment.kind.code())
            .bind(&adjustment.item_key)
            .bind(adjustment.amount.get())
            .bind(&adjustment.detail)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// A facility's adjustments, in the order they were found.
    pub async fn adjustments(&self, facility: &FacilityId) -> Result<Vec<Adjustment>, CloseError> {
        let mut rows = sqlx::query(
            "SELECT found_on, original_date, fiscal_year, kind, item_key, amount, detail FROM adjustments WHERE facility_id = $1 ORDER BY seq",
        )
        .bind(facility.as_str())
        .fetch(&self.pool);
        let mut adjustments = Vec::new();
        while let Some(row) = rows.try_next().await? {
            let kind_text: String = row.try_get("kind")?;
            let kind = [
                AdjustmentKind::Resolved,
                AdjustmentKind::NewException,
                AdjustmentKind::Revenue,
                AdjustmentKind::Fees,
                AdjustmentKind::Net,
            ]
            .into_iter()
            .find(|kind| kind.code() == kind_text)
            .ok_or(CloseError::Corrupt { column: "adjustments.kind", value: kind_text })?;
            adjustments.push(Adjustment {
                found_on: date_column("adjustments.found_on", &row.try_get::<String, _>("found_on")?)?,
                facility: facility.clone(),
                original_date: BusinessDate::new(date_column(
                    "adjustments.original_date",
                    &row.try_get::<String, _>("original_date")?,
                )?),
                fiscal_year: row.try_get::<i64, _>("fiscal_year")? as i32,
                kind,
                item_key: row.try_get("item_key")?,
                amount: yen_column("adjustments.amount", row.try_get("amount")?)?,
                detail: row.try_get("detail")?,
            });
            if adjustments.len() > STORE_ROWS_MAX {
                return Err(CloseError::TooLarge { table: "adjustments", facility: facility.clone() });
            }
        }
        Ok(adjustments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn old_year_money_stays_old_through_may() {
        let march = BusinessDate::new(date("2026-03-31"));
        assert_eq!(fiscal_year_booked(march, date("2026-04-02")), FiscalYear::new(2025));
        assert_eq!(fiscal_year_booked(march, date("2026-05-31")), FiscalYear::new(2025));
        assert_eq!(fiscal_year_booked(march, date("2026-06-01")), FiscalYear::new(2026));
        let april = BusinessDate::new(date("2026-04-01"));
        assert_eq!(fiscal_year_booked(april, date("2026-04-03")), FiscalYear::new(2026));
        assert_eq!(date("2026-04-03").month(), 4);
    }
}
