//! Reconciling many facility-days in bounded memory.
//!
//! [`spool_inputs`] reads every settlement file once, line by line through the streaming readers
//! of [`crate::inputs`] (each file checked whole, every error with file, line and column, each
//! file refused if its content was already loaded), appends each line to its facility-day
//! partition ([`super::spool`]) and adds it to the [`SettlementTotals`] every facility-day needs
//! (each payout's whole net, each card file's net against its trailer). [`reconcile_range`] then
//! walks the dates, and for each date the facilities with journal activity, reading one
//! facility-day's journal and its lines, reconciling, checking the totals, building the report
//! and handing it to the caller's sink before the next is read.
//!
//! Peak memory is bounded by the largest facility-day (its journal, its settlement lines of
//! [`super::spool::LINE_WINDOW_DAYS`] either side, its result and report), plus
//! [`super::spool::OPEN_PARTITIONS_MAX`] write buffers while spooling, plus the totals (one entry
//! per payout and per settlement file: a few hundred bytes a day), plus the list of one date's
//! active facilities. It does not grow with the number of days or facilities reconciled.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use chrono::{Days, NaiveDate};
use futures::StreamExt;
use pos_config::Config;
use pos_core::{BusinessDate, FacilityId};

use crate::bank::BankReconciliation;
use crate::calendar::BankCalendar;
use crate::day::{reconcile_facility_day, DayContext};
use crate::inputs::bank::{read_bank_statement, BankReadOptions, StatementEntry};
use crate::inputs::card::CardSettlementReader;
use crate::inputs::emoney::EmoneySettlementReader;
use crate::inputs::error::{FileRejected, InputError, ERRORS_REPORTED_MAX};
use crate::inputs::file_id::{HashingReader, LoadedFiles};
use crate::inputs::qr::QrSettlementReader;
use crate::journal::DayJournal;
use crate::pipeline::{InputFiles, InputKind, PipelineError, ReconciledDay, INPUT_FILE_BYTES_MAX};
use crate::report::{self, DayReport};
use crate::settlements::{SettlementLine, SettlementTotals, StatedPayout};
use crate::source::JournalSource;

use super::spool::{Spool, SpoolError, SpoolWriter};

/// The read buffer of one settlement file.
pub const INPUT_BUFFER_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("a reconciling task failed: {0}")]
    Task(String),
}

impl From<FileRejected> for ScaleError {
    fn from(rejected: FileRejected) -> ScaleError {
        ScaleError::Pipeline(PipelineError::Rejected(rejected))
    }
}

impl From<InputError> for ScaleError {
    fn from(error: InputError) -> ScaleError {
        ScaleError::Pipeline(PipelineError::Duplicate(error))
    }
}

fn pipeline(error: impl Into<PipelineError>) -> ScaleError {
    ScaleError::Pipeline(error.into())
}

/// What spooling read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStatistics {
    pub files: u64,
    pub bytes: u64,
    pub lines: u64,
    /// Lines of a merchant or register no facility of the configuration has.
    pub lines_unassigned: u64,
}

/// Collects a file's errors as [`crate::inputs::error::collect_all`] does, without keeping its
/// records: they go to the spool as they come.
#[derive(Default)]
struct Rejections {
    errors: Vec<InputError>,
}

impl Rejections {
    /// Takes one item; `Some(record)` when it is good and the file has no error so far.
    fn take<T>(&mut self, item: Result<T, InputError>) -> Result<Option<T>, FileRejected> {
        match item {
            Ok(record) if self.errors.is_empty() => Ok(Some(record)),
            Ok(_) => Ok(None),
            Err(error) => {
                self.errors.push(error);
                if self.errors.len() >= ERRORS_REPORTED_MAX {
                    return Err(FileRejected { errors: std::mem::take(&mut self.errors), truncated: true });
                }
                Ok(None)
            }
        }
    }

    fn finish(self) -> Result<(), FileRejected> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(FileRejected { errors: self.errors, truncated: false })
        }
    }
}

