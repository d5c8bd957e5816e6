//! The analytics API: the figures behind every chart (JSON, the CSV download and the SVG's
//! `data-*` marks) against the journal as the API lists it and against the reconciler's day
//! reconciled from the same database and the simulators' settlement files; who may see what;
//! and bad filters refused by name.

use std::collections::BTreeMap;
use std::time::Duration;

use acquirer_sim::SimulatorHandle;
use chrono::{Datelike, Timelike};
use pos_config::Backend;
use pos_core::api::{PaymentList, PaymentResult, PaymentView, SaleView};
use pos_core::{Brand, BusinessDate, Clock, FacilityId, Method, PaymentState, Yen};
use qr_sim::QrSimHandle;
use reconciler::calendar::BankCalendar;
use reconciler::pipeline::{InputFiles, ReconciledDay};
use reconciler::scale::run::{reconcile_days, spool_inputs, AsOf, RunShared};
use reconciler::source::JournalSource;
use serde_json::{json, Value as Json};

use crate::support::{key, spawn_app, token, TestApp, TestPki};
use crate::switch_rig::{authorize, purchase, terminal};

on_both_backends!(
    every_chart_agrees_with_the_journal_and_the_reconciler,
    operators_see_only_their_facilities_and_clerks_no_chart,
    bad_filters_are_refused_naming_the_field,
);

const CHARTS: [&str; 7] =
    ["cashless-share", "by-brand", "by-method", "heatmap", "top-fee-items", "fees-by-brand", "facilities"];
const CITY_CLERK: &str = "clerk-r0101";
const CITY_REGISTER: &str = "R0101";
const CITY_TERMINAL: &str = "10010101";
const CITY_FACILITY: &str = "F01";
const SPORTS_OPERATOR: &str = "op-sports";
const SPORTS_REGISTER: &str = "R2101";
const SPORTS_TERMINAL: &str = "10012101";
const SPORTS_FACILITY: &str = "F21";
/// The QR sale is made at a third facility, which the reconciler is not asked about: its journal
/// source refuses a day with a QR payment (it reads the provider's payment id, kept in `rrn`, as
/// a 12-character card RRN), so the QR payment is checked against the journal only.
const QR_CLERK: &str = "clerk-r0301";
const QR_REGISTER: &str = "R0301";
const QR_FACILITY: &str = "F03";
/// The bound on waiting for a payment to settle.
const WAIT_MS: u64 = 15_000;
/// The states whose money was taken (the reconciler's `is_taken`).
const TAKEN: [PaymentState; 3] = [PaymentState::Completed, PaymentState::PartiallyRefunded, PaymentState::Refunded];

struct Rig {
    app: TestApp,
    card: SimulatorHandle,
    emoney: SimulatorHandle,
    qr: QrSimHandle,
    pki: TestPki,
}

/// The gateway with a card acquirer, an e-money centre and a QR provider, all simulated: the one
/// rig, with the terminal host.
async fn rig(backend: Backend) -> Rig {
    let merchants = [(FacilityId::parse(QR_FACILITY).expect("facility"), demo::rig::QR_MERCHANT.to_string())].into();
    let qr = demo::rig::QrOptions { merchants, ..demo::rig::QrOptions::example(false) };
    let mut app = crate::support::spawn_rig(
        backend,
        std::sync::Arc::new(pos_core::SystemClock),
        |_| {},
        |options| demo::rig::RigOptions {
            card: true,
            emoney: true,
            qr: Some(qr),
            terminal_host: true,
            link_timing: Some(crate::switch_rig::TIMING),
            ..options
        },
    )
    .await;
    let pki = app.pki();
    let started = app.rig.as_mut().expect("the rig");
    let (card, emoney, qr) = (
        started.card.take().expect("card simulator"),
        started.emoney.take().expect("e-money simulator"),
        started.qr.take().expect("QR simulator"),
    );
    Rig { app, card, emoney, qr, pki }
}

