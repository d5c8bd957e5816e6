//! The terminal after every ending (PROTOCOLS.md §3, "state after an ending"): an ECR speaking
//! raw APDUs, as an independent ECR library does, aborts during the card wait (in answer to an
//! intermediate status, between two of them, and crossing the next one), or meets a host timeout
//! or a declined card, and then at once asks for a status enquiry, an end of day and an
//! authorization: each is answered exactly as the protocol says, with nothing before or after it.
//! Over a pseudo-terminal pair (serial framing) and over TCP.

use std::time::Duration;

use device_drivers::terminal_sim::host::result_code;
use device_drivers::terminal_sim::REFUSED_NOT_POSSIBLE;
use device_drivers::zvt::apdu::Apdu;
use device_drivers::zvt::commands::fields::{Password, ResultCode};
use device_drivers::zvt::commands::{
    Acknowledgement, Authorization, ControlField, EcrCommand, EndOfDay, StatusEnquiry, TerminalAbort,
};
use device_drivers::zvt::ecr::Outcome;
use device_drivers::zvt::transport::ZvtLink;
use pos_core::{Brand, Yen};

use crate::terminal_rig::{Rig, Setup, Transport, COMMAND_DEADLINE};

/// How long the raw ECR waits for the terminal's next message.
const MESSAGE_WAIT: Duration = Duration::from_secs(6);
/// After a dialogue's end, the terminal must stay quiet at least this long.
const QUIET: Duration = Duration::from_millis(400);

fn ack() -> Apdu {
    Acknowledgement::Positive.to_apdu()
}

fn command(command: EcrCommand) -> Apdu {
    command.to_apdu().unwrap()
}

fn password() -> Password {
    Password::new(123_456).unwrap()
}

fn authorization(amount: i64) -> Apdu {
    command(EcrCommand::Authorization(Authorization::new(Yen::new(amount).unwrap())))
}

fn status_enquiry() -> Apdu {
    command(EcrCommand::StatusEnquiry(StatusEnquiry { password: password() }))
}

fn end_of_day() -> Apdu {
    command(EcrCommand::EndOfDay(EndOfDay { password: password() }))
}

async fn next(link: &mut ZvtLink) -> Apdu {
    link.receive(MESSAGE_WAIT).await.expect("the terminal's next message within the bound")
}

/// Nothing more comes from the terminal.
async fn assert_quiet(link: &mut ZvtLink, after: &str) {
    if let Ok(extra) = link.receive(QUIET).await {
        panic!("after {after} the terminal sent {} more: {extra:?}", ControlField::of(&extra));
    }
}

/// Sends a command and follows its dialogue as an ECR does: `80 00 00` first, then every message
/// answered `80 00 00` until the completion or abort. Returns the messages after the
/// acknowledgement; checks that nothing follows the end.
async fn dialogue(link: &mut ZvtLink, apdu: &Apdu) -> Vec<Apdu> {
    link.send(apdu).await.unwrap();
    let first = next(link).await;
    assert_eq!(first, ack(), "{} is acknowledged first", ControlField::of(apdu));
    let mut messages = Vec::new();
    loop {
        let message = next(link).await;
        let control = ControlField::of(&message);
        link.send(&ack()).await.unwrap();
        messages.push(message);
        if control == ControlField::COMPLETION || control == ControlField::ABORT {
            break;
        }
    }
    assert_quiet(link, &format!("the end of {}", ControlField::of(apdu))).await;
    messages
}

fn controls(messages: &[Apdu]) -> Vec<ControlField> {
    messages.iter().map(ControlField::of).collect()
}

fn abort_code(message: &Apdu) -> ResultCode {
    assert_eq!(ControlField::of(message), ControlField::ABORT, "{message:?}");
    TerminalAbort::decode(message).unwrap().result_code
}

/// A status enquiry, an end of day and an authorization right after an ending, each answered in
/// full and nothing else.
async fn the_terminal_is_idle(link: &mut ZvtLink, amount: i64) {
    let enquiry = dialogue(link, &status_enquiry()).await;
    assert_eq!(controls(&enquiry), [ControlField::COMPLETION], "status enquiry: only its completion");

    let day = dialogue(link, &end_of_day()).await;
    assert_eq!(day.first().map(ControlField::of), Some(ControlField::STATUS_INFORMATION), "{day:?}");
    assert_eq!(day.last().map(ControlField::of), Some(ControlField::COMPLETION));
    assert!(day[1..day.len() - 1].iter().all(|m| ControlField::of(m) == ControlField::PRINT_LINE));

    let paid = dialogue(link, &authorization(amount)).await;
    assert_eq!(paid.last().map(ControlField::of), Some(ControlField::COMPLETION), "approved: {paid:?}");
    assert!(paid.iter().any(|m| ControlField::of(m) == ControlField::STATUS_INFORMATION));
}