/// Runs a file's reader to its end, handing on each good record while the file has no error.
fn drain<T>(
    reader: &mut impl Iterator<Item = Result<T, InputError>>,
    mut each: impl FnMut(T) -> Result<(), ScaleError>,
) -> Result<(), ScaleError> {
    let mut rejections = Rejections::default();
    for item in reader {
        if let Some(record) = rejections.take(item)? {
            each(record)?;
        }
    }
    rejections.finish()?;
    Ok(())
}

/// Where read lines go: their partition and the totals.
struct Sink<'a> {
    writer: SpoolWriter,
    totals: SettlementTotals,
    config: &'a Config,
}

impl Sink<'_> {
    fn put(&mut self, line: SettlementLine) -> Result<(), ScaleError> {
        self.totals.add_line(self.config, &line).map_err(pipeline)?;
        self.writer.append(&line)?;
        Ok(())
    }
}

/// What reading a run's files gave: the spool of settlement lines, their totals, the bank
/// statements' entries, and what was read.
#[derive(Debug)]
pub struct SpooledInputs {
    pub spool: Spool,
    pub totals: SettlementTotals,
    pub bank: Vec<StatementEntry>,
    pub statistics: SpoolStatistics,
}

/// Reads a run's files one at a time, streaming, wherever they come from (paths on disk, or the
/// journal's stored files, one fetched at a time): each settlement file line by line into its
/// facility-day partitions and the totals, each bank statement whole (it is one account's few
/// hundred lines a day, and at most [`crate::pipeline::INPUT_FILE_BYTES_MAX`] bytes). Every file
/// is checked whole (every error with file, line and column) and refused if its content was
/// already read.
pub struct Spooler<'a> {
    sink: Sink<'a>,
    loaded: LoadedFiles,
    statistics: SpoolStatistics,
    bank: Vec<StatementEntry>,
    read_on: NaiveDate,
}

