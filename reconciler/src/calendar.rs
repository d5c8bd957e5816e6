//! Bank business days, and the "due on `<date>`" of something not yet settled or paid.
//!
//! Banks in Japan are closed on Saturdays, Sundays, national holidays and from 31 December to
//! 3 January (PROTOCOLS.md §4). The national holidays are computed by the rules of the 祝日法 for
//! 2000–2099, with the one-off years 2019–2021 shipped as data ([`pos_core::holidays`], one
//! implementation for the reconciler and the simulators); a deployment overrides any year (a
//! change of law, a year past 2099) with a file `holidays-YYYY.txt` in the directory its
//! configuration names (`[calendar] holidays_dir`), read when the calendar is made, so no rebuild
//! is needed. A date of a year neither computed nor given by a file is an error naming the date:
//! treating an unknown year's holidays as business days would move every due date silently.

use std::path::Path;

use chrono::{Days, NaiveDate};
use pos_config::Config;
use pos_core::holidays::{HolidayError, Holidays};

/// The longest run of days without a business day that a search walks through before giving
/// up. The longest real closure (Golden Week plus a weekend, or the new year) is under ten days.
pub const CLOSED_DAYS_RUN_MAX: u32 = 31;
/// The most holiday files one directory may hold (a century of years is plenty).
pub const HOLIDAY_FILES_MAX: usize = 200;
/// The largest holiday file read.
pub const HOLIDAY_FILE_BYTES_MAX: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error(transparent)]
    Holidays(#[from] HolidayError),
    #[error("the holiday directory {path}: {message}")]
    Directory { path: String, message: String },
    #[error("no bank business day within {CLOSED_DAYS_RUN_MAX} days after {date}")]
    NoBusinessDay { date: NaiveDate },
}

/// Which days banks are open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankCalendar {
    holidays: Holidays,
}

impl Default for BankCalendar {
    fn default() -> Self {
        BankCalendar::shipped_holidays()
    }
}

impl BankCalendar {
    fn shipped_holidays() -> BankCalendar {
        BankCalendar { holidays: Holidays::standard() }
    }

    /// The rules of the 祝日法 and the one-off years shipped with the code.
    pub fn shipped() -> Result<BankCalendar, CalendarError> {
        Ok(BankCalendar::shipped_holidays())
    }

    /// The calendar a configuration asks for: the shipped one, with every `holidays-YYYY.txt` of
    /// its `[calendar] holidays_dir` overriding its year.
    pub fn for_config(config: &Config) -> Result<BankCalendar, CalendarError> {
        let mut calendar = BankCalendar::shipped_holidays();
        if let Some(dir) = &config.calendar.holidays_dir {
            calendar.load_dir(dir)?;
        }
        Ok(calendar)
    }

