//! The serial link: APDUs in frames, each acknowledged, resent on `NAK` or silence.
//!
//! The framing and the resend rule are the pure pieces of [`crate::zvt::serial`]; this file owns
//! the stream and the clock. Sending waits for the peer's `ACK` for [`ACK_TIMEOUT_MS`] after each
//! try and gives up after [`SEND_TRIES_MAX`] tries. Receiving answers each good frame with `ACK`
//! at once (well inside the 1 s the peer waits) and each broken one with `NAK`. A frame that
//! arrives while this side waits for its own `ACK` is acknowledged and kept for the next
//! [`SerialLink::receive`], so a peer that runs ahead loses nothing.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use super::{millis, write_bounded, ByteStream, LinkError, LinkFault, ACK_TIMEOUT_MS, READ_CHUNK_BYTES};
use crate::zvt::apdu::Apdu;
use crate::zvt::serial::{encode_apdu_frame, FrameDecoder, FrameEvent, SendAttempts, SendStep, ACK, NAK};

/// What came back for a frame sent.
enum Reply {
    Ack,
    Nak,
    Silence,
}

pub struct SerialLink {
    stream: Box<dyn ByteStream>,
    decoder: FrameDecoder,
    events: VecDeque<FrameEvent>,
    /// Frames received (and acknowledged) while this side waited for an `ACK`.
    received: VecDeque<Vec<u8>>,
    corrupt_next_send: bool,
    drop_next_frame: bool,
    resends: u64,
}

impl SerialLink {
    pub fn new(stream: Box<dyn ByteStream>) -> SerialLink {
        SerialLink {
            stream,
            decoder: FrameDecoder::new(),
            events: VecDeque::new(),
            received: VecDeque::new(),
            corrupt_next_send: false,
            drop_next_frame: false,
            resends: 0,
        }
    }

    pub fn inject(&mut self, fault: LinkFault) {
        match fault {
            LinkFault::BadCrcOnce => self.corrupt_next_send = true,
            LinkFault::DropAckOnce => self.drop_next_frame = true,
        }
    }

    /// Frames this side sent again after a `NAK` or a missing `ACK`, for diagnostics and tests.
    pub fn resends(&self) -> u64 {
        self.resends
    }

    /// Noise bytes the decoder skipped between frames.
    pub fn noise_bytes_skipped(&self) -> usize {
        self.decoder.noise_bytes_skipped()
    }

    pub async fn send(&mut self, apdu: &Apdu) -> Result<(), LinkError> {
        let frame = encode_apdu_frame(apdu);
        if std::mem::take(&mut self.corrupt_next_send) {
            let mut corrupted = frame.clone();
            if let Some(last) = corrupted.last_mut() {
                // Flipping the CRC's high byte keeps the frame's shape and breaks only its check.
                *last ^= 0xFF;
            }
            write_bounded(&mut self.stream, &corrupted).await?;
        } else {
            write_bounded(&mut self.stream, &frame).await?;
        }
        let mut attempts = SendAttempts::first_send();
        loop {
            let step = match self.wait_for_reply().await? {
                Reply::Ack => attempts.on_ack(),
                Reply::Nak => attempts.on_nak(),
                Reply::Silence => attempts.on_timeout(),
            };
            match step {
                SendStep::Delivered => return Ok(()),
                SendStep::Resend { try_number } => {
                    tracing::debug!(try_number, "resending a ZVT frame");
                    self.resends += 1;
                    write_bounded(&mut self.stream, &frame).await?;
                }
                SendStep::Failed { tries } => return Err(LinkError::NotAcknowledged { tries }),
            }
        }
    }

    pub async fn receive(&mut self, timeout: Duration) -> Result<Apdu, LinkError> {
        let until = Instant::now() + timeout;
        loop {
            if let Some(bytes) = self.received.pop_front() {
                return Ok(Apdu::decode(&bytes)?);
            }
            while let Some(event) = self.events.pop_front() {
                match event {
                    FrameEvent::Frame(bytes) => {
                        if let Some(bytes) = self.accept_frame(bytes).await? {
                            return Ok(Apdu::decode(&bytes)?);
                        }
                    }
                    FrameEvent::Rejected(error) => self.reject_frame(&error).await?,
                    // A late ACK or NAK for a frame already settled changes nothing.
                    FrameEvent::Ack | FrameEvent::Nak => {}
                }
            }
            if !self.read_more(until).await? {
                return Err(LinkError::ReceiveTimeout { waited_ms: millis(timeout) });
            }
        }
    }

    async fn wait_for_reply(&mut self) -> Result<Reply, LinkError> {
        let until = Instant::now() + Duration::from_millis(ACK_TIMEOUT_MS);
        loop {
            while let Some(event) = self.events.pop_front() {
                match event {
                    FrameEvent::Ack => return Ok(Reply::Ack),
                    FrameEvent::Nak => return Ok(Reply::Nak),
                    FrameEvent::Frame(bytes) => {
                        if let Some(bytes) = self.accept_frame(bytes).await? {
                            self.received.push_back(bytes);
                        }
                    }
                    FrameEvent::Rejected(error) => self.reject_frame(&error).await?,
                }
            }
            if !self.read_more(until).await? {
                return Ok(Reply::Silence);
            }
        }
    }

    /// Acknowledges a good frame and hands it on, unless a dropped-ACK fault swallows it.
    async fn accept_frame(&mut self, bytes: Vec<u8>) -> Result<Option<Vec<u8>>, LinkError> {
        if std::mem::take(&mut self.drop_next_frame) {
            tracing::debug!("fault: dropping the ACK of a received frame");
            return Ok(None);
        }
        write_bounded(&mut self.stream, &[ACK]).await?;
        Ok(Some(bytes))
    }

    async fn reject_frame(&mut self, error: &crate::zvt::serial::FrameError) -> Result<(), LinkError> {
        tracing::debug!(%error, "answering a broken frame with NAK");
        write_bounded(&mut self.stream, &[NAK]).await
    }

    /// Reads what the stream has until `until`; false when the time ran out with nothing read.
    async fn read_more(&mut self, until: Instant) -> Result<bool, LinkError> {
        let mut buffer = [0u8; READ_CHUNK_BYTES];
        match tokio::time::timeout_at(until, self.stream.read(&mut buffer)).await {
            Err(_) => Ok(false),
            Ok(Ok(0)) => Err(LinkError::Closed),
            Ok(Ok(count)) => {
                let events = self.decoder.feed(&buffer[..count]);
                self.events.extend(events);
                Ok(true)
            }
            Ok(Err(error)) => Err(closed_or_io(error)),
        }
    }
}

/// A pty whose other side closed reads `EIO`; that is a closed link, not a broken machine.
pub(super) fn closed_or_io(error: std::io::Error) -> LinkError {
    if error.raw_os_error() == Some(nix::libc::EIO) {
        LinkError::Closed
    } else {
        LinkError::Io(error)
    }
}
