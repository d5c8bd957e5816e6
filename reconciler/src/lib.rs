//! The reconciler: treasury's daily check of each facility's takings.
//!
//! For each facility and business day the reconciler compares what the gateway journaled with
//! what each acquirer settled, what the bank received and what the clerks counted, in exact
//! whole yen, and lists what does not agree. The modules, in the order data flows through them:
//!
//! - [`inputs`]: strict, streaming parsers for the card acquirer's, the QR providers' and the
//!   e-money centre's settlement files and for the bank's 全銀協 statement, each error naming
//!   file, line and column (or byte offset), and a content hash that refuses a file loaded twice.
//! - [`journal`]: what reconciliation needs of the gateway's journal for a facility and day
//!   (payments with their keys and refunds, sale lines with revenue accounts, shifts), as plain
//!   types.
//! - [`settlements`]: the day's settlement files in memory, turned into one line type.
//! - [`calendar`]: bank business days, with the holiday lists as data (`data/holidays-*.txt`),
//!   and "due on <date>".
//! - [`matching`]: journal ↔ settlement lines by keys, then by amount, terminal and time; split
//!   and aggregated lines; refunds, reversals and timing differences.
//! - [`exceptions`]: the exceptions list's entries.
//! - [`day`]: [`day::reconcile_day`], which adds fees, payouts against the bank, cash against
//!   the count and revenue per account and owner, into a [`day::DayResult`] whose totals
//!   [`day::DayResult::check_totals`] proves are the sums of their lines.
//!
//! Everything here works on inputs in memory and reads no clock: the "as of" date is an input.
//!
//! Not built yet: reading the journal from the gateway's database, the reports (日計表 in JSON,
//! CSV and HTML, city-wide and per-operator summaries), the accounting export, closing a day and
//! adjustments to a closed day, the `reconcile` command line and the HTTP API, and the scale
//! benchmark. Today the gateway also computes a shift's over/short when the shift closes; the
//! reconciler recomputes it from the journal's payments.

pub mod calendar;
pub mod day;
pub mod error;
pub mod exceptions;
pub mod inputs;
pub mod journal;
pub mod matching;
pub mod settlements;
