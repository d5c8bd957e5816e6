//! Treasury's API on both backends: loading files (strictly, once each), reconciling a day over
//! the gateway's own journal with the results stored, the board, the report in its formats, the
//! exceptions' resolution with who and when, closing a day (only when everything is settled, and
//! then for good), and who may do any of it.

use std::time::Duration;

use pos_config::Backend;
use pos_core::api::{
    ClosedDayView, DayBoard, DayStatus, ExceptionList, ExceptionState, ExceptionView, ReconcileResult, RunState,
    SaleView, ShiftView, TreasuryRunView,
};
use pos_core::BusinessDate;
use serde_json::json;

use crate::support::{key, spawn_app, spawn_rig, token, until, TestApp};

/// The longest a test's reconciliation run may take.
const RUN_MS: u64 = 30_000;

/// Waits for run `id` to end.
pub(crate) async fn run_end(app: &TestApp, id: &str, token: &str) -> TreasuryRunView {
    until("the reconciliation run ends", Duration::from_millis(RUN_MS), || async {
        let run: TreasuryRunView = app.get(&format!("/v1/treasury/runs/{id}"), token).await.ok();
        (run.state != RunState::Running).then_some(run)
    })
    .await
}

/// Starts (or joins) the day's run, which answers `202` at once, and waits for its end: the
/// result of a run that succeeded.
pub(crate) async fn reconciled(
    app: &TestApp,
    date: BusinessDate,
    token: &str,
    key: &str,
    body: &serde_json::Value,
) -> ReconcileResult {
    let started = app.post(&format!("/v1/treasury/days/{date}/reconcile"), token, key, body).await;
    assert_eq!(started.status, 202, "{}", started.text);
    let run: TreasuryRunView = started.json();
    let ended = run_end(app, &run.run_id, token).await;
    assert_eq!(ended.state, RunState::Succeeded, "{ended:?}");
    assert_eq!(ended.facility_days_done, ended.facility_days_total);
    ended.result.expect("a run that succeeded has its result")
}

/// The 全銀協 statement example of `docs/protocols.md` §4.4, the one copy in the repository (the
/// reconciler's parser tests read it too); SHA-256
/// `6536f2fdcb04dca483abc638fd7291950b4138bd74ae2736801d1119a7981c36`.
const BANK_EXAMPLE: &[u8] = include_bytes!("../../../reconciler/tests/it/inputs/data/zengin-statement-example.txt");

/// Patterns only a Rust `Debug` form writes: none may reach what treasury reads.
const DEBUG_PATTERNS: [&str; 9] = ["Some(", "None)", "None,", "Id(\"", "{ ", " }", "::", "Yen(", "Payment("];

