//! Treasury's API: load the acquirers' settlement files and the bank statement, reconcile a
//! business day (the reconciler crate, over this gateway's own journal), read the day's board, a
//! facility's daily report (日計表) as JSON, printable HTML or CSV, the bank statement as the run
//! read it with the city's list, work the exceptions (note, action taken, who, when), close a
//! facility's day (not while the city's list of the day has an open item: a statement whose lines
//! are not all accounted for cannot close a day), and download the accounting export.
//!
//! Reconciling reads the journal through the reconciler's read-only source, outside any write
//! transaction, so the counters keep writing while it runs; only storing the result takes the
//! writer for a moment.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use pos_config::Role;
use pos_core::api::{
    ClosedDayView, DayBoard, DayBoardRow, DayStatus, ExceptionList, ExceptionState, ReconcileRequest, ReconcileResult,
    ReconciledFacility, ResolveExceptionRequest, RunState, TreasuryFileList, TreasuryFileView, TreasuryRunView,
};
use pos_core::{Brand, BusinessDate, FacilityId, Method, Yen};
use reconciler::calendar::BankCalendar;
use reconciler::pipeline::{self, InputKind, PipelineError};
use reconciler::report::bank::BankReport;
use reconciler::report::{self, DayReport};
use reconciler::scale::run::{check_input, default_parallelism, reconcile_days, AsOf, RunShared, ScaleError, Spooler};
use reconciler::source::JournalSource;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::extract::{Idempotent, QueryParams};
use super::idempotency::{begin, Begun};
use crate::access::Caller;
use crate::journal::treasury::{self as store, ExceptionFilter, ExceptionLevel, FileMeta};
use crate::AppState;

/// The largest settlement or bank file treasury may load through the API.
pub const TREASURY_FILE_BYTES_MAX: usize = 64 * 1024 * 1024;
/// The longest file name kept with a loaded file.
const FILE_NAME_CHARS_MAX: usize = 200;
/// The longest resolution action or note.
const RESOLUTION_CHARS_MAX: usize = 2_000;

fn parse_date(text: &str) -> Result<BusinessDate, ApiError> {
    text.parse().map_err(|_| {
        ApiError::unprocessable("invalid_date", format!("{text:?} is not a business date (YYYY-MM-DD)")).at("date")
    })
}

fn parse_facility(app: &AppState, text: &str) -> Result<FacilityId, ApiError> {
    let id = FacilityId::parse(text).map_err(|_| ApiError::not_found("facility", text))?;
    app.config.facility(&id).ok_or_else(|| ApiError::not_found("facility", text))?;
    Ok(id)
}

fn today(app: &AppState) -> BusinessDate {
    BusinessDate::of_instant(app.clock.now())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    pub kind: String,
    #[serde(default)]
    pub brand: Option<String>,
    pub name: String,
}

/// The kind of a file as `kind` and `brand` name it.
fn input_kind(kind: &str, brand: Option<Brand>) -> Result<InputKind, ApiError> {
    match (kind, brand) {
        ("card", None) => Ok(InputKind::Card),
        ("emoney", None) => Ok(InputKind::Emoney),
        ("bank", None) => Ok(InputKind::Bank),
        ("qr", Some(brand)) if brand.method() == Method::Qr => Ok(InputKind::Qr(brand)),
        ("qr", _) => {
            Err(ApiError::unprocessable("brand_required", "a QR settlement file names its QR brand").at("brand"))
        }
        ("card" | "emoney" | "bank", Some(_)) => {
            Err(ApiError::unprocessable("brand_not_allowed", "only a QR settlement file names a brand").at("brand"))
        }
        _ => {
            Err(ApiError::unprocessable("invalid_kind", format!("{kind:?} is not card, emoney, qr or bank")).at("kind"))
        }
    }
}

