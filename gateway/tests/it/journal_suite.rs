//! The journal and API suite, run against both backends.

use std::sync::Arc;

use chrono::TimeZone;
use pos_config::Backend;
use pos_core::api::{PaymentResult, SaleList, SaleView, ShiftView};
use pos_core::{ManualClock, SaleState};
use serde_json::json;

use crate::support::{key, spawn_app, spawn_app_with, token, TestApp, TestDatabase};

on_both_backends!(
    a_cash_day_at_one_register,
    receipt_numbers_are_gapless_per_register_and_fiscal_year,
    a_repeated_request_gets_the_first_answer_and_a_changed_one_is_refused,
    concurrent_repeats_of_one_request_make_one_sale_and_one_payment,
    bad_input_is_refused_precisely_and_changes_nothing,
    every_caller_sees_only_their_scope_and_refusals_are_audited,
    the_audit_chain_detects_altered_and_removed_records,
    a_rotated_audit_key_continues_the_chain_signed_by_both_keys,
    journal_tables_are_append_only,
    metrics_count_requests_and_takings,
    counter_policies_come_from_the_configuration,
);

const CLERK: &str = "clerk-r0101";
const REGISTER: &str = "R0101";

async fn open_shift(app: &TestApp, user: &str, register: &str, float: i64) -> ShiftView {
    app.post("/v1/shifts", &token(user), &key(), &json!({ "register_id": register, "opening_float": float })).await.ok()
}

async fn sell(app: &TestApp, user: &str, register: &str, lines: serde_json::Value) -> SaleView {
    app.post("/v1/sales", &token(user), &key(), &json!({ "register_id": register, "lines": lines })).await.ok()
}

async fn pay_cash(app: &TestApp, user: &str, sale: &str, tendered: i64) -> PaymentResult {
    app.post(
        &format!("/v1/sales/{sale}/payments"),
        &token(user),
        &key(),
        &json!({ "method": "cash", "tendered": tendered }),
    )
    .await
    .ok()
}

async fn raw_post(
    app: &TestApp,
    path: &str,
    user_token: &str,
    idempotency_key: &str,
    body: &str,
) -> crate::support::Reply {
    app.send_raw(reqwest::Method::POST, path, Some(user_token), Some(idempotency_key), Some(body.to_string())).await
}

async fn a_cash_day_at_one_register(backend: Backend) {
    let app = spawn_app(backend).await;
    let shift = open_shift(&app, CLERK, REGISTER, 30_000).await;
    assert_eq!(shift.facility_id.as_str(), "F01");

    let sale = sell(
        &app,
        CLERK,
        REGISTER,
        json!([{ "fee_item": "JUMINHYO", "quantity": 2 }, { "fee_item": "KOSEKI-ZENBU", "quantity": 1 }]),
    )
    .await;
    assert_eq!(sale.amount_total.get(), 2 * 300 + 450);
    assert_eq!(sale.state, SaleState::Open);
    assert_eq!(sale.lines[0].name_ja, "住民票の写し");

    let paid = pay_cash(&app, CLERK, &sale.id, 2_000).await;
    assert_eq!(paid.payment.change.map(|c| c.get()), Some(950));
    assert_eq!(paid.sale.state, SaleState::Paid);
    assert_eq!(paid.sale.receipt.map(|r| r.number), Some(1));

    let mistake = sell(&app, CLERK, REGISTER, json!([{ "fee_item": "INKAN", "quantity": 1 }])).await;
    let mistake_paid = pay_cash(&app, CLERK, &mistake.id, 300).await;
    assert_eq!(mistake_paid.sale.receipt.map(|r| r.number), Some(2));
    let voided: SaleView = app
        .post(&format!("/v1/sales/{}/void", mistake.id), &token(CLERK), &key(), &json!({ "reason": "wrong item" }))
        .await
        .ok();
    assert_eq!(voided.state, SaleState::Voided);
    assert_eq!(voided.receipt.map(|r| r.number), Some(2), "a void keeps its receipt number");

    // Expected: float + the one cash sale still standing. Counted ten yen short.
    let closed: ShiftView = app
        .post(
            &format!("/v1/shifts/{}/close", shift.id),
            &token(CLERK),
            &key(),
            &json!({ "counted": { "10000": 3, "1000": 1, "10": 4 } }),
        )
        .await
        .ok();
    let cash = closed.cash.expect("cash reconciliation");
    assert_eq!(cash.expected.get(), 31_050);
    assert_eq!(cash.counted.get(), 31_040);
    assert_eq!(cash.over_short.get(), -10);

    let fetched: ShiftView = app.get(&format!("/v1/shifts/{}", shift.id), &token(CLERK)).await.ok();
    assert_eq!(fetched.cash.map(|c| c.over_short.get()), Some(-10));
    let listed: SaleList = app.get(&format!("/v1/sales?shift_id={}", shift.id), &token(CLERK)).await.ok();
    assert_eq!(listed.sales.len(), 2);
    // Every change is an event: shift opened/closed, 2 sales created, 2 payments, 2 paid, 1 payment voided, 1 sale voided.
    assert_eq!(app.count("events").await, 10);
    app.stop().await;
}

