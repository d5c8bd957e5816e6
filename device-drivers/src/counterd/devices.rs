//! Where counterd finds its devices. [`SystemDevices`] opens the configured serial ports and TCP
//! address; tests and other set-ups may give their own [`DeviceOpener`].

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use pos_core::api::DeviceStatus;

use crate::zvt::transport::fd::open_serial_port;
use crate::zvt::transport::{ByteStream, LinkRole, ZvtLink};

/// How long connecting to a terminal over TCP may take.
pub const TERMINAL_CONNECT_TIMEOUT_MS: u64 = 3_000;

/// Where the payment terminal is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalAddress {
    /// A serial port (or a pty): framed ZVT.
    Serial(PathBuf),
    /// `host:port`: ZVT over TCP, unframed.
    Tcp(String),
}

impl FromStr for TerminalAddress {
    type Err = DeviceError;

    /// `tcp:host:port`, `serial:/dev/ttyUSB0`, or a bare path.
    fn from_str(text: &str) -> Result<TerminalAddress, DeviceError> {
        if let Some(address) = text.strip_prefix("tcp:") {
            if address.rsplit_once(':').is_none_or(|(_, port)| port.parse::<u16>().is_err()) {
                return Err(DeviceError::BadAddress(text.to_string()));
            }
            return Ok(TerminalAddress::Tcp(address.to_string()));
        }
        let path = text.strip_prefix("serial:").unwrap_or(text);
        if path.is_empty() {
            return Err(DeviceError::BadAddress(text.to_string()));
        }
        Ok(TerminalAddress::Serial(PathBuf::from(path)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("{0:?} is neither tcp:host:port nor a serial device path")]
    BadAddress(String),
    #[error("cannot open {device}: {reason}")]
    Open { device: String, reason: String },
}

/// Opens the counter's devices, again after each loss.
pub trait DeviceOpener: Send + Sync {
    /// The payment terminal's link. Called again (with backoff) after the link was lost.
    fn open_terminal(&self) -> Result<ZvtLink, DeviceError>;
    /// The printer's byte stream; `None` when the counter has no printer.
    fn open_printer(&self) -> Option<Result<Box<dyn ByteStream>, DeviceError>>;
    /// The barcode scanner's byte stream, with anything scanned before now discarded; `None`
    /// when the counter has no scanner.
    fn open_scanner(&self) -> Option<Result<Box<dyn ByteStream>, DeviceError>>;
    /// Whether the scanner is there.
    fn scanner_status(&self) -> DeviceStatus;
}

/// The devices of the settings: serial ports by path, the terminal possibly over TCP.
#[derive(Debug, Clone)]
pub struct SystemDevices {
    pub terminal: TerminalAddress,
    pub printer: Option<PathBuf>,
    pub scanner: Option<PathBuf>,
}

impl DeviceOpener for SystemDevices {
    fn open_terminal(&self) -> Result<ZvtLink, DeviceError> {
        match &self.terminal {
            TerminalAddress::Serial(path) => open_serial_port(path)
                .map(|port| ZvtLink::serial(port, LinkRole::Ecr))
                .map_err(|e| DeviceError::Open { device: path.display().to_string(), reason: e.to_string() }),
            TerminalAddress::Tcp(address) => {
                let open_error = |reason: String| DeviceError::Open { device: address.clone(), reason };
                let socket = address
                    .to_socket_addrs()
                    .map_err(|e| open_error(e.to_string()))?
                    .next()
                    .ok_or_else(|| open_error("no address".to_string()))?;
                let stream =
                    std::net::TcpStream::connect_timeout(&socket, Duration::from_millis(TERMINAL_CONNECT_TIMEOUT_MS))
                        .map_err(|e| open_error(e.to_string()))?;
                stream.set_nonblocking(true).map_err(|e| open_error(e.to_string()))?;
                let stream = tokio::net::TcpStream::from_std(stream).map_err(|e| open_error(e.to_string()))?;
                Ok(ZvtLink::tcp(stream))
            }
        }
    }

    fn open_printer(&self) -> Option<Result<Box<dyn ByteStream>, DeviceError>> {
        let path = self.printer.as_ref()?;
        Some(
            open_serial_port(path)
                .map(|stream| Box::new(stream) as Box<dyn ByteStream>)
                .map_err(|e| DeviceError::Open { device: path.display().to_string(), reason: e.to_string() }),
        )
    }

    fn open_scanner(&self) -> Option<Result<Box<dyn ByteStream>, DeviceError>> {
        let path = self.scanner.as_ref()?;
        let open_error = |reason: String| DeviceError::Open { device: path.display().to_string(), reason };
        Some(open_serial_port(path).map_err(|e| open_error(e.to_string())).and_then(|stream| {
            // A code lying in the line's buffer was scanned before anyone asked: a stale one.
            serialport::SerialPort::clear(stream.get_ref(), serialport::ClearBuffer::Input)
                .map_err(|e| open_error(e.to_string()))?;
            Ok(Box::new(stream) as Box<dyn ByteStream>)
        }))
    }

    fn scanner_status(&self) -> DeviceStatus {
        match &self.scanner {
            None => DeviceStatus::Absent,
            Some(path) if path.exists() => DeviceStatus::Ready,
            Some(_) => DeviceStatus::Disconnected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_addresses_parse() {
        assert_eq!(
            "tcp:10.0.0.5:20007".parse::<TerminalAddress>().ok(),
            Some(TerminalAddress::Tcp("10.0.0.5:20007".into()))
        );
        assert_eq!(
            "/dev/ttyUSB0".parse::<TerminalAddress>().ok(),
            Some(TerminalAddress::Serial(PathBuf::from("/dev/ttyUSB0")))
        );
        assert_eq!(
            "serial:/dev/ttyS1".parse::<TerminalAddress>().ok(),
            Some(TerminalAddress::Serial(PathBuf::from("/dev/ttyS1")))
        );
        assert!("tcp:nohost".parse::<TerminalAddress>().is_err());
        assert!("".parse::<TerminalAddress>().is_err());
    }
}
