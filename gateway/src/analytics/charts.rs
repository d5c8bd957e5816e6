//! The seven charts: facts added up into a [`ChartTable`], in exact whole yen.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, Timelike};
use pos_config::{Config, Facility, Owner};
use pos_core::{Brand, BusinessDate, FeeItemCode, Method, Yen};

use super::facts::{AmountGroup, DayGroup, HourGroup, ItemGroup, LineFact, PaymentFact};
use super::request::{ChartKind, ChartRequest, Granularity, Lang};
use super::table::{ChartTable, Column, Plot, Value, RATE_DECIMALS};
use super::{add, AnalyticsError};

/// The national target for the cashless share, in percent: BRIEF.md ("the national target is
/// 40 % by 2025").
pub const CASHLESS_TARGET_PERCENT: &str = "40";

/// What a chart is made of.
pub struct ChartInput<'a> {
    pub request: &'a ChartRequest,
    pub config: &'a Config,
    /// The facilities the chart covers, after the caller's scope and the filters.
    pub facilities: Vec<&'a Facility>,
    /// Taken payments per day, facility and brand (every chart but the three below).
    pub days: Vec<DayGroup>,
    /// Taken payments per hour (`heatmap`).
    pub hours: Vec<HourGroup>,
    /// Taken payments per brand and amount (`fees-by-brand`).
    pub amounts: Vec<AmountGroup>,
    /// Fee items of sales paid whole by one payment (`top-fee-items`).
    pub items: Vec<ItemGroup>,
    /// The payments of sales split between payments, any method, in the order they were made,
    /// and those sales' lines (`top-fee-items`).
    pub split_payments: Vec<PaymentFact>,
    pub split_lines: Vec<LineFact>,
}

impl<'a> ChartInput<'a> {
    /// An input without facts, to be filled with those the chart needs.
    pub fn new(request: &'a ChartRequest, config: &'a Config, facilities: Vec<&'a Facility>) -> ChartInput<'a> {
        ChartInput {
            request,
            config,
            facilities,
            days: Vec::new(),
            hours: Vec::new(),
            amounts: Vec::new(),
            items: Vec::new(),
            split_payments: Vec::new(),
            split_lines: Vec::new(),
        }
    }
}

pub fn build(input: &ChartInput<'_>) -> Result<ChartTable, AnalyticsError> {
    match input.request.chart {
        ChartKind::CashlessShare => cashless_share(input),
        ChartKind::ByBrand => by_brand(input),
        ChartKind::ByMethod => by_method(input),
        ChartKind::Heatmap => heatmap(input),
        ChartKind::TopFeeItems => top_fee_items(input),
        ChartKind::FeesByBrand => fees_by_brand(input),
        ChartKind::Facilities => facilities(input),
    }
}

fn method_name(method: Method, lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => method.name_ja(),
        Lang::En => match method {
            Method::Cash => "Cash",
            Method::Card => "Credit and debit cards",
            Method::Emoney => "E-money",
            Method::Qr => "QR code",
        },
    }
}

fn owner_code(owner: &Owner) -> String {
    match owner {
        Owner::City => super::request::CITY_OWNER.to_string(),
        Owner::Operator(operator) => operator.to_string(),
    }
}

/// A count and an amount, added to one payment at a time.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    count: u64,
    amount: Yen,
}

impl Tally {
    fn take(&mut self, count: u64, amount: Yen, what: &'static str) -> Result<(), AnalyticsError> {
        self.count += count;
        self.amount = add(self.amount, amount, what)?;
        Ok(())
    }
}

/// All payments and the cashless ones among them.
#[derive(Debug, Clone, Copy, Default)]
struct Split {
    total: Tally,
    cashless: Tally,
}

impl Split {
    fn take(&mut self, group: &DayGroup) -> Result<(), AnalyticsError> {
        self.total.take(group.count, group.amount, "the total")?;
        if group.method.is_cashless() {
            self.cashless.take(group.count, group.amount, "the cashless total")?;
        }
        Ok(())
    }

