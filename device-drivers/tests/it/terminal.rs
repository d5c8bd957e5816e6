//! The ECR driver against the terminal simulator over pseudo-terminal pairs (and TCP), with the
//! terminal host played by a small ISO 8583/TLS responder.

use std::time::{Duration, Instant};

use device_drivers::terminal_sim::host::result_code;
use device_drivers::terminal_sim::{CardSource, Fault, SimulatorEvent};
use device_drivers::zvt::apdu::Apdu;
use device_drivers::zvt::commands::fields::{CurrencyCode, ReceiptNumber, ResultCode, TraceNumber};
use device_drivers::zvt::commands::{Authorization, StatusInformation};
use device_drivers::zvt::ecr::Outcome;
use device_drivers::zvt::tlv::TlvContainer;
use device_drivers::zvt::transport::fd::pty_pair;
use device_drivers::zvt::transport::{LinkFault, LinkRole, ZvtLink, ACK_TIMEOUT_MS};
use iso8583::fields;
use pos_core::api::TotalsSlot;
use pos_core::{Brand, Yen};

use crate::terminal_rig::{Rig, Setup, Transport, COMMAND_DEADLINE, SILENCE_TIMEOUT_MS, TERMINAL_ID};

fn yen(amount: i64) -> Yen {
    Yen::new(amount).unwrap()
}

const FULL_TEST_PAN: &str = "4111111111111111";

#[tokio::test]
async fn registration_completes() {
    let mut rig = Rig::start(Setup::without_host()).await;
    let outcome = rig.driver.registration(COMMAND_DEADLINE).await.unwrap();
    assert!(matches!(outcome, Outcome::Completed(_)), "{outcome:?}");
    let completion = outcome.report().completion.clone().expect("completion");
    assert_eq!(completion.terminal_id.map(|id| id.get()), Some(TERMINAL_ID));
    assert_eq!(completion.currency, Some(CurrencyCode::JPY));
    assert!(matches!(rig.driver.log_off(COMMAND_DEADLINE).await.unwrap(), Outcome::Completed(_)));
    assert!(matches!(rig.driver.abort(COMMAND_DEADLINE).await.unwrap(), Outcome::Completed(_)));
    rig.stop().await;
}

#[tokio::test]
async fn card_authorization_is_approved_by_the_host() {
    let mut rig = Rig::start(Setup::card(Brand::Visa, "00")).await;
    let outcome = rig.driver.authorization(yen(470), COMMAND_DEADLINE).await.unwrap();
    assert!(outcome.is_approved(), "{outcome:?}");
    let report = outcome.report();
    let status = report.status().expect("status information");
    assert_eq!(status.amount, Some(yen(470)));
    assert_eq!(status.trace_number.map(TraceNumber::get), Some(1));
    assert_eq!(status.receipt_number.map(ReceiptNumber::get), Some(1));
    assert_eq!(status.terminal_id.map(|id| id.get()), Some(TERMINAL_ID));
    assert_eq!(status.pan.as_ref().map(|pan| pan.as_str()), Some("411111******1111"));
    assert_eq!(status.result_code, Some(ResultCode::SUCCESS));
    assert_eq!(status.approval_code().as_deref(), Some("A1B2C3"));
    assert_eq!(report.brand(), Some(Brand::Visa));
    assert!(!report.intermediate_statuses.is_empty(), "the terminal showed its status while waiting");
    assert!(report.receipt_lines().iter().any(|line| line == "APPROVED"), "{:?}", report.receipt_lines());

    let requests = rig.host.as_ref().expect("host").requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.text(fields::PROCESSING_CODE), Some(fields::PROCESSING_PURCHASE));
    assert_eq!(request.text(fields::AMOUNT), Some("000000000470"));
    assert_eq!(request.text(fields::STAN), Some("000001"), "field 11 is the terminal's trace number");
    assert_eq!(request.text(fields::TERMINAL_ID), Some("10010001"));
    assert_eq!(request.text(fields::CURRENCY), Some("392"));
    assert_eq!(request.text(fields::BRAND_DATA), Some("BR=VISA"));
    assert_eq!(request.text(fields::PAN), Some(FULL_TEST_PAN));
    assert!(request.has(fields::TRACK_2) && request.has(fields::ICC_DATA));
    rig.stop().await;
}

