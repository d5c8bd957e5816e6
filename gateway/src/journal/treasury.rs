//! Treasury's records in the journal: the settlement and bank files it loaded, the latest
//! reconciliation of each facility-day with its exceptions (and their resolutions, which survive a
//! re-run), the bank statement as each day's latest run read it with the city's list, and the
//! closed days.
//!
//! The city's list (exceptions no facility-day carries: payouts, bank lines) is kept beside the
//! facility-days' exceptions with an empty `facility_id` ([`CITY`]), under the run's date. The same
//! bank line is found by the runs of every date whose statement holds it, so a city exception is
//! resolved by key: resolving it resolves every open row of it, and a later run finding it again
//! for another date takes the resolution over.

use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

use pos_core::api::{ClosedDayView, ExceptionState, ExceptionView, TreasuryFileView};
use pos_core::{BusinessDate, FacilityId};
use reconciler::report::ExceptionRow;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::columns::{instant_column, parse_column, yen_column};
use super::filter::Filter;
use super::{instant_text, JournalError, WriteTx};

/// The most exceptions one list answers with.
pub const EXCEPTION_LIST_MAX: i64 = 2_000;
/// The `facility_id` of the city's list.
pub const CITY: &str = "";

/// A stored file's description.
pub struct FileMeta {
    pub sha256: String,
    pub kind: String,
    pub brand: Option<String>,
    pub name: String,
    pub size_bytes: i64,
}

fn state_code(state: ExceptionState) -> &'static str {
    match state {
        ExceptionState::Open => "open",
        ExceptionState::Resolved => "resolved",
        ExceptionState::Cleared => "cleared",
    }
}

pub async fn file_uploaded(conn: &mut AnyConnection, sha256: &str) -> Result<Option<String>, JournalError> {
    let row =
        sqlx::query("SELECT name FROM treasury_files WHERE sha256 = $1").bind(sha256).fetch_optional(conn).await?;
    Ok(row.map(|r| r.try_get::<String, _>("name")).transpose()?)
}

