//! Bank business days, and the "due on <date>" of something not yet settled or paid.
//!
//! Banks in Japan are closed on Saturdays, Sundays, national holidays and from 31 December to
//! 3 January (PROTOCOLS.md §4). The holidays change every year (the equinoxes are announced a
//! year ahead, substitute holidays move), so they are data: one text file per year, one ISO date
//! per line, `#` starting a comment. The calendar remembers which years it was given and refuses
//! to count through a year it does not know, because treating an unknown year's holidays as
//! business days would move every due date silently.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// The holidays of 2026, as shipped in `data/holidays-2026.txt`.
pub const HOLIDAYS_2026: &str = include_str!("../data/holidays-2026.txt");
/// The holidays of 2027, as shipped in `data/holidays-2027.txt`.
pub const HOLIDAYS_2027: &str = include_str!("../data/holidays-2027.txt");

/// The longest run of days without a business day that a search walks through before giving
/// up. The longest real closure (Golden Week plus a weekend, or the new year) is under ten days.
pub const CLOSED_DAYS_RUN_MAX: u32 = 31;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("{file}, line {line}: {text:?} is not an ISO date (YYYY-MM-DD)")]
    NotADate { file: String, line: usize, text: String },
    #[error("{file}, line {line}: {date} is listed twice")]
    Repeated { file: String, line: usize, date: NaiveDate },
    #[error("{file}: holds no date, so it cannot stand for any year's holidays")]
    Empty { file: String },
    #[error("the bank calendar has no holiday list for {year}; load data/holidays-{year}.txt")]
    YearNotLoaded { year: i32 },
    #[error("no bank business day within {CLOSED_DAYS_RUN_MAX} days after {date}")]
    NoBusinessDay { date: NaiveDate },
}

/// Which days banks are open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BankCalendar {
    holidays: BTreeSet<NaiveDate>,
    years: BTreeSet<i32>,
}

impl BankCalendar {
    /// A calendar with no year loaded: it answers nothing until given holiday lists.
    pub fn new() -> BankCalendar {
        BankCalendar::default()
    }

    /// The calendar of the holiday lists shipped with the crate (2026 and 2027).
    pub fn shipped() -> Result<BankCalendar, CalendarError> {
        let mut calendar = BankCalendar::new();
        calendar.load("data/holidays-2026.txt", HOLIDAYS_2026)?;
        calendar.load("data/holidays-2027.txt", HOLIDAYS_2027)?;
        Ok(calendar)
    }

