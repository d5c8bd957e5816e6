//! The reconciler at scale: `cargo bench -p reconciler --bench scale [-- options]`.
//!
//! For each scenario it generates, streaming, a journal (SQLite, the gateway's schema) and the
//! settlement files the acquirers would send for it ([`reconciler::scale::generate`]), then runs
//! two child processes on the same data, one after the other, and reads each one's peak
//! resident memory (`VmHWM`) and wall time:
//!
//! - **reconciler**: the streaming path ([`reconciler::scale::run`]): every settlement file read
//!   and checked once into the on-disk spool, then each facility-day read from the journal,
//!   matched, checked (fees, payout shares, cash per shift, revenue), its report (日計表) built
//!   and its totals checked, one at a time;
//! - **SQL baseline**: the settlement lines loaded into SQLite beside the journal and matched by
//!   one `FULL JOIN` ([`reconciler::scale::baseline`]).
//!
//! Scenarios: `city-year` (the example city's 35 facilities, FY2026, 1,275 payments a day:
//! 465,375 payments, BRIEF.md's year) and `prefecture-day` (500 facilities, one day of
//! 10,000,000 payments). Options: `--scenario city-year|prefecture-day|both` (default both),
//! `--payments N` (payments per day, overriding the scenario's), `--dir PATH` (where the data
//! goes; default a new folder under the system's temp dir), `--keep` (leave the data there).
//!
//! A measurement, not a test: it fails only if a step fails, and reports the exceptions found
//! (a generated range has none).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use pos_core::{Brand, BusinessDate};
use reconciler::calendar::BankCalendar;
use reconciler::pipeline::InputFiles;
use reconciler::scale::baseline::run_baseline;
use reconciler::scale::generate::{self, Scenario};
use reconciler::scale::memory::peak_rss_kib;
use reconciler::scale::run::{default_parallelism, reconcile_range, spool_inputs, AsOf, RunShared};
use reconciler::source::JournalSource;

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/examples/city.toml");

/// One of the benchmark's scenarios.
#[derive(Debug, Clone, Copy)]
struct Shape {
    name: &'static str,
    facilities: Option<usize>,
    first_day: &'static str,
    days: u32,
    payments_per_day: u64,
}

const SHAPES: [Shape; 2] = [
    Shape { name: "city-year", facilities: None, first_day: "2026-04-01", days: 365, payments_per_day: 1_275 },
    Shape {
        name: "prefecture-day",
        facilities: Some(500),
        first_day: "2026-11-24",
        days: 1,
        payments_per_day: 10_000_000,
    },
];

fn config_for(facilities: Option<usize>) -> Result<pos_config::Config> {
    let base = pos_config::load(Path::new(CONFIG)).context("loading the example city")?;
    Ok(match facilities {
        None => base,
        Some(count) => generate::with_facilities(&base, count)?,
    })
}

/// The settlement files of a generated folder, as the generator names them.
fn input_files(data: &Path) -> Result<InputFiles> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(data.join("settlement"))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    names.sort();
    let mut files = InputFiles::default();
    for path in names {
        let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default().to_string();
        if name.starts_with("card-settlement-") {
            files.card.push(path);
        } else if name.starts_with("emoney-settlement-") {
            files.emoney.push(path);
        } else if let Some(rest) = name.strip_prefix("qr-settlement-") {
            let code = rest.split('-').next().unwrap_or_default().to_uppercase();
            let brand: Brand = code.parse().with_context(|| format!("brand of {name}"))?;
            files.qr.push((brand, path));
        } else {
            bail!("unexpected file {name} among the settlement files");
        }
    }
    Ok(files)
}

fn milliseconds(started: Instant) -> u128 {
    started.elapsed().as_millis()
}

