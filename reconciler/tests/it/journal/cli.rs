//! The `reconcile` command end to end, on a SQLite journal written as the gateway writes it and
//! the example city configuration.

use std::path::Path;
use std::process::{Command, Output};

use pos_core::{Brand, FacilityId, RegisterId};
use reconciler::journal::DayJournal;

use super::database::{insert_journal, sqlite_journal};
use super::support::*;

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/examples/city.toml");

fn reconcile_command(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reconcile")).args(arguments).output().unwrap()
}

/// A cash day at the example city's 市民課 (F01, register R0101), counted 100 yen short.
fn cash_day() -> DayJournal {
    let mut day = journal(
        "2026-11-24",
        vec![
            payment("PAY-1", Brand::Cash, 300, "2026-11-24T09:10:00", "", None),
            payment("PAY-2", Brand::Cash, 450, "2026-11-24T10:20:00", "", None),
        ],
        Some(FLOAT + 750 - 100),
    );
    let facility = FacilityId::parse("F01").unwrap();
    let register = RegisterId::parse("R0101").unwrap();
    day.facility = facility.clone();
    for payment in &mut day.payments {
        payment.facility = facility.clone();
        payment.register = register.clone();
    }
    day.shifts[0].register = register;
    day
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn day_close_and_refusal_end_to_end() {
    let folder = tempfile::tempdir().unwrap();
    let (url, pool) = sqlite_journal(folder.path()).await;
    insert_journal(&pool, &cash_day()).await;
    pool.close().await;
    let out = folder.path().join("out");
    let store = folder.path().join("reconciler.db");
    let out_text = out.display().to_string();
    let store_text = store.display().to_string();
    let common = ["--config", CONFIG, "--journal", url.as_str()];

    let mut arguments = vec!["day"];
    arguments.extend_from_slice(&common);
    arguments.extend_from_slice(&["--facility", "F01", "--date", "2026-11-24", "--out", &out_text]);
    let output = reconcile_command(&arguments);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("F01 2026-11-24: 1 exception(s)"), "{}", text(&output.stderr));
    for name in [
        "F01-2026-11-24.json",
        "F01-2026-11-24.html",
        "F01-2026-11-24-revenue.csv",
        "F01-2026-11-24-cash.csv",
        "F01-2026-11-24-cashless.csv",
        "F01-2026-11-24-exceptions.csv",
        "F01-2026-11-24-city-summary.csv",
        "F01-2026-11-24-operator-summary.csv",
        "F01-2026-11-24-journal-entries.csv",
    ] {
        assert!(Path::new(&out).join(name).exists(), "{name} missing; wrote {}", text(&output.stdout));
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("F01-2026-11-24.json")).unwrap()).unwrap();
    assert_eq!(report["revenue"]["amount_total"], 750);
    assert_eq!(report["cash"]["over_short_total"], -100);
    assert_eq!(report["exceptions"]["rows"][0]["kind"], "cash_short");
    assert!(std::fs::read_to_string(out.join("F01-2026-11-24.html")).unwrap().contains("現金不足"));

    let mut arguments = vec!["close"];
    arguments.extend_from_slice(&common);
    arguments.extend_from_slice(&["--facility", "F01", "--date", "2026-11-24", "--store", &store_text]);
    let output = reconcile_command(&arguments);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("closed F01 2026-11-24 with 1 open item(s)"));
    let output = reconcile_command(&arguments);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("F01 on 2026-11-24 was closed on 2026-11-24"), "{}", text(&output.stderr));

    let mut arguments = vec!["day"];
    arguments.extend_from_slice(&common);
    arguments.extend_from_slice(&[
        "--facility",
        "F01",
        "--date",
        "2026-11-24",
        "--out",
        &out_text,
        "--store",
        &store_text,
    ]);
    let output = reconcile_command(&arguments);
    assert!(!output.status.success(), "a closed day is not reconciled again");

    let mut arguments = vec!["range"];
    arguments.extend_from_slice(&common);
    arguments.extend_from_slice(&[
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--out",
        &out_text,
        "--format",
        "json,csv",
    ]);
    let output = reconcile_command(&arguments);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("1 facility-day(s) reconciled"));
    assert!(out.join("2026-11-01_2026-11-30-city-summary.json").exists());
}

