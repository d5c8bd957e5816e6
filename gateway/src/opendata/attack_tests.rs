//! The open data's suppression attacked: adversarial months (a facility with one small method, a
//! lone small brand, chains of small cells that defeat "two per row") are built into the three
//! published tables, and an attacker who knows how the tables add up — every facility's methods
//! to its total, every method's facilities and brands to its city total, the categories' amounts
//! to the city's — solves for every withheld cell by linear algebra over the published numbers.
//!
//! The attacker is written apart from [`super::suppression`]: it works modulo a prime on the
//! actual published values and computes the value of every cell it can pin down, so a recovery
//! it reports is a recovery of the true figure (checked).

use std::collections::BTreeMap;

use pos_core::{Brand, BusinessDate, FacilityId, Method, Yen};
use proptest::prelude::*;

use super::datasets::{self, Dataset, Datum, MonthFacts, Tally, ALL};
use crate::analytics::facts::DayGroup;
use crate::analytics::month::Month;

const THRESHOLD: u64 = 10;
/// A prime larger than any published sum, so solving modulo it loses nothing.
const PRIME: i128 = 2_305_843_009_213_693_951; // 2^61 − 1

fn config() -> pos_config::Config {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/city.toml");
    let mut config = pos_config::load_with_env(&path, |_| None).expect("example config loads");
    if let Some(open) = config.open_data.as_mut() {
        open.suppression_threshold_payments = THRESHOLD;
    }
    config
}

/// A cell of the published tables, as the attacker names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Facility(String, String),
    Brand(String),
    Category(String),
}

/// What a published row says about its cell: count and amount, or nothing where withheld.
#[derive(Debug, Clone, Copy)]
struct Published {
    count: Option<i64>,
    amount: Option<i64>,
}

fn text(dataset: &Dataset, row: &[Datum], column: &str) -> String {
    row[dataset.column(column).expect("column")].text()
}

fn integer(dataset: &Dataset, row: &[Datum], column: &str) -> Option<i64> {
    match &row[dataset.column(column).expect("column")] {
        Datum::Integer(value) => *value,
        other => panic!("{column} is not an integer: {other:?}"),
    }
}

/// The published cells of the three tables.
fn read(datasets: &[Dataset]) -> BTreeMap<Key, Published> {
    let mut cells = BTreeMap::new();
    for dataset in datasets {
        for row in &dataset.rows {
            let key = match dataset.name {
                "payments_by_facility_method" => {
                    Key::Facility(text(dataset, row, "facility_id"), text(dataset, row, "method"))
                }
                "payments_by_brand" => Key::Brand(text(dataset, row, "brand")),
                "payments_by_fee_item_category" if text(dataset, row, "category") == ALL => continue,
                "payments_by_fee_item_category" => Key::Category(text(dataset, row, "category")),
                other => panic!("unknown table {other}"),
            };
            let suppressed = row[dataset.column("suppressed").expect("column")] == Datum::Flag(true);
            let published =
                Published { count: integer(dataset, row, "count"), amount: integer(dataset, row, "amount") };
            assert_eq!(suppressed, published.count.is_none(), "{key:?}: the flag says what is withheld");
            assert_eq!(published.count.is_none(), published.amount.is_none(), "{key:?}: count and amount go together");
            cells.insert(key, published);
        }
    }
    cells
}

/// The sums the tables document: `(total, parts)`. `with_categories`: the categories' amounts
/// add up to the city's (their counts do not).
fn relations(cells: &BTreeMap<Key, Published>, with_categories: bool) -> Vec<(Key, Vec<Key>)> {
    let facilities: Vec<String> = cells
        .keys()
        .filter_map(|key| match key {
            Key::Facility(facility, method) if facility != ALL && method == ALL => Some(facility.clone()),
            _ => None,
        })
        .collect();
    let methods: Vec<&str> = Method::ALL.iter().map(|method| method.code()).collect();
    let cell = |facility: &str, method: &str| Key::Facility(facility.to_string(), method.to_string());
    let mut relations = Vec::new();
    for facility in facilities.iter().map(String::as_str).chain([ALL]) {
        relations.push((cell(facility, ALL), methods.iter().map(|method| cell(facility, method)).collect()));
    }
    for method in methods.iter().copied().chain([ALL]) {
        relations.push((cell(ALL, method), facilities.iter().map(|facility| cell(facility, method)).collect()));
    }
    for method in [Method::Card, Method::Emoney, Method::Qr] {
        let brands = Brand::ALL
            .iter()
            .filter(|brand| brand.method() == method)
            .map(|brand| Key::Brand(brand.code().to_string()));
        relations.push((cell(ALL, method.code()), brands.collect()));
    }
    if with_categories {
        let categories = cells.keys().filter(|key| matches!(key, Key::Category(_))).cloned().collect();
        relations.push((cell(ALL, ALL), categories));
    }
    relations
}

fn modulo(value: i128) -> i128 {
    value.rem_euclid(PRIME)
}