/// `POST /v1/treasury/files?kind=card|emoney|qr|bank&brand=&name=` with the file as the body.
/// A file whose content was loaded before is refused (`409`), so nothing is counted twice.
pub async fn upload(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    QueryParams(query): QueryParams<UploadQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_role(&[Role::Treasury])?;
    let name = query.name.trim();
    if name.is_empty() || name.chars().count() > FILE_NAME_CHARS_MAX || name.contains(['/', '\\']) {
        return Err(ApiError::unprocessable(
            "invalid_name",
            format!("the file name must be 1–{FILE_NAME_CHARS_MAX} characters without a path"),
        )
        .at("name"));
    }
    let brand = match &query.brand {
        Some(text) => Some(
            text.parse::<Brand>()
                .map_err(|_| ApiError::unprocessable("invalid_brand", format!("unknown brand {text:?}")).at("brand"))?,
        ),
        None => None,
    };
    if body.is_empty() {
        return Err(ApiError::unprocessable("empty_file", "the file is empty"));
    }
    // Read the way a run will read it, so a bad file is refused at the door with its file, line
    // and column, and nothing is stored.
    check_input(input_kind(&query.kind, brand)?, name, body.as_ref(), today(&app).date()).map_err(run_error)?;
    let sha256 = hex::encode(Sha256::digest(&body));
    let meta = FileMeta {
        sha256: sha256.clone(),
        kind: query.kind.clone(),
        brand: brand.map(|b| b.code().to_string()),
        name: name.to_string(),
        size_bytes: i64::try_from(body.len()).unwrap_or(i64::MAX),
    };
    let mut tx = app.journal.begin_write().await?;
    if let Some(earlier) = store::file_uploaded(tx.conn(), &sha256).await? {
        tx.rollback().await?;
        return Err(ApiError::conflict(
            "file_already_loaded",
            format!("this content was already loaded as {earlier:?} (sha256 {sha256}); it is not counted twice"),
        ));
    }
    let now = app.clock.now();
    store::store_file(
        &mut tx,
        &meta,
        &base64::engine::general_purpose::STANDARD.encode(&body),
        caller.user.as_str(),
        now,
    )
    .await?;
    tx.commit().await?;
    let view = TreasuryFileView {
        sha256,
        kind: meta.kind,
        brand,
        name: meta.name,
        size_bytes: body.len() as u64,
        uploaded_by: caller.user.clone(),
        uploaded_at: now,
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub async fn files(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<TreasuryFileList>, ApiError> {
    caller.require_role(&[Role::Treasury])?;
    let mut conn = app.journal.read().await?;
    Ok(Json(TreasuryFileList { files: store::list_files(&mut conn).await? }))
}

fn run_error(error: ScaleError) -> ApiError {
    match error {
        ScaleError::Pipeline(PipelineError::Rejected(_) | PipelineError::Duplicate(_)) => {
            ApiError::unprocessable("file_rejected", error.to_string())
        }
        other => {
            tracing::error!(error = %other, "reconciliation failed");
            ApiError::internal(format!("reconciliation failed: {other}"))
        }
    }
}

/// The stored files in the order a run reads them: card, QR and e-money files (each kind newest
/// first), then of the bank statements the newest, since consecutive statements may repeat
/// entries.
fn run_order(files: Vec<FileMeta>) -> Result<Vec<(InputKind, FileMeta)>, ApiError> {
    let mut kinds = Vec::new();
    for meta in files {
        let brand = meta
            .brand
            .as_deref()
            .map(|b| b.parse::<Brand>().map_err(|_| ApiError::internal(format!("stored brand {b:?}"))))
            .transpose()?;
        let kind = input_kind(&meta.kind, brand)
            .map_err(|e| ApiError::internal(format!("stored file kind: {}", e.message)))?;
        kinds.push((kind, meta));
    }
    let rank = |kind: &InputKind| match kind {
        InputKind::Card => 0,
        InputKind::Qr(_) => 1,
        InputKind::Emoney => 2,
        InputKind::Bank => 3,
    };
    kinds.sort_by_key(|(kind, _)| rank(kind));
    let mut bank_seen = false;
    kinds.retain(|(kind, _)| {
        let keep = *kind != InputKind::Bank || !bank_seen;
        bank_seen |= *kind == InputKind::Bank;
        keep
    });
    Ok(kinds)
}

/// A run's spool, removed when the run ends, however it ends.
struct SpoolDir(std::path::PathBuf);

impl Drop for SpoolDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// What a run of a day gave.
struct DayRun {
    reports: Vec<DayReport>,
    bank: BankReport,
    files_read: u64,
}

/// Reconciles `facilities` on `date` through the reconciler's one path (the `reconcile`
/// command's): the stored files streamed one at a time into a spool, the bank statement
/// reconciled once, the facility-days read from the journal and reconciled in parallel, each
/// handed to `each` as it is done, in order.
async fn run_day(
    app: &AppState,
    date: BusinessDate,
    as_of: chrono::NaiveDate,
    facilities: Vec<FacilityId>,
    mut each: impl FnMut(&DayReport),
) -> Result<DayRun, ApiError> {
    let files = {
        let mut conn = app.journal.read().await?;
        run_order(store::files_for_run(&mut conn).await?)?
    };
    let spool = SpoolDir(std::env::temp_dir().join(format!("pos-treasury-spool-{}", uuid::Uuid::new_v4().simple())));
    let mut spooler = Spooler::create(&app.config, &spool.0, as_of).map_err(run_error)?;
    let files_read = files.len() as u64;
    for (kind, meta) in files {
        let content = {
            let mut conn = app.journal.read().await?;
            store::file_content(&mut conn, &meta.sha256).await?
        };
        let content = content.ok_or_else(|| ApiError::internal(format!("stored file {} vanished", meta.sha256)))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content)
            .map_err(|_| ApiError::internal(format!("stored file {} is not base64", meta.sha256)))?;
        spooler.add(kind, &meta.name, bytes.as_slice()).map_err(run_error)?;
    }
    let spooled = spooler.finish().map_err(run_error)?;
    let calendar =
        BankCalendar::for_config(&app.config).map_err(|e| ApiError::internal(format!("bank calendar: {e}")))?;
    let parallelism = default_parallelism();
    let source = JournalSource::connect_with(&app.config.database.url, parallelism).await.map_err(|error| {
        // The detail (which names the database) goes to the log; the run says what failed.
        tracing::error!(%error, "reconciliation cannot read the journal");
        ApiError::internal("reconciliation cannot read the journal; the gateway's log has the detail")
    })?;
    let outcome = async {
        let shared =
            RunShared::prepare(&source, (*app.config).clone(), calendar, spooled, as_of).await.map_err(run_error)?;
        let days = facilities.into_iter().map(|facility| (facility, date)).collect();
        let mut reports = Vec::new();
        reconcile_days(&source, &shared, days, AsOf::Fixed(as_of), parallelism, |day| {
            each(&day.report);
            reports.push(day.report);
            Ok(())
        })
        .await
        .map_err(run_error)?;
        let bank = pipeline::bank_report(&shared.bank, &reports).map_err(|e| run_error(e.into()))?;
        Ok(DayRun { reports, bank, files_read })
    }
    .await;
    source.close().await;
    drop(spool);
    outcome
}

/// `POST /v1/treasury/days/{date}/reconcile`: starts reconciling the day's facilities (or one)
/// against every loaded file in the background and answers `202` at once with the run; a run of
/// the same day already running is answered instead (the request joins it). Each facility-day's
/// report and exceptions are stored as it is done; a closed day is left as it was.
pub async fn reconcile(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(date): Path<String>,
    request: Idempotent<ReconcileRequest>,
) -> Result<Response, ApiError> {
    caller.require_role(&[Role::Treasury])?;
    let date = parse_date(&date)?;
    let as_of = request.body.as_of.unwrap_or_else(|| today(&app).date());
    let facility = match &request.body.facility_id {
        Some(id) => Some(parse_facility(&app, id.as_str()).map_err(|e| e.at("facility_id"))?),
        None => None,
    };
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let mut started = None;
    let outcome: Result<_, ApiError> = async {
        let run = match store::running_treasury_run(itx.tx.conn(), date).await? {
            Some(running) => running,
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                store::insert_treasury_run(
                    &mut itx.tx,
                    &id,
                    date,
                    as_of,
                    facility.as_ref(),
                    caller.user.as_str(),
                    app.clock.now(),
                )
                .await?;
                started = Some(id.clone());
                store::load_treasury_run(itx.tx.conn(), &id)
                    .await?
                    .ok_or_else(|| ApiError::internal("a run just started is not stored"))?
            }
        };
        Ok((StatusCode::ACCEPTED, run_view(&app, itx.tx.conn(), run).await?))
    }
    .await;
    let response = itx.complete(outcome).await?;
    if let Some(id) = started {
        let task = RunTask { app: app.clone(), id, date, as_of, facility, by: caller.user.as_str().to_string() };
        tokio::spawn(task.run());
    }
    Ok(response)
}

/// `GET /v1/treasury/runs/{id}`: a run's state, progress, exceptions so far and end.
pub async fn run(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<TreasuryRunView>, ApiError> {
    caller.require_role(&[Role::Treasury])?;
    let mut conn = app.journal.read().await?;
    let run = store::load_treasury_run(&mut conn, &id).await?.ok_or_else(|| ApiError::not_found("run", &id))?;
    Ok(Json(run_view(&app, &mut conn, run).await?))
}

/// `GET /v1/treasury/days/{date}/run`: the day's latest run (a page that was left comes back to it).
pub async fn latest_run(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(date): Path<String>,
) -> Result<Json<TreasuryRunView>, ApiError> {
    caller.require_role(&[Role::Treasury])?;
    let date = parse_date(&date)?;
    let mut conn = app.journal.read().await?;
    let run = store::latest_treasury_run(&mut conn, date).await?.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "not_reconciled", format!("{date} has not been reconciled yet"))
    })?;
    Ok(Json(run_view(&app, &mut conn, run).await?))
}