#[tokio::test]
async fn emoney_authorization_sends_the_masked_card_id() {
    let mut rig = Rig::start(Setup::card(Brand::Nanaco, "00")).await;
    let outcome = rig.driver.authorization(yen(600), COMMAND_DEADLINE).await.unwrap();
    assert!(outcome.is_approved(), "{outcome:?}");
    assert_eq!(outcome.report().brand(), Some(Brand::Nanaco));
    assert_eq!(outcome.report().status().and_then(|status| status.pan.clone()), None);
    let request = rig.host.as_ref().expect("host").requests().remove(0);
    assert_eq!(request.text(fields::BRAND_DATA), Some("BR=NANACO;ID=JE80****0001"));
    assert!(!request.has(fields::PAN));
    rig.stop().await;
}

#[tokio::test]
async fn a_decline_is_an_abort_with_the_hosts_code() {
    let mut rig = Rig::start(Setup::card(Brand::Jcb, "51")).await;
    let outcome = rig.driver.authorization(yen(470), COMMAND_DEADLINE).await.unwrap();
    // Response code 51 (decimal) is passed on as ZVT result code 0x33.
    assert_eq!(outcome.result_code(), Some(ResultCode(0x33)), "{outcome:?}");
    assert!(matches!(outcome, Outcome::Aborted { .. }));
    assert!(!outcome.is_approved());
    rig.stop().await;
}

#[tokio::test]
async fn the_customer_cancels() {
    let mut rig = Rig::start(Setup::card(Brand::Visa, "00")).await;
    rig.faults.arm(Fault::CustomerCancels);
    let outcome = rig.driver.authorization(yen(470), COMMAND_DEADLINE).await.unwrap();
    assert_eq!(outcome.result_code(), Some(result_code::ABORTED), "{outcome:?}");
    assert!(rig.host.as_ref().expect("host").requests().is_empty(), "nothing went to the host");
    rig.stop().await;
}

#[tokio::test]
async fn card_removed_and_host_unreachable_are_aborts() {
    let mut rig = Rig::start(Setup::card(Brand::Visa, "00")).await;
    rig.faults.arm(Fault::CardRemoved);
    let outcome = rig.driver.authorization(yen(470), COMMAND_DEADLINE).await.unwrap();
    assert_eq!(outcome.result_code(), Some(result_code::CARD_NOT_READABLE), "{outcome:?}");
    rig.faults.arm(Fault::HostUnreachable);
    let outcome = rig.driver.authorization(yen(470), COMMAND_DEADLINE).await.unwrap();
    assert_eq!(outcome.result_code(), Some(result_code::NO_HOST_CONNECTION), "{outcome:?}");
    assert!(rig.host.as_ref().expect("host").requests().is_empty());
    rig.stop().await;
}