fn assert_no_debug(what: &str, value: &serde_json::Value) {
    match value {
        serde_json::Value::String(text) => {
            for pattern in DEBUG_PATTERNS {
                assert!(!text.contains(pattern), "{what} shows a Debug form ({pattern:?}): {text}");
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| assert_no_debug(what, item)),
        serde_json::Value::Object(fields) => fields.values().for_each(|item| assert_no_debug(what, item)),
        _ => {}
    }
}

/// A shift at R0101 with one cash sale of 300 yen, closed ten yen short.
pub(crate) async fn short_day(app: &TestApp) -> BusinessDate {
    let clerk = token("clerk-r0101");
    let shift: ShiftView =
        app.post("/v1/shifts", &clerk, &key(), &json!({ "register_id": "R0101", "opening_float": 10000 })).await.ok();
    let sale: SaleView = app
        .post(
            "/v1/sales",
            &clerk,
            &key(),
            &json!({ "register_id": "R0101", "lines": [{ "fee_item": "JUMINHYO", "quantity": 1 }] }),
        )
        .await
        .ok();
    let _: serde_json::Value = app
        .post(
            &format!("/v1/sales/{}/payments", sale.id),
            &clerk,
            &key(),
            &json!({ "method": "cash", "tendered": 1000 }),
        )
        .await
        .ok();
    // 10,000 float + 300 taken = 10,300 expected; 10,290 counted.
    let counted = json!({ "counted": { "10000": 1, "100": 2, "50": 1, "10": 4 } });
    let closed: ShiftView = app.post(&format!("/v1/shifts/{}/close", shift.id), &clerk, &key(), &counted).await.ok();
    assert_eq!(closed.cash.map(|c| c.over_short.get()), Some(-10));
    shift.business_date
}

async fn treasury_reconciles_closes_and_keeps_a_closed_day(backend: Backend) {
    let app = spawn_app(backend).await;
    let treasury = token("treasury");
    let date = short_day(&app).await;

    let board: DayBoard = app.get(&format!("/v1/treasury/days/{date}"), &treasury).await.ok();
    let f01 = board.facilities.iter().find(|f| f.facility_id.as_str() == "F01").expect("F01");
    assert_eq!(f01.status, DayStatus::NotReconciled);
    assert_eq!((f01.sales_count, f01.taken.get(), f01.cash_over_short.get()), (1, 300, -10));

    let run_key = key();
    let body = json!({ "as_of": date.to_string() });
    let run: ReconcileResult = reconciled(&app, date, &treasury, &run_key, &body).await;
    assert_eq!(run.facilities.len(), 1, "{run:?}");
    assert_eq!((run.facilities[0].gross.get(), run.facilities[0].outcome.as_str()), (300, "reconciled"));
    let again = app.post(&format!("/v1/treasury/days/{date}/reconcile"), &treasury, &run_key, &body).await;
    assert!(again.replayed, "the same key answers from the first run");

    let list: ExceptionList = app.get(&format!("/v1/treasury/exceptions?business_date={date}"), &treasury).await.ok();
    let short: Vec<&ExceptionView> = list.exceptions.iter().filter(|x| x.kind == "cash_short").collect();
    assert_eq!(short.len(), 1, "{:?}", list.exceptions);
    assert_eq!(short[0].amount_at_stake.get(), -10);
    assert_eq!(short[0].state, ExceptionState::Open);
    let short_id = short[0].id.clone();

    // A re-run keeps the exception (same id) rather than adding a second one.
    let _: ReconcileResult = reconciled(&app, date, &treasury, &key(), &body).await;
    let list: ExceptionList =
        app.get(&format!("/v1/treasury/exceptions?business_date={date}&kind=cash_short"), &treasury).await.ok();
    assert_eq!(list.exceptions.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(), vec![short_id.as_str()]);

    // The report in each format.
    let report = format!("/v1/treasury/days/{date}/facilities/F01/report");
    let json_report: serde_json::Value = app.get(&report, &treasury).await.ok();
    assert_eq!(json_report["cash"]["over_short_total"], json!(-10), "{json_report}");
    let html = app.get(&format!("{report}?format=html"), &treasury).await;
    assert!(html.status == 200 && html.text.contains("日計表"), "{}", html.text);
    let csv = app.get(&format!("{report}?format=csv&section=cash"), &treasury).await;
    assert!(csv.status == 200 && csv.text.starts_with('\u{feff}'), "CSV with a BOM for Excel: {}", csv.text);
    let (code, _, field) = app.get(&format!("{report}?format=pdf"), &treasury).await.error(422);
    assert_eq!((code.as_str(), field.as_deref()), ("invalid_format", Some("format")));
    let export = app.get(&format!("/v1/treasury/days/{date}/accounting-export"), &treasury).await;
    assert!(export.status == 200 && export.text.contains("300"), "{}", export.text);

    // Closing waits for every exception to be resolved.
    let close = format!("/v1/treasury/days/{date}/facilities/F01/close");
    let (code, _, _) = app.post(&close, &treasury, &key(), &json!({})).await.error(409);
    assert_eq!(code, "exceptions_open");
    let (code, _, field) = app
        .post(
            &format!("/v1/treasury/exceptions/{short_id}/resolve"),
            &treasury,
            &key(),
            &json!({ "action": " ", "note": "x" }),
        )
        .await
        .error(422);
    assert_eq!((code.as_str(), field.as_deref()), ("invalid_resolution", Some("action")));
    let resolved: ExceptionView = app
        .post(
            &format!("/v1/treasury/exceptions/{short_id}/resolve"),
            &treasury,
            &key(),
            &json!({ "action": "出納員に確認", "note": "釣銭の渡し過ぎ" }),
        )
        .await
        .ok();
    assert_eq!(resolved.state, ExceptionState::Resolved);
    assert_eq!(resolved.resolved_by.as_ref().map(|u| u.as_str()), Some("treasury"));
    assert!(resolved.resolved_at.is_some());
    let (code, _, _) = app
        .post(
            &format!("/v1/treasury/exceptions/{short_id}/resolve"),
            &treasury,
            &key(),
            &json!({ "action": "a", "note": "b" }),
        )
        .await
        .error(409);
    assert_eq!(code, "exception_not_open");

    let closed: ClosedDayView = app.post(&close, &treasury, &key(), &json!({})).await.ok();
    assert_eq!(closed.closed_by.as_str(), "treasury");
    let (code, _, _) = app.post(&close, &treasury, &key(), &json!({})).await.error(409);
    assert_eq!(code, "day_closed");
    // A closed day is left as it was by a later run.
    let run: ReconcileResult = reconciled(&app, date, &treasury, &key(), &body).await;
    assert_eq!(run.facilities[0].outcome, "closed");
    let board: DayBoard = app.get(&format!("/v1/treasury/days/{date}"), &treasury).await.ok();
    let f01 = board.facilities.iter().find(|f| f.facility_id.as_str() == "F01").expect("F01");
    assert_eq!(f01.status, DayStatus::Closed);
    app.stop().await;
}

async fn only_treasury_reaches_the_treasury_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let date = short_day(&app).await;
    let reads = [
        format!("/v1/treasury/days/{date}"),
        format!("/v1/treasury/days/{date}/facilities/F01/report"),
        format!("/v1/treasury/days/{date}/accounting-export"),
        "/v1/treasury/exceptions".to_string(),
        "/v1/treasury/files".to_string(),
    ];
    for user in ["clerk-r0101", "op-sports", "admin"] {
        for path in &reads {
            app.get(path, &token(user)).await.error(403);
        }
        app.post(&format!("/v1/treasury/days/{date}/reconcile"), &token(user), &key(), &json!({})).await.error(403);
        app.post(&format!("/v1/treasury/days/{date}/facilities/F01/close"), &token(user), &key(), &json!({}))
            .await
            .error(403);
    }
    assert_eq!(app.count("treasury_reconciliations").await, 0);
    assert_eq!(app.count("treasury_closed_days").await, 0);
    app.stop().await;
}

