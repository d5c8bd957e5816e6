//! The link rule on serial: every frame is acknowledged, a sender tries at most three times, and
//! each APDU reaches the other side exactly once — also when frames cross on the line.
//!
//! The receiver answers a good frame with `ACK` within [`ACK_TIMEOUT_MS`] of its last byte and a
//! bad one with `NAK`. The sender resends on `NAK` and also when no answer comes in time (some ECRs
//! stay silent on a bad CRC), at most [`SEND_TRIES_MAX`] tries in all; after that the dialogue has
//! failed and the outcome is unknown. [`SendAttempts`] is that rule alone; [`LinkEnd`] is one end
//! of the link as a pure state machine (bytes and the time in, bytes to write and APDUs out; no
//! I/O, no clock), which the serial transport drives and the property tests drive over a
//! simulated line.
//!
//! # Collisions and duplicates
//!
//! ZVT frames carry no sequence number, so two things need care (PROTOCOLS.md §3, "state after an
//! ending"):
//!
//! - **A frame arrives while this end waits for the `ACK` of its own frame** (the ECR's abort
//!   `06 B0` crossing the terminal's next `04 FF`). It is acknowledged and handed on — never
//!   ignored — and the own frame is still resent if its `ACK` does not come.
//! - **A lost `ACK` makes the peer resend a frame this end already has.** The copy must be
//!   acknowledged again but not handed on. A copy is recognised as a frame identical to the last
//!   one handed on, arriving before the peer can have moved on. The peer moves on (and so may
//!   legitimately send an identical frame, like the terminal's repeated `04 FF` or the ECR's
//!   `80 00 00` to each of them) only after it received this end's answer, so the window in which
//!   an identical frame is a copy closes when the peer acknowledges a frame this end sent *after*
//!   handing the last one on.
//!
//! That rule is exact only if the peer never acknowledges our answer before it has stopped
//! resending. An end whose own frame is unacknowledged when a frame arrives therefore holds that
//! frame's `ACK` for a moment ([`LinkRole::collision_ack_hold_ms`]): if its own `ACK` comes in
//! that time, it acknowledges at once; otherwise it resends its own frame first and acknowledges
//! right after, so any copy of its frame reaches the peer before the `ACK` that closes the peer's
//! window. The ECR holds for a shorter time than the terminal: when both frames cross and both
//! ends hold, the ECR gives way first, and the terminal, which still holds the `ACK` of the ECR's
//! frame, lets that one `ACK` answer the copy too — so no end ever gets an `ACK` it did not ask
//! for (a stray `ACK` would settle its next frame, which might have been lost). Either way the
//! `ACK` leaves within the 1 s bound (for frames under about 500 bytes at 9,600 baud).
//!
//! Two cases are left where one frame does not tell: an identical frame that arrives while our
//! answer still waits for its `ACK` is the peer's copy (our `ACK` to its frame was lost, and the
//! peer holds the `ACK` of our answer) or its next frame (the `ACK` of our answer was lost). It is
//! held back and decided when our answer settles: a copy if the peer's `ACK` comes before this
//! end had to send its answer again (a peer always releases a held `ACK` right behind its copy),
//! new otherwise. And a `NAK` to a copy sent because of a crossing frame is not a reason to send
//! again at once: the peer may still be holding the `ACK` of the frame itself.
//!
//! The guarantee, checked by a seeded simulation (`tests/it/link_simulation.rs`): with ZVT's
//! traffic (a side sends a frame identical to its previous one only after it took the other
//! side's answer to it) and faults spaced so that no frame needs more than three tries, every
//! APDU is taken exactly once, in order, whatever the timing.

use std::collections::VecDeque;

use super::decoder::{FrameDecoder, FrameEvent};
use super::{encode_frame, ACK, BAUD_RATE, DATA_BITS, NAK, STOP_BITS};

/// How long a sender waits for `ACK` or `NAK` after a frame's last byte, and so how soon a
/// receiver must answer.
pub const ACK_TIMEOUT_MS: u64 = 1_000;
/// Tries of one frame, the first send included.
pub const SEND_TRIES_MAX: u32 = 3;
/// How long the ECR holds the `ACK` of a frame received while its own frame waits for its `ACK`
/// (see the module documentation).
pub const ECR_COLLISION_ACK_HOLD_MS: u64 = 100;
/// The terminal's hold: longer than the ECR's by more than a round trip on the line.
pub const TERMINAL_COLLISION_ACK_HOLD_MS: u64 = 400;