async fn receipt_numbers_are_gapless_per_register_and_fiscal_year(backend: Backend) {
    let jst = pos_core::time::jst();
    let clock = Arc::new(ManualClock::new(jst.with_ymd_and_hms(2027, 3, 31, 23, 40, 0).unwrap().to_utc()));
    let app = spawn_app_with(backend, clock.clone(), |_| {}).await;
    open_shift(&app, CLERK, REGISTER, 0).await;
    open_shift(&app, "clerk-r0102", "R0102", 0).await;
    let mut numbers = Vec::new();
    for _ in 0..3 {
        let sale = sell(&app, CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 1 }])).await;
        numbers.push(pay_cash(&app, CLERK, &sale.id, 300).await.sale.receipt.expect("receipt"));
    }
    // An abandoned sale takes no number.
    let abandoned = sell(&app, CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 1 }])).await;
    let cancelled: SaleView = app
        .post(&format!("/v1/sales/{}/void", abandoned.id), &token(CLERK), &key(), &json!({ "reason": "left" }))
        .await
        .ok();
    assert_eq!(cancelled.state, SaleState::Cancelled);
    assert_eq!(cancelled.receipt, None);
    let other = sell(&app, "clerk-r0102", "R0102", json!([{ "fee_item": "MIBUN", "quantity": 1 }])).await;
    let other_receipt = pay_cash(&app, "clerk-r0102", &other.id, 300).await.sale.receipt.expect("receipt");

    // Midnight: 1 April starts fiscal year 2027 and a new series.
    clock.set(jst.with_ymd_and_hms(2027, 4, 1, 0, 5, 0).unwrap().to_utc());
    let next_year = sell(&app, CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 1 }])).await;
    let next_receipt = pay_cash(&app, CLERK, &next_year.id, 300).await.sale.receipt.expect("receipt");

    let series: Vec<(i32, i64)> = numbers.iter().map(|r| (r.fiscal_year.start_year(), r.number)).collect();
    assert_eq!(series, vec![(2026, 1), (2026, 2), (2026, 3)]);
    assert_eq!((other_receipt.fiscal_year.start_year(), other_receipt.number), (2026, 1));
    assert_eq!((next_receipt.fiscal_year.start_year(), next_receipt.number), (2027, 1));
    app.stop().await;
}

async fn a_repeated_request_gets_the_first_answer_and_a_changed_one_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    open_shift(&app, CLERK, REGISTER, 0).await;
    let the_key = key();
    let body = json!({ "register_id": REGISTER, "lines": [{ "fee_item": "JUMINHYO", "quantity": 1 }] });
    let first = app.post("/v1/sales", &token(CLERK), &the_key, &body).await;
    let second = app.post("/v1/sales", &token(CLERK), &the_key, &body).await;
    assert_eq!(first.status, 201);
    assert_eq!(second.status, 201);
    assert!(!first.replayed && second.replayed);
    assert_eq!(first.text, second.text);
    assert_eq!(app.count("sales").await, 1);

    let changed = json!({ "register_id": REGISTER, "lines": [{ "fee_item": "JUMINHYO", "quantity": 2 }] });
    let (code, message, _) = app.post("/v1/sales", &token(CLERK), &the_key, &changed).await.error(409);
    assert_eq!(code, "idempotency_key_reused");
    assert!(message.contains("different request"), "{message}");
    assert_eq!(app.count("sales").await, 1);

    let missing =
        app.send_raw(reqwest::Method::POST, "/v1/sales", Some(&token(CLERK)), None, Some(body.to_string())).await;
    assert_eq!(missing.error(400).0, "idempotency_key_missing");
    app.stop().await;
}

