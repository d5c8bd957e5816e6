//! The cashless programme's monthly report for the DX office: the month against the national
//! target, month over month and year over year, city-wide and per facility; what the cashless
//! payments cost in fees, per brand and per fee item (items whose fee per payment is high
//! flagged); the clerk hours of cash handling avoided; and the facilities that lag.
//!
//! Every share, count and amount is taken from the analytics charts for the same filter —
//! `cashless-share` by month over the thirteen months up to the report's, `facilities` for the
//! month, the month before and the same month a year before, `fees-by-brand` for the month — so
//! the report says exactly what the analytics API says. Fees per fee item come from
//! [`super::paid`] (the payment's contracted fee shared over the lines it paid).
//!
//! ## The city's counting
//!
//! - **Cashless share**: cashless payments ÷ all payments taken, by count and by amount, as a
//!   percentage with one decimal, rounded half up ([`super::table::PERCENT_ROUNDING`]).
//!   Changes are in percentage points between the rounded shares.
//! - **National target**: 40 % by 2025 and 80 % in the long run (BRIEF.md); the gap is the
//!   target minus the share by amount, in points.
//! - **Cash handling avoided**: the city counts about 30 minutes of cash handling saved per
//!   facility per day it takes cashless (BRIEF.md; 120 hours a year). So: minutes =
//!   (facility-days with at least one cashless payment) × `cash_handling_minutes_per_facility_day`;
//!   hours = minutes ÷ 60 with one decimal, rounded half up. The cashless payments themselves
//!   are the cash payments replaced.
//! - **Fee per payment** of a fee item: its share of the contracted fees ÷ the cashless payments
//!   that paid it, one decimal, half up; flagged when it reaches `fee_per_payment_high_yen`.
//! - **Lagging**: a facility that took payments in the month and whose share by amount is more
//!   than `lagging_below_city_points` below the city's.

use std::collections::{BTreeMap, BTreeSet};

use pos_config::MonthlyReport as Settings;
use pos_core::{FacilityId, FeeItemCode, Yen};
use rust_decimal::Decimal;
use serde_json::Value as Json;

use super::charts::CASHLESS_TARGET_PERCENT;
use super::month::Month;
use super::paid::PaidPart;
use super::table::{ChartTable, Value, PERCENT_ROUNDING, PERCENT_ROUNDING_NAME};
use super::{add, AnalyticsError};

/// The long-run national target, in percent (BRIEF.md: "80 % in the long run").
pub const CASHLESS_TARGET_FUTURE_PERCENT: &str = "80";
/// The year the 40 % target is for.
pub const CASHLESS_TARGET_YEAR: u32 = 2025;
/// Hours and fees per payment are shown with one decimal.
pub const HOURS_DECIMALS: u32 = 1;
pub const FEE_PER_PAYMENT_DECIMALS: u32 = 1;
const MINUTES_PER_HOUR: i64 = 60;
/// How many months the trend covers: the report's month and the twelve before it.
pub const TREND_MONTHS: u32 = 13;

fn decimal_text(value: Option<Decimal>, decimals: u32) -> Option<String> {
    value.map(|value| format!("{value:.prec$}", prec = decimals as usize))
}

/// Payments taken and the cashless ones among them, with the shares the charts give.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Split {
    pub count_total: u64,
    pub amount_total: Yen,
    pub count_cashless: u64,
    pub amount_cashless: Yen,
    pub share_count: Option<Decimal>,
    pub share_amount: Option<Decimal>,
}

impl Split {
    /// The split of a `cashless-share` or `facilities` row.
    fn of(table: &ChartTable, row: &[Value]) -> Split {
        let get = |key: &str| table.column_index(key).and_then(|index| row.get(index));
        let count = |key: &str| match get(key) {
            Some(Value::Count(count)) => *count,
            _ => 0,
        };
        let amount = |key: &str| match get(key) {
            Some(Value::Amount(amount)) => *amount,
            _ => Yen::ZERO,
        };
        let share = |key: &str| match get(key) {
            Some(Value::Percent { value, .. }) => *value,
            _ => None,
        };
        Split {
            count_total: count("count_total"),
            amount_total: amount("amount_total"),
            count_cashless: count("count_cashless"),
            amount_cashless: amount("amount_cashless"),
            share_count: share("share_count_percent"),
            share_amount: share("share_amount_percent"),
        }
    }

    fn json(&self) -> Json {
        serde_json::json!({
            "count_total": self.count_total,
            "amount_total": self.amount_total.get(),
            "count_cashless": self.count_cashless,
            "amount_cashless": self.amount_cashless.get(),
            "share_count_percent": decimal_text(self.share_count, super::table::SHARE_DECIMALS),
            "share_amount_percent": decimal_text(self.share_amount, super::table::SHARE_DECIMALS),
        })
    }
}

/// Percentage points from `before` to `after` (by count, by amount); `None` where either is
/// undefined.
fn change(after: &Split, before: &Split) -> (Option<Decimal>, Option<Decimal>) {
    (
        after.share_count.zip(before.share_count).map(|(a, b)| a - b),
        after.share_amount.zip(before.share_amount).map(|(a, b)| a - b),
    )
}

