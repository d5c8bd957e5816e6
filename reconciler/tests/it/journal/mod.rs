//! The reconciler against the gateway's real journal schema (SQLite and PostgreSQL), the
//! reports and their totals, closing days, and the `reconcile` command end to end; one test
//! binary.

mod cli;
mod close;
mod database;
mod reports;
use super::reconcile::support;
