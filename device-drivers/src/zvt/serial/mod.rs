//! Serial framing: how APDUs travel over the RS-232 link (PROTOCOLS.md §3, serial transport).
//!
//! A frame is `DLE STX`, the APDU with every `DLE` doubled, `DLE ETX`, then the CRC low byte and
//! high byte. The CRC is CRC-16/KERMIT over the unstuffed APDU followed by `ETX`. The receiver
//! answers each frame with the single byte `ACK` or `NAK`; [`link`] holds the resend rule and one
//! whole end of the link (collisions, copies after a lost `ACK`) as pure state machines, and the
//! timing as named constants. This module does no I/O and reads no clock: the serial transport
//! feeds it bytes and the time and asks it what to send.

pub mod crc;
pub mod decoder;
pub mod link;

pub use crc::{crc16_kermit, frame_crc};
pub use decoder::{decode_frame, FrameDecoder, FrameError, FrameEvent};
pub use link::{
    receiver_reply, transmit_ms, LinkBusy, LinkEnd, LinkOutput, LinkRole, LinkStatistics, OwnFault, SendAttempts,
    SendFailed, SendStep,
};

use super::apdu::Apdu;

/// Data link escape: starts every control pair and is doubled when it is data.
pub const DLE: u8 = 0x10;
/// Start of text: `DLE STX` opens a frame.
pub const STX: u8 = 0x02;
/// End of text: `DLE ETX` closes a frame's data; the CRC covers it.
pub const ETX: u8 = 0x03;
/// Positive link acknowledgement, sent alone (no `DLE` before it).
pub const ACK: u8 = 0x06;
/// Negative link acknowledgement, sent alone: the frame must be sent again.
pub const NAK: u8 = 0x15;

/// The link speed PROTOCOLS.md §3 fixes: 9,600 baud, 8 data bits, no parity, 2 stop bits.
pub const BAUD_RATE: u32 = 9_600;
pub const DATA_BITS: u8 = 8;
pub const STOP_BITS: u8 = 2;

/// The frame around an APDU's bytes, ready to write to the port.
pub fn encode_frame(apdu_bytes: &[u8]) -> Vec<u8> {
    // Worst case every byte is a DLE and doubles; plus six bytes of frame.
    let mut frame = Vec::with_capacity(apdu_bytes.len() * 2 + 6);
    frame.extend_from_slice(&[DLE, STX]);
    for &byte in apdu_bytes {
        frame.push(byte);
        if byte == DLE {
            frame.push(DLE);
        }
    }
    frame.extend_from_slice(&[DLE, ETX]);
    frame.extend_from_slice(&frame_crc(apdu_bytes).to_le_bytes());
    frame
}

/// The frame around an APDU.
pub fn encode_apdu_frame(apdu: &Apdu) -> Vec<u8> {
    encode_frame(&apdu.encode())
}