    fn values(&self) -> Vec<Value> {
        vec![
            Value::Count(self.total.count),
            Value::Amount(self.total.amount),
            Value::Count(self.cashless.count),
            Value::Amount(self.cashless.amount),
            Value::count_share(self.cashless.count, self.total.count),
            Value::share(self.cashless.amount, self.total.amount),
        ]
    }
}

const COUNT: Column = Column::new("count", "件数", "Count");
const AMOUNT: Column = Column::new("amount", "金額（円）", "Amount (yen)");
const SHARE_AMOUNT: Column = Column::new("share_amount_percent", "金額構成比（%）", "Share of amount (%)");
const COUNT_TOTAL: Column = Column::new("count_total", "総件数", "Payments");
const AMOUNT_TOTAL: Column = Column::new("amount_total", "総額（円）", "Total (yen)");
const COUNT_CASHLESS: Column = Column::new("count_cashless", "キャッシュレス件数", "Cashless payments");
const AMOUNT_CASHLESS: Column = Column::new("amount_cashless", "キャッシュレス金額（円）", "Cashless amount (yen)");
const SHARE_COUNT_CASHLESS: Column =
    Column::new("share_count_percent", "キャッシュレス比率・件数（%）", "Cashless share of count (%)");
const SHARE_AMOUNT_CASHLESS: Column =
    Column::new("share_amount_percent", "キャッシュレス比率・金額（%）", "Cashless share of amount (%)");
const TARGET: Column = Column::new("target_percent", "国の目標（%）", "National target (%)");
const SPLIT_COLUMNS: [Column; 6] =
    [COUNT_TOTAL, AMOUNT_TOTAL, COUNT_CASHLESS, AMOUNT_CASHLESS, SHARE_COUNT_CASHLESS, SHARE_AMOUNT_CASHLESS];

fn period_of(date: BusinessDate, granularity: Granularity) -> String {
    match granularity {
        Granularity::Day => date.to_string(),
        Granularity::Month => format!("{:04}-{:02}", date.date().year(), date.date().month()),
        Granularity::FiscalYear => date.fiscal_year().to_string(),
    }
}

/// Cashless share per period: every period of the range is a row, empty ones too, so the line
/// has no gaps.
fn cashless_share(input: &ChartInput<'_>) -> Result<ChartTable, AnalyticsError> {
    let granularity = input.request.granularity;
    let mut periods: BTreeMap<String, Split> = BTreeMap::new();
    let mut day = input.request.from.date();
    while day <= input.request.to.date() {
        periods.entry(period_of(BusinessDate::new(day), granularity)).or_default();
        day = day.checked_add_days(Days::new(1)).unwrap_or(chrono::NaiveDate::MAX);
    }
    let mut total = Split::default();
    for group in &input.days {
        periods.entry(period_of(group.business_date, granularity)).or_default().take(group)?;
        total.take(group)?;
    }
    let period = Column::new("period", "期間", "Period");
    let mut columns = vec![period];
    columns.extend(SPLIT_COLUMNS);
    columns.push(TARGET);
    let plot =
        Plot::Line { label: "period", value: SHARE_AMOUNT_CASHLESS.key, target_percent: CASHLESS_TARGET_PERCENT };
    let mut table = ChartTable::new(ChartKind::CashlessShare, columns, plot);
    for (name, split) in &periods {
        let mut row = vec![Value::Text(name.clone())];
        row.extend(split.values());
        row.push(Value::Text(CASHLESS_TARGET_PERCENT.to_string()));
        table.push(row);
    }
    for (column, value) in SPLIT_COLUMNS.into_iter().zip(total.values()) {
        table.total(column, value);
    }
    table.total(TARGET, Value::Text(CASHLESS_TARGET_PERCENT.to_string()));
    Ok(table)
}

