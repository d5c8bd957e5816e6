//! The gateway goes away in the middle of a charge that counterd is running on the terminal (a
//! pty pair to the terminal simulator, ISO 8583/TLS to the gateway's terminal host, on to the
//! simulated acquirer). Whatever the moment, after the gateway is back the payment ends completed,
//! cancelled or reversed, never charged twice, and the acquirer's ledger agrees with the journal:
//!
//! - stopped while the customer looks for the card: the terminal's authorization waits for its
//!   host link, goes out once the gateway is back, and the charge completes;
//! - stopped for longer than the terminal waits for its host: nothing was sent, the terminal
//!   aborts, counterd's "failed" reaches the gateway after it is back, and the payment is
//!   cancelled;
//! - killed after the terminal host forwarded the authorization to the acquirer (which booked it)
//!   and before the answer: the terminal aborts "host not responding", counterd reports the
//!   charge unknown once the gateway is back, and the gateway's recovery reverses the approval.

use acquirer_sim::{EntryState, Fault, FaultPlan, MessageKind};
use device_drivers::counterd::CommandJournal;
use device_drivers::terminal_sim::{CardSource, SimulatorEvent, SimulatorOptions};
use device_drivers::zvt::commands::fields::TerminalNumber;
use e2e::counter_rig::{commands, counterd, ended, is_charge_of, start_sale, terminal, terminal_with, until};
use e2e::Counter;
use pos_core::api::{CommandKind, CommandState, PaymentResult, PaymentView, SaleView};
use pos_core::{Brand, PaymentState, SaleState};
use serde_json::json;

const REGISTER: &str = "R0101";
const CLERK: &str = "clerk-r0101";
const TERMINAL_ID: u32 = 10_010_101;

async fn payment(counter: &Counter, id: &str) -> PaymentView {
    counter.get("treasury", &format!("/v1/payments/{id}")).await
}

/// The charge commands the gateway queued for `payment_id`: exactly one, whatever happened.
async fn assert_one_charge_command(counter: &Counter, payment_id: &str) {
    let charges =
        commands(counter, REGISTER).await.into_iter().filter(|c| is_charge_of(payment_id)(&c.command)).count();
    assert_eq!(charges, 1, "one charge command for {payment_id}");
}

