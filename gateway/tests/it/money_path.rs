//! The money path under attack and under a failing partner, on both journal backends: what every
//! reversal answer does to an in-doubt payment and to a void, terminals that reverse only their
//! own last authorization, a stranger on the counter network who changes nothing, one
//! money-returning operation at a time under random interleavings, closed days the database
//! keeps closed, and refunds approved without sharing a token.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use acquirer_sim::{EntryKind, EntryState, Fault, FaultPlan, MessageKind};
use iso8583::{fields, Message, Mti};
use pos_config::Backend;
use pos_core::api::{ApprovalCodeView, PaymentView, RefundApprovalView, RefundView};
use pos_core::{Brand, PaymentState, ReversalState, Yen};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::support::{key, token, until};
use crate::switch_rig::{authorize, purchase, rig, Rig, REVERSAL_TRIES_MAX};

on_both_backends!(
    reversal_answers_decide_in_doubt_payments,
    reversal_answers_decide_voids,
    terminals_reverse_only_their_own_last_authorization,
    a_stranger_on_the_counter_network_changes_nothing,
    one_money_return_at_a_time_under_random_interleavings,
    closed_days_are_refused_by_the_database,
    refunds_are_approved_without_sharing_a_token,
);

const CLERK: &str = "clerk-r0101";
const REGISTER: &str = "R0101";
const TERMINAL: &str = "10010101";
const PARKING_CLERK: &str = "clerk-r2901";
const PARKING_REGISTER: &str = "R2901";
const PARKING_TERMINAL: &str = "10012901";
/// The bound on waiting for the switch to settle something.
const SETTLE_MS: u64 = 30_000;

/// What the acquirer answers to a reversal (PROTOCOLS.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReversalAnswer {
    Code(&'static str),
    Garbage,
    Silence,
}

const ANSWERS: [ReversalAnswer; 7] = [
    ReversalAnswer::Code("00"),
    ReversalAnswer::Code("25"),
    ReversalAnswer::Code("12"),
    ReversalAnswer::Code("91"),
    ReversalAnswer::Code("96"),
    ReversalAnswer::Garbage,
    ReversalAnswer::Silence,
];

fn reversal_fault(answer: ReversalAnswer) -> Option<FaultPlan> {
    let fault = match answer {
        ReversalAnswer::Code("00") => return None,
        ReversalAnswer::Code(code) => Fault::AnswerCode { code: code.as_bytes().try_into().expect("two characters") },
        ReversalAnswer::Garbage => Fault::Garbage,
        ReversalAnswer::Silence => Fault::NoAnswer,
    };
    Some(FaultPlan::always(fault, MessageKind::Reversal))
}

async fn reversals_of(rig: &Rig, payment: &str) -> Vec<gateway::journal::reversals::ReversalRecord> {
    let mut conn = rig.app.app.journal.read().await.expect("conn");
    gateway::journal::reversals::of_payment(&mut conn, payment).await.expect("reversals")
}

/// Waits until the payment's reversals are all settled (none pending), and returns the last.
async fn settled_reversal(rig: &Rig, payment: &str) -> gateway::journal::reversals::ReversalRecord {
    until(&format!("the reversal of {payment} settles"), Duration::from_millis(SETTLE_MS), || async {
        let reversals = reversals_of(rig, payment).await;
        let last = reversals.last().cloned()?;
        (!reversals.iter().any(|r| r.state == ReversalState::Pending)).then_some(last)
    })
    .await
}

async fn exceptions_of(rig: &Rig, kind: &str) -> Vec<pos_core::api::ExceptionView> {
    let list: pos_core::api::ExceptionList =
        rig.app.get(&format!("/v1/treasury/exceptions?kind={kind}"), &token("treasury")).await.ok();
    list.exceptions
}

async fn card_sale(rig: &Rig, amount: i64) -> (PaymentView, String) {
    let sale = rig
        .sell(PARKING_CLERK, PARKING_REGISTER, json!([{ "fee_item": "PARKING", "quantity": 1, "amount": amount }]))
        .await;
    let payment = rig.start_payment(PARKING_CLERK, &sale.id, "card").await;
    (payment, sale.id)
}