async fn run_view(
    app: &AppState,
    conn: &mut sqlx::AnyConnection,
    run: store::StoredTreasuryRun,
) -> Result<TreasuryRunView, ApiError> {
    let state = match run.state.as_str() {
        "running" => RunState::Running,
        "succeeded" => RunState::Succeeded,
        _ => RunState::Failed,
    };
    let facility = run.facility_id.as_deref().and_then(|id| FacilityId::parse(id).ok());
    let end = run.ended_at.unwrap_or_else(|| app.clock.now());
    let elapsed_ms = u64::try_from((end - run.started_at).num_milliseconds()).unwrap_or(0);
    let (done, total) = (run.facility_days_done.max(0) as u64, run.facility_days_total.max(0) as u64);
    let estimate_remaining_ms = match state {
        RunState::Running if done > 0 => Some(elapsed_ms.saturating_mul(total.saturating_sub(done)) / done),
        RunState::Running => None,
        _ => Some(0),
    };
    let result = match &run.result {
        Some(json) => Some(
            serde_json::from_str::<ReconcileResult>(json)
                .map_err(|e| ApiError::internal(format!("stored run result unreadable: {e}")))?,
        ),
        None => None,
    };
    let filter =
        ExceptionFilter { date: Some(run.business_date), facility: facility.clone(), ..ExceptionFilter::default() };
    let exceptions = store::list_exceptions(conn, &filter).await?;
    Ok(TreasuryRunView {
        run_id: run.id,
        business_date: run.business_date,
        as_of: run.as_of,
        facility_id: facility,
        state,
        facility_days_done: done,
        facility_days_total: total,
        files_read: run.files_read.max(0) as u64,
        exceptions_found: run.exceptions_found.max(0) as u64,
        started_by: run.started_by,
        started_at: run.started_at,
        ended_at: run.ended_at,
        elapsed_ms,
        estimate_remaining_ms,
        error: run.error,
        result,
        exceptions,
    })
}

