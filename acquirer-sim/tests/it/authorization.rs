//! Purchases, refunds, magic declines, duplicates and network management.

use acquirer_sim::magic::MAGIC_DECLINES;
use acquirer_sim::{Centre, EntryKind, EntryState, Fault, FaultPlan, Handling, MessageKind};
use iso8583::{fields, Mti, ResponseCode};

use crate::support::*;

#[tokio::test]
async fn a_purchase_is_approved_with_rrn_and_auth_code() {
    let sim = start_sim(Centre::Card).await;
    let mut client = Client::connect(&sim).await;
    let answer = client.request(&purchase("000123", 1500)).await;
    assert_eq!(answer.mti, Mti::FINANCIAL_RESPONSE);
    assert_eq!(code_of(&answer), "00");
    assert_eq!(answer.text(fields::STAN), Some("000123"));
    assert_eq!(answer.text(fields::TERMINAL_ID), Some(TERMINAL));
    let rrn = answer.text(fields::RETRIEVAL_REFERENCE).unwrap();
    assert_eq!(rrn.len(), 12);
    assert!(rrn.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(answer.text(fields::AUTHORIZATION_CODE).map(str::len), Some(6));

    let ledger = sim.handle.ledger();
    assert_eq!(ledger.len(), 1);
    let entry = &ledger[0];
    assert_eq!(entry.state, EntryState::Approved);
    assert_eq!(entry.kind, EntryKind::Sale);
    assert_eq!(entry.rrn, rrn);
    assert_eq!(entry.amount.get(), 1500);
    assert_eq!(entry.masked_pan_or_card_id, "411111******1111");
    assert_eq!(entry.merchant_id, MERCHANT);
    assert_eq!(entry.at.offset().local_minus_utc(), 9 * 3600);
    // No full card number anywhere in what the simulator keeps.
    let kept = format!("{:?}{:?}", sim.handle.ledger(), sim.handle.received());
    assert!(!kept.contains(PAN_VISA), "{kept}");
}

#[tokio::test]
async fn rrns_are_unique_and_track_2_is_read_and_masked() {
    let sim = start_sim(Centre::Card).await;
    let mut client = Client::connect(&sim).await;
    let from_track = purchase("000001", 100).with(fields::TRACK_2, "5555555555554444=28121010000012345678");
    let mut from_track = from_track;
    from_track.remove(fields::PAN);
    let first = client.request(&from_track).await;
    let second = client.request(&purchase("000002", 100)).await;
    assert_ne!(first.text(fields::RETRIEVAL_REFERENCE), second.text(fields::RETRIEVAL_REFERENCE));
    assert_eq!(sim.handle.ledger()[0].masked_pan_or_card_id, "555555******4444");
    let kept = format!("{:?}", sim.handle.ledger());
    assert!(!kept.contains("5555555555554444") && !kept.contains("28121010000012345678"));
}

#[tokio::test]
async fn each_magic_amount_declines_with_its_code() {
    let sim = start_sim(Centre::Card).await;
    let mut client = Client::connect(&sim).await;
    for (index, (amount, code)) in MAGIC_DECLINES.iter().enumerate() {
        let stan = format!("{:06}", index + 1);
        let answer = client.request(&purchase(&stan, *amount)).await;
        assert_eq!(code_of(&answer), code.code(), "amount {amount}");
        assert!(answer.has(fields::RETRIEVAL_REFERENCE), "a booked decline carries its RRN");
        assert!(!answer.has(fields::AUTHORIZATION_CODE), "no authorization code on a decline");
    }
    let states: Vec<EntryState> = sim.handle.ledger().into_iter().map(|e| e.state).collect();
    let expected: Vec<EntryState> = MAGIC_DECLINES.iter().map(|(_, code)| EntryState::Declined(code.clone())).collect();
    assert_eq!(states, expected);
    // The magic outcome-unknown amount is an ordinary approval at the card acquirer.
    assert_eq!(code_of(&client.request(&purchase("000099", 9099)).await), "00");
}

#[tokio::test]
async fn the_emoney_centre_answers_y1_for_9099_and_books_it_unknown() {
    let sim = start_sim(Centre::Emoney).await;
    let mut client = Client::connect(&sim).await;
    let answer = client.request(&emoney_purchase("000125", 9099, "WAON", "6900****0001")).await;
    assert_eq!(code_of(&answer), "Y1");
    assert!(!answer.has(fields::AUTHORIZATION_CODE));
    let approved = client.request(&emoney_purchase("000126", 470, "TRANSIT", "JE80****5678")).await;
    assert_eq!(code_of(&approved), "00");
    let ledger = sim.handle.ledger();
    assert_eq!(ledger[0].state, EntryState::Unknown);
    assert_eq!(ledger[0].masked_pan_or_card_id, "6900****0001");
    assert_eq!(ledger[0].response_code, ResponseCode::OutcomeUnknown);
    assert_eq!(ledger[1].state, EntryState::Approved);
    assert_eq!(ledger[1].brand, pos_core::Brand::TransitIc);
}

#[tokio::test]
async fn a_repeated_stan_is_a_duplicate_and_is_not_charged_twice() {
    let sim = start_sim(Centre::Card).await;
    let mut client = Client::connect(&sim).await;
    let first = client.request(&purchase("000123", 1500)).await;
    assert_eq!(code_of(&first), "00");
    let again = client.request(&purchase("000123", 1500)).await;
    assert_eq!(code_of(&again), "94");
    assert_eq!(again.text(fields::STAN), Some("000123"));
    assert_eq!(sim.handle.ledger().len(), 1);
    let rrn = first.text(fields::RETRIEVAL_REFERENCE).unwrap().to_string();
    assert_eq!(sim.handle.received()[1].handling, Handling::Duplicate { rrn });
    // Even a declined first attempt makes the STAN known.
    assert_eq!(code_of(&client.request(&purchase("000124", 9051)).await), "51");
    assert_eq!(code_of(&client.request(&purchase("000124", 100)).await), "94");
    assert_eq!(sim.handle.ledger().len(), 2);
}

#[tokio::test]
async fn a_refund_is_booked_against_its_original() {
    let sim = start_sim(Centre::Card).await;
    let mut client = Client::connect(&sim).await;
    let sale = client.request(&purchase("000123", 1500)).await;
    let original_rrn = sale.text(fields::RETRIEVAL_REFERENCE).unwrap().to_string();
    let refund = client.request(&card_refund("000131", 1500, &original_rrn)).await;
    assert_eq!(code_of(&refund), "00");
    assert_eq!(refund.text(fields::PROCESSING_CODE), Some(fields::PROCESSING_REFUND));
    assert!(!refund.has(fields::AUTHORIZATION_CODE));
    let entry = &sim.handle.ledger()[1];
    assert_eq!(entry.kind, EntryKind::Refund);
    assert_eq!(entry.state, EntryState::Approved);
    assert_eq!(entry.original_rrn.as_deref(), Some(original_rrn.as_str()));
    // Magic amounts decide purchases only: a refund is approved whatever its amount.
    assert_eq!(code_of(&client.request(&card_refund("000133", 9051, &original_rrn)).await), "00");
    // A refund without its original's RRN is a format error and is not booked.
    let bare = financial("000132", 100, fields::PROCESSING_REFUND, "BR=VISA").with(fields::PAN, PAN_VISA);
    assert_eq!(code_of(&client.request(&bare).await), "30");
    assert_eq!(sim.handle.ledger().len(), 3);
}

#[tokio::test]
async fn requests_the_centre_cannot_take_are_refused_unbooked() {
    let card = start_sim(Centre::Card).await;
    let mut client = Client::connect(&card).await;
    // An e-money brand at the card acquirer, and a QR brand: not honoured.
    assert_eq!(code_of(&client.request(&emoney_purchase("000001", 470, "WAON", "6900****0001")).await), "05");
    assert_eq!(code_of(&client.request(&card_purchase("000002", 470, "PAYPAY", PAN_VISA)).await), "05");
    // No card number: invalid card.
    let mut no_card = purchase("000003", 470);
    no_card.remove(fields::PAN);
    assert_eq!(code_of(&client.request(&no_card).await), "14");
    // Not a card number: invalid card, and the refusal does not repeat it.
    assert_eq!(code_of(&client.request(&card_purchase("000004", 470, "VISA", "41111111")).await), "14");
    // Missing merchant id, unknown processing code, foreign currency: format errors.
    let mut no_merchant = purchase("000005", 470);
    no_merchant.remove(fields::MERCHANT_ID);
    assert_eq!(code_of(&client.request(&no_merchant).await), "30");
    assert_eq!(code_of(&client.request(&purchase("000006", 470).with(fields::PROCESSING_CODE, "010000")).await), "30");
    assert_eq!(code_of(&client.request(&purchase("000007", 470).with(fields::CURRENCY, "840")).await), "30");
    // Ids go into the settlement file as they are: letters and digits only.
    assert_eq!(code_of(&client.request(&purchase("000008", 470).with(fields::TERMINAL_ID, "T001,001")).await), "30");
    assert!(card.handle.ledger().is_empty());
    assert!(card.handle.received().iter().all(|r| matches!(r.handling, Handling::Rejected { .. })));

    let emoney = start_sim(Centre::Emoney).await;
    let mut client = Client::connect(&emoney).await;
    assert_eq!(code_of(&client.request(&purchase("000001", 470)).await), "05");
    assert_eq!(code_of(&client.request(&financial("000002", 470, fields::PROCESSING_PURCHASE, "BR=WAON")).await), "30");
    assert!(emoney.handle.ledger().is_empty());
}

#[tokio::test]
async fn network_management_is_answered_with_field_70_echoed() {
    let sim = start_sim(Centre::Card).await;
    let mut client = Client::connect(&sim).await;
    for (stan, code) in
        [("000001", fields::NETWORK_SIGN_ON), ("000002", fields::NETWORK_ECHO), ("000003", fields::NETWORK_SIGN_OFF)]
    {
        let answer = client.request(&network(stan, code)).await;
        assert_eq!(answer.mti, Mti::NETWORK_RESPONSE);
        assert_eq!(code_of(&answer), "00");
        assert_eq!(answer.text(fields::NETWORK_MANAGEMENT_CODE), Some(code));
        assert_eq!(answer.text(fields::STAN), Some(stan));
    }
    assert_eq!(code_of(&client.request(&network("000004", "999")).await), "30");
    let received = sim.handle.received();
    assert_eq!(received.len(), 4);
    assert_eq!(received[0].mti, Mti::NETWORK_REQUEST);
    assert_eq!(received[0].stan.as_deref(), Some("000001"));
    assert!(sim.handle.ledger().is_empty());
}

#[tokio::test]
async fn requests_on_one_connection_are_answered_as_each_is_ready() {
    let sim = start_sim(Centre::Card).await;
    sim.handle.set_faults(vec![FaultPlan::times(Fault::Delay { ms: 300 }, MessageKind::Purchase, 1)]);
    let mut client = Client::connect(&sim).await;
    client.send(&purchase("000001", 100)).await;
    client.send(&purchase("000002", 200)).await;
    let first = client.answer().await;
    let second = client.answer().await;
    assert_eq!(first.text(fields::STAN), Some("000002"), "the undelayed answer comes first");
    assert_eq!(second.text(fields::STAN), Some("000001"));
    assert_eq!(code_of(&first), "00");
    assert_eq!(code_of(&second), "00");
}

#[tokio::test]
async fn the_received_log_records_mti_stan_terminal_and_processing_code() {
    let sim = start_sim(Centre::Card).await;
    let mut client = Client::connect(&sim).await;
    sim.clock.set(jst(24, 10, 15, 2));
    client.request(&purchase("000123", 1500)).await;
    let received = &sim.handle.received()[0];
    assert_eq!(received.mti, Mti::FINANCIAL_REQUEST);
    assert_eq!(received.stan.as_deref(), Some("000123"));
    assert_eq!(received.terminal_id.as_deref(), Some(TERMINAL));
    assert_eq!(received.processing_code.as_deref(), Some("000000"));
    assert_eq!(received.at.to_rfc3339(), "2026-11-24T10:15:02+09:00");
    assert_eq!(received.fault, None);
    assert!(matches!(&received.handling, Handling::Booked { response_code: ResponseCode::Approved, .. }));
}
