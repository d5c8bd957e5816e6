//! The TCP link (port 20007 by convention): bare APDUs one after another, no framing, no CRC, no
//! ACK byte. [`crate::zvt::apdu::encoded_length`] says where each APDU ends.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use super::serial::closed_or_io;
use super::{millis, write_bounded, ByteStream, LinkError, READ_CHUNK_BYTES};
use crate::zvt::apdu::{encoded_length, Apdu};

/// The conventional TCP port of a ZVT terminal.
pub const ZVT_TCP_PORT: u16 = 20_007;

pub struct TcpLink {
    stream: Box<dyn ByteStream>,
    buffer: Vec<u8>,
}

impl TcpLink {
    pub fn new(stream: Box<dyn ByteStream>) -> TcpLink {
        TcpLink { stream, buffer: Vec::new() }
    }

    pub async fn send(&mut self, apdu: &Apdu) -> Result<(), LinkError> {
        write_bounded(&mut self.stream, &apdu.encode()).await
    }

    pub async fn receive(&mut self, timeout: Duration) -> Result<Apdu, LinkError> {
        let until = Instant::now() + timeout;
        loop {
            if let Some(length) = encoded_length(&self.buffer)? {
                if self.buffer.len() >= length {
                    let rest = self.buffer.split_off(length);
                    let bytes = std::mem::replace(&mut self.buffer, rest);
                    return Ok(Apdu::decode(&bytes)?);
                }
            }
            let mut chunk = [0u8; READ_CHUNK_BYTES];
            match tokio::time::timeout_at(until, self.stream.read(&mut chunk)).await {
                Err(_) => return Err(LinkError::ReceiveTimeout { waited_ms: millis(timeout) }),
                Ok(Ok(0)) => return Err(LinkError::Closed),
                Ok(Ok(count)) => self.buffer.extend_from_slice(&chunk[..count]),
                Ok(Err(error)) => return Err(closed_or_io(error)),
            }
        }
    }
}
