//! Parsers for the kinds of value the settlement files hold: amounts, dates and times.
//!
//! Each takes the field's text and returns the value or a problem phrased to follow the field's
//! name and value in a message (`gross_amount "12a" is not a whole number of yen`). Dates and
//! times are read by position against a fixed shape, so `2026-1-5` or `2026-01-05T10:15:02Z` is
//! refused rather than guessed at; calendar checks (30 February, 24:00) come from chrono's
//! checked constructors.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use pos_core::time::jst;
use pos_core::Yen;

/// The sign an amount must have where the record's kind fixes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sign {
    Positive,
    Negative,
}

impl Sign {
    pub(crate) fn admits(self, amount: Yen) -> bool {
        match self {
            Sign::Positive => amount.get() > 0,
            Sign::Negative => amount.get() < 0,
        }
    }

    pub(crate) fn word(self) -> &'static str {
        match self {
            Sign::Positive => "positive",
            Sign::Negative => "negative",
        }
    }
}

/// Digits in the largest amount accepted (`pos_core::money::YEN_ABS_MAX` is 10^12, 13 digits).
const AMOUNT_DIGITS_MAX: usize = 13;

/// A signed whole number of yen: an optional `-` and digits, nothing else (no `+`, no spaces,
/// no thousands separators).
pub(crate) fn yen(text: &str) -> Result<Yen, &'static str> {
    const PROBLEM: &str = "is not a whole number of yen";
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(PROBLEM);
    }
    let significant = digits.trim_start_matches('0');
    if significant.len() > AMOUNT_DIGITS_MAX {
        return Err("is outside the accepted range of amounts");
    }
    let value: i64 = text.parse().map_err(|_| PROBLEM)?;
    Yen::new(value).map_err(|_| "is outside the accepted range of amounts")
}

/// The numbers read from a date or time laid out by a shape.
#[derive(Debug, Default, Clone, Copy)]
struct Parts {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

/// Reads `text` against `shape`, where `Y M D h m s` each stand for one digit of that part and
/// every other character must appear as it is.
fn read_shape(text: &str, shape: &str) -> Option<Parts> {
    if text.len() != shape.len() {
        return None;
    }
    let mut parts = Parts::default();
    for (byte, pattern) in text.bytes().zip(shape.bytes()) {
        let part = match pattern {
            b'Y' => &mut parts.year,
            b'M' => &mut parts.month,
            b'D' => &mut parts.day,
            b'h' => &mut parts.hour,
            b'm' => &mut parts.minute,
            b's' => &mut parts.second,
            literal => {
                if byte != literal {
                    return None;
                }
                continue;
            }
        };
        if !byte.is_ascii_digit() {
            return None;
        }
        *part = *part * 10 + u32::from(byte - b'0');
    }
    Some(parts)
}

fn date_of(parts: Parts) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(i32::try_from(parts.year).ok()?, parts.month, parts.day)
}

fn time_of(parts: Parts) -> Option<NaiveTime> {
    NaiveTime::from_hms_opt(parts.hour, parts.minute, parts.second)
}

fn jst_instant(date: NaiveDate, time: NaiveTime) -> Option<DateTime<FixedOffset>> {
    NaiveDateTime::new(date, time).and_local_timezone(jst()).single()
}

/// `YYYY-MM-DD` (card file).
pub(crate) fn date_dashed(text: &str) -> Result<NaiveDate, &'static str> {
    read_shape(text, "YYYY-MM-DD").and_then(date_of).ok_or("is not a date of the form YYYY-MM-DD")
}

/// `YYYY-MM-DDThh:mm:ss+09:00` (card file): JST, and only JST, with the offset written out.
pub(crate) fn timestamp_jst_offset(text: &str) -> Result<DateTime<FixedOffset>, &'static str> {
    const PROBLEM: &str = "is not a JST time of the form YYYY-MM-DDThh:mm:ss+09:00";
    let parts = read_shape(text, "YYYY-MM-DDThh:mm:ss+09:00").ok_or(PROBLEM)?;
    let date = date_of(parts).ok_or(PROBLEM)?;
    let time = time_of(parts).ok_or(PROBLEM)?;
    jst_instant(date, time).ok_or(PROBLEM)
}