/// Rows of (key, tally), with each row's share of the whole amount.
fn shares_table<K>(
    chart: ChartKind,
    key_columns: Vec<Column>,
    rows: Vec<(K, Tally)>,
    key_values: impl Fn(&K) -> Vec<Value>,
    label: &'static str,
) -> Result<ChartTable, AnalyticsError> {
    let mut total = Tally::default();
    for (_, tally) in &rows {
        total.count += tally.count;
        total.amount = add(total.amount, tally.amount, "the total")?;
    }
    let mut columns = key_columns;
    columns.extend([COUNT, AMOUNT, SHARE_AMOUNT]);
    let mut table = ChartTable::new(chart, columns, Plot::Bars { label, value: AMOUNT.key });
    for (key, tally) in &rows {
        let mut row = key_values(key);
        row.extend([Value::Count(tally.count), Value::Amount(tally.amount), Value::share(tally.amount, total.amount)]);
        table.push(row);
    }
    table.total(COUNT, Value::Count(total.count));
    table.total(AMOUNT, Value::Amount(total.amount));
    table.total(SHARE_AMOUNT, Value::share(total.amount, total.amount));
    Ok(table)
}

/// Every method (or the one filtered on), in a fixed order, so the chart's colours stay put.
fn by_method(input: &ChartInput<'_>) -> Result<ChartTable, AnalyticsError> {
    let lang = input.request.lang;
    let mut tallies: BTreeMap<Method, Tally> = Method::ALL
        .into_iter()
        .filter(|method| input.request.method.is_none_or(|wanted| wanted == *method))
        .map(|method| (method, Tally::default()))
        .collect();
    for group in &input.days {
        tallies.entry(group.method).or_default().take(group.count, group.amount, "a method's amount")?;
    }
    let columns =
        vec![Column::new("method", "決済手段コード", "Method code"), Column::new("name", "決済手段", "Method")];
    shares_table(
        ChartKind::ByMethod,
        columns,
        tallies.into_iter().collect(),
        |method| vec![Value::Text(method.code().to_string()), Value::Text(method_name(*method, lang).to_string())],
        "name",
    )
}

/// The brands that were used, largest amount first.
fn by_brand(input: &ChartInput<'_>) -> Result<ChartTable, AnalyticsError> {
    let lang = input.request.lang;
    let mut tallies: BTreeMap<Brand, Tally> = BTreeMap::new();
    for group in &input.days {
        tallies.entry(group.brand).or_default().take(group.count, group.amount, "a brand's amount")?;
    }
    let mut rows: Vec<(Brand, Tally)> = tallies.into_iter().collect();
    rows.sort_by(|left, right| right.1.amount.cmp(&left.1.amount).then(left.0.code().cmp(right.0.code())));
    let columns = vec![
        Column::new("brand", "ブランドコード", "Brand code"),
        Column::new("name", "ブランド", "Brand"),
        Column::new("method", "決済手段", "Method"),
    ];
    shares_table(
        ChartKind::ByBrand,
        columns,
        rows,
        |brand| {
            vec![
                Value::Text(brand.code().to_string()),
                Value::Text(brand.display_name().to_string()),
                Value::Text(method_name(brand.method(), lang).to_string()),
            ]
        },
        "name",
    )
}

const WEEKDAYS: [(&str, &str, &str); 7] = [
    ("mon", "月", "Mon"),
    ("tue", "火", "Tue"),
    ("wed", "水", "Wed"),
    ("thu", "木", "Thu"),
    ("fri", "金", "Fri"),
    ("sat", "土", "Sat"),
    ("sun", "日", "Sun"),
];
const HOURS_PER_DAY: u32 = 24;

