//! Japanese national holidays and bank business days, computed by the rules of the 祝日法
//! (国民の祝日に関する法律, 昭和23年法律第178号) for every year from [`FIRST_YEAR`] to
//! [`LAST_YEAR`], with data files that override a year.
//!
//! **The rules** ([`computed`]), as the law stood in each year:
//!
//! - Fixed days: 元日 1/1, 建国記念の日 2/11, 天皇誕生日 (12/23 until 2018; none in 2019; 2/23 from
//!   2020), みどりの日 4/29 until 2006 and 昭和の日 4/29 from 2007, 憲法記念日 5/3, みどりの日 5/4
//!   from 2007, こどもの日 5/5, 海の日 7/20 until 2002, 山の日 8/11 from 2016, 敬老の日 9/15 until
//!   2002, 文化の日 11/3, 勤労感謝の日 11/23.
//! - Happy Monday days: 成人の日 the second Monday of January, 海の日 the third Monday of July
//!   (from 2003), 敬老の日 the third Monday of September (from 2003), 体育の日 (スポーツの日 from
//!   2020) the second Monday of October.
//! - 春分の日 and 秋分の日 on the equinox days by the astronomical formula used for 1980–2099:
//!   day = ⌊20.8431 + 0.242194 (Y − 1980)⌋ − ⌊(Y − 1980) / 4⌋ in March and
//!   ⌊23.2488 + 0.242194 (Y − 1980)⌋ − ⌊(Y − 1980) / 4⌋ in September, computed in integer
//!   millionths (the official days are announced by the 国立天文台 a year ahead; a year where
//!   they differ is overridden by a data file).
//! - 振替休日 (第3条第2項): a holiday on a Sunday moves to the following day until 2006, and
//!   from 2007 to the nearest following day that is not a national holiday.
//! - 国民の休日 (第3条第3項): a day that is not a national holiday between two that are, which
//!   until 2006 excluded Sundays and 振替休日.
//!
//! **One-off changes** made by other laws (2019's 即位の日 and 即位礼正殿の儀, the holidays moved
//! for the Olympic Games in 2020 and 2021) are not rules: they are data files shipped here
//! (`data/holidays/holidays-2019.txt`, `-2020.txt`, `-2021.txt`), each listing the whole year as the
//! Cabinet Office published it, and a deployment may add its own for any year (a year outside the
//! range, or a new one-off change) without a rebuild ([`Holidays::override_year`]). A data file
//! has one `YYYY-MM-DD` a line with the holiday's name after it; `#` starts a comment.
//!
//! **Bank business days** ([`Holidays::is_bank_business_day`]): not a Saturday or Sunday, not a
//! national holiday, and not 12/31–1/3, when Japanese banks are closed.
//!
//! A date of a year neither computed nor overridden is a clear error naming it, never a silent
//! business day.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// The first year whose holidays are computed.
pub const FIRST_YEAR: i32 = 2000;
/// The last year whose holidays are computed.
pub const LAST_YEAR: i32 = 2099;
/// The year the 2007 amendment took effect (振替休日 to the nearest non-holiday, 国民の休日 on
/// any day, 昭和の日 and みどりの日 on 5/4).
const AMENDED_2007: i32 = 2007;

/// The one-off years the Cabinet Office published beyond the rules, as shipped.
pub const SHIPPED_OVERRIDES: [(&str, &str); 3] = [
    ("holidays-2019.txt", include_str!("../data/holidays/holidays-2019.txt")),
    ("holidays-2020.txt", include_str!("../data/holidays/holidays-2020.txt")),
    ("holidays-2021.txt", include_str!("../data/holidays/holidays-2021.txt")),
];

/// One holiday: its date and its name as the Cabinet Office writes it (`休日` for a 振替休日 or
/// a 国民の休日).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name: String,
}

/// Why a date's holidays are not known, or a holiday file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HolidayError {
    #[error(
        "no bank calendar for {date}: national holidays are computed for {FIRST_YEAR}–{LAST_YEAR}, and no holiday file covers {year}"
    )]
    YearNotCovered { date: NaiveDate, year: i32 },
    #[error("{file}, line {line}: {text:?} is not a date (YYYY-MM-DD) with an optional name")]
    NotADate { file: String, line: usize, text: String },
    #[error("{file}, line {line}: {date} is not in {year}, the year the file is for")]
    WrongYear { file: String, line: usize, date: NaiveDate, year: i32 },
    #[error("{file}, line {line}: {date} is listed twice")]
    Repeated { file: String, line: usize, date: NaiveDate },
    #[error("{file}: holds no date, so it cannot stand for the year's holidays")]
    Empty { file: String },
    #[error("{file}: not a holiday file name (holidays-YYYY.txt)")]
    FileName { file: String },
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or_else(|| unreachable!("a calendar date of the rules"))
}

