//! What the `reconcile` command does, as library functions so that tests call the same code:
//! read the settlement and bank files a day needs (each once, by content hash), reconcile a
//! facility-day from the journal database, and write its reports in the formats asked for.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use pos_config::Config;
use pos_core::{Brand, BusinessDate, FacilityId};

use crate::calendar::{BankCalendar, CalendarError};
use crate::day::{reconcile_day, DayContext, DayResult, TotalsError};
use crate::error::ReconcileError;
use crate::inputs::bank::{read_bank_statement, BankReadOptions, StatementEntry};
use crate::inputs::card::read_card_settlement;
use crate::inputs::emoney::read_emoney_settlement;
use crate::inputs::error::{FileRejected, InputError};
use crate::inputs::file_id::LoadedFiles;
use crate::inputs::qr::read_qr_settlement;
use crate::journal::DayJournal;
use crate::report::totals::ReportTotalsError;
use crate::report::{self, DayReport};
use crate::settlements::{CardFile, EmoneyFile, QrFile, Settlements};
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

fn read_bytes(path: &Path) -> Result<(String, Vec<u8>), PipelineError> {
    let shown = path.display().to_string();
    let metadata = std::fs::metadata(path).map_err(|source| PipelineError::Read { path: shown.clone(), source })?;
    if metadata.len() > INPUT_FILE_BYTES_MAX {
        return Err(PipelineError::TooLarge { path: shown });
    }
    let bytes = std::fs::read(path).map_err(|source| PipelineError::Read { path: shown.clone(), source })?;
    Ok((shown, bytes))
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

/// Reads the facility-day from the journal, reconciles it and builds its report, checking
/// every total on the way.
#[allow(clippy::too_many_arguments)]
pub async fn reconcile_from_journal(
    source: &JournalSource,
    config: &Config,
    calendar: &BankCalendar,
    facility: &FacilityId,
    date: BusinessDate,
    settlements: &Settlements,
    bank: &[StatementEntry],
    as_of: NaiveDate,
) -> Result<ReconciledDay, PipelineError> {
    let journal = source.read_day(facility, date).await?;
    let context = DayContext { config, calendar, as_of };
    let result = reconcile_day(facility, date, &journal, settlements, bank, &context)?;
    result.check_totals()?;
    let report = DayReport::build(&result, &journal, config)?;
    report::totals::check_day_report(&report)?;
    Ok(ReconciledDay { journal, result, report })
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

/// Writes the city-wide and per-operator summaries and the accounting export of several
/// facility-days into `out`, checking their totals first.
pub fn write_summaries(
    reports: &[DayReport],
    config: &Config,
    out: &Path,
    formats: Formats,
    stem: &str,
) -> Result<Vec<PathBuf>, PipelineError> {
    std::fs::create_dir_all(out).map_err(|source| PipelineError::Write { path: out.display().to_string(), source })?;
    let city = report::summary::CitySummary::build(reports, config)?;
    report::totals::check_city_summary(&city)?;
    let operators = report::summary::OperatorSummary::build(reports, config)?;
    report::totals::check_operator_summary(&operators)?;
    let mut entries = Vec::new();
    for day in reports {
        entries.extend(report::accounting::journal_entries(day, config)?);
    }
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
    }
    if formats.csv || formats.html {
        put(format!("{stem}-city-summary.csv"), report::csv::city_summary(&city).to_bytes())?;
        put(format!("{stem}-operator-summary.csv"), report::csv::operator_summary(&operators).to_bytes())?;
    }
    // The accounting system takes CSV only, so the export is written whatever the formats.
    put(format!("{stem}-journal-entries.csv"), report::csv::journal_entries(&entries).to_bytes())?;
    Ok(written)
}