/// The child: the streaming reconciliation of the folder's data.
async fn child_reconcile(data: &Path, facilities: Option<usize>, from: NaiveDate, to: NaiveDate) -> Result<()> {
    let config = config_for(facilities)?;
    let calendar = BankCalendar::shipped()?;
    let files = input_files(data)?;
    let started = Instant::now();
    let spool_dir = data.join("spool");
    let inputs = spool_inputs(&files, &config, &spool_dir, to)?;
    let spooled = inputs.statistics;
    let spool_ms = milliseconds(started);
    let parallelism = default_parallelism();
    let source =
        JournalSource::connect_with(&format!("sqlite://{}", data.join("journal.db").display()), parallelism).await?;
    let reconcile_started = Instant::now();
    let shared = RunShared::prepare(&source, config, calendar, inputs, to).await?;
    let statistics = reconcile_range(
        &source,
        &shared,
        BusinessDate::new(from),
        BusinessDate::new(to),
        AsOf::DayPlus(0),
        parallelism,
        |_day| Ok(()),
    )
    .await?;
    source.close().await;
    let reconcile_ms = milliseconds(reconcile_started);
    std::fs::remove_dir_all(&spool_dir).ok();
    println!(
        "RESULT total_ms={} spool_ms={spool_ms} reconcile_ms={reconcile_ms} peak_kib={} files={} bytes={} lines={} \
         facility_days={} payments={} match_groups={} exceptions={} timing_differences={}",
        milliseconds(started),
        peak_rss_kib().unwrap_or(0),
        spooled.files,
        spooled.bytes,
        spooled.lines,
        statistics.facility_days,
        statistics.payments,
        statistics.match_groups,
        statistics.exceptions,
        statistics.timing_differences,
    );
    Ok(())
}

/// The child: the SQL join of the folder's data.
async fn child_baseline(data: &Path) -> Result<()> {
    let files = input_files(data)?;
    let started = Instant::now();
    let work = data.join("baseline.db");
    let figures = run_baseline(&data.join("journal.db"), &files, &work).await?;
    let total_ms = milliseconds(started);
    std::fs::remove_file(&work).ok();
    println!(
        "RESULT total_ms={total_ms} load_ms={} index_ms={} query_ms={} peak_kib={} settlement_rows={} journal_rows={} \
         matched={} amount_differs={} journal_only={} settlement_only={}",
        figures.load.as_millis(),
        figures.index.as_millis(),
        figures.query.as_millis(),
        peak_rss_kib().unwrap_or(0),
        figures.settlement_rows,
        figures.journal_rows,
        figures.matched,
        figures.amount_differs,
        figures.journal_only,
        figures.settlement_only,
    );
    Ok(())
}

/// Runs this program as a child and returns its `RESULT` line's figures.
fn run_child(arguments: &[String]) -> Result<Vec<(String, String)>> {
    let output = Command::new(std::env::current_exe()?).args(arguments).output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("child {arguments:?} failed: {}{}", stdout, String::from_utf8_lossy(&output.stderr));
    }
    let line = stdout.lines().find(|line| line.starts_with("RESULT ")).context("the child printed no RESULT")?;
    Ok(line
        .split_whitespace()
        .skip(1)
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect())
}

fn figure(figures: &[(String, String)], key: &str) -> u128 {
    figures.iter().find(|(name, _)| name == key).and_then(|(_, value)| value.parse().ok()).unwrap_or(0)
}

/// Per second, from a count and milliseconds, in integers.
fn per_second(count: u128, ms: u128) -> u128 {
    (count * 1000).checked_div(ms).unwrap_or(0)
}

/// Milliseconds as seconds with one decimal, in integers.
fn seconds(ms: u128) -> String {
    format!("{}.{}", ms / 1000, (ms % 1000) / 100)
}

fn mib(kib: u128) -> String {
    format!("{}.{}", kib / 1024, (kib % 1024) * 10 / 1024)
}