/// Weekday × hour of the day (JST), all 168 cells.
fn heatmap(input: &ChartInput<'_>) -> Result<ChartTable, AnalyticsError> {
    let lang = input.request.lang;
    let mut cells = [[Tally::default(); HOURS_PER_DAY as usize]; 7];
    let mut total = Tally::default();
    for group in &input.hours {
        let weekday = group.hour.weekday().num_days_from_monday() as usize;
        let hour = group.hour.hour() as usize;
        cells[weekday][hour].take(group.count, group.amount, "a heatmap cell")?;
        total.take(group.count, group.amount, "the total")?;
    }
    let columns = vec![
        Column::new("weekday", "曜日コード", "Weekday code"),
        Column::new("weekday_name", "曜日", "Weekday"),
        Column::new("hour", "時", "Hour"),
        COUNT,
        AMOUNT,
    ];
    let plot = Plot::Grid { rows: "weekday_name", columns: "hour", value: COUNT.key };
    let mut table = ChartTable::new(ChartKind::Heatmap, columns, plot);
    for (weekday, hours) in cells.iter().enumerate() {
        let (code, ja, en) = WEEKDAYS[weekday];
        for (hour, tally) in hours.iter().enumerate() {
            table.push(vec![
                Value::Text(code.to_string()),
                Value::Text(lang.pick(ja, en).to_string()),
                Value::Count(hour as u64),
                Value::Count(tally.count),
                Value::Amount(tally.amount),
            ]);
        }
    }
    table.total(COUNT, Value::Count(total.count));
    table.total(AMOUNT, Value::Amount(total.amount));
    Ok(table)
}

/// Fee items per method. A sale paid by one payment books its lines to that payment's method; a
/// split sale's lines are paid, in order, by its payments, in order — the reconciler's split (its
/// daily report's revenue by brand) — so a sale split between cash and a card puts its first
/// lines on the first payment and the amounts stay exact. `count` is the number of sale lines (a
/// line split between two payments counts under both).
fn top_fee_items(input: &ChartInput<'_>) -> Result<ChartTable, AnalyticsError> {
    let lang = input.request.lang;
    let mut names: BTreeMap<&FeeItemCode, &str> = BTreeMap::new();
    let mut tallies: BTreeMap<(&FeeItemCode, Method), Tally> = BTreeMap::new();
    for group in &input.items {
        names.entry(&group.fee_item).or_insert(group.name_ja.as_str());
        tallies.entry((&group.fee_item, group.method)).or_default().take(
            group.count,
            group.amount,
            "a fee item's amount",
        )?;
    }
    let mut tenders: BTreeMap<&str, Vec<(Method, Yen)>> = BTreeMap::new();
    for payment in &input.split_payments {
        tenders.entry(payment.sale_id.as_str()).or_default().push((payment.method, payment.amount));
    }
    for line in &input.split_lines {
        names.entry(&line.fee_item).or_insert(line.name_ja.as_str());
        let mut left = line.amount;
        for (method, tender_left) in tenders.get_mut(line.sale_id.as_str()).into_iter().flatten() {
            if left <= Yen::ZERO {
                break;
            }
            if *tender_left <= Yen::ZERO {
                continue;
            }
            let part = left.min(*tender_left);
            *tender_left =
                tender_left.checked_sub(part).map_err(|source| AnalyticsError::Money { what: "a tender", source })?;
            left = left.checked_sub(part).map_err(|source| AnalyticsError::Money { what: "a sale line", source })?;
            if input.request.method.is_none_or(|wanted| wanted == *method) {
                tallies.entry((&line.fee_item, *method)).or_default().take(1, part, "a fee item's amount")?;
            }
        }
    }
    let mut rows: Vec<((&FeeItemCode, Method), Tally)> = tallies.into_iter().collect();
    rows.sort_by(|left, right| right.1.amount.cmp(&left.1.amount).then(left.0.cmp(&right.0)));
    let mut total = Tally::default();
    for (_, tally) in &rows {
        total.count += tally.count;
        total.amount = add(total.amount, tally.amount, "the total")?;
    }
    let columns = vec![
        Column::new("rank", "順位", "Rank"),
        Column::new("fee_item", "手数料項目コード", "Fee item code"),
        Column::new("name", "手数料項目", "Fee item"),
        Column::new("method", "決済手段コード", "Method code"),
        Column::new("method_name", "決済手段", "Method"),
        COUNT,
        AMOUNT,
        SHARE_AMOUNT,
    ];
    let mut table = ChartTable::new(ChartKind::TopFeeItems, columns, Plot::Bars { label: "name", value: AMOUNT.key });
    for (rank, ((code, method), tally)) in rows.iter().take(input.request.limit).enumerate() {
        let name = match lang {
            Lang::Ja => names.get(code).copied().unwrap_or_default().to_string(),
            Lang::En => input
                .config
                .fee_item(code)
                .map_or_else(|| names.get(code).copied().unwrap_or_default().to_string(), |item| item.name_en.clone()),
        };
        table.push(vec![
            Value::Count(rank as u64 + 1),
            Value::Text(code.to_string()),
            Value::Text(name),
            Value::Text(method.code().to_string()),
            Value::Text(method_name(*method, lang).to_string()),
            Value::Count(tally.count),
            Value::Amount(tally.amount),
            Value::share(tally.amount, total.amount),
        ]);
    }
    // The totals are of every item, listed or not, so they equal the takings of the filter.
    table.total(COUNT, Value::Count(total.count));
    table.total(AMOUNT, Value::Amount(total.amount));
    Ok(table)
}

