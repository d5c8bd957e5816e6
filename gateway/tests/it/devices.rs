//! The counters' command channel: charges queued by card payments, prints and drawer by paid
//! sales, taken by the register's device by long poll, answered once.

use pos_config::Backend;
use pos_core::api::{CommandKind, CommandResult, CommandState, DeviceCommand, NextCommand, PaymentResult, PaymentView};
use serde_json::json;

use crate::support::{key, spawn_app_with, token, TestApp};

on_both_backends!(
    commands_reach_the_registers_device_once_and_are_answered_once,
    scan_and_show_qr_commands_are_checked_before_they_are_queued,
    a_waiting_long_poll_is_woken_by_the_commit_that_queues_a_command,
);

const CLERK: &str = "clerk-r0101";
const DEVICE: &str = "counter-r0101";
const REGISTER: &str = "R0101";

async fn next(app: &TestApp, user: &str, register: &str, wait_ms: u64) -> crate::support::Reply {
    app.get(&format!("/v1/devices/{register}/commands/next?wait_ms={wait_ms}"), &token(user)).await
}

async fn answer(app: &TestApp, command: &str, result: &CommandResult) -> crate::support::Reply {
    app.send_raw(
        reqwest::Method::POST,
        &format!("/v1/devices/{REGISTER}/commands/{command}/result"),
        Some(&token(DEVICE)),
        None,
        Some(serde_json::to_string(result).expect("json")),
    )
    .await
}