async fn concurrent_repeats_of_one_request_make_one_sale_and_one_payment(backend: Backend) {
    const TASKS: usize = 40;
    let app = Arc::new(spawn_app(backend).await);
    open_shift(&app, CLERK, REGISTER, 0).await;
    let sale_key = key();
    let body = json!({ "register_id": REGISTER, "lines": [{ "fee_item": "KOSEKI-ZENBU", "quantity": 1 }] });
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (app, sale_key, body) = (app.clone(), sale_key.clone(), body.clone());
        tasks.push(tokio::spawn(async move { app.post("/v1/sales", &token(CLERK), &sale_key, &body).await }));
    }
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let sale: SaleView = task.await.expect("task").ok();
        ids.insert(sale.id);
    }
    assert_eq!(ids.len(), 1, "every repeat must answer with the same sale");
    assert_eq!(app.count("sales").await, 1);
    let sale_id = ids.into_iter().next().expect("one id");

    let pay_key = key();
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (app, pay_key, sale_id) = (app.clone(), pay_key.clone(), sale_id.clone());
        tasks.push(tokio::spawn(async move {
            app.post(
                &format!("/v1/sales/{sale_id}/payments"),
                &token(CLERK),
                &pay_key,
                &json!({ "method": "cash", "tendered": 1000 }),
            )
            .await
        }));
    }
    let mut payment_ids = std::collections::HashSet::new();
    for task in tasks {
        let result: PaymentResult = task.await.expect("task").ok();
        payment_ids.insert(result.payment.id);
    }
    assert_eq!(payment_ids.len(), 1);
    assert_eq!(app.count("payments").await, 1);
    Arc::try_unwrap(app).ok().expect("sole owner").stop().await;
}