/// What cashless costs: per brand, the contracted fee on each payment (the acquirer's rate with
/// its rounding, from the configuration — the reconciler's contracted fee per settled
/// transaction), added up, and the effective rate that results.
fn fees_by_brand(input: &ChartInput<'_>) -> Result<ChartTable, AnalyticsError> {
    let lang = input.request.lang;
    let mut per_brand: BTreeMap<Brand, (Tally, Option<Yen>)> = BTreeMap::new();
    let money = |what| move |source| AnalyticsError::Money { what, source };
    for group in input.amounts.iter().filter(|group| group.method.is_cashless()) {
        let entry = per_brand.entry(group.brand).or_insert((Tally::default(), Some(Yen::ZERO)));
        let count = i64::try_from(group.count)
            .map_err(|_| money("a brand's gross")(pos_core::MoneyError::Overflow("count")))?;
        let gross = group.amount.checked_mul(count).map_err(money("a brand's gross"))?;
        entry.0.take(group.count, gross, "a brand's gross")?;
        // The fee is charged on each payment and rounded there, so it is the fee on one payment
        // of the amount times the payments of that amount.
        let fee = match input.config.fee_rate(group.brand) {
            Some((_, contract)) => Some(
                contract
                    .rate
                    .fee(group.amount, contract.rounding)
                    .and_then(|fee| fee.checked_mul(count))
                    .map_err(money("a contracted fee"))?,
            ),
            None => None,
        };
        entry.1 = match (entry.1, fee) {
            (Some(sum), Some(fee)) => Some(add(sum, fee, "a brand's fees")?),
            _ => None,
        };
    }
    let columns = vec![
        Column::new("brand", "ブランドコード", "Brand code"),
        Column::new("name", "ブランド", "Brand"),
        Column::new("method", "決済手段", "Method"),
        Column::new("acquirer", "加盟店契約先", "Acquirer"),
        Column::new("count", "件数", "Count"),
        Column::new("gross", "決済額（円）", "Gross (yen)"),
        Column::new("rate_percent", "契約手数料率（%）", "Contracted rate (%)"),
        Column::new("rounding", "端数処理", "Rounding"),
        Column::new("fee", "手数料（円）", "Fee (yen)"),
        Column::new("effective_rate_percent", "実効手数料率（%）", "Effective rate (%)"),
    ];
    let mut table =
        ChartTable::new(ChartKind::FeesByBrand, columns.clone(), Plot::Bars { label: "name", value: "fee" });
    let (mut count, mut gross, mut fees) = (0u64, Yen::ZERO, Yen::ZERO);
    let mut rows: Vec<(Brand, (Tally, Option<Yen>))> = per_brand.into_iter().collect();
    rows.sort_by(|left, right| right.1 .1.cmp(&left.1 .1).then(left.0.code().cmp(right.0.code())));
    for (brand, (tally, fee)) in rows {
        let contract = input.config.fee_rate(brand);
        count += tally.count;
        gross = add(gross, tally.amount, "the gross")?;
        if let Some(fee) = fee {
            fees = add(fees, fee, "the fees")?;
        }
        table.push(vec![
            Value::Text(brand.code().to_string()),
            Value::Text(brand.display_name().to_string()),
            Value::Text(method_name(brand.method(), lang).to_string()),
            Value::Text(contract.map(|(acquirer, _)| acquirer.id.clone()).unwrap_or_default()),
            Value::Count(tally.count),
            Value::Amount(tally.amount),
            Value::Text(contract.map(|(_, fee)| fee.rate.percent().to_string()).unwrap_or_default()),
            Value::Text(contract.map(|(_, fee)| fee.rounding.name().to_string()).unwrap_or_default()),
            fee.map_or_else(|| Value::Text(String::new()), Value::Amount),
            match fee {
                Some(fee) => Value::percent(fee.to_decimal(), tally.amount.to_decimal(), RATE_DECIMALS),
                None => Value::Text(String::new()),
            },
        ]);
    }
    table.total(columns[4], Value::Count(count));
    table.total(columns[5], Value::Amount(gross));
    table.total(columns[8], Value::Amount(fees));
    table.total(columns[9], Value::percent(fees.to_decimal(), gross.to_decimal(), RATE_DECIMALS));
    Ok(table)
}