async fn commands_reach_the_registers_device_once_and_are_answered_once(backend: Backend) {
    // A card payment needs a card acquirer link; an unreachable one is enough to start it.
    let pki = crate::support::TestPki::new();
    let ca = pki.ca_path();
    let app = spawn_app_with(backend, std::sync::Arc::new(pos_core::SystemClock), |config| {
        if let Some(acquirer) = config.acquirers.iter_mut().find(|a| a.id == "ACQ-CARD") {
            acquirer.link = Some(crate::switch_rig::link(&ca, 9001, vec!["127.0.0.1:9".to_string()]));
        }
    })
    .await;
    // Nothing queued: the long poll waits, then answers empty.
    let started = std::time::Instant::now();
    let empty: NextCommand = next(&app, DEVICE, REGISTER, 600).await.ok();
    assert!(empty.command.is_none());
    assert!(started.elapsed() >= std::time::Duration::from_millis(500), "the long poll waited");

    // Only the register's own device takes its commands.
    assert_eq!(next(&app, CLERK, REGISTER, 0).await.error(403).0, "forbidden");
    assert_eq!(next(&app, "counter-r0102", REGISTER, 0).await.error(403).0, "forbidden");

    // A cash sale: the drawer opens and the receipt prints.
    app.post("/v1/shifts", &token(CLERK), &key(), &json!({ "register_id": REGISTER, "opening_float": 0 }))
        .await
        .ok::<serde_json::Value>();
    let sale: pos_core::api::SaleView = app
        .post(
            "/v1/sales",
            &token(CLERK),
            &key(),
            &json!({ "register_id": REGISTER, "lines": [{ "fee_item": "JUMINHYO", "quantity": 1 }] }),
        )
        .await
        .ok();
    app.post(
        &format!("/v1/sales/{}/payments", sale.id),
        &token(CLERK),
        &key(),
        &json!({ "method": "cash", "tendered": 300 }),
    )
    .await
    .ok::<PaymentResult>();
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let taken: NextCommand = next(&app, DEVICE, REGISTER, 0).await.ok();
        let command = taken.command.expect("a command");
        assert_eq!(command.state, CommandState::Delivered);
        let done = CommandResult { state: CommandState::Done, detail: "ok".to_string(), terminal: None, output: None };
        let answered: DeviceCommand = answer(&app, &command.id, &done).await.ok();
        assert_eq!(answered.state, CommandState::Done);
        kinds.push(command.command);
    }
    assert!(kinds.contains(&CommandKind::OpenDrawer), "{kinds:?}");
    assert!(kinds.contains(&CommandKind::PrintReceipt { sale_id: sale.id.clone(), reprint: false }), "{kinds:?}");

    // A card payment queues its charge; a counter that asks again before answering (it restarted)
    // gets the same command, to answer from its own record.
    let card_sale: pos_core::api::SaleView = app
        .post(
            "/v1/sales",
            &token(CLERK),
            &key(),
            &json!({ "register_id": REGISTER, "lines": [{ "fee_item": "INKAN", "quantity": 1 }] }),
        )
        .await
        .ok();
    let card = card_payment(&app, &card_sale.id).await;
    let first: NextCommand = next(&app, DEVICE, REGISTER, 0).await.ok();
    let again: NextCommand = next(&app, DEVICE, REGISTER, 0).await.ok();
    let charge = first.command.expect("the charge");
    assert_eq!(charge.command, CommandKind::Charge { payment_id: card.id.clone(), amount: card.amount });
    assert_eq!(again.command.map(|c| c.id), Some(charge.id.clone()));
    let unknown = CommandResult {
        state: CommandState::Unknown,
        detail: "terminal went silent".to_string(),
        terminal: None,
        output: None,
    };
    answer(&app, &charge.id, &unknown).await.ok::<DeviceCommand>();
    assert_eq!(answer(&app, &charge.id, &unknown).await.status, 200, "the same answer again is accepted");
    let different = CommandResult { state: CommandState::Done, ..unknown.clone() };
    assert_eq!(answer(&app, &charge.id, &different).await.error(409).0, "command_answered");
    let payment: PaymentView = app.get(&format!("/v1/payments/{}", card.id), &token(CLERK)).await.ok();
    assert!(payment.note.as_deref().is_some_and(|n| n.contains("do not retry")), "{:?}", payment.note);

    // A charge the terminal never took (it was unplugged) cancels the waiting payment at once.
    // (R0101's terminal is still busy with the charge above, so another register's counter.)
    app.post("/v1/shifts", &token("clerk-r0102"), &key(), &json!({ "register_id": "R0102", "opening_float": 0 }))
        .await
        .ok::<serde_json::Value>();
    let other_sale: pos_core::api::SaleView = app
        .post(
            "/v1/sales",
            &token("clerk-r0102"),
            &key(),
            &json!({ "register_id": "R0102", "lines": [{ "fee_item": "MIBUN", "quantity": 1 }] }),
        )
        .await
        .ok();
    let waiting: PaymentResult = app
        .post(
            &format!("/v1/sales/{}/payments", other_sale.id),
            &token("clerk-r0102"),
            &key(),
            &json!({ "method": "card" }),
        )
        .await
        .ok();
    let taken: NextCommand = next(&app, "counter-r0102", "R0102", 0).await.ok();
    let charge = taken.command.expect("the charge");
    let failed = CommandResult {
        state: CommandState::Failed,
        detail: "terminal not connected".to_string(),
        terminal: None,
        output: None,
    };
    let reply = app
        .send_raw(
            reqwest::Method::POST,
            &format!("/v1/devices/R0102/commands/{}/result", charge.id),
            Some(&token("counter-r0102")),
            None,
            Some(serde_json::to_string(&failed).expect("json")),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let cancelled: PaymentView =
        app.get(&format!("/v1/payments/{}", waiting.payment.id), &token("clerk-r0102")).await.ok();
    assert_eq!(cancelled.state, pos_core::PaymentState::Cancelled);
    assert!(cancelled.note.as_deref().is_some_and(|n| n.contains("nothing was charged")), "{:?}", cancelled.note);

    // Clerks queue reprints and the drawer, never charges.
    let reprint = json!({ "kind": "print_receipt", "sale_id": sale.id, "reprint": true });
    let queued: DeviceCommand =
        app.post(&format!("/v1/registers/{REGISTER}/commands"), &token(CLERK), &key(), &reprint).await.ok();
    assert_eq!(queued.state, CommandState::Queued);
    let charge_by_hand = json!({ "kind": "charge", "payment_id": card.id, "amount": 450 });
    assert_eq!(
        app.post(&format!("/v1/registers/{REGISTER}/commands"), &token(CLERK), &key(), &charge_by_hand)
            .await
            .error(422)
            .0,
        "charge_by_payment"
    );
    let taken: NextCommand = next(&app, DEVICE, REGISTER, 0).await.ok();
    assert_eq!(taken.command.map(|c| c.command), Some(CommandKind::PrintReceipt { sale_id: sale.id, reprint: true }));
    app.stop().await;
    drop(pki);
}

