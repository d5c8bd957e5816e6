//! Frames crossing on the serial line, byte for byte (PROTOCOLS.md §3): a peer that sends its own
//! frame instead of acknowledging ours — the independent ECR library whose `06 B0` crossed the
//! terminal's `04 FF`, and a terminal that repeats its status without waiting — against the
//! terminal simulator and against the ECR driver, over a pseudo-terminal pair. The side under test
//! acknowledges the crossing frame within 1 s, takes it, and sends its own unacknowledged frame
//! again.

use std::collections::VecDeque;
use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use device_drivers::terminal_sim::host::result_code;
use device_drivers::terminal_sim::{CardSource, SimulatorEvent, SimulatorOptions, TerminalSimulator};
use device_drivers::zvt::apdu::Apdu;
use device_drivers::zvt::commands::fields::{Password, TerminalNumber};
use device_drivers::zvt::commands::{Acknowledgement, Authorization, ControlField, EcrCommand, TerminalAbort};
use device_drivers::zvt::ecr::{EcrDriver, EcrSettings};
use device_drivers::zvt::serial::{encode_frame, FrameDecoder, FrameEvent, ACK};
use device_drivers::zvt::transport::fd::{pty_pair, FdStream};
use device_drivers::zvt::transport::{LinkRole, ZvtLink, ACK_TIMEOUT_MS};
use pos_core::{Brand, Yen};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::terminal_rig::{wait_for_event, TERMINAL_ID};

/// How long the raw peer waits for the next byte event.
const EVENT_WAIT: Duration = Duration::from_secs(5);

/// A peer speaking bytes, not the link rule: it writes frames and ACKs when the test says.
struct RawPeer {
    stream: FdStream<File>,
    decoder: FrameDecoder,
    events: VecDeque<FrameEvent>,
}

impl RawPeer {
    fn new(stream: FdStream<File>) -> RawPeer {
        RawPeer { stream, decoder: FrameDecoder::new(), events: VecDeque::new() }
    }

    async fn write_frame(&mut self, apdu: &Apdu) {
        self.stream.write_all(&encode_frame(&apdu.encode())).await.unwrap();
    }

    async fn ack(&mut self) {
        self.stream.write_all(&[ACK]).await.unwrap();
    }

    async fn next_event(&mut self) -> FrameEvent {
        let until = Instant::now() + EVENT_WAIT;
        loop {
            if let Some(event) = self.events.pop_front() {
                return event;
            }
            let mut buffer = [0u8; 256];
            let count = tokio::time::timeout_at(until, self.stream.read(&mut buffer))
                .await
                .expect("the peer under test writes within the bound")
                .unwrap();
            assert!(count > 0, "the peer under test closed the line");
            self.events.extend(self.decoder.feed(&buffer[..count]));
        }
    }