/// Which side of the link an end is: the ECR (master) or the payment terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkRole {
    #[default]
    Ecr,
    Terminal,
}

impl LinkRole {
    /// How long this side holds the `ACK` of a frame that crossed its own.
    pub fn collision_ack_hold_ms(self) -> u64 {
        match self {
            LinkRole::Ecr => ECR_COLLISION_ACK_HOLD_MS,
            LinkRole::Terminal => TERMINAL_COLLISION_ACK_HOLD_MS,
        }
    }
}
/// How many received APDUs may wait for the application; a frame beyond that is answered `NAK`
/// (the peer resends it), so nothing is dropped and memory stays bounded.
pub const RECEIVED_QUEUE_MAX: usize = 64;

/// What the sender does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStep {
    /// The peer acknowledged the frame.
    Delivered,
    /// Send the same frame again; `try_number` counts from 1 (the first send).
    Resend { try_number: u32 },
    /// Every try is used up: the dialogue has failed and its outcome is unknown.
    Failed { tries: u32 },
}

/// The tries of one frame. Created when the frame is first sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendAttempts {
    tries: u32,
    delivered: bool,
}

impl Default for SendAttempts {
    fn default() -> Self {
        SendAttempts::first_send()
    }
}

impl SendAttempts {
    /// The frame has just been sent for the first time.
    pub fn first_send() -> SendAttempts {
        SendAttempts { tries: 1, delivered: false }
    }

    pub fn tries(&self) -> u32 {
        self.tries
    }

    /// Whether another try is left.
    pub fn can_retry(&self) -> bool {
        !self.delivered && self.tries < SEND_TRIES_MAX
    }

    pub fn on_ack(&mut self) -> SendStep {
        self.delivered = true;
        SendStep::Delivered
    }

    pub fn on_nak(&mut self) -> SendStep {
        self.retry()
    }

    /// No answer within [`ACK_TIMEOUT_MS`].
    pub fn on_timeout(&mut self) -> SendStep {
        self.retry()
    }

    fn retry(&mut self) -> SendStep {
        if self.delivered {
            // A late NAK or timeout after the ACK changes nothing: the frame is through.
            return SendStep::Delivered;
        }
        if self.tries >= SEND_TRIES_MAX {
            return SendStep::Failed { tries: self.tries };
        }
        self.tries += 1;
        SendStep::Resend { try_number: self.tries }
    }
}

/// The byte a receiver answers a decoder event with: `ACK` for a good frame, `NAK` for a rejected
/// one, nothing for the peer's own `ACK`/`NAK`.
pub fn receiver_reply(event: &FrameEvent) -> Option<u8> {
    match event {
        FrameEvent::Frame(_) => Some(ACK),
        FrameEvent::Rejected(_) => Some(NAK),
        FrameEvent::Ack | FrameEvent::Nak => None,
    }
}

/// Milliseconds the line needs for `bytes` bytes at 9,600 baud with one start bit, eight data bits
/// and two stop bits (about 1.15 ms a byte), rounded up. A frame's last byte leaves the port this
/// long after it was handed to the driver, so the wait for its `ACK` starts then.
pub fn transmit_ms(bytes: usize) -> u64 {
    let bits_per_byte = 1 + u64::from(DATA_BITS) + u64::from(STOP_BITS);
    let bits = u64::try_from(bytes).unwrap_or(u64::MAX).saturating_mul(bits_per_byte);
    bits.saturating_mul(1_000).div_ceil(u64::from(BAUD_RATE))
}

/// A fault one end plays on itself once, to test the other end's recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnFault {
    /// The next frame sent goes out first with a wrong CRC.
    CorruptNextSend,
    /// The `ACK` of the next good frame received is not sent, as if lost on the line (the frame
    /// itself is taken).
    WithholdNextAck,
}