async fn upload(app: &TestApp, query: &str, body: Vec<u8>) -> crate::support::Reply {
    let response = app
        .http
        .post(format!("{}/v1/treasury/files?{query}", app.base))
        .bearer_auth(token("treasury"))
        .header("Idempotency-Key", key())
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = response.status().as_u16();
    crate::support::Reply { status, text: response.text().await.expect("body"), replayed: false }
}

async fn files_are_checked_on_loading_and_loaded_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let statement = BANK_EXAMPLE.to_vec();

    // A truncated statement is refused with where it broke, and nothing is stored.
    let cut = statement[..statement.len() / 2].to_vec();
    let (code, message, _) = upload(&app, "kind=bank&name=cut.txt", cut).await.error(422);
    assert_eq!(code, "file_rejected");
    assert!(message.contains("cut.txt"), "{message}");
    let (code, _, field) = upload(&app, "kind=wire&name=x.txt", statement.clone()).await.error(422);
    assert_eq!((code.as_str(), field.as_deref()), ("invalid_kind", Some("kind")));
    let (code, _, field) = upload(&app, "kind=qr&name=x.csv", statement.clone()).await.error(422);
    assert_eq!((code.as_str(), field.as_deref()), ("brand_required", Some("brand")));
    assert_eq!(app.count("treasury_files").await, 0);

    let stored = upload(&app, "kind=bank&name=statement.txt", statement.clone()).await;
    assert_eq!(stored.status, 201, "{}", stored.text);
    let (code, message, _) = upload(&app, "kind=bank&name=again.txt", statement).await.error(409);
    assert_eq!(code, "file_already_loaded");
    assert!(message.contains("statement.txt"), "{message}");
    assert_eq!(app.count("treasury_files").await, 1);
    let list: pos_core::api::TreasuryFileList = app.get("/v1/treasury/files", &token("treasury")).await.ok();
    assert_eq!(list.files.len(), 1);
    assert_eq!(list.files[0].name, "statement.txt");
    app.stop().await;
}

/// The statement of the short day: F01's cash deposit (290: 10,290 counted less the 10,000
/// float), a credit of 7,777 nothing explains and a bank charge of 440, all booked that day.
fn short_days_statement(date: chrono::NaiveDate) -> Vec<u8> {
    let config = crate::support::example_config();
    let f01 = config.facilities.iter().find(|f| f.id.as_str() == "F01").expect("F01");
    let yen = |amount| pos_core::Yen::new(amount).expect("amount");
    let movement = |direction, kind, amount, payer: &str| bank_sim::Movement {
        booking_date: date,
        direction,
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
        movement(bank_sim::Direction::Credit, bank_sim::TransactionKind::Cash, 290, &f01.depositor_name),
        movement(bank_sim::Direction::Credit, bank_sim::TransactionKind::Transfer, 7_777, "ﾌﾒｲ"),
        movement(bank_sim::Direction::Debit, bank_sim::TransactionKind::Other, 440, ""),
    ];
    let statement =
        bank_sim::Statement { created_on: date, from: date, to: date, accounts: vec![(account, movements)] };
    bank_sim::render(&statement).expect("statement")
}

