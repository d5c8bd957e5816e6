//! Counter hardware: the payment terminal's ECR link, the barcode scanner, the receipt printer
//! and the cash drawer, and the `counterd` bridge between one counter's devices and the gateway.
//!
//! What is built: [`zvt`], the pure ZVT protocol layer (PROTOCOLS.md §3) that counterd uses as the
//! ECR and the terminal simulator will use as the payment terminal. It turns bytes into typed
//! messages and back, with no I/O and no clock: [`zvt::apdu`] (the APDU codec), [`zvt::bcd`],
//! [`zvt::bmp`] (the table of BMP fields) and [`zvt::tlv`] (the TLV container under BMP `06`) are
//! codecs; [`zvt::serial`] finds frames in a serial byte stream (DLE stuffing, CRC-16/KERMIT,
//! ACK/NAK and the resend rule as a pure state machine); [`zvt::commands`] builds and parses every
//! command and answer of the dialogue. Every decoder takes `&[u8]`, never panics, and names the
//! byte offset of what it could not read, so the decoders are fuzzed directly (`fuzz/`).
//!
//! Not built yet: the serial and TCP transports that own the port (with `serialport`) and the
//! socket and drive the link timing, the barcode scanner, the ESC/POS printer and cash drawer, the
//! terminal simulator, and the `counterd` binary. counterd will talk to the gateway only over its
//! public HTTP API, using the API types in `pos_core::api`.

pub mod zvt;
