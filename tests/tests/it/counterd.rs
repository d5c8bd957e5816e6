//! counterd end to end, as issue 7 draws the counter: the clerk starts a payment at the gateway;
//! counterd (run in-process as a task) takes the charge by long poll, drives the ECR driver over a
//! pseudo-terminal to the terminal simulator, which authorizes with the gateway's terminal host
//! and on to the simulated acquirer; counterd answers the command. counterd opens the terminal by
//! the pty's path, as it opens a real serial port; the test keeps one more descriptor of that
//! side open, so the terminal's side stays up while counterd is killed and restarted.

use device_drivers::counterd::CommandJournal;
use device_drivers::terminal_sim::{CardSource, SimulatorEvent};
use e2e::counter_rig::{counterd, ended, is_charge_of, start_sale, terminal, until};
use e2e::Counter;
use pos_core::api::{CommandKind, CommandState, PaymentResult, PaymentView, SaleView};
use pos_core::{Brand, PaymentState, SaleState};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_card_sale_runs_through_counterd_and_the_receipt_command_finds_no_printer() {
    let counter = Counter::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let terminal = terminal(&counter, 10_010_101, CardSource::fixed(Brand::Jcb).expect("brand"), dir.path(), 20).await;
    let task = counterd(&counter, "R0101", &terminal.path, &dir.path().join("counterd.json"));

    let line = json!({ "fee_item": "KOSEKI-ZENBU", "quantity": 1 });
    let started = start_sale(&counter, "clerk-r0101", "R0101", line, "card").await;
    let charge = ended(&counter, "R0101", is_charge_of(&started.payment.id)).await;
    assert_eq!(charge.state, CommandState::Done, "{charge:?}");
    let report = charge.result.and_then(|r| r.terminal).expect("terminal report");
    assert_eq!(report.masked_card.as_deref(), Some("353011******0000"));
    assert_eq!(report.brand, Some(Brand::Jcb));
    assert!(report.trace_number.is_some() && report.receipt_number.is_some());

    let payment: PaymentView = counter.get("treasury", &format!("/v1/payments/{}", started.payment.id)).await;
    assert_eq!(payment.state, PaymentState::Completed);
    assert_eq!(counter.card.ledger().len(), 1);

    let print = ended(
        &counter,
        "R0101",
        |k| matches!(k, CommandKind::PrintReceipt { sale_id, .. } if *sale_id == started.sale.id),
    )
    .await;
    assert_eq!(print.state, CommandState::Failed);
    assert_eq!(print.result.map(|r| r.detail).as_deref(), Some("no printer"));

    // counterd's journal holds both commands with their results.
    let journal = CommandJournal::open(&dir.path().join("counterd.json")).expect("journal");
    assert!(journal.get(&charge.id).is_some_and(|e| e.result.as_ref().is_some_and(|r| r.state == CommandState::Done)));
    assert!(journal.get(&print.id).is_some_and(|e| e.result.is_some()));
    task.abort();
    counter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_emoney_sale_runs_through_counterd() {
    let counter = Counter::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let terminal = terminal(&counter, 10_010_101, CardSource::fixed(Brand::Waon).expect("brand"), dir.path(), 20).await;
    let task = counterd(&counter, "R0101", &terminal.path, &dir.path().join("counterd.json"));
    let line = json!({ "fee_item": "JUMINHYO", "quantity": 1 });
    let started = start_sale(&counter, "clerk-r0101", "R0101", line, "emoney").await;
    let charge = ended(&counter, "R0101", is_charge_of(&started.payment.id)).await;
    assert_eq!(charge.state, CommandState::Done, "{charge:?}");
    assert_eq!(charge.result.and_then(|r| r.terminal).and_then(|t| t.brand), Some(Brand::Waon));
    let payment: PaymentView = counter.get("treasury", &format!("/v1/payments/{}", started.payment.id)).await;
    assert_eq!(payment.state, PaymentState::Completed);
    assert_eq!(counter.emoney.ledger().len(), 1);
    task.abort();
    counter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_decline_is_a_failed_command_with_the_result_code_and_the_sale_stays_open() {
    let counter = Counter::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let terminal = terminal(&counter, 10_012_901, CardSource::fixed(Brand::Visa).expect("brand"), dir.path(), 20).await;
    let task = counterd(&counter, "R2901", &terminal.path, &dir.path().join("counterd.json"));
    // 9,051 yen: the simulated acquirer's insufficient funds.
    let line = json!({ "fee_item": "PARKING", "quantity": 1, "amount": 9051 });
    let started = start_sale(&counter, "clerk-r2901", "R2901", line, "card").await;
    let charge = ended(&counter, "R2901", is_charge_of(&started.payment.id)).await;
    assert_eq!(charge.state, CommandState::Failed, "{charge:?}");
    let result = charge.result.expect("result");
    let code = result.terminal.and_then(|t| t.result_code).expect("result code");
    assert_ne!(code, 0);
    assert!(result.detail.contains(&format!("{code:02X}")), "{}", result.detail);
    let payment: PaymentView = counter.get("treasury", &format!("/v1/payments/{}", started.payment.id)).await;
    assert_eq!(payment.state, PaymentState::Declined);
    let sale: SaleView = counter.get("clerk-r2901", &format!("/v1/sales/{}", started.sale.id)).await;
    assert_eq!(sale.state, SaleState::Open);
    task.abort();
    counter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counterd_killed_mid_charge_answers_unknown_after_restart_and_never_charges_twice() {
    let counter = Counter::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let state_file = dir.path().join("counterd.json");
    // The customer takes five seconds to present the card: time to kill counterd meanwhile.
    let mut terminal =
        terminal(&counter, 10_010_101, CardSource::fixed(Brand::Visa).expect("brand"), dir.path(), 5_000).await;
    let task = counterd(&counter, "R0101", &terminal.path, &state_file);
    let line = json!({ "fee_item": "KOSEKI-ZENBU", "quantity": 1 });
    let started = start_sale(&counter, "clerk-r0101", "R0101", line, "card").await;
    let payment_id = started.payment.id.clone();

    // The terminal waits for the card, and counterd has journaled the start.
    terminal.event("the terminal asks for the card", |e| *e == SimulatorEvent::AwaitingCard).await;
    let command_id = until("the journaled start", || async {
        let journal = CommandJournal::open(&state_file).ok()?;
        let found = journal.entries().find_map(|(id, entry)| {
            matches!(&entry.command, CommandKind::Charge { payment_id: p, .. } if *p == payment_id)
                .then(|| (id.to_string(), entry.result.is_none()))
        });
        found
    })
    .await;
    assert!(command_id.1, "started, not ended");
    let command_id = command_id.0;
    task.abort();
    assert!(task.await.is_err_and(|e| e.is_cancelled()));

    // The terminal's dialogue with the dead ECR ends (its messages go unacknowledged).
    terminal.event("the terminal ends the broken dialogue", |e| matches!(e, SimulatorEvent::CommandFinished(_))).await;

    // Restarted on the same state file: the command comes back, and is answered unknown, unrun.
    let task = counterd(&counter, "R0101", &terminal.path, &state_file);
    let charge = ended(&counter, "R0101", is_charge_of(&payment_id)).await;
    assert_eq!(charge.id, command_id);
    assert_eq!(charge.state, CommandState::Unknown, "{charge:?}");
    let journal = CommandJournal::open(&state_file).expect("journal");
    assert_eq!(journal.get(&command_id).and_then(|e| e.result.as_ref()).map(|r| r.state), Some(CommandState::Unknown));

    // No second charge; the journal and the acquirer agree.
    let ledger = counter.card.ledger();
    assert!(ledger.len() <= 1, "at most one charge: {ledger:?}");
    let payment: PaymentView = counter.get("treasury", &format!("/v1/payments/{payment_id}")).await;
    if ledger.len() == 1 {
        assert_eq!(payment.state, PaymentState::Completed);
    } else {
        assert_ne!(payment.state, PaymentState::Completed);
        // Nothing reached the acquirer: the payment is resolved by cancelling it.
        let cancelled: PaymentView =
            counter.post("clerk-r0101", &format!("/v1/payments/{payment_id}/cancel"), &json!({})).await;
        assert_eq!(cancelled.state, PaymentState::Cancelled);
        assert!(counter.card.ledger().is_empty());
    }
    task.abort();
    counter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counterd_rides_out_a_gateway_restart_and_takes_the_next_charge() {
    let mut counter = Counter::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let terminal = terminal(&counter, 10_010_101, CardSource::fixed(Brand::Jcb).expect("brand"), dir.path(), 20).await;
    let task = counterd(&counter, "R0101", &terminal.path, &dir.path().join("counterd.json"));
    counter.open_shift("clerk-r0101", "R0101").await;

    counter.stop_gateway().await;
    // While the gateway is down counterd's polls fail; it keeps retrying (it does not exit).
    let client = demo::rig::http_client();
    let down = client.get(format!("{}/v1/sales", counter.base)).send().await;
    assert!(down.is_err(), "the gateway is down");
    assert!(!task.is_finished());
    counter.start_gateway().await;

    let sale: SaleView = counter
        .post(
            "clerk-r0101",
            "/v1/sales",
            &json!({ "register_id": "R0101", "lines": [{ "fee_item": "KOSEKI-ZENBU", "quantity": 1 }] }),
        )
        .await;
    let started: PaymentResult =
        counter.post("clerk-r0101", &format!("/v1/sales/{}/payments", sale.id), &json!({ "method": "card" })).await;
    let charge = ended(&counter, "R0101", is_charge_of(&started.payment.id)).await;
    assert_eq!(charge.state, CommandState::Done, "{charge:?}");
    let payment: PaymentView = counter.get("treasury", &format!("/v1/payments/{}", started.payment.id)).await;
    assert_eq!(payment.state, PaymentState::Completed);
    assert_eq!(counter.card.ledger().len(), 1);
    task.abort();
    counter.stop().await;
}
