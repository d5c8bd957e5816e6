//! The payment switch end to end: HTTP API → terminal host (scripted terminal over TLS) →
//! acquirer simulators, on both journal backends.

use acquirer_sim::{EntryState, Fault, FaultPlan, MessageKind};
use pos_config::Backend;
use pos_core::api::SaleView;
use pos_core::{Brand, PaymentState, SaleState};
use serde_json::json;

use crate::support::{key, token};
use crate::switch_rig::{authorize, purchase, rig, REVERSAL_TRIES_MAX};

on_both_backends!(
    a_card_payment_is_approved_and_completes_the_sale,
    a_decline_leaves_the_sale_open_for_another_try,
    the_host_declines_what_it_cannot_bind,
    a_timeout_is_reversed_with_repeats_until_confirmed,
    a_dropped_link_mid_request_is_reversed,
    a_late_approval_after_the_reversal_started_completes_nothing,
    garbage_from_the_acquirer_is_reversed,
    the_secondary_endpoint_takes_over_when_the_primary_is_down,
    an_unknown_emoney_outcome_stays_in_doubt_until_treasury_resolves_it,
    a_same_day_void_reverses_the_card_payment,
    a_clerk_can_cancel_before_the_card_is_read,
    refunds_follow_the_brand_rules,
    a_refund_without_an_answer_is_reversed,
);

const CLERK: &str = "clerk-r0101";
const REGISTER: &str = "R0101";
const TERMINAL: &str = "10010101";
const PARKING_CLERK: &str = "clerk-r2901";
const PARKING_REGISTER: &str = "R2901";
const PARKING_TERMINAL: &str = "10012901";

async fn a_card_payment_is_approved_and_completes_the_sale(backend: Backend) {
    let rig = rig(backend).await;
    rig.open_shift(CLERK, REGISTER).await;
    let sale = rig.sell(CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 1 }])).await;
    let payment = rig.start_payment(CLERK, &sale.id, "card").await;
    assert_eq!(payment.state, PaymentState::AwaitingDevice);
    assert_eq!(payment.terminal_id.as_deref(), Some(TERMINAL));

    let terminal = rig.terminal().await;
    assert_eq!(authorize(&terminal, &purchase(TERMINAL, 17, 300, Brand::Visa)).await, "00");

    let paid = rig.payment(&payment.id).await;
    assert_eq!(paid.state, PaymentState::Completed);
    assert_eq!(paid.brand, Some(Brand::Visa));
    assert_eq!(paid.masked_card.as_deref(), Some("411111******1111"));
    assert!(paid.rrn.as_deref().is_some_and(|r| r.len() == 12));
    let sale: SaleView = rig.app.get(&format!("/v1/sales/{}", sale.id), &token(CLERK)).await.ok();
    assert_eq!(sale.state, SaleState::Paid);
    assert_eq!(sale.receipt.map(|r| r.number), Some(1));

    let ledger = rig.card.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].amount.get(), 300);
    assert_eq!(ledger[0].state, EntryState::Approved);
    assert_eq!(ledger[0].terminal_id, TERMINAL);

    let metrics = rig.app.get("/metrics", &token("admin")).await.text;
    for needle in [
        "authorizations_total{acquirer=\"ACQ-CARD\",brand=\"VISA\",outcome=\"approved\"}",
        "acquirer_latency_seconds_bucket{acquirer=\"ACQ-CARD\"",
        "payments_amount_yen_total{facility=\"F01\",method=\"card\"}",
    ] {
        assert!(metrics.lines().any(|line| line.starts_with(needle)), "metrics lack {needle}");
    }
    terminal.shutdown();
    rig.stop().await;
}

