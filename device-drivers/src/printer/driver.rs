//! The printer driver: prints documents, kicks the drawer and asks for status, over any byte
//! stream (a serial port opened with [`crate::zvt::transport::fd::open_serial_port`], a pty in
//! tests). Every write and every wait for an answer has a named bound.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::document::Document;
use super::escpos::{self, Command, DrawerPin};
use super::receipt::{Receipt, RECEIPT_WIDTH};
use super::status::{is_status_byte, DrawerOpenLevel, PrinterStatus, StatusError, QUERIES};

/// How long the printer may take to answer one real-time status query. Printers answer
/// `DLE EOT` at once, even mid-print; a second of silence means it is off or unplugged.
pub const STATUS_ANSWER_TIMEOUT_MS: u64 = 1_000;
/// How long writing one document may take. A receipt is about 2 KB, 2 s at 9,600 baud; a
/// printer that takes longer is holding the line (busy signal, paper out on a model that
/// blocks).
pub const WRITE_TIMEOUT_MS: u64 = 10_000;
/// The most bytes skipped while waiting for a status answer (bytes that cannot be an answer,
/// such as line noise), before the printer is called confused.
pub const STRAY_BYTES_MAX: usize = 64;
/// How long the drawer solenoid is driven. 50 ms on, 500 ms off is the pulse drawers are made
/// for (`ESC p 0 25 250`).
pub const DRAWER_PULSE_ON_MS: u16 = 50;
pub const DRAWER_PULSE_OFF_MS: u16 = 500;

/// How this counter's printer and drawer are wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrinterSettings {
    pub drawer_pin: DrawerPin,
    pub drawer_open_level: DrawerOpenLevel,
    pub status_answer_timeout_ms: u64,
}

impl Default for PrinterSettings {
    fn default() -> PrinterSettings {
        PrinterSettings {
            drawer_pin: DrawerPin::Pin2,
            drawer_open_level: DrawerOpenLevel::High,
            status_answer_timeout_ms: STATUS_ANSWER_TIMEOUT_MS,
        }
    }
}

/// Why the printer did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum PrinterError {
    #[error("the printer did not answer status query {query} within {waited_ms} ms")]
    StatusTimeout { query: u8, waited_ms: u64 },
    #[error("the printer sent {STRAY_BYTES_MAX} bytes that are not a status answer to query {query}")]
    StrayBytes { query: u8 },
    #[error("the printer's status answer could not be read: {0}")]
    Status(#[from] StatusError),
    #[error("the printer cannot print now: {status}")]
    NotReady { status: PrinterStatus },
    #[error("writing to the printer took more than {WRITE_TIMEOUT_MS} ms")]
    WriteTimeout,
    #[error("the printer closed the line")]
    Closed,
    #[error("printer I/O failed: {0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for PrinterError {
    /// End of file, and `EIO` from a pty whose other side closed, are the printer going away.
    fn from(error: std::io::Error) -> PrinterError {
        if error.kind() == std::io::ErrorKind::UnexpectedEof || error.raw_os_error() == Some(nix::libc::EIO) {
            PrinterError::Closed
        } else {
            PrinterError::Io(error)
        }
    }
}

/// An ESC/POS printer with its cash drawer.
pub struct Printer<S> {
    stream: S,
    settings: PrinterSettings,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Printer<S> {
    pub fn new(stream: S, settings: PrinterSettings) -> Printer<S> {
        Printer { stream, settings }
    }

    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Asks every real-time status query and folds the answers into one status.
    pub async fn status(&mut self) -> Result<PrinterStatus, PrinterError> {
        let mut status = PrinterStatus::default();
        for query in QUERIES {
            let mut bytes = Vec::with_capacity(3);
            Command::StatusQuery(query).encode_into(&mut bytes);
            self.write(&bytes).await?;
            let answer = self.read_status_answer(query).await?;
            status.apply(query, answer, self.settings.drawer_open_level)?;
        }
        Ok(status)
    }

    /// Prints `document` if the printer is ready; otherwise says why not and sends nothing, so
    /// a receipt is never half printed into a closed cover or an empty roll.
    pub async fn print(&mut self, document: &Document) -> Result<PrinterStatus, PrinterError> {
        let status = self.status().await?;
        if !status.can_print() {
            return Err(PrinterError::NotReady { status });
        }
        self.write(&document.encode()).await?;
        Ok(status)
    }

    /// Prints the city's receipt at [`RECEIPT_WIDTH`].
    pub async fn print_receipt(&mut self, receipt: &Receipt) -> Result<PrinterStatus, PrinterError> {
        self.print(&receipt.document(RECEIPT_WIDTH)).await
    }

    /// Sends the drawer kick pulse. Whether the drawer opened shows in the next [`Self::status`].
    pub async fn open_drawer(&mut self) -> Result<(), PrinterError> {
        let pulse = escpos::drawer_kick(self.settings.drawer_pin, DRAWER_PULSE_ON_MS, DRAWER_PULSE_OFF_MS);
        self.write(&pulse).await
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), PrinterError> {
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(Duration::from_millis(WRITE_TIMEOUT_MS), write).await {
            Ok(result) => result.map_err(PrinterError::from),
            Err(_elapsed) => Err(PrinterError::WriteTimeout),
        }
    }

    /// The first byte that looks like a status answer, within the answer timeout.
    async fn read_status_answer(&mut self, query: u8) -> Result<u8, PrinterError> {
        let waited_ms = self.settings.status_answer_timeout_ms;
        let deadline = Instant::now() + Duration::from_millis(waited_ms);
        for _ in 0..=STRAY_BYTES_MAX {
            let byte = match tokio::time::timeout_at(deadline, self.stream.read_u8()).await {
                Ok(result) => result?,
                Err(_elapsed) => return Err(PrinterError::StatusTimeout { query, waited_ms }),
            };
            if is_status_byte(byte) {
                return Ok(byte);
            }
            tracing::warn!(query, byte, "skipping a byte from the printer that is not a status answer");
        }
        Err(PrinterError::StrayBytes { query })
    }
}
