//! Reconciliation at scale: a year of a whole city, or a day of a prefecture-wide service.
//!
//! - [`spool`]: settlement lines partitioned on disk by facility and business date.
//! - [`run`]: the streaming path — settlement files read once into the spool, then one
//!   facility-day at a time reconciled and handed on, in memory bounded by the largest
//!   facility-day (see there for the bound).
//! - [`generate`]: a generator of journals (SQLite, the gateway's schema) and settlement files
//!   (the acquirers' formats) for a configuration, streaming, for tests and the benchmark.
//! - [`baseline`]: the same data matched by a plain SQL join in SQLite, the benchmark's baseline.
//! - [`memory`]: the process's peak resident memory.

pub mod baseline;
pub mod generate;
pub mod memory;
pub mod run;
pub mod spool;