async fn open_shift(app: &TestApp, user: &str, register: &str) {
    app.post("/v1/shifts", &token(user), &key(), &json!({ "register_id": register, "opening_float": 0 }))
        .await
        .ok::<Json>();
}

async fn sell(app: &TestApp, user: &str, register: &str, item: &str, quantity: u32) -> SaleView {
    app.post(
        "/v1/sales",
        &token(user),
        &key(),
        &json!({ "register_id": register, "lines": [{ "fee_item": item, "quantity": quantity }] }),
    )
    .await
    .ok()
}

async fn pay(app: &TestApp, user: &str, sale: &SaleView, body: Json) -> PaymentView {
    let result: PaymentResult =
        app.post(&format!("/v1/sales/{}/payments", sale.id), &token(user), &key(), &body).await.ok();
    result.payment
}

async fn cash_sale(app: &TestApp, user: &str, register: &str, item: &str, quantity: u32) -> SaleView {
    let sale = sell(app, user, register, item, quantity).await;
    let payment = pay(app, user, &sale, json!({ "method": "cash", "tendered": sale.amount_total })).await;
    assert_eq!(payment.state, PaymentState::Completed);
    sale
}

async fn void(app: &TestApp, user: &str, sale: &SaleView) {
    app.post(&format!("/v1/sales/{}/void", sale.id), &token(user), &key(), &json!({ "reason": "wrong item" }))
        .await
        .ok::<Json>();
}

async fn wait_for(app: &TestApp, id: &str, state: PaymentState) {
    app.payment_until(id, Duration::from_millis(WAIT_MS), |payment| payment.state == state).await;
}

impl Rig {
    /// A card or e-money sale, paid at the register's terminal.
    async fn terminal_sale(
        &self,
        terminal: &demo::terminals::TerminalFleet,
        (user, register, terminal_id): (&str, &str, &str),
        (item, quantity): (&str, u32),
        brand: Brand,
        stan: u32,
    ) -> (SaleView, String) {
        let sale = sell(&self.app, user, register, item, quantity).await;
        let payment = pay(&self.app, user, &sale, json!({ "method": brand.method().code() })).await;
        let amount = sale.amount_total.get();
        assert_eq!(authorize(terminal, &purchase(terminal_id, stan, amount, brand)).await, "00");
        wait_for(&self.app, &payment.id, PaymentState::Completed).await;
        (sale, payment.id)
    }

    async fn qr_sale(&self, item: &str, quantity: u32) -> SaleView {
        let sale = sell(&self.app, QR_CLERK, QR_REGISTER, item, quantity).await;
        let payment = pay(&self.app, QR_CLERK, &sale, json!({ "method": "qr", "brand": "PAYPAY" })).await;
        crate::support::until("a QR code created for the payment", Duration::from_millis(WAIT_MS), || async {
            self.qr.payments().iter().any(|record| record.merchant_payment_id.as_str() == payment.id).then_some(())
        })
        .await;
        self.qr.pay(&payment.id).expect("the customer pays");
        wait_for(&self.app, &payment.id, PaymentState::Completed).await;
        sale
    }

    async fn stop(self) {
        self.app.stop().await;
        self.card.shutdown().await;
        self.emoney.shutdown().await;
        self.qr.shutdown().await;
    }
}