async fn reversal_answers_decide_in_doubt_payments(backend: Backend) {
    let rig = rig(backend).await;
    rig.open_shift(PARKING_CLERK, PARKING_REGISTER).await;
    let terminal = rig.terminal().await;
    for (index, answer) in ANSWERS.into_iter().enumerate() {
        let amount = 1_000 + i64::try_from(index).expect("index");
        // The acquirer books the purchase and never answers: the gateway must reverse it.
        let mut plans = vec![FaultPlan::times(Fault::NoAnswer, MessageKind::Purchase, 1)];
        plans.extend(reversal_fault(answer));
        rig.card.set_faults(plans);
        let (payment, _) = card_sale(&rig, amount).await;
        let stan = 100 + u32::try_from(index).expect("index");
        assert_eq!(authorize(&terminal, &purchase(PARKING_TERMINAL, stan, amount, Brand::Visa)).await, "91");
        let reversal = settled_reversal(&rig, &payment.id).await;
        let after = rig.payment(&payment.id).await;
        let note = after.note.clone().unwrap_or_default();
        match answer {
            ReversalAnswer::Code("00") | ReversalAnswer::Code("25") => {
                assert_eq!(reversal.state, ReversalState::Done, "{answer:?}");
                assert_eq!(after.state, PaymentState::Reversed, "{answer:?}: {note}");
                assert!(note.contains("nothing was charged"), "{answer:?}: {note}");
            }
            _ => {
                assert_eq!(reversal.state, ReversalState::GaveUp, "{answer:?}");
                assert_eq!(reversal.tries, REVERSAL_TRIES_MAX, "{answer:?}: every try was made");
                assert_eq!(after.state, PaymentState::InDoubt, "{answer:?}: a refusal is never a reversal");
                assert!(!note.contains("nothing was charged"), "{answer:?}: the clerk is not told so: {note}");
                assert!(note.contains("did not confirm"), "{answer:?}: {note}");
            }
        }
        if answer == ReversalAnswer::Code("00") {
            let entry = rig.card.ledger().into_iter().find(|e| e.amount.get() == amount).expect("booked");
            assert_eq!(entry.state, EntryState::Reversed, "the acquirer's books agree");
        }
    }
    rig.card.set_faults(Vec::new());
    let raised = exceptions_of(&rig, "reversal_unconfirmed").await;
    assert_eq!(raised.len(), 5, "one exception per refused reversal: {raised:?}");
    for code in ["12", "91", "96"] {
        assert!(raised.iter().any(|e| e.detail.contains(&format!("last answer: {code}"))), "{code}: {raised:?}");
    }
    assert!(raised.iter().any(|e| e.detail.contains("no answer")), "garbage and silence name what came");
    terminal.shutdown();
    rig.stop().await;
}

async fn reversal_answers_decide_voids(backend: Backend) {
    let rig = rig(backend).await;
    rig.open_shift(PARKING_CLERK, PARKING_REGISTER).await;
    let terminal = rig.terminal().await;
    for (index, answer) in ANSWERS.into_iter().enumerate() {
        let amount = 2_000 + i64::try_from(index).expect("index");
        rig.card.set_faults(Vec::new());
        let (payment, sale) = card_sale(&rig, amount).await;
        let stan = 200 + u32::try_from(index).expect("index");
        assert_eq!(authorize(&terminal, &purchase(PARKING_TERMINAL, stan, amount, Brand::Visa)).await, "00");
        rig.card.set_faults(reversal_fault(answer).into_iter().collect());
        let voided = rig
            .app
            .post(&format!("/v1/sales/{sale}/void"), &token(PARKING_CLERK), &key(), &json!({ "reason": "打ち間違い" }))
            .await;
        assert_eq!(voided.status, 200, "{}", voided.text);
        let reversal = settled_reversal(&rig, &payment.id).await;
        let after = rig.payment(&payment.id).await;
        let note = after.note.clone().unwrap_or_default();
        if answer == ReversalAnswer::Code("00") {
            assert_eq!(reversal.state, ReversalState::Done);
            assert_eq!(after.state, PaymentState::Voided, "{note}");
            let entry = rig.card.ledger().into_iter().find(|e| e.amount.get() == amount).expect("booked");
            assert_eq!(entry.state, EntryState::Reversed);
        } else {
            // `25` for money the journal holds as taken proves nothing: like any other refusal.
            assert_eq!(reversal.state, ReversalState::GaveUp, "{answer:?}");
            assert_eq!(after.state, PaymentState::Completed, "{answer:?}: the money is still taken");
            assert!(note.contains("not confirmed"), "{answer:?}: {note}");
            let record = {
                let mut conn = rig.app.app.journal.read().await.expect("conn");
                gateway::journal::payments::load(&mut conn, &payment.id, "").await.expect("load").expect("payment")
            };
            assert_eq!(record.money_return, None, "a void that gave up no longer holds the money-return");
        }
    }
    rig.card.set_faults(Vec::new());
    assert_eq!(exceptions_of(&rig, "void_unconfirmed").await.len(), 6, "every unconfirmed void is raised");
    terminal.shutdown();
    rig.stop().await;
}

/// A terminal's reversal (0400/0401) of its original: field 90 names the original's MTI, STAN
/// and field 7.
fn terminal_reversal(terminal: &str, original: &Message, repeat: bool, amount: i64) -> Message {
    let stan = original.text(fields::STAN).expect("stan");
    let sent = original.text(fields::TRANSMISSION_DATE_TIME).expect("field 7");
    Message::new(if repeat { Mti::REVERSAL_REPEAT } else { Mti::REVERSAL_REQUEST })
        .with(fields::PROCESSING_CODE, fields::PROCESSING_PURCHASE)
        .with(fields::AMOUNT, iso8583::amount_field(Yen::new(amount).expect("yen")).expect("amount"))
        .with(fields::STAN, format!("{:06}", stan.parse::<u32>().expect("stan") + 500_000))
        .with(fields::TERMINAL_ID, terminal.to_string())
        .with(fields::ORIGINAL_DATA, format!("0200{stan}{sent}{:011}{:011}", 0, 0))
}