async fn bad_input_is_refused_precisely_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let shift = open_shift(&app, CLERK, REGISTER, 1_000).await;
    let open_sale = sell(&app, CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 1 }])).await;
    open_shift(&app, "clerk-r2901", "R2901", 1_000).await;
    let before = app.journal_counts().await;
    let clerk = token(CLERK);
    let pay_path = format!("/v1/sales/{}/payments", open_sale.id);

    struct Case {
        path: String,
        body: String,
        status: u16,
        code: &'static str,
        field: Option<&'static str>,
    }
    let case = |path: &str, body: serde_json::Value, status, code, field| Case {
        path: path.to_string(),
        body: body.to_string(),
        status,
        code,
        field,
    };
    let cases = vec![
        Case {
            path: "/v1/sales".into(),
            body: "{\"register_id\": \"R0101\", \"lines\": [".into(),
            status: 400,
            code: "invalid_request",
            field: Some("lines"),
        },
        case(
            "/v1/sales",
            json!({ "register_id": REGISTER, "lines": [{ "fee_item": "JUMINHYO", "quantity": 1, "colour": "red" }] }),
            400,
            "invalid_request",
            Some("lines[0].colour"),
        ),
        case(
            "/v1/sales",
            json!({ "register_id": REGISTER, "lines": [{ "fee_item": "JUMINHYO", "quantity": "two" }] }),
            400,
            "invalid_request",
            Some("lines[0].quantity"),
        ),
        case(
            "/v1/sales",
            json!({ "register_id": REGISTER, "lines": [{ "fee_item": "JUMINHYO", "quantity": 1 }, { "fee_item": "X", "quantity": 1 }] }),
            422,
            "unknown_fee_item",
            Some("lines[1].fee_item"),
        ),
        case(
            "/v1/sales",
            json!({ "register_id": REGISTER, "lines": [{ "fee_item": "GYM-IPPAN", "quantity": 1 }] }),
            422,
            "fee_item_not_sold",
            Some("lines[0].fee_item"),
        ),
        case(
            "/v1/sales",
            json!({ "register_id": REGISTER, "lines": [{ "fee_item": "JUMINHYO", "quantity": 0 }] }),
            422,
            "invalid_quantity",
            Some("lines[0].quantity"),
        ),
        case(
            "/v1/sales",
            json!({ "register_id": REGISTER, "lines": [{ "fee_item": "JUMINHYO", "quantity": 1, "amount": 500 }] }),
            422,
            "amount_not_allowed",
            Some("lines[0].amount"),
        ),
        case("/v1/sales", json!({ "register_id": REGISTER, "lines": [] }), 422, "empty_sale", Some("lines")),
        case(
            "/v1/sales",
            json!({ "register_id": "R0201", "lines": [{ "fee_item": "HYOKA", "quantity": 1 }] }),
            403,
            "forbidden",
            None,
        ),
        case(
            "/v1/sales",
            json!({ "register_id": "R9999", "lines": [{ "fee_item": "JUMINHYO", "quantity": 1 }] }),
            422,
            "unknown_register",
            Some("register_id"),
        ),
        case("/v1/sales", json!({ "register_id": "bad id", "lines": [] }), 400, "invalid_request", Some("register_id")),
        case(
            "/v1/shifts",
            json!({ "register_id": REGISTER, "opening_float": -1 }),
            422,
            "invalid_amount",
            Some("opening_float"),
        ),
        case("/v1/shifts", json!({ "register_id": REGISTER, "opening_float": 5 }), 409, "shift_already_open", None),
        case(
            &pay_path,
            json!({ "method": "cash", "tendered": 10_000_000_000_000i64 }),
            400,
            "invalid_request",
            Some("tendered"),
        ),
        Case {
            path: pay_path.clone(),
            body: "{\"method\": \"cash\", \"tendered\": 99999999999999999999999}".into(),
            status: 400,
            code: "invalid_request",
            field: Some("tendered"),
        },
        case(&pay_path, json!({ "method": "cash", "tendered": 100 }), 422, "tendered_insufficient", Some("tendered")),
        case(&pay_path, json!({ "method": "cash", "tendered": -300 }), 422, "invalid_amount", Some("tendered")),
        case(&pay_path, json!({ "method": "cash" }), 422, "tendered_required", Some("tendered")),
        case(&pay_path, json!({ "method": "card" }), 422, "method_unavailable", Some("method")),
        case(&pay_path, json!({ "method": "cheque", "tendered": 300 }), 400, "invalid_request", Some("method")),
        case(
            &pay_path,
            json!({ "method": "cash", "tendered": 1000, "amount": 100 }),
            422,
            "split_tender_not_allowed",
            Some("amount"),
        ),
        case("/v1/sales/sale_missing/payments", json!({ "method": "cash", "tendered": 300 }), 404, "not_found", None),
        case(
            &format!("/v1/sales/{}/void", open_sale.id),
            json!({ "reason": "   " }),
            422,
            "invalid_reason",
            Some("reason"),
        ),
        case(
            &format!("/v1/shifts/{}/close", shift.id),
            json!({ "counted": { "3000": 1 } }),
            400,
            "invalid_request",
            Some("counted"),
        ),
        case(&format!("/v1/shifts/{}/close", shift.id), json!({ "counted": { "1000": 1 } }), 409, "open_sales", None),
    ];
    for case in &cases {
        let reply = raw_post(&app, &case.path, &clerk, "k-bad", &case.body).await;
        let (code, message, field) = reply.error(case.status);
        assert_eq!(code, case.code, "{} {} → {message}", case.path, case.body);
        assert_eq!(field.as_deref(), case.field, "{} {} → {message}", case.path, case.body);
        assert!(!message.is_empty());
    }
    // Open-priced items at the car park: the amount is required and bounded by the catalogue.
    let parker = token("clerk-r2901");
    let (code, _, field) = raw_post(
        &app,
        "/v1/sales",
        &parker,
        "k-park",
        &json!({ "register_id": "R2901", "lines": [{ "fee_item": "PARKING", "quantity": 1 }] }).to_string(),
    )
    .await
    .error(422);
    assert_eq!((code.as_str(), field.as_deref()), ("amount_required", Some("lines[0].amount")));
    let (code, message, _) = raw_post(
        &app,
        "/v1/sales",
        &parker,
        "k-park",
        &json!({ "register_id": "R2901", "lines": [{ "fee_item": "PARKING", "quantity": 1, "amount": 10_001 }] })
            .to_string(),
    )
    .await
    .error(422);
    assert_eq!(code, "invalid_amount");
    assert!(message.contains("¥10,000"), "{message}");

    // Transport-level mistakes.
    let wrong_type = app
        .http
        .post(format!("{}/v1/sales", app.base))
        .bearer_auth(&clerk)
        .header("Idempotency-Key", "k-type")
        .header("content-type", "text/plain")
        .body("register_id=R0101")
        .send()
        .await
        .expect("request");
    assert_eq!(wrong_type.status().as_u16(), 415);
    let huge = format!("{{\"register_id\": \"R0101\", \"lines\": [], \"pad\": \"{}\"}}", "x".repeat(70_000));
    assert_eq!(raw_post(&app, "/v1/sales", &clerk, "k-bad", &huge).await.status, 413);
    let (code, _, _) = app.send_raw(reqwest::Method::GET, "/v1/sales", None, None, None).await.error(401);
    assert_eq!(code, "unauthenticated");
    assert_eq!(
        app.send_raw(reqwest::Method::GET, "/v1/sales", Some("demo-nobody"), None, None).await.error(401).0,
        "unauthenticated"
    );
    let (code, _, _) = app.get("/v1/sales?limit=many", &clerk).await.error(400);
    assert_eq!(code, "invalid_query");

    assert_eq!(app.journal_counts().await, before, "a refused request must not change the journal");
    app.stop().await;
}

