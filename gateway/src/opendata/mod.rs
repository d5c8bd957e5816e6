//! Open data (オープンデータ): the month's payments published for anyone to reuse, with nothing
//! that identifies a person or a single payment.
//!
//! - [`datasets`]: the three tables of a month — per facility and method, per brand, per fee
//!   item category — built from the analytics' facts, with totals, and every cell too small to
//!   publish suppressed together with the cells that would give it away ([`suppression`]).
//! - [`files`]: the tables as the Japanese government's open-data guidelines ask: CSV in UTF-8
//!   with one header row of plain names, months as `YYYY-MM`, one table per file, plus JSON; a
//!   Frictionless table schema per table and a `datapackage.json` that carries the metadata and
//!   the CC BY 4.0 licence.
//! - [`publish`]: `gateway opendata --month YYYY-MM` (and `--due`, which the systemd timer runs
//!   daily): reads the journal, writes a month's folder atomically and records it in the
//!   publication history that the public page lists.

pub mod datasets;
pub mod files;
pub mod publish;
pub mod suppression;

#[cfg(test)]
mod attack_tests;

use std::path::PathBuf;

use crate::analytics::AnalyticsError;

#[derive(Debug, thiserror::Error)]
pub enum OpenDataError {
    #[error("the configuration has no [open_data] section; add one (see config/examples/city.toml)")]
    NotConfigured,
    #[error(transparent)]
    Analytics(#[from] AnalyticsError),
    #[error("suppressing small cells: {0}")]
    Suppression(#[from] suppression::SuppressionError),
    #[error("{month} is not over yet (its last business date is {last}); a month is published after it ends")]
    MonthNotOver { month: crate::analytics::month::Month, last: pos_core::BusinessDate },
    #[error("{month} is already published in {path}; pass --replace to publish it again")]
    AlreadyPublished { month: crate::analytics::month::Month, path: PathBuf },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the publication history {path} is not readable JSON: {message}")]
    History { path: PathBuf, message: String },
}

impl OpenDataError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> OpenDataError {
        let path = path.into();
        move |source| OpenDataError::Io { action, path, source }
    }
}