async fn answer_of(terminal: &demo::terminals::TerminalFleet, message: &Message) -> String {
    let answer = terminal.request(message, Duration::from_secs(10)).await.expect("the terminal host answers");
    answer.text(fields::RESPONSE_CODE).expect("field 39").to_string()
}

async fn terminals_reverse_only_their_own_last_authorization(backend: Backend) {
    let start = chrono::Utc::now();
    let clock = Arc::new(pos_core::ManualClock::new(start));
    let rig = crate::switch_rig::rig_with_clock(backend, clock.clone()).await;
    rig.open_shift(PARKING_CLERK, PARKING_REGISTER).await;
    rig.open_shift(CLERK, REGISTER).await;
    let terminal = rig.terminal().await;

    // The register's terminal pays; the parking terminal's own payment is older.
    let (parking, _) = card_sale(&rig, 1_500).await;
    let parking_request = purchase(PARKING_TERMINAL, 11, 1_500, Brand::Visa);
    assert_eq!(authorize(&terminal, &parking_request).await, "00");
    let sale = rig.sell(CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 1 }])).await;
    let own = rig.start_payment(CLERK, &sale.id, "card").await;
    let own_request = purchase(TERMINAL, 12, 300, Brand::Visa);
    assert_eq!(authorize(&terminal, &own_request).await, "00");

    // Another terminal's request, named as this terminal's: not its last authorization (25).
    let parking_reversal = terminal_reversal(PARKING_TERMINAL, &parking_request, false, 1_500);
    let named_as_own = {
        let mut message = parking_reversal.clone();
        message.set(fields::TERMINAL_ID, TERMINAL);
        message
    };
    assert_eq!(answer_of(&terminal, &named_as_own).await, "25", "its own last is another request");
    // Wrong STAN, wrong amount, wrong field 7: refused, nothing changes.
    let other_stan = terminal_reversal(TERMINAL, &purchase(TERMINAL, 13, 300, Brand::Visa), false, 300);
    assert_eq!(answer_of(&terminal, &other_stan).await, "25");
    assert_eq!(answer_of(&terminal, &terminal_reversal(TERMINAL, &own_request, false, 301)).await, "12");
    let mut other_time = own_request.clone();
    other_time.set(fields::TRANSMISSION_DATE_TIME, "0101000000");
    assert_eq!(answer_of(&terminal, &terminal_reversal(TERMINAL, &other_time, false, 300)).await, "25");
    assert_eq!(rig.payment(&own.id).await.state, PaymentState::Completed);
    assert_eq!(rig.payment(&parking.id).await.state, PaymentState::Completed);

    // The parking terminal's own reversal after the window: refused (the window is the longest
    // request timeout plus a margin).
    clock.set(start + chrono::Duration::seconds(60));
    assert_eq!(answer_of(&terminal, &parking_reversal).await, "12", "too late");
    assert_eq!(rig.payment(&parking.id).await.state, PaymentState::Completed);
    assert!(reversals_of(&rig, &parking.id).await.is_empty());

    // Its own last authorization within the window: reversed, the sale voided; a repeat (0401)
    // is answered again and changes nothing more.
    clock.set(start + chrono::Duration::seconds(1));
    assert_eq!(answer_of(&terminal, &terminal_reversal(TERMINAL, &own_request, false, 300)).await, "00");
    assert_eq!(answer_of(&terminal, &terminal_reversal(TERMINAL, &own_request, true, 300)).await, "00");
    let reversal = settled_reversal(&rig, &own.id).await;
    assert_eq!(reversal.state, ReversalState::Done);
    assert_eq!(rig.payment(&own.id).await.state, PaymentState::Voided);
    assert_eq!(reversals_of(&rig, &own.id).await.len(), 1, "one reversal, however often asked");
    let voided: pos_core::api::SaleView = rig.app.get(&format!("/v1/sales/{}", sale.id), &token(CLERK)).await.ok();
    assert_eq!(voided.state, pos_core::SaleState::Voided);
    terminal.shutdown();
    rig.stop().await;
}

