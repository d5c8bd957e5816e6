//! Payout dates: bank business days after the settlement date.
//!
//! Only Saturdays and Sundays are skipped. Japanese national holidays and the bank holidays of
//! 31 December to 3 January are **not modelled by the simulator** (PROTOCOLS.md §4 keeps them as
//! data for the reconciler); a simulated payout may fall on a holiday.

use chrono::{Datelike, NaiveDate, Weekday};

use crate::config::PAYOUT_LAG_DAYS_MAX;
use crate::error::SimError;

pub fn is_business_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
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
        while !is_business_day(day) {
            day = day.succ_opt().ok_or_else(overflow)?;
        }
        return Ok(day);
    }
    for _ in 0..lag_days {
        day = day.succ_opt().ok_or_else(overflow)?;
        while !is_business_day(day) {
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
}
