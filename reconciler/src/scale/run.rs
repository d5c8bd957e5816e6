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
use std::io::BufReader;
use std::path::Path;

use chrono::{Days, NaiveDate};
use pos_config::Config;
use pos_core::{BusinessDate, FacilityId};

use crate::bank::BankReconciliation;
use crate::calendar::BankCalendar;
use crate::day::{reconcile_facility_day, DayContext};
use crate::inputs::card::CardSettlementReader;
use crate::inputs::emoney::EmoneySettlementReader;
use crate::inputs::error::{FileRejected, InputError, ERRORS_REPORTED_MAX};
use crate::inputs::file_id::{HashingReader, LoadedFiles};
use crate::inputs::qr::QrSettlementReader;
use crate::pipeline::{InputFiles, PipelineError, ReconciledDay};
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

/// Opens a file, returning it under its file name (as reports name it).
fn open(path: &Path) -> Result<(String, HashingReader<File>), ScaleError> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|source| pipeline(PipelineError::Read { path: shown, source }))?;
    Ok((crate::pipeline::file_name(path), HashingReader::new(file)))
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

/// Reads the settlement files of `files` (its bank statement is not read here) into a spool in
/// `spool_dir` and the totals of their lines, in the order [`crate::settlements::Settlements::lines`]
/// gives: card files, QR files, e-money files, each in the order given.
pub fn spool_inputs(
    files: &InputFiles,
    config: &Config,
    spool_dir: &Path,
) -> Result<(Spool, SettlementTotals, SpoolStatistics), ScaleError> {
    let mut sink = Sink { writer: SpoolWriter::create(spool_dir, config)?, totals: SettlementTotals::new(), config };
    let mut loaded = LoadedFiles::new();
    let mut statistics = SpoolStatistics::default();
    let mut done = |name: &str, hashing: &HashingReader<File>, loaded: &mut LoadedFiles| -> Result<(), ScaleError> {
        statistics.bytes += hashing.bytes_read();
        statistics.files += 1;
        loaded.register(name, hashing.file_id())?;
        Ok(())
    };
    for path in &files.card {
        let (name, mut hashing) = open(path)?;
        let mut reader = CardSettlementReader::new(&name, BufReader::with_capacity(INPUT_BUFFER_BYTES, &mut hashing));
        drain(&mut reader, |record| sink.put(SettlementLine::of_card(&name, &record)))?;
        if let Some(trailer) = reader.trailer() {
            sink.totals.add_stated(StatedPayout {
                file: name.clone(),
                line: trailer.line,
                payout_id: trailer.payout_id.clone(),
                amount_net: trailer.amount_net,
            });
        }
        drop(reader);
        done(&name, &hashing, &mut loaded)?;
    }
    for (brand, path) in &files.qr {
        let (name, mut hashing) = open(path)?;
        let mut reader =
            QrSettlementReader::new(&name, *brand, BufReader::with_capacity(INPUT_BUFFER_BYTES, &mut hashing));
        drain(&mut reader, |record| sink.put(SettlementLine::of_qr(&name, &record)))?;
        drop(reader);
        done(&name, &hashing, &mut loaded)?;
    }
    for path in &files.emoney {
        let (name, mut hashing) = open(path)?;
        let mut reader = EmoneySettlementReader::new(&name, BufReader::with_capacity(INPUT_BUFFER_BYTES, &mut hashing));
        drain(&mut reader, |record| sink.put(SettlementLine::of_emoney(&name, &record).map_err(pipeline)?))?;
        drop(reader);
        done(&name, &hashing, &mut loaded)?;
    }
    statistics.lines = sink.writer.lines_spooled() + sink.writer.lines_unassigned();
    statistics.lines_unassigned = sink.writer.lines_unassigned();
    Ok((sink.writer.finish()?, sink.totals, statistics))
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
    fn for_day(self, date: BusinessDate) -> NaiveDate {
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

/// Reconciles every facility-day with journal activity from `from` to `to`, in date then
/// facility order, handing each to `sink` (which may write it out, or count it, and drop it).
/// `bank` is the run's bank statement reconciled once against every payout and cash deposit
/// ([`crate::bank::reconcile_bank`]; [`BankReconciliation::default`] when there is none).
#[allow(clippy::too_many_arguments)]
pub async fn reconcile_range(
    source: &JournalSource,
    config: &Config,
    calendar: &BankCalendar,
    spool: &Spool,
    totals: &SettlementTotals,
    bank: &BankReconciliation,
    from: BusinessDate,
    to: BusinessDate,
    as_of: AsOf,
    mut sink: impl FnMut(ReconciledDay) -> Result<(), ScaleError>,
) -> Result<RangeStatistics, ScaleError> {
    let mut statistics = RangeStatistics::default();
    for day in from.date().iter_days().take_while(|day| *day <= to.date()) {
        let date = BusinessDate::new(day);
        let facilities: Vec<FacilityId> =
            source.active_days(date, date).await.map_err(pipeline)?.into_iter().map(|(facility, _)| facility).collect();
        for facility in facilities {
            let journal = source.read_day(&facility, date).await.map_err(pipeline)?;
            let lines = spool.load(&facility, date)?;
            statistics.settlement_lines_loaded += lines.len() as u64;
            let context = DayContext { config, calendar, as_of: as_of.for_day(date) };
            let result =
                reconcile_facility_day(&facility, date, &journal, lines, totals, bank, &context).map_err(pipeline)?;
            result.check_totals().map_err(pipeline)?;
            let report = DayReport::build(&result, &journal, config).map_err(pipeline)?;
            report::totals::check_day_report(&report).map_err(pipeline)?;
            statistics.facility_days += 1;
            statistics.payments +=
                journal.payments.iter().filter(|payment| payment.business_date == date).count() as u64;
            statistics.match_groups += result.match_groups.len() as u64;
            statistics.exceptions += result.exceptions.len() as u64;
            statistics.timing_differences += result.timing_differences.len() as u64;
            sink(ReconciledDay { journal, result, report })?;
        }
    }
    Ok(statistics)
}