/// The `nth` Monday of a month (1-based).
fn nth_monday(year: i32, month: u32, nth: u32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Mon, nth as u8)
        .unwrap_or_else(|| unreachable!("every month has a fourth Monday"))
}

/// The day of March (春分日) or September (秋分日) of the equinox by the formula of the module
/// documentation; `base_micro` is 20.8431 or 23.2488 in millionths.
fn equinox_day(year: i32, base_micro: i64) -> u32 {
    let since = i64::from(year - 1980);
    let day = (base_micro + 242_194 * since) / 1_000_000 - since / 4;
    u32::try_from(day).unwrap_or_else(|_| unreachable!("an equinox day of 2000–2099"))
}

/// 春分日 of a year.
pub fn vernal_equinox(year: i32) -> NaiveDate {
    date(year, 3, equinox_day(year, 20_843_100))
}

/// 秋分日 of a year.
pub fn autumnal_equinox(year: i32) -> NaiveDate {
    date(year, 9, equinox_day(year, 23_248_800))
}

/// The 国民の祝日 themselves (no 振替休日, no 国民の休日).
fn named_holidays(year: i32) -> BTreeMap<NaiveDate, &'static str> {
    let mut days = BTreeMap::new();
    let mut put = |day: NaiveDate, name: &'static str| {
        days.insert(day, name);
    };
    put(date(year, 1, 1), "元日");
    put(nth_monday(year, 1, 2), "成人の日");
    put(date(year, 2, 11), "建国記念の日");
    if year >= 2020 {
        put(date(year, 2, 23), "天皇誕生日");
    }
    put(vernal_equinox(year), "春分の日");
    put(date(year, 4, 29), if year >= AMENDED_2007 { "昭和の日" } else { "みどりの日" });
    put(date(year, 5, 3), "憲法記念日");
    if year >= AMENDED_2007 {
        put(date(year, 5, 4), "みどりの日");
    }
    put(date(year, 5, 5), "こどもの日");
    put(if year >= 2003 { nth_monday(year, 7, 3) } else { date(year, 7, 20) }, "海の日");
    if year >= 2016 {
        put(date(year, 8, 11), "山の日");
    }
    put(if year >= 2003 { nth_monday(year, 9, 3) } else { date(year, 9, 15) }, "敬老の日");
    put(autumnal_equinox(year), "秋分の日");
    put(nth_monday(year, 10, 2), if year >= 2020 { "スポーツの日" } else { "体育の日" });
    put(date(year, 11, 3), "文化の日");
    put(date(year, 11, 23), "勤労感謝の日");
    if year <= 2018 {
        put(date(year, 12, 23), "天皇誕生日");
    }
    days
}

fn next(day: NaiveDate) -> Option<NaiveDate> {
    day.checked_add_days(Days::new(1))
}

/// A year's holidays by the rules, in date order; an error for a year outside
/// [`FIRST_YEAR`]–[`LAST_YEAR`].
pub fn computed(year: i32) -> Result<Vec<Holiday>, HolidayError> {
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return Err(HolidayError::YearNotCovered { date: date(year.clamp(1, 9999), 1, 1), year });
    }
    let named = named_holidays(year);
    let mut substitutes = BTreeMap::new();
    // 振替休日: a Sunday holiday moves to the next day that is not a national holiday (before
    // 2007, simply to the next day).
    for day in named.keys().filter(|day| day.weekday() == Weekday::Sun) {
        let mut moved = next(*day);
        if year >= AMENDED_2007 {
            while let Some(candidate) = moved.filter(|candidate| named.contains_key(candidate)) {
                moved = next(candidate);
            }
        }
        if let Some(moved) = moved.filter(|moved| moved.year() == year && !named.contains_key(moved)) {
            substitutes.insert(moved, "休日");
        }
    }
    // 国民の休日: a day between two national holidays that is not one itself (before 2007, not a
    // Sunday nor a 振替休日 either).
    let mut sandwiched = BTreeMap::new();
    for day in named.keys() {
        let Some(between) = next(*day) else { continue };
        let closes = next(between).is_some_and(|after| named.contains_key(&after));
        let before_2007_excluded =
            year < AMENDED_2007 && (between.weekday() == Weekday::Sun || substitutes.contains_key(&between));
        if closes && !named.contains_key(&between) && !before_2007_excluded && between.year() == year {
            sandwiched.insert(between, "休日");
        }
    }
    let mut holidays: BTreeMap<NaiveDate, &str> = named;
    holidays.extend(substitutes);
    holidays.extend(sandwiched);
    Ok(holidays.into_iter().map(|(date, name)| Holiday { date, name: name.to_string() }).collect())
}

