//! The demo's day, reconciled: treasury finds exactly the discrepancies the demo planted — the
//! sale the card acquirer's file leaves out, the fee a yen over the contract, the register ten
//! yen short — with their amounts, and nothing else; without the planted file mistakes, only the
//! cash shortage remains.

use demo::day::{DemoOptions, DemoReport, PLANTED_SHORTAGE_YEN};
use demo::reconcile::{Discrepancy, ReconcileOptions, PLANTED_FEE_OFFSET_YEN};
use e2e::example_config_path;

const DATE: &str = "2026-11-24";

fn options(data: &std::path::Path, no_plant: bool) -> DemoOptions {
    DemoOptions {
        config: example_config_path(),
        data_dir: data.to_path_buf(),
        sales: 300,
        date: Some(DATE.parse().expect("date")),
        seed: 7,
        cashless_per_mille: 150,
        quiet: true,
        reconcile: ReconcileOptions { no_plant },
        pages: demo::pages::PagesOptions { serve: false, listen: "127.0.0.1:0".parse().expect("address") },
    }
}

fn found_of_kind<'a>(found: &'a [Discrepancy], kind: &str) -> Vec<&'a Discrepancy> {
    found.iter().filter(|d| d.kind == kind).collect()
}

/// The facility the demo closed short, as treasury read it back through the API.
fn short_facility(report: &DemoReport) -> String {
    let short: Vec<_> = report.facilities.iter().filter(|f| f.over_short != 0).collect();
    assert_eq!(short.len(), 1, "one register was closed short");
    short[0].facility_id.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_day_reconciles_with_exactly_its_planted_discrepancies() {
    let data = tempfile::tempdir().expect("temp dir");
    let report = demo::day::run(options(data.path(), false)).await.expect("demo day");
    let reconciliation = report.reconciliation.clone().expect("the demo ends with the reconciliation");

    assert_eq!(reconciliation.facilities_reconciled, 35);
    assert_eq!(reconciliation.timing_differences, 0, "reconciled after every due date");
    let found = reconciliation.found_discrepancies();
    assert_eq!(found, reconciliation.planted, "no more, no fewer than planted");
    assert_eq!(found.len(), 3, "{found:?}");

    let short = found_of_kind(&found, "cash_short");
    assert_eq!(short.len(), 1);
    assert_eq!((short[0].facility.clone(), short[0].amount), (short_facility(&report), -PLANTED_SHORTAGE_YEN));

    let fee = found_of_kind(&found, "fee_mismatch");
    assert_eq!(fee.len(), 1);
    // Charged above the contract, the city gets less: negative by the one sign rule.
    assert_eq!(fee[0].amount, -PLANTED_FEE_OFFSET_YEN);

    // The sale left out of the card file is a card payment of its facility, at stake in full.
    let missing = found_of_kind(&found, "missing_in_settlement");
    assert_eq!(missing.len(), 1);
    let facility = report.facilities.iter().find(|f| f.facility_id == missing[0].facility).expect("facility");
    assert!(facility.cashless_payments > 0);
    assert!(missing[0].amount < 0 && -missing[0].amount <= facility.cashless_amount, "{:?}", missing[0]);

    // The card file holds one sale fewer than the card payments the acquirer approved; every
    // journal record but that one was matched to a settlement line.
    let card_file = data.path().join("settlement/card-settlement-20261124.csv");
    let card_text = std::fs::read_to_string(&card_file).expect("card settlement file");
    let card_sales = card_text.lines().filter(|line| line.starts_with("SALE,")).count();
    let qr: usize = report.facilities.iter().map(|f| f.qr_payments).sum();
    let cashless: usize = report.facilities.iter().map(|f| f.cashless_payments).sum();
    assert!(card_sales > 1, "two card sales are needed to plant both file mistakes");
    assert_eq!(reconciliation.matched, cashless + qr - 1);
    assert_eq!(reconciliation.settlement_lines, cashless + qr - 1);
    assert!(data
        .path()
        .join("settlement")
        .read_dir()
        .expect("inputs")
        .any(|entry| { entry.expect("entry").file_name().to_string_lossy().starts_with("zengin-") }));

    // The reports are written, and each facility's 日計表 lists its exceptions.
    let out = data.path().join("reconciliation").join(DATE);
    for name in [
        format!("{DATE}-city-summary.json"),
        format!("{DATE}-city-summary.csv"),
        format!("{DATE}-operator-summary.json"),
        format!("{DATE}-operator-summary.csv"),
        format!("{DATE}-journal-entries.csv"),
        format!("F01-{DATE}.html"),
        format!("F01-{DATE}-revenue.csv"),
    ] {
        assert!(out.join(&name).is_file(), "{name} is written");
    }
    let entries = std::fs::read(out.join(format!("{DATE}-journal-entries.csv"))).expect("export");
    assert!(entries.starts_with(b"\xEF\xBB\xBF"), "CSV for Excel starts with a BOM");
    // The export books to the configuration's account codes: the fee, the shortage, a receivable.
    let config = pos_config::load_with_env(&example_config_path(), |_| None).expect("config");
    let entries = String::from_utf8(entries).expect("UTF-8");
    for code in [
        &config.accounting.fee_expense_account,
        &config.accounting.cash_short_account,
        &config.accounting.cash_account,
        &config.acquirers[0].receivable_account,
    ] {
        assert!(entries.contains(&format!(",{code},")), "{code} is booked");
    }
    let short_day: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join(format!("{}-{DATE}.json", short[0].facility))).expect("day report"),
    )
    .expect("JSON");
    let kinds: Vec<&str> = short_day["exceptions"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|row| row["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"cash_short"), "{kinds:?}");

    // What treasury reads and what the demo prints name records as people do, and no Debug form
    // of any type reaches them: every report, CSV, page and export written, and the printed lines.
    let printed = demo::reconcile::render(&reconciliation);
    assert_no_debug("the demo's printed reconciliation", &printed);
    assert!(printed.contains("手数料不一致 / Fee differs from the contract  -1円  (planted)"), "{printed}");
    assert!(printed.contains("精算データ未着 / Not settled"), "{printed}");
    assert!(printed.contains("（領収書 No. 2026-"), "{printed}");
    for entry in out.read_dir().expect("reports") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("report file");
        let text = String::from_utf8_lossy(&bytes);
        let name = path.display().to_string();
        if name.ends_with(".json") {
            let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            assert_no_debug_json(&name, &value);
        } else if name.ends_with(".html") {
            let body = text.split_once("</style>").map_or(text.as_ref(), |(_, body)| body);
            assert_no_debug(&name, body);
            assert!(!body.contains(&data.path().display().to_string()), "{name} names a path of this machine");
        } else {
            assert_no_debug(&name, &text);
            assert!(!text.contains(&data.path().display().to_string()), "{name} names a path of this machine");
        }
    }
}