async fn a_decline_leaves_the_sale_open_for_another_try(backend: Backend) {
    let rig = rig(backend).await;
    rig.open_shift(PARKING_CLERK, PARKING_REGISTER).await;
    // 9,051 yen is the simulator's magic amount for 51, insufficient funds.
    let sale = rig
        .sell(PARKING_CLERK, PARKING_REGISTER, json!([{ "fee_item": "PARKING", "quantity": 1, "amount": 9051 }]))
        .await;
    let first = rig.start_payment(PARKING_CLERK, &sale.id, "card").await;
    let terminal = rig.terminal().await;
    assert_eq!(authorize(&terminal, &purchase(PARKING_TERMINAL, 1, 9051, Brand::Jcb)).await, "51");
    let declined = rig.payment(&first.id).await;
    assert_eq!(declined.state, PaymentState::Declined);
    assert_eq!(declined.note.as_deref(), Some("declined: insufficient funds"));

    // Another card on the same sale.
    let second = rig.start_payment(PARKING_CLERK, &sale.id, "emoney").await;
    assert_eq!(authorize(&terminal, &purchase(PARKING_TERMINAL, 2, 9051, Brand::Waon)).await, "51");
    assert_eq!(rig.payment(&second.id).await.state, PaymentState::Declined);
    let sale: SaleView = rig.app.get(&format!("/v1/sales/{}", sale.id), &token(PARKING_CLERK)).await.ok();
    assert_eq!(sale.state, SaleState::Open);
    assert_eq!(sale.amount_due.get(), 9051);
    terminal.shutdown();
    rig.stop().await;
}

async fn the_host_declines_what_it_cannot_bind(backend: Backend) {
    let rig = rig(backend).await;
    rig.open_shift(CLERK, REGISTER).await;
    let terminal = rig.terminal().await;
    // Nothing is waiting at this terminal.
    assert_eq!(authorize(&terminal, &purchase(TERMINAL, 1, 300, Brand::Visa)).await, "12");
    let sale = rig.sell(CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 1 }])).await;
    let payment = rig.start_payment(CLERK, &sale.id, "card").await;
    // The wrong amount, then an e-money brand for a card payment: both refused, still waiting.
    assert_eq!(authorize(&terminal, &purchase(TERMINAL, 2, 3000, Brand::Visa)).await, "13");
    assert_eq!(authorize(&terminal, &purchase(TERMINAL, 3, 300, Brand::Waon)).await, "12");
    assert_eq!(rig.payment(&payment.id).await.state, PaymentState::AwaitingDevice);
    assert!(rig.card.ledger().is_empty(), "nothing reached the acquirer");
    // A second payment cannot be started while the terminal is busy.
    let other = rig.sell(CLERK, REGISTER, json!([{ "fee_item": "INKAN", "quantity": 1 }])).await;
    let reply = rig
        .app
        .post(&format!("/v1/sales/{}/payments", other.id), &token(CLERK), &key(), &json!({ "method": "card" }))
        .await;
    assert_eq!(reply.error(409).0, "terminal_busy");
    terminal.shutdown();
    rig.stop().await;
}

async fn a_timeout_is_reversed_with_repeats_until_confirmed(backend: Backend) {
    let rig = rig(backend).await;
    rig.card.set_faults(vec![
        FaultPlan { fault: Fault::NoAnswer, applies_to: MessageKind::Purchase, times: Some(1) },
        FaultPlan { fault: Fault::NoAnswer, applies_to: MessageKind::Reversal, times: Some(2) },
    ]);
    rig.open_shift(CLERK, REGISTER).await;
    let sale = rig.sell(CLERK, REGISTER, json!([{ "fee_item": "KOSEKI-ZENBU", "quantity": 1 }])).await;
    let payment = rig.start_payment(CLERK, &sale.id, "card").await;
    let terminal = rig.terminal().await;
    assert_eq!(authorize(&terminal, &purchase(TERMINAL, 5, 450, Brand::Mastercard)).await, "91");
    let in_doubt = rig.payment(&payment.id).await;
    assert!(matches!(in_doubt.state, PaymentState::InDoubt | PaymentState::Reversed), "{:?}", in_doubt.state);
    let reversed = rig.wait_for(&payment.id, PaymentState::Reversed).await;
    assert_eq!(
        reversed.note.as_deref(),
        Some("reversed at the acquirer (00): nothing was charged — take the payment again")
    );

    let kinds: Vec<String> =
        rig.card.received().iter().map(|r| r.mti.as_str().to_string()).filter(|m| m.starts_with("04")).collect();
    assert_eq!(kinds, vec!["0400", "0401", "0401"], "first 0400, then repeats until answered");
    assert_eq!(rig.card.ledger()[0].state, EntryState::Reversed);
    let sale: SaleView = rig.app.get(&format!("/v1/sales/{}", sale.id), &token(CLERK)).await.ok();
    assert_eq!(sale.state, SaleState::Open, "a reversed payment pays nothing");
    terminal.shutdown();
    rig.stop().await;
}

