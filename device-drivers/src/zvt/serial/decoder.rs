//! The incremental frame decoder: feed bytes as the port delivers them, get frames out.
//!
//! Outside a frame the decoder hunts for `DLE STX`, skipping noise (line glitches, a terminal
//! waking up) and reporting the lone `ACK` and `NAK` bytes the peer answers with. Inside a frame it
//! undoes the `DLE` doubling, and after `DLE ETX` and the two CRC bytes it hands out the APDU bytes
//! or, if the CRC does not match, a [`FrameError::BadCrc`] so the link can answer `NAK`.
//!
//! After a broken frame (a `DLE` followed by something that is neither `DLE`, `ETX` nor `STX`, or
//! a frame longer than any APDU) the decoder discards the rest of that frame up to its `DLE ETX`
//! and CRC, so bytes inside it are not mistaken for `ACK`/`NAK`; a `DLE STX` always starts afresh,
//! because a sender that gave up on a frame starts its resend that way.

use super::super::apdu::APDU_BYTES_MAX;
use super::{frame_crc, ACK, DLE, ETX, NAK, STX};

/// What the decoder found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameEvent {
    /// The unstuffed APDU bytes of a frame whose CRC matched: answer `ACK`.
    Frame(Vec<u8>),
    /// An `ACK` byte outside a frame.
    Ack,
    /// A `NAK` byte outside a frame.
    Nak,
    /// A frame that cannot be used: answer `NAK` so the sender tries again.
    Rejected(FrameError),
}

/// Why a frame could not be read. Offsets count bytes fed to the decoder (for [`decode_frame`],
/// bytes of its input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame starting at byte {offset} carries CRC {received:#06x}, but its content gives {computed:#06x}")]
    BadCrc { offset: usize, computed: u16, received: u16 },
    #[error("byte {offset} follows a DLE inside a frame and is {byte:#04x}; expected DLE (doubled data) or ETX (end)")]
    UnexpectedAfterDle { offset: usize, byte: u8 },
    #[error("frame starting at byte {offset} holds more than the {APDU_BYTES_MAX} bytes of the longest APDU")]
    TooLong { offset: usize },
    #[error("no frame start (DLE STX) in the {offset} bytes of input")]
    NoFrameStart { offset: usize },
    #[error("frame ends at byte {offset}: expected {expected}")]
    Truncated { offset: usize, expected: &'static str },
    #[error("{count} bytes follow the frame, from byte {offset}")]
    TrailingBytes { offset: usize, count: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Hunting,
    HuntingAfterDle,
    Data,
    DataAfterDle,
    CrcLow,
    CrcHigh,
}

/// A frame decoder for one direction of one link.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    state: State,
    apdu: Vec<u8>,
    /// The offset the next byte fed will have.
    position: usize,
    /// The offset of the `DLE` of the current frame's `DLE STX`.
    frame_offset: usize,
    crc_low: u8,
    /// True while skipping the rest of a broken frame: data is not kept, no event comes out.
    discarding: bool,
    noise_bytes_skipped: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new()
    }
}

impl FrameDecoder {
    pub fn new() -> FrameDecoder {
        FrameDecoder {
            state: State::Hunting,
            apdu: Vec::new(),
            position: 0,
            frame_offset: 0,
            crc_low: 0,
            discarding: false,
            noise_bytes_skipped: 0,
        }
    }

