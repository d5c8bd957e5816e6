//! Reversals: the original found by terminal id and the STAN in field 90; idempotent repeats.

use acquirer_sim::{Centre, EntryState, Handling, ReversalOutcome};
use iso8583::{fields, Message, Mti};

use crate::support::*;

fn outcome_of(received: &acquirer_sim::Received) -> ReversalOutcome {
    match &received.handling {
        Handling::Reversal(outcome) => outcome.clone(),
        other => panic!("not a reversal: {other:?}"),
    }
}

#[tokio::test]
async fn a_reversal_reverses_the_original_and_repeats_are_idempotent() {
    let sim = start_sim(Centre::Card).await;
    let mut client = Client::connect(&sim).await;
    let original = purchase("000123", 1500);
    let sale = client.request(&original).await;
    let rrn = sale.text(fields::RETRIEVAL_REFERENCE).unwrap().to_string();

    sim.clock.set(jst(24, 10, 16, 0));
    let first = reversal(&original, "000124", false);
    let answer = client.request(&first).await;
    assert_eq!(answer.mti, Mti::REVERSAL_RESPONSE);
    assert_eq!(code_of(&answer), "00");
    assert_eq!(answer.text(fields::STAN), Some("000124"));
    assert_eq!(answer.text(fields::TERMINAL_ID), Some(TERMINAL));
    assert_eq!(answer.get(fields::ORIGINAL_DATA), first.get(fields::ORIGINAL_DATA));

    let entry = &sim.handle.ledger()[0];
    assert_eq!(entry.state, EntryState::Reversed);
    assert_eq!(entry.reversed_at.map(|at| at.to_rfc3339()).as_deref(), Some("2026-11-24T10:16:00+09:00"));

    // The gateway repeats with 0401 until it sees 0410: every repeat is answered 00.
    for _ in 0..2 {
        let repeat = client.request(&reversal(&original, "000124", true)).await;
        assert_eq!(repeat.mti, Mti::REVERSAL_RESPONSE);
        assert_eq!(code_of(&repeat), "00");
        assert_eq!(repeat.get(fields::ORIGINAL_DATA), first.get(fields::ORIGINAL_DATA));
    }
    assert_eq!(sim.handle.ledger().len(), 1);
    assert_eq!(sim.handle.ledger()[0].state, EntryState::Reversed);
    let outcomes: Vec<ReversalOutcome> = sim.handle.received()[1..].iter().map(outcome_of).collect();
    assert_eq!(
        outcomes,
        vec![
            ReversalOutcome::Reversed { rrn: rrn.clone() },
            ReversalOutcome::AlreadyReversed { rrn: rrn.clone() },
            ReversalOutcome::AlreadyReversed { rrn },
        ]
    );
    assert_eq!(sim.handle.received()[2].mti, Mti::REVERSAL_REPEAT);
}

#[tokio::test]
async fn a_reversal_of_an_unknown_original_is_25_and_of_a_declined_one_00() {
    let sim = start_sim(Centre::Card).await;
    let mut client = Client::connect(&sim).await;
    let never_sent = purchase("000500", 1500);
    assert_eq!(code_of(&client.request(&reversal(&never_sent, "000501", false)).await), "25");
    let declined = purchase("000502", 9051);
    assert_eq!(code_of(&client.request(&declined).await), "51");
    assert_eq!(code_of(&client.request(&reversal(&declined, "000503", false)).await), "00");
    let received = sim.handle.received();
    assert_eq!(outcome_of(&received[0]), ReversalOutcome::OriginalUnknown);
    assert!(matches!(outcome_of(&received[2]), ReversalOutcome::NothingToReverse { .. }));
    assert!(matches!(sim.handle.ledger()[0].state, EntryState::Declined(_)));
}

#[tokio::test]
async fn a_reversal_without_field_90_is_a_format_error() {
    let sim = start_sim(Centre::Card).await;
    let mut client = Client::connect(&sim).await;
    let bare = Message::new(Mti::REVERSAL_REQUEST).with(fields::STAN, "000001").with(fields::TERMINAL_ID, TERMINAL);
    let answer = client.request(&bare).await;
    assert_eq!(answer.mti, Mti::REVERSAL_RESPONSE);
    assert_eq!(code_of(&answer), "30");
    assert!(matches!(outcome_of(&sim.handle.received()[0]), ReversalOutcome::Malformed { .. }));
}

#[tokio::test]
async fn an_outcome_unknown_tap_can_be_reversed() {
    let sim = start_sim(Centre::Emoney).await;
    let mut client = Client::connect(&sim).await;
    let tap = emoney_purchase("000125", 9099, "WAON", "6900****0001");
    assert_eq!(code_of(&client.request(&tap).await), "Y1");
    assert_eq!(code_of(&client.request(&reversal(&tap, "000126", false)).await), "00");
    assert_eq!(sim.handle.ledger()[0].state, EntryState::Reversed);
}

#[tokio::test]
async fn a_reversal_on_another_connection_finds_the_original() {
    let sim = start_sim(Centre::Card).await;
    let original = purchase("000123", 1500);
    let mut first = Client::connect(&sim).await;
    assert_eq!(code_of(&first.request(&original).await), "00");
    drop(first);
    let mut second = Client::connect(&sim).await;
    assert_eq!(code_of(&second.request(&reversal(&original, "000124", false)).await), "00");
    assert_eq!(sim.handle.ledger()[0].state, EntryState::Reversed);
}

#[tokio::test]
async fn a_reversal_refused_by_a_fault_leaves_the_original_standing() {
    let sim = start_sim(Centre::Card).await;
    let mut client = Client::connect(&sim).await;
    let sale = purchase("000600", 1500);
    assert_eq!(code_of(&client.request(&sale).await), "00");
    sim.handle.set_faults(vec!["answer:96:reversal".parse().expect("fault plan")]);
    let answer = client.request(&reversal(&sale, "000601", false)).await;
    assert_eq!(code_of(&answer), "96");
    assert_eq!(answer.text(fields::ORIGINAL_DATA).map(str::len), Some(42), "field 90 is echoed");
    assert_eq!(sim.handle.ledger()[0].state, EntryState::Approved, "a refused reversal reverses nothing");
    sim.handle.set_faults(Vec::new());
    assert_eq!(code_of(&client.request(&reversal(&sale, "000602", true)).await), "00");
    assert_eq!(sim.handle.ledger()[0].state, EntryState::Reversed);
}
