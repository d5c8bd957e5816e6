//! Transports: the ECR link as a byte stream that carries APDUs, on serial or on TCP.
//!
//! [`ZvtLink`] is what the ECR driver and the terminal simulator hold. It sends one APDU and
//! receives one APDU, each within a bound, and never hangs:
//!
//! - [`serial::SerialLink`] frames each APDU (`DLE STX … DLE ETX CRC`), waits up to
//!   [`ACK_TIMEOUT_MS`] for `ACK` and resends on `NAK` or silence, at most [`SEND_TRIES_MAX`]
//!   tries in all; received frames are answered `ACK`, or `NAK` when their CRC is bad, also while
//!   its own frame waits for its `ACK`, and a frame the peer sends again after a lost `ACK` is
//!   taken once ([`crate::zvt::serial::LinkEnd`]). A task reads the line all the time, so the
//!   `ACK` leaves within the bound whatever the application does. It runs over any
//!   `AsyncRead + AsyncWrite`, so tests use a pseudo-terminal pair; [`fd::FdStream`] makes a tty
//!   file descriptor (a real serial port opened with `serialport`, or a pty) such a stream.
//! - [`tcp::TcpLink`] sends bare APDUs and finds their ends with
//!   [`crate::zvt::apdu::encoded_length`]; TCP itself delivers and orders, so there is no ACK.

pub mod fd;
pub mod serial;
pub mod tcp;

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::apdu::{Apdu, ApduError};
pub use super::serial::link::{LinkRole, ACK_TIMEOUT_MS, SEND_TRIES_MAX};
use super::serial::FrameError;

/// A byte stream a link can own: a pty, a serial port, a TCP socket, an in-memory pipe.
pub trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for T {}

/// How long writing one frame or APDU to the stream may take. At 9,600 baud 2 stop bits a byte
/// takes about 1.15 ms, so even the longest APDU (65,540 bytes, doubled by DLE stuffing) needs
/// about 150 s; real messages are below 1,000 bytes (about 1.2 s). A write that takes longer
/// than this bound means the port is stuck.
pub const WRITE_TIMEOUT_MS: u64 = 10_000;
/// The most stale APDUs [`ZvtLink::discard_pending`] drops in one call.
pub const STALE_APDUS_MAX: usize = 16;
/// How many bytes one read from the stream asks for.
pub const READ_CHUNK_BYTES: usize = 1_024;

/// Why the link could not carry an APDU.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("no APDU arrived within {waited_ms} ms")]
    ReceiveTimeout { waited_ms: u64 },
    #[error("the peer did not acknowledge a frame after {tries} tries (NAK or no ACK within {ACK_TIMEOUT_MS} ms)")]
    NotAcknowledged { tries: u32 },
    #[error("writing to the link took more than {WRITE_TIMEOUT_MS} ms")]
    WriteTimeout,
    #[error("the peer closed the link")]
    Closed,
    #[error("link I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the peer sent bytes that are not an APDU: {0}")]
    Apdu(#[from] ApduError),
    #[error("the serial frame could not be read: {0}")]
    Frame(#[from] FrameError),
}

/// A fault the terminal simulator injects into its own side of a serial link, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkFault {
    /// The next frame sent goes out first with a wrong CRC; the peer NAKs it and it is resent.
    BadCrcOnce,
    /// The `ACK` of the next frame received is not sent, as if it was lost on the line: the
    /// frame is taken, the peer resends it after [`ACK_TIMEOUT_MS`], and the copy is
    /// acknowledged but not taken twice.
    DropAckOnce,
}

/// The ECR link, on serial or TCP.
pub enum ZvtLink {
    Serial(serial::SerialLink),
    Tcp(tcp::TcpLink),
}

impl ZvtLink {
    /// A serial link (framing, ACK/NAK, resends) over `stream`, for the ECR's or the terminal's
    /// side; starts the link's task, so it must be called inside a tokio runtime.
    pub fn serial(stream: impl ByteStream + 'static, role: LinkRole) -> ZvtLink {
        ZvtLink::Serial(serial::SerialLink::new(Box::new(stream), role))
    }

    /// A TCP-style link (bare APDUs) over `stream`.
    pub fn tcp(stream: impl ByteStream + 'static) -> ZvtLink {
        ZvtLink::Tcp(tcp::TcpLink::new(Box::new(stream)))
    }

    /// Sends one APDU; on serial, returns once the peer acknowledged the frame.
    pub async fn send(&mut self, apdu: &Apdu) -> Result<(), LinkError> {
        match self {
            ZvtLink::Serial(link) => link.send(apdu).await,
            ZvtLink::Tcp(link) => link.send(apdu).await,
        }
    }

    /// Receives one APDU, waiting at most `timeout`.
    pub async fn receive(&mut self, timeout: Duration) -> Result<Apdu, LinkError> {
        match self {
            ZvtLink::Serial(link) => link.receive(timeout).await,
            ZvtLink::Tcp(link) => link.receive(timeout).await,
        }
    }

    /// Reads and drops what has already arrived and waits to be received (at most
    /// [`STALE_APDUS_MAX`] APDUs), without waiting for more; returns how many were dropped. The
    /// ECR calls this before a command: while it is master, anything the terminal sent belongs
    /// to a dialogue that has ended and must not be read as the answer to the new command.
    pub async fn discard_pending(&mut self) -> usize {
        let mut discarded = 0;
        while discarded < STALE_APDUS_MAX {
            // A zero timeout still polls once, so what is already there is read.
            match self.receive(Duration::ZERO).await {
                Ok(apdu) => {
                    tracing::warn!(control = %crate::zvt::commands::ControlField::of(&apdu), "dropping a message of an ended dialogue");
                    discarded += 1;
                }
                Err(_) => break,
            }
        }
        discarded
    }

    /// Arms a fault on a serial link; TCP has no link layer to disturb, so there it does nothing
    /// and returns false.
    pub fn inject(&mut self, fault: LinkFault) -> bool {
        match self {
            ZvtLink::Serial(link) => {
                link.inject(fault);
                true
            }
            ZvtLink::Tcp(_) => false,
        }
    }
}

/// Milliseconds of a duration, saturating, for error messages.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Writes all of `bytes` within [`WRITE_TIMEOUT_MS`].
async fn write_bounded(stream: &mut Box<dyn ByteStream>, bytes: &[u8]) -> Result<(), LinkError> {
    use tokio::io::AsyncWriteExt;
    let write = async {
        stream.write_all(bytes).await?;
        stream.flush().await
    };
    match tokio::time::timeout(Duration::from_millis(WRITE_TIMEOUT_MS), write).await {
        Ok(result) => result.map_err(LinkError::from),
        Err(_) => Err(LinkError::WriteTimeout),
    }
}
