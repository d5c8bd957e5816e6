//! `reconcile`: treasury's command line. Parses arguments, loads the configuration and the
//! files, and calls the library ([`reconciler::pipeline`], [`reconciler::close`]).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use pos_core::{Brand, BusinessDate, FacilityId};
use reconciler::calendar::BankCalendar;
use reconciler::close::{adjustments_for, Store};
use reconciler::pipeline::{self, Formats, InputFiles, ReconciledDay};
use reconciler::scale::run::{
    active_days, default_parallelism, spool_inputs, AsOf, RunShared, ScaleError, PARALLEL_FACILITY_DAYS_MAX,
};
use reconciler::source::JournalSource;

#[derive(Parser)]
#[command(name = "reconcile", version = pos_build_info::VERSION, about = "Daily reconciliation of the counters' takings (日計表)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Reconcile one facility's business day and write its reports.
    Day {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        facility: String,
        #[arg(long)]
        date: String,
    },
    /// Reconcile every facility, every day with journal activity, between two dates.
    Range {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
    /// Reconcile a facility's day and close it in the store: afterwards it is immutable.
    Close {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        facility: String,
        #[arg(long)]
        date: String,
    },
}

#[derive(Args)]
struct Common {
    /// The city's configuration (pos-config TOML).
    #[arg(long)]
    config: PathBuf,
    /// The gateway's journal: sqlite://path or postgres://…
    #[arg(long)]
    journal: String,
    #[arg(long)]
    card: Vec<PathBuf>,
    /// BRAND=file, e.g. PAYPAY=qr-settlement-20261124.csv
    #[arg(long)]
    qr: Vec<String>,
    #[arg(long)]
    emoney: Vec<PathBuf>,
    #[arg(long)]
    bank: Option<PathBuf>,
    /// The day the reconciliation is run for (default: the last date reconciled).
    #[arg(long)]
    as_of: Option<String>,
    /// Where the reports go (not needed by `close`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Comma-separated: json, csv, html.
    #[arg(long, default_value = "json,csv,html")]
    format: String,
    /// The reconciler's own store of closed days (a SQLite file).
    #[arg(long)]
    store: Option<PathBuf>,
    /// Facility-days reconciled at once (default: one per core, at most 16).
    #[arg(long)]
    jobs: Option<usize>,
}

fn date(text: &str, what: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").with_context(|| format!("--{what} {text:?} is not a date (YYYY-MM-DD)"))
}

fn formats(text: &str) -> Result<Formats> {
    let mut formats = Formats::default();
    for name in text.split(',').map(str::trim).filter(|name| !name.is_empty()) {
        match name {
            "json" => formats.json = true,
            "csv" => formats.csv = true,
            "html" => formats.html = true,
            other => bail!("--format {other:?}: expected json, csv or html"),
        }
    }
    Ok(formats)
}

fn input_files(common: &Common) -> Result<InputFiles> {
    let mut qr = Vec::new();
    for pair in &common.qr {
        let (brand, path) = pair.split_once('=').with_context(|| format!("--qr {pair:?}: expected BRAND=file"))?;
        let brand: Brand = brand.parse().with_context(|| format!("--qr {pair:?}"))?;
        qr.push((brand, PathBuf::from(path)));
    }
    Ok(InputFiles { card: common.card.clone(), qr, emoney: common.emoney.clone(), bank: common.bank.clone() })
}

/// The spool of a run, removed when the run ends, however it ends.
struct SpoolDir(PathBuf);

impl Drop for SpoolDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

struct Run {
    config: pos_config::Config,
    source: JournalSource,
    shared: Arc<RunShared>,
    store: Option<Store>,
    parallelism: usize,
    _spool: SpoolDir,
}

async fn prepare(common: &Common, as_of: NaiveDate) -> Result<Run> {
    let config =
        pos_config::load(&common.config).with_context(|| format!("configuration {}", common.config.display()))?;
    let calendar = BankCalendar::for_config(&config)?;
    let parallelism = common.jobs.unwrap_or_else(default_parallelism).clamp(1, PARALLEL_FACILITY_DAYS_MAX);
    let spool = SpoolDir(std::env::temp_dir().join(format!("reconcile-spool-{}", std::process::id())));
    let spooled = spool_inputs(&input_files(common)?, &config, &spool.0, as_of)?;
    let source = JournalSource::connect_with(&common.journal, parallelism).await?;
    let shared = RunShared::prepare(&source, config.clone(), calendar, spooled, as_of).await?;
    let store = match &common.store {
        Some(path) => Some(Store::open(path).await?),
        None => None,
    };
    Ok(Run { config, source, shared, store, parallelism, _spool: spool })
}

