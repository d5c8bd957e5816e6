//! A tty file descriptor as a tokio stream: a real serial port, or one side of a pseudo-terminal.
//!
//! The bridge to tokio is [`tokio::io::unix::AsyncFd`]: the descriptor is put in non-blocking
//! mode and registered with the reactor, and reads and writes happen when it says the descriptor
//! is ready. We chose this over blocking reader and writer threads (`spawn_blocking`) because a
//! thread blocked in `read` cannot be cancelled: a link timeout would leave it behind holding the
//! port, and a runtime shutting down would wait for it. With `AsyncFd` a timed-out read is simply
//! dropped. (No `unsafe` is needed: the owned value, a `File` or a `serialport::TTYPort`, keeps
//! the descriptor and closes it.)
//!
//! [`open_serial_port`] opens a real device with `serialport` at the line settings of
//! PROTOCOLS.md §3 (9,600 baud, 8 data bits, no parity, 2 stop bits, no flow control).
//! [`pty_stream`] wraps one side of a pty pair in raw mode, so bytes pass unchanged (no echo, no
//! CR/LF translation, no line discipline), as tests and the demo need.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::zvt::serial::{BAUD_RATE, DATA_BITS, STOP_BITS};

/// A non-blocking tty descriptor (owned by `T`) read and written through the tokio reactor.
pub struct FdStream<T: AsRawFd + Read + Write> {
    inner: AsyncFd<T>,
}

impl<T: AsRawFd + Read + Write> FdStream<T> {
    /// Puts the descriptor in non-blocking mode and registers it with the reactor.
    ///
    /// Private, and used only with `File` and `serialport::TTYPort`: tokio deprecated
    /// `AsyncFd::new` because an arbitrary `T` might close its descriptor while it is registered
    /// (the fix, `AsyncFd::register`, is `unsafe`, which this workspace forbids). Both types here
    /// close their descriptor only when dropped, and `AsyncFd` deregisters before it drops them,
    /// so the hazard cannot arise.
    #[allow(deprecated)]
    fn new(inner: T) -> io::Result<FdStream<T>> {
        set_nonblocking(inner.as_raw_fd())?;
        Ok(FdStream { inner: AsyncFd::new(inner)? })
    }

    pub fn get_ref(&self) -> &T {
        self.inner.get_ref()
    }
}

fn set_nonblocking(fd: std::os::fd::RawFd) -> io::Result<()> {
    let flags = fcntl(fd, FcntlArg::F_GETFL).map_err(io::Error::from)?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(fd, FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
    Ok(())
}

/// `serialport` reports "nothing there yet" as a timeout (its poll has a zero timeout here);
/// for the reactor that is "would block": wait for the next readiness.
fn would_block_on_timeout<R>(result: io::Result<R>) -> io::Result<R> {
    result.map_err(|error| {
        if error.kind() == io::ErrorKind::TimedOut {
            io::Error::from(io::ErrorKind::WouldBlock)
        } else {
            error
        }
    })
}

impl<T: AsRawFd + Read + Write + Unpin> AsyncRead for FdStream<T> {
    fn poll_read(self: Pin<&mut Self>, context: &mut Context<'_>, buffer: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.inner.poll_read_ready_mut(context))?;
            let unfilled = buffer.initialize_unfilled();
            match guard.try_io(|inner| would_block_on_timeout(inner.get_mut().read(unfilled))) {
                Ok(Ok(count)) => {
                    buffer.advance(count);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(error)) => return Poll::Ready(Err(error)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl<T: AsRawFd + Read + Write + Unpin> AsyncWrite for FdStream<T> {
    fn poll_write(self: Pin<&mut Self>, context: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.inner.poll_write_ready_mut(context))?;
            match guard.try_io(|inner| would_block_on_timeout(inner.get_mut().write(bytes))) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _context: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go straight to the descriptor; there is no buffer of ours to flush.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Why a serial port could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open serial port {path}: {source}")]
    Open { path: String, source: serialport::Error },
    #[error("cannot set up serial port {path}: {source}")]
    Setup { path: String, source: io::Error },
}

/// Opens a real serial device at 9,600 baud 8N2 without flow control, as a tokio stream.
pub fn open_serial_port(path: &Path) -> Result<FdStream<serialport::TTYPort>, OpenError> {
    let name = path.display().to_string();
    let stop_bits = if STOP_BITS == 2 { serialport::StopBits::Two } else { serialport::StopBits::One };
    let data_bits = if DATA_BITS == 8 { serialport::DataBits::Eight } else { serialport::DataBits::Seven };
    let mut port = serialport::new(name.clone(), BAUD_RATE)
        .data_bits(data_bits)
        .parity(serialport::Parity::None)
        .stop_bits(stop_bits)
        .flow_control(serialport::FlowControl::None)
        .open_native()
        .map_err(|source| OpenError::Open { path: name.clone(), source })?;
    // Reads happen only when the reactor reports data, so serialport's own wait must not block.
    serialport::SerialPort::set_timeout(&mut port, Duration::ZERO)
        .map_err(|source| OpenError::Open { path: name.clone(), source })?;
    FdStream::new(port).map_err(|source| OpenError::Setup { path: name, source })
}

/// One side of a pseudo-terminal in raw mode, as a tokio stream.
pub fn pty_stream(fd: OwnedFd) -> io::Result<FdStream<File>> {
    let mut termios = tcgetattr(&fd).map_err(io::Error::from)?;
    cfmakeraw(&mut termios);
    tcsetattr(&fd, SetArg::TCSANOW, &termios).map_err(io::Error::from)?;
    FdStream::new(File::from(fd))
}

/// A connected pseudo-terminal pair in raw mode: (master side, slave side). Either side can be
/// the ECR or the terminal; bytes written to one are read from the other.
pub fn pty_pair() -> io::Result<(FdStream<File>, FdStream<File>)> {
    let pair = nix::pty::openpty(None, None).map_err(io::Error::from)?;
    Ok((pty_stream(pair.master)?, pty_stream(pair.slave)?))
}