fn power(mut base: i128, mut exponent: i128) -> i128 {
    let mut result = 1;
    base = modulo(base);
    while exponent > 0 {
        if exponent & 1 == 1 {
            result = modulo(result * base);
        }
        base = modulo(base * base);
        exponent >>= 1;
    }
    result
}

/// Every withheld cell the attacker can pin down, with the value it finds.
fn attack(
    cells: &BTreeMap<Key, Published>,
    value: impl Fn(&Published) -> Option<i64>,
    with_categories: bool,
) -> BTreeMap<Key, i128> {
    let unknowns: Vec<&Key> = cells.iter().filter(|(_, cell)| value(cell).is_none()).map(|(key, _)| key).collect();
    let column = |key: &Key| unknowns.iter().position(|unknown| *unknown == key);
    // Each relation: Σ coefficients × unknowns = known right-hand side (mod p).
    let mut rows: Vec<(Vec<i128>, i128)> = Vec::new();
    for (total, parts) in relations(cells, with_categories) {
        let mut coefficients = vec![0i128; unknowns.len()];
        let mut rhs = 0i128;
        for (key, sign) in std::iter::once((&total, 1i128)).chain(parts.iter().map(|part| (part, -1i128))) {
            let Some(cell) = cells.get(key) else { continue };
            match (column(key), value(cell)) {
                (Some(index), _) => coefficients[index] = modulo(coefficients[index] + sign),
                (None, Some(known)) => rhs = modulo(rhs - sign * i128::from(known)),
                (None, None) => unreachable!("an unknown has a column"),
            }
        }
        rows.push((coefficients, rhs));
    }
    let mut pivot = 0;
    for index in 0..unknowns.len() {
        let Some(found) = (pivot..rows.len()).find(|row| rows[*row].0[index] != 0) else { continue };
        rows.swap(pivot, found);
        let inverse = power(rows[pivot].0[index], PRIME - 2);
        let (coefficients, rhs) = rows[pivot].clone();
        let scaled: Vec<i128> = coefficients.iter().map(|entry| modulo(entry * inverse)).collect();
        rows[pivot] = (scaled, modulo(rhs * inverse));
        for row in 0..rows.len() {
            let factor = rows[row].0[index];
            if row == pivot || factor == 0 {
                continue;
            }
            let (pivot_coefficients, pivot_rhs) = rows[pivot].clone();
            for (entry, pivot_entry) in rows[row].0.iter_mut().zip(&pivot_coefficients) {
                *entry = modulo(*entry - factor * pivot_entry);
            }
            rows[row].1 = modulo(rows[row].1 - factor * pivot_rhs);
        }
        pivot += 1;
    }
    rows[..pivot]
        .iter()
        .filter_map(|(coefficients, rhs)| {
            let non_zero: Vec<usize> = (0..coefficients.len()).filter(|index| coefficients[*index] != 0).collect();
            (non_zero.len() == 1).then(|| (unknowns[non_zero[0]].clone(), *rhs))
        })
        .collect()
}

/// A generated month: per facility, method and brand, a count and an amount; per category, a
/// count of payments and its share of the amount.
#[derive(Debug, Clone)]
struct Month_ {
    groups: Vec<(usize, Brand, u64, i64)>,
    categories: Vec<(usize, u64, u64)>,
}

fn small_or_large() -> impl Strategy<Value = u64> {
    prop_oneof![3 => 1u64..THRESHOLD, 2 => THRESHOLD..60, 1 => Just(0u64)]
}

fn months() -> impl Strategy<Value = Month_> {
    let brands: Vec<Brand> = Brand::ALL.to_vec();
    let group = (0usize..6, proptest::sample::select(brands), small_or_large(), 100i64..3_000);
    (proptest::collection::vec(group, 1..24), proptest::collection::vec((0usize..7, small_or_large(), 1u64..100), 1..7))
        .prop_map(|(groups, categories)| Month_ { groups, categories })
}