/// What the end asks its transport to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkOutput {
    /// Write these bytes to the line.
    Write(Vec<u8>),
    /// The APDU handed to [`LinkEnd::send`] was acknowledged, or failed after its tries.
    SendFinished(Result<(), SendFailed>),
}

/// Every try of a frame went unacknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the peer did not acknowledge the frame after {tries} tries")]
pub struct SendFailed {
    pub tries: u32,
}

/// [`LinkEnd::send`] while an earlier APDU is still waiting for its `ACK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an earlier frame is still waiting for its ACK")]
pub struct LinkBusy;

/// Counters for diagnostics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStatistics {
    /// Frames sent again (after `NAK`, silence, or before acknowledging a crossing frame).
    pub resends: u64,
    /// Frames the peer sent again that this end already had: acknowledged, not handed on.
    pub copies_dropped: u64,
    /// Frames answered `NAK` (bad CRC, broken framing, or a full receive queue).
    pub naks_sent: u64,
    /// Frames that arrived while this end waited for its own `ACK`.
    pub collisions: u64,
    /// Frames identical to the last one taken that had to wait for a decision, and of them those
    /// that turned out to be new.
    pub undecided: u64,
    pub undecided_new: u64,
}

#[derive(Debug, Clone)]
struct Outgoing {
    frame: Vec<u8>,
    attempts: SendAttempts,
    /// When the wait for the `ACK` of the latest try ends.
    ack_deadline_ms: u64,
    /// How many APDUs had been handed on when this frame was first sent.
    deliveries_at_send: u64,
    /// A copy went out because the `ACK` was held up by a crossing frame, and no answer to it
    /// has come yet.
    early_copy_unanswered: bool,
}

#[derive(Debug, Clone)]
struct Delivered {
    apdu: Vec<u8>,
    /// Its place in the count of APDUs handed on (1 for the first).
    index: u64,
}

/// What a received frame is, against the last one taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    New,
    Copy,
    Undecided,
}

/// How a frame waiting for a decision is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Undecided {
    New,
    Copy,
}

/// One end of a serial ZVT link, without I/O: feed it what the line brings and the time, and it
/// says what to write; APDUs received wait in [`LinkEnd::pop_received`].
#[derive(Debug, Clone, Default)]
pub struct LinkEnd {
    role: LinkRole,
    decoder: FrameDecoder,
    outgoing: Option<Outgoing>,
    /// `ACK`s owed for frames received while [`Self::outgoing`] waits, and until when they wait.
    held_acks: u32,
    hold_deadline_ms: Option<u64>,
    /// Whether one of the held `ACK`s is for the last APDU handed on (so a copy of it needs none
    /// of its own: the held one answers both).
    last_ack_held: bool,
    /// The last APDU handed on, while an identical frame would still be the peer's copy of it.
    copy_window: Option<Delivered>,
    /// A frame identical to the last one taken that arrived while this end's answer waited for
    /// its `ACK`: a copy or a new frame, decided when that answer settles.
    undecided: Option<Vec<u8>>,
    deliveries: u64,
    received: VecDeque<Vec<u8>>,
    corrupt_next_send: bool,
    withhold_next_ack: bool,
    statistics: LinkStatistics,
}

impl LinkEnd {
    pub fn new(role: LinkRole) -> LinkEnd {
        LinkEnd { role, ..LinkEnd::default() }
    }

    pub fn role(&self) -> LinkRole {
        self.role
    }

    /// Whether an APDU may be sent now (no earlier frame waits for its `ACK`).
    pub fn can_send(&self) -> bool {
        self.outgoing.is_none()
    }

    pub fn statistics(&self) -> LinkStatistics {
        self.statistics
    }

    /// Bytes skipped between frames (noise), for diagnostics.
    pub fn noise_bytes_skipped(&self) -> usize {
        self.decoder.noise_bytes_skipped()
    }

    pub fn inject(&mut self, fault: OwnFault) {
        match fault {
            OwnFault::CorruptNextSend => self.corrupt_next_send = true,
            OwnFault::WithholdNextAck => self.withhold_next_ack = true,
        }
    }

    /// Whether APDUs wait in [`LinkEnd::pop_received`].
    pub fn has_received(&self) -> bool {
        !self.received.is_empty()
    }

