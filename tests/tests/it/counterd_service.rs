//! counterd stopped as a service is stopped (SIGTERM from `systemctl stop`, or Ctrl-C) in the
//! middle of a charge: it takes no new command, lets the charge end on the terminal, journals and
//! posts its result, and only then exits. The customer's card is charged once and the payment is
//! completed, not left for the gateway to resolve. (The binary's signal handling itself is tested
//! in `device-drivers/tests/it/service.rs`; a kill without warning in `counterd.rs`.)

use std::time::Duration;

use device_drivers::counterd::{CommandJournal, SystemDevices, TerminalAddress};
use device_drivers::terminal_sim::{CardSource, SimulatorEvent};
use e2e::counter_rig::{commands, counterd_until, is_charge_of, start_sale, terminal, until};
use e2e::Counter;
use pos_core::api::{CommandKind, CommandState, PaymentView};
use pos_core::{Brand, PaymentState};
use serde_json::json;

/// How long the stopped counterd may take: the customer's five seconds and some.
const STOP_MS_MAX: u64 = 30_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stop_mid_charge_lets_the_charge_end_and_then_exits() {
    let counter = Counter::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let state_file = dir.path().join("counterd.json");
    // The customer takes five seconds to present the card: the stop arrives meanwhile.
    let mut terminal =
        terminal(&counter, 10_010_101, CardSource::fixed(Brand::Visa).expect("brand"), dir.path(), 5_000).await;
    let devices =
        SystemDevices { terminal: TerminalAddress::Serial(terminal.path.clone()), printer: None, scanner: None };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = counterd_until(&counter.base, None, "R0101", devices, &state_file, async move {
        let _ = stopped.await;
    });
    let line = json!({ "fee_item": "KOSEKI-ZENBU", "quantity": 1 });
    let started = start_sale(&counter, "clerk-r0101", "R0101", line, "card").await;
    let payment_id = started.payment.id.clone();

    terminal.event("the terminal asks for the card", |e| *e == SimulatorEvent::AwaitingCard).await;
    until("the journaled start", || async {
        let journal = CommandJournal::open(&state_file).ok()?;
        let started = journal
            .entries()
            .any(|(_, entry)| matches!(&entry.command, CommandKind::Charge { payment_id: p, .. } if *p == payment_id));
        started.then_some(())
    })
    .await;
    stop.send(()).expect("counterd is running");

    // counterd ends by itself, after the charge and not before.
    tokio::time::timeout(Duration::from_millis(STOP_MS_MAX), task)
        .await
        .expect("counterd stops within the bound")
        .expect("counterd ends without a panic");
    let charge = commands(&counter, "R0101").await.into_iter().find(|c| is_charge_of(&payment_id)(&c.command));
    let charge = charge.expect("the charge command");
    assert_eq!(charge.state, CommandState::Done, "the result was posted before exiting: {charge:?}");
    let journal = CommandJournal::open(&state_file).expect("journal");
    assert_eq!(journal.get(&charge.id).and_then(|e| e.result.as_ref()).map(|r| r.state), Some(CommandState::Done));
    let payment: PaymentView = counter.get("treasury", &format!("/v1/payments/{payment_id}")).await;
    assert_eq!(payment.state, PaymentState::Completed);
    assert_eq!(counter.card.ledger().len(), 1, "charged exactly once");

    counter.stop().await;
}
