//! Settlement files as the reconciler reads them (PROTOCOLS.md §4): the card acquirer's
//! `card-settlement-YYYYMMDD.csv` (§4.1, [`card`]) and the e-money centre's
//! `emoney-settlement-YYYYMMDD.csv` (§4.3, [`emoney`]). Rendering is a pure function of the
//! ledger entries, the date and the fee terms; [`write()`] puts the bytes in place atomically
//! (a temporary file renamed), so a reconciler watching the directory never reads half a file.

pub mod calendar;
pub mod card;
pub mod emoney;
pub mod faults;

pub use faults::SettlementFaults;

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveDate};
use pos_core::{Brand, Yen};

use crate::config::{Centre, FeeTerm};
use crate::error::SimError;
use crate::ledger::LedgerEntry;

/// Line ending of every settlement file.
pub const CRLF: &str = "\r\n";

pub fn file_name(centre: Centre, date: NaiveDate) -> String {
    format!("{}-settlement-{}.csv", centre.code(), date.format("%Y%m%d"))
}

/// The file's bytes as written: UTF-8 for the card file, Shift_JIS for the e-money file.
pub fn render(
    centre: Centre,
    entries: &[LedgerEntry],
    date: NaiveDate,
    fees: &[FeeTerm],
    payout_lag_days: u32,
) -> Result<Vec<u8>, SimError> {
    render_with(centre, entries, date, fees, payout_lag_days, &SettlementFaults::default())
}

/// [`render`] with planted mistakes ([`SettlementFaults`]).
pub fn render_with(
    centre: Centre,
    entries: &[LedgerEntry],
    date: NaiveDate,
    fees: &[FeeTerm],
    payout_lag_days: u32,
    faults: &SettlementFaults,
) -> Result<Vec<u8>, SimError> {
    match centre {
        Centre::Card => card::render_with(entries, date, fees, payout_lag_days, faults).map(String::into_bytes),
        Centre::Emoney => {
            emoney::render_with(entries, date, fees, payout_lag_days, faults).and_then(|text| emoney::shift_jis(&text))
        }
    }
}

/// Renders the file for `date` and writes it into `dir` (created if missing); returns its path.
pub fn write(
    centre: Centre,
    entries: &[LedgerEntry],
    date: NaiveDate,
    fees: &[FeeTerm],
    payout_lag_days: u32,
    dir: &Path,
) -> Result<PathBuf, SimError> {
    write_with(centre, entries, date, fees, payout_lag_days, dir, &SettlementFaults::default())
}

/// [`write()`] with planted mistakes ([`SettlementFaults`]).
pub fn write_with(
    centre: Centre,
    entries: &[LedgerEntry],
    date: NaiveDate,
    fees: &[FeeTerm],
    payout_lag_days: u32,
    dir: &Path,
    faults: &SettlementFaults,
) -> Result<PathBuf, SimError> {
    let bytes = render_with(centre, entries, date, fees, payout_lag_days, faults)?;
    let path = dir.join(file_name(centre, date));
    let temporary = dir.join(format!(".{}.partial", file_name(centre, date)));
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SimError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed(dir))?;
    std::fs::write(&temporary, bytes).map_err(failed(&temporary))?;
    std::fs::rename(&temporary, &path).map_err(failed(&path))?;
    Ok(path)
}

/// The calendar day of an instant in Tokyo.
pub(crate) fn jst_date(at: DateTime<FixedOffset>) -> NaiveDate {
    at.with_timezone(&pos_core::time::jst()).date_naive()
}

/// The fee on a signed amount under the brand's term.
pub(crate) fn fee(fees: &[FeeTerm], brand: Brand, amount: Yen, line: usize) -> Result<Yen, SimError> {
    let term = fees.iter().find(|term| term.brand == brand).ok_or(SimError::MissingFeeTerm { brand })?;
    term.rate.fee(amount, term.rounding).map_err(|source| SimError::Money { what: "fee", line, source })
}