impl<'a> Spooler<'a> {
    /// Starts a spool in `spool_dir` (empty or missing); bank statements are read as of `read_on`.
    pub fn create(config: &'a Config, spool_dir: &Path, read_on: NaiveDate) -> Result<Spooler<'a>, ScaleError> {
        Ok(Spooler {
            sink: Sink { writer: SpoolWriter::create(spool_dir, config)?, totals: SettlementTotals::new(), config },
            loaded: LoadedFiles::new(),
            statistics: SpoolStatistics::default(),
            bank: Vec::new(),
            read_on,
        })
    }

    /// Reads one file named `name` (as reports will name it) of kind `kind`.
    pub fn add(&mut self, kind: InputKind, name: &str, reader: impl Read) -> Result<(), ScaleError> {
        let mut hashing = HashingReader::new(reader);
        let sink = &mut self.sink;
        match kind {
            InputKind::Card => {
                let mut reader =
                    CardSettlementReader::new(name, BufReader::with_capacity(INPUT_BUFFER_BYTES, &mut hashing));
                drain(&mut reader, |record| sink.put(SettlementLine::of_card(name, &record)))?;
                if let Some(trailer) = reader.trailer() {
                    sink.totals.add_stated(StatedPayout {
                        file: name.to_string(),
                        line: trailer.line,
                        payout_id: trailer.payout_id.clone(),
                        amount_net: trailer.amount_net,
                    });
                }
            }
            InputKind::Qr(brand) => {
                let mut reader =
                    QrSettlementReader::new(name, brand, BufReader::with_capacity(INPUT_BUFFER_BYTES, &mut hashing));
                drain(&mut reader, |record| sink.put(SettlementLine::of_qr(name, &record)))?;
            }
            InputKind::Emoney => {
                let mut reader =
                    EmoneySettlementReader::new(name, BufReader::with_capacity(INPUT_BUFFER_BYTES, &mut hashing));
                drain(&mut reader, |record| sink.put(SettlementLine::of_emoney(name, &record).map_err(pipeline)?))?;
            }
            InputKind::Bank => {
                let mut bytes = Vec::new();
                (&mut hashing)
                    .take(INPUT_FILE_BYTES_MAX + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|source| pipeline(PipelineError::Read { path: name.to_string(), source }))?;
                if bytes.len() as u64 > INPUT_FILE_BYTES_MAX {
                    return Err(pipeline(PipelineError::TooLarge { path: name.to_string() }));
                }
                let statement = read_bank_statement(name, &bytes, BankReadOptions::new(self.read_on))?;
                self.bank.extend(statement.accounts.into_iter().flat_map(|account| account.entries));
            }
        }
        self.statistics.bytes += hashing.bytes_read();
        self.statistics.files += 1;
        self.loaded.register(name, hashing.file_id())?;
        Ok(())
    }

    /// Flushes the spool; it can then be read.
    pub fn finish(self) -> Result<SpooledInputs, ScaleError> {
        let mut statistics = self.statistics;
        statistics.lines = self.sink.writer.lines_spooled() + self.sink.writer.lines_unassigned();
        statistics.lines_unassigned = self.sink.writer.lines_unassigned();
        Ok(SpooledInputs { spool: self.sink.writer.finish()?, totals: self.sink.totals, bank: self.bank, statistics })
    }
}

/// Reads the files of `files` from disk into a spool in `spool_dir`, in the order
/// [`crate::settlements::Settlements::lines`] gives (card files, QR files, e-money files, each in
/// the order given), then the bank statement, read as of `read_on`.
pub fn spool_inputs(
    files: &InputFiles,
    config: &Config,
    spool_dir: &Path,
    read_on: NaiveDate,
) -> Result<SpooledInputs, ScaleError> {
    let mut spooler = Spooler::create(config, spool_dir, read_on)?;
    let mut add = |kind, path: &Path| -> Result<(), ScaleError> {
        let file = File::open(path)
            .map_err(|source| pipeline(PipelineError::Read { path: path.display().to_string(), source }))?;
        spooler.add(kind, &crate::pipeline::file_name(path), file)
    };
    for path in &files.card {
        add(InputKind::Card, path)?;
    }
    for (brand, path) in &files.qr {
        add(InputKind::Qr(*brand), path)?;
    }
    for path in &files.emoney {
        add(InputKind::Emoney, path)?;
    }
    if let Some(path) = &files.bank {
        add(InputKind::Bank, path)?;
    }
    spooler.finish()
}

/// Checks one file as a run would read it, keeping nothing: what the treasury API does before it
/// stores a file, so that a bad file is refused at the door with its file, line and column.
pub fn check_input(kind: InputKind, name: &str, reader: impl Read, read_on: NaiveDate) -> Result<(), ScaleError> {
    let mut hashing = HashingReader::new(reader);
    match kind {
        InputKind::Card => {
            let mut reader =
                CardSettlementReader::new(name, BufReader::with_capacity(INPUT_BUFFER_BYTES, &mut hashing));
            drain(&mut reader, |_| Ok(()))
        }
        InputKind::Qr(brand) => {
            let mut reader =
                QrSettlementReader::new(name, brand, BufReader::with_capacity(INPUT_BUFFER_BYTES, &mut hashing));
            drain(&mut reader, |_| Ok(()))
        }
        InputKind::Emoney => {
            let mut reader =
                EmoneySettlementReader::new(name, BufReader::with_capacity(INPUT_BUFFER_BYTES, &mut hashing));
            drain(&mut reader, |record| SettlementLine::of_emoney(name, &record).map(|_| ()).map_err(pipeline))
        }
        InputKind::Bank => {
            let mut bytes = Vec::new();
            hashing
                .take(INPUT_FILE_BYTES_MAX + 1)
                .read_to_end(&mut bytes)
                .map_err(|source| pipeline(PipelineError::Read { path: name.to_string(), source }))?;
            if bytes.len() as u64 > INPUT_FILE_BYTES_MAX {
                return Err(pipeline(PipelineError::TooLarge { path: name.to_string() }));
            }
            read_bank_statement(name, &bytes, BankReadOptions::new(read_on))?;
            Ok(())
        }
    }
}

/// Reconciles the run's bank statement once against every payout of the totals and every
/// facility's cash to deposit on the days its lines may pay.
pub async fn reconcile_statement(
    source: &JournalSource,
    config: &Config,
    calendar: &BankCalendar,
    totals: &SettlementTotals,
    bank: &[StatementEntry],
    as_of: NaiveDate,
) -> Result<BankReconciliation, ScaleError> {
    let deposits = crate::pipeline::deposits_for_statement(source, bank).await?;
    let context = DayContext { config, calendar, as_of };
    crate::bank::reconcile_bank(bank, totals, &deposits, &context.bank()).map_err(pipeline)
}

/// The day a facility-day is reconciled "as of".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// One date for every day of the range, as `reconcile range` does.
    Fixed(NaiveDate),
    /// Each day as of its own business date plus this many calendar days: a range run every
    /// night for the day before is `DayPlus(1)`.
    DayPlus(u64),
}

