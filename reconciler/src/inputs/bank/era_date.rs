//! Dates of the bank statement: 和暦 YYMMDD, or Gregorian YYMMDD where the bank is set so.
//!
//! A 和暦 date carries no era, so the era is inferred: the one (令和 or 平成) that puts the date
//! between 20 years before and 1 year after the day the file is read (zengin-statement.md). The
//! eras are 30 years apart, so at most one fits a 21-year window, and a date that fits neither
//! is refused rather than guessed. A date must also lie inside its era: 令和 began on
//! 2019-05-01, so `010401` is not 令和1年4月1日; it would be 平成1年, far outside the window.

use chrono::{Datelike, Months, NaiveDate};

use crate::inputs::error::{shown, Reason};

/// How a bank writes the year of a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateStyle {
    /// 和暦: the year of the era (令和 or 平成), the era inferred as described above.
    #[default]
    Wareki,
    /// Gregorian: the last two digits of a year 2000–2099.
    Gregorian,
}

/// An era: its name, the Gregorian year of its year 1, and its first and last day as
/// (year, month, day).
struct Era {
    year_one: i32,
    first_day: (i32, u32, u32),
    last_day: Option<(i32, u32, u32)>,
}

const ERAS: [Era; 2] = [
    // 令和
    Era { year_one: 2019, first_day: (2019, 5, 1), last_day: None },
    // 平成
    Era { year_one: 1989, first_day: (1989, 1, 8), last_day: Some((2019, 4, 30)) },
];

/// How far back a 和暦 date may lie from the day the file is read.
const WINDOW_MONTHS_BEFORE: u32 = 20 * 12;
/// How far ahead a 和暦 date may lie from the day the file is read.
const WINDOW_MONTHS_AFTER: u32 = 12;

impl Era {
    fn date(&self, era_year: u32, month: u32, day: u32) -> Option<NaiveDate> {
        let year = self.year_one.checked_add(i32::try_from(era_year).ok()?)?.checked_sub(1)?;
        let date = NaiveDate::from_ymd_opt(year, month, day)?;
        let triple = (date.year(), date.month(), date.day());
        let within = triple >= self.first_day && self.last_day.is_none_or(|last| triple <= last);
        // Era year 0 does not exist: the year the era began is year 1 (元年).
        (era_year >= 1 && within).then_some(date)
    }
}

/// The window of dates a 和暦 date may fall in, for a file read on `read_on`.
pub(crate) fn window(read_on: NaiveDate) -> (NaiveDate, NaiveDate) {
    let earliest = read_on.checked_sub_months(Months::new(WINDOW_MONTHS_BEFORE)).unwrap_or(NaiveDate::MIN);
    let latest = read_on.checked_add_months(Months::new(WINDOW_MONTHS_AFTER)).unwrap_or(NaiveDate::MAX);
    (earliest, latest)
}

/// Reads a six-digit date of the statement.
pub(crate) fn parse(
    field: &'static str,
    text: &str,
    style: DateStyle,
    read_on: NaiveDate,
) -> Result<NaiveDate, Reason> {
    let invalid = || Reason::InvalidValue { field, value: shown(text), problem: "is not a date of the form YYMMDD" };
    if text.len() != 6 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid());
    }
    let number = |range: std::ops::Range<usize>| text.get(range).and_then(|digits| digits.parse::<u32>().ok());
    let (Some(year), Some(month), Some(day)) = (number(0..2), number(2..4), number(4..6)) else {
        return Err(invalid());
    };
    match style {
        DateStyle::Gregorian => NaiveDate::from_ymd_opt(2000 + year as i32, month, day).ok_or_else(invalid),
        DateStyle::Wareki => {
            let (earliest, latest) = window(read_on);
            ERAS.iter()
                .filter_map(|era| era.date(year, month, day))
                .find(|date| (earliest..=latest).contains(date))
                .ok_or_else(|| Reason::EraDate { field, value: shown(text), earliest, latest })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn wareki(text: &str, read_on: NaiveDate) -> Result<NaiveDate, Reason> {
        parse("勘定日", text, DateStyle::Wareki, read_on)
    }

    #[test]
    fn reiwa_dates_near_the_reading_day() {
        let read_on = date(2026, 11, 26);
        assert_eq!(wareki("081126", read_on), Ok(date(2026, 11, 26)));
        assert_eq!(wareki("010501", read_on), Ok(date(2019, 5, 1)));
        // One year ahead is still inside the window; a day more is not.
        assert_eq!(wareki("091126", read_on), Ok(date(2027, 11, 26)));
        assert!(wareki("091127", read_on).is_err());
    }

    #[test]
    fn heisei_dates_when_they_fit_the_window() {
        // Read in 2026: 平成20年 (2008) is within 20 years; 平成31年4月30日 was its last day.
        let read_on = date(2026, 11, 26);
        assert_eq!(wareki("200401", read_on), Ok(date(2008, 4, 1)));
        assert_eq!(wareki("310430", read_on), Ok(date(2019, 4, 30)));
        // 平成31年5月1日 never existed, and 令和31 (2049) is too far ahead.
        assert!(wareki("310501", read_on).is_err());
        // 令和1年4月1日 did not exist either; 平成1年 (1989) is too far back.
        assert!(wareki("010401", read_on).is_err());
        // Read in 2000, "100101" is 平成10年 (1998), since 令和10 lies in the future.
        assert_eq!(wareki("100101", date(2000, 1, 1)), Ok(date(1998, 1, 1)));
    }

    #[test]
    fn refusals_name_the_field_and_window() {
        let error = wareki("000101", date(2026, 11, 26)).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"勘定日 "000101" is not a date of 令和 or 平成 between 2006-11-26 and 2027-11-26"#
        );
        assert_eq!(
            wareki("08113A", date(2026, 11, 26)).unwrap_err().to_string(),
            r#"勘定日 "08113A" is not a date of the form YYMMDD"#
        );
        assert!(wareki("081131", date(2026, 11, 26)).is_err());
    }

    #[test]
    fn gregorian_style() {
        assert_eq!(parse("勘定日", "261126", DateStyle::Gregorian, date(2026, 11, 26)), Ok(date(2026, 11, 26)));
        assert!(parse("勘定日", "261131", DateStyle::Gregorian, date(2026, 11, 26)).is_err());
    }
}