/// The facts of a generated month, and the true cells the attacker is after.
fn facts(config: &pos_config::Config, month: &Month_) -> (MonthFacts, BTreeMap<Key, Tally>) {
    let date = BusinessDate::new(chrono::NaiveDate::from_ymd_opt(2026, 11, 16).expect("date"));
    let facilities: Vec<FacilityId> = config.facilities.iter().take(6).map(|f| f.id.clone()).collect();
    let mut truth: BTreeMap<Key, Tally> = BTreeMap::new();
    let mut add = |key: Key, count: u64, amount: i64| {
        let tally = truth.entry(key).or_default();
        tally.count += count;
        tally.amount = tally.amount.checked_add(Yen::new(amount).expect("yen")).expect("sum");
    };
    let mut days = Vec::new();
    let mut total_amount = 0i64;
    let mut total_count = 0u64;
    for (facility, brand, count, price) in &month.groups {
        let amount = price * i64::try_from(*count).expect("count");
        let facility = &facilities[*facility];
        days.push(DayGroup {
            business_date: date,
            facility: facility.clone(),
            method: brand.method(),
            brand: *brand,
            count: *count,
            amount: Yen::new(amount).expect("yen"),
        });
        for (f, m) in [
            (facility.to_string(), brand.method().code()),
            (facility.to_string(), ALL),
            (ALL.to_string(), brand.method().code()),
            (ALL.to_string(), ALL),
        ] {
            add(Key::Facility(f, m.to_string()), *count, amount);
        }
        if brand.method() != Method::Cash {
            add(Key::Brand(brand.code().to_string()), *count, amount);
        }
        total_amount += amount;
        total_count += count;
    }
    // The categories share the month's amount by weight; their counts are their own.
    let open = config.open_data.as_ref().expect("open data");
    let mut categories: BTreeMap<String, Tally> = BTreeMap::new();
    let weights: u64 = month.categories.iter().map(|(_, _, weight)| weight).sum();
    let mut left = total_amount;
    for (index, (category, count, weight)) in month.categories.iter().enumerate() {
        let share = if index + 1 == month.categories.len() {
            left
        } else {
            total_amount * i64::try_from(*weight).expect("w") / i64::try_from(weights).expect("w")
        };
        left -= share;
        let code = open.fee_item_categories[*category].code.clone();
        let count = if total_count == 0 { 0 } else { (*count).min(total_count) };
        let tally = categories.entry(code.clone()).or_default();
        tally.count += count;
        tally.amount = tally.amount.checked_add(Yen::new(share).expect("yen")).expect("sum");
        add(Key::Category(code), count, share);
    }
    (MonthFacts { days, categories }, truth)
}

fn check(month: &Month_) -> Result<(), TestCaseError> {
    let config = config();
    let open = config.open_data.clone().expect("open data");
    let (facts, truth) = facts(&config, month);
    let published = datasets::build(&config, &open, "2026-11".parse::<Month>().expect("month"), &facts)
        .map_err(|error| TestCaseError::fail(error.to_string()))?;
    let cells = read(&published);
    for (key, tally) in &truth {
        let cell = cells.get(key).ok_or_else(|| TestCaseError::fail(format!("{key:?} is not published")))?;
        if tally.count > 0 && tally.count < THRESHOLD {
            prop_assert!(cell.count.is_none(), "{key:?} has {} payments and is published", tally.count);
        }
        if let (Some(count), Some(amount)) = (cell.count, cell.amount) {
            prop_assert_eq!((count, amount), (i64::try_from(tally.count).expect("c"), tally.amount.get()), "{:?}", key);
        }
    }
    let by_amount = attack(&cells, |cell| cell.amount, true);
    prop_assert!(by_amount.is_empty(), "amounts recovered: {:?}", by_amount);
    let by_count = attack(&cells, |cell| cell.count, false);
    prop_assert!(by_count.is_empty(), "counts recovered: {:?}", by_count);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn no_withheld_cell_can_be_worked_out_from_the_published_tables(month in months()) {
        check(&month)?;
    }
}

#[test]
fn the_attacker_recovers_a_small_cell_that_only_primary_suppression_hides() {
    // One facility with a large cash total and three card payments: withholding just the three
    // leaves it as the facility's total minus its cash.
    let config = config();
    let month = Month_ {
        groups: vec![
            (0, Brand::Cash, 40, 300),
            (0, Brand::Visa, 3, 450),
            (1, Brand::Cash, 30, 300),
            (1, Brand::Jcb, 25, 450),
        ],
        categories: vec![(0, 98, 1)],
    };
    let (_, truth) = facts(&config, &month);
    let mut cells: BTreeMap<Key, Published> = truth
        .iter()
        .map(|(key, tally)| {
            let count = i64::try_from(tally.count).expect("count");
            (key.clone(), Published { count: Some(count), amount: Some(tally.amount.get()) })
        })
        .collect();
    // Every cell the tables list, empty ones too.
    let facilities: Vec<String> = config.facilities.iter().map(|f| f.id.to_string()).collect();
    for facility in facilities.iter().map(String::as_str).chain([ALL]) {
        for method in Method::ALL.iter().map(|m| m.code()).chain([ALL]) {
            cells
                .entry(Key::Facility(facility.to_string(), method.to_string()))
                .or_insert(Published { count: Some(0), amount: Some(0) });
        }
    }
    for brand in Brand::ALL.iter().filter(|brand| brand.method() != Method::Cash) {
        cells.entry(Key::Brand(brand.code().to_string())).or_insert(Published { count: Some(0), amount: Some(0) });
    }
    let small = Key::Facility(config.facilities[0].id.to_string(), "card".to_string());
    for key in [&small, &Key::Brand("VISA".to_string())] {
        cells.insert(key.clone(), Published { count: None, amount: None });
    }
    let recovered = attack(&cells, |cell| cell.amount, true);
    assert_eq!(recovered.get(&small), Some(&1350), "3 × 450 yen, worked out from the facility's total");
    assert_eq!(recovered.get(&Key::Brand("VISA".to_string())), Some(&1350), "and from the card total less JCB");
    // The real tables of the same month withhold enough that it is not.
    check(&month).expect("protected");
}
