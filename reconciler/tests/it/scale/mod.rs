//! The one reconciliation path at small scale: generated days of the example city, reconciled
//! from the on-disk spool, give byte for byte the same reports in the same order whether the
//! facility-days run one at a time or in parallel, and reconcile with no exception.

use std::path::Path;

use chrono::NaiveDate;
use pos_core::BusinessDate;
use reconciler::calendar::BankCalendar;
use reconciler::inputs::error::Location;
use reconciler::pipeline::{PipelineError, ReconciledDay};
use reconciler::scale::generate::{self, Generated, Scenario};
use reconciler::scale::run::{reconcile_range, spool_inputs, AsOf, RangeStatistics, RunShared, ScaleError};
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

async fn streamed(generated: &Generated, folder: &Path, parallelism: usize) -> (Vec<ReconciledDay>, RangeStatistics) {
    let spooled =
        spool_inputs(&generated.files, &config(), &folder.join(format!("spool-{parallelism}")), generated.last_day)
            .unwrap();
    let source = JournalSource::connect_with(&generated.journal_url(), parallelism).await.unwrap();
    let shared = RunShared::prepare(&source, config(), BankCalendar::shipped().unwrap(), spooled, generated.last_day)
        .await
        .unwrap();
    let mut days = Vec::new();
    let statistics = reconcile_range(
        &source,
        &shared,
        BusinessDate::new(generated.first_day),
        BusinessDate::new(generated.last_day),
        AsOf::DayPlus(0),
        parallelism,
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

/// Every report, as written (JSON), in the order handed on.
fn written(days: &[ReconciledDay]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for day in days {
        bytes.extend(reconciler::report::to_json(&day.report).unwrap().into_bytes());
        bytes.extend(format!("{:?}\n", day.result).into_bytes());
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_facility_days_give_byte_for_byte_what_one_at_a_time_gives() {
    let folder = tempfile::tempdir().unwrap();
    let generated = two_days(folder.path()).await;
    let (sequential, one_at_a_time) = streamed(&generated, folder.path(), 1).await;
    let (parallel, at_once) = streamed(&generated, folder.path(), 4).await;
    assert_eq!(sequential.len(), 2 * config().facilities.len());
    assert_eq!(one_at_a_time, at_once);
    let order = |days: &[ReconciledDay]| -> Vec<_> {
        days.iter().map(|day| (day.report.business_date, day.report.facility.clone())).collect()
    };
    let mut sorted = order(&sequential);
    sorted.sort();
    assert_eq!(order(&sequential), sorted, "date then facility order");
    assert_eq!(order(&parallel), sorted);
    assert!(written(&sequential) == written(&parallel), "the parallel run's reports differ from the sequential run's");
}

#[tokio::test]
async fn generated_days_reconcile_with_no_exception() {
    let folder = tempfile::tempdir().unwrap();
    let generated = two_days(folder.path()).await;
    assert!(generated.cashless > 0, "the brand mix gives some cashless payments in 2,000");
    let (days, statistics) = streamed(&generated, folder.path(), 2).await;
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
    match spool_inputs(&files, &config, &folder.path().join("spool-broken"), generated.last_day) {
        Err(ScaleError::Pipeline(PipelineError::Rejected(rejected))) => {
            assert_eq!(rejected.errors[0].location, Location::Field { line: 2, column: 1 });
        }
        other => panic!("expected the file refused, got {other:?}"),
    }

    let mut files = generated.files.clone();
    let copy = folder.path().join("card-copy.csv");
    std::fs::copy(&card, &copy).unwrap();
    files.card.push(copy);
    match spool_inputs(&files, &config, &folder.path().join("spool-twice"), generated.last_day) {
        Err(ScaleError::Pipeline(PipelineError::Duplicate(error))) => {
            assert!(error.to_string().contains("card-copy.csv"), "{error}");
        }
        other => panic!("expected the copy refused, got {other:?}"),
    }
}