    /// Feeds several bytes; returns every event they complete, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<FrameEvent> {
        bytes.iter().filter_map(|&byte| self.push(byte)).collect()
    }

    /// Feeds one byte; returns an event when the byte completes one.
    pub fn push(&mut self, byte: u8) -> Option<FrameEvent> {
        let offset = self.position;
        self.position = self.position.saturating_add(1);
        match self.state {
            State::Hunting => self.hunting(byte, offset),
            State::HuntingAfterDle => {
                self.hunting_after_dle(byte, offset);
                None
            }
            State::Data => self.data(byte),
            State::DataAfterDle => self.data_after_dle(byte, offset),
            State::CrcLow => {
                self.crc_low = byte;
                self.state = State::CrcHigh;
                None
            }
            State::CrcHigh => self.crc_high(byte),
        }
    }

    /// Whether the decoder is between frames (so a stop in the input loses nothing).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Hunting)
    }

    /// Bytes skipped outside frames (not counting `ACK` and `NAK`), for link diagnostics.
    pub fn noise_bytes_skipped(&self) -> usize {
        self.noise_bytes_skipped
    }

    /// The error for input that stops here: which part of a frame was still missing.
    pub fn end_of_input_error(&self) -> FrameError {
        let offset = self.position;
        let expected = match self.state {
            State::Hunting => return FrameError::NoFrameStart { offset },
            State::HuntingAfterDle => "STX after DLE to start a frame",
            State::Data => "more data or DLE ETX",
            State::DataAfterDle => "DLE or ETX after DLE",
            State::CrcLow => "the CRC low byte",
            State::CrcHigh => "the CRC high byte",
        };
        FrameError::Truncated { offset, expected }
    }

    fn hunting(&mut self, byte: u8, offset: usize) -> Option<FrameEvent> {
        match byte {
            DLE => {
                self.frame_offset = offset;
                self.state = State::HuntingAfterDle;
                None
            }
            ACK => Some(FrameEvent::Ack),
            NAK => Some(FrameEvent::Nak),
            _ => {
                self.noise_bytes_skipped += 1;
                None
            }
        }
    }

    fn hunting_after_dle(&mut self, byte: u8, offset: usize) {
        match byte {
            STX => self.start_frame(self.frame_offset),
            DLE => {
                // The earlier DLE was noise; this one may still open a frame.
                self.noise_bytes_skipped += 1;
                self.frame_offset = offset;
            }
            _ => {
                self.noise_bytes_skipped += 2;
                self.state = State::Hunting;
            }
        }
    }

    fn start_frame(&mut self, frame_offset: usize) {
        self.apdu.clear();
        self.frame_offset = frame_offset;
        self.discarding = false;
        self.state = State::Data;
    }

    fn data(&mut self, byte: u8) -> Option<FrameEvent> {
        if byte == DLE {
            self.state = State::DataAfterDle;
            return None;
        }
        self.keep(byte)
    }

    fn data_after_dle(&mut self, byte: u8, offset: usize) -> Option<FrameEvent> {
        match byte {
            DLE => {
                self.state = State::Data;
                self.keep(DLE)
            }
            ETX => {
                self.state = State::CrcLow;
                None
            }
            STX => {
                // A new frame begins inside this one: the sender restarted. The broken frame is
                // reported (it is answered with NAK) and the new one is read.
                let was_discarding = self.discarding;
                self.start_frame(offset.saturating_sub(1));
                (!was_discarding).then_some(FrameEvent::Rejected(FrameError::UnexpectedAfterDle { offset, byte }))
            }
            _ => self.discard(FrameError::UnexpectedAfterDle { offset, byte }),
        }
    }

    fn crc_high(&mut self, byte: u8) -> Option<FrameEvent> {
        self.state = State::Hunting;
        if self.discarding {
            self.discarding = false;
            return None;
        }
        let received = u16::from_le_bytes([self.crc_low, byte]);
        let computed = frame_crc(&self.apdu);
        let apdu = std::mem::take(&mut self.apdu);
        if received == computed {
            Some(FrameEvent::Frame(apdu))
        } else {
            Some(FrameEvent::Rejected(FrameError::BadCrc { offset: self.frame_offset, computed, received }))
        }
    }

    fn keep(&mut self, byte: u8) -> Option<FrameEvent> {
        if self.discarding {
            return None;
        }
        if self.apdu.len() >= APDU_BYTES_MAX {
            return self.discard(FrameError::TooLong { offset: self.frame_offset });
        }
        self.apdu.push(byte);
        None
    }

    /// Skips the rest of the current frame; reports `error` unless the frame was already broken.
    fn discard(&mut self, error: FrameError) -> Option<FrameEvent> {
        if self.state == State::DataAfterDle {
            self.state = State::Data;
        }
        let already = self.discarding;
        self.discarding = true;
        self.apdu = Vec::new();
        (!already).then_some(FrameEvent::Rejected(error))
    }
}

/// Decodes exactly one frame (noise before it is skipped); an entry point for fuzzing. Never panics.
///
/// Returns the unstuffed APDU bytes.
pub fn decode_frame(bytes: &[u8]) -> Result<Vec<u8>, FrameError> {
    let mut decoder = FrameDecoder::new();
    for (index, &byte) in bytes.iter().enumerate() {
        match decoder.push(byte) {
            Some(FrameEvent::Frame(apdu)) => {
                let used = index + 1;
                if used < bytes.len() {
                    return Err(FrameError::TrailingBytes { offset: used, count: bytes.len() - used });
                }
                return Ok(apdu);
            }
            Some(FrameEvent::Rejected(error)) => return Err(error),
            // Outside a frame, lone ACK and NAK bytes are just more noise here.
            Some(FrameEvent::Ack) | Some(FrameEvent::Nak) | None => {}
        }
    }
    Err(decoder.end_of_input_error())
}

