//! What a run needs besides reconciling itself (which [`crate::scale::run`] does, the one path
//! of the `reconcile` command, the treasury API and the benchmark): the files given, the report
//! formats, every facility's cash to deposit for the bank statement, and writing the reports in
//! the formats asked for, with the bank's lines and the city's list beside them.
//!
//! Files are named in every report by their file name, never by the path they were read from.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate};
use pos_config::Config;
use pos_core::{Brand, BusinessDate, FacilityId};

use crate::bank::{BankReconciliation, ExpectedDeposit};
use crate::calendar::{CalendarError, CLOSED_DAYS_RUN_MAX};
use crate::day::{DayResult, TotalsError};
use crate::error::ReconcileError;
use crate::inputs::bank::StatementEntry;
use crate::inputs::error::{FileRejected, InputError};
use crate::journal::DayJournal;
use crate::report::bank::BankReport;
use crate::report::totals::ReportTotalsError;
use crate::report::{self, DayReport};
use crate::source::{JournalSource, SourceError};

/// The largest bank statement read into memory (settlement files are streamed, whatever their
/// size).
pub const INPUT_FILE_BYTES_MAX: u64 = 512 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is larger than {INPUT_FILE_BYTES_MAX} bytes")]
    TooLarge { path: String },
    #[error("{0}")]
    Rejected(#[from] FileRejected),
    #[error("{0}")]
    Duplicate(#[from] InputError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error("the reconciled day's totals do not add up: {0}")]
    Totals(#[from] TotalsError),
    #[error("the report's totals do not add up: {0}")]
    ReportTotals(#[from] ReportTotalsError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The files given for a run.
#[derive(Debug, Clone, Default)]
pub struct InputFiles {
    pub card: Vec<PathBuf>,
    pub qr: Vec<(Brand, PathBuf)>,
    pub emoney: Vec<PathBuf>,
    pub bank: Option<PathBuf>,
}

/// The report formats to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Formats {
    pub json: bool,
    pub csv: bool,
    pub html: bool,
}

/// A file's name as reports name it: the name alone, never the machine's path to it.
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |name| name.to_string_lossy().into_owned())
}

/// What a settlement or bank file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Card,
    Qr(Brand),
    Emoney,
    Bank,
}

/// A reconciled facility-day with its journal and report.
#[derive(Debug, Clone)]
pub struct ReconciledDay {
    pub journal: DayJournal,
    pub result: DayResult,
    pub report: DayReport,
}

/// How far before the statement's first booking date a facility-day's cash deposit may lie: the
/// longest run of bank holidays, so that no deposit the statement may hold is left out.
pub const DEPOSIT_LOOKBACK_DAYS: u64 = CLOSED_DAYS_RUN_MAX as u64;

/// Every facility's cash to deposit on the days the statement's lines may pay.
pub async fn deposits_for_statement(
    source: &JournalSource,
    bank: &[StatementEntry],
) -> Result<Vec<ExpectedDeposit>, PipelineError> {
    let (Some(first), Some(last)) =
        (bank.iter().map(|entry| entry.booking_date).min(), bank.iter().map(|entry| entry.booking_date).max())
    else {
        return Ok(Vec::new());
    };
    let from = first.checked_sub_days(Days::new(DEPOSIT_LOOKBACK_DAYS)).unwrap_or(first);
    Ok(source.cash_to_deposit(BusinessDate::new(from), BusinessDate::new(last)).await?)
}

/// The bank report of a run that reconciled `reports`, checked.
pub fn bank_report(bank: &BankReconciliation, reports: &[DayReport]) -> Result<BankReport, PipelineError> {
    let reconciled: BTreeSet<(FacilityId, BusinessDate)> =
        reports.iter().map(|report| (report.facility.clone(), report.business_date)).collect();
    let report = BankReport::build(bank, &reconciled)?;
    report::totals::check_bank_report(&report)?;
    Ok(report)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), PipelineError> {
    std::fs::write(path, bytes).map_err(|source| PipelineError::Write { path: path.display().to_string(), source })
}

/// Writes a day report into `out` in the formats asked for; returns the files written.
pub fn write_day_report(report: &DayReport, out: &Path, formats: Formats) -> Result<Vec<PathBuf>, PipelineError> {
    std::fs::create_dir_all(out).map_err(|source| PipelineError::Write { path: out.display().to_string(), source })?;
    let stem = format!("{}-{}", report.facility, report.business_date);
    let mut written = Vec::new();
    if formats.json {
        let path = out.join(format!("{stem}.json"));
        write_file(&path, report::to_json(report)?.as_bytes())?;
        written.push(path);
    }
    if formats.csv {
        for (name, bytes) in report::csv::day_report_files(report) {
            let path = out.join(name);
            write_file(&path, &bytes)?;
            written.push(path);
        }
    }
    if formats.html {
        let path = out.join(format!("{stem}.html"));
        write_file(&path, report::html::day_report_page(report).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

/// Writes the city-wide and per-operator summaries, the bank's lines and the city's list, and the
/// accounting export of several facility-days into `out`, checking their totals first. The
/// export books the bank lines whose booking date is within `bank_dates` (each line once, on its
/// date); every exception is taken as still open (the command line keeps no resolutions).
pub fn write_summaries(
    reports: &[DayReport],
    bank: &BankReport,
    config: &Config,
    out: &Path,
    formats: Formats,
    stem: &str,
    bank_dates: (NaiveDate, NaiveDate),
) -> Result<Vec<PathBuf>, PipelineError> {
    std::fs::create_dir_all(out).map_err(|source| PipelineError::Write { path: out.display().to_string(), source })?;
    let city = report::summary::CitySummary::build(reports, bank, config)?;
    report::totals::check_city_summary(&city)?;
    let operators = report::summary::OperatorSummary::build(reports, config)?;
    report::totals::check_operator_summary(&operators)?;
    let mut entries = Vec::new();
    let resolved = BTreeSet::new();
    for day in reports {
        entries.extend(report::accounting::journal_entries(day, config, &resolved)?);
    }
    report::totals::check_receivables(reports, &entries, config)?;
    let (from, to) = bank_dates;
    entries.extend(report::accounting::bank_entries(bank, config, |date| date >= from && date <= to)?);
    report::totals::check_journal_entries(&entries)?;
    let mut written = Vec::new();
    let mut put = |name: String, bytes: Vec<u8>| -> Result<(), PipelineError> {
        let path = out.join(name);
        write_file(&path, &bytes)?;
        written.push(path);
        Ok(())
    };
    if formats.json {
        put(format!("{stem}-city-summary.json"), report::to_json(&city)?.into_bytes())?;
        put(format!("{stem}-operator-summary.json"), report::to_json(&operators)?.into_bytes())?;
        put(format!("{stem}-bank.json"), report::to_json(bank)?.into_bytes())?;
    }
    if formats.csv || formats.html {
        put(format!("{stem}-city-summary.csv"), report::csv::city_summary(&city).to_bytes())?;
        put(format!("{stem}-operator-summary.csv"), report::csv::operator_summary(&operators).to_bytes())?;
        put(format!("{stem}-bank-lines.csv"), report::csv::bank_lines(bank).to_bytes())?;
        put(format!("{stem}-city-exceptions.csv"), report::csv::city_exceptions(bank).to_bytes())?;
    }
    // The accounting system takes CSV only, so the export is written whatever the formats.
    put(format!("{stem}-journal-entries.csv"), report::csv::journal_entries(&entries).to_bytes())?;
    Ok(written)
}
