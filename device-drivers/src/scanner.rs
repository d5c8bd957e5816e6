//! The barcode scanner: a line-based serial device (USB-CDC or RS-232, both a tty) that sends
//! each scanned code followed by a suffix (CR, LF or CR LF), delivered here as a stream of codes.
//!
//! Framing and transport are apart, as for ZVT: [`LineFramer`] finds codes in bytes however they
//! arrive (a code split across reads, several codes in one read) with no I/O, and
//! [`Scanner::spawn`] reads a stream in a task and sends each code on a bounded channel.
//! Tolerance: non-printable bytes around a code (line noise, a stray CR or LF of another suffix
//! style) are trimmed, empty lines are skipped, and a line longer than [`CODE_BYTES_MAX`] is
//! dropped with a logged error; the framer then ignores everything up to the next suffix and
//! starts afresh, so garbage costs at most the one line it is in.
//!
//! A real device is opened with [`crate::zvt::transport::fd::open_serial_port`]; its 8N2 setting
//! also receives a scanner's 8N1 (a receiver checks only the first stop bit), and USB-CDC ignores
//! line settings.

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The longest code accepted, in bytes. Payment QR codes (PayPay, LINE Pay, d払い …) are well
/// under 512 bytes; a QR code can hold at most 2,953 bytes of binary data, so anything longer is
/// not a code but garbage on the line.
pub const CODE_BYTES_MAX: usize = 4_096;
/// How many scanned codes may wait for the consumer. A clerk scans one code per payment; more
/// waiting means nobody is reading, and the reader then waits rather than buffer without end.
pub const CODES_QUEUED_MAX: usize = 16;
/// How many bytes one read asks for.
pub const READ_CHUNK_BYTES: usize = 1_024;

const CR: u8 = 0x0D;
const LF: u8 = 0x0A;

/// What ends a code, as set in the scanner's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suffix {
    Cr,
    Lf,
    CrLf,
}

impl Suffix {
    /// The byte that ends a line. For CR LF it is the LF; the CR before it is trimmed as a
    /// non-printable byte, so a CR LF scanner also works when set to LF.
    fn terminator(self) -> u8 {
        match self {
            Suffix::Cr => CR,
            Suffix::Lf | Suffix::CrLf => LF,
        }
    }
}

/// One scanned code: its bytes without suffix or surrounding noise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedCode(Vec<u8>);

impl ScannedCode {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The code as text, when it is UTF-8 (payment QR codes are ASCII).
    pub fn as_text(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.0)
    }
}

/// What the framer made of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framed {
    Code(ScannedCode),
    /// A line longer than [`CODE_BYTES_MAX`] was dropped; `bytes_dropped` counts what was read
    /// of it when the limit was reached.
    TooLong {
        bytes_dropped: usize,
    },
}

/// Finds codes in a byte stream.
#[derive(Debug)]
pub struct LineFramer {
    terminator: u8,
    code_bytes_max: usize,
    line: Vec<u8>,
    /// Set after an over-long line: everything up to the next terminator belongs to it.
    discarding: bool,
}

impl LineFramer {
    pub fn new(suffix: Suffix) -> LineFramer {
        LineFramer::with_limit(suffix, CODE_BYTES_MAX)
    }

    pub fn with_limit(suffix: Suffix, code_bytes_max: usize) -> LineFramer {
        LineFramer { terminator: suffix.terminator(), code_bytes_max, line: Vec::new(), discarding: false }
    }

    /// Takes the next bytes read and returns what they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Framed> {
        let mut framed = Vec::new();
        for &byte in bytes {
            if byte == self.terminator {
                if self.discarding {
                    self.discarding = false;
                } else if let Some(code) = self.finish_line() {
                    framed.push(Framed::Code(code));
                }
                continue;
            }
            if self.discarding {
                continue;
            }
            // Leading noise never becomes part of a code, and is not counted against the limit.
            if self.line.is_empty() && !is_code_edge(byte) {
                continue;
            }
            if self.line.len() == self.code_bytes_max {
                framed.push(Framed::TooLong { bytes_dropped: self.line.len() + 1 });
                self.line.clear();
                self.discarding = true;
                continue;
            }
            self.line.push(byte);
        }
        framed
    }

    /// Bytes of an unfinished line, held until its suffix arrives.
    pub fn pending_bytes(&self) -> usize {
        self.line.len()
    }

    fn finish_line(&mut self) -> Option<ScannedCode> {
        let line = std::mem::take(&mut self.line);
        let end = line.iter().rposition(|&byte| is_code_edge(byte)).map_or(0, |last| last + 1);
        (end > 0).then(|| ScannedCode(line[..end].to_vec()))
    }
}