async fn gateway_is_down(counter: &Counter) -> bool {
    demo::rig::http_client().get(format!("{}/v1/me", counter.base)).send().await.is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gateway_stopped_while_the_customer_finds_the_card_comes_back_and_the_charge_completes_once() {
    let mut counter = Counter::start().await;
    let dir = tempfile::tempdir().expect("dir");
    // The customer takes three seconds to present the card: the gateway stops meanwhile.
    let mut terminal =
        terminal(&counter, TERMINAL_ID, CardSource::fixed(Brand::Jcb).expect("brand"), dir.path(), 3_000).await;
    let task = counterd(&counter, REGISTER, &terminal.path, &dir.path().join("counterd.json"));
    let line = json!({ "fee_item": "KOSEKI-ZENBU", "quantity": 1 });
    let started = start_sale(&counter, CLERK, REGISTER, line, "card").await;
    terminal.event("the terminal asks for the card", |e| *e == SimulatorEvent::AwaitingCard).await;

    counter.stop_gateway().await;
    assert!(gateway_is_down(&counter).await);
    // The card is read while the gateway is down: the terminal's request waits for its host link.
    terminal.event("the authorization is ready", |e| matches!(e, SimulatorEvent::HostRequestSent { .. })).await;
    assert!(counter.card.ledger().is_empty(), "nothing reached the acquirer while the gateway was down");
    counter.start_gateway().await;

    let charge = ended(&counter, REGISTER, is_charge_of(&started.payment.id)).await;
    assert_eq!(charge.state, CommandState::Done, "{charge:?}");
    let payment = payment(&counter, &started.payment.id).await;
    assert_eq!(payment.state, PaymentState::Completed);
    let sale: SaleView = counter.get(CLERK, &format!("/v1/sales/{}", started.sale.id)).await;
    assert_eq!(sale.state, SaleState::Paid);
    let ledger = counter.card.ledger();
    assert_eq!(ledger.len(), 1, "charged once: {ledger:?}");
    assert_eq!(ledger[0].state, EntryState::Approved);
    assert_eq!(Some(ledger[0].rrn.clone()), payment.rrn);
    assert_one_charge_command(&counter, &started.payment.id).await;
    task.abort();
    counter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gateway_down_longer_than_the_terminal_waits_cancels_the_payment_after_it_is_back() {
    let mut counter = Counter::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let mut options = SimulatorOptions::new(TerminalNumber::new(TERMINAL_ID).expect("id"), dir.path().join("t.json"));
    options.card_presentation_ms = 1_000;
    // The terminal gives up on its host after two seconds.
    options.host_timeout_ms = 2_000;
    let mut terminal = terminal_with(&counter, options, CardSource::fixed(Brand::Visa).expect("brand")).await;
    let state_file = dir.path().join("counterd.json");
    let task = counterd(&counter, REGISTER, &terminal.path, &state_file);
    let line = json!({ "fee_item": "KOSEKI-ZENBU", "quantity": 1 });
    let started = start_sale(&counter, CLERK, REGISTER, line, "card").await;
    terminal.event("the terminal asks for the card", |e| *e == SimulatorEvent::AwaitingCard).await;

    counter.stop_gateway().await;
    terminal.event("the terminal gives up on its host", |e| matches!(e, SimulatorEvent::CommandFinished(_))).await;
    // counterd has its answer and cannot deliver it yet.
    let journaled = until("counterd journals the failed charge", || async {
        let journal = CommandJournal::open(&state_file).ok()?;
        let failed = journal.entries().any(|(_, entry)| {
            entry.result.as_ref().is_some_and(|r| r.state == CommandState::Failed)
                && matches!(&entry.command, CommandKind::Charge { payment_id, .. } if *payment_id == started.payment.id)
        });
        failed.then_some(())
    })
    .await;
    assert_eq!(journaled, ());
    assert!(gateway_is_down(&counter).await);
    counter.start_gateway().await;

    let charge = ended(&counter, REGISTER, is_charge_of(&started.payment.id)).await;
    assert_eq!(charge.state, CommandState::Failed, "{charge:?}");
    let code = charge.result.and_then(|r| r.terminal).and_then(|t| t.result_code);
    assert_eq!(code, Some(0xA3), "no connection to the host: nothing sent");
    let cancelled = until("the payment is cancelled", || async {
        let payment = payment(&counter, &started.payment.id).await;
        (payment.state == PaymentState::Cancelled).then_some(payment)
    })
    .await;
    assert!(cancelled.note.is_some_and(|note| note.contains("nothing was charged")));
    assert!(counter.card.ledger().is_empty(), "nothing reached the acquirer");
    let sale: SaleView = counter.get(CLERK, &format!("/v1/sales/{}", started.sale.id)).await;
    assert_eq!(sale.state, SaleState::Open, "the clerk may take the payment again");
    assert_one_charge_command(&counter, &started.payment.id).await;
    task.abort();
    counter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gateway_killed_with_the_authorization_at_the_acquirer_reverses_it_and_the_retry_charges_once() {
    let mut counter = Counter::start().await;
    // The acquirer books the next purchase and never answers it.
    counter.card.set_faults(vec![FaultPlan::times(Fault::NoAnswer, MessageKind::Purchase, 1)]);
    let dir = tempfile::tempdir().expect("dir");
    let mut terminal =
        terminal(&counter, TERMINAL_ID, CardSource::fixed(Brand::Visa).expect("brand"), dir.path(), 20).await;
    let state_file = dir.path().join("counterd.json");
    let task = counterd(&counter, REGISTER, &terminal.path, &state_file);
    let line = json!({ "fee_item": "KOSEKI-ZENBU", "quantity": 1 });
    let started = start_sale(&counter, CLERK, REGISTER, line, "card").await;
    let payment_id = started.payment.id.clone();

    // The terminal host bound the authorization and forwarded it: the acquirer booked it.
    until("the acquirer books the purchase", || async { (counter.card.ledger().len() == 1).then_some(()) }).await;
    counter.kill_gateway().await;
    assert!(gateway_is_down(&counter).await);
    terminal.event("the terminal loses its host", |e| matches!(e, SimulatorEvent::CommandFinished(_))).await;
    until("counterd journals the charge as unknown", || async {
        let journal = CommandJournal::open(&state_file).ok()?;
        let unknown = journal.entries().any(|(_, entry)| {
            entry.result.as_ref().is_some_and(|r| r.state == CommandState::Unknown)
                && matches!(&entry.command, CommandKind::Charge { payment_id: p, .. } if *p == payment_id)
        });
        unknown.then_some(())
    })
    .await;
    counter.start_gateway().await;

    let charge = ended(&counter, REGISTER, is_charge_of(&payment_id)).await;
    assert_eq!(charge.state, CommandState::Unknown, "{charge:?}");
    assert_eq!(charge.result.and_then(|r| r.terminal).and_then(|t| t.result_code), Some(0xA1));
    // The gateway finds the payment left authorizing and reverses it at the acquirer.
    until("the payment is reversed", || async {
        (payment(&counter, &payment_id).await.state == PaymentState::Reversed).then_some(())
    })
    .await;
    let ledger = counter.card.ledger();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0].state, EntryState::Reversed);
    assert_one_charge_command(&counter, &payment_id).await;

    // The clerk takes the payment again: one standing charge in all.
    let sale: SaleView = counter.get(CLERK, &format!("/v1/sales/{}", started.sale.id)).await;
    assert_eq!(sale.state, SaleState::Open);
    let again: PaymentResult =
        counter.post(CLERK, &format!("/v1/sales/{}/payments", sale.id), &json!({ "method": "card" })).await;
    let charge = ended(&counter, REGISTER, is_charge_of(&again.payment.id)).await;
    assert_eq!(charge.state, CommandState::Done, "{charge:?}");
    assert_eq!(payment(&counter, &again.payment.id).await.state, PaymentState::Completed);
    let ledger = counter.card.ledger();
    let standing: Vec<_> = ledger.iter().filter(|entry| entry.state == EntryState::Approved).collect();
    assert_eq!(standing.len(), 1, "{ledger:?}");
    assert_eq!(standing[0].amount, sale.amount_total);
    task.abort();
    counter.stop().await;
}
