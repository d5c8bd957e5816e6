//! Backups you have restored: `gateway backup --to FILE` copies a SQLite journal mid-day while four
//! registers keep selling; the copy is restored into a fresh directory, a gateway is started on it,
//! and the restored journal is checked as the city would: the audit chain verifies, every receipt
//! number is there without a gap and belongs to the same sale as in the live journal, treasury's
//! loaded reconciliation and its exceptions are there, and the restored gateway sells on from the
//! next receipt number. (PostgreSQL journals are backed up with pg_dump: deploy/README.md.)

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pos_config::Backend;
use pos_core::api::{ExceptionList, SaleList};
use serde_json::json;

use crate::support::*;

/// Sales each register rings up at most while the backup runs (the load stops sooner).
const SALES_PER_REGISTER_MAX: usize = 400;
/// The registers that sell during the backup, and a fee item each facility sells.
const REGISTERS: [(&str, &str, &str); 4] = [
    ("clerk-r0102", "R0102", "JUMINHYO"),
    ("clerk-r0103", "R0103", "KOSEKI-ZENBU"),
    ("clerk-r0201", "R0201", "NOZEI"),
    ("clerk-r0101", "R0101", "INKAN"),
];

/// Each register's paid sales: receipt number → (sale id, amount).
async fn receipts(app: &TestApp) -> BTreeMap<String, BTreeMap<i64, (String, i64)>> {
    let list: SaleList = app.get("/v1/sales?limit=5000", &token("treasury")).await.ok();
    let mut by_register: BTreeMap<String, BTreeMap<i64, (String, i64)>> = BTreeMap::new();
    for sale in list.sales {
        if let Some(receipt) = sale.receipt {
            let previous = by_register
                .entry(sale.register_id.to_string())
                .or_default()
                .insert(receipt.number, (sale.id.clone(), sale.amount_total.get()));
            assert!(previous.is_none(), "receipt {} issued twice at {}", receipt.number, sale.register_id);
        }
    }
    by_register
}