/// A random but well-formed message of a stranger: a 0200, 0400 or 0401 with any terminal id,
/// trace number, amount and field 90.
fn stranger_message(rng: &mut StdRng, terminals: &[&str]) -> Message {
    let terminal = if rng.gen_bool(0.8) {
        terminals[rng.gen_range(0..terminals.len())].to_string()
    } else {
        format!("{:08}", rng.gen_range(0..100_000_000u32))
    };
    let amount = rng.gen_range(1..20_000i64);
    let stan = format!("{:06}", rng.gen_range(1..999_999u32));
    let mti = match rng.gen_range(0..3) {
        0 => Mti::FINANCIAL_REQUEST,
        1 => Mti::REVERSAL_REQUEST,
        _ => Mti::REVERSAL_REPEAT,
    };
    let mut message = Message::new(mti)
        .with(fields::PROCESSING_CODE, fields::PROCESSING_PURCHASE)
        .with(fields::AMOUNT, iso8583::amount_field(Yen::new(amount).expect("yen")).expect("amount"))
        .with(fields::TRANSMISSION_DATE_TIME, format!("{:010}", rng.gen_range(0..10_000_000_000u64)))
        .with(fields::STAN, stan)
        .with(fields::TERMINAL_ID, terminal)
        .with(fields::CURRENCY, fields::CURRENCY_JPY);
    if mti == Mti::FINANCIAL_REQUEST {
        message.set(fields::PAN, crate::switch_rig::TEST_PAN);
        message.set(fields::BRAND_DATA, iso8583::BrandData { brand: Some(Brand::Visa), ..Default::default() }.format());
    } else {
        let original: String = (0..42).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect();
        message.set(fields::ORIGINAL_DATA, format!("0200{}", &original[4..]));
    }
    message
}

/// The clerk's wrong approval codes a minute before the throttle answers 429, in the approval test.
const WRONG_CODES_ALLOWED: u32 = 8;

/// Messages a stranger sends per test.
const STRANGER_MESSAGES: usize = 2_000;

async fn a_stranger_on_the_counter_network_changes_nothing(backend: Backend) {
    let rig = rig(backend).await;
    rig.open_shift(CLERK, REGISTER).await;
    let address = rig.app.terminal_host.expect("terminal host").to_string();
    let terminal = rig.terminal().await;

    // Without a certificate: refused at the door, nothing is ever answered.
    let anonymous = iso8583::client::Client::start(iso8583::client::ClientSettings {
        endpoints: vec![address.clone()],
        server_name: "localhost".to_string(),
        tls: rig.pki.client_tls(),
        in_flight_max: 8,
        connect_timeout_ms: 2_000,
        echo_interval_ms: 60_000,
        reconnect_backoff_ms_max: 200,
    });
    let mut rng = StdRng::seed_from_u64(12);
    for _ in 0..20 {
        let message = stranger_message(&mut rng, &[TERMINAL]);
        assert!(anonymous.request(&message, Duration::from_millis(500)).await.is_err(), "served without a certificate");
    }
    anonymous.shutdown();

    // With another terminal's certificate (the parking terminal's, which has no payment): real
    // payments run at the register's terminal meanwhile.
    let stranger_tls = rig.pki.pki.terminal_client(PARKING_TERMINAL).expect("certificate");
    let stranger = iso8583::client::Client::start(iso8583::client::ClientSettings {
        endpoints: vec![address],
        server_name: "localhost".to_string(),
        tls: stranger_tls,
        in_flight_max: 8,
        connect_timeout_ms: 2_000,
        echo_interval_ms: 60_000,
        reconnect_backoff_ms_max: 200,
    });
    assert!(stranger.wait_connected(Duration::from_secs(5)).await);
    let real = async {
        let mut paid = Vec::new();
        for stan in 1..=10u32 {
            let sale = rig.sell(CLERK, REGISTER, json!([{ "fee_item": "JUMINHYO", "quantity": 1 }])).await;
            let payment = rig.start_payment(CLERK, &sale.id, "card").await;
            assert_eq!(authorize(&terminal, &purchase(TERMINAL, stan, 300, Brand::Visa)).await, "00");
            paid.push(payment.id);
        }
        paid
    };
    let attack = async {
        let terminals = [TERMINAL, PARKING_TERMINAL, "10010102", "10012001"];
        let mut answers: HashMap<(String, String), usize> = HashMap::new();
        let mut refused_identity = 0;
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..STRANGER_MESSAGES {
            let message = stranger_message(&mut rng, &terminals);
            let claimed = message.text(fields::TERMINAL_ID).unwrap_or("").to_string();
            let answer = stranger.request(&message, Duration::from_secs(10)).await.expect("answered");
            let code = answer.text(fields::RESPONSE_CODE).unwrap_or("").to_string();
            if claimed != PARKING_TERMINAL {
                assert_eq!(code, "63", "a message for {claimed} is a security violation");
                refused_identity += 1;
            } else {
                assert!(["12", "25", "30"].contains(&code.as_str()), "its own id, nothing to act on: {code}");
            }
            *answers.entry((message.mti.as_str().to_string(), code)).or_default() += 1;
        }
        (refused_identity, answers)
    };
    let (paid, (refused_identity, answers)) = tokio::join!(real, attack);
    stranger.shutdown();
    assert!(refused_identity > STRANGER_MESSAGES / 2, "{answers:?}");
    for id in &paid {
        let payment = rig.payment(id).await;
        assert_eq!(payment.state, PaymentState::Completed, "a real payment was touched");
        assert!(reversals_of(&rig, id).await.is_empty(), "no reversal of a real payment");
    }
    let sales = rig.card.ledger().into_iter().filter(|e| e.kind == EntryKind::Sale).collect::<Vec<_>>();
    assert_eq!(sales.len(), paid.len(), "the acquirer saw only the real purchases");
    assert!(sales.iter().all(|e| e.state == EntryState::Approved && e.terminal_id == TERMINAL));
    // Every refusal is counted, and audited without one write per message: the connection's
    // first refusal, then its total when it closes.
    let metrics = rig.app.get("/metrics", &token("treasury")).await;
    assert!(metrics.text.contains("terminal_identity_refusals_total"), "refusals are counted");
    let detail = until("the stranger's refusals are audited", Duration::from_millis(SETTLE_MS), || async {
        use sqlx::Row;
        let mut conn = rig.app.app.journal.read().await.expect("conn");
        let rows = sqlx::query("SELECT detail FROM audit_record WHERE role = 'terminal' AND user_name = $1")
            .bind(PARKING_TERMINAL)
            .fetch_all(&mut *conn)
            .await
            .expect("audit");
        let details: Vec<String> = rows.iter().map(|row| row.get::<String, _>("detail")).collect();
        details.iter().any(|d| d.contains(&format!("{refused_identity} messages"))).then_some(details)
    })
    .await;
    assert_eq!(detail.len(), 2, "one record for the first refusal, one for the total: {detail:?}");
    terminal.shutdown();
    rig.stop().await;
}

