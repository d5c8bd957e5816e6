//! Reading stored values back into domain types: each helper names the table, column and record
//! of a value that does not read, so a corrupt row is reported, never guessed at.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use pos_core::Yen;

use super::{parse_instant, JournalError};

/// Parses a stored text value, naming the record if it does not parse.
pub fn parse_column<T: FromStr>(
    table: &'static str,
    column: &'static str,
    id: &str,
    value: &str,
) -> Result<T, JournalError> {
    value.parse().map_err(|_| JournalError::Corrupt { table, column, id: id.to_string(), value: value.to_string() })
}

pub fn yen_column(table: &'static str, column: &'static str, id: &str, value: i64) -> Result<Yen, JournalError> {
    Yen::new(value).map_err(|_| JournalError::Corrupt { table, column, id: id.to_string(), value: value.to_string() })
}

pub fn instant_column(
    table: &'static str,
    column: &'static str,
    id: &str,
    value: &str,
) -> Result<DateTime<Utc>, JournalError> {
    parse_instant(value).ok_or_else(|| JournalError::Corrupt {
        table,
        column,
        id: id.to_string(),
        value: value.to_string(),
    })
}