async fn a_dropped_link_mid_request_is_reversed(backend: Backend) {
    let rig = rig(backend).await;
    rig.card.set_faults(vec![FaultPlan {
        fault: Fault::DropConnection,
        applies_to: MessageKind::Purchase,
        times: Some(1),
    }]);
    rig.open_shift(CLERK, REGISTER).await;
    let sale = rig.sell(CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 2 }])).await;
    let payment = rig.start_payment(CLERK, &sale.id, "card").await;
    let terminal = rig.terminal().await;
    assert_eq!(authorize(&terminal, &purchase(TERMINAL, 6, 600, Brand::Jcb)).await, "91");
    rig.wait_for(&payment.id, PaymentState::Reversed).await;
    assert_eq!(rig.card.ledger()[0].state, EntryState::Reversed);
    terminal.shutdown();
    rig.stop().await;
}

async fn a_late_approval_after_the_reversal_started_completes_nothing(backend: Backend) {
    let rig = rig(backend).await;
    rig.card.set_faults(vec![FaultPlan {
        fault: Fault::LateAnswer { ms: 1_500 },
        applies_to: MessageKind::Purchase,
        times: Some(1),
    }]);
    rig.open_shift(CLERK, REGISTER).await;
    let sale = rig.sell(CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 1 }])).await;
    let payment = rig.start_payment(CLERK, &sale.id, "card").await;
    let terminal = rig.terminal().await;
    assert_eq!(authorize(&terminal, &purchase(TERMINAL, 7, 300, Brand::Visa)).await, "91");
    rig.wait_for(&payment.id, PaymentState::Reversed).await;
    // Wait until the late approval has actually reached the gateway's link (it counts answers
    // nobody waits for any more), then check it changed nothing.
    let link = rig.app.app.connectors.acquirer("ACQ-CARD").expect("card link").clone();
    let bound = std::time::Duration::from_millis(crate::switch_rig::SETTLE_WAIT_MS);
    crate::support::until("the late approval to arrive", bound, || async { (link.late_answers() > 0).then_some(()) })
        .await;
    let after = rig.payment(&payment.id).await;
    assert_eq!(after.state, PaymentState::Reversed);
    let sale: SaleView = rig.app.get(&format!("/v1/sales/{}", sale.id), &token(CLERK)).await.ok();
    assert_eq!(sale.state, SaleState::Open);
    assert_eq!(sale.receipt, None);
    assert_eq!(rig.card.ledger()[0].state, EntryState::Reversed);
    terminal.shutdown();
    rig.stop().await;
}

async fn garbage_from_the_acquirer_is_reversed(backend: Backend) {
    let rig = rig(backend).await;
    rig.card.set_faults(vec![FaultPlan { fault: Fault::Garbage, applies_to: MessageKind::Purchase, times: Some(1) }]);
    rig.open_shift(CLERK, REGISTER).await;
    let sale = rig.sell(CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 1 }])).await;
    let payment = rig.start_payment(CLERK, &sale.id, "card").await;
    let terminal = rig.terminal().await;
    assert_eq!(authorize(&terminal, &purchase(TERMINAL, 8, 300, Brand::Amex)).await, "91");
    rig.wait_for(&payment.id, PaymentState::Reversed).await;
    terminal.shutdown();
    rig.stop().await;
}