/// Marks the runs a stopped gateway left `running` failed (no run survives its process): called
/// when a gateway starts.
pub async fn fail_unfinished_runs(app: &AppState) -> Result<u64, ApiError> {
    let mut tx = app.journal.begin_write().await?;
    let failed = store::fail_unfinished_treasury_runs(&mut tx, app.clock.now()).await?;
    tx.commit().await?;
    if failed > 0 {
        tracing::warn!(runs = failed, "reconciliation runs left unfinished by a stopped gateway marked failed");
    }
    Ok(failed)
}

/// A run in the background.
struct RunTask {
    app: AppState,
    id: String,
    date: BusinessDate,
    as_of: chrono::NaiveDate,
    facility: Option<FacilityId>,
    by: String,
}

impl RunTask {
    async fn run(self) {
        let outcome = self.work().await;
        let ended: Result<(), ApiError> = async {
            let mut tx = self.app.journal.begin_write().await?;
            match &outcome {
                Ok(result) => {
                    let json =
                        serde_json::to_string(result).map_err(|e| ApiError::internal(format!("run result: {e}")))?;
                    store::end_treasury_run(&mut tx, &self.id, Ok(&json), self.app.clock.now()).await?;
                }
                Err(error) => {
                    tracing::error!(run = %self.id, error = %error.message, "reconciliation run failed");
                    store::end_treasury_run(&mut tx, &self.id, Err(&error.message), self.app.clock.now()).await?;
                }
            }
            tx.commit().await?;
            Ok(())
        }
        .await;
        if let Err(error) = ended {
            tracing::error!(run = %self.id, error = %error.message, "cannot record the end of a reconciliation run");
        }
    }