#[cfg(test)]
mod tests {
    use super::super::encode_frame;
    use super::*;

    #[test]
    fn frames_arrive_byte_by_byte() {
        let frame = encode_frame(&[0x06, 0x01, 0x07, 0x04, 0x00, 0x00, 0x00, 0x00, 0x16, 0x10]);
        let mut decoder = FrameDecoder::new();
        let mut events = Vec::new();
        for byte in &frame {
            events.extend(decoder.push(*byte));
        }
        assert_eq!(events, vec![FrameEvent::Frame(vec![0x06, 0x01, 0x07, 0x04, 0x00, 0x00, 0x00, 0x00, 0x16, 0x10])]);
        assert!(decoder.is_idle());
    }

    #[test]
    fn ack_then_frame_in_one_read() {
        let mut bytes = vec![ACK];
        bytes.extend(encode_frame(&[0x80, 0x00, 0x00]));
        bytes.push(NAK);
        let events = FrameDecoder::new().feed(&bytes);
        assert_eq!(events, vec![FrameEvent::Ack, FrameEvent::Frame(vec![0x80, 0x00, 0x00]), FrameEvent::Nak]);
    }

    #[test]
    fn noise_is_skipped_and_counted() {
        let mut bytes = vec![0x00, 0xFF, DLE, 0x41, DLE];
        bytes.extend(encode_frame(&[0x80, 0x00, 0x00]));
        let mut decoder = FrameDecoder::new();
        assert_eq!(decoder.feed(&bytes), vec![FrameEvent::Frame(vec![0x80, 0x00, 0x00])]);
        assert_eq!(decoder.noise_bytes_skipped(), 5);
    }

    #[test]
    fn bad_crc_is_reported_with_the_frame_offset() {
        let mut bytes = vec![0x00];
        bytes.extend(encode_frame(&[0x80, 0x00, 0x00]));
        let last = bytes.len() - 1;
        bytes[last] ^= 0xFF;
        let events = FrameDecoder::new().feed(&bytes);
        assert_eq!(
            events,
            vec![FrameEvent::Rejected(FrameError::BadCrc { offset: 1, computed: 0x1FF5, received: 0xE0F5 })]
        );
    }

    #[test]
    fn a_broken_frame_is_skipped_to_its_end() {
        // DLE 41 inside a frame; the 06 after it must not read as ACK.
        let mut bytes = vec![DLE, STX, 0x80, DLE, 0x41, ACK, DLE, ETX, 0x00, 0x00];
        bytes.extend(encode_frame(&[0x80, 0x00, 0x00]));
        let events = FrameDecoder::new().feed(&bytes);
        assert_eq!(
            events,
            vec![
                FrameEvent::Rejected(FrameError::UnexpectedAfterDle { offset: 4, byte: 0x41 }),
                FrameEvent::Frame(vec![0x80, 0x00, 0x00]),
            ]
        );
    }

    #[test]
    fn a_restarted_frame_is_read() {
        let mut bytes = vec![DLE, STX, 0x80, 0x00];
        bytes.extend(encode_frame(&[0x80, 0x00, 0x00]));
        let events = FrameDecoder::new().feed(&bytes);
        assert_eq!(
            events,
            vec![
                FrameEvent::Rejected(FrameError::UnexpectedAfterDle { offset: 5, byte: STX }),
                FrameEvent::Frame(vec![0x80, 0x00, 0x00]),
            ]
        );
    }

    #[test]
    fn one_shot_errors() {
        assert_eq!(decode_frame(&[0x00, 0x01]), Err(FrameError::NoFrameStart { offset: 2 }));
        let frame = encode_frame(&[0x80, 0x00, 0x00]);
        assert_eq!(
            decode_frame(&frame[..frame.len() - 1]),
            Err(FrameError::Truncated { offset: frame.len() - 1, expected: "the CRC high byte" })
        );
        let mut trailing = frame.clone();
        trailing.push(0x00);
        assert_eq!(decode_frame(&trailing), Err(FrameError::TrailingBytes { offset: frame.len(), count: 1 }));
    }
}