impl AsOf {
    pub fn for_day(self, date: BusinessDate) -> NaiveDate {
        match self {
            AsOf::Fixed(as_of) => as_of,
            AsOf::DayPlus(days) => date.date().checked_add_days(Days::new(days)).unwrap_or(date.date()),
        }
    }
}

/// What a range run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RangeStatistics {
    pub facility_days: u64,
    /// The days' own payments (the journal's rows of the day, any method and state).
    pub payments: u64,
    pub settlement_lines_loaded: u64,
    pub match_groups: u64,
    pub exceptions: u64,
    pub timing_differences: u64,
}

/// What every facility-day of a run shares, read-only, across the tasks that reconcile them.
#[derive(Debug)]
pub struct RunShared {
    pub config: Config,
    pub calendar: BankCalendar,
    pub spool: Spool,
    pub totals: SettlementTotals,
    /// The run's bank statement reconciled once ([`reconcile_statement`];
    /// [`BankReconciliation::default`] when there is none).
    pub bank: BankReconciliation,
}

/// The most facility-days reconciled at once, whatever the machine: each holds one facility-day's
/// journal, lines, result and report, so peak memory is this many times the largest.
pub const PARALLEL_FACILITY_DAYS_MAX: usize = 16;

/// Facility-days reconciled at once by default: one per core, at most
/// [`PARALLEL_FACILITY_DAYS_MAX`].
pub fn default_parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from).clamp(1, PARALLEL_FACILITY_DAYS_MAX)
}

impl RunShared {
    /// The run's shared state from its read files: the bank statement reconciled once, as of
    /// `as_of`.
    pub async fn prepare(
        source: &JournalSource,
        config: Config,
        calendar: BankCalendar,
        spooled: SpooledInputs,
        as_of: NaiveDate,
    ) -> Result<Arc<RunShared>, ScaleError> {
        let bank = reconcile_statement(source, &config, &calendar, &spooled.totals, &spooled.bank, as_of).await?;
        Ok(Arc::new(RunShared { config, calendar, spool: spooled.spool, totals: spooled.totals, bank }))
    }

    /// Reconciles one facility-day whose journal was read: its lines from the spool, matching,
    /// every check, its report.
    fn reconcile(&self, journal: DayJournal, as_of: NaiveDate) -> Result<(ReconciledDay, u64), ScaleError> {
        let (facility, date) = (journal.facility.clone(), journal.business_date);
        let lines = self.spool.load(&facility, date)?;
        let lines_loaded = lines.len() as u64;
        let context = DayContext { config: &self.config, calendar: &self.calendar, as_of };
        let result = reconcile_facility_day(&facility, date, &journal, lines, &self.totals, &self.bank, &context)
            .map_err(pipeline)?;
        result.check_totals().map_err(pipeline)?;
        let report = DayReport::build(&result, &journal, &self.config).map_err(pipeline)?;
        report::totals::check_day_report(&report).map_err(pipeline)?;
        Ok((ReconciledDay { journal, result, report }, lines_loaded))
    }
}