async fn the_secondary_endpoint_takes_over_when_the_primary_is_down(backend: Backend) {
    let rig = rig(backend).await;
    rig.card.set_accepting(false);
    rig.open_shift(CLERK, REGISTER).await;
    let sale = rig.sell(CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 1 }])).await;
    let payment = rig.start_payment(CLERK, &sale.id, "card").await;
    let terminal = rig.terminal().await;
    assert_eq!(authorize(&terminal, &purchase(TERMINAL, 9, 300, Brand::Visa)).await, "00");
    assert_eq!(rig.payment(&payment.id).await.state, PaymentState::Completed);
    assert!(rig.card.ledger().is_empty());
    assert_eq!(rig.card_secondary.ledger().len(), 1, "the secondary endpoint authorized it");
    terminal.shutdown();
    rig.stop().await;
}

async fn an_unknown_emoney_outcome_stays_in_doubt_until_treasury_resolves_it(backend: Backend) {
    let rig = rig(backend).await;
    rig.open_shift(PARKING_CLERK, PARKING_REGISTER).await;
    // 9,099 yen is the e-money centre's magic amount for Y1, outcome unknown (処理未了).
    let sale = rig
        .sell(PARKING_CLERK, PARKING_REGISTER, json!([{ "fee_item": "PARKING", "quantity": 1, "amount": 9099 }]))
        .await;
    let payment = rig.start_payment(PARKING_CLERK, &sale.id, "emoney").await;
    let terminal = rig.terminal().await;
    assert_eq!(authorize(&terminal, &purchase(PARKING_TERMINAL, 3, 9099, Brand::TransitIc)).await, "Y1");
    let unknown = rig.payment(&payment.id).await;
    assert_eq!(unknown.state, PaymentState::InDoubt);
    assert_eq!(unknown.masked_card.as_deref(), Some("JE80****5678"));
    assert!(unknown.note.as_deref().is_some_and(|n| n.contains("処理未了")), "{:?}", unknown.note);
    // No reversal for an unknown e-money outcome, and the register cannot start another payment.
    assert!(!rig.emoney.received().iter().any(|r| r.mti.as_str().starts_with("04")));
    let reply = rig
        .app
        .post(&format!("/v1/sales/{}/payments", sale.id), &token(PARKING_CLERK), &key(), &json!({ "method": "emoney" }))
        .await;
    let (code, message, _) = reply.error(409);
    assert_eq!(code, "payment_pending");
    assert!(message.contains("do not retry"), "{message}");
    // A clerk cannot resolve it; treasury can.
    let resolve = json!({ "outcome": "completed", "note": "centre inquiry: 売上" });
    assert_eq!(
        rig.app
            .post(&format!("/v1/payments/{}/resolve", payment.id), &token(PARKING_CLERK), &key(), &resolve)
            .await
            .error(403)
            .0,
        "forbidden"
    );
    let resolved: pos_core::api::PaymentView =
        rig.app.post(&format!("/v1/payments/{}/resolve", payment.id), &token("treasury"), &key(), &resolve).await.ok();
    assert_eq!(resolved.state, PaymentState::Completed);
    let sale: SaleView = rig.app.get(&format!("/v1/sales/{}", sale.id), &token("treasury")).await.ok();
    assert_eq!(sale.state, SaleState::Paid);
    terminal.shutdown();
    rig.stop().await;
}

