//! Integration tests of the gateway, as one test binary (cheaper to link on two cores).
//!
//! `journal_suite` runs every test twice: `journal_suite::sqlite::…` on a temporary SQLite file
//! and `journal_suite::postgres::…` on a fresh PostgreSQL database (mandatory: the tests fail
//! when PostgreSQL is unreachable). `crash` kills the real `gateway` binary mid-burst.

/// Runs each listed test on both journal backends: `sqlite::name` on a temporary SQLite file and
/// `postgres::name` on a fresh PostgreSQL database, so the same suite proves both.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(pos_config::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(pos_config::Backend::Postgres).await
                }
            )*
        }
    };
}

mod analytics;
mod backup;
mod card_data;
mod crash;
mod devices;
mod hardening;
mod journal_suite;
mod money_path;
mod multinode;
mod opendata;
mod operations;
mod qr;
mod qr_barcode;
mod qr_crash;
mod qr_refunds;
mod qr_tls;
mod support;
mod switch;
mod switch_rig;
mod treasury;
mod upgrades;
mod version;