/// One operation a person (or the acquirer) does in an interleaving.
#[derive(Debug, Clone, Copy)]
enum Operation {
    /// The clerk voids the sale (from one of two browser tabs).
    Void,
    /// The clerk refunds, approved by a supervisor's code.
    ClerkRefund(i64),
    /// Treasury refunds.
    TreasuryRefund(i64),
}

/// Interleavings played per backend.
const INTERLEAVINGS: u64 = 6;

async fn one_money_return_at_a_time_under_random_interleavings(backend: Backend) {
    let rig = rig(backend).await;
    rig.open_shift(PARKING_CLERK, PARKING_REGISTER).await;
    let terminal = rig.terminal().await;
    for seed in 0..INTERLEAVINGS {
        let mut rng = StdRng::seed_from_u64(seed);
        let amount = 3_000;
        rig.card.set_faults(Vec::new());
        let (payment, sale) = card_sale(&rig, amount).await;
        let stan = 300 + u32::try_from(seed).expect("seed");
        assert_eq!(authorize(&terminal, &purchase(PARKING_TERMINAL, stan, amount, Brand::Visa)).await, "00");
        // The acquirer answers late or never, now and then.
        let mut plans = Vec::new();
        for kind in [MessageKind::Refund, MessageKind::Reversal] {
            match rng.gen_range(0..3) {
                0 => plans.push(FaultPlan::times(Fault::Delay { ms: rng.gen_range(10..300) }, kind, 1)),
                1 => plans.push(FaultPlan::times(Fault::NoAnswer, kind, 1)),
                _ => {}
            }
        }
        rig.card.set_faults(plans);
        let operations: Vec<Operation> = (0..rng.gen_range(2..6))
            .map(|_| match rng.gen_range(0..4) {
                0 | 1 => Operation::Void,
                2 => Operation::ClerkRefund(rng.gen_range(1..=amount)),
                _ => Operation::TreasuryRefund(rng.gen_range(1..=amount)),
            })
            .collect();
        let runs = operations.iter().map(|operation| {
            let (rig, payment, sale) = (&rig, payment.id.clone(), sale.clone());
            async move {
                match *operation {
                    Operation::Void => {
                        let path = format!("/v1/sales/{sale}/void");
                        let reply =
                            rig.app.post(&path, &token(PARKING_CLERK), &key(), &json!({ "reason": "二重" })).await;
                        (reply.status, reply.text)
                    }
                    Operation::ClerkRefund(amount) => {
                        let path = format!("/v1/payments/{payment}/refunds");
                        let body = json!({ "amount": amount, "method": "original", "reason": "返金" });
                        let reply = rig.app.post_approved(&path, &token(PARKING_CLERK), &key(), &body).await;
                        (reply.status, reply.text)
                    }
                    Operation::TreasuryRefund(amount) => {
                        let path = format!("/v1/payments/{payment}/refunds");
                        let body = json!({ "amount": amount, "method": "original", "reason": "返金" });
                        let reply = rig.app.post(&path, &token("treasury"), &key(), &body).await;
                        (reply.status, reply.text)
                    }
                }
            }
        });
        let statuses = futures::future::join_all(runs).await;
        for (status, _) in &statuses {
            assert!([200, 202, 403, 409, 422].contains(status), "seed {seed}: {operations:?} → {statuses:?}");
        }
        // Let every refund and reversal end (the acquirer's silence becomes a reversal of the
        // refund, and so on), then check the books.
        rig.card.set_faults(Vec::new());
        until(&format!("seed {seed}: every money-return ends"), Duration::from_millis(SETTLE_MS), || async {
            let record = {
                let mut conn = rig.app.app.journal.read().await.expect("conn");
                gateway::journal::payments::load(&mut conn, &payment.id, "").await.expect("load").expect("payment")
            };
            let pending = reversals_of(&rig, &payment.id).await.iter().any(|r| r.state == ReversalState::Pending);
            (record.money_return.is_none() && !pending).then_some(())
        })
        .await;
        let after = rig.payment(&payment.id).await;
        let refunds: Vec<RefundView> = {
            let mut conn = rig.app.app.journal.read().await.expect("conn");
            gateway::journal::refunds::of_payment(&mut conn, &payment.id)
                .await
                .expect("refunds")
                .into_iter()
                .map(|r| r.view)
                .collect()
        };
        let refunded: i64 = refunds.iter().filter(|r| r.state.moved_money()).map(|r| r.amount.get()).sum();
        let reversed = if after.state == PaymentState::Voided { amount } else { 0 };
        assert!(refunded + reversed <= amount, "seed {seed}: refunded {refunded} + reversed {reversed} > {amount}");
        assert_eq!(after.refunded.get(), refunded, "seed {seed}: the payment's refunded total is its refunds'");
        assert!(!(reversed > 0 && refunded > 0), "seed {seed}: both a void and a refund returned money");
        // The acquirer's books: what it still holds plus what it gave back is the amount.
        let ledger = rig.card.ledger();
        let original =
            ledger.iter().find(|e| e.kind == EntryKind::Sale && e.rrn == after.rrn.clone().unwrap_or_default());
        let original = original.expect("the acquirer booked the sale");
        let acquirer_refunded: i64 = ledger
            .iter()
            .filter(|e| e.kind == EntryKind::Refund && e.original_rrn == after.rrn && e.state == EntryState::Approved)
            .map(|e| e.amount.get())
            .sum();
        assert_eq!(acquirer_refunded, refunded, "seed {seed}: the acquirer's refunds are the journal's");
        assert_eq!(
            original.state == EntryState::Reversed,
            reversed > 0,
            "seed {seed}: the acquirer reversed the sale exactly when the journal voided it"
        );
    }
    terminal.shutdown();
    rig.stop().await;
}

