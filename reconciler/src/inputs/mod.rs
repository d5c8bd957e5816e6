//! Strict parsers for everything the reconciler reads, one module per file format.
//!
//! Each parser turns bytes into typed records (`Yen`, `Brand`, `MaskedPan`, dates in JST) and
//! does nothing else: no I/O of its own beyond the `BufRead` it is handed, no clock, no
//! configuration. They stream: a reader yields one record at a time and keeps only running
//! totals, so a year of settlements never sits in memory; checks that need the whole file (the
//! card file's `TOTAL` row, the bank statement's trailer and end records) run when the reader
//! reaches them. A file is good only if its reader ends without yielding an error; every error
//! names the file and the place (line and column, or byte offset) as [`error::InputError`].
//!
//! - [`card`]: the card acquirer's `card-settlement-YYYYMMDD.csv` (PROTOCOLS.md §4.1).
//! - [`qr`]: a QR provider's `qr-settlement-YYYYMMDD.csv` (§4.2).
//! - [`emoney`]: the e-money centre's `emoney-settlement-YYYYMMDD.csv` in Shift_JIS (§4.3).
//! - [`bank`]: the bank's 全銀協 入出金取引明細, fixed-length records (§4.4).
//! - [`file_id`]: content hashes, so a file loaded twice is refused the second time.

pub mod bank;
pub mod card;
mod delimited;
pub mod emoney;
pub mod error;
mod field;
pub mod file_id;
pub mod identifiers;
pub mod qr;

pub use delimited::LINE_BYTES_MAX;