    /// Lets every `holidays-YYYY.txt` of `dir` override its year; other files are left alone.
    /// Returns the years loaded.
    pub fn load_dir(&mut self, dir: &Path) -> Result<Vec<i32>, CalendarError> {
        let failed = |message: String| CalendarError::Directory { path: dir.display().to_string(), message };
        let entries = std::fs::read_dir(dir).map_err(|error| failed(format!("cannot be read: {error}")))?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| failed(format!("cannot be listed: {error}")))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("holidays-") && name.ends_with(".txt") {
                files.push((name, entry.path()));
            }
            if files.len() > HOLIDAY_FILES_MAX {
                return Err(failed(format!("holds more than {HOLIDAY_FILES_MAX} holiday files")));
            }
        }
        files.sort();
        let mut years = Vec::new();
        for (name, path) in files {
            let size = std::fs::metadata(&path).map_err(|error| failed(format!("{name}: {error}")))?.len();
            if size > HOLIDAY_FILE_BYTES_MAX {
                return Err(failed(format!("{name} is larger than {HOLIDAY_FILE_BYTES_MAX} bytes")));
            }
            let text = std::fs::read_to_string(&path).map_err(|error| failed(format!("{name}: {error}")))?;
            years.push(self.load(&name, &text)?);
        }
        Ok(years)
    }

    /// Lets one holiday file (`holidays-YYYY.txt`: one `YYYY-MM-DD` a line, a name after it)
    /// override its year. Returns the year.
    pub fn load(&mut self, file: &str, text: &str) -> Result<i32, CalendarError> {
        Ok(self.holidays.load_file(file, text)?)
    }

    /// The holidays the calendar uses.
    pub fn holidays(&self) -> &Holidays {
        &self.holidays
    }

    /// Whether banks are open on `date`.
    pub fn is_business_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        Ok(self.holidays.is_bank_business_day(date)?)
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
    fn year_end_weekends_and_holidays_are_closed() {
        let calendar = BankCalendar::shipped().unwrap();
        assert!(!calendar.is_business_day(day("2026-12-31")).unwrap());
        assert!(!calendar.is_business_day(day("2027-01-02")).unwrap());
        assert!(!calendar.is_business_day(day("2027-01-03")).unwrap());
        assert!(calendar.is_business_day(day("2027-01-04")).unwrap());
        assert!(!calendar.is_business_day(day("2026-09-22")).unwrap());
        // Golden Week 2026: Friday 1 May is open, then closed from Saturday 2 until Thursday 7 May.
        assert_eq!(calendar.add_business_days(day("2026-04-30"), 1).unwrap(), day("2026-05-01"));
        assert_eq!(calendar.add_business_days(day("2026-05-01"), 1).unwrap(), day("2026-05-07"));
        assert_eq!(calendar.add_business_days(day("2026-12-30"), 1).unwrap(), day("2027-01-04"));
        assert_eq!(calendar.add_business_days(day("2026-11-21"), 0).unwrap(), day("2026-11-24"));
        assert_eq!(calendar.due_on(day("2026-11-20"), 2).unwrap(), day("2026-11-25"));
    }

    #[test]
    fn the_calendar_runs_on_past_2027_and_before_2026() {
        let calendar = BankCalendar::shipped().unwrap();
        // Tuesday 28 December 2027: the 29th and 30th are open, then the year-end closes the
        // banks until Tuesday 4 January 2028.
        assert_eq!(calendar.add_business_days(day("2027-12-28"), 3).unwrap(), day("2028-01-04"));
        // Monday 2 June 2025, and 16 July 2025 after 海の日 (Monday 21 July).
        assert_eq!(calendar.add_business_days(day("2025-06-02"), 1).unwrap(), day("2025-06-03"));
        assert_eq!(calendar.add_business_days(day("2025-07-18"), 1).unwrap(), day("2025-07-22"));
    }

    #[test]
    fn a_date_no_rule_or_file_covers_is_a_clear_error() {
        let calendar = BankCalendar::shipped().unwrap();
        let error = calendar.next_business_day(day("2099-12-30")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no bank calendar for 2100-01-01: national holidays are computed for 2000–2099, and no holiday file covers 2100"
        );
    }

    #[test]
    fn a_directory_of_holiday_files_overrides_its_years() {
        let dir = std::env::temp_dir().join(format!("bank-calendar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("holidays-2030.txt"), "# a law moved 海の日\n2030-01-01 元日\n2030-07-24 海の日\n")
            .unwrap();
        std::fs::write(dir.join("README.md"), "not a holiday file").unwrap();
        let mut calendar = BankCalendar::shipped().unwrap();
        assert_eq!(calendar.load_dir(&dir).unwrap(), vec![2030]);
        assert!(!calendar.is_business_day(day("2030-07-24")).unwrap());
        // 15 July 2030 is the third Monday: a holiday by the rules, not by the file.
        assert!(calendar.is_business_day(day("2030-07-15")).unwrap());
        std::fs::write(dir.join("holidays-2031.txt"), "2031-02-30\n").unwrap();
        let error = BankCalendar::shipped().unwrap().load_dir(&dir).unwrap_err();
        assert_eq!(
            error.to_string(),
            "holidays-2031.txt, line 1: \"2031-02-30\" is not a date (YYYY-MM-DD) with an optional name"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let missing = BankCalendar::shipped().unwrap().load_dir(&dir).unwrap_err();
        assert!(matches!(missing, CalendarError::Directory { .. }), "{missing}");
    }
}