/// The cash day's statement: F01's deposit (650: the count less the float) and a credit of 7,777
/// nothing explains, both booked on Wednesday 25 November.
fn cash_days_statement(folder: &Path) -> std::path::PathBuf {
    let config = pos_config::load(Path::new(CONFIG)).unwrap();
    let f01 = config.facility(&FacilityId::parse("F01").unwrap()).unwrap();
    let movement = |kind, amount, payer: &str| bank_sim::Movement {
        booking_date: date("2026-11-25"),
        direction: bank_sim::Direction::Credit,
        kind,
        amount: yen(amount),
        payer_name: payer.to_string(),
        description: String::new(),
    };
    let account = bank_sim::Account {
        bank_code: 9900,
        bank_name: "ﾐﾅﾄｷﾞﾝｺｳ".to_string(),
        branch_code: 1,
        branch_name: "ｼﾔｸｼﾖﾏｴ".to_string(),
        account_type: bank_sim::AccountType::Ordinary,
        account_number: 1_234_567,
        account_name: "ﾐﾅﾄｼ ｶｲｹｲｶﾝﾘｼﾔ".to_string(),
        balance_opening: yen(1_000_000),
    };
    let movements = vec![
        movement(bank_sim::TransactionKind::Cash, 650, &f01.depositor_name),
        movement(bank_sim::TransactionKind::Transfer, 7_777, "ﾌﾒｲ"),
    ];
    let statement = bank_sim::Statement {
        created_on: date("2026-11-26"),
        from: date("2026-11-25"),
        to: date("2026-11-25"),
        accounts: vec![(account, movements)],
    };
    bank_sim::write(&statement, folder).unwrap()
}

#[tokio::test]
async fn a_statement_not_all_accounted_for_keeps_the_day_open() {
    let folder = tempfile::tempdir().unwrap();
    let (url, pool) = sqlite_journal(folder.path()).await;
    insert_journal(&pool, &cash_day()).await;
    pool.close().await;
    let bank = cash_days_statement(folder.path()).display().to_string();
    let out = folder.path().join("out");
    let (out_text, store) = (out.display().to_string(), folder.path().join("reconciler.db").display().to_string());
    let common = ["--config", CONFIG, "--journal", url.as_str(), "--bank", bank.as_str(), "--as-of", "2026-11-30"];

    let mut arguments = vec!["day"];
    arguments.extend_from_slice(&common);
    arguments.extend_from_slice(&["--facility", "F01", "--date", "2026-11-24", "--out", &out_text]);
    let output = reconcile_command(&arguments);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("1 on the city's list"), "{stderr}");
    assert!(stderr.contains("照合先のない入金 Unexplained bank credit  +7,777円"), "{stderr}");
    let city = std::fs::read_to_string(out.join("F01-2026-11-24-city-exceptions.csv")).unwrap();
    assert!(city.contains("bank_credit_unmatched") && city.contains("7777"), "{city}");
    let lines = std::fs::read_to_string(out.join("F01-2026-11-24-bank-lines.csv")).unwrap();
    assert!(lines.contains("cash_deposit") && lines.contains("unmatched"), "{lines}");
    assert!(!lines.contains(&folder.path().display().to_string()), "files are named, not the machine's paths");

    let mut arguments = vec!["close"];
    arguments.extend_from_slice(&common);
    arguments.extend_from_slice(&["--facility", "F01", "--date", "2026-11-24", "--store", &store]);
    let output = reconcile_command(&arguments);
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("F01 2026-11-24 is not closed: the bank statement has 1 line(s)"), "{stderr}");
}

#[tokio::test]
async fn a_bad_settlement_file_is_named_with_its_line() {
    let folder = tempfile::tempdir().unwrap();
    let (url, pool) = sqlite_journal(folder.path()).await;
    pool.close().await;
    let card = folder.path().join("card-settlement-20261124.csv");
    std::fs::write(
        &card,
        "record_type,settlement_date,payout_id,payout_date,merchant_id,terminal_id,transaction_time,stan,rrn,auth_code,brand,masked_pan,gross_amount,fee_amount,net_amount,original_rrn\r\n\
         SALE,2026-11-24,P1,2026-11-26,000000000010001,T0010001,2026-11-24T10:15:02+09:00,000123,632810000123,,VISA,411111******1111,15x0,48,1452,\r\n",
    )
    .unwrap();
    let card_text = card.display().to_string();
    let out = folder.path().join("out").display().to_string();
    let output = reconcile_command(&[
        "day",
        "--config",
        CONFIG,
        "--journal",
        &url,
        "--facility",
        "F01",
        "--date",
        "2026-11-24",
        "--card",
        &card_text,
        "--out",
        &out,
    ]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("card-settlement-20261124.csv:2:13"), "{stderr}");
}

#[test]
fn the_binary_answers_version_with_its_commit() {
    let output = reconcile_command(&["--version"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), pos_build_info::version_line("reconcile"));
}