/// `YYYY/MM/DD` (QR file).
pub(crate) fn date_slashed(text: &str) -> Result<NaiveDate, &'static str> {
    read_shape(text, "YYYY/MM/DD").and_then(date_of).ok_or("is not a date of the form YYYY/MM/DD")
}

/// `YYYY/MM/DD hh:mm:ss` in JST (QR file).
pub(crate) fn timestamp_slashed(text: &str) -> Result<DateTime<FixedOffset>, &'static str> {
    const PROBLEM: &str = "is not a time of the form YYYY/MM/DD hh:mm:ss";
    let parts = read_shape(text, "YYYY/MM/DD hh:mm:ss").ok_or(PROBLEM)?;
    let date = date_of(parts).ok_or(PROBLEM)?;
    let time = time_of(parts).ok_or(PROBLEM)?;
    jst_instant(date, time).ok_or(PROBLEM)
}

/// `YYYYMMDD` (e-money file).
pub(crate) fn date_compact(text: &str) -> Result<NaiveDate, &'static str> {
    read_shape(text, "YYYYMMDD").and_then(date_of).ok_or("is not a date of the form YYYYMMDD")
}

/// `hhmmss` (e-money file).
pub(crate) fn time_compact(text: &str) -> Result<NaiveTime, &'static str> {
    read_shape(text, "hhmmss").and_then(time_of).ok_or("is not a time of the form hhmmss")
}

/// A date and a time of day in JST as one instant.
pub(crate) fn instant_jst(date: NaiveDate, time: NaiveTime) -> Option<DateTime<FixedOffset>> {
    jst_instant(date, time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_signed_whole_yen() {
        assert_eq!(yen("1500").unwrap().get(), 1500);
        assert_eq!(yen("-48").unwrap().get(), -48);
        assert_eq!(yen("0").unwrap().get(), 0);
        assert_eq!(yen("000000001452").unwrap().get(), 1452);
        for bad in ["", "-", "+5", "1,500", "12a", " 1", "1.0", "--1", "１"] {
            assert_eq!(yen(bad), Err("is not a whole number of yen"), "{bad:?}");
        }
        assert_eq!(yen("1000000000001"), Err("is outside the accepted range of amounts"));
        assert_eq!(yen("99999999999999999999999"), Err("is outside the accepted range of amounts"));
        assert_eq!(yen("-1000000000000").unwrap().get(), -1_000_000_000_000);
    }

    #[test]
    fn dates_and_times_follow_their_shape_exactly() {
        assert_eq!(date_dashed("2026-11-24").unwrap(), NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
        assert!(date_dashed("2026-1-24").is_err());
        assert!(date_dashed("2026-02-30").is_err());
        assert!(date_dashed("2026/11/24").is_err());
        let time = timestamp_jst_offset("2026-11-24T10:15:02+09:00").unwrap();
        assert_eq!(time.to_rfc3339(), "2026-11-24T10:15:02+09:00");
        assert!(timestamp_jst_offset("2026-11-24T10:15:02Z").is_err());
        assert!(timestamp_jst_offset("2026-11-24T10:15:02+00:00").is_err());
        assert!(timestamp_jst_offset("2026-11-24T24:00:00+09:00").is_err());
        assert_eq!(timestamp_slashed("2026/11/24 11:02:45").unwrap().to_rfc3339(), "2026-11-24T11:02:45+09:00");
        assert!(time_compact("101560").is_err());
        assert_eq!(date_compact("20261127").unwrap(), NaiveDate::from_ymd_opt(2026, 11, 27).unwrap());
        // Non-ASCII text of the right byte length must not be taken for digits.
        assert!(date_compact("２０２６").is_err());
    }
}
