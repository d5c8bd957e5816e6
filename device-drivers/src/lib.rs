//! Counter hardware: the payment terminal's ECR link, the barcode scanner, the receipt printer
//! and the cash drawer, and the `counterd` bridge between one counter's devices and the gateway.
//!
//! What is built:
//!
//! - [`zvt`], the ZVT protocol (PROTOCOLS.md §3). Its codecs turn bytes into typed messages and
//!   back with no I/O and no clock: [`zvt::apdu`], [`zvt::bcd`], [`zvt::bmp`], [`zvt::tlv`],
//!   [`zvt::serial`] (DLE stuffing, CRC-16/KERMIT, one end of the link as a state machine:
//!   resends, crossing frames, copies after a lost ACK), [`zvt::commands`] (every command and
//!   answer) and [`zvt::totals`] (BMP 60, ZVT's individual totals). Every decoder takes `&[u8]`,
//!   never panics and names the byte offset of what it could not read, so they are fuzzed
//!   directly (`fuzz/`). On top: [`zvt::transport`] owns the serial port, pty or
//!   TCP socket and the link timing (serial framing with ACK within 1 s and at most 3 tries, the
//!   line read by a task of its own; bare APDUs on TCP), and [`zvt::ecr`] is the ECR driver counterd uses: one method per command,
//!   each running the whole dialogue within bounds and returning a typed outcome, `Unknown` when
//!   the dialogue broke after the terminal may have acted.
//! - [`terminal_sim`], the payment terminal's side of ZVT (library and the `terminal-sim`
//!   binary): it reads simulated cards, authorizes with the gateway's terminal host over
//!   ISO 8583/TLS, keeps its counters across restarts, and plays faults on demand.
//! - [`scanner`], the barcode scanner: a line framer (CR, LF or CR LF suffix; partial reads,
//!   noise and over-long lines tolerated) and a task that delivers scanned codes on a bounded
//!   channel until the device closes.
//! - [`printer`], the receipt printer and cash drawer over ESC/POS in Kanji mode with Shift_JIS:
//!   the city's receipt (領収書) built from a `pos_core::api::SaleView`, laid out into exact
//!   lines (42 columns, a full-width character counting two) that are both rendered as text and
//!   encoded as bytes, the drawer kick, the `DLE EOT` status, and a driver with bounded waits;
//!   and the printer's own side ([`printer::simulator`]) for tests and the demo.
//! - [`counterd`], the bridge between one counter's devices and the gateway (library and the
//!   `counterd` binary): it long-polls the gateway's public HTTP API for its register's commands
//!   (API types from `pos_core::api`, never the gateway crate), journals each command durably in
//!   a local state file before and after running it (so a command is never run twice, and a
//!   charge whose outcome it did not see is answered unknown), drives the terminal, printer and
//!   drawer and scanner (a customer-presented QR code pays the sale it was scanned for), reports
//!   health, and retries the gateway and the devices with bounded backoff.

pub mod counterd;
pub mod printer;
pub mod scanner;
pub mod terminal_sim;
pub mod zvt;
