//! The whole card path of a counter, as issue 7 draws it: the register asks the gateway for a
//! card payment; the ECR driver (counterd's side) sends a ZVT authorization over a
//! pseudo-terminal pair to the terminal simulator; the terminal reads the card and authorizes
//! over ISO 8583/TLS with the gateway's terminal host, which binds it to the waiting payment and
//! forwards it to the simulated acquirer; the answer comes back the same way, and the register
//! sees the sale paid.

use std::sync::Arc;
use std::time::Duration;

use device_drivers::terminal_sim::{CardSource, SimulatorOptions, TerminalSimulator};
use device_drivers::zvt::commands::fields::{Password, TerminalNumber};
use device_drivers::zvt::ecr::{EcrDriver, EcrSettings};
use device_drivers::zvt::transport::fd::pty_pair;
use device_drivers::zvt::transport::{LinkRole, ZvtLink};
use e2e::Counter;
use pos_core::api::{PaymentResult, PaymentView, SaleView};
use pos_core::{Brand, PaymentState, SaleState, Yen};
use serde_json::json;

/// The bound on one ZVT command at the register.
const COMMAND_DEADLINE: Duration = Duration::from_secs(20);

/// A terminal simulator on one side of a pty pair, authorizing with the gateway; the ECR driver
/// on the other side.
async fn terminal_and_ecr(
    counter: &Counter,
    terminal_id: u32,
    cards: CardSource,
    state: &std::path::Path,
) -> (EcrDriver, tokio::sync::oneshot::Sender<()>) {
    let host = counter.terminal_host_client(&format!("{terminal_id:08}")).await;
    let mut options =
        SimulatorOptions::new(TerminalNumber::new(terminal_id).expect("terminal id"), state.to_path_buf());
    options.card_presentation_ms = 20;
    let mut simulator =
        TerminalSimulator::new(options, cards, Some(host), Arc::new(pos_core::SystemClock)).expect("simulator");
    let (ecr_side, terminal_side) = pty_pair().expect("pty pair");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = simulator
            .serve(ZvtLink::serial(terminal_side, LinkRole::Terminal), async {
                let _ = stopped.await;
            })
            .await;
    });
    let driver = EcrDriver::new(
        ZvtLink::serial(ecr_side, LinkRole::Ecr),
        EcrSettings::new(Password::new(123_456).expect("password")),
    );
    (driver, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_payment_goes_register_gateway_ecr_terminal_gateway_acquirer_and_back() {
    let counter = Counter::start().await;
    let state = tempfile::tempdir().expect("temp dir");
    let (mut ecr, stop) = terminal_and_ecr(
        &counter,
        10_010_101,
        CardSource::fixed(Brand::Jcb).expect("brand"),
        &state.path().join("terminal.json"),
    )
    .await;
    assert!(ecr.registration(COMMAND_DEADLINE).await.expect("registration").is_approved());

    counter.open_shift("clerk-r0101", "R0101").await;
    let sale: SaleView = counter
        .post(
            "clerk-r0101",
            "/v1/sales",
            &json!({ "register_id": "R0101", "lines": [{ "fee_item": "KOSEKI-ZENBU", "quantity": 1 }] }),
        )
        .await;
    let started: PaymentResult =
        counter.post("clerk-r0101", &format!("/v1/sales/{}/payments", sale.id), &json!({ "method": "card" })).await;
    assert_eq!(started.payment.state, PaymentState::AwaitingDevice);

    let outcome = ecr.authorization(sale.amount_total, COMMAND_DEADLINE).await.expect("the dialogue runs");
    assert!(outcome.is_approved(), "{outcome:?}");
    assert_eq!(outcome.report().amount(), Some(Yen::new(450).expect("yen")));
    assert_eq!(outcome.report().brand(), Some(Brand::Jcb));

    let payment: PaymentView = counter.get("treasury", &format!("/v1/payments/{}", started.payment.id)).await;
    assert_eq!(payment.state, PaymentState::Completed);
    assert_eq!(payment.masked_card.as_deref(), Some("353011******0000"));
    let sale: SaleView = counter.get("clerk-r0101", &format!("/v1/sales/{}", sale.id)).await;
    assert_eq!(sale.state, SaleState::Paid);
    let ledger = counter.card.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].terminal_id, "10010101");
    assert_eq!(ledger[0].amount.get(), 450);
    let _ = stop.send(());
    counter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decline_at_the_acquirer_reaches_the_register_as_an_abort_and_leaves_the_sale_open() {
    let counter = Counter::start().await;
    let state = tempfile::tempdir().expect("temp dir");
    let (mut ecr, stop) = terminal_and_ecr(
        &counter,
        10_012_901,
        CardSource::fixed(Brand::Visa).expect("brand"),
        &state.path().join("terminal.json"),
    )
    .await;
    counter.open_shift("clerk-r2901", "R2901").await;
    // 9,051 yen: the simulated acquirer's insufficient funds.
    let sale: SaleView = counter
        .post(
            "clerk-r2901",
            "/v1/sales",
            &json!({ "register_id": "R2901", "lines": [{ "fee_item": "PARKING", "quantity": 1, "amount": 9051 }] }),
        )
        .await;
    let started: PaymentResult =
        counter.post("clerk-r2901", &format!("/v1/sales/{}/payments", sale.id), &json!({ "method": "card" })).await;
    let outcome = ecr.authorization(sale.amount_total, COMMAND_DEADLINE).await.expect("the dialogue runs");
    assert!(!outcome.is_approved() && !outcome.is_unknown(), "{outcome:?}");
    let payment: PaymentView = counter.get("treasury", &format!("/v1/payments/{}", started.payment.id)).await;
    assert_eq!(payment.state, PaymentState::Declined);
    assert_eq!(payment.response_code.as_deref(), Some("51"));
    let sale: SaleView = counter.get("clerk-r2901", &format!("/v1/sales/{}", sale.id)).await;
    assert_eq!(sale.state, SaleState::Open);
    let _ = stop.send(());
    counter.stop().await;
}