async fn a_same_day_void_reverses_the_card_payment(backend: Backend) {
    let rig = rig(backend).await;
    rig.open_shift(CLERK, REGISTER).await;
    let sale = rig.sell(CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 1 }])).await;
    let payment = rig.start_payment(CLERK, &sale.id, "card").await;
    let terminal = rig.terminal().await;
    assert_eq!(authorize(&terminal, &purchase(TERMINAL, 10, 300, Brand::Visa)).await, "00");
    let voided: SaleView = rig
        .app
        .post(&format!("/v1/sales/{}/void", sale.id), &token(CLERK), &key(), &json!({ "reason": "wrong certificate" }))
        .await
        .ok();
    assert_eq!(voided.state, SaleState::Voided);
    assert_eq!(voided.receipt.map(|r| r.number), Some(1));
    rig.wait_for(&payment.id, PaymentState::Voided).await;
    assert_eq!(rig.card.ledger()[0].state, EntryState::Reversed);
    terminal.shutdown();
    rig.stop().await;
}

async fn a_clerk_can_cancel_before_the_card_is_read(backend: Backend) {
    let rig = rig(backend).await;
    rig.open_shift(CLERK, REGISTER).await;
    let sale = rig.sell(CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 1 }])).await;
    let payment = rig.start_payment(CLERK, &sale.id, "card").await;
    let cancelled: pos_core::api::PaymentView =
        rig.app.post(&format!("/v1/payments/{}/cancel", payment.id), &token(CLERK), &key(), &json!({})).await.ok();
    assert_eq!(cancelled.state, PaymentState::Cancelled);
    let terminal = rig.terminal().await;
    assert_eq!(
        authorize(&terminal, &purchase(TERMINAL, 11, 300, Brand::Visa)).await,
        "12",
        "a cancelled payment binds nothing"
    );
    // Cash for the same sale now.
    let paid: pos_core::api::PaymentResult = rig
        .app
        .post(
            &format!("/v1/sales/{}/payments", sale.id),
            &token(CLERK),
            &key(),
            &json!({ "method": "cash", "tendered": 300 }),
        )
        .await
        .ok();
    assert_eq!(paid.sale.state, SaleState::Paid);
    terminal.shutdown();
    let _ = REVERSAL_TRIES_MAX;
    rig.stop().await;
}

/// Pays a parking sale of `amount` by `brand` at the car park's terminal and returns the payment.
async fn paid_at_parking(
    rig: &crate::switch_rig::Rig,
    terminal: &demo::terminals::TerminalFleet,
    stan: u32,
    amount: i64,
    brand: Brand,
) -> pos_core::api::PaymentView {
    let sale = rig
        .sell(PARKING_CLERK, PARKING_REGISTER, json!([{ "fee_item": "PARKING", "quantity": 1, "amount": amount }]))
        .await;
    let method = if brand.method() == pos_core::Method::Card { "card" } else { "emoney" };
    let payment = rig.start_payment(PARKING_CLERK, &sale.id, method).await;
    assert_eq!(authorize(terminal, &purchase(PARKING_TERMINAL, stan, amount, brand)).await, "00");
    rig.payment(&payment.id).await
}

async fn refund(
    rig: &crate::switch_rig::Rig,
    user: &str,
    payment: &str,
    amount: i64,
    method: &str,
) -> crate::support::Reply {
    rig.app
        .post_approved(
            &format!("/v1/payments/{payment}/refunds"),
            &token(user),
            &key(),
            &json!({ "amount": amount, "method": method, "reason": "overcharged" }),
        )
        .await
}