    /// The next frame, acknowledged; no `ACK`/`NAK` may come first.
    async fn frame(&mut self) -> Apdu {
        match self.next_event().await {
            FrameEvent::Frame(bytes) => {
                self.ack().await;
                Apdu::decode(&bytes).unwrap()
            }
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}

fn ack_apdu() -> Apdu {
    Acknowledgement::Positive.to_apdu()
}

/// Starts a simulator without a host on the terminal side of a pty pair; returns the ECR side.
fn terminal_on_a_pty(
    status_interval_ms: u64,
) -> (RawPeer, tokio::sync::broadcast::Receiver<SimulatorEvent>, tokio::sync::oneshot::Sender<()>, tempfile::TempDir) {
    let directory = tempfile::tempdir().unwrap();
    let mut options =
        SimulatorOptions::new(TerminalNumber::new(TERMINAL_ID).unwrap(), directory.path().join("terminal-state.json"));
    options.card_presentation_ms = 20_000;
    options.status_interval_ms = status_interval_ms;
    let mut simulator =
        TerminalSimulator::new(options, CardSource::fixed(Brand::Visa).unwrap(), None, Arc::new(pos_core::SystemClock))
            .unwrap();
    let events = simulator.subscribe();
    let (ecr_side, terminal_side) = pty_pair().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        simulator
            .serve(ZvtLink::serial(terminal_side, LinkRole::Terminal), async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (RawPeer::new(ecr_side), events, stop, directory)
}

/// The ECR's abort between two intermediate statuses, while the terminal waits for the card (and
/// its status interval is ZVT's usual 1 s): acknowledged at once, not when the terminal next
/// speaks.
#[tokio::test]
async fn the_terminal_acknowledges_an_abort_between_its_statuses_at_once() {
    let (mut ecr, mut events, stop, _directory) = terminal_on_a_pty(1_000);
    ecr.write_frame(&EcrCommand::Authorization(Authorization::new(Yen::new(470).unwrap())).to_apdu().unwrap()).await;
    assert_eq!(ecr.next_event().await, FrameEvent::Ack);
    assert_eq!(ecr.frame().await, ack_apdu());
    wait_for_event(&mut events, |event| *event == SimulatorEvent::AwaitingCard).await;
    let status = ecr.frame().await;
    assert_eq!(ControlField::of(&status), ControlField::INTERMEDIATE_STATUS);
    ecr.write_frame(&ack_apdu()).await;
    assert_eq!(ecr.next_event().await, FrameEvent::Ack);
    let sent_at = Instant::now();
    ecr.write_frame(&EcrCommand::Abort.to_apdu().unwrap()).await;
    assert_eq!(ecr.next_event().await, FrameEvent::Ack);
    // Well inside the 1 s an ECR waits, which the status interval alone would use up.
    assert!(sent_at.elapsed() < Duration::from_millis(ACK_TIMEOUT_MS / 2), "ACK after {:?}", sent_at.elapsed());
    let ending = ecr.frame().await;
    assert_eq!(TerminalAbort::decode(&ending).unwrap().result_code, result_code::ABORTED);
    assert!(sent_at.elapsed() < Duration::from_millis(ACK_TIMEOUT_MS), "the abort waited for the next status");
    ecr.write_frame(&ack_apdu()).await;
    assert_eq!(ecr.next_event().await, FrameEvent::Ack);
    let _ = stop.send(());
}

/// The independent ECR's collision, against the terminal simulator: its `06 B0` goes out while
/// the terminal's `04 FF` waits for an `ACK` that never comes first.
#[tokio::test]
async fn the_terminal_acknowledges_a_crossing_abort_and_resends_its_own_frame() {
    let (mut ecr, mut events, stop, _directory) = terminal_on_a_pty(100);
    ecr.write_frame(&EcrCommand::Authorization(Authorization::new(Yen::new(470).unwrap())).to_apdu().unwrap()).await;
    assert_eq!(ecr.next_event().await, FrameEvent::Ack);
    assert_eq!(ecr.frame().await, ack_apdu());
    wait_for_event(&mut events, |event| *event == SimulatorEvent::AwaitingCard).await;

    // The terminal's intermediate status arrives; the ECR does not acknowledge it and sends its
    // abort instead.
    let status = match ecr.next_event().await {
        FrameEvent::Frame(bytes) => Apdu::decode(&bytes).unwrap(),
        other => panic!("expected the intermediate status, got {other:?}"),
    };
    assert_eq!(ControlField::of(&status), ControlField::INTERMEDIATE_STATUS);
    let sent_at = Instant::now();
    ecr.write_frame(&EcrCommand::Abort.to_apdu().unwrap()).await;

    let mut copies = 0;
    let acknowledged_after = loop {
        match ecr.next_event().await {
            FrameEvent::Ack => break sent_at.elapsed(),
            FrameEvent::Frame(bytes) if Apdu::decode(&bytes).unwrap() == status => copies += 1,
            other => panic!("expected the ACK of the abort or the status again, got {other:?}"),
        }
    };
    assert!(acknowledged_after < Duration::from_millis(ACK_TIMEOUT_MS), "ACK after {acknowledged_after:?}");
    if copies == 0 {
        // Not sent again before the ACK: it must come after it, since it was never acknowledged.
        match ecr.next_event().await {
            FrameEvent::Frame(bytes) => assert_eq!(Apdu::decode(&bytes).unwrap(), status),
            other => panic!("expected the status again, got {other:?}"),
        }
    }
    // Now the ECR acknowledges the status; the terminal takes the abort as its answer.
    ecr.ack().await;
    let ending = ecr.frame().await;
    assert_eq!(TerminalAbort::decode(&ending).unwrap().result_code, result_code::ABORTED);
    ecr.write_frame(&ack_apdu()).await;
    assert_eq!(ecr.next_event().await, FrameEvent::Ack);
    let _ = stop.send(());
}

/// The mirror, against the ECR driver: the register aborts (`06 B0` in answer to a status) while
/// a terminal repeats its status on its own timer without acknowledging the abort first.
#[tokio::test]
async fn the_ecr_driver_acknowledges_a_crossing_status_and_resends_its_abort() {
    let (ecr_side, terminal_side) = pty_pair().unwrap();
    let mut settings = EcrSettings::new(Password::new(123_456).unwrap());
    settings.acknowledgement_timeout_ms = 3_000;
    settings.terminal_silence_timeout_ms = 3_000;
    let mut driver = EcrDriver::new(ZvtLink::serial(ecr_side, LinkRole::Ecr), settings);
    let abort = driver.abort_handle();
    let payment =
        tokio::spawn(async move { driver.authorization(Yen::new(470).unwrap(), Duration::from_secs(20)).await });

    let mut terminal = RawPeer::new(terminal_side);
    let command = terminal.frame().await;
    assert_eq!(ControlField::of(&command), ControlField::AUTHORIZATION);
    terminal.write_frame(&ack_apdu()).await;
    assert_eq!(terminal.next_event().await, FrameEvent::Ack);
    abort.request();
    let status = Apdu::new(0x04, 0xFF, vec![0x0A]).unwrap();
    terminal.write_frame(&status).await;
    assert_eq!(terminal.next_event().await, FrameEvent::Ack);
    // The driver answers the status with its abort; the terminal does not acknowledge it and
    // sends its next status instead.
    let answer = match terminal.next_event().await {
        FrameEvent::Frame(bytes) => Apdu::decode(&bytes).unwrap(),
        other => panic!("expected the driver's answer, got {other:?}"),
    };
    assert_eq!(ControlField::of(&answer), ControlField::ABORT_COMMAND);
    let sent_at = Instant::now();
    terminal.write_frame(&status).await;
    let mut copies = 0;
    let acknowledged_after = loop {
        match terminal.next_event().await {
            FrameEvent::Ack => break sent_at.elapsed(),
            FrameEvent::Frame(bytes) if Apdu::decode(&bytes).unwrap() == answer => copies += 1,
            other => panic!("expected the ACK of the status or the abort again, got {other:?}"),
        }
    };
    assert!(acknowledged_after < Duration::from_millis(ACK_TIMEOUT_MS), "ACK after {acknowledged_after:?}");
    if copies == 0 {
        match terminal.next_event().await {
            FrameEvent::Frame(bytes) => assert_eq!(Apdu::decode(&bytes).unwrap(), answer),
            other => panic!("expected the abort again, got {other:?}"),
        }
    }
    terminal.ack().await;
    // The driver took the second status too and answers it; then the terminal ends.
    assert_eq!(terminal.frame().await, ack_apdu());
    terminal.write_frame(&TerminalAbort::new(result_code::ABORTED).to_apdu().unwrap()).await;
    assert_eq!(terminal.next_event().await, FrameEvent::Ack);
    assert_eq!(terminal.frame().await, ack_apdu());
    let outcome = payment.await.unwrap().unwrap();
    assert_eq!(outcome.result_code(), Some(result_code::ABORTED), "{outcome:?}");
    assert_eq!(outcome.report().intermediate_statuses.len(), 2, "both statuses were taken once: {outcome:?}");
}

/// A terminal that went on after refusing (the misbehaviour of issue 18: `84 83 00`, then
/// `80 00 00` and a completion anyway) leaves messages of an ended dialogue on the line; the ECR
/// driver drops them before its next command instead of reading them as its answer.
#[tokio::test]
async fn the_ecr_driver_drops_what_an_ended_dialogue_left_before_its_next_command() {
    let (ecr_side, terminal_side) = pty_pair().unwrap();
    let mut settings = EcrSettings::new(Password::new(123_456).unwrap());
    settings.acknowledgement_timeout_ms = 3_000;
    let mut driver = EcrDriver::new(ZvtLink::serial(ecr_side, LinkRole::Ecr), settings);
    let mut terminal = RawPeer::new(terminal_side);
    for leftover in
        [Acknowledgement::Negative { code: 0x83 }.to_apdu(), ack_apdu(), Apdu::new(0x06, 0x0F, Vec::new()).unwrap()]
    {
        terminal.write_frame(&leftover).await;
        // Acknowledged: it is in the driver's hands before the command starts.
        assert_eq!(terminal.next_event().await, FrameEvent::Ack);
    }
    let enquiry = tokio::spawn(async move { driver.status_enquiry(Duration::from_secs(10)).await });
    let command = terminal.frame().await;
    assert_eq!(ControlField::of(&command), ControlField::STATUS_ENQUIRY);
    terminal.write_frame(&ack_apdu()).await;
    assert_eq!(terminal.next_event().await, FrameEvent::Ack);
    let completion = device_drivers::zvt::commands::StatusEnquiryCompletion {
        software_version: "RAW 1".to_string(),
        terminal_status: 0x00,
        tlv: None,
    };
    terminal
        .write_frame(
            &device_drivers::zvt::commands::TerminalMessage::StatusEnquiryCompletion(completion).to_apdu().unwrap(),
        )
        .await;
    assert_eq!(terminal.next_event().await, FrameEvent::Ack);
    assert_eq!(terminal.frame().await, ack_apdu());
    let outcome = enquiry.await.unwrap().expect("not refused: the stale 84 83 00 was not taken as the answer");
    let answer = outcome.report().status_enquiry.clone().expect("the status enquiry's own completion");
    assert_eq!(answer.software_version, "RAW 1");
}