/// How the raw ECR aborts the payment while the terminal waits for the card.
#[derive(Debug, Clone, Copy)]
enum AbortWay {
    /// `06 B0` instead of `80 00 00` to an intermediate status.
    InsteadOfTheAnswer,
    /// `80 00 00` to the intermediate status, then `06 B0` while the terminal waits.
    BetweenStatuses,
    /// `80 00 00`, then `06 B0` after `delay_ms`, around when the next `04 FF` comes, so the two
    /// may cross; whatever `04 FF` comes after it is answered `80 00 00`, as an independent ECR
    /// library does.
    Crossing { delay_ms: u64 },
}

fn payment_setup(transport: Transport) -> Setup {
    let mut setup = Setup::card(Brand::Visa, "00");
    setup.transport = transport;
    // Long enough that the abort comes first, short enough for the authorization after it.
    setup.card_presentation_ms = 1_500;
    setup
}

async fn abort_during_the_card_wait(link: &mut ZvtLink, way: AbortWay) {
    link.send(&authorization(470)).await.unwrap();
    assert_eq!(next(link).await, ack());
    let status = next(link).await;
    assert_eq!(ControlField::of(&status), ControlField::INTERMEDIATE_STATUS);
    let abort = command(EcrCommand::Abort);
    match way {
        AbortWay::InsteadOfTheAnswer => link.send(&abort).await.unwrap(),
        AbortWay::BetweenStatuses => {
            link.send(&ack()).await.unwrap();
            link.send(&abort).await.unwrap();
        }
        AbortWay::Crossing { delay_ms } => {
            link.send(&ack()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            link.send(&abort).await.unwrap();
        }
    }
    let ending = loop {
        let message = next(link).await;
        match ControlField::of(&message) {
            ControlField::INTERMEDIATE_STATUS => link.send(&ack()).await.unwrap(),
            _ => break message,
        }
    };
    assert_eq!(abort_code(&ending), result_code::ABORTED, "{way:?}");
    link.send(&ack()).await.unwrap();
    assert_quiet(link, "the abort").await;
}

async fn abort_then_idle(transport: Transport, way: AbortWay) {
    let mut rig = Rig::start(payment_setup(transport)).await;
    abort_during_the_card_wait(rig.driver.link_mut(), way).await;
    assert!(rig.host.as_ref().expect("host").requests().is_empty(), "the aborted payment never reached the host");
    the_terminal_is_idle(rig.driver.link_mut(), 1_610).await;
    assert_eq!(rig.host.as_ref().expect("host").requests().len(), 1, "only the second authorization went out");
    rig.stop().await;
}

#[tokio::test]
async fn after_an_abort_instead_of_the_answer_the_terminal_is_idle_on_serial() {
    abort_then_idle(Transport::Serial, AbortWay::InsteadOfTheAnswer).await;
}

#[tokio::test]
async fn after_an_abort_instead_of_the_answer_the_terminal_is_idle_on_tcp() {
    abort_then_idle(Transport::Tcp, AbortWay::InsteadOfTheAnswer).await;
}

#[tokio::test]
async fn after_an_abort_between_statuses_the_terminal_is_idle_on_serial() {
    abort_then_idle(Transport::Serial, AbortWay::BetweenStatuses).await;
}

#[tokio::test]
async fn after_an_abort_between_statuses_the_terminal_is_idle_on_tcp() {
    abort_then_idle(Transport::Tcp, AbortWay::BetweenStatuses).await;
}

/// The rig's terminal repeats its intermediate status every 100 ms: aborts around that moment
/// cross it one way or the other.
#[tokio::test]
async fn after_an_abort_crossing_the_next_status_the_terminal_is_idle_on_tcp() {
    for delay_ms in [60, 90, 100, 110, 140] {
        abort_then_idle(Transport::Tcp, AbortWay::Crossing { delay_ms }).await;
    }
}

#[tokio::test]
async fn after_an_abort_crossing_the_next_status_the_terminal_is_idle_on_serial() {
    for delay_ms in [60, 90, 100, 110, 140] {
        abort_then_idle(Transport::Serial, AbortWay::Crossing { delay_ms }).await;
    }
}

async fn host_timeout_then_idle(transport: Transport) {
    let mut setup = payment_setup(transport);
    setup.card_presentation_ms = 50;
    setup.host_unanswered = 1;
    let mut rig = Rig::start(setup).await;
    let messages = dialogue(rig.driver.link_mut(), &authorization(470)).await;
    let ending = messages.last().expect("an ending");
    assert_eq!(abort_code(ending), result_code::HOST_NOT_RESPONDING, "{messages:?}");
    the_terminal_is_idle(rig.driver.link_mut(), 470).await;
    rig.stop().await;
}

#[tokio::test]
async fn after_a_host_timeout_the_terminal_is_idle_on_serial() {
    host_timeout_then_idle(Transport::Serial).await;
}

#[tokio::test]
async fn after_a_host_timeout_the_terminal_is_idle_on_tcp() {
    host_timeout_then_idle(Transport::Tcp).await;
}

async fn decline_then_idle(transport: Transport) {
    let mut setup = Setup::card(Brand::Jcb, "51");
    setup.transport = transport;
    let mut rig = Rig::start(setup).await;
    let link = rig.driver.link_mut();
    let declined = dialogue(link, &authorization(470)).await;
    // Response code 51 (decimal) comes back as result code 0x33.
    assert_eq!(abort_code(declined.last().expect("an ending")), ResultCode(0x33));
    let enquiry = dialogue(link, &status_enquiry()).await;
    assert_eq!(controls(&enquiry), [ControlField::COMPLETION]);
    let day = dialogue(link, &end_of_day()).await;
    assert_eq!(day.last().map(ControlField::of), Some(ControlField::COMPLETION));
    let again = dialogue(link, &authorization(300)).await;
    assert_eq!(abort_code(again.last().expect("an ending")), ResultCode(0x33), "declined again, in full");
    rig.stop().await;
}

#[tokio::test]
async fn after_a_declined_card_the_terminal_is_idle_on_serial() {
    decline_then_idle(Transport::Serial).await;
}

#[tokio::test]
async fn after_a_declined_card_the_terminal_is_idle_on_tcp() {
    decline_then_idle(Transport::Tcp).await;
}

/// A command the terminal cannot take now gets `84 xx 00` and nothing after it; the payment it
/// is busy with goes on.
#[tokio::test]
async fn a_command_while_busy_is_refused_and_nothing_follows() {
    for transport in [Transport::Serial, Transport::Tcp] {
        let mut setup = payment_setup(transport);
        setup.card_presentation_ms = 600;
        let mut rig = Rig::start(setup).await;
        let link = rig.driver.link_mut();
        link.send(&authorization(470)).await.unwrap();
        assert_eq!(next(link).await, ack());
        assert_eq!(ControlField::of(&next(link).await), ControlField::INTERMEDIATE_STATUS);
        // Instead of answering the status, the ECR asks for something else.
        link.send(&status_enquiry()).await.unwrap();
        let refusal = next(link).await;
        assert_eq!(refusal, Acknowledgement::Negative { code: REFUSED_NOT_POSSIBLE }.to_apdu());
        link.send(&ack()).await.unwrap();
        let mut rest = Vec::new();
        loop {
            let message = next(link).await;
            let control = ControlField::of(&message);
            link.send(&ack()).await.unwrap();
            rest.push(control);
            if control == ControlField::COMPLETION || control == ControlField::ABORT {
                break;
            }
        }
        assert_eq!(rest.last(), Some(&ControlField::COMPLETION), "the payment went on and was approved: {rest:?}");
        assert!(!rest.contains(&ControlField::new(0x80, 0x00)), "no acknowledgement for the refused command");
        assert_quiet(link, "the payment").await;
        the_terminal_is_idle(link, 300).await;
        rig.stop().await;
    }
}

/// The same with the project's own ECR driver: abort, then status, end of day and payment.
#[tokio::test]
async fn the_ecr_driver_aborts_and_goes_on() {
    for transport in [Transport::Serial, Transport::Tcp] {
        let mut rig = Rig::start(payment_setup(transport)).await;
        let abort = rig.driver.abort_handle();
        let mut events = rig.events.resubscribe();
        let (outcome, _) = tokio::join!(rig.driver.authorization(Yen::new(470).unwrap(), COMMAND_DEADLINE), async {
            crate::terminal_rig::wait_for_event(&mut events, |event| {
                *event == device_drivers::terminal_sim::SimulatorEvent::AwaitingCard
            })
            .await;
            abort.request();
        });
        assert_eq!(outcome.unwrap().result_code(), Some(result_code::ABORTED));
        let enquiry = rig.driver.status_enquiry(COMMAND_DEADLINE).await.unwrap();
        assert!(enquiry.report().status_enquiry.as_ref().is_some_and(|answer| answer.is_ready()), "{enquiry:?}");
        let day = rig.driver.end_of_day(COMMAND_DEADLINE).await.unwrap();
        assert!(matches!(day, Outcome::Completed(_)), "{day:?}");
        let paid = rig.driver.authorization(Yen::new(300).unwrap(), COMMAND_DEADLINE).await.unwrap();
        assert!(paid.is_approved(), "{paid:?}");
        rig.stop().await;
    }
}