async fn sell_for_cash(app: &TestApp, clerk: &str, register: &str, fee_item: &str) {
    let sale: pos_core::api::SaleView = app
        .post(
            "/v1/sales",
            &token(clerk),
            &key(),
            &json!({ "register_id": register, "lines": [{ "fee_item": fee_item, "quantity": 1 }] }),
        )
        .await
        .ok();
    let _: pos_core::api::PaymentResult = app
        .post(
            &format!("/v1/sales/{}/payments", sale.id),
            &token(clerk),
            &key(),
            &json!({ "method": "cash", "tendered": 10_000 }),
        )
        .await
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_restores_to_a_gateway_that_verifies_and_sells_on() {
    let app = Arc::new(spawn_app(Backend::Sqlite).await);
    // Treasury's records: a reconciled day with a cash-short exception.
    let date = crate::treasury::short_day(&app).await;
    crate::treasury::reconciled(&app, date, &token("treasury"), &key(), &json!({ "as_of": date.to_string() })).await;
    for (clerk, register, _) in REGISTERS {
        let _: serde_json::Value = app
            .post("/v1/shifts", &token(clerk), &key(), &json!({ "register_id": register, "opening_float": 0 }))
            .await
            .ok();
    }

    // Four registers sell until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = REGISTERS
        .iter()
        .map(|&(clerk, register, fee_item)| {
            let (app, stop) = (app.clone(), stop.clone());
            tokio::spawn(async move {
                let mut sold = 0;
                while !stop.load(Ordering::Relaxed) && sold < SALES_PER_REGISTER_MAX {
                    sell_for_cash(&app, clerk, register, fee_item).await;
                    sold += 1;
                }
                sold
            })
        })
        .collect();
    until_sales(&app, 20).await;

    // The backup, by the binary an operator's cron runs, with the sales going on.
    let dir = tempfile::tempdir().expect("dir");
    let pki = TestPki::new();
    let config = write_config(dir.path(), &pki, &["127.0.0.1:1".to_string()], &["127.0.0.1:1".to_string()]);
    let backup = dir.path().join("journal-backup.db");
    let sold_before = app.count("sales").await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["backup", "--config"])
        .arg(&config)
        .arg("--to")
        .arg(&backup)
        .env("POS_DATABASE_URL", app.app.config.database.url.clone())
        .output()
        .await
        .expect("gateway backup runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("integrity ok"));
    let sold_during = app.count("sales").await;
    // Never over an existing file.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["backup", "--config"])
        .arg(&config)
        .arg("--to")
        .arg(&backup)
        .env("POS_DATABASE_URL", app.app.config.database.url.clone())
        .output()
        .expect("run");
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("never overwrites"));

    stop.store(true, Ordering::Relaxed);
    for register in load {
        assert!(register.await.expect("load task") > 0);
    }
    let live = receipts(&app).await;
    assert!(app.count("sales").await > sold_during, "the registers sold on after the backup");

    // Restore into a fresh directory and start a gateway there.
    let fresh = tempfile::tempdir().expect("fresh dir");
    let restored_file = fresh.path().join("journal.db");
    std::fs::copy(&backup, &restored_file).expect("restore the copy");
    // The audit key is kept apart from the journal (never in the database, nor in its backup) and
    // is put back beside it. The live gateway's anchors are not: they name heads the copy, taken
    // earlier, does not reach; the restored gateway anchors afresh (deploy/README.md, "Restore").
    let key = app.app.journal.audit_settings().key.to_hex();
    std::fs::write(fresh.path().join("audit.key"), key).expect("restore the audit key");
    let restored = spawn_app_on(&format!("sqlite://{}", restored_file.display())).await;

    let verification: serde_json::Value = restored.get("/v1/audit/verify", &token("admin")).await.ok();
    assert_eq!(verification["problem"], serde_json::Value::Null, "{verification}");
    assert!(verification["records"].as_i64().unwrap() > 40, "{verification}");

    // Receipts: gapless per register, each the same sale as in the live journal; the copy holds
    // at least what was sold before the backup began and at most what was sold when it ended.
    let copied = receipts(&restored).await;
    let copied_sales = restored.count("sales").await;
    assert!((sold_before..=sold_during).contains(&copied_sales), "{sold_before} ≤ {copied_sales} ≤ {sold_during}");
    for (register, numbers) in &copied {
        let expected: Vec<i64> = (1..=numbers.len() as i64).collect();
        assert_eq!(numbers.keys().copied().collect::<Vec<_>>(), expected, "receipts of {register}");
        for (number, sale) in numbers {
            assert_eq!(live[register].get(number), Some(sale), "receipt {number} of {register}");
        }
    }

    // Treasury's records came along: the reconciled day and its exception.
    let exceptions: ExceptionList =
        restored.get(&format!("/v1/treasury/exceptions?business_date={date}"), &token("treasury")).await.ok();
    assert!(
        exceptions.exceptions.iter().any(|x| x.kind == "cash_short" && x.amount_at_stake.get() == -10),
        "{exceptions:?}"
    );
    let report = restored.get(&format!("/v1/treasury/days/{date}/facilities/F01/report"), &token("treasury")).await;
    assert_eq!(report.status, 200, "{}", report.text);

    // And it sells on: the next receipt of a register follows the last one in the copy.
    let (clerk, register, fee_item) = REGISTERS[0];
    let last = copied.get(register).and_then(|n| n.keys().last().copied()).unwrap_or(0);
    sell_for_cash(&restored, clerk, register, fee_item).await;
    let after = receipts(&restored).await;
    assert_eq!(after[register].keys().last().copied(), Some(last + 1));
    restored.stop().await;
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
}

/// Waits until the live journal holds at least `count` sales.
async fn until_sales(app: &TestApp, count: i64) {
    until("the load to start", std::time::Duration::from_secs(60), || async {
        (app.count("sales").await >= count).then_some(())
    })
    .await;
}
