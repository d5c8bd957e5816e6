//! The reconciler: treasury's daily check of each facility's takings.
//!
//! For each facility and business day the reconciler is to compare what the gateway journaled
//! with what each acquirer settled, what the bank received and what the clerks counted, in exact
//! decimals, and produce the daily report (日計表), the exceptions list and the accounting
//! exports. What exists today is its first layer, [`inputs`]: strict, streaming parsers for the
//! card acquirer's, the QR providers' and the e-money centre's settlement files and for the
//! bank's 全銀協 statement, each error naming file, line and column (or byte offset), and a
//! content hash that refuses a file loaded twice.
//!
//! Not built yet: reading the journal, matching settlements to the journal and the bank,
//! the exceptions list, the reports and exports, closing a day, and the `reconcile` command
//! line. Nothing here claims to reconcile anything yet. Today the cash side of a day (expected
//! against counted cash per shift, 過不足) is computed by the gateway when a shift closes.

pub mod inputs;
