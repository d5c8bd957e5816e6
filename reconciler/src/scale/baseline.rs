//! The baseline a treasury analyst would otherwise write: load the settlement files into SQLite
//! beside the journal and match them with one join.
//!
//! Each settlement line is loaded as a key and an amount (card: the RRN; QR: the merchant
//! payment id; e-money: terminal, 取引通番 and date), without the reconciler's checks (a line
//! is split on commas, the header and the card trailer are skipped). The journal's completed
//! cashless payments get the same key, and one `FULL JOIN` counts what matched with the same
//! amount, what matched with another amount, and what is on one side only. No fees, payouts,
//! cash, revenue or report: only the matching, which is the part both do.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::pipeline::InputFiles;

/// Rows per INSERT statement.
pub const BASELINE_BATCH_ROWS: usize = 400;

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} line {line}: {problem}")]
    Line { path: String, line: u64, problem: &'static str },
    #[error("baseline database ({what}): {source}")]
    Database {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

fn database(what: &'static str) -> impl Fn(sqlx::Error) -> BaselineError {
    move |source| BaselineError::Database { what, source }
}

/// What the join found, and how long each step took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BaselineFigures {
    pub settlement_rows: u64,
    pub journal_rows: u64,
    pub matched: u64,
    pub amount_differs: u64,
    pub journal_only: u64,
    pub settlement_only: u64,
    pub load: Duration,
    pub index: Duration,
    pub query: Duration,
}

#[derive(Debug, Clone, Copy)]
enum Format {
    Card,
    Qr,
    Emoney,
}

/// The key and amount of one settlement line, or `None` for a header or trailer.
fn key_of(format: Format, text: &str) -> Result<Option<(String, i64)>, &'static str> {
    let fields: Vec<&str> = text.split(',').collect();
    let (key, amount) = match format {
        Format::Card if fields.first() == Some(&"TOTAL") || fields.first() == Some(&"record_type") => return Ok(None),
        Format::Card => (format!("C{}", fields.get(8).ok_or("no rrn")?), fields.get(12).ok_or("no amount")?),
        Format::Qr => {
            (format!("Q{}", fields.get(6).ok_or("no merchant payment id")?), fields.get(7).ok_or("no amount")?)
        }
        Format::Emoney => {
            let (date, terminal, stan) = (fields.first(), fields.get(3), fields.get(6));
            let (Some(date), Some(terminal), Some(stan)) = (date, terminal, stan) else { return Err("too few fields") };
            (format!("E{terminal}{stan}{date}"), fields.get(8).ok_or("no amount")?)
        }
    };
    let amount = amount.parse().map_err(|_| "amount is not a number")?;
    Ok(Some((key, amount)))
}

async fn insert(connection: &mut SqliteConnection, rows: &mut Vec<(String, i64)>) -> Result<(), BaselineError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut query: QueryBuilder<Sqlite> = QueryBuilder::new("INSERT INTO settlement (key, amount) ");
    query.push_values(rows.drain(..), |mut row, (key, amount)| {
        row.push_bind(key).push_bind(amount);
    });
    query.build().execute(&mut *connection).await.map_err(database("insert"))?;
    Ok(())
}

async fn load_file(
    connection: &mut SqliteConnection,
    format: Format,
    path: &Path,
    rows: &mut Vec<(String, i64)>,
) -> Result<u64, BaselineError> {
    let read_error = |source| BaselineError::Read { path: path.display().to_string(), source };
    let mut reader = BufReader::new(File::open(path).map_err(read_error)?);
    let mut bytes = Vec::new();
    let mut number = 0;
    let mut loaded = 0;
    loop {
        bytes.clear();
        if reader.read_until(b'\n', &mut bytes).map_err(read_error)? == 0 {
            break;
        }
        number += 1;
        if number == 1 && !matches!(format, Format::Card) {
            continue;
        }
        let text = match format {
            Format::Emoney => encoding_rs::SHIFT_JIS.decode_without_bom_handling(&bytes).0.into_owned(),
            Format::Card | Format::Qr => String::from_utf8_lossy(&bytes).into_owned(),
        };
        let line_error = |problem| BaselineError::Line { path: path.display().to_string(), line: number, problem };
        if let Some(row) = key_of(format, text.trim_end()).map_err(line_error)? {
            rows.push(row);
            loaded += 1;
        }
        if rows.len() >= BASELINE_BATCH_ROWS {
            insert(connection, rows).await?;
        }
    }
    insert(connection, rows).await?;
    Ok(loaded)
}