/// The year a holiday file's name says it is for: `holidays-2020.txt` → 2020.
pub fn year_of_file_name(file: &str) -> Result<i32, HolidayError> {
    let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
    name.strip_prefix("holidays-")
        .and_then(|rest| rest.strip_suffix(".txt"))
        .filter(|year| year.len() == 4 && year.bytes().all(|byte| byte.is_ascii_digit()))
        .and_then(|year| year.parse().ok())
        .ok_or_else(|| HolidayError::FileName { file: file.to_string() })
}

/// Reads a holiday file of `year`: one `YYYY-MM-DD` a line, a name after it, `#` comments.
pub fn parse_year_file(file: &str, year: i32, text: &str) -> Result<Vec<Holiday>, HolidayError> {
    let mut holidays: Vec<Holiday> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let line = index + 1;
        let (date_text, name) = content.split_once(char::is_whitespace).unwrap_or((content, ""));
        let date = NaiveDate::parse_from_str(date_text, "%Y-%m-%d").map_err(|_| HolidayError::NotADate {
            file: file.to_string(),
            line,
            text: content.to_string(),
        })?;
        if date.year() != year {
            return Err(HolidayError::WrongYear { file: file.to_string(), line, date, year });
        }
        if holidays.iter().any(|holiday| holiday.date == date) {
            return Err(HolidayError::Repeated { file: file.to_string(), line, date });
        }
        let name = if name.trim().is_empty() { "休日" } else { name.trim() };
        holidays.push(Holiday { date, name: name.to_string() });
    }
    if holidays.is_empty() {
        return Err(HolidayError::Empty { file: file.to_string() });
    }
    holidays.sort();
    Ok(holidays)
}

/// The holidays of every year: computed by the rules, where a data file does not override the
/// year. Every year's list is made once, when the calendar is made (a century of rules is under
/// two thousand dates), so that asking about a day is a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holidays {
    years: BTreeMap<i32, Vec<Holiday>>,
    dates: BTreeSet<NaiveDate>,
}

impl Holidays {
    /// The rules alone, without even the shipped one-off years.
    pub fn rules_only() -> Holidays {
        let mut holidays = Holidays { years: BTreeMap::new(), dates: BTreeSet::new() };
        for year in FIRST_YEAR..=LAST_YEAR {
            match computed(year) {
                Ok(list) => holidays.override_year(year, list),
                Err(error) => unreachable!("every year of the rules is computed: {error}"),
            }
        }
        holidays
    }

    /// The rules and the one-off years shipped with the crate ([`SHIPPED_OVERRIDES`]).
    pub fn standard() -> Holidays {
        let mut holidays = Holidays::rules_only();
        for (file, text) in SHIPPED_OVERRIDES {
            if let Err(error) = holidays.load_file(file, text) {
                unreachable!("a shipped holiday file is valid (the tests read each): {error}");
            }
        }
        holidays
    }

    /// Replaces a year's holidays with a data file's.
    pub fn override_year(&mut self, year: i32, holidays: Vec<Holiday>) {
        if let Some(earlier) = self.years.remove(&year) {
            for holiday in earlier {
                self.dates.remove(&holiday.date);
            }
        }
        self.dates.extend(holidays.iter().map(|holiday| holiday.date));
        self.years.insert(year, holidays);
    }

    /// Reads a holiday file (its name says its year) and lets it override that year.
    pub fn load_file(&mut self, file: &str, text: &str) -> Result<i32, HolidayError> {
        let year = year_of_file_name(file)?;
        let holidays = parse_year_file(file, year, text)?;
        self.override_year(year, holidays);
        Ok(year)
    }

    /// A year's holidays, in date order.
    pub fn of_year(&self, year: i32) -> Result<Vec<Holiday>, HolidayError> {
        match self.years.get(&year) {
            Some(holidays) => Ok(holidays.clone()),
            None => Err(HolidayError::YearNotCovered { date: date(year.clamp(1, 9999), 1, 1), year }),
        }
    }

    /// Whether `day` is a national holiday; an error when its year is not covered.
    pub fn is_holiday(&self, day: NaiveDate) -> Result<bool, HolidayError> {
        let year = day.year();
        if !self.years.contains_key(&year) {
            return Err(HolidayError::YearNotCovered { date: day, year });
        }
        Ok(self.dates.contains(&day))
    }

