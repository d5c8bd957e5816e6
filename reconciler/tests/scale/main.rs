//! The streaming path at small scale: generated days of the example city, reconciled from the
//! on-disk spool one facility-day at a time, must give exactly what reconciling with every file
//! in memory gives, and must reconcile with no exception.

use std::path::Path;

use chrono::NaiveDate;
use pos_core::BusinessDate;
use reconciler::bank::BankReconciliation;
use reconciler::calendar::BankCalendar;
use reconciler::inputs::error::Location;
use reconciler::pipeline::{self, PipelineError, ReconciledDay};
use reconciler::scale::generate::{self, Generated, Scenario};
use reconciler::scale::run::{reconcile_range, spool_inputs, AsOf, RangeStatistics, ScaleError};
use reconciler::source::JournalSource;

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/examples/city.toml");

fn config() -> pos_config::Config {
    pos_config::load(Path::new(CONFIG)).unwrap()
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// Two days of the example city, 1,000 payments each.
async fn two_days(folder: &Path) -> Generated {
    let scenario =
        Scenario { config: config(), first_day: date("2026-06-01"), days: 2, payments_per_day: 1_000, seed: 7 };
    generate::generate(&scenario, folder).await.unwrap()
}

async fn streamed(generated: &Generated, folder: &Path) -> (Vec<ReconciledDay>, RangeStatistics) {
    let config = config();
    let calendar = BankCalendar::shipped().unwrap();
    let (spool, totals, _) = spool_inputs(&generated.files, &config, &folder.join("spool")).unwrap();
    let source = JournalSource::connect(&generated.journal_url()).await.unwrap();
    let mut days = Vec::new();
    let statistics = reconcile_range(
        &source,
        &config,
        &calendar,
        &spool,
        &totals,
        &BankReconciliation::default(),
        BusinessDate::new(generated.first_day),
        BusinessDate::new(generated.last_day),
        AsOf::DayPlus(0),
        |day| {
            days.push(day);
            Ok(())
        },
    )
    .await
    .unwrap();
    source.close().await;
    (days, statistics)
}

#[tokio::test]
async fn the_streaming_path_gives_the_in_memory_reports() {
    let folder = tempfile::tempdir().unwrap();
    let generated = two_days(folder.path()).await;
    assert_eq!(generated.payments, 2_000);
    let (streamed_days, statistics) = streamed(&generated, folder.path()).await;
    assert_eq!(statistics.payments, 2_000);

    let config = config();
    let calendar = BankCalendar::shipped().unwrap();
    let (settlements, bank) = pipeline::load_inputs(&generated.files, generated.last_day).unwrap();
    let source = JournalSource::connect(&generated.journal_url()).await.unwrap();
    let run =
        pipeline::prepare_run(&source, &config, &calendar, &settlements, &bank, generated.last_day).await.unwrap();
    let active = source
        .active_days(BusinessDate::new(generated.first_day), BusinessDate::new(generated.last_day))
        .await
        .unwrap();
    assert_eq!(active.len(), streamed_days.len());
    assert_eq!(active.len(), 2 * config.facilities.len());
    for ((facility, day), streamed) in active.iter().zip(&streamed_days) {
        let in_memory = pipeline::reconcile_from_journal(&source, &config, &calendar, &run, facility, *day, day.date())
            .await
            .unwrap();
        assert_eq!((&streamed.report.facility, streamed.report.business_date), (facility, *day));
        assert_eq!(streamed.result, in_memory.result, "{facility} on {day}");
        assert_eq!(streamed.report, in_memory.report, "{facility} on {day}");
    }
    source.close().await;
}

#[tokio::test]
async fn generated_days_reconcile_with_no_exception() {
    let folder = tempfile::tempdir().unwrap();
    let generated = two_days(folder.path()).await;
    assert!(generated.cashless > 0, "the brand mix gives some cashless payments in 2,000");
    let (days, statistics) = streamed(&generated, folder.path()).await;
    assert_eq!(statistics.exceptions, 0);
    assert_eq!(statistics.timing_differences, 0);
    assert_eq!(statistics.match_groups, generated.cashless, "every cashless payment matched its line");
    let fee_lines: u64 = days.iter().map(|day| day.result.fee_lines.len() as u64).sum();
    assert_eq!(fee_lines, generated.cashless, "each line's fee is checked on its own day");
    for day in &days {
        assert!(day.result.exceptions.is_empty(), "{:?}", day.result.exceptions);
        let taken: i64 = day.journal.payments.iter().map(|payment| payment.amount.get()).sum();
        assert_eq!(day.result.revenue_total.get(), taken, "every payment's sale is booked to revenue");
    }
}

#[tokio::test]
async fn a_bad_line_is_refused_with_its_place_and_a_file_given_twice_is_refused() {
    let folder = tempfile::tempdir().unwrap();
    let generated = two_days(folder.path()).await;
    let config = config();

    let mut files = generated.files.clone();
    let card = files.card[0].clone();
    let text = std::fs::read_to_string(&card).unwrap();
    let broken = folder.path().join("card-broken.csv");
    std::fs::write(&broken, text.replacen("\r\nSALE,", "\r\nSALX,", 1)).unwrap();
    files.card[0] = broken;
    match spool_inputs(&files, &config, &folder.path().join("spool-broken")) {
        Err(ScaleError::Pipeline(PipelineError::Rejected(rejected))) => {
            assert_eq!(rejected.errors[0].location, Location::Field { line: 2, column: 1 });
        }
        other => panic!("expected the file refused, got {other:?}"),
    }

    let mut files = generated.files.clone();
    let copy = folder.path().join("card-copy.csv");
    std::fs::copy(&card, &copy).unwrap();
    files.card.push(copy);
    match spool_inputs(&files, &config, &folder.path().join("spool-twice")) {
        Err(ScaleError::Pipeline(PipelineError::Duplicate(error))) => {
            assert!(error.to_string().contains("card-copy.csv"), "{error}");
        }
        other => panic!("expected the copy refused, got {other:?}"),
    }
}