async fn refunds_follow_the_brand_rules(backend: Backend) {
    let rig = rig(backend).await;
    rig.open_shift(PARKING_CLERK, PARKING_REGISTER).await;
    let terminal = rig.terminal().await;

    // Cards: partial refunds, then the rest.
    let visa = paid_at_parking(&rig, &terminal, 1, 1_500, Brand::Visa).await;
    // A clerk's refund needs a supervisor's approval: without a code, or with a wrong one, nothing.
    for code in [None, Some("00000000")] {
        let mut body = json!({ "amount": 500, "method": "original", "reason": "overcharged" });
        if let Some(code) = code {
            body["approval_code"] = json!(code);
        }
        let reply =
            rig.app.post(&format!("/v1/payments/{}/refunds", visa.id), &token(PARKING_CLERK), &key(), &body).await;
        assert_eq!(reply.error(403).0, "forbidden", "approval code {code:?}");
    }
    assert_eq!(rig.app.count("refunds").await, 0, "no refund without a valid approval");
    let approved = refund(&rig, PARKING_CLERK, &visa.id, 500, "original").await;
    assert_eq!(approved.status, 202, "{}", approved.text);
    let view: pos_core::api::RefundView = approved.json();
    assert_eq!(view.reason, "overcharged");
    assert_eq!(
        view.approved_by.as_ref().map(|u| u.as_str()),
        Some("treasury"),
        "the approver is a field of the refund"
    );
    let partly = rig.wait_for(&visa.id, PaymentState::PartiallyRefunded).await;
    assert_eq!(partly.refunded.get(), 500);
    let (code, message, _) = refund(&rig, PARKING_CLERK, &visa.id, 1_001, "original").await.error(422);
    assert_eq!(code, "refund_exceeds_payment");
    assert!(message.contains("¥1,000"), "{message}");
    assert_eq!(refund(&rig, PARKING_CLERK, &visa.id, 1_000, "original").await.status, 202);
    assert_eq!(rig.wait_for(&visa.id, PaymentState::Refunded).await.refunded.get(), 1_500);
    let refunds: Vec<_> = rig.card.ledger().into_iter().filter(|e| e.kind == acquirer_sim::EntryKind::Refund).collect();
    assert_eq!(refunds.iter().map(|e| e.amount.get()).sum::<i64>(), 1_500);
    assert!(refunds.iter().all(|e| e.original_rrn == visa.rrn), "each refund names its original");

    // Transit IC takes no refunds; treasury records a cash refund instead.
    let transit = paid_at_parking(&rig, &terminal, 2, 800, Brand::TransitIc).await;
    let (code, message, field) = refund(&rig, PARKING_CLERK, &transit.id, 800, "original").await.error(422);
    assert_eq!((code.as_str(), field.as_deref()), ("refund_not_allowed", Some("method")));
    assert!(message.contains("交通系IC") && message.contains("cash refund"), "{message}");
    assert_eq!(refund(&rig, PARKING_CLERK, &transit.id, 800, "cash").await.error(403).0, "forbidden");
    assert_eq!(refund(&rig, "treasury", &transit.id, 800, "cash").await.status, 201);
    assert_eq!(rig.payment(&transit.id).await.state, PaymentState::Refunded);

    // iD: the whole amount only.
    let id = paid_at_parking(&rig, &terminal, 3, 1_000, Brand::Id).await;
    assert_eq!(refund(&rig, PARKING_CLERK, &id.id, 400, "original").await.error(422).0, "refund_full_only");
    assert_eq!(refund(&rig, PARKING_CLERK, &id.id, 1_000, "original").await.status, 202);
    rig.wait_for(&id.id, PaymentState::Refunded).await;
    terminal.shutdown();
    rig.stop().await;
}