pub async fn store_file(
    tx: &mut WriteTx,
    meta: &FileMeta,
    content_base64: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), JournalError> {
    sqlx::query(
        "INSERT INTO treasury_files (sha256, kind, brand, name, content, size_bytes, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&meta.sha256)
    .bind(&meta.kind)
    .bind(meta.brand.clone())
    .bind(&meta.name)
    .bind(content_base64)
    .bind(meta.size_bytes)
    .bind(by)
    .bind(instant_text(at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

fn file_view(row: &AnyRow) -> Result<TreasuryFileView, JournalError> {
    let sha256: String = row.try_get("sha256")?;
    let brand = match row.try_get::<Option<String>, _>("brand")? {
        Some(text) => Some(parse_column("treasury_files", "brand", &sha256, &text)?),
        None => None,
    };
    Ok(TreasuryFileView {
        kind: row.try_get("kind")?,
        brand,
        name: row.try_get("name")?,
        size_bytes: u64::try_from(row.try_get::<i64, _>("size_bytes")?).unwrap_or_default(),
        uploaded_by: parse_column("treasury_files", "uploaded_by", &sha256, &row.try_get::<String, _>("uploaded_by")?)?,
        uploaded_at: instant_column(
            "treasury_files",
            "uploaded_at",
            &sha256,
            &row.try_get::<String, _>("uploaded_at")?,
        )?,
        sha256,
    })
}

pub async fn list_files(conn: &mut AnyConnection) -> Result<Vec<TreasuryFileView>, JournalError> {
    let rows = sqlx::query(
        "SELECT sha256, kind, brand, name, size_bytes, uploaded_by, uploaded_at FROM treasury_files ORDER BY uploaded_at DESC, name",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(file_view).collect()
}

/// The files a run reads, newest first: every stored file (a run streams them one at a time,
/// so there is no cut-off), without their content ([`file_content`] fetches one).
pub async fn files_for_run(conn: &mut AnyConnection) -> Result<Vec<FileMeta>, JournalError> {
    let rows =
        sqlx::query("SELECT sha256, kind, brand, name, size_bytes FROM treasury_files ORDER BY uploaded_at DESC, name")
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|row| {
            Ok(FileMeta {
                sha256: row.try_get("sha256")?,
                kind: row.try_get("kind")?,
                brand: row.try_get("brand")?,
                name: row.try_get("name")?,
                size_bytes: row.try_get("size_bytes")?,
            })
        })
        .collect()
}

/// A stored file's content (base64 of its bytes).
pub async fn file_content(conn: &mut AnyConnection, sha256: &str) -> Result<Option<String>, JournalError> {
    let row =
        sqlx::query("SELECT content FROM treasury_files WHERE sha256 = $1").bind(sha256).fetch_optional(conn).await?;
    Ok(row.map(|row| row.try_get("content")).transpose()?)
}

/// Stores a facility-day's reconciliation: the report replaces the earlier one; exceptions found
/// again keep their resolution, new ones open, and open ones no longer found are cleared.
#[allow(clippy::too_many_arguments)]
pub async fn store_run(
    tx: &mut WriteTx,
    facility: &FacilityId,
    date: BusinessDate,
    as_of: chrono::NaiveDate,
    report_json: &str,
    exceptions: &[ExceptionRow],
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), JournalError> {
    let date_text = date.to_string();
    sqlx::query("DELETE FROM treasury_reconciliations WHERE facility_id = $1 AND business_date = $2")
        .bind(facility.as_str())
        .bind(&date_text)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "INSERT INTO treasury_reconciliations (facility_id, business_date, as_of, report, exception_count, run_at, run_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(facility.as_str())
    .bind(&date_text)
    .bind(as_of.to_string())
    .bind(report_json)
    .bind(i64::try_from(exceptions.len()).unwrap_or(i64::MAX))
    .bind(instant_text(at))
    .bind(by)
    .execute(tx.conn())
    .await?;
    store_exceptions(tx, facility.as_str(), &date_text, exceptions, at).await
}

/// Stores the bank statement as the day's run read it and the city's list.
pub async fn store_bank_run(
    tx: &mut WriteTx,
    date: BusinessDate,
    as_of: chrono::NaiveDate,
    report_json: &str,
    exceptions: &[ExceptionRow],
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), JournalError> {
    let date_text = date.to_string();
    sqlx::query("DELETE FROM treasury_bank_runs WHERE business_date = $1").bind(&date_text).execute(tx.conn()).await?;
    sqlx::query(
        "INSERT INTO treasury_bank_runs (business_date, as_of, report, run_at, run_by) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&date_text)
    .bind(as_of.to_string())
    .bind(report_json)
    .bind(instant_text(at))
    .bind(by)
    .execute(tx.conn())
    .await?;
    store_exceptions(tx, CITY, &date_text, exceptions, at).await
}

/// Upserts one list's exceptions (a facility-day's, or the city's of a date) by key, and clears
/// the open ones no longer found.
async fn store_exceptions(
    tx: &mut WriteTx,
    facility: &str,
    date_text: &str,
    exceptions: &[ExceptionRow],
    at: DateTime<Utc>,
) -> Result<(), JournalError> {
    let mut keys = Vec::with_capacity(exceptions.len());
    for row in exceptions {
        let records = serde_json::to_string(&row.records).unwrap_or_default();
        let records_en = serde_json::to_string(&row.records_en).unwrap_or_default();
        let updated = sqlx::query(
            "UPDATE treasury_exceptions SET amount_at_stake = $1, detail = $2, records = $3, name_en = $4, records_en = $5, detail_en = $6, suggested_action_en = $7, state = CASE WHEN state = 'cleared' THEN 'open' ELSE state END WHERE facility_id = $8 AND business_date = $9 AND exception_key = $10",
        )
        .bind(row.amount_at_stake.get())
        .bind(&row.detail_ja)
        .bind(&records)
        .bind(&row.name_en)
        .bind(&records_en)
        .bind(&row.detail_en)
        .bind(&row.action_en)
        .bind(facility)
        .bind(date_text)
        .bind(&row.key)
        .execute(tx.conn())
        .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO treasury_exceptions (id, facility_id, business_date, exception_key, kind, name_ja, records, amount_at_stake, detail, suggested_action, state, found_at, name_en, records_en, detail_en, suggested_action_en) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $12, $13, $14, $15)",
            )
            .bind(format!("exc_{}", uuid::Uuid::new_v4().simple()))
            .bind(facility)
            .bind(date_text)
            .bind(&row.key)
            .bind(&row.kind)
            .bind(&row.name_ja)
            .bind(&records)
            .bind(row.amount_at_stake.get())
            .bind(&row.detail_ja)
            .bind(&row.action_ja)
            .bind(instant_text(at))
            .bind(&row.name_en)
            .bind(&records_en)
            .bind(&row.detail_en)
            .bind(&row.action_en)
            .execute(tx.conn())
            .await?;
            if facility == CITY {
                take_over_resolution(tx, date_text, &row.key).await?;
            }
        }
        keys.push(row.key.clone());
    }
    let still_open = sqlx::query(
        "SELECT exception_key FROM treasury_exceptions WHERE facility_id = $1 AND business_date = $2 AND state = 'open' AND source = 'reconciliation'",
    )
    .bind(facility)
    .bind(date_text)
    .fetch_all(tx.conn())
    .await?;
    for row in still_open {
        let key: String = row.try_get("exception_key")?;
        if !keys.contains(&key) {
            sqlx::query(
                "UPDATE treasury_exceptions SET state = 'cleared' WHERE facility_id = $1 AND business_date = $2 AND exception_key = $3",
            )
            .bind(facility)
            .bind(date_text)
            .bind(&key)
            .execute(tx.conn())
            .await?;
        }
    }
    Ok(())
}

/// A city exception new on `date_text` that treasury already resolved under another date is
/// resolved here too, with the same action, note, person and time.
async fn take_over_resolution(tx: &mut WriteTx, date_text: &str, key: &str) -> Result<(), JournalError> {
    let earlier = sqlx::query(
        "SELECT resolution_action, resolution_note, resolved_by, resolved_at FROM treasury_exceptions WHERE facility_id = $1 AND exception_key = $2 AND state = 'resolved' ORDER BY resolved_at LIMIT 1",
    )
    .bind(CITY)
    .bind(key)
    .fetch_optional(tx.conn())
    .await?;
    let Some(earlier) = earlier else { return Ok(()) };
    sqlx::query(
        "UPDATE treasury_exceptions SET state = 'resolved', resolution_action = $1, resolution_note = $2, resolved_by = $3, resolved_at = $4 WHERE facility_id = $5 AND business_date = $6 AND exception_key = $7",
    )
    .bind(earlier.try_get::<Option<String>, _>("resolution_action")?)
    .bind(earlier.try_get::<Option<String>, _>("resolution_note")?)
    .bind(earlier.try_get::<Option<String>, _>("resolved_by")?)
    .bind(earlier.try_get::<Option<String>, _>("resolved_at")?)
    .bind(CITY)
    .bind(date_text)
    .bind(key)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The bank statement as a day's latest run read it: (as of, report JSON).
pub async fn bank_run(conn: &mut AnyConnection, date: BusinessDate) -> Result<Option<String>, JournalError> {
    let row = sqlx::query("SELECT report FROM treasury_bank_runs WHERE business_date = $1")
        .bind(date.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|row| row.try_get::<String, _>("report")).transpose()?)
}

/// The newest bank run of any date: the statement as last read.
pub async fn latest_bank_run(conn: &mut AnyConnection) -> Result<Option<String>, JournalError> {
    let row = sqlx::query("SELECT report FROM treasury_bank_runs ORDER BY run_at DESC, business_date DESC LIMIT 1")
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|row| row.try_get::<String, _>("report")).transpose()?)
}