/// Patterns only a Rust `Debug` form writes.
const DEBUG_PATTERNS: [&str; 12] = [
    "Some(",
    "None)",
    "None,",
    "Id(\"",
    "{ ",
    " }",
    "::",
    "Yen(",
    "Payment(",
    "Refund {",
    "SettlementLine",
    "BankLine",
];

fn assert_no_debug(what: &str, text: &str) {
    for pattern in DEBUG_PATTERNS {
        assert!(!text.contains(pattern), "{what} shows a Debug form ({pattern:?}): {text}");
    }
}

fn assert_no_debug_json(what: &str, value: &serde_json::Value) {
    match value {
        serde_json::Value::String(text) => assert_no_debug(what, text),
        serde_json::Value::Array(items) => items.iter().for_each(|item| assert_no_debug_json(what, item)),
        serde_json::Value::Object(fields) => fields.values().for_each(|item| assert_no_debug_json(what, item)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_planted_file_mistakes_only_the_cash_shortage_remains() {
    let data = tempfile::tempdir().expect("temp dir");
    let report = demo::day::run(options(data.path(), true)).await.expect("demo day");
    let reconciliation = report.reconciliation.clone().expect("reconciliation");
    let expected = vec![Discrepancy {
        facility: short_facility(&report),
        kind: "cash_short".to_string(),
        amount: -PLANTED_SHORTAGE_YEN,
    }];
    assert_eq!(reconciliation.planted, expected);
    assert_eq!(reconciliation.found_discrepancies(), expected);
    let qr: usize = report.facilities.iter().map(|f| f.qr_payments).sum();
    let cashless: usize = report.facilities.iter().map(|f| f.cashless_payments).sum();
    assert_eq!(reconciliation.matched, cashless + qr, "every cashless payment matched its line");
}

/// The same day, loaded and reconciled through treasury's API (what `demo --serve` does for the
/// pages), finds the same discrepancies, stored for the board and the exceptions list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn treasurys_api_finds_the_same_discrepancies_in_the_demo_day() {
    let data = tempfile::tempdir().expect("temp dir");
    let options = options(data.path(), false);
    let report = demo::day::run(options.clone()).await.expect("demo day");
    let reconciliation = report.reconciliation.clone().expect("reconciled");
    let mut config = pos_config::load(&options.config).expect("config");
    config.database = pos_config::Database {
        url: format!("sqlite://{}", data.path().join("journal.db").display()),
        backend: pos_config::Backend::Sqlite,
        connections_max: 4,
    };
    let date: chrono::NaiveDate = DATE.parse().expect("date");
    let clock = std::sync::Arc::new(pos_core::SystemClock);
    let (pages, result) =
        demo::pages::start(&config, "127.0.0.1:0".parse().expect("address"), clock, date, Some(&reconciliation))
            .await
            .expect("pages start and the day is reconciled through the API");
    let result = result.expect("a reconciliation result");
    assert_eq!(result.facilities.len(), 35);
    let list: pos_core::api::ExceptionList = demo::rig::http_client()
        .get(format!("{}/v1/treasury/exceptions?business_date={DATE}", pages.base))
        .bearer_auth("demo-treasury")
        .send()
        .await
        .expect("exceptions")
        .json()
        .await
        .expect("exception list");
    let mut through_api: Vec<Discrepancy> = list
        .exceptions
        .iter()
        .map(|x| Discrepancy {
            facility: x
                .facility_id
                .as_ref()
                .map_or_else(|| demo::reconcile::CITY_LIST.to_string(), ToString::to_string),
            kind: x.kind.clone(),
            amount: x.amount_at_stake.get(),
        })
        .collect();
    through_api.sort();
    assert_eq!(through_api, reconciliation.planted, "the API run finds what the demo planted, no more");
    pages.stop().await.expect("pages stop");
}