async fn a_refund_without_an_answer_is_reversed(backend: Backend) {
    let rig = rig(backend).await;
    rig.open_shift(PARKING_CLERK, PARKING_REGISTER).await;
    let terminal = rig.terminal().await;
    let visa = paid_at_parking(&rig, &terminal, 1, 1_200, Brand::Visa).await;
    rig.card.set_faults(vec![FaultPlan { fault: Fault::NoAnswer, applies_to: MessageKind::Refund, times: Some(1) }]);
    assert_eq!(refund(&rig, PARKING_CLERK, &visa.id, 1_200, "original").await.status, 202);
    // The refund's reversal reaches the acquirer; the payment keeps its money and can be
    // refunded again.
    let bound = std::time::Duration::from_millis(crate::switch_rig::SETTLE_WAIT_MS);
    crate::support::until("the unanswered refund to be reversed", bound, || async {
        let ledger = rig.card.ledger();
        ledger
            .iter()
            .any(|e| e.kind == acquirer_sim::EntryKind::Refund && e.state == EntryState::Reversed)
            .then_some(())
    })
    .await;
    crate::support::until("the in-doubt refund to settle", bound, || async {
        let reply = refund(&rig, PARKING_CLERK, &visa.id, 1_200, "original").await;
        if reply.status == 202 {
            return Some(());
        }
        assert_eq!(reply.error(409).0, "money_return_pending");
        None
    })
    .await;
    assert_eq!(rig.wait_for(&visa.id, PaymentState::Refunded).await.refunded.get(), 1_200);
    terminal.shutdown();
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_sign_on_and_echo() {
    let rig = rig(Backend::Sqlite).await;
    let terminal = rig.terminal().await;
    for code in [iso8583::fields::NETWORK_SIGN_ON, iso8583::fields::NETWORK_ECHO, iso8583::fields::NETWORK_SIGN_OFF] {
        let request = iso8583::Message::new(iso8583::Mti::NETWORK_REQUEST)
            .with(iso8583::fields::TRANSMISSION_DATE_TIME, "1124090000")
            .with(iso8583::fields::STAN, "000042")
            .with(iso8583::fields::TERMINAL_ID, TERMINAL)
            .with(iso8583::fields::NETWORK_MANAGEMENT_CODE, code);
        let answer = terminal.request(&request, std::time::Duration::from_secs(5)).await.expect("answer");
        assert_eq!(answer.mti, iso8583::Mti::NETWORK_RESPONSE);
        assert_eq!(answer.text(iso8583::fields::RESPONSE_CODE), Some("00"));
        assert_eq!(answer.text(iso8583::fields::NETWORK_MANAGEMENT_CODE), Some(code));
    }
    terminal.shutdown();
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_host_requiring_client_certificates_refuses_terminals_without_one() {
    use std::sync::Arc;
    let pki = crate::support::TestPki::new();
    let leaf = pki.pki.server(&["localhost"]).expect("leaf");
    let required = pos_tls::server_config_from_pem(
        leaf.chain_pem.as_bytes(),
        leaf.key_pem.as_bytes(),
        Some(pki.pki.ca_pem().as_bytes()),
        pos_tls::ClientAuth::Required,
    )
    .expect("server tls");
    let app =
        crate::support::spawn_app_full(Backend::Sqlite, Arc::new(pos_core::SystemClock), Some(required), |_| {}).await;
    let address = app.terminal_host.expect("terminal host").to_string();
    let connect = |tls| {
        iso8583::client::Client::start(iso8583::client::ClientSettings {
            endpoints: vec![address.clone()],
            server_name: "localhost".to_string(),
            tls,
            in_flight_max: 1,
            connect_timeout_ms: 2_000,
            echo_interval_ms: 60_000,
            reconnect_backoff_ms_max: 200,
        })
    };
    let sign_on = iso8583::Message::new(iso8583::Mti::NETWORK_REQUEST)
        .with(iso8583::fields::STAN, "000001")
        .with(iso8583::fields::TERMINAL_ID, TERMINAL)
        .with(iso8583::fields::NETWORK_MANAGEMENT_CODE, iso8583::fields::NETWORK_SIGN_ON);
    // Without a certificate the handshake completes on the client's side, but the host drops the
    // connection: nothing is ever answered.
    let anonymous = connect(pki.client_tls());
    let refused = anonymous.request(&sign_on, std::time::Duration::from_secs(2)).await;
    assert!(refused.is_err(), "a terminal without a client certificate was served");
    anonymous.shutdown();
    let identity = pki.pki.terminal(TERMINAL).expect("terminal certificate");
    let with_certificate = pos_tls::client_config_from_pem(
        pki.pki.ca_pem().as_bytes(),
        Some((identity.chain_pem.as_bytes(), identity.key_pem.as_bytes())),
    )
    .expect("client tls");
    let terminal = connect(with_certificate);
    let answer = terminal
        .request(&sign_on, std::time::Duration::from_secs(5))
        .await
        .expect("a terminal with a certificate is served");
    assert_eq!(answer.text(iso8583::fields::RESPONSE_CODE), Some("00"));
    terminal.shutdown();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_terminal_certificate_is_refused_at_the_door() {
    use std::sync::Arc;
    let pki = crate::support::TestPki::new();
    let revoked = pki.pki.terminal(TERMINAL).expect("terminal certificate");
    let crl = pki.pki.revocation_list(std::slice::from_ref(&revoked.serial)).expect("revocation list");
    let crls = pos_tls::crls_from_pem(crl.as_bytes(), std::path::Path::new("crl.pem")).expect("crl");
    let leaf = pki.pki.server(&["localhost"]).expect("leaf");
    let tls = pos_tls::server_config_revoking(
        leaf.chain_pem.as_bytes(),
        leaf.key_pem.as_bytes(),
        Some(pki.pki.ca_pem().as_bytes()),
        &crls,
        pos_tls::ClientAuth::Required,
    )
    .expect("server tls");
    let app = crate::support::spawn_app_full(Backend::Sqlite, Arc::new(pos_core::SystemClock), Some(tls), |_| {}).await;
    let address = app.terminal_host.expect("terminal host").to_string();
    let connect = |chain: &str, key: &str| {
        let tls =
            pos_tls::client_config_from_pem(pki.pki.ca_pem().as_bytes(), Some((chain.as_bytes(), key.as_bytes())))
                .expect("client tls");
        iso8583::client::Client::start(iso8583::client::ClientSettings {
            endpoints: vec![address.clone()],
            server_name: "localhost".to_string(),
            tls,
            in_flight_max: 1,
            connect_timeout_ms: 2_000,
            echo_interval_ms: 60_000,
            reconnect_backoff_ms_max: 200,
        })
    };
    let sign_on = iso8583::Message::new(iso8583::Mti::NETWORK_REQUEST)
        .with(iso8583::fields::STAN, "000001")
        .with(iso8583::fields::TERMINAL_ID, TERMINAL)
        .with(iso8583::fields::NETWORK_MANAGEMENT_CODE, iso8583::fields::NETWORK_SIGN_ON);
    let old = connect(&revoked.chain_pem, &revoked.key_pem);
    assert!(
        old.request(&sign_on, std::time::Duration::from_secs(2)).await.is_err(),
        "a revoked certificate was served"
    );
    old.shutdown();
    // Its replacement, for the same terminal, is served.
    let renewed = pki.pki.terminal(TERMINAL).expect("renewed certificate");
    let new = connect(&renewed.chain_pem, &renewed.key_pem);
    let answer =
        new.request(&sign_on, std::time::Duration::from_secs(5)).await.expect("the renewed certificate is served");
    assert_eq!(answer.text(iso8583::fields::RESPONSE_CODE), Some("00"));
    new.shutdown();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waon_refund_is_refused_after_fourteen_days() {
    use std::sync::Arc;
    let clock = Arc::new(pos_core::ManualClock::new(chrono::Utc::now()));
    let rig = crate::switch_rig::rig_with_clock(Backend::Sqlite, clock.clone()).await;
    rig.open_shift(PARKING_CLERK, PARKING_REGISTER).await;
    let terminal = rig.terminal().await;
    let waon = paid_at_parking(&rig, &terminal, 1, 600, Brand::Waon).await;
    clock.set(chrono::Utc::now() + chrono::Duration::days(15));
    let (code, message, _) = refund(&rig, PARKING_CLERK, &waon.id, 600, "original").await.error(422);
    assert_eq!(code, "refund_period_over");
    assert!(message.contains("14 days"), "{message}");
    clock.set(chrono::Utc::now() + chrono::Duration::days(14));
    assert_eq!(
        refund(&rig, PARKING_CLERK, &waon.id, 200, "original").await.status,
        202,
        "partial refunds within 14 days"
    );
    rig.wait_for(&waon.id, PaymentState::PartiallyRefunded).await;
    terminal.shutdown();
    rig.stop().await;
}
