//! Each fault, observed as a client sees it, and that the acquirer booked the request anyway.

use std::time::Instant;

use acquirer_sim::{Centre, EntryState, Fault, FaultPlan, MessageKind};
use iso8583::{decode, fields, Spec};

use crate::support::*;

#[tokio::test]
async fn no_answer_books_the_approval_but_sends_nothing() {
    let sim = start_sim(Centre::Card).await;
    sim.handle.set_faults(vec![FaultPlan::times(Fault::NoAnswer, MessageKind::Purchase, 1)]);
    let mut client = Client::connect(&sim).await;
    client.send(&purchase("000001", 1500)).await;
    assert!(matches!(client.incoming(QUIET).await, Incoming::Nothing));
    assert_eq!(sim.handle.ledger()[0].state, EntryState::Approved, "the acquirer charged: the gateway must reverse");
    assert_eq!(sim.handle.received()[0].fault, Some(Fault::NoAnswer));
    // The plan was for one purchase; the connection is still usable.
    assert_eq!(code_of(&client.request(&purchase("000002", 1500)).await), "00");
}

#[tokio::test]
async fn drop_connection_books_then_closes() {
    let sim = start_sim(Centre::Card).await;
    sim.handle.set_faults(vec![FaultPlan::always(Fault::DropConnection, MessageKind::Purchase)]);
    let mut client = Client::connect(&sim).await;
    // Network messages are not covered by the plan.
    assert_eq!(code_of(&client.request(&network("000001", fields::NETWORK_ECHO)).await), "00");
    client.send(&purchase("000002", 1500)).await;
    assert!(matches!(client.incoming(DEADLINE).await, Incoming::Closed));
    assert_eq!(sim.handle.ledger()[0].state, EntryState::Approved);
}

#[tokio::test]
async fn garbage_is_a_frame_that_does_not_decode() {
    let sim = start_sim(Centre::Card).await;
    sim.handle.set_faults(vec![FaultPlan::times(Fault::Garbage, MessageKind::Any, 1)]);
    let mut client = Client::connect(&sim).await;
    client.send(&purchase("000001", 1500)).await;
    match client.incoming(DEADLINE).await {
        Incoming::Frame(frame) => assert!(decode(&frame, Spec::default_1987()).is_err()),
        other => panic!("expected a garbage frame, got {other:?}"),
    }
    assert_eq!(sim.handle.ledger()[0].state, EntryState::Approved);
}

#[tokio::test]
async fn duplicate_answer_sends_the_same_answer_twice() {
    let sim = start_sim(Centre::Card).await;
    sim.handle.set_faults(vec![FaultPlan::times(Fault::DuplicateAnswer, MessageKind::Purchase, 1)]);
    let mut client = Client::connect(&sim).await;
    let first = client.request(&purchase("000001", 1500)).await;
    let second = client.answer().await;
    assert_eq!(first, second);
    assert_eq!(code_of(&first), "00");
    assert!(matches!(client.incoming(QUIET).await, Incoming::Nothing));
    assert_eq!(sim.handle.ledger().len(), 1);
}

#[tokio::test]
async fn late_answer_arrives_after_the_client_gave_up() {
    let sim = start_sim(Centre::Card).await;
    sim.handle.set_faults(vec![FaultPlan::times(Fault::LateAnswer { ms: 600 }, MessageKind::Purchase, 1)]);
    let mut client = Client::connect(&sim).await;
    client.send(&purchase("000001", 1500)).await;
    // The client's own deadline passes with nothing.
    assert!(matches!(client.incoming(QUIET).await, Incoming::Nothing));
    assert_eq!(sim.handle.ledger()[0].state, EntryState::Approved);
    let late = client.answer().await;
    assert_eq!(code_of(&late), "00");
    assert_eq!(late.text(fields::STAN), Some("000001"));
}

#[tokio::test]
async fn delay_answers_after_the_delay() {
    let sim = start_sim(Centre::Card).await;
    sim.handle.set_faults(vec![FaultPlan::always(Fault::Delay { ms: 200 }, MessageKind::Network)]);
    let mut client = Client::connect(&sim).await;
    let started = Instant::now();
    let answer = client.request(&network("000001", fields::NETWORK_ECHO)).await;
    assert!(started.elapsed().as_millis() >= 200, "answered after {:?}", started.elapsed());
    assert_eq!(code_of(&answer), "00");
    // Purchases are not covered by the plan.
    assert_eq!(code_of(&client.request(&purchase("000002", 100)).await), "00");
}

#[tokio::test]
async fn plans_apply_in_order_to_their_kind_and_count_down() {
    let sim = start_sim(Centre::Card).await;
    sim.handle.set_faults(vec![
        FaultPlan::times(Fault::NoAnswer, MessageKind::Refund, 1),
        FaultPlan::times(Fault::NoAnswer, MessageKind::Reversal, 2),
    ]);
    let mut client = Client::connect(&sim).await;
    let original = purchase("000001", 1500);
    let sale = client.request(&original).await;
    let rrn = sale.text(fields::RETRIEVAL_REFERENCE).unwrap().to_string();
    client.send(&card_refund("000002", 500, &rrn)).await;
    assert!(matches!(client.incoming(QUIET).await, Incoming::Nothing));
    for stan in ["000003", "000004"] {
        client.send(&reversal(&original, stan, stan != "000003")).await;
        assert!(matches!(client.incoming(QUIET).await, Incoming::Nothing));
    }
    let third = client.request(&reversal(&original, "000005", true)).await;
    assert_eq!(code_of(&third), "00");
    // Replacing the plans with none stops the faults.
    sim.handle.set_faults(Vec::new());
    assert_eq!(code_of(&client.request(&card_refund("000006", 500, &rrn)).await), "00");
}
