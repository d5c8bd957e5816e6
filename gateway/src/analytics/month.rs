//! A calendar month, `YYYY-MM` — the period of the monthly report and of one open-data
//! publication.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Months, NaiveDate};
use pos_core::BusinessDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    first: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a month of the form YYYY-MM (e.g. 2026-11)")]
pub struct BadMonth(pub String);

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Month> {
        NaiveDate::from_ymd_opt(year, month, 1).map(|first| Month { first })
    }

    pub fn of(date: BusinessDate) -> Month {
        Month { first: date.date().with_day(1).unwrap_or(date.date()) }
    }

    pub fn first_day(self) -> BusinessDate {
        BusinessDate::new(self.first)
    }

    pub fn last_day(self) -> BusinessDate {
        let next = self.first.checked_add_months(Months::new(1)).unwrap_or(NaiveDate::MAX);
        BusinessDate::new(next.pred_opt().unwrap_or(self.first))
    }

    /// The month `months` before this one.
    pub fn minus(self, months: u32) -> Month {
        Month { first: self.first.checked_sub_months(Months::new(months)).unwrap_or(NaiveDate::MIN) }
    }

    pub fn previous(self) -> Month {
        self.minus(1)
    }
}

impl FromStr for Month {
    type Err = BadMonth;

    fn from_str(text: &str) -> Result<Month, BadMonth> {
        let bad = || BadMonth(text.to_string());
        let (year, month) = text.split_once('-').ok_or_else(bad)?;
        if year.len() != 4 || month.len() != 2 || !text.bytes().filter(|b| *b != b'-').all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        Month::new(year.parse().map_err(|_| bad())?, month.parse().map_err(|_| bad())?).ok_or_else(bad)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

impl serde::Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Month, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in "\\PC{0,12}") {
            if let Ok(month) = text.parse::<Month>() {
                prop_assert_eq!(month.to_string(), text);
            }
        }

        #[test]
        fn every_month_round_trips_and_spans_its_days(year in 1900i32..2200, number in 1u32..=12) {
            let month = Month::new(year, number).expect("a month");
            prop_assert_eq!(month.to_string().parse::<Month>(), Ok(month));
            prop_assert_eq!(Month::of(month.last_day()), month);
            prop_assert_eq!(Month::of(month.first_day()).previous(), Month::of(month.previous().last_day()));
        }
    }

    #[test]
    fn months_parse_strictly_and_know_their_days() {
        let month: Month = "2024-02".parse().expect("parses");
        assert_eq!(month.last_day().to_string(), "2024-02-29");
        assert_eq!(month.previous().to_string(), "2024-01");
        assert_eq!(month.minus(12).to_string(), "2023-02");
        assert_eq!("2026-01".parse::<Month>().map(|m| m.previous().to_string()), Ok("2025-12".to_string()));
        for bad in ["2026-13", "2026-1", "26-11", "2026/11", "2026-11-01", "", "２０２６-11"] {
            assert!(bad.parse::<Month>().is_err(), "{bad:?} accepted");
        }
    }
}