/// The keys of the exceptions treasury resolved, of a date (facility-days and city).
pub async fn resolved_keys(conn: &mut AnyConnection, date: BusinessDate) -> Result<BTreeSet<String>, JournalError> {
    let rows =
        sqlx::query("SELECT exception_key FROM treasury_exceptions WHERE business_date = $1 AND state = 'resolved'")
            .bind(date.to_string())
            .fetch_all(conn)
            .await?;
    rows.iter().map(|row| Ok(row.try_get::<String, _>("exception_key")?)).collect()
}

/// The city's list of a date: (open, resolved).
pub async fn city_exception_counts(conn: &mut AnyConnection, date: BusinessDate) -> Result<(i64, i64), JournalError> {
    let rows = sqlx::query(
        "SELECT state, COUNT(*) AS n FROM treasury_exceptions WHERE facility_id = $1 AND business_date = $2 GROUP BY state",
    )
    .bind(CITY)
    .bind(date.to_string())
    .fetch_all(conn)
    .await?;
    let mut counts = (0, 0);
    for row in rows {
        match row.try_get::<String, _>("state")?.as_str() {
            "open" => counts.0 = row.try_get("n")?,
            "resolved" => counts.1 = row.try_get("n")?,
            _ => {}
        }
    }
    Ok(counts)
}