async fn run_shape(shape: Shape, payments_per_day: Option<u64>, root: &Path, keep: bool) -> Result<()> {
    let data = root.join(shape.name);
    if data.exists() {
        bail!("{} exists; give another --dir or remove it", data.display());
    }
    std::fs::create_dir_all(&data)?;
    let first_day: NaiveDate = shape.first_day.parse()?;
    let scenario = Scenario {
        config: config_for(shape.facilities)?,
        first_day,
        days: shape.days,
        payments_per_day: payments_per_day.unwrap_or(shape.payments_per_day),
        seed: 2026,
    };
    eprintln!("{}: generating {} days × {} payments …", shape.name, scenario.days, scenario.payments_per_day);
    let started = Instant::now();
    let generated = generate::generate(&scenario, &data).await?;
    let generate_ms = milliseconds(started);
    let journal_bytes = std::fs::metadata(&generated.journal_path)?.len();
    eprintln!("{}: generated in {generate_ms} ms; reconciling …", shape.name);
    let mut arguments = vec![
        "--child".to_string(),
        "reconcile".to_string(),
        "--data".to_string(),
        data.display().to_string(),
        "--from".to_string(),
        generated.first_day.to_string(),
        "--to".to_string(),
        generated.last_day.to_string(),
    ];
    if let Some(count) = shape.facilities {
        arguments.extend(["--facilities".to_string(), count.to_string()]);
    }
    let reconciled = run_child(&arguments)?;
    eprintln!("{}: SQL baseline …", shape.name);
    let baseline =
        run_child(&["--child".to_string(), "baseline".to_string(), "--data".to_string(), data.display().to_string()])?;

    let payments = u128::from(generated.payments);
    let reconcile_ms = figure(&reconciled, "total_ms");
    let baseline_ms = figure(&baseline, "total_ms");
    println!("### {} ({} facilities, {} days)", shape.name, scenario.config.facilities.len(), scenario.days);
    println!();
    println!(
        "Generated {} payments ({} cashless), journal {} MiB, {} settlement files of {} MiB, in {} s (generator peak RSS {} MiB).",
        generated.payments,
        generated.cashless,
        mib(u128::from(journal_bytes / 1024)),
        figure(&reconciled, "files"),
        mib(u128::from(generated.settlement_bytes / 1024)),
        seconds(generate_ms),
        mib(u128::from(peak_rss_kib().unwrap_or(0))),
    );
    println!();
    println!("| | wall time | payments/s | peak RSS | result |");
    println!("|---|---:|---:|---:|---|");
    println!(
        "| reconciler (streaming) | {} s (spool {} s, facility-days {} s) | {} | {} MiB | {} facility-days, {} settlement lines, {} matched, {} exceptions, {} timing differences |",
        seconds(reconcile_ms),
        seconds(figure(&reconciled, "spool_ms")),
        seconds(figure(&reconciled, "reconcile_ms")),
        per_second(payments, reconcile_ms),
        mib(figure(&reconciled, "peak_kib")),
        figure(&reconciled, "facility_days"),
        figure(&reconciled, "lines"),
        figure(&reconciled, "match_groups"),
        figure(&reconciled, "exceptions"),
        figure(&reconciled, "timing_differences"),
    );
    println!(
        "| SQL join in SQLite | {} s (load {} s, keys and indexes {} s, join {} s) | {} | {} MiB | {} matched, {} amount differs, {} journal only, {} settlement only |",
        seconds(baseline_ms),
        seconds(figure(&baseline, "load_ms")),
        seconds(figure(&baseline, "index_ms")),
        seconds(figure(&baseline, "query_ms")),
        per_second(payments, baseline_ms),
        mib(figure(&baseline, "peak_kib")),
        figure(&baseline, "matched"),
        figure(&baseline, "amount_differs"),
        figure(&baseline, "journal_only"),
        figure(&baseline, "settlement_only"),
    );
    println!();
    if !keep {
        std::fs::remove_dir_all(&data)?;
    }
    Ok(())
}

fn value(arguments: &[String], name: &str) -> Option<String> {
    arguments.iter().position(|argument| argument == name).and_then(|index| arguments.get(index + 1)).cloned()
}

#[tokio::main]
async fn main() -> Result<()> {
    // `cargo bench` adds `--bench`; nothing else is passed unless given after `--`.
    let arguments: Vec<String> = std::env::args().skip(1).filter(|argument| argument != "--bench").collect();
    if let Some(child) = value(&arguments, "--child") {
        let data = PathBuf::from(value(&arguments, "--data").context("--data")?);
        return match child.as_str() {
            "reconcile" => {
                let from = value(&arguments, "--from").context("--from")?.parse()?;
                let to = value(&arguments, "--to").context("--to")?.parse()?;
                let facilities = value(&arguments, "--facilities").map(|count| count.parse()).transpose()?;
                child_reconcile(&data, facilities, from, to).await
            }
            "baseline" => child_baseline(&data).await,
            other => bail!("unknown child {other}"),
        };
    }
    let scenario = value(&arguments, "--scenario").unwrap_or_else(|| "both".to_string());
    let payments = value(&arguments, "--payments").map(|count| count.parse()).transpose()?;
    let keep = arguments.iter().any(|argument| argument == "--keep");
    let root = match value(&arguments, "--dir") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("reconciler-scale-{}", std::process::id())),
    };
    let shapes: Vec<Shape> =
        SHAPES.iter().copied().filter(|shape| scenario == "both" || scenario == shape.name).collect();
    if shapes.is_empty() {
        bail!("--scenario {scenario:?}: expected city-year, prefecture-day or both");
    }
    println!(
        "Machine: {} cores; data in {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        root.display()
    );
    println!();
    for shape in shapes {
        run_shape(shape, payments, &root, keep).await?;
    }
    if !keep {
        std::fs::remove_dir(&root).ok();
    }
    Ok(())
}