    /// Adds one year's holiday list. Every year a date of the file falls in counts as loaded.
    pub fn load(&mut self, file: &str, text: &str) -> Result<(), CalendarError> {
        let mut dates = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let line = index + 1;
            let date = NaiveDate::parse_from_str(content, "%Y-%m-%d").map_err(|_| CalendarError::NotADate {
                file: file.to_string(),
                line,
                text: content.to_string(),
            })?;
            if dates.contains(&date) || self.holidays.contains(&date) {
                return Err(CalendarError::Repeated { file: file.to_string(), line, date });
            }
            dates.push(date);
        }
        if dates.is_empty() {
            return Err(CalendarError::Empty { file: file.to_string() });
        }
        for date in dates {
            self.years.insert(date.year());
            self.holidays.insert(date);
        }
        Ok(())
    }

    /// Whether banks are open on `date`.
    pub fn is_business_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        if !self.years.contains(&date.year()) {
            return Err(CalendarError::YearNotLoaded { year: date.year() });
        }
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        let year_end = matches!((date.month(), date.day()), (12, 31) | (1, 1..=3));
        Ok(!weekend && !year_end && !self.holidays.contains(&date))
    }

    /// The first business day strictly after `date`.
    pub fn next_business_day(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let mut day = date;
        for _ in 0..CLOSED_DAYS_RUN_MAX {
            day = day.checked_add_days(Days::new(1)).ok_or(CalendarError::NoBusinessDay { date })?;
            if self.is_business_day(day)? {
                return Ok(day);
            }
        }
        Err(CalendarError::NoBusinessDay { date })
    }

    /// `date` if banks are open that day, otherwise the next business day.
    pub fn business_day_on_or_after(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        if self.is_business_day(date)? {
            return Ok(date);
        }
        self.next_business_day(date)
    }

    /// `count` bank business days after `date` (which need not be a business day itself);
    /// zero days is `date` moved to a business day.
    pub fn add_business_days(&self, date: NaiveDate, count: u32) -> Result<NaiveDate, CalendarError> {
        if count == 0 {
            return self.business_day_on_or_after(date);
        }
        let mut day = date;
        for _ in 0..count {
            day = self.next_business_day(day)?;
        }
        Ok(day)
    }

    /// When something that starts on `date` under a contract of `lag_business_days` is due: the
    /// day by which it must have arrived. It becomes an exception only once that day has passed.
    pub fn due_on(&self, date: NaiveDate, lag_business_days: u32) -> Result<NaiveDate, CalendarError> {
        self.add_business_days(date, lag_business_days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn shipped_lists_hold_the_real_holidays() {
        let calendar = BankCalendar::shipped().unwrap();
        assert_eq!(calendar.holidays.iter().filter(|date| date.year() == 2026).count(), 18);
        assert_eq!(calendar.holidays.iter().filter(|date| date.year() == 2027).count(), 17);
        // Substitute holidays fall on the weekday after a Sunday holiday.
        assert_eq!(day("2026-05-03").weekday(), Weekday::Sun);
        assert_eq!(day("2026-05-06").weekday(), Weekday::Wed);
        assert_eq!(day("2027-03-21").weekday(), Weekday::Sun);
        assert_eq!(day("2027-03-22").weekday(), Weekday::Mon);
        // Happy Monday holidays are Mondays.
        for date in ["2026-01-12", "2026-07-20", "2026-09-21", "2026-10-12", "2027-01-11", "2027-07-19"] {
            assert_eq!(day(date).weekday(), Weekday::Mon, "{date}");
        }
        assert!(!calendar.is_business_day(day("2026-09-22")).unwrap());
    }

    #[test]
    fn year_end_weekends_and_holidays_are_closed() {
        let calendar = BankCalendar::shipped().unwrap();
        assert!(!calendar.is_business_day(day("2026-12-31")).unwrap());
        assert!(!calendar.is_business_day(day("2027-01-02")).unwrap());
        assert!(!calendar.is_business_day(day("2027-01-03")).unwrap());
        assert!(calendar.is_business_day(day("2027-01-04")).unwrap());
        // Golden Week 2026: Friday 1 May is open, then closed from Saturday 2 until Thursday 7 May.
        assert_eq!(calendar.add_business_days(day("2026-04-30"), 1).unwrap(), day("2026-05-01"));
        assert_eq!(calendar.add_business_days(day("2026-05-01"), 1).unwrap(), day("2026-05-07"));
        assert_eq!(calendar.add_business_days(day("2026-12-30"), 1).unwrap(), day("2027-01-04"));
        assert_eq!(calendar.add_business_days(day("2026-11-21"), 0).unwrap(), day("2026-11-24"));
        assert_eq!(calendar.due_on(day("2026-11-20"), 2).unwrap(), day("2026-11-25"));
    }

    #[test]
    fn unknown_years_and_bad_lines_are_refused() {
        let calendar = BankCalendar::shipped().unwrap();
        assert_eq!(calendar.is_business_day(day("2028-06-01")), Err(CalendarError::YearNotLoaded { year: 2028 }));
        let mut calendar = BankCalendar::new();
        assert!(matches!(
            calendar.load("h.txt", "# header\n2026-02-30\n"),
            Err(CalendarError::NotADate { line: 2, .. })
        ));
        assert!(matches!(calendar.load("h.txt", "2026-01-01\n2026-01-01\n"), Err(CalendarError::Repeated { .. })));
        assert!(matches!(calendar.load("h.txt", "# nothing\n"), Err(CalendarError::Empty { .. })));
    }
}