/// A stored reconciliation: the report's JSON, when it was run, and by whom.
pub struct StoredRun {
    pub facility_id: String,
    pub report_json: String,
    pub run_at: DateTime<Utc>,
    pub run_by: String,
}

fn stored_run(row: &AnyRow) -> Result<StoredRun, JournalError> {
    let facility_id: String = row.try_get("facility_id")?;
    Ok(StoredRun {
        run_at: instant_column(
            "treasury_reconciliations",
            "run_at",
            &facility_id,
            &row.try_get::<String, _>("run_at")?,
        )?,
        report_json: row.try_get("report")?,
        run_by: row.try_get("run_by")?,
        facility_id,
    })
}

pub async fn load_run(
    conn: &mut AnyConnection,
    facility: &FacilityId,
    date: BusinessDate,
) -> Result<Option<StoredRun>, JournalError> {
    let row = sqlx::query(
        "SELECT facility_id, report, run_at, run_by FROM treasury_reconciliations WHERE facility_id = $1 AND business_date = $2",
    )
    .bind(facility.as_str())
    .bind(date.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(stored_run).transpose()
}

pub async fn runs_of_date(conn: &mut AnyConnection, date: BusinessDate) -> Result<Vec<StoredRun>, JournalError> {
    let rows = sqlx::query(
        "SELECT facility_id, report, run_at, run_by FROM treasury_reconciliations WHERE business_date = $1 ORDER BY facility_id",
    )
    .bind(date.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(stored_run).collect()
}

const EXCEPTION_COLUMNS: &str = "id, facility_id, business_date, kind, name_ja, records, amount_at_stake, detail, suggested_action, state, found_at, resolution_action, resolution_note, resolved_by, resolved_at, name_en, records_en, detail_en, suggested_action_en";

fn exception_view(row: &AnyRow) -> Result<ExceptionView, JournalError> {
    let id: String = row.try_get("id")?;
    let table = "treasury_exceptions";
    let records_text: String = row.try_get("records")?;
    let records = serde_json::from_str(&records_text).map_err(|_| JournalError::Corrupt {
        table,
        column: "records",
        id: id.clone(),
        value: records_text.clone(),
    })?;
    let records_en_text: String = row.try_get("records_en")?;
    let records_en = serde_json::from_str(&records_en_text).map_err(|_| JournalError::Corrupt {
        table,
        column: "records_en",
        id: id.clone(),
        value: records_en_text.clone(),
    })?;
    let facility_text: String = row.try_get("facility_id")?;
    let facility_id = match facility_text.as_str() {
        CITY => None,
        text => Some(parse_column(table, "facility_id", &id, text)?),
    };
    let state_text: String = row.try_get("state")?;
    let state = match state_text.as_str() {
        "open" => ExceptionState::Open,
        "resolved" => ExceptionState::Resolved,
        "cleared" => ExceptionState::Cleared,
        _ => return Err(JournalError::Corrupt { table, column: "state", id, value: state_text }),
    };
    let resolved_by = match row.try_get::<Option<String>, _>("resolved_by")? {
        Some(text) => Some(parse_column(table, "resolved_by", &id, &text)?),
        None => None,
    };
    let resolved_at = match row.try_get::<Option<String>, _>("resolved_at")? {
        Some(text) => Some(instant_column(table, "resolved_at", &id, &text)?),
        None => None,
    };
    Ok(ExceptionView {
        facility_id,
        business_date: parse_column(table, "business_date", &id, &row.try_get::<String, _>("business_date")?)?,
        kind: row.try_get("kind")?,
        name_ja: row.try_get("name_ja")?,
        name_en: row.try_get("name_en")?,
        records,
        records_en,
        amount_at_stake: yen_column(table, "amount_at_stake", &id, row.try_get("amount_at_stake")?)?,
        detail: row.try_get("detail")?,
        detail_en: row.try_get("detail_en")?,
        suggested_action: row.try_get("suggested_action")?,
        suggested_action_en: row.try_get("suggested_action_en")?,
        state,
        found_at: instant_column(table, "found_at", &id, &row.try_get::<String, _>("found_at")?)?,
        resolution_action: row.try_get("resolution_action")?,
        resolution_note: row.try_get("resolution_note")?,
        resolved_by,
        resolved_at,
        id,
    })
}

/// Which list an exception is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionLevel {
    /// A facility-day's.
    Facility,
    /// The city's.
    City,
}

/// Filters of the exceptions list; `facilities: None` means every facility, `level: None` both
/// lists.
#[derive(Debug, Default)]
pub struct ExceptionFilter {
    pub date: Option<BusinessDate>,
    pub facility: Option<FacilityId>,
    pub facilities: Option<Vec<String>>,
    pub kind: Option<String>,
    pub state: Option<ExceptionState>,
    pub level: Option<ExceptionLevel>,
}

pub async fn list_exceptions(
    conn: &mut AnyConnection,
    filter: &ExceptionFilter,
) -> Result<Vec<ExceptionView>, JournalError> {
    let rows = Filter::new()
        .equal("business_date", filter.date.map(|d| d.to_string()))
        .equal("facility_id", filter.facility.as_ref().map(|f| f.to_string()))
        .one_of("facility_id", filter.facilities.as_deref())
        .equal("kind", filter.kind.clone())
        .equal("state", filter.state.map(|s| state_code(s).to_string()))
        .equal("facility_id", (filter.level == Some(ExceptionLevel::City)).then(|| CITY.to_string()))
        .not_equal("facility_id", (filter.level == Some(ExceptionLevel::Facility)).then(|| CITY.to_string()))
        .fetch(
            conn,
            EXCEPTION_COLUMNS,
            "treasury_exceptions",
            &format!("ORDER BY business_date DESC, facility_id, found_at, id LIMIT {EXCEPTION_LIST_MAX}"),
        )
        .await?;
    rows.iter().map(exception_view).collect()
}

pub async fn load_exception(conn: &mut AnyConnection, id: &str) -> Result<Option<ExceptionView>, JournalError> {
    let row = sqlx::query(&format!("SELECT {EXCEPTION_COLUMNS} FROM treasury_exceptions WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(exception_view).transpose()
}

/// Resolves an open exception; one of the city's list resolves every open row of its key.
pub async fn resolve_exception(
    tx: &mut WriteTx,
    id: &str,
    action: &str,
    note: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<bool, JournalError> {
    let done = sqlx::query(
        "UPDATE treasury_exceptions SET state = 'resolved', resolution_action = $1, resolution_note = $2, resolved_by = $3, resolved_at = $4 WHERE id = $5 AND state = 'open'",
    )
    .bind(action)
    .bind(note)
    .bind(by)
    .bind(instant_text(at))
    .bind(id)
    .execute(tx.conn())
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE treasury_exceptions SET state = 'resolved', resolution_action = $1, resolution_note = $2, resolved_by = $3, resolved_at = $4 WHERE facility_id = $5 AND state = 'open' AND exception_key = (SELECT exception_key FROM treasury_exceptions WHERE id = $6)",
    )
    .bind(action)
    .bind(note)
    .bind(by)
    .bind(instant_text(at))
    .bind(CITY)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(true)
}

fn closed_view(row: &AnyRow) -> Result<ClosedDayView, JournalError> {
    let table = "treasury_closed_days";
    let facility: String = row.try_get("facility_id")?;
    Ok(ClosedDayView {
        business_date: parse_column(table, "business_date", &facility, &row.try_get::<String, _>("business_date")?)?,
        closed_at: instant_column(table, "closed_at", &facility, &row.try_get::<String, _>("closed_at")?)?,
        closed_by: parse_column(table, "closed_by", &facility, &row.try_get::<String, _>("closed_by")?)?,
        report_sha256: row.try_get("report_sha256")?,
        facility_id: parse_column(table, "facility_id", &facility, &facility)?,
    })
}

pub async fn closed_day(
    conn: &mut AnyConnection,
    facility: &FacilityId,
    date: BusinessDate,
) -> Result<Option<ClosedDayView>, JournalError> {
    let row = sqlx::query(
        "SELECT facility_id, business_date, closed_at, closed_by, report_sha256 FROM treasury_closed_days WHERE facility_id = $1 AND business_date = $2",
    )
    .bind(facility.as_str())
    .bind(date.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(closed_view).transpose()
}

pub async fn closed_days_of(conn: &mut AnyConnection, date: BusinessDate) -> Result<Vec<ClosedDayView>, JournalError> {
    let rows = sqlx::query(
        "SELECT facility_id, business_date, closed_at, closed_by, report_sha256 FROM treasury_closed_days WHERE business_date = $1",
    )
    .bind(date.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(closed_view).collect()
}

pub async fn close_day(tx: &mut WriteTx, view: &ClosedDayView) -> Result<(), JournalError> {
    sqlx::query(
        "INSERT INTO treasury_closed_days (facility_id, business_date, closed_at, closed_by, report_sha256) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(view.facility_id.as_str())
    .bind(view.business_date.to_string())
    .bind(instant_text(view.closed_at))
    .bind(view.closed_by.as_str())
    .bind(&view.report_sha256)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Per facility, the day's figures the board shows.
#[derive(Debug, Default, Clone)]
pub struct DayFigures {
    pub shifts_open: i64,
    pub shifts_closed: i64,
    pub over_short: i64,
    pub sales_count: i64,
    pub taken: i64,
    pub taken_cashless: i64,
    pub exceptions_open: i64,
    pub exceptions_resolved: i64,
}

/// The board's figures of every facility with anything on `date`.
pub async fn day_figures(
    conn: &mut AnyConnection,
    date: BusinessDate,
) -> Result<std::collections::BTreeMap<String, DayFigures>, JournalError> {
    let date_text = date.to_string();
    let mut figures: std::collections::BTreeMap<String, DayFigures> = Default::default();
    let shifts = sqlx::query(
        "SELECT facility_id, state, COUNT(*) AS n, CAST(COALESCE(SUM(over_short), 0) AS BIGINT) AS over_short FROM shifts WHERE business_date = $1 GROUP BY facility_id, state",
    )
    .bind(&date_text)
    .fetch_all(&mut *conn)
    .await?;
    for row in shifts {
        let entry = figures.entry(row.try_get("facility_id")?).or_default();
        let count: i64 = row.try_get("n")?;
        if row.try_get::<String, _>("state")? == "open" {
            entry.shifts_open += count;
        } else {
            entry.shifts_closed += count;
            entry.over_short += row.try_get::<i64, _>("over_short")?;
        }
    }
    let sales = sqlx::query(
        "SELECT facility_id, COUNT(*) AS n FROM sales WHERE business_date = $1 AND state = 'paid' GROUP BY facility_id",
    )
    .bind(&date_text)
    .fetch_all(&mut *conn)
    .await?;
    for row in sales {
        figures.entry(row.try_get("facility_id")?).or_default().sales_count = row.try_get("n")?;
    }
    let payments = sqlx::query(
        "SELECT facility_id, method, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM payments WHERE business_date = $1 AND state IN ('completed', 'partially_refunded', 'refunded') GROUP BY facility_id, method",
    )
    .bind(&date_text)
    .fetch_all(&mut *conn)
    .await?;
    for row in payments {
        let entry = figures.entry(row.try_get("facility_id")?).or_default();
        let total: i64 = row.try_get("total")?;
        entry.taken += total;
        if row.try_get::<String, _>("method")? != "cash" {
            entry.taken_cashless += total;
        }
    }
    let exceptions = sqlx::query(
        "SELECT facility_id, state, COUNT(*) AS n FROM treasury_exceptions WHERE business_date = $1 GROUP BY facility_id, state",
    )
    .bind(&date_text)
    .fetch_all(&mut *conn)
    .await?;
    for row in exceptions {
        let entry = figures.entry(row.try_get("facility_id")?).or_default();
        match row.try_get::<String, _>("state")?.as_str() {
            "open" => entry.exceptions_open = row.try_get("n")?,
            "resolved" => entry.exceptions_resolved = row.try_get("n")?,
            _ => {}
        }
    }
    Ok(figures)
}

/// A background reconciliation run as stored (see `0012_treasury_runs.sql`).
#[derive(Debug, Clone)]
pub struct StoredTreasuryRun {
    pub id: String,
    pub business_date: BusinessDate,
    pub as_of: chrono::NaiveDate,
    pub facility_id: Option<String>,
    pub state: String,
    pub facility_days_total: i64,
    pub facility_days_done: i64,
    pub files_read: i64,
    pub exceptions_found: i64,
    pub result: Option<String>,
    pub error: Option<String>,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

const TREASURY_RUN_COLUMNS: &str =
    "id, business_date, as_of, facility_id, state, facility_days_total, facility_days_done, \
     files_read, exceptions_found, result, error, started_by, started_at, ended_at";

fn treasury_run(row: &AnyRow) -> Result<StoredTreasuryRun, JournalError> {
    let ended_at: Option<String> = row.try_get("ended_at")?;
    let id: String = row.try_get("id")?;
    Ok(StoredTreasuryRun {
        id: id.clone(),
        business_date: parse_column(
            "treasury_runs",
            "business_date",
            &id,
            &row.try_get::<String, _>("business_date")?,
        )?,
        as_of: parse_column("treasury_runs", "as_of", &id, &row.try_get::<String, _>("as_of")?)?,
        facility_id: row.try_get("facility_id")?,
        state: row.try_get("state")?,
        facility_days_total: row.try_get("facility_days_total")?,
        facility_days_done: row.try_get("facility_days_done")?,
        files_read: row.try_get("files_read")?,
        exceptions_found: row.try_get("exceptions_found")?,
        result: row.try_get("result")?,
        error: row.try_get("error")?,
        started_by: row.try_get("started_by")?,
        started_at: instant_column("treasury_runs", "started_at", &id, &row.try_get::<String, _>("started_at")?)?,
        ended_at: ended_at.map(|text| instant_column("treasury_runs", "ended_at", &id, &text)).transpose()?,
    })
}

/// The run of `date` still running, if any.
pub async fn running_treasury_run(
    conn: &mut AnyConnection,
    date: BusinessDate,
) -> Result<Option<StoredTreasuryRun>, JournalError> {
    let row = sqlx::query(&format!(
        "SELECT {TREASURY_RUN_COLUMNS} FROM treasury_runs WHERE business_date = $1 AND state = 'running'"
    ))
    .bind(date.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(treasury_run).transpose()
}

/// A run by its id.
pub async fn load_treasury_run(conn: &mut AnyConnection, id: &str) -> Result<Option<StoredTreasuryRun>, JournalError> {
    let row = sqlx::query(&format!("SELECT {TREASURY_RUN_COLUMNS} FROM treasury_runs WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(treasury_run).transpose()
}

/// The latest run of `date`.
pub async fn latest_treasury_run(
    conn: &mut AnyConnection,
    date: BusinessDate,
) -> Result<Option<StoredTreasuryRun>, JournalError> {
    let row = sqlx::query(&format!(
        "SELECT {TREASURY_RUN_COLUMNS} FROM treasury_runs WHERE business_date = $1 ORDER BY started_at DESC, id DESC LIMIT 1"
    ))
    .bind(date.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(treasury_run).transpose()
}

/// Starts a run of `date` (the caller checked that none is running).
pub async fn insert_treasury_run(
    tx: &mut WriteTx,
    id: &str,
    date: BusinessDate,
    as_of: chrono::NaiveDate,
    facility: Option<&FacilityId>,
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), JournalError> {
    sqlx::query(
        "INSERT INTO treasury_runs (id, business_date, as_of, facility_id, state, started_by, started_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'running', $5, $6, $6)",
    )
    .bind(id)
    .bind(date.to_string())
    .bind(as_of.to_string())
    .bind(facility.map(|f| f.as_str().to_string()))
    .bind(by)
    .bind(instant_text(at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A running run's progress: facility-days done of total, files read (a negative count keeps the
/// one stored), exceptions found.
pub async fn treasury_run_progress(
    tx: &mut WriteTx,
    id: &str,
    (done, total, files_read, exceptions): (i64, i64, i64, i64),
    at: DateTime<Utc>,
) -> Result<(), JournalError> {
    sqlx::query(
        "UPDATE treasury_runs SET facility_days_done = $2, facility_days_total = $3, \
         files_read = CASE WHEN $4 < 0 THEN files_read ELSE $4 END, \
         exceptions_found = $5, updated_at = $6 WHERE id = $1 AND state = 'running'",
    )
    .bind(id)
    .bind(done)
    .bind(total)
    .bind(files_read)
    .bind(exceptions)
    .bind(instant_text(at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Ends a running run: `succeeded` with its result (JSON), or `failed` with its error.
pub async fn end_treasury_run(
    tx: &mut WriteTx,
    id: &str,
    outcome: Result<&str, &str>,
    at: DateTime<Utc>,
) -> Result<(), JournalError> {
    let (state, result, error) = match outcome {
        Ok(result) => ("succeeded", Some(result), None),
        Err(error) => ("failed", None, Some(error)),
    };
    sqlx::query(
        "UPDATE treasury_runs SET state = $2, result = $3, error = $4, ended_at = $5, updated_at = $5 \
         WHERE id = $1 AND state = 'running'",
    )
    .bind(id)
    .bind(state)
    .bind(result)
    .bind(error)
    .bind(instant_text(at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Marks every run still `running` failed: called when a gateway starts, since no run survives
/// its process. Returns how many there were.
pub async fn fail_unfinished_treasury_runs(tx: &mut WriteTx, at: DateTime<Utc>) -> Result<u64, JournalError> {
    let done = sqlx::query(
        "UPDATE treasury_runs SET state = 'failed', error = $1, ended_at = $2, updated_at = $2 WHERE state = 'running'",
    )
    .bind("the gateway stopped while the run was in progress; run the day again")
    .bind(instant_text(at))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}
