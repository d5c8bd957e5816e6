//! The link rule on serial: every frame is acknowledged, and a sender tries at most three times.
//!
//! The receiver answers a good frame with `ACK` within [`ACK_TIMEOUT_MS`] of its last byte and a
//! bad one with `NAK`. The sender resends on `NAK` and also when no answer comes in time (some ECRs
//! stay silent on a bad CRC), at most [`SEND_TRIES_MAX`] tries in all; after that the dialogue has
//! failed and the outcome is unknown. Here the rule is a pure state machine: the transport owns
//! the timer and tells [`SendAttempts`] what happened.

use super::decoder::FrameEvent;
use super::{ACK, NAK};

/// How long a sender waits for `ACK` or `NAK` after a frame's last byte, and so how soon a
/// receiver must answer.
pub const ACK_TIMEOUT_MS: u64 = 1_000;
/// Tries of one frame, the first send included.
pub const SEND_TRIES_MAX: u32 = 3;

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
}