    /// The next APDU received, in order.
    pub fn pop_received(&mut self) -> Option<Vec<u8>> {
        self.received.pop_front()
    }

    /// When [`LinkEnd::on_tick`] must be called next, if anything waits on time.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        let ack = self.outgoing.as_ref().map(|outgoing| outgoing.ack_deadline_ms);
        match (ack, self.hold_deadline_ms) {
            (Some(ack), Some(hold)) => Some(ack.min(hold)),
            (ack, hold) => ack.or(hold),
        }
    }

    /// Sends one APDU (its unstuffed bytes); [`LinkOutput::SendFinished`] reports how it ended.
    pub fn send(&mut self, apdu: &[u8], now_ms: u64) -> Result<Vec<LinkOutput>, LinkBusy> {
        if self.outgoing.is_some() {
            return Err(LinkBusy);
        }
        let frame = encode_frame(apdu);
        let mut first = frame.clone();
        if std::mem::take(&mut self.corrupt_next_send) {
            if let Some(last) = first.last_mut() {
                // Flipping the CRC's high byte keeps the frame's shape and breaks only its check.
                *last ^= 0xFF;
            }
        }
        let ack_deadline_ms = now_ms.saturating_add(transmit_ms(frame.len())).saturating_add(ACK_TIMEOUT_MS);
        self.outgoing = Some(Outgoing {
            frame,
            attempts: SendAttempts::first_send(),
            ack_deadline_ms,
            deliveries_at_send: self.deliveries,
            early_copy_unanswered: false,
        });
        Ok(vec![LinkOutput::Write(first)])
    }

    /// Takes the bytes the line brought.
    pub fn on_bytes(&mut self, bytes: &[u8], now_ms: u64) -> Vec<LinkOutput> {
        let mut outputs = Vec::new();
        for event in self.decoder.feed(bytes) {
            match event {
                FrameEvent::Ack => self.on_ack(&mut outputs),
                FrameEvent::Nak => {
                    if let Some(outgoing) = self.outgoing.as_mut() {
                        if std::mem::take(&mut outgoing.early_copy_unanswered) {
                            // A copy sent before the peer answered the frame itself was refused;
                            // the peer may still be holding the frame's ACK. The wait for it
                            // goes on (a resend now could reach a peer that has moved on).
                            continue;
                        }
                        let step = outgoing.attempts.on_nak();
                        // The peer refused our frame, so it cannot have answered it: a frame
                        // waiting for a decision is the peer's copy.
                        self.resolve_undecided(Undecided::Copy);
                        self.after_step(step, now_ms, &mut outputs);
                    }
                }
                FrameEvent::Frame(apdu) => self.on_frame(apdu, now_ms, &mut outputs),
                FrameEvent::Rejected(error) => {
                    tracing::debug!(%error, "answering a broken frame with NAK");
                    self.statistics.naks_sent += 1;
                    outputs.push(LinkOutput::Write(vec![NAK]));
                }
            }
        }
        outputs
    }

    /// Lets time pass: resends after silence, releases a held `ACK`.
    pub fn on_tick(&mut self, now_ms: u64) -> Vec<LinkOutput> {
        let mut outputs = Vec::new();
        if self.hold_deadline_ms.is_some_and(|deadline| now_ms >= deadline) {
            // Our own frame is still unacknowledged: send it again before the peer gets the ACK
            // that lets it move on (module documentation), if a try is left.
            self.resolve_undecided(Undecided::New);
            let resend = self.outgoing.as_ref().is_some_and(|outgoing| outgoing.attempts.can_retry());
            if resend {
                if let Some(outgoing) = self.outgoing.as_mut() {
                    let step = outgoing.attempts.on_timeout();
                    self.after_step(step, now_ms, &mut outputs);
                }
                if let Some(outgoing) = self.outgoing.as_mut() {
                    outgoing.early_copy_unanswered = true;
                }
            }
            self.release_acks(&mut outputs);
        }
        if self.outgoing.as_ref().is_some_and(|outgoing| now_ms >= outgoing.ack_deadline_ms) {
            self.resolve_undecided(Undecided::New);
            if let Some(outgoing) = self.outgoing.as_mut() {
                let step = outgoing.attempts.on_timeout();
                self.after_step(step, now_ms, &mut outputs);
            }
        }
        outputs
    }

    fn on_ack(&mut self, outputs: &mut Vec<LinkOutput>) {
        let Some(outgoing) = self.outgoing.take() else {
            // A late ACK for a frame already settled changes nothing.
            return;
        };
        // The peer releases its ACK right behind a copy it sends (module documentation): an ACK
        // that comes before this end had to send its frame again means the frame waiting for a
        // decision was that copy.
        self.resolve_undecided(Undecided::Copy);
        if self.copy_window.as_ref().is_some_and(|last| outgoing.deliveries_at_send >= last.index) {
            // The peer has our answer to what it sent last: it has stopped resending that.
            self.copy_window = None;
        }
        outputs.push(LinkOutput::SendFinished(Ok(())));
        self.release_acks(outputs);
    }

    fn on_frame(&mut self, apdu: Vec<u8>, now_ms: u64, outputs: &mut Vec<LinkOutput>) {
        let kind = match (&self.copy_window, &self.undecided) {
            (_, Some(waiting)) if *waiting == apdu => Kind::Copy,
            (Some(last), _) if last.apdu == apdu => {
                // Identical to what was taken last. If this end has not answered since, the
                // peer cannot have moved on: a copy. If its answer is still unacknowledged, the
                // peer may have moved on (and our answer's ACK got lost) or may be resending
                // (and holds that ACK): decided when our frame settles.
                let answered = self.outgoing.as_ref().is_some_and(|outgoing| outgoing.deliveries_at_send >= last.index);
                if answered {
                    Kind::Undecided
                } else {
                    Kind::Copy
                }
            }
            _ => Kind::New,
        };
        if kind == Kind::New {
            // Only a peer that moved on sends something different: what waited was new too.
            self.resolve_undecided(Undecided::New);
            if self.received.len() >= RECEIVED_QUEUE_MAX {
                tracing::warn!("receive queue full; answering NAK so the peer sends the frame again later");
                self.statistics.naks_sent += 1;
                outputs.push(LinkOutput::Write(vec![NAK]));
                return;
            }
            self.take(apdu.clone());
        }
        if kind == Kind::Copy {
            tracing::debug!("the peer sent a frame again that was already taken; acknowledging it only");
            if self.undecided.is_none() {
                self.statistics.copies_dropped += 1;
            }
            if self.last_ack_held {
                // The peer has no ACK for it yet: the one held answers the copy as well.
                return;
            }
        }
        if kind == Kind::Undecided {
            self.statistics.undecided += 1;
            self.undecided = Some(apdu);
        }
        if std::mem::take(&mut self.withhold_next_ack) {
            tracing::debug!("fault: the ACK of a received frame is withheld");
            return;
        }
        match &self.outgoing {
            Some(_) => {
                self.statistics.collisions += 1;
                self.held_acks = self.held_acks.saturating_add(1);
                self.last_ack_held = true;
                if self.hold_deadline_ms.is_none() {
                    self.hold_deadline_ms = Some(now_ms.saturating_add(self.role.collision_ack_hold_ms()));
                }
            }
            None => outputs.push(LinkOutput::Write(vec![ACK])),
        }
    }

    /// Hands an APDU on to the application and opens the copy window on it.
    fn take(&mut self, apdu: Vec<u8>) {
        self.deliveries += 1;
        self.copy_window = Some(Delivered { apdu: apdu.clone(), index: self.deliveries });
        self.received.push_back(apdu);
        self.last_ack_held = false;
    }

    fn resolve_undecided(&mut self, decision: Undecided) {
        let Some(apdu) = self.undecided.take() else { return };
        match decision {
            Undecided::Copy => self.statistics.copies_dropped += 1,
            Undecided::New => {
                self.statistics.undecided_new += 1;
                let held = self.last_ack_held;
                self.take(apdu);
                // Its ACK is among the held ones still.
                self.last_ack_held = held;
            }
        }
    }

    /// Acts on a resend decision for the frame waiting for its `ACK`.
    fn after_step(&mut self, step: SendStep, now_ms: u64, outputs: &mut Vec<LinkOutput>) {
        match step {
            SendStep::Delivered => {}
            SendStep::Resend { try_number } => {
                let Some(outgoing) = self.outgoing.as_mut() else { return };
                tracing::debug!(try_number, "resending a ZVT frame");
                self.statistics.resends += 1;
                outgoing.early_copy_unanswered = false;
                outgoing.ack_deadline_ms =
                    now_ms.saturating_add(transmit_ms(outgoing.frame.len())).saturating_add(ACK_TIMEOUT_MS);
                outputs.push(LinkOutput::Write(outgoing.frame.clone()));
                // The copy is on its way ahead of them: the held ACKs may follow.
                self.release_acks(outputs);
            }
            SendStep::Failed { tries } => {
                self.resolve_undecided(Undecided::New);
                self.outgoing = None;
                outputs.push(LinkOutput::SendFinished(Err(SendFailed { tries })));
                self.release_acks(outputs);
            }
        }
    }

    fn release_acks(&mut self, outputs: &mut Vec<LinkOutput>) {
        self.hold_deadline_ms = None;
        self.last_ack_held = false;
        let owed = std::mem::take(&mut self.held_acks);
        if owed > 0 {
            outputs.push(LinkOutput::Write(vec![ACK; usize::try_from(owed).unwrap_or(1)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::decoder::FrameError;
    use super::*;

    #[test]
    fn three_tries_in_all() {
        let mut attempts = SendAttempts::first_send();
        assert_eq!(attempts.on_nak(), SendStep::Resend { try_number: 2 });
        assert_eq!(attempts.on_timeout(), SendStep::Resend { try_number: 3 });
        assert_eq!(attempts.on_nak(), SendStep::Failed { tries: 3 });
        assert_eq!(attempts.on_timeout(), SendStep::Failed { tries: 3 });
    }

    #[test]
    fn ack_ends_the_tries() {
        let mut attempts = SendAttempts::first_send();
        assert_eq!(attempts.on_timeout(), SendStep::Resend { try_number: 2 });
        assert_eq!(attempts.on_ack(), SendStep::Delivered);
        assert_eq!(attempts.on_nak(), SendStep::Delivered);
        assert_eq!(attempts.tries(), 2);
    }

    #[test]
    fn replies() {
        assert_eq!(receiver_reply(&FrameEvent::Frame(vec![0x80, 0x00, 0x00])), Some(ACK));
        let bad = FrameEvent::Rejected(FrameError::BadCrc { offset: 0, computed: 1, received: 2 });
        assert_eq!(receiver_reply(&bad), Some(NAK));
        assert_eq!(receiver_reply(&FrameEvent::Ack), None);
    }

    #[test]
    fn transmit_time_at_9600_baud() {
        assert_eq!(transmit_ms(0), 0);
        assert_eq!(transmit_ms(1), 2, "11 bits take 1.15 ms, rounded up");
        assert_eq!(transmit_ms(960), 1_100);
    }

    const ACK_OF_COMMAND: [u8; 3] = [0x80, 0x00, 0x00];
    const STATUS: [u8; 4] = [0x04, 0xFF, 0x01, 0x0A];

    fn writes(outputs: &[LinkOutput]) -> Vec<Vec<u8>> {
        outputs
            .iter()
            .filter_map(|output| match output {
                LinkOutput::Write(bytes) => Some(bytes.clone()),
                LinkOutput::SendFinished(_) => None,
            })
            .collect()
    }

    #[test]
    fn a_frame_is_acknowledged_at_once_when_nothing_waits() {
        let mut end = LinkEnd::new(LinkRole::Ecr);
        let outputs = end.on_bytes(&encode_frame(&STATUS), 0);
        assert_eq!(writes(&outputs), vec![vec![ACK]]);
        assert_eq!(end.pop_received(), Some(STATUS.to_vec()));
        assert_eq!(end.pop_received(), None);
    }

    #[test]
    fn a_crossing_frame_is_taken_and_acknowledged_once_the_own_frame_is_through() {
        let mut end = LinkEnd::new(LinkRole::Ecr);
        end.send(&STATUS, 0).unwrap();
        let crossing = [0x06, 0xB0, 0x00];
        assert!(writes(&end.on_bytes(&encode_frame(&crossing), 10)).is_empty(), "the ACK is held");
        assert_eq!(end.pop_received(), Some(crossing.to_vec()), "the frame is handed on at once");
        let outputs = end.on_bytes(&[ACK], 20);
        assert_eq!(outputs, vec![LinkOutput::SendFinished(Ok(())), LinkOutput::Write(vec![ACK])]);
    }

    #[test]
    fn without_its_own_ack_the_end_resends_first_then_acknowledges_within_the_bound() {
        let mut end = LinkEnd::new(LinkRole::Ecr);
        end.send(&STATUS, 0).unwrap();
        end.on_bytes(&encode_frame(&ACK_OF_COMMAND), 10);
        let outputs = end.on_tick(10 + ECR_COLLISION_ACK_HOLD_MS);
        assert_eq!(writes(&outputs), vec![encode_frame(&STATUS), vec![ACK]]);
        assert_eq!(end.statistics().resends, 1);
    }

    #[test]
    fn a_copy_is_acknowledged_but_not_handed_on_until_the_peer_has_our_answer() {
        let mut end = LinkEnd::new(LinkRole::Ecr);
        end.on_bytes(&encode_frame(&STATUS), 0);
        assert_eq!(end.pop_received(), Some(STATUS.to_vec()));
        // Our ACK was lost; the peer sends the same frame again.
        assert_eq!(writes(&end.on_bytes(&encode_frame(&STATUS), 1_000)), vec![vec![ACK]]);
        assert_eq!(end.pop_received(), None);
        // We answer; once the peer acknowledges the answer, an identical frame is a new one.
        end.send(&ACK_OF_COMMAND, 1_010).unwrap();
        end.on_bytes(&[ACK], 1_020);
        end.on_bytes(&encode_frame(&STATUS), 1_100);
        assert_eq!(end.pop_received(), Some(STATUS.to_vec()));
        assert_eq!(end.statistics().copies_dropped, 1);
    }

    #[test]
    fn a_copy_of_a_frame_whose_ack_is_still_held_gets_no_second_ack() {
        // Both frames crossed; the ECR gave way first and sent its frame again.
        let mut terminal = LinkEnd::new(LinkRole::Terminal);
        terminal.send(&STATUS, 0).unwrap();
        let abort = [0x06, 0xB0, 0x00];
        assert!(writes(&terminal.on_bytes(&encode_frame(&abort), 5)).is_empty());
        assert!(writes(&terminal.on_bytes(&encode_frame(&abort), 110)).is_empty(), "no ACK for the copy");
        assert_eq!(writes(&terminal.on_bytes(&[ACK], 112)), vec![vec![ACK]], "one ACK for both");
        assert_eq!(terminal.pop_received(), Some(abort.to_vec()));
        assert_eq!(terminal.pop_received(), None);
    }

    #[test]
    fn a_full_queue_is_answered_with_nak() {
        let mut end = LinkEnd::new(LinkRole::Ecr);
        for index in 0..RECEIVED_QUEUE_MAX {
            let apdu = [0x06, 0xD1, 0x01, u8::try_from(index % 256).unwrap()];
            assert_eq!(writes(&end.on_bytes(&encode_frame(&apdu), 0)), vec![vec![ACK]]);
        }
        assert_eq!(writes(&end.on_bytes(&encode_frame(&STATUS), 0)), vec![vec![NAK]]);
    }

    #[test]
    fn busy_until_the_frame_settles() {
        let mut end = LinkEnd::new(LinkRole::Ecr);
        end.send(&STATUS, 0).unwrap();
        assert_eq!(end.send(&STATUS, 0), Err(LinkBusy));
        let first = end.next_deadline_ms().unwrap();
        let mut finished = Vec::new();
        let mut now = first;
        for _ in 0..SEND_TRIES_MAX {
            finished.extend(end.on_tick(now));
            now = end.next_deadline_ms().unwrap_or(now);
        }
        assert!(finished.contains(&LinkOutput::SendFinished(Err(SendFailed { tries: SEND_TRIES_MAX }))));
        assert!(end.can_send());
    }
}