/// A day at facilities of two owners: the city's citizens' counter (cash, VISA, nanaco, a voided
/// cash sale and a voided card sale, reversed at the acquirer) and a branch office (PayPay), and
/// the sports foundation's gymnasium (cash, Mastercard, transit IC, and a sale split between cash
/// and JCB).
async fn a_day(rig: &Rig) {
    let app = &rig.app;
    let terminal = terminal(app, &rig.pki).await;
    let city = (CITY_CLERK, CITY_REGISTER, CITY_TERMINAL);
    let sports = (SPORTS_OPERATOR, SPORTS_REGISTER, SPORTS_TERMINAL);
    open_shift(app, CITY_CLERK, CITY_REGISTER).await;
    open_shift(app, SPORTS_OPERATOR, SPORTS_REGISTER).await;
    open_shift(app, QR_CLERK, QR_REGISTER).await;

    cash_sale(app, CITY_CLERK, CITY_REGISTER, "JUMINHYO", 2).await;
    rig.terminal_sale(&terminal, city, ("KOSEKI-ZENBU", 3), Brand::Visa, 1).await;
    rig.terminal_sale(&terminal, city, ("INKAN", 1), Brand::Nanaco, 2).await;
    rig.qr_sale("JUMINHYO", 1).await;
    let mistake = cash_sale(app, CITY_CLERK, CITY_REGISTER, "MIBUN", 1).await;
    void(app, CITY_CLERK, &mistake).await;
    let (card_mistake, card_payment) = rig.terminal_sale(&terminal, city, ("KOSEKI-KOJIN", 1), Brand::Visa, 3).await;
    void(app, CITY_CLERK, &card_mistake).await;
    // The void reverses the card payment at the acquirer, so its settlement file leaves it out.
    wait_for(app, &card_payment, PaymentState::Voided).await;

    cash_sale(app, SPORTS_OPERATOR, SPORTS_REGISTER, "GYM-IPPAN", 2).await;
    rig.terminal_sale(&terminal, sports, ("GYM-TRAINING", 1), Brand::Mastercard, 4).await;
    rig.terminal_sale(&terminal, sports, ("GYM-ARENA-HALF", 3), Brand::TransitIc, 5).await;
    // A split tender: 500 yen in cash, the rest by JCB.
    let split = app
        .post(
            "/v1/sales",
            &token(SPORTS_OPERATOR),
            &key(),
            &json!({ "register_id": SPORTS_REGISTER, "lines": [
                { "fee_item": "GYM-IPPAN", "quantity": 1 },
                { "fee_item": "GYM-ARENA-HALF", "quantity": 1 },
            ] }),
        )
        .await
        .ok::<SaleView>();
    pay(app, SPORTS_OPERATOR, &split, json!({ "method": "cash", "amount": 500, "tendered": 500 })).await;
    let rest = pay(app, SPORTS_OPERATOR, &split, json!({ "method": "card" })).await;
    assert_eq!(authorize(&terminal, &purchase(SPORTS_TERMINAL, 6, rest.amount.get(), Brand::Jcb)).await, "00");
    wait_for(app, &rest.id, PaymentState::Completed).await;
    terminal.shutdown();
}

/// The charts' answer as JSON.
async fn chart(app: &TestApp, user: &str, chart: &str, query: &str) -> Json {
    app.get(&format!("/v1/analytics/{chart}?{query}"), &token(user)).await.ok()
}

fn rows(answer: &Json) -> &Vec<Json> {
    answer["rows"].as_array().expect("rows")
}

fn number(value: &Json) -> i64 {
    value.as_i64().unwrap_or_else(|| panic!("{value} is not a whole number"))
}

/// A JSON value as the CSV and the SVG write it.
fn text(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// Sums an amount column of the rows whose `key` column is `value`.
fn sum_where(answer: &Json, key: &str, value: &str, column: &str) -> i64 {
    rows(answer).iter().filter(|row| text(&row[key]) == value).map(|row| number(&row[column])).sum()
}

/// Parses CSV as written by the reconciler's writer (BOM, CRLF, quoted cells).
fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).expect("UTF-8");
    let text = text.strip_prefix('\u{feff}').expect("the CSV starts with a byte-order mark");
    let mut rows = Vec::new();
    let (mut row, mut cell, mut quoted, mut chars) = (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(character) = chars.next() {
        match (character, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut cell)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (other, _) => cell.push(other),
        }
    }
    assert!(row.is_empty() && cell.is_empty(), "the CSV ends with CRLF");
    rows
}

/// The `data-*` attributes of each data mark of an SVG, in document order.
fn svg_marks(svg: &str) -> Vec<BTreeMap<String, String>> {
    svg.split('<')
        .filter(|element| element.contains("class=\"mark\""))
        .map(|element| {
            let mut attributes = BTreeMap::new();
            let mut rest = element;
            while let Some(start) = rest.find(" data-") {
                rest = &rest[start + 6..];
                let (name, after) = rest.split_once("=\"").expect("attribute value");
                let (value, after) = after.split_once('"').expect("closing quote");
                attributes.insert(name.to_string(), value.replace("&amp;", "&").replace("&#39;", "'"));
                rest = after;
            }
            attributes
        })
        .collect()
}