async fn closed_days_are_refused_by_the_database(backend: Backend) {
    use sqlx::Row;
    let clock = Arc::new(pos_core::ManualClock::new(chrono::Utc::now()));
    let rig = crate::switch_rig::rig_with_clock(backend, clock.clone()).await;
    rig.open_shift(PARKING_CLERK, PARKING_REGISTER).await;
    let terminal = rig.terminal().await;
    let (payment, sale) = card_sale(&rig, 1_200).await;
    assert_eq!(authorize(&terminal, &purchase(PARKING_TERMINAL, 1, 1_200, Brand::Visa)).await, "00");
    let record = {
        let mut conn = rig.app.app.journal.read().await.expect("conn");
        gateway::journal::payments::load(&mut conn, &payment.id, "").await.expect("load").expect("payment")
    };
    let facility = record.facility_id.clone();
    let day = record.view.business_date.to_string();
    // Close the day straight in the journal, as treasury's close does.
    let mut conn = rig.app.app.journal.pool().acquire().await.expect("conn");
    sqlx::query("INSERT INTO treasury_closed_days (facility_id, business_date, closed_at, closed_by, report_sha256) VALUES ($1, $2, '2026-01-01T00:00:00.000Z', 'treasury', 'x')")
        .bind(&facility)
        .bind(&day)
        .execute(&mut *conn)
        .await
        .expect("close the day");
    for (what, statement) in [
        ("a payment's amount", format!("UPDATE payments SET amount = 1 WHERE id = '{}'", payment.id)),
        ("a payment's state", format!("UPDATE payments SET state = 'voided' WHERE id = '{}'", payment.id)),
        ("a payment's removal", format!("DELETE FROM payments WHERE id = '{}'", payment.id)),
        ("a sale", format!("UPDATE sales SET state = 'voided' WHERE id = '{sale}'")),
        ("a sale's removal", format!("DELETE FROM sales WHERE id = '{sale}'")),
        (
            "a refund booked on the closed day",
            format!("INSERT INTO refunds (id, payment_id, facility_id, amount, method, state, reason, created_by, created_at, updated_at, business_date) VALUES ('ref_x', '{}', '{facility}', 1, 'cash', 'recorded', 'x', 'treasury', 'x', 'x', '{day}')", payment.id),
        ),
        (
            "a reversal of the closed day's payment",
            format!("INSERT INTO reversals (id, payment_id, acquirer_id, reason, original, state, next_attempt_at, created_at, updated_at) VALUES ('rev_x', '{}', 'ACQ-CARD', 'void', '{{}}', 'pending', 'x', 'x', 'x')", payment.id),
        ),
    ] {
        let refused = sqlx::query(&statement).execute(&mut *conn).await;
        let error = refused.expect_err(what).to_string();
        assert!(error.contains("closed day"), "{what}: {error}");
    }
    // A refund made on a later day is booked on that day: the closed day's payment only takes its
    // running refunded total.
    clock.set(chrono::Utc::now() + chrono::Duration::days(1));
    let refund = rig
        .app
        .post(
            &format!("/v1/payments/{}/refunds", payment.id),
            &token("treasury"),
            &key(),
            &json!({ "amount": 200, "method": "original", "reason": "後日返金" }),
        )
        .await;
    assert_eq!(refund.status, 202, "{}", refund.text);
    let partly = rig.wait_for(&payment.id, PaymentState::PartiallyRefunded).await;
    assert_eq!(partly.refunded.get(), 200);
    let amount: i64 = sqlx::query("SELECT amount FROM payments WHERE id = $1")
        .bind(&payment.id)
        .fetch_one(&mut *conn)
        .await
        .expect("read")
        .get("amount");
    assert_eq!(amount, 1_200, "the closed day's figures stand");
    drop(conn);
    terminal.shutdown();
    rig.stop().await;
}