async fn one_day(
    source: JournalSource,
    shared: Arc<RunShared>,
    facility: FacilityId,
    date: BusinessDate,
    as_of: NaiveDate,
) -> Result<(ReconciledDay, u64), ScaleError> {
    let journal = source.read_day(&facility, date).await.map_err(pipeline)?;
    // Matching and the reports are CPU work: off the runtime's threads, so that a gateway keeps
    // answering while a run reconciles.
    tokio::task::spawn_blocking(move || shared.reconcile(journal, as_of))
        .await
        .map_err(|error| ScaleError::Task(error.to_string()))?
}

/// Reconciles the facility-days `days` in the order given, up to `parallelism` at once (each
/// read from the journal, matched, checked and reported on its own task), handing each to `sink`
/// in the order given, so that the results are the same, in the same order, as one at a time.
/// `source` should allow `parallelism` connections ([`JournalSource::connect_with`]).
pub async fn reconcile_days(
    source: &JournalSource,
    shared: &Arc<RunShared>,
    days: Vec<(FacilityId, BusinessDate)>,
    as_of: AsOf,
    parallelism: usize,
    mut sink: impl FnMut(ReconciledDay) -> Result<(), ScaleError>,
) -> Result<RangeStatistics, ScaleError> {
    let mut statistics = RangeStatistics::default();
    let tasks = days.into_iter().map(|(facility, date)| {
        let task = tokio::spawn(one_day(source.clone(), shared.clone(), facility, date, as_of.for_day(date)));
        async move { task.await.map_err(|error| ScaleError::Task(error.to_string()))? }
    });
    let mut done = futures::stream::iter(tasks).buffered(parallelism.max(1));
    while let Some(day) = done.next().await {
        let (day, lines_loaded) = day?;
        let date = day.journal.business_date;
        statistics.facility_days += 1;
        statistics.settlement_lines_loaded += lines_loaded;
        statistics.payments +=
            day.journal.payments.iter().filter(|payment| payment.business_date == date).count() as u64;
        statistics.match_groups += day.result.match_groups.len() as u64;
        statistics.exceptions += day.result.exceptions.len() as u64;
        statistics.timing_differences += day.result.timing_differences.len() as u64;
        sink(day)?;
    }
    Ok(statistics)
}

/// The facility-days with journal activity from `from` to `to` that the configuration knows, in
/// date then facility order, and those it does not know (which a run cannot reconcile).
pub async fn active_days(
    source: &JournalSource,
    config: &Config,
    from: BusinessDate,
    to: BusinessDate,
) -> Result<(Vec<(FacilityId, BusinessDate)>, Vec<(FacilityId, BusinessDate)>), ScaleError> {
    let active = source.active_days(from, to).await.map_err(pipeline)?;
    let (known, unknown) = active.into_iter().partition(|(facility, _)| config.facility(facility).is_some());
    Ok((known, unknown))
}

/// Reconciles every facility-day with journal activity from `from` to `to` (of facilities the
/// configuration knows), in date then facility order, as [`reconcile_days`] does.
#[allow(clippy::too_many_arguments)]
pub async fn reconcile_range(
    source: &JournalSource,
    shared: &Arc<RunShared>,
    from: BusinessDate,
    to: BusinessDate,
    as_of: AsOf,
    parallelism: usize,
    sink: impl FnMut(ReconciledDay) -> Result<(), ScaleError>,
) -> Result<RangeStatistics, ScaleError> {
    let (days, _) = active_days(source, &shared.config, from, to).await?;
    reconcile_days(source, shared, days, as_of, parallelism, sink).await
}