/// The JSON, the CSV and the SVG of a chart carry the same figures, row by row.
async fn formats_agree(app: &TestApp, user: &str, chart_name: &str, query: &str) -> Json {
    let answer = chart(app, user, chart_name, query).await;
    let csv_reply = app.get(&format!("/v1/analytics/{chart_name}?{query}&format=csv"), &token(user)).await;
    assert_eq!(csv_reply.status, 200, "{}", csv_reply.text);
    let csv = parse_csv(csv_reply.text.as_bytes());
    let json_rows = rows(&answer);
    assert_eq!(csv.len(), json_rows.len() + 2, "{chart_name}: header, one line per row, totals");
    for (line, row) in csv[1..].iter().zip(json_rows) {
        let mut expected: Vec<String> = row.as_object().expect("row").values().map(text).collect();
        let mut found = line.clone();
        expected.sort();
        found.sort();
        assert_eq!(found, expected, "{chart_name}: a CSV line and its JSON row");
    }
    let totals_line = csv.last().expect("totals line");
    assert_eq!(totals_line[0], "合計 / Total");
    let mut expected: Vec<String> = answer["totals"].as_object().expect("totals").values().map(text).collect();
    let mut found: Vec<String> = totals_line[1..].iter().filter(|cell| !cell.is_empty()).cloned().collect();
    expected.retain(|cell| !cell.is_empty());
    expected.sort();
    found.sort();
    assert_eq!(found, expected, "{chart_name}: the CSV totals");

    let svg = app.get(&format!("/v1/analytics/{chart_name}?{query}&format=svg"), &token(user)).await;
    assert_eq!(svg.status, 200, "{}", svg.text);
    assert!(svg.text.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox="), "{chart_name}");
    assert!(svg.text.contains("<title>") && !svg.text.contains("href") && !svg.text.contains("<script"));
    let marks = svg_marks(&svg.text);
    assert_eq!(marks.len(), json_rows.len(), "{chart_name}: one mark per row");
    for (mark, row) in marks.iter().zip(json_rows) {
        for (key, value) in row.as_object().expect("row") {
            assert_eq!(mark.get(key), Some(&text(value)), "{chart_name}: data-{key} of a mark");
        }
        assert!(mark.contains_key("value"), "{chart_name}: every mark has a data-value");
    }
    answer
}

async fn journal_payments(app: &TestApp, facility: &str, date: BusinessDate) -> Vec<PaymentView> {
    let list: PaymentList = app.get(&format!("/v1/payments?facility_id={facility}"), &token("treasury")).await.ok();
    list.payments.into_iter().filter(|p| TAKEN.contains(&p.state) && p.business_date == date).collect()
}

async fn reconcile(rig: &Rig, date: BusinessDate) -> Vec<ReconciledDay> {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = InputFiles {
        card: vec![rig.card.write_settlement(date.date(), dir.path()).expect("card settlement")],
        qr: vec![(Brand::PayPay, rig.qr.write_settlement(date.date(), dir.path()).expect("QR settlement"))],
        emoney: vec![rig.emoney.write_settlement(date.date(), dir.path()).expect("e-money settlement")],
        bank: None,
    };
    let config = &rig.app.app.config;
    let spooled = spool_inputs(&files, config, &dir.path().join("spool"), date.date()).expect("settlement files load");
    let source = JournalSource::connect(&rig.app.app.config.database.url).await.expect("journal opens read-only");
    let calendar = BankCalendar::shipped().expect("calendar");
    let run =
        RunShared::prepare(&source, (**config).clone(), calendar, spooled, date.date()).await.expect("the run starts");
    let facility_days = [CITY_FACILITY, SPORTS_FACILITY]
        .into_iter()
        .map(|facility| (FacilityId::parse(facility).expect("facility"), date))
        .collect();
    let mut days = Vec::new();
    reconcile_days(&source, &run, facility_days, AsOf::Fixed(date.date()), 1, |day| {
        days.push(day);
        Ok(())
    })
    .await
    .expect("the days reconcile");
    source.close().await;
    days
}

async fn every_chart_agrees_with_the_journal_and_the_reconciler(backend: Backend) {
    let rig = rig(backend).await;
    a_day(&rig).await;
    let app = &rig.app;
    let today = BusinessDate::of_instant(pos_core::SystemClock.now());
    let query = format!("from={today}&to={today}&limit=100");
    let mut answers = BTreeMap::new();
    for chart_name in CHARTS {
        answers.insert(chart_name, formats_agree(app, "treasury", chart_name, &query).await);
    }

    // The journal, as the API lists it.
    let mut taken = journal_payments(app, CITY_FACILITY, today).await;
    taken.extend(journal_payments(app, SPORTS_FACILITY, today).await);
    taken.extend(journal_payments(app, QR_FACILITY, today).await);
    assert_eq!(taken.len(), 9, "3 + 5 + 1 payments taken; the two voided sales' are not");
    let amount = |filter: &dyn Fn(&PaymentView) -> bool| -> i64 {
        taken.iter().filter(|p| filter(p)).map(|p| p.amount.get()).sum()
    };
    let total = amount(&|_| true);
    let cashless = amount(&|p| p.method.is_cashless());

    let share = &answers["cashless-share"];
    assert_eq!(rows(share).len(), 1);
    assert_eq!(number(&share["totals"]["amount_total"]), total);
    assert_eq!(number(&share["totals"]["amount_cashless"]), cashless);
    assert_eq!(number(&share["totals"]["count_total"]), 9);
    assert_eq!(
        number(&share["totals"]["count_cashless"]),
        taken.iter().filter(|p| p.method.is_cashless()).count() as i64
    );
    let expected_share = rust_decimal::Decimal::from(cashless * 100) / rust_decimal::Decimal::from(total);
    let expected_share = expected_share.round_dp_with_strategy(1, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    assert_eq!(share["totals"]["share_amount_percent"], json!(format!("{expected_share:.1}")));
    assert_eq!(rows(share)[0]["target_percent"], json!("40"));
    assert_eq!(rows(share)[0]["period"], json!(today.to_string()));

    for method in Method::ALL {
        let journal = amount(&|p| p.method == method);
        assert_eq!(sum_where(&answers["by-method"], "method", method.code(), "amount"), journal, "{method}");
    }
    for brand in
        [Brand::Cash, Brand::Visa, Brand::Nanaco, Brand::PayPay, Brand::Mastercard, Brand::TransitIc, Brand::Jcb]
    {
        let journal = amount(&|p| p.brand == Some(brand));
        assert!(journal > 0, "the day has a {brand} payment");
        assert_eq!(sum_where(&answers["by-brand"], "brand", brand.code(), "amount"), journal, "{brand}");
    }
    assert_eq!(number(&answers["by-brand"]["totals"]["amount"]), total);

    let heatmap = &answers["heatmap"];
    assert_eq!(rows(heatmap).len(), 7 * 24);
    for payment in &taken {
        let at = payment.created_at.with_timezone(&pos_core::time::jst());
        let weekday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][at.weekday().num_days_from_monday() as usize];
        let in_cell = taken
            .iter()
            .filter(|other| {
                let other = other.created_at.with_timezone(&pos_core::time::jst());
                other.weekday() == at.weekday() && other.hour() == at.hour()
            })
            .count() as i64;
        let cell = rows(heatmap)
            .iter()
            .find(|row| row["weekday"] == json!(weekday) && number(&row["hour"]) == i64::from(at.hour()))
            .expect("the payment's cell");
        assert_eq!(number(&cell["count"]), in_cell);
    }
    assert_eq!(number(&heatmap["totals"]["amount"]), total);

    assert_eq!(number(&answers["facilities"]["totals"]["amount_total"]), total);
    assert_eq!(number(&answers["facilities"]["totals"]["amount_cashless"]), cashless);
    assert_eq!(number(&answers["top-fee-items"]["totals"]["amount"]), total);
    assert_eq!(number(&answers["fees-by-brand"]["totals"]["gross"]), cashless);
    // The PayPay payment is not reconciled (see QR_FACILITY): its fee is the contract's on it.
    let config = &app.app.config;
    let (_, paypay) = config.fee_rate(Brand::PayPay).expect("PayPay has a contract");
    let paypay_fee: i64 = taken
        .iter()
        .filter(|p| p.brand == Some(Brand::PayPay))
        .map(|p| paypay.rate.fee(p.amount, paypay.rounding).expect("fee").get())
        .sum();
    assert_eq!(sum_where(&answers["fees-by-brand"], "brand", "PAYPAY", "fee"), paypay_fee);

    // The reconciler's days, from the same database and the simulators' settlement files, against
    // the same charts for the same facilities.
    let days = reconcile(&rig, today).await;
    let reconciled_query = format!("{query}&facility_id={CITY_FACILITY},{SPORTS_FACILITY}");
    for chart_name in ["by-method", "by-brand", "fees-by-brand", "facilities", "top-fee-items"] {
        answers.insert(chart_name, chart(app, "treasury", chart_name, &reconciled_query).await);
    }
    let reconciled_total: i64 = days.iter().map(|day| day.report.revenue.amount_total.get()).sum();
    assert_eq!(number(&answers["by-method"]["totals"]["amount"]), reconciled_total);
    let revenue_rows: Vec<_> = days.iter().flat_map(|day| day.report.revenue.rows.iter()).collect();
    for method in Method::ALL {
        let reconciled: i64 =
            revenue_rows.iter().filter(|row| row.method == Some(method)).map(|row| row.amount.get()).sum();
        assert_eq!(sum_where(&answers["by-method"], "method", method.code(), "amount"), reconciled, "{method}");
    }
    for brand in Brand::ALL {
        let reconciled: i64 =
            revenue_rows.iter().filter(|row| row.brand == Some(brand)).map(|row| row.amount.get()).sum();
        assert_eq!(sum_where(&answers["by-brand"], "brand", brand.code(), "amount"), reconciled, "{brand}");
    }
    let fee_lines: Vec<_> = days.iter().flat_map(|day| day.result.fee_lines.iter()).collect();
    assert_eq!(fee_lines.len(), 5, "every cashless payment settled once");
    let fees = &answers["fees-by-brand"];
    for brand in Brand::ALL.into_iter().filter(|brand| brand.method().is_cashless()) {
        let lines = fee_lines.iter().filter(|line| line.brand == brand);
        let gross: i64 = lines.clone().map(|line| line.amount_gross.get()).sum();
        let fee: i64 = lines.map(|line| line.fee_contracted.get()).sum();
        assert_eq!(sum_where(fees, "brand", brand.code(), "gross"), gross, "{brand} gross");
        assert_eq!(sum_where(fees, "brand", brand.code(), "fee"), fee, "{brand} fee");
    }
    let fee_total: i64 = fee_lines.iter().map(|line| line.fee_contracted.get()).sum();
    assert!(fee_total > 0);
    assert_eq!(number(&fees["totals"]["fee"]), fee_total);
    let reconciled_gross: i64 = fee_lines.iter().map(|line| line.amount_gross.get()).sum();
    assert_eq!(number(&fees["totals"]["gross"]), reconciled_gross);
    assert_eq!(
        Yen::new(number(&fees["totals"]["fee"])).ok(),
        Some(days.iter().map(|day| day.result.fee_contracted_total).sum::<Option<Yen>>().expect("sum"))
    );

    for day in &days {
        let facility = day.result.facility.to_string();
        let row = rows(&answers["facilities"]).iter().find(|row| row["facility_id"] == json!(facility)).expect("row");
        assert_eq!(number(&row["amount_total"]), day.report.revenue.amount_total.get(), "{facility}");
        let cashless: i64 = day
            .report
            .revenue
            .rows
            .iter()
            .filter(|row| row.method.is_some_and(Method::is_cashless))
            .map(|row| row.amount.get())
            .sum();
        assert_eq!(number(&row["amount_cashless"]), cashless, "{facility}");
    }

    // Fee items: per item, the reconciler's revenue lines; per item and method, its revenue rows
    // (one account per item here) split as the reconciler splits a sale over its payments.
    let items = &answers["top-fee-items"];
    let mut per_item: BTreeMap<String, i64> = BTreeMap::new();
    for line in days.iter().flat_map(|day| day.result.revenue_lines.iter()) {
        *per_item.entry(line.fee_item.to_string()).or_default() += line.amount.get();
    }
    for (item, reconciled) in &per_item {
        assert_eq!(sum_where(items, "fee_item", item, "amount"), *reconciled, "{item}");
    }
    assert_eq!(number(&items["totals"]["amount"]), reconciled_total);
    let split_cash = rows(items)
        .iter()
        .find(|row| row["fee_item"] == json!("GYM-ARENA-HALF") && row["method"] == json!("cash"))
        .expect("the split sale's cash part reaches its second line");
    assert_eq!(number(&split_cash["amount"]), 500 - 300, "500 yen cash pays GYM-IPPAN (300) and 200 of the arena");

    // A filter narrows every figure alike.
    let sports_only = chart(app, "treasury", "by-method", &format!("{query}&facility_id={SPORTS_FACILITY}")).await;
    let sports_total: i64 = journal_payments(app, SPORTS_FACILITY, today).await.iter().map(|p| p.amount.get()).sum();
    assert_eq!(number(&sports_only["totals"]["amount"]), sports_total);
    let card_only = chart(app, "treasury", "facilities", &format!("{query}&method=card")).await;
    assert_eq!(number(&card_only["totals"]["amount_total"]), amount(&|p| p.method == Method::Card));
    rig.stop().await;
}

async fn operators_see_only_their_facilities_and_clerks_no_chart(backend: Backend) {
    let app = spawn_app(backend).await;
    open_shift(&app, CITY_CLERK, CITY_REGISTER).await;
    open_shift(&app, SPORTS_OPERATOR, SPORTS_REGISTER).await;
    cash_sale(&app, CITY_CLERK, CITY_REGISTER, "JUMINHYO", 1).await;
    cash_sale(&app, SPORTS_OPERATOR, SPORTS_REGISTER, "GYM-IPPAN", 3).await;
    let today = BusinessDate::of_instant(pos_core::SystemClock.now());
    let query = format!("from={today}&to={today}");
    let sports: Vec<String> = app
        .app
        .config
        .operator_facilities(&pos_core::OperatorId::parse("OP-SPORTS").expect("operator"))
        .map(|facility| facility.id.to_string())
        .collect();

    for chart_name in CHARTS {
        for user in [CITY_CLERK, "counter-r0101"] {
            for format in ["json", "csv", "svg"] {
                let reply = app.get(&format!("/v1/analytics/{chart_name}?{query}&format={format}"), &token(user)).await;
                reply.error(403);
            }
        }
        // The operator's charts hold its own facility's 900 yen and nothing of the city's 300.
        let answer = formats_agree(&app, SPORTS_OPERATOR, chart_name, &query).await;
        assert_eq!(answer["filter"]["facility_id"], Json::Null);
        let totals = &answer["totals"];
        let total = totals.get("amount").or_else(|| totals.get("amount_total")).or_else(|| totals.get("gross"));
        let expected = if chart_name == "fees-by-brand" { 0 } else { 900 };
        assert_eq!(total.map(number), Some(expected), "{chart_name}: {answer}");
        let csv = app.get(&format!("/v1/analytics/{chart_name}?{query}&format=csv"), &token(SPORTS_OPERATOR)).await;
        assert!(!csv.text.contains(CITY_FACILITY) && !csv.text.contains("JUMINHYO"), "{chart_name}: {}", csv.text);
        for asked in [format!("facility_id={CITY_FACILITY}"), format!("facility_id={SPORTS_FACILITY},{CITY_FACILITY}")]
        {
            let reply = app.get(&format!("/v1/analytics/{chart_name}?{query}&{asked}"), &token(SPORTS_OPERATOR)).await;
            reply.error(403);
        }
        for asked in ["operator_id=OP-PARKS", "operator_id=city"] {
            let reply = app.get(&format!("/v1/analytics/{chart_name}?{query}&{asked}"), &token(SPORTS_OPERATOR)).await;
            reply.error(403);
        }
        let own = chart(&app, SPORTS_OPERATOR, chart_name, &format!("{query}&operator_id=OP-SPORTS")).await;
        assert_eq!(own["totals"], answer["totals"], "{chart_name}");

        let everything = chart(&app, "treasury", chart_name, &query).await;
        let admin = chart(&app, "admin", chart_name, &query).await;
        assert_eq!(everything["totals"], admin["totals"]);
        let totals = &everything["totals"];
        let total = totals.get("amount").or_else(|| totals.get("amount_total")).or_else(|| totals.get("gross"));
        assert_eq!(total.map(number), Some(if chart_name == "fees-by-brand" { 0 } else { 1200 }), "{chart_name}");
    }
    let facilities = chart(&app, SPORTS_OPERATOR, "facilities", &query).await;
    let listed: Vec<String> = rows(&facilities).iter().map(|row| text(&row["facility_id"])).collect();
    assert_eq!(listed, sports, "an operator's facilities chart lists its facilities and no other");
    let city = chart(&app, "treasury", "facilities", &format!("{query}&operator_id=city")).await;
    assert!(rows(&city).iter().all(|row| row["owner"] == json!("city")));
    assert_eq!(number(&city["totals"]["amount_total"]), 300);
    app.stop().await;
}

async fn bad_filters_are_refused_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = app.journal_counts().await;
    let cases = [
        ("by-method", "to=2026-11-25", "from"),
        ("by-method", "from=2026-11-25", "to"),
        ("by-method", "from=2026-11-31&to=2026-12-01", "from"),
        ("by-method", "from=2026-11-25&to=2026-11-24", "to"),
        ("cashless-share", "from=2025-01-01&to=2026-11-25", "to"),
        ("by-brand", "from=2026-11-01&to=2026-11-25&method=cheque", "method"),
        ("cashless-share", "from=2026-11-01&to=2026-11-25&granularity=week", "granularity"),
        ("heatmap", "from=2026-11-01&to=2026-11-25&format=pdf", "format"),
        ("facilities", "from=2026-11-01&to=2026-11-25&lang=fr", "lang"),
        ("top-fee-items", "from=2026-11-01&to=2026-11-25&limit=0", "limit"),
        ("top-fee-items", "from=2026-11-01&to=2026-11-25&limit=ten", "limit"),
        ("facilities", "from=2026-11-01&to=2026-11-25&facility_id=F99", "facility_id"),
        ("facilities", "from=2026-11-01&to=2026-11-25&facility_id=F01;drop", "facility_id"),
        ("fees-by-brand", "from=2026-11-01&to=2026-11-25&operator_id=OP-NOBODY", "operator_id"),
        ("by-method", "from=2026-11-01&to=2026-11-25&colour=red", "colour"),
    ];
    for (chart_name, query, field) in cases {
        let reply = app.get(&format!("/v1/analytics/{chart_name}?{query}"), &token("treasury")).await;
        let (_, message, named) = reply.error(422);
        assert_eq!(named.as_deref(), Some(field), "{chart_name}?{query}: {message}");
        assert!(!message.is_empty());
    }
    let (code, _, _) = app.get("/v1/analytics/pie?from=2026-11-01&to=2026-11-25", &token("treasury")).await.error(404);
    assert_eq!(code, "no_such_chart");
    assert_eq!(app.journal_counts().await, before, "a refused request changes nothing");
    app.stop().await;
}
