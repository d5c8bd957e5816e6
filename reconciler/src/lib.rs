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
//! - [`calendar`]: bank business days (national holidays by the rules of the 祝日法 for
//!   2000–2099 from [`pos_core::holidays`], a configured directory of `holidays-YYYY.txt` files
//!   overriding a year), and "due on `<date>`".
//! - [`matching`]: journal ↔ settlement lines by keys, then by amount, terminal and time; split
//!   and aggregated lines; refunds, reversals, what is due (not late) and 処理未了.
//! - [`exceptions`]: the exceptions list's entries, under one sign rule (the effect on the
//!   city's money), each with a Japanese and an English sentence ([`describe`] names records).
//! - [`bank`]: every line of the bank statement accounted for: payouts, cash deposits,
//!   corrections, charges, and the unmatched lines as exceptions; the city's list.
//! - [`receivables`]: what a facility-day books against the acquirers per payout (receivable,
//!   fees expensed or held in suspense) and each refund's booking.
//! - [`day`]: [`day::reconcile_facility_day`], which adds fees, payouts, refunds, cash against
//!   the count and revenue per account and owner, into a [`day::DayResult`] whose totals
//!   [`day::DayResult::check_totals`] proves are the sums of their lines, with the exceptions
//!   summing to the day's net difference.
//! - [`contract`]: the journal contract (`recon_v1_*` views and the indexes their reads need)
//!   that the gateway's migrations define and [`source`] alone reads.
//! - [`source`]: reads a facility's day from the gateway's journal database (SQLite or
//!   PostgreSQL), read-only and streaming, into [`journal::DayJournal`].
//! - [`report`]: the daily report (日計表) as JSON, CSV and printable HTML, the city-wide and
//!   per-operator summaries, the accounting export, and the checks that every total is the sum
//!   of its lines.
//! - [`close`]: the reconciler's own store of closed days (immutable) and of adjustments found
//!   later, with the fiscal-year rule of 出納整理期間.
//! - [`pipeline`]: what the `reconcile` command does, as functions: load the files a day needs,
//!   reconcile, write the reports.
//! - [`scale`]: the same at scale in bounded memory: settlement files read once into an on-disk
//!   spool by facility and date, then one facility-day at a time; with the generator and the
//!   SQL-join baseline of `cargo bench -p reconciler --bench scale`.
//!
//! Matching and reporting read no clock: the "as of" date is an input.
//!
//! The gateway's treasury API calls [`pipeline`] over its own journal; [`scale`] reconciles a
//! range at bounded memory (see the `scale` benchmark). Today the gateway also computes a shift's
//! over/short when the shift closes; the reconciler recomputes it from the journal's payments.

pub mod bank;
pub mod calendar;
pub mod close;
pub mod contract;
pub mod day;
pub mod describe;
pub mod error;
pub mod exceptions;
pub mod inputs;
pub mod journal;
pub mod matching;
pub mod pipeline;
pub mod receivables;
pub mod report;
pub mod scale;
pub mod settlements;
pub mod source;