fn change_json(after: &Split, before: &Split) -> Json {
    let (count, amount) = change(after, before);
    serde_json::json!({
        "share_count_points": decimal_text(count, super::table::SHARE_DECIMALS),
        "share_amount_points": decimal_text(amount, super::table::SHARE_DECIMALS),
    })
}

/// A fee item's lines, payments and fees in the month.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemFees {
    pub name_ja: String,
    /// Sale lines paid (as `top-fee-items` counts them).
    pub count: u64,
    pub amount: Yen,
    /// Cashless payments that paid (part of) the item, and what they paid for it.
    pub cashless_payments: u64,
    pub amount_cashless: Yen,
    /// Their share of the contracted fees; `None` if a brand had no contract.
    pub fee: Option<Yen>,
}

/// Adds up paid parts per fee item; the parts of one payment arrive together.
#[derive(Debug, Default)]
pub struct ItemTally {
    pub items: BTreeMap<FeeItemCode, ItemFees>,
    current: Option<(String, BTreeSet<FeeItemCode>)>,
}

impl ItemTally {
    pub fn take(&mut self, part: &PaidPart<'_>) -> Result<(), AnalyticsError> {
        let item = self.items.entry(part.line.fee_item.clone()).or_insert_with(|| ItemFees {
            name_ja: part.line.name_ja.clone(),
            fee: Some(Yen::ZERO),
            ..ItemFees::default()
        });
        item.count += 1;
        item.amount = add(item.amount, part.amount, "a fee item's amount")?;
        if !part.payment.method.is_cashless() {
            return Ok(());
        }
        if self.current.as_ref().is_none_or(|(payment, _)| payment != &part.payment.id) {
            self.current = Some((part.payment.id.clone(), BTreeSet::new()));
        }
        if self.current.as_mut().is_some_and(|(_, seen)| seen.insert(part.line.fee_item.clone())) {
            item.cashless_payments += 1;
        }
        item.amount_cashless = add(item.amount_cashless, part.amount, "a fee item's cashless amount")?;
        item.fee = match (item.fee, part.fee) {
            (Some(sum), Some(fee)) => Some(add(sum, fee, "a fee item's fees")?),
            _ => None,
        };
        Ok(())
    }
}

/// What the report is made of: the charts' tables for the caller and filter, and the facts the
/// charts do not carry.
pub struct MonthlyInputs<'a> {
    pub month: Month,
    pub settings: Settings,
    /// `cashless-share` by month over [`TREND_MONTHS`] months ending with `month`.
    pub trend: &'a ChartTable,
    /// `facilities` for the month, the month before and the same month a year before.
    pub facilities: [&'a ChartTable; 3],
    /// `fees-by-brand` for the month.
    pub fees_by_brand: &'a ChartTable,
    pub items: &'a ItemTally,
    /// Per facility, the days of the month it took at least one cashless payment.
    pub cashless_days: &'a BTreeMap<FacilityId, u64>,
}

fn trend_split(trend: &ChartTable, month: Month) -> Split {
    let period = trend.column_index("period");
    trend
        .rows
        .iter()
        .find(|row| period.and_then(|index| row.get(index)).map(Value::text) == Some(month.to_string()))
        .map(|row| Split::of(trend, row))
        .unwrap_or_default()
}

fn facility_splits(table: &ChartTable) -> BTreeMap<String, (String, String, Split)> {
    let text = |row: &[Value], key: &str| {
        table.column_index(key).and_then(|i| row.get(i)).map(Value::text).unwrap_or_default()
    };
    table
        .rows
        .iter()
        .map(|row| (text(row, "facility_id"), (text(row, "name"), text(row, "owner"), Split::of(table, row))))
        .collect()
}

fn percent(text: &str) -> Decimal {
    text.parse().unwrap_or(Decimal::ZERO)
}