async fn every_caller_sees_only_their_scope_and_refusals_are_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    open_shift(&app, CLERK, REGISTER, 0).await;
    open_shift(&app, "clerk-r2101", "R2101", 0).await;
    let city_sale = sell(&app, CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 1 }])).await;
    let gym_sale = sell(&app, "clerk-r2101", "R2101", json!([{ "fee_item": "GYM-IPPAN", "quantity": 1 }])).await;

    // A clerk: own facility only, own register only.
    assert_eq!(app.get(&format!("/v1/sales/{}", gym_sale.id), &token(CLERK)).await.error(403).0, "forbidden");
    assert_eq!(
        app.post("/v1/shifts", &token(CLERK), &key(), &json!({ "register_id": "R0102", "opening_float": 0 }))
            .await
            .error(403)
            .0,
        "forbidden"
    );
    let own: SaleList = app.get("/v1/sales", &token(CLERK)).await.ok();
    assert!(own.sales.iter().all(|s| s.facility_id.as_str() == "F01"));
    assert_eq!(app.get("/metrics", &token(CLERK)).await.error(403).0, "forbidden");
    assert_eq!(app.get("/v1/audit/verify", &token(CLERK)).await.error(403).0, "forbidden");

    // An operator: only its facilities, in lists too, and it may work their registers.
    let operator: SaleList = app.get("/v1/sales", &token("op-sports")).await.ok();
    assert_eq!(operator.sales.iter().map(|s| s.id.clone()).collect::<Vec<_>>(), vec![gym_sale.id.clone()]);
    assert_eq!(app.get(&format!("/v1/sales/{}", city_sale.id), &token("op-sports")).await.error(403).0, "forbidden");
    assert_eq!(app.get("/v1/sales?facility_id=F01", &token("op-sports")).await.error(403).0, "forbidden");
    assert_eq!(app.get("/v1/shifts?facility_id=F01", &token("op-sports")).await.error(403).0, "forbidden");
    let paid = app
        .post(
            &format!("/v1/sales/{}/payments", gym_sale.id),
            &token("op-sports"),
            &key(),
            &json!({ "method": "cash", "tendered": 1000 }),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);

    // Treasury reads everything but rings up nothing.
    let all: SaleList = app.get("/v1/sales", &token("treasury")).await.ok();
    assert_eq!(all.sales.len(), 2);
    assert_eq!(
        app.post(
            "/v1/sales",
            &token("treasury"),
            &key(),
            &json!({ "register_id": REGISTER, "lines": [{ "fee_item": "JUMINHYO", "quantity": 1 }] })
        )
        .await
        .error(403)
        .0,
        "forbidden"
    );

    // Every refusal is in the audit log, with who, what and the outcome.
    use sqlx::Row;
    app.app.journal.flush_audit().await.expect("audit records written");
    let mut conn = app.app.journal.read().await.expect("conn");
    let denied =
        sqlx::query("SELECT user_name, action, status FROM audit_record WHERE outcome = 'denied' ORDER BY seq")
            .fetch_all(&mut *conn)
            .await
            .expect("audit");
    let denied: Vec<(String, String, i64)> =
        denied.iter().map(|r| (r.get("user_name"), r.get("action"), r.get("status"))).collect();
    assert_eq!(denied.len(), 8, "{denied:?}");
    assert!(denied.contains(&("clerk-r0101".to_string(), "GET /v1/sales/{id}".to_string(), 403)));
    assert!(denied.contains(&("treasury".to_string(), "POST /v1/sales".to_string(), 403)));
    drop(conn);
    app.stop().await;
}