    async fn progress(&self, figures: (i64, i64, i64, i64)) -> Result<(), ApiError> {
        let mut tx = self.app.journal.begin_write().await?;
        store::treasury_run_progress(&mut tx, &self.id, figures, self.app.clock.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn work(&self) -> Result<ReconcileResult, ApiError> {
        let app = &self.app;
        let date = self.date;
        let (facilities, closed) = {
            let mut conn = app.journal.read().await?;
            let facilities: Vec<FacilityId> = match &self.facility {
                Some(id) => vec![id.clone()],
                None => store::day_figures(&mut conn, date)
                    .await?
                    .into_keys()
                    .filter_map(|id| FacilityId::parse(&id).ok())
                    .filter(|id| app.config.facility(id).is_some())
                    .collect(),
            };
            let closed: Vec<FacilityId> =
                store::closed_days_of(&mut conn, date).await?.into_iter().map(|c| c.facility_id).collect();
            (facilities, closed)
        };
        let open: Vec<FacilityId> = facilities.iter().filter(|facility| !closed.contains(facility)).cloned().collect();
        let total = i64::try_from(open.len()).unwrap_or(i64::MAX);
        self.progress((0, total, 0, 0)).await?;
        // Each facility-day's report is stored as it is done, by a task of its own, so that its
        // exceptions show while the run goes on.
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<DayReport>();
        let storing = async {
            let (mut done, mut exceptions) = (0_i64, 0_i64);
            while let Some(report) = receiver.recv().await {
                let mut tx = app.journal.begin_write().await?;
                if store::closed_day(tx.conn(), &report.facility, date).await?.is_none() {
                    let json = report::to_json(&report).map_err(|e| ApiError::internal(format!("report: {e}")))?;
                    store::store_run(
                        &mut tx,
                        &report.facility,
                        date,
                        self.as_of,
                        &json,
                        &report.exceptions.rows,
                        &self.by,
                        app.clock.now(),
                    )
                    .await?;
                }
                done += 1;
                exceptions += i64::try_from(report.exceptions.count).unwrap_or(i64::MAX);
                store::treasury_run_progress(&mut tx, &self.id, (done, total, -1, exceptions), app.clock.now()).await?;
                tx.commit().await?;
            }
            Ok::<(), ApiError>(())
        };
        let running = async {
            let outcome = run_day(app, date, self.as_of, open, |report| {
                sender.send(report.clone()).ok();
            })
            .await;
            drop(sender);
            outcome
        };
        let (outcome, stored) = tokio::join!(running, storing);
        stored?;
        let DayRun { reports, bank: bank_report, files_read } = outcome?;
        let mut tx = app.journal.begin_write().await?;
        let json = report::to_json(&bank_report).map_err(|e| ApiError::internal(format!("bank report: {e}")))?;
        store::store_bank_run(
            &mut tx,
            date,
            self.as_of,
            &json,
            &bank_report.exceptions.rows,
            &self.by,
            app.clock.now(),
        )
        .await?;
        tx.commit().await?;
        let mut outcome = Vec::new();
        for facility in &facilities {
            outcome.push(match reports.iter().find(|report| &report.facility == facility) {
                Some(report) => ReconciledFacility {
                    facility_id: facility.clone(),
                    gross: report.revenue.amount_total,
                    exceptions: report.exceptions.count,
                    outcome: "reconciled".to_string(),
                },
                None => ReconciledFacility {
                    facility_id: facility.clone(),
                    gross: Yen::ZERO,
                    exceptions: 0,
                    outcome: "closed".to_string(),
                },
            });
        }
        let exceptions = reports.iter().map(|report| report.exceptions.count).sum::<u64>();
        self.progress((
            total,
            total,
            i64::try_from(files_read).unwrap_or(i64::MAX),
            i64::try_from(exceptions).unwrap_or(i64::MAX),
        ))
        .await?;
        Ok(ReconcileResult {
            business_date: date,
            as_of: self.as_of,
            files_used: files_read,
            facilities: outcome,
            city_exceptions: bank_report.exceptions.count,
        })
    }
}

/// `GET /v1/treasury/days/{date}`: every facility's standing that day.
pub async fn board(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(date): Path<String>,
) -> Result<Json<DayBoard>, ApiError> {
    caller.require_role(&[Role::Treasury])?;
    let date = parse_date(&date)?;
    let mut conn = app.journal.read().await?;
    let figures = store::day_figures(&mut conn, date).await?;
    let runs = store::runs_of_date(&mut conn, date).await?;
    let closed = store::closed_days_of(&mut conn, date).await?;
    let (city_open, city_resolved) = store::city_exception_counts(&mut conn, date).await?;
    let bank = match store::bank_run(&mut conn, date).await? {
        Some(json) => Some(bank_report_of(&json)?),
        None => None,
    };
    let mut rows = Vec::new();
    for facility in &app.config.facilities {
        let f = figures.get(facility.id.as_str()).cloned().unwrap_or_default();
        let run = runs.iter().find(|r| r.facility_id == facility.id.as_str());
        let close = closed.iter().find(|c| c.facility_id == facility.id);
        let status = if close.is_some() {
            DayStatus::Closed
        } else if f.shifts_open > 0 {
            DayStatus::ShiftsOpen
        } else if run.is_none() && f.shifts_closed == 0 && f.sales_count == 0 {
            DayStatus::Idle
        } else if run.is_none() {
            DayStatus::NotReconciled
        } else if f.exceptions_open > 0 {
            DayStatus::Exceptions
        } else {
            DayStatus::Reconciled
        };
        let yen = |value: i64| Yen::new(value).map_err(|_| ApiError::internal("a day's total is out of range"));
        rows.push(DayBoardRow {
            facility_id: facility.id.clone(),
            name_ja: facility.name_ja.clone(),
            name_en: facility.name_en.clone(),
            owner: report::owner_code(&facility.owner),
            status,
            shifts_open: f.shifts_open as u64,
            shifts_closed: f.shifts_closed as u64,
            sales_count: f.sales_count as u64,
            taken: yen(f.taken)?,
            taken_cashless: yen(f.taken_cashless)?,
            cash_over_short: yen(f.over_short)?,
            reconciled_at: run.map(|r| r.run_at),
            exceptions_open: f.exceptions_open as u64,
            exceptions_resolved: f.exceptions_resolved as u64,
            closed_at: close.map(|c| c.closed_at),
            closed_by: close.map(|c| c.closed_by.clone()),
        });
    }
    Ok(Json(DayBoard {
        business_date: date,
        facilities: rows,
        city_exceptions_open: city_open as u64,
        city_exceptions_resolved: city_resolved as u64,
        bank_lines: bank.as_ref().map_or(0, |bank| bank.lines_count),
        bank_lines_unmatched: bank.as_ref().map_or(0, |bank| bank.unmatched_count),
    }))
}

fn bank_report_of(json: &str) -> Result<BankReport, ApiError> {
    serde_json::from_str(json).map_err(|e| ApiError::internal(format!("stored bank report unreadable: {e}")))
}

/// `GET /v1/treasury/days/{date}/bank?format=json|csv&section=lines|exceptions`: the bank
/// statement as the day's latest run read it (every line with what it is, every payout with its
/// credit) and the city's list.
pub async fn bank_statement(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(date): Path<String>,
    QueryParams(query): QueryParams<ReportQuery>,
) -> Result<Response, ApiError> {
    caller.require_role(&[Role::Treasury])?;
    let date = parse_date(&date)?;
    let json = {
        let mut conn = app.journal.read().await?;
        store::bank_run(&mut conn, date).await?
    };
    let json = json.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_reconciled",
            format!("{date} has not been reconciled; run the reconciliation first"),
        )
    })?;
    let bank = bank_report_of(&json)?;
    match query.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(bank).into_response()),
        "csv" => match query.section.as_deref().unwrap_or("lines") {
            "lines" => Ok(csv_download(&format!("bank-{date}-lines.csv"), report::csv::bank_lines(&bank).to_bytes())),
            "exceptions" => Ok(csv_download(
                &format!("bank-{date}-city-exceptions.csv"),
                report::csv::city_exceptions(&bank).to_bytes(),
            )),
            other => Err(ApiError::unprocessable("invalid_section", format!("{other:?} is not lines or exceptions"))
                .at("section")),
        },
        other => Err(ApiError::unprocessable("invalid_format", format!("{other:?} is not json or csv")).at("format")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub section: Option<String>,
}

