//! Analytics for treasury and the DX office: when, what and how people pay.
//!
//! A chart is built in four steps, one module each:
//!
//! - [`request`]: the query string turned into a [`request::ChartRequest`] (dates, facilities,
//!   operator, method, granularity, format, language), every bad value refused with its field.
//! - [`facts`]: the taken payments (and, for fee items, their sale lines) of the range, read from
//!   the journal with one query on either backend.
//! - [`paid`]: what each taken payment paid for — its share of each sale line and of its
//!   contracted fee — streamed for the analysts' export, the open data and the monthly report.
//! - [`charts`]: the facts added up into a [`table::ChartTable`] — typed columns and rows, every
//!   amount in exact [`pos_core::Yen`] and every share an exact decimal.
//! - the writers: JSON ([`table::ChartTable::to_json`]), [`csv`] (UTF-8 with BOM, the reconciler's
//!   writer) and [`svg`] (self-contained, each data mark carrying its figures as `data-*`).
//!
//! What counts: a payment is in the figures when its money was taken — state `completed`,
//! `partially_refunded` or `refunded`, the reconciler's `is_taken` — on its business date
//! (Asia/Tokyo). Voided, reversed, declined, cancelled, failed and pending payments are not.
//! Refunds are not netted: as in the reconciler's daily report, a refund is an event of its own
//! day and the sale stays gross revenue of the day it was paid, so every figure here is the
//! reconciler's gross for the same days and facilities.

pub mod charts;
pub mod csv;
pub mod facts;
pub mod month;
pub mod monthly;
pub mod paid;
pub mod request;
pub mod svg;
pub mod table;
pub mod tidy;

use pos_core::MoneyError;

use crate::journal::JournalError;

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("the range holds more than {limit} {what} rows; ask for a shorter range or fewer facilities")]
    TooLarge { what: &'static str, limit: usize },
    #[error("adding up {what}: {source}")]
    Money {
        what: &'static str,
        #[source]
        source: MoneyError,
    },
}

/// Adds two amounts, naming what was being added if it overflows.
pub(crate) fn add(
    total: pos_core::Yen,
    amount: pos_core::Yen,
    what: &'static str,
) -> Result<pos_core::Yen, AnalyticsError> {
    total.checked_add(amount).map_err(|source| AnalyticsError::Money { what, source })
}