#[tokio::test]
async fn the_register_aborts_while_the_terminal_waits_for_the_card() {
    let mut setup = Setup::card(Brand::Visa, "00");
    // The card would come only after 20 s: the abort must end the dialogue long before.
    setup.card_presentation_ms = 20_000;
    let mut rig = Rig::start(setup).await;
    let abort = rig.driver.abort_handle();
    let started = Instant::now();
    let mut events = rig.events.resubscribe();
    let (outcome, _) = tokio::join!(rig.driver.authorization(yen(470), COMMAND_DEADLINE), async {
        crate::terminal_rig::wait_for_event(&mut events, |event| *event == SimulatorEvent::AwaitingCard).await;
        abort.request();
    });
    let outcome = outcome.unwrap();
    assert_eq!(outcome.result_code(), Some(result_code::ABORTED), "{outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(rig.host.as_ref().expect("host").requests().is_empty());
    rig.stop().await;
}

#[tokio::test]
async fn a_foreign_currency_is_refused_with_6f() {
    let mut rig = Rig::start(Setup::card(Brand::Visa, "00")).await;
    let euro = Authorization { amount: yen(470), currency: Some(CurrencyCode::EUR), tlv: None };
    let outcome = rig.driver.authorization_with(euro, COMMAND_DEADLINE).await.unwrap();
    assert_eq!(outcome.result_code(), Some(ResultCode::WRONG_CURRENCY), "{outcome:?}");
    // BMP 49 with JPY and an empty TLV container are accepted.
    let yen_explicit =
        Authorization { amount: yen(470), currency: Some(CurrencyCode::JPY), tlv: Some(TlvContainer::empty()) };
    assert!(rig.driver.authorization_with(yen_explicit, COMMAND_DEADLINE).await.unwrap().is_approved());
    rig.stop().await;
}

#[tokio::test]
async fn end_of_day_reports_zvt_individual_totals_and_starts_afresh() {
    let mut setup = Setup::card(Brand::Visa, "00");
    setup.cards = CardSource::scripted(vec![Brand::Visa, Brand::Jcb, Brand::Visa, Brand::Nanaco, Brand::Visa]).unwrap();
    let mut rig = Rig::start(setup).await;
    let mut receipts = Vec::new();
    for amount in [470, 300, 1_610, 600, 900] {
        let paid = rig.driver.authorization(yen(amount), COMMAND_DEADLINE).await.unwrap();
        assert!(paid.is_approved(), "{paid:?}");
        receipts.push(paid.report().receipt_number().expect("receipt number"));
    }
    // The last VISA payment is reversed on the terminal: it leaves the totals.
    assert!(rig.driver.reversal(receipts[4], COMMAND_DEADLINE).await.unwrap().is_approved());
    let outcome = rig.driver.end_of_day(COMMAND_DEADLINE).await.unwrap();
    assert!(matches!(outcome, Outcome::Completed(_)), "{outcome:?}");
    let totals = outcome.report().totals().expect("BMP 60").expect("ZVT individual totals");
    assert_eq!(totals.receipt_first.get(), 1);
    assert_eq!(totals.receipt_last.get(), 6, "five payments and the reversal");
    let slot = |slot| {
        let total = totals.slot(slot);
        (total.count, total.turnover.get())
    };
    assert_eq!(slot(TotalsSlot::Visa), (2, 2_080));
    assert_eq!(slot(TotalsSlot::Jcb), (1, 300));
    assert_eq!(slot(TotalsSlot::Other), (1, 600), "nanaco has no slot of its own");
    assert_eq!(slot(TotalsSlot::Mastercard), (0, 0));
    assert_eq!(outcome.report().amount(), Some(yen(2_980)), "BMP 04 is the sum of the turnovers");
    // The print lines stay, with the detail per brand.
    let lines = outcome.report().receipt_lines();
    assert!(lines.iter().any(|line| line == "NANACO 1 x JPY 600"), "{lines:?}");
    assert!(lines.iter().any(|line| line == "VISA 2 x JPY 2080"), "{lines:?}");
    assert!(lines.iter().any(|line| line == "TOTAL JPY 2980"), "{lines:?}");

    let again = rig.driver.end_of_day(COMMAND_DEADLINE).await.unwrap();
    let empty = again.report().totals().expect("BMP 60").expect("totals");
    assert_eq!(empty.turnover_total().unwrap(), Yen::ZERO);
    assert_eq!((empty.receipt_first.get(), empty.receipt_last.get()), (0, 0));
    // A closed period's payment can no longer be reversed.
    let late = rig.driver.reversal(receipts[0], COMMAND_DEADLINE).await.unwrap();
    assert_eq!(late.result_code(), Some(result_code::REVERSAL_NOT_POSSIBLE));
    rig.stop().await;
}

#[tokio::test]
async fn status_enquiry_reports_version_and_ready() {
    let mut rig = Rig::start(Setup::without_host()).await;
    let outcome = rig.driver.status_enquiry(COMMAND_DEADLINE).await.unwrap();
    let answer = outcome.report().status_enquiry.clone().expect("status enquiry completion");
    assert!(answer.is_ready());
    assert_eq!(answer.software_version, device_drivers::terminal_sim::SOFTWARE_VERSION);
    rig.stop().await;
}

#[tokio::test]
async fn reversal_by_receipt_number_and_counters_survive_a_restart() {
    let mut rig = Rig::start(Setup::card(Brand::Visa, "00")).await;
    let paid = rig.driver.authorization(yen(470), COMMAND_DEADLINE).await.unwrap();
    let receipt = paid.report().receipt_number().expect("receipt number");
    let state_file = rig.state_file.clone();
    let (_, directory) = rig.stop().await;

    // The terminal restarts on the same state file: counters go on, the payment is remembered.
    let mut setup = Setup::card(Brand::Visa, "00");
    setup.state_file = Some(state_file);
    let mut rig = Rig::start(setup).await;
    let reversed = rig.driver.reversal(receipt, COMMAND_DEADLINE).await.unwrap();
    assert!(reversed.is_approved(), "{reversed:?}");
    let status = reversed.report().status().expect("status information");
    assert_eq!(status.original_trace_number.map(TraceNumber::get), Some(1));
    assert_eq!(status.trace_number.map(TraceNumber::get), Some(2));
    assert_eq!(status.receipt_number.map(ReceiptNumber::get), Some(2));
    assert_eq!(status.amount, Some(yen(470)));
    let twice = rig.driver.reversal(receipt, COMMAND_DEADLINE).await.unwrap();
    assert_eq!(twice.result_code(), Some(result_code::REVERSAL_NOT_POSSIBLE));
    let refund = rig.driver.refund(yen(100), COMMAND_DEADLINE).await.unwrap();
    assert!(refund.is_approved(), "{refund:?}");
    let request = rig.host.as_ref().expect("host").requests().remove(0);
    assert_eq!(request.text(fields::PROCESSING_CODE), Some(fields::PROCESSING_REFUND));
    assert_eq!(request.text(fields::STAN), Some("000003"));
    rig.stop().await;
    drop(directory);
}

#[tokio::test]
async fn a_bad_crc_frame_is_naked_and_resent_and_the_payment_completes() {
    let mut rig = Rig::start(Setup::card(Brand::Visa, "00")).await;
    rig.faults.arm(Fault::BadCrcOnce);
    let outcome = rig.driver.authorization(yen(470), COMMAND_DEADLINE).await.unwrap();
    assert!(outcome.is_approved(), "{outcome:?}");
    rig.stop().await;
}

#[tokio::test]
async fn a_dropped_ack_leads_to_a_resend() {
    // Armed before the simulator serves, so the very first frame (the registration) loses its ACK.
    let mut setup = Setup::without_host();
    setup.faults = vec![Fault::DropAckOnce];
    let mut rig = Rig::start(setup).await;
    let mut events = rig.events.resubscribe();
    let started = Instant::now();
    let outcome = rig.driver.registration(COMMAND_DEADLINE).await.unwrap();
    assert!(matches!(outcome, Outcome::Completed(_)), "{outcome:?}");
    let ZvtLink::Serial(link) = rig.driver.link() else { panic!("a serial link") };
    assert_eq!(link.resends(), 1, "the ECR sent the command again");
    // The terminal's 80 00 00 crossed the unacknowledged command, so the ECR sent its copy before
    // acknowledging it, well before its own ACK timeout.
    assert!(started.elapsed() < Duration::from_millis(ACK_TIMEOUT_MS));
    // The copy was acknowledged, not run a second time.
    let (simulator, _directory) = rig.stop().await;
    drop(simulator);
    let mut received = 0;
    while let Ok(event) = events.try_recv() {
        received += usize::from(matches!(event, SimulatorEvent::CommandReceived(_)));
    }
    assert_eq!(received, 1, "the terminal took the registration once");
}

#[tokio::test]
async fn power_loss_mid_transaction_is_unknown_within_the_bound() {
    let mut rig = Rig::start(Setup::card(Brand::Visa, "00")).await;
    rig.faults.arm(Fault::PowerLoss);
    let started = Instant::now();
    let outcome = rig.driver.authorization(yen(470), COMMAND_DEADLINE).await.unwrap();
    assert!(outcome.is_unknown(), "{outcome:?}");
    assert!(!outcome.is_approved());
    // The host approved: money may have moved, which is why the ECR must not call it declined.
    assert_eq!(rig.host.as_ref().expect("host").requests().len(), 1);
    assert!(started.elapsed() < Duration::from_millis(SILENCE_TIMEOUT_MS + 3_000));
    rig.wait_for(|event| *event == SimulatorEvent::PowerLost).await;
    rig.stop().await;
}

#[tokio::test]
async fn authorization_over_tcp_is_approved() {
    let mut setup = Setup::card(Brand::Mastercard, "00");
    setup.transport = Transport::Tcp;
    let mut rig = Rig::start(setup).await;
    assert!(matches!(rig.driver.registration(COMMAND_DEADLINE).await.unwrap(), Outcome::Completed(_)));
    let outcome = rig.driver.authorization(yen(1_610), COMMAND_DEADLINE).await.unwrap();
    assert!(outcome.is_approved(), "{outcome:?}");
    assert_eq!(outcome.report().brand(), Some(Brand::Mastercard));
    assert_eq!(
        outcome.report().status().and_then(|s| s.pan.clone()).map(|p| p.as_str().to_string()).as_deref(),
        Some("555555******4444")
    );
    rig.stop().await;
}

#[tokio::test]
async fn status_information_never_carries_a_full_pan() {
    let mut rig = Rig::start(Setup::card(Brand::Visa, "00")).await;
    let outcome = rig.driver.authorization(yen(470), COMMAND_DEADLINE).await.unwrap();
    assert!(outcome.is_approved());
    let shown = format!("{outcome:?}");
    assert!(!shown.contains(FULL_TEST_PAN), "the outcome shows no full card number");
    assert!(shown.contains("411111******1111"));
    rig.stop().await;

    // Even a terminal that breaks the contract and sends every digit is masked by the decoder.
    let full = Apdu::new(0x04, 0x0F, vec![0x22, 0xF0, 0xF8, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11]).unwrap();
    let status = StatusInformation::decode(&full).unwrap();
    assert!(status.pan_masked_by_decoder);
    assert_eq!(status.pan.as_ref().map(|pan| pan.as_str()), Some("411111******1111"));
    assert!(!format!("{status:?}").contains(FULL_TEST_PAN));
}

#[tokio::test]
async fn serial_link_resends_after_a_nak_and_after_a_lost_ack() {
    let (left, right) = pty_pair().unwrap();
    let (mut sender, mut receiver) = (ZvtLink::serial(left, LinkRole::Ecr), ZvtLink::serial(right, LinkRole::Terminal));
    let apdu = Apdu::new(0x06, 0x01, vec![0x04, 0x00, 0x00, 0x00, 0x00, 0x16, 0x10]).unwrap();
    sender.inject(LinkFault::BadCrcOnce);
    let (sent, received) = tokio::join!(sender.send(&apdu), receiver.receive(Duration::from_secs(5)));
    sent.unwrap();
    assert_eq!(received.unwrap(), apdu);
    // The receiver's ACK is lost: the sender resends, and the copy is acknowledged, not taken twice.
    let next = Apdu::new(0x06, 0x01, vec![0x04, 0x00, 0x00, 0x00, 0x00, 0x04, 0x70]).unwrap();
    receiver.inject(LinkFault::DropAckOnce);
    let (sent, received) = tokio::join!(sender.send(&next), receiver.receive(Duration::from_secs(5)));
    sent.unwrap();
    assert_eq!(received.unwrap(), next);
    let nothing_more = receiver.receive(Duration::from_millis(2 * ACK_TIMEOUT_MS)).await;
    assert!(nothing_more.is_err(), "the copy was taken a second time: {nothing_more:?}");
    let ZvtLink::Serial(link) = &sender else { panic!("serial") };
    assert_eq!(link.resends(), 2);
    let ZvtLink::Serial(link) = &receiver else { panic!("serial") };
    assert_eq!(link.copies_dropped(), 1);
}

#[tokio::test]
async fn serial_link_gives_up_after_three_tries() {
    let (left, _right) = pty_pair().unwrap();
    let mut sender = ZvtLink::serial(left, LinkRole::Ecr);
    let started = Instant::now();
    let error = sender.send(&Apdu::empty(0x80, 0x00)).await.unwrap_err();
    assert!(error.to_string().contains("after 3 tries"), "{error}");
    assert!(started.elapsed() >= Duration::from_millis(3 * ACK_TIMEOUT_MS));
    assert!(started.elapsed() < Duration::from_millis(3 * ACK_TIMEOUT_MS + 2_000));
}
