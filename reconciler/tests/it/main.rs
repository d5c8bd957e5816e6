//! The reconciler's integration tests, one test binary (one link of the whole crate and its
//! dependencies instead of four):
//!
//! - [`inputs`]: the input parsers, one module per format;
//! - [`reconcile`]: matching and the day's reconciliation (golden days, the books, generated days);
//! - [`journal`]: against the gateway's real journal schema, the reports, closing days, and the
//!   `reconcile` command end to end;
//! - [`scale`]: the one path at small scale, parallel equal to sequential.

mod inputs;
mod journal;
mod reconcile;
mod scale;