async fn the_audit_chain_detects_altered_and_removed_records(backend: Backend) {
    use gateway::journal::audit::{self, AuditKey};
    use sqlx::Row;
    let app = spawn_app(backend).await;
    let journal = &app.app.journal;
    // A change (a shift opened: its change record is in the shift's own transaction) and reads.
    open_shift(&app, CLERK, REGISTER, 10_000).await;
    for _ in 0..5 {
        app.get("/v1/me", &token(CLERK)).await.ok::<serde_json::Value>();
    }
    journal.flush_audit().await.expect("audit records written");
    let verification: serde_json::Value = app.get("/v1/audit/verify", &token("admin")).await.ok();
    assert_eq!(verification["problem"], serde_json::Value::Null, "{verification}");
    assert!(verification["records"].as_i64().expect("records") >= 6);
    let mut conn = journal.read().await.expect("conn");
    let kinds: Vec<String> = sqlx::query("SELECT kind FROM audit_record WHERE action = 'POST /v1/shifts' ORDER BY seq")
        .fetch_all(&mut *conn)
        .await
        .expect("records")
        .iter()
        .map(|row| row.get("kind"))
        .collect();
    assert_eq!(kinds, ["change", "request"], "the change is recorded in its transaction, the request after");
    journal.flush_audit().await.expect("audit records written");
    journal.anchor_audit().expect("anchored");
    // The head as anchored (records of requests still arriving may follow it).
    let last: i64 = audit::read_anchors(&journal.audit_settings().anchor_file)
        .expect("anchors")
        .keys()
        .filter(|(chain, _)| *chain == 0)
        .map(|(_, seq)| *seq)
        .max()
        .expect("an anchor of chain 0");
    assert!(audit::verify(journal).await.expect("verify").anchors >= 1);

    let refused = sqlx::query("UPDATE audit_record SET user_name = 'someone' WHERE seq = 2").execute(&mut *conn).await;
    assert!(refused.is_err(), "the trigger must refuse changes to the audit log");
    // Someone with full database access gets past the trigger; the keyed chain still tells.
    let disable = match backend {
        Backend::Sqlite => {
            vec!["DROP TRIGGER audit_record_append_only_update", "DROP TRIGGER audit_record_append_only_delete"]
        }
        Backend::Postgres => vec!["ALTER TABLE audit_record DISABLE TRIGGER audit_record_append_only"],
    };
    for statement in disable {
        sqlx::query(statement).execute(&mut *conn).await.expect("disable trigger");
    }

    // Editing one record.
    let original: String = sqlx::query("SELECT user_name FROM audit_record WHERE chain = 0 AND seq = 2")
        .fetch_one(&mut *conn)
        .await
        .expect("record")
        .get("user_name");
    sqlx::query("UPDATE audit_record SET user_name = 'someone' WHERE chain = 0 AND seq = 2")
        .execute(&mut *conn)
        .await
        .expect("tamper");
    let verification = audit::verify(journal).await.expect("verify");
    assert_eq!(
        verification.problem.as_deref(),
        Some("chain 0: record 2 was altered or written without the key: its MAC does not match")
    );
    sqlx::query("UPDATE audit_record SET user_name = $1 WHERE chain = 0 AND seq = 2")
        .bind(&original)
        .execute(&mut *conn)
        .await
        .expect("restore");
    assert!(audit::verify(journal).await.expect("verify").is_intact());

    // Rebuilding the whole chain without the key: every MAC recomputed under another key (here
    // stand-ins), whether the records then name that key or still the real one.
    let forger = AuditKey::generate();
    let rows = sqlx::query("SELECT seq, mac, key_id FROM audit_record WHERE chain = 0 ORDER BY seq")
        .fetch_all(&mut *conn)
        .await
        .expect("records");
    let saved: Vec<(i64, String, String)> =
        rows.iter().map(|r| (r.get("seq"), r.get("mac"), r.get("key_id"))).collect();
    for key_id in [forger.id().to_string(), journal.audit_settings().key.id().to_string()] {
        for (seq, _, _) in &saved {
            sqlx::query("UPDATE audit_record SET key_id = $1, mac = $2 WHERE chain = 0 AND seq = $3")
                .bind(&key_id)
                .bind(format!("{seq:064x}"))
                .bind(seq)
                .execute(&mut *conn)
                .await
                .expect("forge");
        }
        let verification = audit::verify(journal).await.expect("verify");
        let problem = verification.problem.expect("a rebuilt chain is detected");
        assert!(problem.starts_with("chain 0: record 1 was "), "{problem}");
    }
    for (seq, mac, key_id) in &saved {
        sqlx::query("UPDATE audit_record SET key_id = $1, mac = $2 WHERE chain = 0 AND seq = $3")
            .bind(key_id)
            .bind(mac)
            .bind(seq)
            .execute(&mut *conn)
            .await
            .expect("restore");
    }
    assert!(audit::verify(journal).await.expect("verify").is_intact());

    // Removing the last records: the rest of the chain is sound, but it no longer reaches the
    // anchored head.
    sqlx::query("DELETE FROM audit_record WHERE chain = 0 AND seq >= $1")
        .bind(last - 1)
        .execute(&mut *conn)
        .await
        .expect("delete");
    let verification = audit::verify(journal).await.expect("verify");
    let problem = verification.problem.expect("a cut tail is detected");
    assert!(
        problem.starts_with("chain 0: record ")
            && problem.ends_with("was anchored but the chain no longer reaches it: records were removed from the end"),
        "{problem}"
    );
    drop(conn);
    app.stop().await;
}