async fn an_unexplained_bank_line_is_on_the_citys_list_and_keeps_the_day_open(backend: Backend) {
    let app = spawn_app(backend).await;
    let treasury = token("treasury");
    let date = short_day(&app).await;
    let stored = upload(&app, "kind=bank&name=zengin-short-day.txt", short_days_statement(date.date())).await;
    assert_eq!(stored.status, 201, "{}", stored.text);
    let body = json!({ "as_of": date.to_string() });
    let run: ReconcileResult = reconciled(&app, date, &treasury, &key(), &body).await;
    assert_eq!(run.city_exceptions, 1, "{run:?}");

    // The board counts the city's list and the statement's lines.
    let board: DayBoard = app.get(&format!("/v1/treasury/days/{date}"), &treasury).await.ok();
    assert_eq!((board.city_exceptions_open, board.bank_lines, board.bank_lines_unmatched), (1, 3, 1));
    let city: ExceptionList =
        app.get(&format!("/v1/treasury/exceptions?business_date={date}&level=city"), &treasury).await.ok();
    assert_eq!(city.exceptions.len(), 1, "{:?}", city.exceptions);
    let stray = &city.exceptions[0];
    assert_eq!((stray.facility_id.as_ref(), stray.kind.as_str()), (None, "bank_credit_unmatched"));
    assert_eq!(stray.amount_at_stake.get(), 7_777);
    assert!(
        stray.detail.contains("zengin-short-day.txt 照会番号") && stray.detail.contains("7,777円"),
        "{}",
        stray.detail
    );
    assert!(stray.detail_en.contains("¥7,777"), "{}", stray.detail_en);
    assert_eq!(stray.name_en, "Unexplained bank credit");
    // The facility's list holds only its own: the drawer ten yen short (the deposit was paid).
    let facility: ExceptionList =
        app.get(&format!("/v1/treasury/exceptions?business_date={date}&level=facility"), &treasury).await.ok();
    let kinds: Vec<&str> = facility.exceptions.iter().map(|x| x.kind.as_str()).collect();
    assert_eq!(kinds, vec!["cash_short"]);
    let (code, _, field) = app.get("/v1/treasury/exceptions?level=bank", &treasury).await.error(422);
    assert_eq!((code.as_str(), field.as_deref()), ("invalid_level", Some("level")));

    // Nothing treasury reads shows a Debug form: exceptions, board, bank statement, report.
    for path in [
        format!("/v1/treasury/exceptions?business_date={date}"),
        format!("/v1/treasury/days/{date}/bank"),
        format!("/v1/treasury/days/{date}/facilities/F01/report"),
    ] {
        let value: serde_json::Value = app.get(&path, &treasury).await.ok();
        assert_no_debug(&path, &value);
    }
    let bank: serde_json::Value = app.get(&format!("/v1/treasury/days/{date}/bank"), &treasury).await.ok();
    let dispositions: Vec<&str> =
        bank["lines"].as_array().expect("lines").iter().filter_map(|line| line["disposition"].as_str()).collect();
    assert_eq!(dispositions, vec!["cash_deposit", "unmatched", "charge"]);
    let lines_csv = app.get(&format!("/v1/treasury/days/{date}/bank?format=csv&section=lines"), &treasury).await;
    assert!(lines_csv.status == 200 && lines_csv.text.contains("銀行手数料"), "{}", lines_csv.text);

    // The export books the day's bank lines once: the charge to the bank-charge account.
    let config = crate::support::example_config();
    let export = app.get(&format!("/v1/treasury/days/{date}/accounting-export"), &treasury).await;
    assert!(export.status == 200, "{}", export.text);
    assert!(
        export.text.contains("date,account_code,debit,credit,amount,facility,payout,description"),
        "{}",
        export.text
    );
    let charge = format!(",{},440,0,440,,", config.accounting.bank_charge_account);
    assert!(export.text.contains(&charge), "{charge} in {}", export.text);

    // The facility's own exception resolved, the day still cannot close while the city's list
    // has the unexplained credit: its statement is not all accounted for.
    let short_id = facility.exceptions[0].id.clone();
    let resolution = json!({ "action": "出納員に確認", "note": "釣銭の渡し過ぎ" });
    let _: ExceptionView =
        app.post(&format!("/v1/treasury/exceptions/{short_id}/resolve"), &treasury, &key(), &resolution).await.ok();
    let close = format!("/v1/treasury/days/{date}/facilities/F01/close");
    let (code, message, _) = app.post(&close, &treasury, &key(), &json!({})).await.error(409);
    assert_eq!(code, "statement_unaccounted", "{message}");
    let resolution = json!({ "action": "指定金融機関に照会", "note": "寄附金の誤入金、返還手続中" });
    let resolved: ExceptionView =
        app.post(&format!("/v1/treasury/exceptions/{}/resolve", stray.id), &treasury, &key(), &resolution).await.ok();
    assert_eq!(resolved.state, ExceptionState::Resolved);
    // A re-run keeps the resolution of the city's list.
    let _: ReconcileResult = reconciled(&app, date, &treasury, &key(), &body).await;
    let board: DayBoard = app.get(&format!("/v1/treasury/days/{date}"), &treasury).await.ok();
    assert_eq!((board.city_exceptions_open, board.city_exceptions_resolved), (0, 1));
    let closed: ClosedDayView = app.post(&close, &treasury, &key(), &json!({})).await.ok();
    assert_eq!(closed.facility_id.as_str(), "F01");
    app.stop().await;
}