async fn refunds_are_approved_without_sharing_a_token(backend: Backend) {
    let clock = Arc::new(pos_core::ManualClock::new(chrono::Utc::now()));
    // The clerk's wrong codes below stay within the throttle's allowance until the end, where
    // the throttle itself is checked.
    let rig = crate::switch_rig::rig_with(backend, clock.clone(), |config| {
        config.server.auth_throttle.failures_per_minute = WRONG_CODES_ALLOWED;
    })
    .await;
    rig.open_shift(PARKING_CLERK, PARKING_REGISTER).await;
    let terminal = rig.terminal().await;
    let (payment, _) = card_sale(&rig, 2_000).await;
    assert_eq!(authorize(&terminal, &purchase(PARKING_TERMINAL, 1, 2_000, Brand::Visa)).await, "00");
    let refunds = |amount: i64, code: Option<&str>| {
        let mut body = json!({ "amount": amount, "method": "original", "reason": "二重払い" });
        if let Some(code) = code {
            body["approval_code"] = json!(code);
        }
        body
    };
    let path = format!("/v1/payments/{}/refunds", payment.id);
    let codes_path = format!("/v1/payments/{}/approval-codes", payment.id);

    // A request, rejected, then another approved: the refund is the clerk's, approved by treasury.
    let request: RefundApprovalView = rig
        .app
        .post(
            &format!("/v1/payments/{}/refund-requests", payment.id),
            &token(PARKING_CLERK),
            &key(),
            &json!({ "amount": 500, "reason": "二重払い" }),
        )
        .await
        .ok();
    assert_eq!(request.state, pos_core::api::ApprovalState::Pending);
    let others = rig.app.get("/v1/refund-requests?state=pending", &token("clerk-r0101")).await;
    let others: pos_core::api::RefundApprovalList = others.ok();
    assert!(others.requests.is_empty(), "another register's clerk sees none of it");
    let listed: pos_core::api::RefundApprovalList =
        rig.app.get("/v1/refund-requests?state=pending", &token("treasury")).await.ok();
    assert_eq!(listed.requests.len(), 1);
    let approve = |id: &str| format!("/v1/refund-requests/{id}/approve");
    assert_eq!(
        rig.app.post(&approve(&request.id), &token(PARKING_CLERK), &key(), &json!({})).await.error(403).0,
        "forbidden"
    );
    assert_eq!(
        rig.app.post(&approve(&request.id), &token("op-sports"), &key(), &json!({})).await.error(403).0,
        "forbidden",
        "an operator of other facilities"
    );
    let rejected: RefundApprovalView = rig
        .app
        .post(
            &format!("/v1/refund-requests/{}/reject", request.id),
            &token("treasury"),
            &key(),
            &json!({ "note": "領収書なし" }),
        )
        .await
        .ok();
    assert_eq!(rejected.state, pos_core::api::ApprovalState::Rejected);
    assert_eq!(
        rig.app.post(&approve(&request.id), &token("treasury"), &key(), &json!({})).await.error(409).0,
        "request_decided"
    );
    let request: RefundApprovalView = rig
        .app
        .post(
            &format!("/v1/payments/{}/refund-requests", payment.id),
            &token(PARKING_CLERK),
            &key(),
            &json!({ "amount": 500, "reason": "二重払い" }),
        )
        .await
        .ok();
    let approved: RefundApprovalView =
        rig.app.post(&approve(&request.id), &token("treasury"), &key(), &json!({ "note": "確認済" })).await.ok();
    assert_eq!(approved.state, pos_core::api::ApprovalState::Approved);
    let refund = approved.refund.expect("the refund made on approval");
    assert_eq!(refund.created_by.as_str(), PARKING_CLERK);
    assert_eq!(refund.approved_by.as_ref().map(|u| u.as_str()), Some("treasury"));
    rig.wait_for(&payment.id, PaymentState::PartiallyRefunded).await;
    {
        use sqlx::Row;
        rig.app.app.journal.flush_audit().await.expect("audit records written");
        let mut conn = rig.app.app.journal.read().await.expect("conn");
        let detail: String = sqlx::query(
            "SELECT detail FROM audit_record WHERE kind = 'request' AND action LIKE '%approve' ORDER BY seq DESC LIMIT 1",
        )
                .fetch_one(&mut *conn)
                .await
                .expect("audit record")
                .get("detail");
        assert!(
            detail.contains("approved by treasury") && detail.contains(&refund.id),
            "the audit names the approver: {detail}"
        );
    }

    // A one-time code: bound to the payment and the amount, used once, locked after wrong tries,
    // and every failure reads the same.
    let code: ApprovalCodeView =
        rig.app.post(&codes_path, &token("treasury"), &key(), &json!({ "amount": 300 })).await.ok();
    let refused_message = |reply: crate::support::Reply| reply.error(403).1;
    let no_code = refused_message(rig.app.post(&path, &token(PARKING_CLERK), &key(), &refunds(300, None)).await);
    let wrong_amount =
        refused_message(rig.app.post(&path, &token(PARKING_CLERK), &key(), &refunds(301, Some(&code.code))).await);
    assert!(no_code.contains("approval"), "{no_code}");
    assert_eq!(wrong_amount, "the approval code is not valid for this payment and amount");
    let done = rig.app.post(&path, &token(PARKING_CLERK), &key(), &refunds(300, Some(&code.code))).await;
    assert_eq!(done.status, 202, "{}", done.text);
    let view: RefundView = done.json();
    assert_eq!(view.approved_by.as_ref().map(|u| u.as_str()), Some("treasury"));
    until("the coded refund ends", Duration::from_millis(SETTLE_MS), || async {
        let mut conn = rig.app.app.journal.read().await.expect("conn");
        let refund = gateway::journal::refunds::load(&mut conn, &view.id, "").await.expect("load").expect("refund");
        (!refund.view.state.is_open()).then_some(())
    })
    .await;
    let reused =
        refused_message(rig.app.post(&path, &token(PARKING_CLERK), &key(), &refunds(300, Some(&code.code))).await);
    assert_eq!(reused, wrong_amount, "a used code reads like any wrong one");
    let code: ApprovalCodeView =
        rig.app.post(&codes_path, &token("treasury"), &key(), &json!({ "amount": 100 })).await.ok();
    for _ in 0..gateway::payments::approvals::APPROVAL_CODE_TRIES_MAX {
        let wrong = rig.app.post(&path, &token(PARKING_CLERK), &key(), &refunds(100, Some("99999999"))).await;
        assert_eq!(refused_message(wrong), wrong_amount);
    }
    let locked =
        refused_message(rig.app.post(&path, &token(PARKING_CLERK), &key(), &refunds(100, Some(&code.code))).await);
    assert_eq!(locked, wrong_amount, "locked after too many wrong tries, and saying so in no other words");
    let code: ApprovalCodeView =
        rig.app.post(&codes_path, &token("treasury"), &key(), &json!({ "amount": 100 })).await.ok();
    clock.set(
        chrono::Utc::now() + chrono::Duration::seconds(gateway::payments::approvals::APPROVAL_CODE_VALID_SECONDS + 1),
    );
    let expired =
        refused_message(rig.app.post(&path, &token(PARKING_CLERK), &key(), &refunds(100, Some(&code.code))).await);
    assert_eq!(expired, wrong_amount, "an expired code reads the same");
    // Seven wrong codes so far (wrong amount, reused, three wrong, locked, expired): the eighth is
    // still refused as wrong, the ninth is past the clerk's allowance and throttled, and while
    // throttled even a good code is not looked at.
    let eighth = rig.app.post(&path, &token(PARKING_CLERK), &key(), &refunds(100, Some("99999998"))).await;
    assert_eq!(refused_message(eighth), wrong_amount);
    let ninth = rig.app.post(&path, &token(PARKING_CLERK), &key(), &refunds(100, Some("99999997"))).await;
    assert_eq!(ninth.status, 429, "{}", ninth.text);
    let code: ApprovalCodeView =
        rig.app.post(&codes_path, &token("treasury"), &key(), &json!({ "amount": 100 })).await.ok();
    let throttled = rig.app.post(&path, &token(PARKING_CLERK), &key(), &refunds(100, Some(&code.code))).await;
    assert_eq!(throttled.status, 429, "{}", throttled.text);
    let refunded = rig.payment(&payment.id).await.refunded.get();
    assert_eq!(refunded, 800, "only the approved refunds went through");
    assert_eq!(
        rig.card.ledger().iter().filter(|e| e.kind == EntryKind::Refund).map(|e| e.amount.get()).sum::<i64>(),
        800
    );
    // The old way is gone: a supervisor's token in a header approves nothing.
    let header = rig
        .app
        .http
        .post(format!("{}{path}", rig.app.base))
        .bearer_auth(token(PARKING_CLERK))
        .header("Idempotency-Key", key())
        .header("X-Supervisor-Token", token("treasury"))
        .json(&refunds(100, None))
        .send()
        .await
        .expect("request");
    assert_eq!(header.status().as_u16(), 403);
    terminal.shutdown();
    rig.stop().await;
}
