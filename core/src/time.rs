//! Business dates and fiscal years in Asia/Tokyo, and the injected clock.
//!
//! Japan has had no daylight saving time since 1951, so Asia/Tokyo is the fixed offset UTC+9 and
//! no time-zone database is needed. The city's fiscal year runs from 1 April to 31 March and is
//! named after the calendar year in which it starts (FY2021 = April 2021 to March 2022).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub const JST_OFFSET_SECONDS: i32 = 9 * 3600;

pub fn jst() -> FixedOffset {
    // The offset is a constant well within ±24 h, so this cannot fail.
    FixedOffset::east_opt(JST_OFFSET_SECONDS).unwrap_or_else(|| unreachable!("constant offset"))
}

/// Where the current instant comes from. Handed in, so that business dates, fiscal years and
/// recovery windows can be tested at any instant and a seeded simulation replays exactly.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A calendar day in Asia/Tokyo on which takings are booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BusinessDate(NaiveDate);

impl BusinessDate {
    pub fn new(date: NaiveDate) -> BusinessDate {
        BusinessDate(date)
    }

    /// The business date of an instant: its calendar date in Asia/Tokyo.
    pub fn of_instant(instant: DateTime<Utc>) -> BusinessDate {
        BusinessDate(instant.with_timezone(&jst()).date_naive())
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }

    pub fn fiscal_year(self) -> FiscalYear {
        let year = self.0.year();
        let start_year = if self.0.month() >= 4 { year } else { year - 1 };
        FiscalYear(start_year)
    }
}

impl fmt::Display for BusinessDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl FromStr for BusinessDate {
    type Err = chrono::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map(BusinessDate)
    }
}

/// A fiscal year, named by the calendar year of its April.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FiscalYear(i32);

impl FiscalYear {
    pub fn new(start_year: i32) -> FiscalYear {
        FiscalYear(start_year)
    }

    pub fn start_year(self) -> i32 {
        self.0
    }

    pub fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.0, 4, 1)
    }

    pub fn last_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.0 + 1, 3, 31)
    }
}

impl fmt::Display for FiscalYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FY{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn business_date_is_the_tokyo_calendar_day() {
        // 14:59:59 UTC is 23:59:59 JST; one second later it is the next day in Tokyo.
        let before = Utc.with_ymd_and_hms(2026, 3, 31, 14, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 3, 31, 15, 0, 0).unwrap();
        assert_eq!(BusinessDate::of_instant(before).to_string(), "2026-03-31");
        assert_eq!(BusinessDate::of_instant(after).to_string(), "2026-04-01");
        assert_eq!(BusinessDate::of_instant(before).fiscal_year(), FiscalYear::new(2025));
        assert_eq!(BusinessDate::of_instant(after).fiscal_year(), FiscalYear::new(2026));
    }

    #[test]
    fn fiscal_year_runs_april_to_march() {
        let fy = "2022-01-15".parse::<BusinessDate>().unwrap().fiscal_year();
        assert_eq!(fy.to_string(), "FY2021");
        assert_eq!(fy.first_day().unwrap().to_string(), "2021-04-01");
        assert_eq!(fy.last_day().unwrap().to_string(), "2022-03-31");
    }
}

/// A clock that shows whatever instant it is set to: for simulations (the demo's business day)
/// and tests of date and fiscal-year boundaries.
#[derive(Debug)]
pub struct ManualClock {
    now: std::sync::Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock { now: std::sync::Mutex::new(start) }
    }

    pub fn set(&self, instant: DateTime<Utc>) {
        // A poisoned lock only means another thread panicked while setting a plain value.
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = instant;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