async fn a_rotated_audit_key_continues_the_chain_signed_by_both_keys(backend: Backend) {
    use gateway::journal::audit::{self, AuditEntry, AuditKey, AuditSettings, RecordKind};
    use gateway::journal::Journal;
    let database = TestDatabase::new(backend).await;
    let dir = tempfile::tempdir().expect("dir");
    let settings = |key: &AuditKey, previous: &[&AuditKey]| AuditSettings {
        key: key.clone(),
        previous_keys: previous.iter().map(|k| (*k).clone()).collect(),
        anchor_file: dir.path().join("anchors"),
        anchor_interval: std::time::Duration::from_secs(3600),
    };
    let entry = |who: &str| AuditEntry {
        at: chrono::Utc::now(),
        user_name: who.to_string(),
        role: "admin".to_string(),
        action: "GET /v1/me".to_string(),
        target: "/v1/me".to_string(),
        remote: "127.0.0.1:1".to_string(),
        status: 200,
        outcome: "ok".to_string(),
        detail: String::new(),
        request_id: None,
        kind: RecordKind::Request,
    };
    let (old, new, stranger) = (AuditKey::generate(), AuditKey::generate(), AuditKey::generate());

    let journal = Journal::connect_with_audit(&database.database_config(), settings(&old, &[])).await.expect("journal");
    audit::record(&journal, entry("before"));
    journal.close().await;

    // The next key, with the old one among the previous keys: the chain goes on from a rotation
    // record that the new key MACs and whose statement the old key signs.
    let journal =
        Journal::connect_with_audit(&database.database_config(), settings(&new, &[&old])).await.expect("journal");
    audit::record(&journal, entry("after"));
    journal.flush_audit().await.expect("written");
    let verification = audit::verify(&journal).await.expect("verify");
    assert!(verification.is_intact(), "{verification:?}");
    assert_eq!(verification.records, 3, "before, the rotation, after");
    assert!(verification.anchors >= 1, "the first journal anchored its head on closing");
    {
        use sqlx::Row;
        let mut conn = journal.read().await.expect("conn");
        let kinds: Vec<(String, String)> = sqlx::query("SELECT kind, key_id FROM audit_record ORDER BY seq")
            .fetch_all(&mut *conn)
            .await
            .expect("records")
            .iter()
            .map(|row| (row.get("kind"), row.get("key_id")))
            .collect();
        assert_eq!(
            kinds,
            [
                ("request".to_string(), old.id().to_string()),
                ("rotation".to_string(), new.id().to_string()),
                ("request".to_string(), new.id().to_string())
            ]
        );
    }
    // Without the old key the records it signed cannot be checked, and that is said.
    let problem = audit::verify_with(&journal, &settings(&new, &[])).await.expect("verify").problem.expect("a problem");
    assert!(problem.contains(&format!("signed by key {}", old.id())), "{problem}");
    journal.close().await;

    // A key that cannot show it follows the last one does not continue the chain.
    let journal =
        Journal::connect_with_audit(&database.database_config(), settings(&stranger, &[])).await.expect("journal");
    let refused = journal.begin_write().await.err().expect("the writer refuses to continue the chain");
    assert!(refused.to_string().contains("cannot be continued"), "{refused}");
    journal.close().await;
}