async fn stored_report(app: &AppState, facility: &FacilityId, date: BusinessDate) -> Result<DayReport, ApiError> {
    let mut conn = app.journal.read().await?;
    let run = store::load_run(&mut conn, facility, date).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_reconciled",
            format!("facility {facility} has not been reconciled for {date}; run the reconciliation first"),
        )
    })?;
    serde_json::from_str(&run.report_json).map_err(|e| ApiError::internal(format!("stored report unreadable: {e}")))
}

fn csv_download(name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /v1/treasury/days/{date}/facilities/{id}/report?format=json|html|csv&section=`: the
/// stored daily report. CSV comes per section (`revenue`, `cash`, `cashless`, `exceptions`).
pub async fn day_report(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((date, facility)): Path<(String, String)>,
    QueryParams(query): QueryParams<ReportQuery>,
) -> Result<Response, ApiError> {
    caller.require_role(&[Role::Treasury])?;
    let date = parse_date(&date)?;
    let facility = parse_facility(&app, &facility)?;
    let report = stored_report(&app, &facility, date).await?;
    match query.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(report).into_response()),
        "html" => Ok(Html(report::html::day_report_page(&report)).into_response()),
        "csv" => {
            let section = query.section.as_deref().unwrap_or("revenue");
            let table = report::csv::day_report_section(&report, section).ok_or_else(|| {
                ApiError::unprocessable(
                    "invalid_section",
                    format!("{section:?} is not one of {}", report::csv::DAY_REPORT_SECTIONS.join(", ")),
                )
                .at("section")
            })?;
            Ok(csv_download(&format!("{facility}-{date}-{section}.csv"), table.to_bytes()))
        }
        other => {
            Err(ApiError::unprocessable("invalid_format", format!("{other:?} is not json, html or csv")).at("format"))
        }
    }
}

/// `GET /v1/treasury/days/{date}/accounting-export`: the accounting system's journal entries of
/// every facility reconciled that day (fees of exceptions treasury resolved expensed, of open
/// ones held in suspense), and of the bank lines booked that day as the statement was last read,
/// as CSV.
pub async fn accounting_export(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(date): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_role(&[Role::Treasury])?;
    let date = parse_date(&date)?;
    let (runs, resolved, bank) = {
        let mut conn = app.journal.read().await?;
        (
            store::runs_of_date(&mut conn, date).await?,
            store::resolved_keys(&mut conn, date).await?,
            store::latest_bank_run(&mut conn).await?,
        )
    };
    let export = |e: reconciler::error::ReconcileError| ApiError::internal(format!("accounting export: {e}"));
    let mut entries = Vec::new();
    let mut reports = Vec::new();
    for run in runs {
        let report: DayReport = serde_json::from_str(&run.report_json)
            .map_err(|e| ApiError::internal(format!("stored report unreadable: {e}")))?;
        entries.extend(report::accounting::journal_entries(&report, &app.config, &resolved).map_err(export)?);
        reports.push(report);
    }
    let unbalanced =
        |e: report::totals::ReportTotalsError| ApiError::internal(format!("the export's totals do not add up: {e}"));
    report::totals::check_receivables(&reports, &entries, &app.config).map_err(unbalanced)?;
    if let Some(json) = bank {
        let bank = bank_report_of(&json)?;
        entries.extend(
            report::accounting::bank_entries(&bank, &app.config, |booked| booked == date.date()).map_err(export)?,
        );
    }
    report::totals::check_journal_entries(&entries).map_err(unbalanced)?;
    Ok(csv_download(&format!("accounting-{date}.csv"), report::csv::journal_entries(&entries).to_bytes()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionQuery {
    #[serde(default)]
    pub business_date: Option<String>,
    #[serde(default)]
    pub facility_id: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    /// `city` for the city's list only, `facility` for the facility-days' only.
    #[serde(default)]
    pub level: Option<String>,
}

/// `GET /v1/treasury/exceptions?business_date=&facility_id=&kind=&state=&level=`.
pub async fn exceptions(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    QueryParams(query): QueryParams<ExceptionQuery>,
) -> Result<Json<ExceptionList>, ApiError> {
    caller.require_role(&[Role::Treasury])?;
    let state = match query.state.as_deref() {
        None | Some("") => None,
        Some("open") => Some(ExceptionState::Open),
        Some("resolved") => Some(ExceptionState::Resolved),
        Some("cleared") => Some(ExceptionState::Cleared),
        Some(other) => {
            return Err(ApiError::unprocessable("invalid_state", format!("{other:?} is not open, resolved or cleared"))
                .at("state"))
        }
    };
    let filter = ExceptionFilter {
        date: query.business_date.as_deref().filter(|d| !d.is_empty()).map(parse_date).transpose()?,
        facility: query
            .facility_id
            .as_deref()
            .filter(|f| !f.is_empty())
            .map(|f| parse_facility(&app, f).map_err(|e| e.at("facility_id")))
            .transpose()?,
        facilities: None,
        kind: query.kind.clone().filter(|k| !k.is_empty()),
        state,
        level: match query.level.as_deref() {
            None | Some("") => None,
            Some("city") => Some(ExceptionLevel::City),
            Some("facility") => Some(ExceptionLevel::Facility),
            Some(other) => {
                return Err(
                    ApiError::unprocessable("invalid_level", format!("{other:?} is not city or facility")).at("level")
                )
            }
        },
    };
    let mut conn = app.journal.read().await?;
    Ok(Json(ExceptionList { exceptions: store::list_exceptions(&mut conn, &filter).await? }))
}

/// `POST /v1/treasury/exceptions/{id}/resolve`: what was done and why; who and when are recorded.
pub async fn resolve_exception(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    request: Idempotent<ResolveExceptionRequest>,
) -> Result<Response, ApiError> {
    caller.require_role(&[Role::Treasury])?;
    for (field, text) in [("action", &request.body.action), ("note", &request.body.note)] {
        if text.trim().is_empty() || text.chars().count() > RESOLUTION_CHARS_MAX {
            return Err(ApiError::unprocessable(
                "invalid_resolution",
                format!("{field} must be 1–{RESOLUTION_CHARS_MAX} characters"),
            )
            .at(field));
        }
    }
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let outcome: Result<_, ApiError> = async {
        let exception =
            store::load_exception(itx.tx.conn(), &id).await?.ok_or_else(|| ApiError::not_found("exception", &id))?;
        if let Some(facility) = &exception.facility_id {
            if store::closed_day(itx.tx.conn(), facility, exception.business_date).await?.is_some() {
                return Err(ApiError::conflict(
                    "day_closed",
                    format!("{} of {facility} is closed", exception.business_date),
                ));
            }
        }
        let now = app.clock.now();
        let done = store::resolve_exception(
            &mut itx.tx,
            &id,
            request.body.action.trim(),
            request.body.note.trim(),
            caller.user.as_str(),
            now,
        )
        .await?;
        if !done {
            return Err(ApiError::conflict("exception_not_open", format!("exception {id} is not open")));
        }
        let resolved =
            store::load_exception(itx.tx.conn(), &id).await?.ok_or_else(|| ApiError::not_found("exception", &id))?;
        Ok((StatusCode::OK, resolved))
    }
    .await;
    itx.complete(outcome).await
}

/// `POST /v1/treasury/days/{date}/facilities/{id}/close`: closes a reconciled facility-day whose
/// shifts are all closed and whose exceptions are all resolved. From then on it is immutable.
pub async fn close_day(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((date, facility)): Path<(String, String)>,
    request: Idempotent<serde_json::Value>,
) -> Result<Response, ApiError> {
    caller.require_role(&[Role::Treasury])?;
    let date = parse_date(&date)?;
    let facility = parse_facility(&app, &facility)?;
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let outcome: Result<_, ApiError> = async {
        if store::closed_day(itx.tx.conn(), &facility, date).await?.is_some() {
            return Err(ApiError::conflict("day_closed", format!("{date} of {facility} is already closed")));
        }
        let figures = store::day_figures(itx.tx.conn(), date).await?;
        let open_shifts = figures.get(facility.as_str()).map_or(0, |f| f.shifts_open);
        if open_shifts > 0 {
            return Err(ApiError::conflict(
                "shifts_open",
                format!("{open_shifts} shift(s) of {facility} on {date} are still open; close them first"),
            ));
        }
        // Nothing of the day may still be on its way: a closed day never changes.
        let unsettled = crate::journal::payments::unsettled_of_day(itx.tx.conn(), facility.as_str(), date).await?;
        if let Some(payment) = unsettled.first() {
            return Err(ApiError::conflict(
                "payments_unsettled",
                format!(
                    "{} payment(s) of {facility} on {date} are still pending or returning money (e.g. {}); wait for them or resolve them first",
                    unsettled.len(),
                    payment
                ),
            ));
        }
        let run = store::load_run(itx.tx.conn(), &facility, date).await?.ok_or_else(|| {
            ApiError::conflict("not_reconciled", format!("{facility} has not been reconciled for {date}"))
        })?;
        let filter = ExceptionFilter {
            date: Some(date),
            facility: Some(facility.clone()),
            state: Some(ExceptionState::Open),
            ..ExceptionFilter::default()
        };
        let open = store::list_exceptions(itx.tx.conn(), &filter).await?;
        if !open.is_empty() {
            return Err(ApiError::conflict(
                "exceptions_open",
                format!("{} exception(s) of {facility} on {date} are still open; resolve them first", open.len()),
            ));
        }
        let (city_open, _) = store::city_exception_counts(itx.tx.conn(), date).await?;
        if city_open > 0 {
            return Err(ApiError::conflict(
                "statement_unaccounted",
                format!(
                    "{city_open} item(s) of the city's list of {date} (payouts, bank lines nothing explains) are still open; \
                     a statement whose lines are not all accounted for cannot close the day"
                ),
            ));
        }
        let view = ClosedDayView {
            facility_id: facility.clone(),
            business_date: date,
            closed_at: app.clock.now(),
            closed_by: caller.user.clone(),
            report_sha256: hex::encode(Sha256::digest(run.report_json.as_bytes())),
        };
        store::close_day(&mut itx.tx, &view).await?;
        Ok((StatusCode::OK, view))
    }
    .await;
    itx.complete(outcome).await
}
