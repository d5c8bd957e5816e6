//! The reconciler: treasury's daily check of each facility's takings.
//!
//! For each facility and business day it will compare what the gateway journaled with what each
//! acquirer settled, what the bank received and what the clerks counted, in exact decimals, and
//! produce the daily report (日計表), the exceptions list and the accounting exports.
//!
//! Not built yet: this crate is a placeholder in the workspace layout, and nothing in it pretends
//! to work. Today the cash side of a day — expected against counted cash per shift (過不足) — is
//! computed by the gateway when a shift closes.
