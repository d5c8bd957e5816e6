//! The holidays computed by the rules of the 祝日法, with the one-off years shipped as data,
//! against the Cabinet Office's published list for every year from 2016 to 2027
//! (`tests/data/syukujitsu-2016-2027.csv`, see `tests/data/README.md`): every date and name.

use chrono::NaiveDate;
use pos_core::holidays::{computed, Holiday, Holidays, SHIPPED_OVERRIDES};

const PUBLISHED: &str = include_str!("data/syukujitsu-2016-2027.csv");

/// The published list's rows of `year`.
fn published(year: i32) -> Vec<Holiday> {
    PUBLISHED
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (date, name) = line.trim_end().split_once(',').expect("date,name");
            let date = NaiveDate::parse_from_str(date, "%Y/%m/%d").expect("the published date");
            Holiday { date, name: name.to_string() }
        })
        .filter(|holiday| chrono::Datelike::year(&holiday.date) == year)
        .collect()
}

#[test]
fn every_year_from_2016_to_2027_is_the_cabinet_offices_list() {
    let holidays = Holidays::standard();
    let mut rows = 0;
    for year in 2016..=2027 {
        let expected = published(year);
        assert!(expected.len() >= 15, "{year} is in the published list");
        assert_eq!(holidays.of_year(year).unwrap(), expected, "{year}");
        rows += expected.len();
    }
    assert_eq!(rows, PUBLISHED.lines().count() - 1, "every published row was compared");
}

#[test]
fn the_rules_alone_give_every_year_but_the_one_off_ones() {
    let overridden: Vec<i32> =
        SHIPPED_OVERRIDES.iter().map(|(file, _)| pos_core::holidays::year_of_file_name(file).unwrap()).collect();
    assert_eq!(overridden, vec![2019, 2020, 2021]);
    for year in (2016..=2027).filter(|year| !overridden.contains(year)) {
        assert_eq!(computed(year).unwrap(), published(year), "{year} by the rules alone");
    }
    // The one-off years differ from the rules exactly where another law moved a holiday.
    let rules_2020: Vec<NaiveDate> = computed(2020).unwrap().into_iter().map(|holiday| holiday.date).collect();
    for moved in ["2020-07-20", "2020-08-11", "2020-10-12"] {
        assert!(rules_2020.contains(&moved.parse().unwrap()), "{moved} is where the rules put it");
    }
}

#[test]
fn every_year_of_the_rules_is_computed() {
    for year in pos_core::holidays::FIRST_YEAR..=pos_core::holidays::LAST_YEAR {
        let list = computed(year).unwrap();
        assert!((15..=22).contains(&list.len()), "{year}: {} holidays", list.len());
        assert!(list.windows(2).all(|pair| pair[0].date < pair[1].date), "{year} in date order, each once");
    }
    assert!(computed(2100).is_err());
    assert!(computed(1999).is_err());
}