/// Every facility the chart covers, in id order, empty ones too.
fn facilities(input: &ChartInput<'_>) -> Result<ChartTable, AnalyticsError> {
    let lang = input.request.lang;
    let mut splits: BTreeMap<&pos_core::FacilityId, Split> =
        input.facilities.iter().map(|facility| (&facility.id, Split::default())).collect();
    let mut total = Split::default();
    for group in &input.days {
        if let Some(split) = splits.get_mut(&group.facility) {
            split.take(group)?;
            total.take(group)?;
        }
    }
    let mut columns = vec![
        Column::new("facility_id", "施設コード", "Facility code"),
        Column::new("name", "施設", "Facility"),
        Column::new("owner", "運営", "Run by"),
    ];
    columns.extend(SPLIT_COLUMNS);
    let plot = Plot::Bars { label: "name", value: SHARE_AMOUNT_CASHLESS.key };
    let mut table = ChartTable::new(ChartKind::Facilities, columns, plot);
    let mut facilities = input.facilities.clone();
    facilities.sort_by(|left, right| left.id.cmp(&right.id));
    for facility in facilities {
        let split = splits.get(&facility.id).copied().unwrap_or_default();
        let mut row = vec![
            Value::Text(facility.id.to_string()),
            Value::Text(lang.pick(&facility.name_ja, &facility.name_en).to_string()),
            Value::Text(owner_code(&facility.owner)),
        ];
        row.extend(split.values());
        table.push(row);
    }
    for (column, value) in SPLIT_COLUMNS.into_iter().zip(total.values()) {
        table.total(column, value);
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{DateTime, FixedOffset};

    use super::*;
    use crate::analytics::request::ChartRequest;

    fn config() -> Config {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/city.toml");
        pos_config::load_with_env(&path, |_| None).expect("example config loads")
    }

    fn request(chart: ChartKind, pairs: &[(&str, &str)]) -> ChartRequest {
        let params: BTreeMap<String, String> =
            pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect();
        ChartRequest::parse(chart, &params).expect("request parses")
    }

    fn payment(sale: &str, brand: Brand, amount: i64, at: &str) -> PaymentFact {
        let time = DateTime::<FixedOffset>::parse_from_rfc3339(&format!("{at}+09:00")).expect("time");
        PaymentFact {
            id: format!("pay-{sale}-{amount}"),
            sale_id: sale.to_string(),
            facility: pos_core::FacilityId::parse("F01").expect("facility"),
            method: brand.method(),
            brand,
            amount: Yen::new(amount).expect("yen"),
            business_date: BusinessDate::new(time.date_naive()),
            time,
        }
    }

    fn line(sale: &str, item: &str, amount: i64) -> LineFact {
        LineFact {
            sale_id: sale.to_string(),
            fee_item: FeeItemCode::parse(item).expect("item"),
            name_ja: item.to_string(),
            amount: Yen::new(amount).expect("yen"),
        }
    }

    /// The facts the journal's queries would return for these payments and lines.
    fn table(request: &ChartRequest, payments: Vec<PaymentFact>, lines: Vec<LineFact>) -> ChartTable {
        let config = config();
        let facilities = config.facilities.iter().take(2).collect();
        let mut input = ChartInput::new(request, &config, facilities);
        let wanted = |payment: &PaymentFact| request.method.is_none_or(|method| method == payment.method);
        let mut amounts: BTreeMap<(Method, Brand, Yen), u64> = BTreeMap::new();
        for payment in payments.iter().filter(|payment| wanted(payment)) {
            let (count, amount) = (1, payment.amount);
            input.days.push(DayGroup {
                business_date: payment.business_date,
                facility: payment.facility.clone(),
                method: payment.method,
                brand: payment.brand,
                count,
                amount,
            });
            input.hours.push(HourGroup { hour: payment.time, count, amount });
            *amounts.entry((payment.method, payment.brand, amount)).or_default() += 1;
        }
        input.amounts = amounts
            .into_iter()
            .map(|((method, brand, amount), count)| AmountGroup { method, brand, amount, count })
            .collect();
        for payment in &payments {
            if payments.iter().filter(|other| other.sale_id == payment.sale_id).count() > 1 {
                input.split_payments.push(payment.clone());
            } else if wanted(payment) {
                for line in lines.iter().filter(|line| line.sale_id == payment.sale_id) {
                    input.items.push(ItemGroup {
                        fee_item: line.fee_item.clone(),
                        name_ja: line.name_ja.clone(),
                        method: payment.method,
                        count: 1,
                        amount: line.amount,
                    });
                }
            }
        }
        input.split_lines = lines
            .iter()
            .filter(|line| input.split_payments.iter().any(|payment| payment.sale_id == line.sale_id))
            .cloned()
            .collect();
        build(&input).expect("chart builds")
    }

    fn cell(table: &ChartTable, row: usize, key: &str) -> String {
        table.rows[row][table.column_index(key).expect("column")].text()
    }

    #[test]
    fn cashless_share_by_month_and_fiscal_year() {
        let payments = vec![
            payment("a", Brand::Cash, 700, "2026-03-31T23:59:00"),
            payment("b", Brand::Visa, 300, "2026-03-02T10:00:00"),
            payment("c", Brand::PayPay, 100, "2026-04-01T00:00:00"),
        ];
        let months = request(
            ChartKind::CashlessShare,
            &[("from", "2026-02-15"), ("to", "2026-04-01"), ("granularity", "month")],
        );
        let months = table(&months, payments.clone(), Vec::new());
        let periods: Vec<String> = (0..months.rows.len()).map(|row| cell(&months, row, "period")).collect();
        assert_eq!(periods, ["2026-02", "2026-03", "2026-04"], "every month of the range, empty ones too");
        assert_eq!(cell(&months, 1, "share_amount_percent"), "30.0");
        assert_eq!(cell(&months, 1, "share_count_percent"), "50.0");
        assert_eq!(cell(&months, 0, "share_amount_percent"), "", "no payments: no share");
        assert_eq!(cell(&months, 2, "amount_cashless"), "100");
        let years = request(
            ChartKind::CashlessShare,
            &[("from", "2026-03-01"), ("to", "2026-04-30"), ("granularity", "fiscal_year")],
        );
        let years = table(&years, payments, Vec::new());
        assert_eq!(cell(&years, 0, "period"), "FY2025");
        assert_eq!(cell(&years, 1, "period"), "FY2026");
        assert_eq!(cell(&years, 0, "target_percent"), CASHLESS_TARGET_PERCENT);
        let totals: BTreeMap<&str, String> =
            years.totals.iter().map(|(column, value)| (column.key, value.text())).collect();
        assert_eq!(totals["amount_total"], "1100");
        assert_eq!(totals["share_amount_percent"], "36.4", "400 / 1100 = 36.36… rounds to 36.4");
    }

    #[test]
    fn a_split_sale_puts_its_first_lines_on_its_first_payment() {
        let payments = vec![
            payment("s", Brand::Cash, 500, "2026-11-25T10:00:00"),
            payment("s", Brand::Jcb, 1000, "2026-11-25T10:01:00"),
        ];
        let lines = vec![line("s", "GYM-IPPAN", 300), line("s", "GYM-ARENA-HALF", 1200)];
        let all = request(ChartKind::TopFeeItems, &[("from", "2026-11-25"), ("to", "2026-11-25")]);
        let all = table(&all, payments.clone(), lines.clone());
        let found: Vec<(String, String, String)> = (0..all.rows.len())
            .map(|row| (cell(&all, row, "fee_item"), cell(&all, row, "method"), cell(&all, row, "amount")))
            .collect();
        let expected =
            [("GYM-ARENA-HALF", "card", "1000"), ("GYM-IPPAN", "cash", "300"), ("GYM-ARENA-HALF", "cash", "200")];
        let expected: Vec<(String, String, String)> =
            expected.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
        assert_eq!(found, expected);
        let cards = request(
            ChartKind::TopFeeItems,
            &[("from", "2026-11-25"), ("to", "2026-11-25"), ("method", "card"), ("limit", "1")],
        );
        let cards = table(&cards, payments, lines);
        assert_eq!(cards.rows.len(), 1);
        assert_eq!(cell(&cards, 0, "amount"), "1000");
        let total = cards.totals.iter().find(|(column, _)| column.key == "amount").map(|(_, value)| value.text());
        assert_eq!(total.as_deref(), Some("1000"), "the card part of the sale only");
    }

    #[test]
    fn fees_are_the_contract_on_each_payment_added_up() {
        // VISA is 3.24 %, truncated on each payment: 14.58 → 14 twice and 32.40 → 32, which is
        // 60, not 3.24 % of 1,900 (61.56 → 61).
        let payments = vec![
            payment("a", Brand::Visa, 450, "2026-11-25T10:00:00"),
            payment("b", Brand::Visa, 1000, "2026-11-25T11:00:00"),
            payment("c", Brand::Visa, 450, "2026-11-25T12:00:00"),
        ];
        let fees = request(ChartKind::FeesByBrand, &[("from", "2026-11-25"), ("to", "2026-11-25")]);
        let fees = table(&fees, payments, Vec::new());
        assert_eq!(cell(&fees, 0, "fee"), "60");
        assert_eq!(cell(&fees, 0, "gross"), "1900");
        assert_eq!(cell(&fees, 0, "count"), "3");
        assert_eq!(cell(&fees, 0, "rate_percent"), "3.24");
        assert_eq!(cell(&fees, 0, "rounding"), "truncate");
        assert_eq!(cell(&fees, 0, "effective_rate_percent"), "3.16");
    }

    #[test]
    fn the_heatmap_counts_each_payment_in_its_tokyo_weekday_and_hour() {
        // 2026-11-23 is a Monday.
        let payments = vec![
            payment("a", Brand::Cash, 300, "2026-11-23T09:15:00"),
            payment("b", Brand::Cash, 300, "2026-11-23T09:45:00"),
            payment("c", Brand::Nanaco, 200, "2026-11-29T17:00:00"),
        ];
        let heatmap = request(ChartKind::Heatmap, &[("from", "2026-11-23"), ("to", "2026-11-29")]);
        let heatmap = table(&heatmap, payments, Vec::new());
        assert_eq!(heatmap.rows.len(), 168);
        assert_eq!((cell(&heatmap, 9, "weekday"), cell(&heatmap, 9, "count")), ("mon".to_string(), "2".to_string()));
        assert_eq!(
            (cell(&heatmap, 6 * 24 + 17, "weekday"), cell(&heatmap, 6 * 24 + 17, "amount")),
            ("sun".to_string(), "200".to_string())
        );
    }
}
