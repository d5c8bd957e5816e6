//! Integration tests of the gateway, as one test binary (cheaper to link on two cores).
//!
//! `journal_suite` runs every test twice: `journal_suite::sqlite::…` on a temporary SQLite file
//! and `journal_suite::postgres::…` on a fresh PostgreSQL database (mandatory: the tests fail
//! when PostgreSQL is unreachable). `crash` kills the real `gateway` binary mid-burst.

mod card_data;
mod crash;
mod journal_suite;
mod support;
mod switch;
mod switch_rig;