    /// Whether Japanese banks are open on `day`: not a weekend, not a national holiday, not
    /// 12/31–1/3.
    pub fn is_bank_business_day(&self, day: NaiveDate) -> Result<bool, HolidayError> {
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        let year_end = matches!((day.month(), day.day()), (12, 31) | (1, 1..=3));
        let holiday = self.is_holiday(day)?;
        Ok(!weekend && !year_end && !holiday)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn dates(year: i32) -> Vec<NaiveDate> {
        computed(year).unwrap().into_iter().map(|holiday| holiday.date).collect()
    }

    #[test]
    fn the_equinoxes_fall_where_the_formula_puts_them() {
        assert_eq!(vernal_equinox(2026), day("2026-03-20"));
        assert_eq!(autumnal_equinox(2026), day("2026-09-23"));
        assert_eq!(vernal_equinox(2027), day("2027-03-21"));
        assert_eq!(autumnal_equinox(2024), day("2024-09-22"));
        assert_eq!(vernal_equinox(2000), day("2000-03-20"));
        assert_eq!(autumnal_equinox(2099), day("2099-09-23"));
    }

    #[test]
    fn substitute_and_sandwiched_days_follow_the_law_of_their_year() {
        // 2009: 敬老の日 Monday 21 September and 秋分の日 Wednesday 23: the 22nd is 国民の休日.
        assert!(dates(2009).contains(&day("2009-09-22")));
        // 2008: 憲法記念日 on Saturday, こどもの日 on Monday; 5/4 みどりの日 on Sunday moves to
        // Tuesday 6 May (the nearest day that is not a holiday: the 2007 rule).
        assert!(dates(2008).contains(&day("2008-05-06")));
        // 2006 (the old rule): 憲法記念日 Wednesday, 5/4 国民の休日, 5/5 こどもの日.
        assert!(dates(2006).contains(&day("2006-05-04")));
        // 2005: 5/4 was a Wednesday 国民の休日 between 5/3 and 5/5.
        assert!(dates(2005).contains(&day("2005-05-04")));
        // 2026: 敬老の日 Monday 21 September, 秋分の日 Wednesday 23: the 22nd is 国民の休日.
        assert!(dates(2026).contains(&day("2026-09-22")));
    }

    #[test]
    fn a_year_outside_the_rules_is_a_clear_error_until_a_file_covers_it() {
        let holidays = Holidays::standard();
        let error = holidays.is_bank_business_day(day("2100-06-01")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no bank calendar for 2100-06-01: national holidays are computed for 2000–2099, and no holiday file covers 2100"
        );
        assert!(matches!(holidays.is_holiday(day("1999-12-01")), Err(HolidayError::YearNotCovered { year: 1999, .. })));
        let mut covered = Holidays::standard();
        assert_eq!(covered.load_file("dir/holidays-2100.txt", "2100-01-01 元日\n").unwrap(), 2100);
        assert_eq!(covered.is_bank_business_day(day("2100-06-01")), Ok(true));
        assert_eq!(covered.is_holiday(day("2100-01-01")), Ok(true));
    }

    #[test]
    fn holiday_files_are_read_strictly() {
        let mut holidays = Holidays::standard();
        let refused = |file: &str, text: &str| Holidays::standard().load_file(file, text).unwrap_err();
        assert!(matches!(refused("holidays-2030.txt", "2030-02-30\n"), HolidayError::NotADate { line: 1, .. }));
        assert!(matches!(
            refused("holidays-2030.txt", "# x\n2031-01-01 元日\n"),
            HolidayError::WrongYear { line: 2, .. }
        ));
        assert!(matches!(refused("holidays-2030.txt", "2030-01-01\n2030-01-01\n"), HolidayError::Repeated { .. }));
        assert!(matches!(refused("holidays-2030.txt", "# nothing\n"), HolidayError::Empty { .. }));
        assert!(matches!(refused("holiday-2030.txt", "2030-01-01\n"), HolidayError::FileName { .. }));
        // An override replaces the year: a one-off holiday, and a day that is no longer one.
        holidays.load_file("holidays-2030.txt", "2030-01-01 元日\n2030-06-15 特例の休日\n").unwrap();
        assert_eq!(holidays.is_holiday(day("2030-06-15")), Ok(true));
        assert_eq!(holidays.is_holiday(day("2030-01-14")), Ok(false));
        assert_eq!(holidays.of_year(2030).unwrap()[1].name, "特例の休日");
    }

    #[test]
    fn banks_close_at_the_year_end_and_on_holidays() {
        let holidays = Holidays::standard();
        for closed in ["2027-12-31", "2028-01-03", "2026-11-23", "2026-05-06", "2025-11-24"] {
            assert_eq!(holidays.is_bank_business_day(day(closed)), Ok(false), "{closed}");
        }
        for open in ["2028-01-04", "2025-06-02", "2027-12-28"] {
            assert_eq!(holidays.is_bank_business_day(day(open)), Ok(true), "{open}");
        }
    }
}
