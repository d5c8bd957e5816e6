//! The month's tables, their totals, and which of their cells are published.
//!
//! Three tables, one file each:
//!
//! - `payments_by_facility_method`: every configured facility × method (cash, card, e-money,
//!   QR), with each facility's total (`method` = `all`), each method's city-wide total
//!   (`facility_id` = `all`) and the city's total; `total` marks the total rows.
//! - `payments_by_brand`: every cashless brand, city-wide. A method's brands add up to its
//!   city-wide total in the first table.
//! - `payments_by_fee_item_category`: every category of the configuration and the city's total.
//!   `count` is the payments that paid at least one item of the category (a payment for items of
//!   two categories counts in both, so counts do not add up; amounts do, to the city's total).
//!
//! Every sum a reader can form across the three tables is a relation of one
//! [`suppression::Lattice`], so complementary suppression protects a small cell against all of
//! them at once. A suppressed cell has neither count nor amount, and `suppressed` = `true`.

use std::collections::{BTreeMap, BTreeSet};

use pos_config::{Config, OpenData, Owner};
use pos_core::{Brand, FacilityId, Method, Yen};

use super::suppression::{self, Lattice, Protection};
use super::OpenDataError;
use crate::analytics::facts::{self, DayGroup, FactFilter};
use crate::analytics::month::Month;
use crate::analytics::paid;
use crate::analytics::{add, AnalyticsError};
use crate::journal::Journal;

/// The name of the total in the `facility_id`, `method` and `category` columns.
pub const ALL: &str = "all";

/// Payments and their amount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: u64,
    pub amount: Yen,
}

impl Tally {
    fn take(&mut self, count: u64, amount: Yen, what: &'static str) -> Result<(), AnalyticsError> {
        self.count += count;
        self.amount = add(self.amount, amount, what)?;
        Ok(())
    }
}

/// What a month's tables are built from.
#[derive(Debug, Clone, Default)]
pub struct MonthFacts {
    /// Taken payments per day, facility, method and brand (the analytics' facts).
    pub days: Vec<DayGroup>,
    /// Per fee item category: the payments that paid some item of it, and what they paid for it.
    pub categories: BTreeMap<String, Tally>,
}

/// Reads a month's facts from the journal.
pub async fn gather(
    journal: &Journal,
    config: &Config,
    open: &OpenData,
    month: Month,
) -> Result<MonthFacts, OpenDataError> {
    let filter = FactFilter { from: month.first_day(), to: month.last_day(), facilities: None, method: None };
    let days = facts::by_day(journal, &filter).await?;
    let mut categories: BTreeMap<String, Tally> = BTreeMap::new();
    // The parts of one payment come one after another, so one payment's categories are all the
    // memory needed to count each payment once per category.
    let mut current: Option<(String, BTreeSet<String>)> = None;
    paid::for_each_part(journal, config, &filter, |part| {
        let category = open
            .category_of(&part.line.fee_item)
            .map_or_else(|| format!("uncategorised-{}", part.line.fee_item), |c| c.code.clone());
        if current.as_ref().is_none_or(|(payment, _)| payment != &part.payment.id) {
            current = Some((part.payment.id.clone(), BTreeSet::new()));
        }
        let first_time = current.as_mut().is_some_and(|(_, seen)| seen.insert(category.clone()));
        categories.entry(category).or_default().take(u64::from(first_time), part.amount, "a category's amount")
    })
    .await?;
    Ok(MonthFacts { days, categories })
}

/// A column's type, as the Frictionless table schema names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    YearMonth,
    String,
    Integer,
    Boolean,
}

impl FieldType {
    pub fn code(self) -> &'static str {
        match self {
            FieldType::YearMonth => "yearmonth",
            FieldType::String => "string",
            FieldType::Integer => "integer",
            FieldType::Boolean => "boolean",
        }
    }
}

/// A column of a published table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub title_ja: &'static str,
    pub description: &'static str,
    pub kind: FieldType,
    /// Empty only where suppressed.
    pub required: bool,
    /// The values the column may take, when they are a fixed list.
    pub values: Option<Vec<String>>,
}

const fn optional(name: &'static str, title_ja: &'static str, kind: FieldType, description: &'static str) -> Field {
    Field { name, title_ja, description, kind, required: false, values: None }
}