/// Plain progress lines when stderr is not a terminal: about this many per run.
const PROGRESS_LINES: u64 = 10;

/// A run's progress: a bar on a terminal, a few plain lines otherwise (a log, a pipe).
enum Progress {
    Bar(ProgressBar),
    Lines { total: u64, done: u64, started: Instant },
}

impl Progress {
    fn new(total: u64) -> Progress {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} facility-days, {per_sec}, {eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style.progress_chars("=> "));
            Progress::Bar(bar)
        } else {
            Progress::Lines { total, done: 0, started: Instant::now() }
        }
    }

    fn one_done(&mut self) {
        match self {
            Progress::Bar(bar) => bar.inc(1),
            Progress::Lines { total, done, started } => {
                *done += 1;
                let step = (*total / PROGRESS_LINES).max(1);
                if *done % step == 0 || *done == *total {
                    eprintln!("{done}/{total} facility-days reconciled, {} ms", started.elapsed().as_millis());
                }
            }
        }
    }

    fn finish(self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Reconciles facility-days in order, handing each to `each`, showing the progress.
async fn reconcile_days(
    run: &Run,
    days: Vec<(FacilityId, BusinessDate)>,
    as_of: NaiveDate,
    mut each: impl FnMut(ReconciledDay) -> Result<(), ScaleError>,
) -> Result<()> {
    let mut progress = Progress::new(days.len() as u64);
    let outcome = reconciler::scale::run::reconcile_days(
        &run.source,
        &run.shared,
        days,
        AsOf::Fixed(as_of),
        run.parallelism,
        |day| {
            progress.one_done();
            each(day)
        },
    )
    .await;
    progress.finish();
    outcome?;
    Ok(())
}

async fn reconcile_one(run: &Run, facility: &FacilityId, day: BusinessDate, as_of: NaiveDate) -> Result<ReconciledDay> {
    let mut found = None;
    reconcile_days(run, vec![(facility.clone(), day)], as_of, |reconciled| {
        found = Some(reconciled);
        Ok(())
    })
    .await
    .with_context(|| format!("reconciling {facility} on {day}"))?;
    found.with_context(|| format!("{facility} on {day} was not reconciled"))
}

/// With a store: refuses a closed day, and books what the given files say about the
/// facility's earlier closed days as adjustments found on `as_of`.
async fn adjust_closed_days(run: &Run, facility: &FacilityId, day: BusinessDate, as_of: NaiveDate) -> Result<usize> {
    let Some(store) = &run.store else { return Ok(0) };
    store.ensure_open(facility, day).await?;
    let mut count = 0;
    for closed_date in store.closed_days_before(facility, day).await? {
        let Some(closed) = store.closed_day(facility, closed_date).await? else { continue };
        let again = reconcile_one(run, facility, closed_date, as_of).await?;
        let earlier: Vec<_> = store
            .adjustments(facility)
            .await?
            .into_iter()
            .filter(|adjustment| adjustment.original_date == closed_date)
            .collect();
        let found = adjustments_for(&closed, &again.result, &again.report, &earlier, as_of);
        count += found.len();
        store.record_adjustments(&found).await?;
    }
    Ok(count)
}

/// The exceptions, as treasury reads them: kind, amount at stake, and what was found, in Japanese
/// then English.
fn print_exceptions(exceptions: &reconciler::report::ExceptionsReport, title: &str) {
    if exceptions.rows.is_empty() {
        return;
    }
    eprintln!("{title}: 例外 {} 件 / {} exception(s)", exceptions.count, exceptions.count);
    for row in &exceptions.rows {
        let amount = reconciler::describe::signed_yen_ja(row.amount_at_stake);
        eprintln!("  {} {}  {}", row.name_ja, row.name_en, amount);
        eprintln!("    {}", row.detail_ja);
        eprintln!("    {}", row.detail_en);
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Day { common, facility, date: day } => {
            let day = BusinessDate::new(date(&day, "date")?);
            let as_of = common.as_of.as_deref().map(|text| date(text, "as-of")).transpose()?.unwrap_or(day.date());
            let facility = FacilityId::parse(&facility).context("--facility")?;
            let out = common.out.clone().context("--out is required")?;
            let formats = formats(&common.format)?;
            let run = prepare(&common, as_of).await?;
            let adjustments = adjust_closed_days(&run, &facility, day, as_of).await?;
            let reconciled = reconcile_one(&run, &facility, day, as_of).await?;
            for path in pipeline::write_day_report(&reconciled.report, &out, formats)? {
                println!("{}", path.display());
            }
            let stem = format!("{facility}-{day}");
            let reports = std::slice::from_ref(&reconciled.report);
            let bank = pipeline::bank_report(&run.shared.bank, reports)?;
            let dates = (day.date(), day.date());
            for path in pipeline::write_summaries(reports, &bank, &run.config, &out, formats, &stem, dates)? {
                println!("{}", path.display());
            }
            print_exceptions(&reconciled.report.exceptions, &format!("{facility} {day}"));
            print_exceptions(&bank.exceptions, "市全体 / the city's list");
            eprintln!(
                "{facility} {day}: {} exception(s), {} on the city's list, {adjustments} adjustment(s) to closed days",
                reconciled.report.exceptions.count, bank.exceptions.count
            );
            run.source.close().await;
        }
        Command::Range { common, from, to } => {
            let from = BusinessDate::new(date(&from, "from")?);
            let to = BusinessDate::new(date(&to, "to")?);
            if to < from {
                bail!("--to {to} is before --from {from}");
            }
            let as_of = common.as_of.as_deref().map(|text| date(text, "as-of")).transpose()?.unwrap_or(to.date());
            let out = common.out.clone().context("--out is required")?;
            let formats = formats(&common.format)?;
            let run = prepare(&common, as_of).await?;
            let (days, unknown) = active_days(&run.source, &run.config, from, to).await?;
            for (facility, day) in unknown {
                eprintln!("warning: {facility} on {day} is in the journal but not in the configuration; skipped");
            }
            // The reports kept for the summaries are a facility-day's totals and exceptions, not
            // its records: memory grows with the facility-days, not with the payments.
            let mut reports = Vec::new();
            reconcile_days(&run, days, as_of, |reconciled| {
                pipeline::write_day_report(&reconciled.report, &out, formats)?;
                reports.push(reconciled.report);
                Ok(())
            })
            .await?;
            let stem = format!("{from}_{to}");
            let bank = pipeline::bank_report(&run.shared.bank, &reports)?;
            let dates = (from.date(), to.date());
            for path in pipeline::write_summaries(&reports, &bank, &run.config, &out, formats, &stem, dates)? {
                println!("{}", path.display());
            }
            print_exceptions(&bank.exceptions, "市全体 / the city's list");
            eprintln!(
                "{} facility-day(s) reconciled; {} exception(s) on the city's list; {} of {} bank line(s) unmatched",
                reports.len(),
                bank.exceptions.count,
                bank.unmatched_count,
                bank.lines_count
            );
            run.source.close().await;
        }
        Command::Close { common, facility, date: day } => {
            let day = BusinessDate::new(date(&day, "date")?);
            let as_of = common.as_of.as_deref().map(|text| date(text, "as-of")).transpose()?.unwrap_or(day.date());
            let facility = FacilityId::parse(&facility).context("--facility")?;
            if common.store.is_none() {
                bail!("close needs --store <path>: the reconciler's store of closed days");
            }
            let run = prepare(&common, as_of).await?;
            let store = run.store.as_ref().context("--store")?;
            store.ensure_open(&facility, day).await?;
            let reconciled = reconcile_one(&run, &facility, day, as_of).await?;
            let bank = pipeline::bank_report(&run.shared.bank, std::slice::from_ref(&reconciled.report))?;
            if bank.has_exceptions() {
                print_exceptions(&bank.exceptions, "市全体 / the city's list");
                bail!(
                    "{facility} {day} is not closed: the bank statement has {} line(s) or payout(s) not accounted for (the city's list above)",
                    bank.exceptions.count
                );
            }
            let closed = store.close_day(&reconciled.result, &reconciled.report, as_of).await?;
            if let Some(out) = &common.out {
                pipeline::write_day_report(&reconciled.report, out, formats(&common.format)?)?;
            }
            println!("closed {facility} {day} with {} open item(s)", closed.open_items.len());
            run.source.close().await;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    run(Cli::parse()).await
}