async fn journal_tables_are_append_only(backend: Backend) {
    let app = spawn_app(backend).await;
    open_shift(&app, CLERK, REGISTER, 0).await;
    let mut conn = app.app.journal.read().await.expect("conn");
    assert!(sqlx::query("UPDATE events SET kind = 'x'").execute(&mut *conn).await.is_err());
    assert!(sqlx::query("DELETE FROM events").execute(&mut *conn).await.is_err());
    drop(conn);
    assert_eq!(app.count("events").await, 1);
    app.stop().await;
}

async fn metrics_count_requests_and_takings(backend: Backend) {
    let app = spawn_app(backend).await;
    open_shift(&app, "clerk-r0201", "R0201", 0).await;
    let sale = sell(&app, "clerk-r0201", "R0201", json!([{ "fee_item": "HYOKA", "quantity": 1 }])).await;
    pay_cash(&app, "clerk-r0201", &sale.id, 300).await;
    let reply = app.get("/metrics", &token("admin")).await;
    assert_eq!(reply.status, 200);
    let text = reply.text;
    let has = |needle: &str| text.lines().any(|line| line.contains(needle));
    assert!(has("http_requests_total{route=\"/v1/sales\",method=\"POST\",status=\"201\"}"), "{text}");
    assert!(has("payments_amount_yen_total{facility=\"F02\",method=\"cash\"}"), "{text}");
    assert!(has("http_request_duration_seconds_bucket{route=\"/v1/sales/{id}/payments\""), "{text}");
    app.stop().await;
}

async fn counter_policies_come_from_the_configuration(backend: Backend) {
    let app = spawn_app(backend).await;
    // The museum takes split tender; the citizens' division does not (tested in bad input).
    open_shift(&app, "clerk-r2801", "R2801", 0).await;
    let sale = sell(&app, "clerk-r2801", "R2801", json!([{ "fee_item": "MUSEUM-IPPAN", "quantity": 1 }])).await;
    let first: PaymentResult = app
        .post(
            &format!("/v1/sales/{}/payments", sale.id),
            &token("clerk-r2801"),
            &key(),
            &json!({ "method": "cash", "tendered": 500, "amount": 500 }),
        )
        .await
        .ok();
    assert_eq!(first.sale.state, SaleState::Open);
    assert_eq!(first.sale.amount_due.get(), sale.amount_total.get() - 500);
    assert_eq!(first.sale.receipt, None);
    let rest = pay_cash(&app, "clerk-r2801", &sale.id, 1_000).await;
    assert_eq!(rest.sale.state, SaleState::Paid);
    assert_eq!(rest.sale.payments.len(), 2);
    assert_eq!(rest.sale.receipt.map(|r| r.number), Some(1));

    // The largest cash tender is per facility.
    open_shift(&app, CLERK, REGISTER, 0).await;
    let sale = sell(&app, CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 1 }])).await;
    let reply = app
        .post(
            &format!("/v1/sales/{}/payments", sale.id),
            &token(CLERK),
            &key(),
            &json!({ "method": "cash", "tendered": 200_001 }),
        )
        .await;
    let (code, message, _) = reply.error(422);
    assert_eq!(code, "cash_limit");
    assert!(message.contains("¥200,000"), "{message}");
    app.stop().await;
}