const fn field(name: &'static str, title_ja: &'static str, kind: FieldType, description: &'static str) -> Field {
    Field { name, title_ja, description, kind, required: true, values: None }
}

/// One published value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datum {
    Text(String),
    /// `None`: suppressed.
    Integer(Option<i64>),
    Flag(bool),
}

impl Datum {
    pub fn text(&self) -> String {
        match self {
            Datum::Text(text) => text.clone(),
            Datum::Integer(Some(value)) => value.to_string(),
            Datum::Integer(None) => String::new(),
            Datum::Flag(flag) => flag.to_string(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        match self {
            Datum::Text(text) => serde_json::Value::String(text.clone()),
            Datum::Integer(Some(value)) => serde_json::Value::from(*value),
            Datum::Integer(None) => serde_json::Value::Null,
            Datum::Flag(flag) => serde_json::Value::Bool(*flag),
        }
    }
}

/// One published table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// The file name without extension.
    pub name: &'static str,
    pub title_ja: &'static str,
    pub title_en: &'static str,
    pub description: &'static str,
    pub fields: Vec<Field>,
    pub primary_key: Vec<&'static str>,
    pub rows: Vec<Vec<Datum>>,
}

impl Dataset {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|field| field.name == name)
    }
}

const MONTH: Field =
    field("month", "年月", FieldType::YearMonth, "The calendar month (Asia/Tokyo business dates), YYYY-MM.");
const COUNT: Field = optional(
    "count",
    "件数",
    FieldType::Integer,
    "Payments taken (completed; refunds not netted). Empty where suppressed.",
);
const AMOUNT: Field =
    optional("amount", "金額（円）", FieldType::Integer, "Amount taken, in whole yen, gross. Empty where suppressed.");
const SUPPRESSED: Field = field(
    "suppressed",
    "秘匿",
    FieldType::Boolean,
    "true where count and amount are withheld: fewer payments than the threshold, or withheld so that such a cell cannot be worked out from the totals.",
);
const TOTAL: Field = field("total", "合計行", FieldType::Boolean, "true on a row that is a total of other rows.");