async fn card_payment(app: &TestApp, sale: &str) -> PaymentView {
    let reply =
        app.post(&format!("/v1/sales/{sale}/payments"), &token(CLERK), &key(), &json!({ "method": "card" })).await;
    let result: PaymentResult = reply.ok();
    result.payment
}

async fn scan_and_show_qr_commands_are_checked_before_they_are_queued(backend: Backend) {
    let app = crate::support::spawn_app(backend).await;
    let path = format!("/v1/registers/{REGISTER}/commands");
    let before = (app.journal_counts().await, app.count("device_commands").await);
    let refused = [
        (json!({ "kind": "show_qr", "payload": "" }), "invalid_payload", "payload"),
        (
            json!({ "kind": "show_qr", "payload": "x".repeat(pos_core::api::QR_PAYLOAD_CHARS_MAX + 1) }),
            "invalid_payload",
            "payload",
        ),
        (json!({ "kind": "scan_code", "wait_ms": 0 }), "invalid_wait", "wait_ms"),
        (json!({ "kind": "scan_code", "wait_ms": pos_core::api::SCAN_WAIT_MS_MAX + 1 }), "invalid_wait", "wait_ms"),
        (json!({ "kind": "scan_code", "sale_id": "sale_1" }), "sale_and_brand", "brand"),
        (json!({ "kind": "scan_code", "brand": "PAYPAY" }), "sale_and_brand", "sale_id"),
        (json!({ "kind": "scan_code", "sale_id": "sale_1", "brand": "VISA" }), "brand_not_qr", "brand"),
    ];
    for (body, code, field) in refused {
        let (got_code, _, got_field) = app.post(&path, &token(CLERK), &key(), &body).await.error(422);
        assert_eq!((got_code.as_str(), got_field.as_deref()), (code, Some(field)), "{body}");
    }
    let after = (app.journal_counts().await, app.count("device_commands").await);
    assert_eq!(after, before, "refused commands change nothing");

    // Within bounds they are queued for the device as sent.
    let scan = json!({ "kind": "scan_code", "sale_id": "sale_1", "brand": "PAYPAY", "wait_ms": 5000 });
    let queued: DeviceCommand = app.post(&path, &token(CLERK), &key(), &scan).await.ok();
    let taken: NextCommand = next(&app, DEVICE, REGISTER, 0).await.ok();
    assert_eq!(taken.command.map(|c| (c.id, c.command)), Some((queued.id, queued.command)));
    assert!(matches!(
        serde_json::from_value::<CommandKind>(scan),
        Ok(CommandKind::ScanCode { brand: Some(pos_core::Brand::PayPay), wait_ms: Some(5000), .. })
    ));
    app.stop().await;
}

async fn a_waiting_long_poll_is_woken_by_the_commit_that_queues_a_command(backend: Backend) {
    let app = crate::support::spawn_app(backend).await;
    let path = format!("/v1/registers/{REGISTER}/commands");
    // The poll waits far longer than the re-check bound; the drawer command wakes it.
    let poll = async {
        let taken: NextCommand = next(&app, DEVICE, REGISTER, 20_000).await.ok();
        (taken, std::time::Instant::now())
    };
    let queue = async {
        let queued: DeviceCommand =
            app.post(&path, &token(CLERK), &key(), &json!({ "kind": "open_drawer" })).await.ok();
        (queued, std::time::Instant::now())
    };
    let ((taken, answered), (queued, committed)) = tokio::join!(poll, queue);
    assert_eq!(taken.command.map(|c| c.id), Some(queued.id));
    let woken_after = answered.saturating_duration_since(committed);
    assert!(
        woken_after < std::time::Duration::from_millis(gateway::api::devices::COMMAND_RECHECK_MS / 2),
        "woken by the notification, not the re-check: {woken_after:?}"
    );
    app.stop().await;
}
