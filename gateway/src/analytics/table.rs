//! A chart's figures as one typed table — columns with Japanese and English labels, rows of
//! values, totals — which the JSON, CSV and SVG writers all render, so the three can never
//! disagree.

use pos_core::Yen;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Map, Value as Json};

use super::request::{ChartKind, ChartRequest, Lang};

/// Shares are percentages with one decimal; effective fee rates with two, as contracts state them.
pub const SHARE_DECIMALS: u32 = 1;
pub const RATE_DECIMALS: u32 = 2;
/// How a percentage is rounded to its decimals: half away from zero (四捨五入), the rounding the
/// city's published statistics use.
pub const PERCENT_ROUNDING: RoundingStrategy = RoundingStrategy::MidpointAwayFromZero;
/// The name of [`PERCENT_ROUNDING`], stated in every answer beside the figures.
pub const PERCENT_ROUNDING_NAME: &str = "half_up";

/// One cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Count(u64),
    Amount(Yen),
    /// An exact percentage, already rounded to `decimals`; `None` when its whole is zero.
    Percent {
        value: Option<Decimal>,
        decimals: u32,
    },
}

impl Value {
    /// `part / whole` as a percentage rounded to `decimals` under [`PERCENT_ROUNDING`].
    pub fn percent(part: Decimal, whole: Decimal, decimals: u32) -> Value {
        let value = (!whole.is_zero())
            .then(|| (part * Decimal::ONE_HUNDRED / whole).round_dp_with_strategy(decimals, PERCENT_ROUNDING));
        Value::Percent { value, decimals }
    }

    pub fn share(part: Yen, whole: Yen) -> Value {
        Value::percent(part.to_decimal(), whole.to_decimal(), SHARE_DECIMALS)
    }

    pub fn count_share(part: u64, whole: u64) -> Value {
        Value::percent(Decimal::from(part), Decimal::from(whole), SHARE_DECIMALS)
    }

    /// The cell as text: amounts and counts as plain digits, percentages with their decimals,
    /// an undefined percentage as the empty string.
    pub fn text(&self) -> String {
        match self {
            Value::Text(text) => text.clone(),
            Value::Count(count) => count.to_string(),
            Value::Amount(amount) => amount.get().to_string(),
            Value::Percent { value: Some(value), decimals } => format!("{value:.prec$}", prec = *decimals as usize),
            Value::Percent { value: None, .. } => String::new(),
        }
    }

    /// The cell in JSON: amounts and counts as integers, percentages as decimal strings (never a
    /// float), an undefined percentage as `null`.
    pub fn json(&self) -> Json {
        match self {
            Value::Text(text) => Json::String(text.clone()),
            Value::Count(count) => json!(count),
            Value::Amount(amount) => json!(amount.get()),
            Value::Percent { value: Some(_), .. } => Json::String(self.text()),
            Value::Percent { value: None, .. } => Json::Null,
        }
    }

    /// A number to draw with (bar length, line height, colour), or `None` for text.
    pub fn magnitude(&self) -> Option<Decimal> {
        match self {
            Value::Text(_) => None,
            Value::Count(count) => Some(Decimal::from(*count)),
            Value::Amount(amount) => Some(amount.to_decimal()),
            Value::Percent { value, .. } => Some(value.unwrap_or(Decimal::ZERO)),
        }
    }
}

/// A column: its JSON key (also the CSV column and the SVG `data-*` name) and its labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub key: &'static str,
    pub ja: &'static str,
    pub en: &'static str,
}

impl Column {
    pub const fn new(key: &'static str, ja: &'static str, en: &'static str) -> Column {
        Column { key, ja, en }
    }

    pub fn label(&self, lang: Lang) -> &'static str {
        lang.pick(self.ja, self.en)
    }
}

/// How the SVG draws the table: which column names a mark and which column it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plot {
    /// Horizontal bars of `value`, one per row, labelled by `label`.
    Bars { label: &'static str, value: &'static str },
    /// A line of `value` (a percentage) over the rows, with a horizontal target line.
    Line { label: &'static str, value: &'static str, target_percent: &'static str },
    /// A grid of `rows` × `columns` cells shaded by `value`.
    Grid { rows: &'static str, columns: &'static str, value: &'static str },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartTable {
    pub chart: ChartKind,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
    pub totals: Vec<(Column, Value)>,
    pub plot: Plot,
}

impl ChartTable {
    pub fn new(chart: ChartKind, columns: Vec<Column>, plot: Plot) -> ChartTable {
        ChartTable { chart, columns, rows: Vec::new(), totals: Vec::new(), plot }
    }

    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len(), "a row has a value for each column");
        self.rows.push(row);
    }

    pub fn total(&mut self, column: Column, value: Value) {
        self.totals.push((column, value));
    }

    pub fn column_index(&self, key: &str) -> Option<usize> {
        self.columns.iter().position(|column| column.key == key)
    }

    /// The rows as objects keyed by column.
    pub fn rows_json(&self) -> Vec<Json> {
        self.rows
            .iter()
            .map(|row| {
                let cells: Map<String, Json> = self
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(column, value)| (column.key.to_string(), value.json()))
                    .collect();
                Json::Object(cells)
            })
            .collect()
    }

    /// The totals as one object keyed by column.
    pub fn totals_json(&self) -> Json {
        Json::Object(self.totals.iter().map(|(column, value)| (column.key.to_string(), value.json())).collect())
    }

    /// `{"chart", "filter", "rows", "totals"}`: rows and totals as objects keyed by column.
    pub fn to_json(&self, request: &ChartRequest) -> Json {
        json!({
            "chart": self.chart.code(),
            "filter": request,
            "percent_rounding": PERCENT_ROUNDING_NAME,
            "rows": self.rows_json(),
            "totals": self.totals_json(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_exact_and_rounded_half_up() {
        let yen = |amount| Yen::new(amount).expect("yen");
        assert_eq!(Value::share(yen(1), yen(8)).text(), "12.5");
        assert_eq!(Value::share(yen(1), yen(16)).text(), "6.3", "6.25 rounds half up");
        assert_eq!(Value::share(yen(2), yen(4)).text(), "50.0");
        assert_eq!(Value::share(yen(1), yen(3)).json(), json!("33.3"));
        assert_eq!(Value::share(yen(0), yen(0)).json(), Json::Null);
        assert_eq!(Value::percent(Decimal::from(97), Decimal::from(3000), RATE_DECIMALS).text(), "3.23");
    }
}