/// What the journal's schema breaks of the reconciler's contract (`reconciler::contract`): a view
/// missing or with other columns, an index the reads need missing or over other columns.
async fn contract_problems(conn: &mut sqlx::AnyConnection, backend: Backend) -> Vec<String> {
    use sqlx::Row;
    let mut problems = Vec::new();
    let texts = |rows: Vec<sqlx::any::AnyRow>| -> Vec<String> {
        rows.iter().map(|row| row.try_get::<String, _>(0).expect("a text column")).collect()
    };
    for view in reconciler::contract::VIEWS {
        let columns = match backend {
            Backend::Sqlite => {
                sqlx::query("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                    .bind(view.name)
                    .fetch_all(&mut *conn)
                    .await
            }
            Backend::Postgres => {
                sqlx::query(
                    "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                )
                .bind(view.name)
                .fetch_all(&mut *conn)
                .await
            }
        }
        .map(texts)
        .expect("the catalogue answers");
        if columns.is_empty() {
            problems.push(format!("view {} is missing", view.name));
        } else if columns != view.columns {
            problems.push(format!("view {} has columns {columns:?}, the contract {:?}", view.name, view.columns));
        }
        // And it reads: every column of the contract selected by name.
        let select = format!("SELECT {} FROM {} WHERE 1 = 0", view.select_list(), view.name);
        if let Err(error) = sqlx::query(&select).fetch_all(&mut *conn).await {
            problems.push(format!("view {} does not read: {error}", view.name));
        }
    }
    for index in reconciler::contract::INDEXES {
        let found: Vec<String> = match backend {
            Backend::Sqlite => sqlx::query(
                "SELECT i.name FROM sqlite_master m, pragma_index_info(m.name) i \
                 WHERE m.type = 'index' AND m.name = $1 AND m.tbl_name = $2 ORDER BY i.seqno",
            )
            .bind(index.name)
            .bind(index.table)
            .fetch_all(&mut *conn)
            .await
            .map(texts)
            .expect("the catalogue answers"),
            Backend::Postgres => {
                let definitions = sqlx::query(
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1 AND tablename = $2",
                )
                .bind(index.name)
                .bind(index.table)
                .fetch_all(&mut *conn)
                .await
                .map(texts)
                .expect("the catalogue answers");
                definitions
                    .first()
                    .and_then(|definition| definition.rsplit_once('(').map(|(_, columns)| columns.to_string()))
                    .map(|columns| columns.trim_end_matches(')').split(", ").map(str::to_string).collect())
                    .unwrap_or_default()
            }
        };
        if found.is_empty() {
            problems.push(format!("index {} on {} is missing", index.name, index.table));
        } else if found != index.columns {
            problems.push(format!("index {} covers {found:?}, the contract {:?}", index.name, index.columns));
        }
    }
    problems
}

/// The migrations define the reconciler's contract (`recon_v1_*` views and the indexes their reads
/// need) exactly, and a migration that breaks it is caught: here a renamed column and a dropped
/// index, as a careless migration would do them.
async fn the_journal_contract_holds(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut conn = app.app.journal.read().await.expect("conn");
    assert_eq!(contract_problems(&mut conn, backend).await, Vec::<String>::new());

    // SQLite renames the view's column with the table's; PostgreSQL refuses to drop a column a
    // view reads unless told to drop the view with it.
    let breaking = match backend {
        Backend::Sqlite => {
            ["ALTER TABLE refunds RENAME COLUMN rrn TO refund_rrn", "DROP INDEX refunds_facility_created"]
        }
        Backend::Postgres => ["ALTER TABLE refunds DROP COLUMN rrn CASCADE", "DROP INDEX refunds_facility_created"],
    };
    for statement in breaking {
        sqlx::query(statement).execute(&mut *conn).await.expect(statement);
    }
    let problems = contract_problems(&mut conn, backend).await;
    assert!(problems.iter().any(|problem| problem.contains("recon_v1_refunds")), "{problems:?}");
    assert!(problems.iter().any(|problem| problem.contains("refunds_facility_created")), "{problems:?}");
    drop(conn);
    app.stop().await;
}

/// A run answers at once; a second request for a day with a run going joins it; a gateway that
/// stops mid-run leaves the run failed, not silently running, and the day can be run again.
async fn runs_go_in_the_background_join_and_fail_on_a_restart(backend: Backend) {
    let mut app = spawn_rig(
        backend,
        std::sync::Arc::new(pos_core::SystemClock),
        |_| {},
        |options| demo::rig::RigOptions { own_runtime: true, ..options },
    )
    .await;
    let treasury = token("treasury");
    let date = short_day(&app).await;
    // A run the gateway is in the middle of (its facility-days not all done).
    let mut tx = app.app.journal.begin_write().await.expect("writer");
    gateway::journal::treasury::insert_treasury_run(
        &mut tx,
        "run-mid",
        date,
        date.date(),
        None,
        "treasury",
        chrono::Utc::now(),
    )
    .await
    .expect("a run stored");
    tx.commit().await.expect("commit");

    let joined = app.post(&format!("/v1/treasury/days/{date}/reconcile"), &treasury, &key(), &json!({})).await;
    assert_eq!(joined.status, 202, "{}", joined.text);
    let joined: TreasuryRunView = joined.json();
    assert_eq!((joined.run_id.as_str(), joined.state), ("run-mid", RunState::Running), "the request joins the run");
    let latest: TreasuryRunView = app.get(&format!("/v1/treasury/days/{date}/run"), &treasury).await.ok();
    assert_eq!(latest.run_id, "run-mid");

    // The gateway dies mid-run and starts again on the same journal.
    let rig = app.rig.as_mut().expect("the rig");
    rig.kill_gateway().await.expect("the gateway is killed");
    rig.start_gateway().await.expect("the gateway starts again");
    let failed: TreasuryRunView = app.get("/v1/treasury/runs/run-mid", &treasury).await.ok();
    assert_eq!(failed.state, RunState::Failed);
    assert!(failed.error.as_deref().unwrap_or_default().contains("stopped"), "{failed:?}");
    assert!(failed.ended_at.is_some());

    // And the day runs again, to its end, with its exceptions.
    let body = json!({ "as_of": date.to_string() });
    let result = reconciled(&app, date, &treasury, &key(), &body).await;
    assert_eq!(result.facilities.len(), 1, "{result:?}");
    let latest: TreasuryRunView = app.get(&format!("/v1/treasury/days/{date}/run"), &treasury).await.ok();
    assert_ne!(latest.run_id, "run-mid");
    assert_eq!(latest.state, RunState::Succeeded);
    assert!(latest.exceptions.iter().any(|exception| exception.kind == "cash_short"), "{:?}", latest.exceptions);
    assert_eq!((latest.facility_days_done, latest.facility_days_total, latest.estimate_remaining_ms), (1, 1, Some(0)));
    app.stop().await;
}

on_both_backends!(
    runs_go_in_the_background_join_and_fail_on_a_restart,
    the_journal_contract_holds,
    an_unexplained_bank_line_is_on_the_citys_list_and_keeps_the_day_open,
    treasury_reconciles_closes_and_keeps_a_closed_day,
    only_treasury_reaches_the_treasury_api,
    files_are_checked_on_loading_and_loaded_once,
);
