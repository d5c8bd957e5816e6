//! What the `reconcile` command does, as library functions so that tests call the same code:
//! read the settlement and bank files a day needs (each once, by content hash), reconcile the
//! bank statement once for the run against every payout and every facility's cash to deposit
//! ([`prepare_run`]), reconcile each facility-day from the journal database, and write the
//! reports in the formats asked for, with the bank's lines and the city's list beside them.
//!
//! Files are named in every report by their file name, never by the path they were read from.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate};
use pos_config::Config;
use pos_core::{Brand, BusinessDate, FacilityId};

use crate::bank::{self, BankReconciliation, ExpectedDeposit};
use crate::calendar::{BankCalendar, CalendarError, CLOSED_DAYS_RUN_MAX};
use crate::day::{reconcile_facility_day, DayContext, DayResult, TotalsError};
use crate::error::ReconcileError;
use crate::inputs::bank::{read_bank_statement, BankReadOptions, StatementEntry};
use crate::inputs::card::read_card_settlement;
use crate::inputs::emoney::read_emoney_settlement;
use crate::inputs::error::{FileRejected, InputError};
use crate::inputs::file_id::LoadedFiles;
use crate::inputs::qr::read_qr_settlement;
use crate::journal::DayJournal;
use crate::matching;
use crate::report::bank::BankReport;
use crate::report::totals::ReportTotalsError;
use crate::report::{self, DayReport};
use crate::settlements::{CardFile, EmoneyFile, QrFile, SettlementLine, SettlementTotals, Settlements};
use crate::source::{JournalSource, SourceError};

/// The largest settlement or bank file read into memory.
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

/// Reads a file, returning it under its file name (errors reading it name the path).
fn read_bytes(path: &Path) -> Result<(String, Vec<u8>), PipelineError> {
    let shown = path.display().to_string();
    let metadata = std::fs::metadata(path).map_err(|source| PipelineError::Read { path: shown.clone(), source })?;
    if metadata.len() > INPUT_FILE_BYTES_MAX {
        return Err(PipelineError::TooLarge { path: shown });
    }
    let bytes = std::fs::read(path).map_err(|source| PipelineError::Read { path: shown.clone(), source })?;
    Ok((file_name(path), bytes))
}

/// What a settlement or bank file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Card,
    Qr(Brand),
    Emoney,
    Bank,
}

/// One file's content, named as its errors will name it.
#[derive(Debug, Clone)]
pub struct InputBytes {
    pub kind: InputKind,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The files' contents, each checked and each refused if the same content was given twice.
pub fn load_inputs(
    files: &InputFiles,
    read_on: NaiveDate,
) -> Result<(Settlements, Vec<StatementEntry>), PipelineError> {
    let mut inputs = Vec::new();
    let mut read = |kind, path: &Path| -> Result<(), PipelineError> {
        let (name, bytes) = read_bytes(path)?;
        inputs.push(InputBytes { kind, name, bytes });
        Ok(())
    };
    for path in &files.card {
        read(InputKind::Card, path)?;
    }
    for (brand, path) in &files.qr {
        read(InputKind::Qr(*brand), path)?;
    }
    for path in &files.emoney {
        read(InputKind::Emoney, path)?;
    }
    if let Some(path) = &files.bank {
        read(InputKind::Bank, path)?;
    }
    load_input_bytes(&inputs, read_on)
}

/// As [`load_inputs`], for contents already in memory (files a client uploaded): every bank
/// statement given is read.
pub fn load_input_bytes(
    inputs: &[InputBytes],
    read_on: NaiveDate,
) -> Result<(Settlements, Vec<StatementEntry>), PipelineError> {
    let mut loaded = LoadedFiles::new();
    let mut settlements = Settlements::default();
    let mut bank = Vec::new();
    for InputBytes { kind, name, bytes } in inputs {
        loaded.register_bytes(name, bytes)?;
        let name = name.clone();
        match *kind {
            InputKind::Card => {
                settlements.card.push(CardFile { settlement: read_card_settlement(&name, bytes)?, name });
            }
            InputKind::Qr(brand) => {
                settlements.qr.push(QrFile { records: read_qr_settlement(&name, brand, bytes)?, name });
            }
            InputKind::Emoney => {
                settlements.emoney.push(EmoneyFile { records: read_emoney_settlement(&name, bytes)?, name });
            }
            InputKind::Bank => {
                let statement = read_bank_statement(&name, bytes, BankReadOptions::new(read_on))?;
                bank.extend(statement.accounts.into_iter().flat_map(|account| account.entries));
            }
        }
    }
    Ok((settlements, bank))
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

/// What every facility-day of a run shares: the settlement lines, their totals, and the bank
/// statement reconciled once against everything.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub lines: Vec<SettlementLine>,
    pub totals: SettlementTotals,
    pub bank: BankReconciliation,
}

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

/// Reads the settlement lines once, and reconciles the bank statement against every payout and
/// every facility's cash to deposit of its dates.
pub async fn prepare_run(
    source: &JournalSource,
    config: &Config,
    calendar: &BankCalendar,
    settlements: &Settlements,
    bank: &[StatementEntry],
    as_of: NaiveDate,
) -> Result<RunContext, PipelineError> {
    let lines = settlements.lines()?;
    let totals = SettlementTotals::of(settlements, &lines, config)?;
    let deposits = deposits_for_statement(source, bank).await?;
    let context = DayContext { config, calendar, as_of };
    let bank = bank::reconcile_bank(bank, &totals, &deposits, &context.bank())?;
    Ok(RunContext { lines, totals, bank })
}

/// Reads the facility-day from the journal, reconciles it and builds its report, checking
/// every total on the way.
pub async fn reconcile_from_journal(
    source: &JournalSource,
    config: &Config,
    calendar: &BankCalendar,
    run: &RunContext,
    facility: &FacilityId,
    date: BusinessDate,
    as_of: NaiveDate,
) -> Result<ReconciledDay, PipelineError> {
    let journal = source.read_day(facility, date).await?;
    let context = DayContext { config, calendar, as_of };
    let facility_config = config.facility(facility).ok_or_else(|| ReconcileError::UnknownFacility(facility.clone()))?;
    let lines = matching::facility_lines(facility_config, &journal, &run.lines);
    let result = reconcile_facility_day(facility, date, &journal, lines, &run.totals, &run.bank, &context)?;
    result.check_totals()?;
    let report = DayReport::build(&result, &journal, config)?;
    report::totals::check_day_report(&report)?;
    Ok(ReconciledDay { journal, result, report })
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