/// Loads the settlement files into a new database at `work_db`, attaches the journal, and runs
/// the join.
pub async fn run_baseline(
    journal: &Path,
    files: &InputFiles,
    work_db: &Path,
) -> Result<BaselineFigures, BaselineError> {
    let options = SqliteConnectOptions::new()
        .filename(work_db)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Off)
        .synchronous(SqliteSynchronous::Off);
    let mut connection = SqliteConnection::connect_with(&options).await.map_err(database("open"))?;
    let mut figures = BaselineFigures::default();
    let started = Instant::now();
    sqlx::query("ATTACH DATABASE ? AS j")
        .bind(journal.display().to_string())
        .execute(&mut connection)
        .await
        .map_err(database("attach"))?;
    sqlx::query("CREATE TABLE settlement (key TEXT NOT NULL, amount INTEGER NOT NULL)")
        .execute(&mut connection)
        .await
        .map_err(database("create"))?;
    sqlx::query("BEGIN").execute(&mut connection).await.map_err(database("begin"))?;
    let mut rows = Vec::with_capacity(BASELINE_BATCH_ROWS);
    let by_format: Vec<(Format, &PathBuf)> = files
        .card
        .iter()
        .map(|path| (Format::Card, path))
        .chain(files.qr.iter().map(|(_, path)| (Format::Qr, path)))
        .chain(files.emoney.iter().map(|path| (Format::Emoney, path)))
        .collect();
    for (format, path) in by_format {
        figures.settlement_rows += load_file(&mut connection, format, path, &mut rows).await?;
    }
    sqlx::query("COMMIT").execute(&mut connection).await.map_err(database("commit"))?;
    figures.load = started.elapsed();

    let started = Instant::now();
    for statement in [
        "CREATE TABLE journal_keys AS SELECT CASE method WHEN 'card' THEN 'C' || rrn WHEN 'qr' THEN 'Q' || id \
         ELSE 'E' || terminal_id || acquirer_stan || replace(business_date, '-', '') END AS key, amount \
         FROM j.payments WHERE method <> 'cash' AND state = 'completed'",
        "CREATE INDEX journal_keys_key ON journal_keys (key)",
        "CREATE INDEX settlement_key ON settlement (key)",
    ] {
        sqlx::query(statement).execute(&mut connection).await.map_err(database("index"))?;
    }
    figures.index = started.elapsed();

    let started = Instant::now();
    let row = sqlx::query(
        "SELECT count(k.key) AS journal_rows, \
         coalesce(sum(k.key IS NOT NULL AND s.key IS NOT NULL AND k.amount = s.amount), 0) AS matched, \
         coalesce(sum(k.key IS NOT NULL AND s.key IS NOT NULL AND k.amount <> s.amount), 0) AS amount_differs, \
         coalesce(sum(s.key IS NULL), 0) AS journal_only, coalesce(sum(k.key IS NULL), 0) AS settlement_only \
         FROM journal_keys k FULL JOIN settlement s ON s.key = k.key",
    )
    .fetch_one(&mut connection)
    .await
    .map_err(database("join"))?;
    figures.query = started.elapsed();
    let count = |name: &str| -> Result<u64, BaselineError> {
        let value: i64 = row.try_get(name).map_err(database("join result"))?;
        Ok(u64::try_from(value).unwrap_or(0))
    };
    figures.journal_rows = count("journal_rows")?;
    figures.matched = count("matched")?;
    figures.amount_differs = count("amount_differs")?;
    figures.journal_only = count("journal_only")?;
    figures.settlement_only = count("settlement_only")?;
    connection.close().await.map_err(database("close"))?;
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_each_format() {
        let card = "SALE,2026-11-24,P1,2026-11-26,000000000010001,T0010001,2026-11-24T10:15:02+09:00,000123,\
                    632810000123,A1B2C3,VISA,411111******1111,1500,48,1452,";
        assert_eq!(key_of(Format::Card, card), Ok(Some(("C632810000123".to_string(), 1500))));
        assert_eq!(key_of(Format::Card, "TOTAL,2026-11-24,P1,,,,,,,,,,1500,48,1452,"), Ok(None));
        let emoney = "20261124,101502,000000000010001,T0010001,WAON,売上,000124,JE80****5678,470,14,20261127";
        assert_eq!(key_of(Format::Emoney, emoney), Ok(Some(("ET001000100012420261124".to_string(), 470))));
        assert_eq!(key_of(Format::Qr, "a,b"), Err("no merchant payment id"));
    }
}