/// Whether a code may begin or end with this byte: printable ASCII other than the space, or
/// any byte of a multi-byte character. Control bytes, DEL and spaces around a code are noise;
/// inside a code they are kept (GS1 codes separate fields with the control byte GS).
fn is_code_edge(byte: u8) -> bool {
    byte > 0x20 && byte != 0x7F
}

/// Why the scanner stopped delivering codes.
#[derive(Debug, thiserror::Error)]
pub enum ScannerError {
    #[error("the scanner closed the line (unplugged or powered off)")]
    Closed,
    #[error("nobody is reading the scanned codes any more")]
    ConsumerGone,
    #[error("scanner I/O failed: {0}")]
    Io(std::io::Error),
}

/// A running scanner: codes arrive on [`Scanner::next_code`]; when the device goes away the
/// stream ends and [`Scanner::stopped`] says why.
pub struct Scanner {
    codes: mpsc::Receiver<ScannedCode>,
    reader: JoinHandle<ScannerError>,
}

impl Scanner {
    /// Starts reading `stream` in a task.
    pub fn spawn<S: AsyncRead + Send + Unpin + 'static>(stream: S, suffix: Suffix) -> Scanner {
        let (sender, codes) = mpsc::channel(CODES_QUEUED_MAX);
        let reader = tokio::spawn(read_codes(stream, LineFramer::new(suffix), sender));
        Scanner { codes, reader }
    }

    /// The next code, or `None` once the scanner has stopped and every code was taken.
    pub async fn next_code(&mut self) -> Option<ScannedCode> {
        self.codes.recv().await
    }

    /// The receiving end, for a consumer that selects over several devices.
    pub fn into_parts(self) -> (mpsc::Receiver<ScannedCode>, JoinHandle<ScannerError>) {
        (self.codes, self.reader)
    }

    /// Waits for the reader to end (it ends when the device closes) and says why.
    pub async fn stopped(self) -> ScannerError {
        drop(self.codes);
        match self.reader.await {
            Ok(error) => error,
            Err(join_error) => ScannerError::Io(std::io::Error::other(join_error)),
        }
    }
}

async fn read_codes<S: AsyncRead + Unpin>(
    mut stream: S,
    mut framer: LineFramer,
    sender: mpsc::Sender<ScannedCode>,
) -> ScannerError {
    let mut buffer = vec![0_u8; READ_CHUNK_BYTES];
    loop {
        let count = match stream.read(&mut buffer).await {
            Ok(0) => return closed(&framer),
            Ok(count) => count,
            // A pty whose other side closed reads EIO: the device went away.
            Err(error) if error.raw_os_error() == Some(nix::libc::EIO) => return closed(&framer),
            Err(error) => return ScannerError::Io(error),
        };
        for framed in framer.push(&buffer[..count]) {
            match framed {
                Framed::Code(code) => {
                    if sender.send(code).await.is_err() {
                        return ScannerError::ConsumerGone;
                    }
                }
                Framed::TooLong { bytes_dropped } => tracing::error!(
                    bytes_dropped,
                    limit = CODE_BYTES_MAX,
                    "dropping a scanner line longer than the longest code; resuming at the next suffix"
                ),
            }
        }
    }
}

fn closed(framer: &LineFramer) -> ScannerError {
    if framer.pending_bytes() > 0 {
        tracing::warn!(bytes = framer.pending_bytes(), "the scanner closed in the middle of a code; it is dropped");
    }
    ScannerError::Closed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(framed: Vec<Framed>) -> Vec<Vec<u8>> {
        framed
            .into_iter()
            .filter_map(|item| match item {
                Framed::Code(code) => Some(code.as_bytes().to_vec()),
                Framed::TooLong { .. } => None,
            })
            .collect()
    }

    #[test]
    fn a_code_split_across_reads_is_whole() {
        let mut framer = LineFramer::new(Suffix::CrLf);
        assert!(framer.push(b"2812").is_empty());
        assert!(framer.push(b"3456\r").is_empty());
        assert_eq!(codes(framer.push(b"\n")), vec![b"28123456".to_vec()]);
    }

    #[test]
    fn noise_and_empty_lines_are_skipped() {
        let mut framer = LineFramer::new(Suffix::Cr);
        assert_eq!(codes(framer.push(b"\x00\x1b\n\rabc\r\r \r")), vec![b"abc".to_vec()]);
    }

    #[test]
    fn an_over_long_line_is_dropped_until_the_next_suffix() {
        let mut framer = LineFramer::with_limit(Suffix::Lf, 4);
        let framed = framer.push(b"abcdefgh\nok\n");
        assert_eq!(framed, vec![Framed::TooLong { bytes_dropped: 5 }, Framed::Code(ScannedCode(b"ok".to_vec()))]);
        assert_eq!(codes(framer.push(b"abcd\n")), vec![b"abcd".to_vec()]);
    }
}