/// The report as JSON: what `/v1/reports/monthly` answers and the page shows.
pub fn assemble(inputs: &MonthlyInputs<'_>) -> Json {
    let month = inputs.month;
    let now = trend_split(inputs.trend, month);
    let previous = trend_split(inputs.trend, month.previous());
    let year_ago = trend_split(inputs.trend, month.minus(12));
    let gap = |target: &str| now.share_amount.map(|share| percent(target) - share);
    let targets = serde_json::json!([
        { "name": format!("by {CASHLESS_TARGET_YEAR}"), "percent": CASHLESS_TARGET_PERCENT,
          "gap_share_amount_points": decimal_text(gap(CASHLESS_TARGET_PERCENT), super::table::SHARE_DECIMALS) },
        { "name": "long run", "percent": CASHLESS_TARGET_FUTURE_PERCENT,
          "gap_share_amount_points": decimal_text(gap(CASHLESS_TARGET_FUTURE_PERCENT), super::table::SHARE_DECIMALS) },
    ]);
    let trend: Vec<Json> = inputs
        .trend
        .rows
        .iter()
        .map(|row| {
            let period =
                inputs.trend.column_index("period").and_then(|i| row.get(i)).map(Value::text).unwrap_or_default();
            let mut split = Split::of(inputs.trend, row).json();
            if let Some(object) = split.as_object_mut() {
                object.insert("month".to_string(), Json::String(period));
            }
            split
        })
        .collect();

    let [this_month, month_before, year_before] = inputs.facilities.map(facility_splits);
    let threshold = Decimal::from(inputs.settings.lagging_below_city_points);
    let mut lagging: Vec<(Decimal, String)> = Vec::new();
    let facilities: Vec<Json> = this_month
        .iter()
        .map(|(id, (name, owner, split))| {
            let before = month_before.get(id).map(|(_, _, split)| *split).unwrap_or_default();
            let year = year_before.get(id).map(|(_, _, split)| *split).unwrap_or_default();
            let behind = split.share_amount.zip(now.share_amount).map(|(share, city)| city - share);
            let lags = split.count_total > 0 && behind.is_some_and(|behind| behind > threshold);
            if let (true, Some(share)) = (lags, split.share_amount) {
                lagging.push((share, id.clone()));
            }
            let days =
                inputs.cashless_days.iter().find(|(facility, _)| facility.as_str() == id).map_or(0, |(_, days)| *days);
            serde_json::json!({
                "facility_id": id,
                "name": name,
                "owner": owner,
                "month": split.json(),
                "previous_month": before.json(),
                "year_before": year.json(),
                "month_over_month": change_json(split, &before),
                "year_over_year": change_json(split, &year),
                "behind_city_share_amount_points": decimal_text(behind, super::table::SHARE_DECIMALS),
                "lagging": lags,
                "cashless_days": days,
            })
        })
        .collect();
    lagging.sort();

    let fee_threshold = inputs.settings.fee_per_payment_high_yen.to_decimal();
    let mut items: Vec<(&FeeItemCode, &ItemFees)> = inputs.items.items.iter().collect();
    items.sort_by(|a, b| b.1.fee.cmp(&a.1.fee).then(a.0.cmp(b.0)));
    let mut flagged = Vec::new();
    let fees_by_item: Vec<Json> = items
        .iter()
        .map(|(code, item)| {
            let per_payment = match (item.fee, item.cashless_payments) {
                (Some(fee), payments) if payments > 0 => Some(
                    (fee.to_decimal() / Decimal::from(payments))
                        .round_dp_with_strategy(FEE_PER_PAYMENT_DECIMALS, PERCENT_ROUNDING),
                ),
                _ => None,
            };
            let high = per_payment.is_some_and(|per_payment| per_payment >= fee_threshold);
            if high {
                flagged.push(code.to_string());
            }
            serde_json::json!({
                "fee_item": code.to_string(),
                "name": item.name_ja,
                "count": item.count,
                "amount": item.amount.get(),
                "cashless_payments": item.cashless_payments,
                "amount_cashless": item.amount_cashless.get(),
                "fee": item.fee.map(Yen::get),
                "fee_per_payment": decimal_text(per_payment, FEE_PER_PAYMENT_DECIMALS),
                "high_fee_per_payment": high,
            })
        })
        .collect();

    let facility_days: u64 = inputs.cashless_days.values().sum();
    let minutes = i64::try_from(facility_days)
        .unwrap_or(i64::MAX / 2)
        .saturating_mul(i64::from(inputs.settings.cash_handling_minutes_per_facility_day));
    let hours = (Decimal::from(minutes) / Decimal::from(MINUTES_PER_HOUR))
        .round_dp_with_strategy(HOURS_DECIMALS, PERCENT_ROUNDING);

    serde_json::json!({
        "month": month,
        "from": month.first_day().to_string(),
        "to": month.last_day().to_string(),
        "percent_rounding": PERCENT_ROUNDING_NAME,
        "city": {
            "month": now.json(),
            "previous_month": previous.json(),
            "year_before": year_ago.json(),
            "month_over_month": change_json(&now, &previous),
            "year_over_year": change_json(&now, &year_ago),
        },
        "targets": targets,
        "trend": trend,
        "facilities": facilities,
        "lagging": lagging.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>(),
        "lagging_below_city_points": inputs.settings.lagging_below_city_points,
        "fees_by_brand": { "rows": inputs.fees_by_brand.rows_json(), "totals": inputs.fees_by_brand.totals_json() },
        "fees_by_item": fees_by_item,
        "high_fee_items": flagged,
        "fee_per_payment_high_yen": inputs.settings.fee_per_payment_high_yen.get(),
        "cash_handling": {
            "facility_days_with_cashless": facility_days,
            "minutes_per_facility_day": inputs.settings.cash_handling_minutes_per_facility_day,
            "minutes": minutes,
            "hours": format!("{hours:.prec$}", prec = HOURS_DECIMALS as usize),
            "cash_payments_replaced": now.count_cashless,
            "formula": "hours = facility-days with at least one cashless payment × minutes_per_facility_day ÷ 60, one decimal, half up",
        },
    })
}
