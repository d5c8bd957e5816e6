//! Payout dates: bank business days after the settlement date.
//!
//! Bank business days are the reconciler's, from the one implementation in
//! [`pos_core::holidays`]: not a Saturday or Sunday, not a national holiday by the rules of the
//! 祝日法 (with the one-off years 2019–2021 as published), not 31 December to 3 January. A date
//! whose year the rules do not cover (before 2000, after 2099) has no payout date.

use std::sync::OnceLock;

use chrono::NaiveDate;
use pos_core::holidays::Holidays;

use crate::config::PAYOUT_LAG_DAYS_MAX;
use crate::error::SimError;

/// The calendar, made once.
fn holidays() -> &'static Holidays {
    static HOLIDAYS: OnceLock<Holidays> = OnceLock::new();
    HOLIDAYS.get_or_init(Holidays::standard)
}

/// Whether banks are open on `date`; a year the calendar does not cover is an error.
pub fn is_business_day(date: NaiveDate) -> Result<bool, SimError> {
    holidays().is_bank_business_day(date).map_err(|error| SimError::Calendar(error.to_string()))
}

/// The `lag_days`-th business day after `date`; with a lag of 0, `date` itself, or the Monday
/// after it when it falls on a weekend.
pub fn payout_date(date: NaiveDate, lag_days: u32) -> Result<NaiveDate, SimError> {
    if lag_days > PAYOUT_LAG_DAYS_MAX {
        return Err(SimError::PayoutLagTooLong { days: lag_days, max: PAYOUT_LAG_DAYS_MAX });
    }
    let overflow = || SimError::PayoutDate { date, days: lag_days };
    let mut day = date;
    if lag_days == 0 {
        while !is_business_day(day)? {
            day = day.succ_opt().ok_or_else(overflow)?;
        }
        return Ok(day);
    }
    for _ in 0..lag_days {
        day = day.succ_opt().ok_or_else(overflow)?;
        while !is_business_day(day)? {
            day = day.succ_opt().ok_or_else(overflow)?;
        }
    }
    Ok(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn weekends_are_skipped() {
        // 2026-11-24 is a Tuesday; the §4.1 example pays two business days later.
        assert_eq!(payout_date(date("2026-11-24"), 2).unwrap(), date("2026-11-26"));
        assert_eq!(payout_date(date("2026-11-24"), 3).unwrap(), date("2026-11-27"));
        // Friday + 1 → Monday; Saturday + 1 → Monday; Friday + 3 → Wednesday.
        assert_eq!(payout_date(date("2026-11-27"), 1).unwrap(), date("2026-11-30"));
        assert_eq!(payout_date(date("2026-11-28"), 1).unwrap(), date("2026-11-30"));
        assert_eq!(payout_date(date("2026-11-27"), 3).unwrap(), date("2026-12-02"));
        assert_eq!(payout_date(date("2026-11-29"), 0).unwrap(), date("2026-11-30"));
        assert_eq!(payout_date(date("2026-11-24"), 0).unwrap(), date("2026-11-24"));
        assert!(payout_date(date("2026-11-24"), PAYOUT_LAG_DAYS_MAX + 1).is_err());
    }

    #[test]
    fn holidays_and_the_year_end_are_skipped_as_the_reconciler_skips_them() {
        // Friday 20 November 2026 + 1: Monday 23 is 勤労感謝の日, so Tuesday 24.
        assert_eq!(payout_date(date("2026-11-20"), 1).unwrap(), date("2026-11-24"));
        // Monday 28 December 2026 + 3: 29, 30, then the banks' year end until Monday 4 January.
        assert_eq!(payout_date(date("2026-12-28"), 3).unwrap(), date("2027-01-04"));
        assert!(matches!(payout_date(date("2099-12-30"), 1), Err(SimError::Calendar(_))));
    }
}