fn integer(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The published count, amount and flag of a cell.
fn published(tally: Tally, protection: Protection) -> [Datum; 3] {
    if protection.is_suppressed() {
        [Datum::Integer(None), Datum::Integer(None), Datum::Flag(true)]
    } else {
        [Datum::Integer(Some(integer(tally.count))), Datum::Integer(Some(tally.amount.get())), Datum::Flag(false)]
    }
}

fn owner_code(config: &Config, facility: &FacilityId) -> String {
    match config.facility(facility).map(|f| &f.owner) {
        Some(Owner::City) => crate::analytics::request::CITY_OWNER.to_string(),
        Some(Owner::Operator(operator)) => operator.to_string(),
        None => String::new(),
    }
}

/// The three tables of a month, suppressed.
pub fn build(
    config: &Config,
    open: &OpenData,
    month: Month,
    facts: &MonthFacts,
) -> Result<Vec<Dataset>, OpenDataError> {
    // Every configured facility is listed, empty ones too, and any facility that took payments
    // in the month but is no longer configured.
    let mut facilities: BTreeSet<FacilityId> = config.facilities.iter().map(|f| f.id.clone()).collect();
    facilities.extend(facts.days.iter().map(|group| group.facility.clone()));
    let facilities: Vec<FacilityId> = facilities.into_iter().collect();
    let mut by_cell: BTreeMap<(FacilityId, Method), Tally> = BTreeMap::new();
    let mut by_brand: BTreeMap<Brand, Tally> = BTreeMap::new();
    for group in &facts.days {
        by_cell.entry((group.facility.clone(), group.method)).or_default().take(group.count, group.amount, "a cell")?;
        by_brand.entry(group.brand).or_default().take(group.count, group.amount, "a brand")?;
    }
    let cell =
        |facility: &FacilityId, method: Method| by_cell.get(&(facility.clone(), method)).copied().unwrap_or_default();
    let sum = |tallies: &mut dyn Iterator<Item = Tally>| -> Result<Tally, OpenDataError> {
        let mut total = Tally::default();
        for tally in tallies {
            total.take(tally.count, tally.amount, "a total")?;
        }
        Ok(total)
    };

    // The lattice: the cells of all three tables and every sum between them.
    let mut lattice = Lattice::default();
    let mut tallies: Vec<Tally> = Vec::new();
    let mut add_cell = |lattice: &mut Lattice, tally: Tally, margin: bool| {
        tallies.push(tally);
        lattice.cell(tally.count, margin)
    };
    let inner: Vec<Vec<usize>> = facilities
        .iter()
        .map(|facility| {
            Method::ALL.iter().map(|method| add_cell(&mut lattice, cell(facility, *method), false)).collect()
        })
        .collect();
    let mut facility_totals = Vec::new();
    for facility in &facilities {
        let total = sum(&mut Method::ALL.iter().map(|method| cell(facility, *method)))?;
        facility_totals.push(add_cell(&mut lattice, total, true));
    }
    let mut method_totals = Vec::new();
    for method in Method::ALL {
        let total = sum(&mut facilities.iter().map(|facility| cell(facility, method)))?;
        method_totals.push(add_cell(&mut lattice, total, true));
    }
    let city_total =
        sum(&mut facilities.iter().flat_map(|facility| Method::ALL.iter().map(|method| cell(facility, *method))))?;
    let city = add_cell(&mut lattice, city_total, true);
    for (row, total) in inner.iter().zip(&facility_totals) {
        lattice.relate(*total, row.clone());
    }
    for (index, total) in method_totals.iter().enumerate() {
        lattice.relate(*total, inner.iter().map(|row| row[index]).collect());
    }
    lattice.relate(city, method_totals.clone());
    lattice.relate(city, facility_totals.clone());

    let brands: Vec<Brand> = Brand::ALL.into_iter().filter(|brand| brand.method() != Method::Cash).collect();
    let brand_cells: Vec<usize> = brands
        .iter()
        .map(|brand| add_cell(&mut lattice, by_brand.get(brand).copied().unwrap_or_default(), false))
        .collect();
    for (index, method) in Method::ALL.iter().enumerate().filter(|(_, method)| **method != Method::Cash) {
        let parts =
            brands.iter().zip(&brand_cells).filter(|(brand, _)| brand.method() == *method).map(|(_, cell)| *cell);
        lattice.relate(method_totals[index], parts.collect());
    }

    let mut categories: Vec<(String, String, String)> = open
        .fee_item_categories
        .iter()
        .map(|category| (category.code.clone(), category.name_ja.clone(), category.name_en.clone()))
        .collect();
    // A fee item sold in the month but no longer in any category is still published, by code,
    // so the categories keep adding up to the city's total.
    for code in facts.categories.keys().filter(|code| open.fee_item_categories.iter().all(|c| &&c.code != code)) {
        categories.push((code.clone(), String::new(), String::new()));
    }
    let category_cells: Vec<usize> = categories
        .iter()
        .map(|(code, ..)| add_cell(&mut lattice, facts.categories.get(code).copied().unwrap_or_default(), false))
        .collect();
    lattice.relate(city, category_cells.clone());

    let protection = suppression::protect(&lattice, open.suppression_threshold_payments)?;
    let at = |cell: usize| published(tallies[cell], protection[cell]);
    let month_text = month.to_string();

    let method_values: Vec<String> =
        Method::ALL.iter().map(|method| method.code().to_string()).chain([ALL.to_string()]).collect();
    let mut by_facility = Dataset {
        name: "payments_by_facility_method",
        title_ja: "施設別・決済手段別 決済件数・金額",
        title_en: "Payments by facility and method",
        description: "Payments taken at the city's counters in the month, per facility and payment method, with each facility's total (method = all), each method's city-wide total (facility_id = all) and the city's total.",
        fields: vec![
            MONTH,
            field("facility_id", "施設コード", FieldType::String, "The facility's code, or all for the city-wide total."),
            optional("facility_name", "施設名", FieldType::String, "The facility's name in Japanese."),
            optional("facility_name_en", "施設名（英語）", FieldType::String, "The facility's name in English."),
            optional("operator", "運営者", FieldType::String, "Who runs the facility: city, or the designated manager's operator code (指定管理者)."),
            Field {
                values: Some(method_values),
                ..field("method", "決済手段", FieldType::String, "cash, card (credit and debit), emoney (e-money), qr (QR code), or all.")
            },
            COUNT,
            AMOUNT,
            SUPPRESSED,
            TOTAL,
        ],
        primary_key: vec!["month", "facility_id", "method"],
        rows: Vec::new(),
    };
    let facility_row = |id: &str, facility: Option<&FacilityId>, method: &str, cell: usize, total: bool| {
        let configured = facility.and_then(|facility| config.facility(facility));
        let mut row = vec![
            Datum::Text(month_text.clone()),
            Datum::Text(id.to_string()),
            Datum::Text(configured.map(|f| f.name_ja.clone()).unwrap_or_default()),
            Datum::Text(configured.map(|f| f.name_en.clone()).unwrap_or_default()),
            Datum::Text(facility.map(|facility| owner_code(config, facility)).unwrap_or_default()),
            Datum::Text(method.to_string()),
        ];
        row.extend(at(cell));
        row.push(Datum::Flag(total));
        row
    };
    for (index, facility) in facilities.iter().enumerate() {
        for (column, method) in Method::ALL.iter().enumerate() {
            by_facility.rows.push(facility_row(
                facility.as_str(),
                Some(facility),
                method.code(),
                inner[index][column],
                false,
            ));
        }
        by_facility.rows.push(facility_row(facility.as_str(), Some(facility), ALL, facility_totals[index], true));
    }
    for (column, method) in Method::ALL.iter().enumerate() {
        by_facility.rows.push(facility_row(ALL, None, method.code(), method_totals[column], true));
    }
    by_facility.rows.push(facility_row(ALL, None, ALL, city, true));

    let mut by_brand_table = Dataset {
        name: "payments_by_brand",
        title_ja: "ブランド別 キャッシュレス決済件数・金額",
        title_en: "Cashless payments by brand",
        description: "Cashless payments taken in the month, city-wide, per brand. A method's brands add up to the method's city-wide total in payments_by_facility_method.",
        fields: vec![
            MONTH,
            Field {
                values: Some(["card", "emoney", "qr"].iter().map(|code| code.to_string()).collect()),
                ..field("method", "決済手段", FieldType::String, "card, emoney or qr.")
            },
            Field {
                values: Some(brands.iter().map(|brand| brand.code().to_string()).collect()),
                ..field("brand", "ブランドコード", FieldType::String, "The brand's code.")
            },
            field("brand_name", "ブランド名", FieldType::String, "The brand's name."),
            COUNT,
            AMOUNT,
            SUPPRESSED,
        ],
        primary_key: vec!["month", "brand"],
        rows: Vec::new(),
    };
    for (brand, cell) in brands.iter().zip(&brand_cells) {
        let mut row = vec![
            Datum::Text(month_text.clone()),
            Datum::Text(brand.method().code().to_string()),
            Datum::Text(brand.code().to_string()),
            Datum::Text(brand.display_name().to_string()),
        ];
        row.extend(at(*cell));
        by_brand_table.rows.push(row);
    }

    let mut by_category = Dataset {
        name: "payments_by_fee_item_category",
        title_ja: "手数料・使用料の区分別 決済件数・金額",
        title_en: "Payments by fee item category",
        description: "Payments taken in the month, city-wide, per category of fee item, and the city's total (category = all). count is the payments that paid at least one item of the category: a payment for items of two categories counts in both, so counts do not add up to the total; amounts do.",
        fields: vec![
            MONTH,
            field("category", "区分コード", FieldType::String, "The category's code, or all for the city's total."),
            optional("category_name", "区分名", FieldType::String, "The category's name in Japanese."),
            optional("category_name_en", "区分名（英語）", FieldType::String, "The category's name in English."),
            COUNT,
            AMOUNT,
            SUPPRESSED,
            TOTAL,
        ],
        primary_key: vec!["month", "category"],
        rows: Vec::new(),
    };
    let category_row = |code: &str, name_ja: &str, name_en: &str, cell: usize, total: bool| {
        let mut row = vec![
            Datum::Text(month_text.clone()),
            Datum::Text(code.to_string()),
            Datum::Text(name_ja.to_string()),
            Datum::Text(name_en.to_string()),
        ];
        row.extend(at(cell));
        row.push(Datum::Flag(total));
        row
    };
    for ((code, name_ja, name_en), cell) in categories.iter().zip(&category_cells) {
        by_category.rows.push(category_row(code, name_ja, name_en, *cell, false));
    }
    by_category.rows.push(category_row(ALL, "合計", "Total", city, true));
    Ok(vec![by_facility, by_brand_table, by_category])
}
