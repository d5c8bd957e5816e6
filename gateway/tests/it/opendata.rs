//! Issue 20 end to end on a real journal: the open data (published files valid against their
//! own table schemas, small cells withheld, the public page only when turned on and leading
//! nowhere else, the `gateway opendata` command), the analysts' export (Parquet read back equal
//! to the CSV, operators held to their facilities) and the monthly report (its figures the
//! analytics API's for the same filter).
//!
//! The journal is filled with SQL (shifts, sales, lines, payments as the payments module writes
//! them), so a month of a few hundred payments in several states is set up in milliseconds.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use pos_config::{Backend, Config};
use pos_core::FeeItemCode;
use serde_json::Value as Json;

use crate::support::{spawn_app_with, token, TestApp};

on_both_backends!(
    a_published_month_validates_against_its_schemas_and_withholds_small_cells,
    the_tidy_export_reads_back_from_parquet_as_the_csv_and_keeps_operators_to_their_facilities,
    the_monthly_report_says_what_the_analytics_api_says,
);

const MONTH: &str = "2026-10";
const FROM: &str = "2026-10-01";
const TO: &str = "2026-10-31";

/// A journal filled by SQL.
struct Seed<'a> {
    pool: &'a sqlx::AnyPool,
    config: &'a Config,
    next: u32,
    shifts: BTreeMap<(String, String), String>,
}

/// A payment to seed: brand code (`CASH` for cash), amount, state.
type Pay<'a> = (&'a str, i64, &'a str);

fn utc_text(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Seed<'_> {
    /// A sale at `register`, made at `at` (Tokyo time, `YYYY-MM-DDTHH:MM`), of `lines` (fee
    /// item, amount), paid in order by `payments`.
    async fn sale(&mut self, register: &str, at: &str, lines: &[(&str, i64)], payments: &[Pay<'_>]) {
        let (facility, _) = self
            .config
            .register(&pos_core::RegisterId::parse(register).expect("register"))
            .expect("register configured");
        let facility = facility.id.to_string();
        let local = DateTime::parse_from_rfc3339(&format!("{at}:00+09:00")).expect("time");
        let instant = local.with_timezone(&Utc);
        let date = local.date_naive().to_string();
        let created = utc_text(instant);
        let shift_key = (register.to_string(), date.clone());
        if !self.shifts.contains_key(&shift_key) {
            let id = format!("seed-shift-{}", self.shifts.len());
            sqlx::query(
                "INSERT INTO shifts (id, facility_id, register_id, state, business_date, opened_at, opened_by, opening_float) \
                 VALUES ($1, $2, $3, 'closed', $4, $5, 'seed', 0)",
            )
            .bind(id.clone())
            .bind(facility.clone())
            .bind(register.to_string())
            .bind(date.clone())
            .bind(created.clone())
            .execute(self.pool)
            .await
            .expect("shift");
            self.shifts.insert(shift_key.clone(), id);
        }
        let shift = self.shifts[&shift_key].clone();
        self.next += 1;
        let sale = format!("seed-sale-{}", self.next);
        let total: i64 = lines.iter().map(|(_, amount)| amount).sum();
        sqlx::query(
            "INSERT INTO sales (id, facility_id, register_id, shift_id, state, business_date, created_at, created_by, \
             amount_total, amount_paid, paid_at) VALUES ($1, $2, $3, $4, 'paid', $5, $6, 'seed', $7, $8, $9)",
        )
        .bind(sale.clone())
        .bind(facility.clone())
        .bind(register.to_string())
        .bind(shift.clone())
        .bind(date.clone())
        .bind(created.clone())
        .bind(total)
        .bind(total)
        .bind(created.clone())
        .execute(self.pool)
        .await
        .expect("sale");
        for (index, (item, amount)) in lines.iter().enumerate() {
            let fee_item = self.config.fee_item(&FeeItemCode::parse(item).expect("code")).expect("fee item configured");
            sqlx::query(
                "INSERT INTO sale_lines (sale_id, line_no, fee_item, name_ja, unit_price, quantity, amount, revenue_account) \
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $7)",
            )
            .bind(sale.clone())
            .bind(i64::try_from(index + 1).expect("line"))
            .bind(item.to_string())
            .bind(fee_item.name_ja.clone())
            .bind(*amount)
            .bind(*amount)
            .bind(fee_item.revenue_account.clone())
            .execute(self.pool)
            .await
            .expect("line");
        }
        for (index, (brand, amount, state)) in payments.iter().enumerate() {
            let brand: pos_core::Brand = brand.parse().expect("brand");
            let made = utc_text(instant + chrono::Duration::seconds(i64::try_from(index).expect("i")));
            sqlx::query(
                "INSERT INTO payments (id, sale_id, facility_id, register_id, shift_id, method, brand, amount, state, \
                 business_date, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(format!("{sale}-pay-{index}"))
            .bind(sale.clone())
            .bind(facility.clone())
            .bind(register.to_string())
            .bind(shift.clone())
            .bind(brand.method().code().to_string())
            .bind((brand != pos_core::Brand::Cash).then(|| brand.code().to_string()))
            .bind(*amount)
            .bind(state.to_string())
            .bind(date.clone())
            .bind(made.clone())
            .bind(made)
            .execute(self.pool)
            .await
            .expect("payment");
        }
    }

    /// `count` sales of one item, each paid whole by one payment of `brand`.
    async fn sales(&mut self, register: &str, at: &str, count: usize, item: (&str, i64), brand: &str) {
        for index in 0..count {
            // A minute apart, from `at`.
            let (day, time) = at.split_once('T').expect("at");
            let (hour, minute) = time.split_once(':').expect("time");
            let minute: usize = minute.parse::<usize>().expect("minute") + index;
            let at = format!("{day}T{hour}:{:02}", minute % 60);
            self.sale(register, &at, &[item], &[(brand, item.1, "completed")]).await;
        }
    }
}

/// The programme's months: October 2026 (the report's), the September before it, October 2025,
/// and a payment of November 2026 outside them all.
async fn seed(app: &TestApp) {
    let config = app.app.config.clone();
    let mut seed = Seed { pool: app.app.journal.pool(), config: &config, next: 0, shifts: BTreeMap::new() };
    for day in 1..=6 {
        seed.sales("R0101", &format!("2026-10-{day:02}T09:00"), 5, ("JUMINHYO", 300), "CASH").await;
        seed.sales("R0101", &format!("2026-10-{day:02}T14:10"), 2, ("KOSEKI-ZENBU", 450), "VISA").await;
    }
    seed.sales("R0101", "2026-10-02T11:00", 3, ("JUMINHYO", 300), "PAYPAY").await;
    seed.sale("R0101", "2026-10-07T10:00", &[("JUMINHYO", 300)], &[("CASH", 300, "voided")]).await;
    seed.sale("R0101", "2026-10-08T10:00", &[("KOSEKI-ZENBU", 450)], &[("VISA", 450, "refunded")]).await;
    for day in 1..=10 {
        seed.sales("R2101", &format!("2026-10-{day:02}T18:00"), 2, ("GYM-IPPAN", 300), "CASH").await;
    }
    seed.sales("R2101", "2026-10-03T19:00", 2, ("GYM-ARENA-HALF", 1200), "JCB").await;
    seed.sale(
        "R2101",
        "2026-10-04T19:30",
        &[("GYM-IPPAN", 300), ("GYM-ARENA-HALF", 1200)],
        &[("CASH", 500, "completed"), ("VISA", 1000, "completed")],
    )
    .await;
    seed.sale("R2601", "2026-10-05T13:00", &[("HALL-USE", 50_000)], &[("VISA", 50_000, "completed")]).await;
    seed.sale("R2601", "2026-10-06T13:00", &[("HALL-USE", 80_000)], &[("CASH", 80_000, "completed")]).await;
    for day in 1..=5 {
        seed.sales("R0301", &format!("2026-10-{day:02}T10:00"), 1, ("JUMINHYO", 300), "CASH").await;
    }
    for day in 1..=10 {
        seed.sales("R0101", &format!("2026-09-{day:02}T09:00"), 2, ("JUMINHYO", 300), "CASH").await;
    }
    seed.sales("R0101", "2026-09-03T15:00", 5, ("KOSEKI-ZENBU", 450), "VISA").await;
    seed.sales("R2101", "2026-09-02T18:00", 10, ("GYM-IPPAN", 300), "CASH").await;
    seed.sales("R0101", "2025-10-15T09:00", 10, ("JUMINHYO", 300), "CASH").await;
    seed.sales("R0101", "2025-10-15T15:00", 1, ("KOSEKI-ZENBU", 450), "VISA").await;
    seed.sales("R0101", "2026-11-01T09:00", 1, ("KOSEKI-ZENBU", 450), "VISA").await;
}

async fn app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(backend, std::sync::Arc::new(pos_core::SystemClock), adjust).await
}

async fn json(app: &TestApp, path: &str, user: &str) -> Json {
    app.get(path, &token(user)).await.ok()
}

async fn bytes(app: &TestApp, path: &str, user: Option<&str>) -> (u16, Vec<u8>) {
    let mut request = app.http.get(format!("{}{path}", app.base));
    if let Some(user) = user {
        request = request.bearer_auth(token(user));
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

// ---------------------------------------------------------------------------------------------
// Reading CSV and checking it against a Frictionless table schema, written here from the
// schema's own terms (not from the code that wrote the files).
// ---------------------------------------------------------------------------------------------

fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(cell.is_empty() && row.is_empty(), "the file ends with a line end");
    rows
}

/// Every violation of `schema` by the CSV `bytes`, as text.
fn violations(schema: &Json, bytes: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        found.push("starts with a byte-order mark".to_string());
    }
    let Ok(text) = std::str::from_utf8(bytes) else { return vec!["not UTF-8".to_string()] };
    if text.replace("\r\n", "").contains('\n') {
        found.push("a line ends without CR".to_string());
    }
    let rows = parse_csv(text);
    let fields = schema["fields"].as_array().expect("fields");
    let names: Vec<&str> = fields.iter().map(|field| field["name"].as_str().expect("name")).collect();
    if rows.first().map(|header| header.iter().map(String::as_str).collect::<Vec<_>>()) != Some(names.clone()) {
        found.push(format!("header {:?} is not the schema's fields {names:?}", rows.first()));
    }
    let missing: Vec<&str> =
        schema["missingValues"].as_array().into_iter().flatten().filter_map(Json::as_str).collect();
    let mut keys = std::collections::BTreeSet::new();
    for (line, row) in rows.iter().enumerate().skip(1) {
        if row.len() != fields.len() {
            found.push(format!("line {}: {} cells for {} fields", line + 1, row.len(), fields.len()));
            continue;
        }
        for (field, value) in fields.iter().zip(row) {
            let name = field["name"].as_str().unwrap_or_default();
            let at = format!("line {} {name} {value:?}", line + 1);
            let constraints = &field["constraints"];
            if missing.contains(&value.as_str()) {
                if constraints["required"].as_bool() == Some(true) {
                    found.push(format!("{at}: required"));
                }
                continue;
            }
            match field["type"].as_str() {
                Some("integer") => match value.parse::<i64>() {
                    Ok(number) if constraints["minimum"].as_i64().is_some_and(|minimum| number < minimum) => {
                        found.push(format!("{at}: below the minimum"))
                    }
                    Ok(_) => {}
                    Err(_) => found.push(format!("{at}: not an integer")),
                },
                Some("yearmonth") => {
                    let valid =
                        value.len() == 7 && NaiveDate::parse_from_str(&format!("{value}-01"), "%Y-%m-%d").is_ok();
                    if !valid {
                        found.push(format!("{at}: not a yearmonth"));
                    }
                }
                Some("boolean") => {
                    let allowed: Vec<&str> = ["trueValues", "falseValues"]
                        .iter()
                        .flat_map(|key| field[*key].as_array().into_iter().flatten().filter_map(Json::as_str))
                        .collect();
                    if !allowed.contains(&value.as_str()) {
                        found.push(format!("{at}: not one of {allowed:?}"));
                    }
                }
                Some("string") => {}
                other => found.push(format!("{name}: unknown type {other:?}")),
            }
            if let Some(values) = constraints["enum"].as_array() {
                if !values.iter().any(|allowed| allowed.as_str() == Some(value)) {
                    found.push(format!("{at}: not in the enum"));
                }
            }
        }
        let key: Vec<String> = schema["primaryKey"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|name| names.iter().position(|n| Some(*n) == name.as_str()))
            .map(|index| row[index].clone())
            .collect();
        if !keys.insert(key.clone()) {
            found.push(format!("line {}: primary key {key:?} repeated", line + 1));
        }
    }
    found
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Checks a published month's folder: every file the package lists is there with its size and
/// hash, every CSV is valid against its schema, and the JSON says what the CSV says.
fn check_month_folder(dir: &Path) -> BTreeMap<String, Vec<Vec<String>>> {
    let package: Json =
        serde_json::from_slice(&std::fs::read(dir.join("datapackage.json")).expect("package")).expect("json");
    assert_eq!(package["licenses"][0]["name"], "CC-BY-4.0");
    assert_eq!(package["licenses"][0]["path"], "https://creativecommons.org/licenses/by/4.0/");
    let mut tables = BTreeMap::new();
    for resource in package["resources"].as_array().expect("resources") {
        let path = resource["path"].as_str().expect("path");
        let bytes = std::fs::read(dir.join(path)).expect("resource file");
        assert_eq!(resource["bytes"].as_u64(), Some(bytes.len() as u64), "{path}");
        assert_eq!(resource["hash"].as_str(), Some(format!("sha256:{}", sha256(&bytes)).as_str()), "{path}");
        assert_eq!(resource["licenses"][0]["name"], "CC-BY-4.0", "{path}");
        if resource["format"] != "csv" {
            continue;
        }
        let schema: Json = serde_json::from_slice(
            &std::fs::read(dir.join(resource["schema"].as_str().expect("schema"))).expect("schema file"),
        )
        .expect("schema json");
        let problems = violations(&schema, &bytes);
        assert!(problems.is_empty(), "{path} does not match its schema: {problems:#?}");
        let rows = parse_csv(std::str::from_utf8(&bytes).expect("utf-8"));
        let json: Json =
            serde_json::from_slice(&std::fs::read(dir.join(path.replace(".csv", ".json"))).expect("json file"))
                .expect("json");
        let json_rows: Vec<Vec<String>> = json["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|row| {
                rows[0]
                    .iter()
                    .map(|name| match &row[name] {
                        Json::Null => String::new(),
                        Json::String(text) => text.clone(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect();
        assert_eq!(json_rows, rows[1..].to_vec(), "{path}: the JSON and the CSV agree");
        tables.insert(path.trim_end_matches(".csv").to_string(), rows);
    }
    tables
}

fn open_data_in(dir: &Path) -> impl FnOnce(&mut Config) + '_ {
    move |config: &mut Config| {
        if let Some(open) = config.open_data.as_mut() {
            open.dir = dir.to_path_buf();
            open.public_page = true;
        }
    }
}

fn instant(text: &str) -> DateTime<Utc> {
    Utc.from_utc_datetime(&chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").expect("instant"))
}

fn cell<'a>(table: &'a [Vec<String>], key: &[(&str, &str)], column: &str) -> &'a str {
    let header = &table[0];
    let index = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    let row = table[1..]
        .iter()
        .find(|row| key.iter().all(|(name, value)| row[index(name)] == *value))
        .unwrap_or_else(|| panic!("no row {key:?}"));
    &row[index(column)]
}

async fn a_published_month_validates_against_its_schemas_and_withholds_small_cells(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = app_with(backend, open_data_in(dir.path())).await;
    seed(&app).await;
    let config = app.app.config.clone();
    let month = MONTH.parse().expect("month");
    let publication =
        gateway::opendata::publish::publish(&app.app.journal, &config, month, instant("2026-11-10T00:00"), false)
            .await
            .expect("publishes");
    assert_eq!(publication.files.len(), 10, "three tables × CSV, JSON, schema, and the package");
    let tables = check_month_folder(&dir.path().join(MONTH));

    let by_facility = &tables["payments_by_facility_method"];
    // F03 took 5 cash payments: fewer than 10, withheld, and so is what would give it away.
    assert_eq!(cell(by_facility, &[("facility_id", "F03"), ("method", "cash")], "suppressed"), "true");
    assert_eq!(cell(by_facility, &[("facility_id", "F03"), ("method", "cash")], "count"), "");
    let withheld = by_facility[1..]
        .iter()
        .filter(|row| row.last().is_some() && row.contains(&"true".to_string()) && row[6].is_empty())
        .count();
    assert!(withheld >= 2, "a withheld cell has company");
    // F01's 30 cash payments are published, and the city's total is the analytics' total.
    assert_eq!(cell(by_facility, &[("facility_id", "F01"), ("method", "cash")], "count"), "30");
    let analytics = json(&app, &format!("/v1/analytics/by-method?from={FROM}&to={TO}"), "treasury").await;
    assert_eq!(
        cell(by_facility, &[("facility_id", "all"), ("method", "all")], "amount"),
        analytics["totals"]["amount"].to_string()
    );
    assert_eq!(
        cell(by_facility, &[("facility_id", "all"), ("method", "all")], "count"),
        analytics["totals"]["count"].to_string()
    );
    // The categories' amounts add up to the city's total where they are all published.
    let by_category = &tables["payments_by_fee_item_category"];
    assert_eq!(cell(by_category, &[("category", "all")], "amount"), analytics["totals"]["amount"].to_string());
    // Nothing in any file names a sale or a payment.
    for entry in std::fs::read_dir(dir.path().join(MONTH)).expect("folder") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("text");
        assert!(!text.contains("seed-sale") && !text.contains("seed-shift"), "a file carries an id");
    }

    // A month is published once unless replaced; the history keeps both publications.
    let again =
        gateway::opendata::publish::publish(&app.app.journal, &config, month, instant("2026-11-11T00:00"), false).await;
    assert!(matches!(again, Err(gateway::opendata::OpenDataError::AlreadyPublished { .. })), "{again:?}");
    gateway::opendata::publish::publish(&app.app.journal, &config, month, instant("2026-11-11T00:00"), true)
        .await
        .expect("replaces");
    let history =
        gateway::opendata::publish::read_history(config.open_data.as_ref().expect("open")).await.expect("history");
    assert_eq!(history.publications.iter().map(|p| p.replaced).collect::<Vec<_>>(), vec![false, true]);
    // A month that is not over is refused; `--due` waits for the publishing day (the 5th).
    let november = "2026-11".parse().expect("month");
    let early =
        gateway::opendata::publish::publish(&app.app.journal, &config, november, instant("2026-11-20T00:00"), false)
            .await;
    assert!(matches!(early, Err(gateway::opendata::OpenDataError::MonthNotOver { .. })), "{early:?}");
    let due = |at| gateway::opendata::publish::due(&config, instant(at)).expect("due");
    assert_eq!(due("2026-12-03T00:00"), None, "before the 5th (Tokyo)");
    assert_eq!(due("2026-12-04T15:00").map(|m| m.to_string()), Some("2026-11".to_string()), "the 5th in Tokyo");
    assert_eq!(due("2026-11-06T00:00"), None, "October is published");
    app.stop().await;
}

async fn the_tidy_export_reads_back_from_parquet_as_the_csv_and_keeps_operators_to_their_facilities(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    seed(&app).await;
    let path = format!("/v1/exports/tidy?from={FROM}&to={TO}");
    let (status, csv) = bytes(&app, &path, Some("treasury")).await;
    assert_eq!(status, 200);
    let csv = std::str::from_utf8(csv.strip_prefix(b"\xEF\xBB\xBF").expect("BOM for Excel")).expect("utf-8");
    let rows = parse_csv(csv);
    assert_eq!(rows[0], gateway::analytics::tidy::COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>());

    let (status, parquet) = bytes(&app, &format!("{path}&format=parquet"), Some("treasury")).await;
    assert_eq!(status, 200);
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), &parquet).expect("write parquet");
    let read_back = read_parquet(file.path());
    assert_eq!(read_back, rows[1..].to_vec(), "the Parquet file holds exactly the CSV's rows");

    let column = |name: &str| rows[0].iter().position(|c| c == name).expect("column");
    let total = |rows: &[Vec<String>], name: &str| -> i64 {
        rows.iter().map(|row| row[column(name)].parse::<i64>().unwrap_or(0)).sum()
    };
    let analytics = json(&app, &format!("/v1/analytics/by-method?from={FROM}&to={TO}"), "treasury").await;
    assert_eq!(total(&rows[1..], "amount"), analytics["totals"]["amount"].as_i64().expect("amount"));
    let fees = json(&app, &format!("/v1/analytics/fees-by-brand?from={FROM}&to={TO}"), "treasury").await;
    assert_eq!(total(&rows[1..], "fee"), fees["totals"]["fee"].as_i64().expect("fee"), "fee shares add up to the fees");
    // The split sale: its first line and part of the second on cash, the rest on the card.
    let split: Vec<(String, String, String)> = rows[1..]
        .iter()
        .filter(|row| {
            row[column("date")] == "2026-10-04" && row[column("facility_id")] == "F21" && row[column("hour")] == "19"
        })
        .map(|row| (row[column("fee_item")].clone(), row[column("brand")].clone(), row[column("amount")].clone()))
        .collect();
    let expected =
        [("GYM-ARENA-HALF", "CASH", "200"), ("GYM-ARENA-HALF", "VISA", "1000"), ("GYM-IPPAN", "CASH", "300")];
    assert_eq!(split, expected.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())));
    assert!(rows[1..].iter().all(|row| row[column("date")].starts_with(MONTH)), "the range only");

    // The sports foundation sees its gymnasium's rows, exactly as treasury sees them.
    let (status, own) = bytes(&app, &path, Some("op-sports")).await;
    assert_eq!(status, 200);
    let own = parse_csv(std::str::from_utf8(&own[3..]).expect("utf-8"));
    let gym: Vec<Vec<String>> = rows[1..].iter().filter(|row| row[column("facility_id")] == "F21").cloned().collect();
    assert!(!gym.is_empty());
    assert_eq!(own[1..].to_vec(), gym);
    assert!(own[1..].iter().all(|row| row[column("operator")] == "OP-SPORTS"));
    let (status, _) = bytes(&app, &format!("{path}&facility_id=F01"), Some("op-sports")).await;
    assert_eq!(status, 403, "another's facility is refused");
    let (status, _) = bytes(&app, &path, Some("clerk-r0101")).await;
    assert_eq!(status, 403, "clerks get no export");
    let (code, _, field) = app.get(&format!("{path}&format=xlsx"), &token("treasury")).await.error(422);
    assert_eq!((code.as_str(), field.as_deref()), ("invalid_filter", Some("format")));
    app.stop().await;
}

/// The Parquet rows as the CSV writes them.
fn read_parquet(path: &Path) -> Vec<Vec<String>> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let reader = SerializedFileReader::new(std::fs::File::open(path).expect("open")).expect("a Parquet file");
    let names: Vec<String> =
        reader.metadata().file_metadata().schema_descr().columns().iter().map(|c| c.name().to_string()).collect();
    assert_eq!(names, gateway::analytics::tidy::COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>());
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    reader
        .get_row_iter(None)
        .expect("rows")
        .map(|row| {
            row.expect("row")
                .get_column_iter()
                .map(|(_, field)| match field {
                    Field::Date(days) => (epoch + chrono::Duration::days(i64::from(*days))).to_string(),
                    Field::Int(value) => value.to_string(),
                    Field::Long(value) => value.to_string(),
                    Field::Str(text) => text.clone(),
                    Field::Null => String::new(),
                    other => panic!("unexpected field {other:?}"),
                })
                .collect()
        })
        .collect()
}

fn split_fields(value: &Json) -> Vec<String> {
    ["count_total", "amount_total", "count_cashless", "amount_cashless", "share_count_percent", "share_amount_percent"]
        .iter()
        .map(|key| value[*key].to_string())
        .collect()
}

async fn the_monthly_report_says_what_the_analytics_api_says(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    seed(&app).await;
    let report = json(&app, &format!("/v1/reports/monthly?month={MONTH}"), "treasury").await;

    // City-wide: the month, the month before and the year before are the analytics' monthly
    // cashless share over the thirteen months.
    let trend =
        json(&app, &format!("/v1/analytics/cashless-share?from=2025-10-01&to={TO}&granularity=month"), "treasury")
            .await;
    let period = |month: &str| {
        trend["rows"].as_array().expect("rows").iter().find(|row| row["period"] == month).cloned().expect("period")
    };
    assert_eq!(split_fields(&report["city"]["month"]), split_fields(&period(MONTH)));
    assert_eq!(split_fields(&report["city"]["previous_month"]), split_fields(&period("2026-09")));
    assert_eq!(split_fields(&report["city"]["year_before"]), split_fields(&period("2025-10")));
    assert_eq!(report["trend"].as_array().map(Vec::len), Some(13));
    let share = |value: &Json| value.as_str().expect("share").parse::<rust_decimal::Decimal>().expect("decimal");
    let now = share(&period(MONTH)["share_amount_percent"]);
    assert_eq!(
        share(&report["city"]["month_over_month"]["share_amount_points"]),
        now - share(&period("2026-09")["share_amount_percent"])
    );
    assert_eq!(share(&report["targets"][0]["gap_share_amount_points"]), rust_decimal::Decimal::from(40) - now);
    assert_eq!(report["targets"][1]["percent"], "80");

    // Per facility: the facilities chart of each month.
    for (key, from, to) in [
        ("month", FROM, TO),
        ("previous_month", "2026-09-01", "2026-09-30"),
        ("year_before", "2025-10-01", "2025-10-31"),
    ] {
        let chart = json(&app, &format!("/v1/analytics/facilities?from={from}&to={to}"), "treasury").await;
        let rows = chart["rows"].as_array().expect("rows");
        let facilities = report["facilities"].as_array().expect("facilities");
        assert_eq!(facilities.len(), rows.len());
        for (facility, row) in facilities.iter().zip(rows) {
            assert_eq!(facility["facility_id"], row["facility_id"]);
            assert_eq!(split_fields(&facility[key]), split_fields(row), "{} {key}", row["facility_id"]);
        }
    }
    // Fees per brand are the fees-by-brand chart; per fee item, amounts are top-fee-items'.
    let fees = json(&app, &format!("/v1/analytics/fees-by-brand?from={FROM}&to={TO}"), "treasury").await;
    assert_eq!(report["fees_by_brand"]["rows"], fees["rows"]);
    assert_eq!(report["fees_by_brand"]["totals"], fees["totals"]);
    let top = json(&app, &format!("/v1/analytics/top-fee-items?from={FROM}&to={TO}&limit=100"), "treasury").await;
    let mut per_item: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    for row in top["rows"].as_array().expect("rows") {
        let entry = per_item.entry(row["fee_item"].as_str().expect("item").to_string()).or_default();
        entry.0 += row["count"].as_u64().expect("count");
        entry.1 += row["amount"].as_i64().expect("amount");
    }
    let reported: BTreeMap<String, (u64, i64)> = report["fees_by_item"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            let key = item["fee_item"].as_str().expect("item").to_string();
            (key, (item["count"].as_u64().expect("count"), item["amount"].as_i64().expect("amount")))
        })
        .collect();
    assert_eq!(reported, per_item);
    let item_fees: i64 =
        report["fees_by_item"].as_array().expect("items").iter().filter_map(|i| i["fee"].as_i64()).sum();
    assert_eq!(item_fees, fees["totals"]["fee"].as_i64().expect("fee"), "fees per item add up to the fees per brand");
    // The hall's 50,000 yen by card costs 1,620 yen in one payment: flagged; certificates not.
    let flagged: Vec<&str> =
        report["high_fee_items"].as_array().expect("flagged").iter().filter_map(Json::as_str).collect();
    assert!(flagged.contains(&"HALL-USE") && !flagged.contains(&"JUMINHYO"), "{flagged:?}");

    // Cash handling: F01 took cashless on 7 days (1–6 and the refunded 8th), F21 on 2, F26 on 1:
    // 10 facility-days × 30 minutes.
    assert_eq!(report["cash_handling"]["facility_days_with_cashless"], 10);
    assert_eq!(report["cash_handling"]["minutes"], 300);
    assert_eq!(report["cash_handling"]["hours"], "5.0");
    assert_eq!(report["cash_handling"]["cash_payments_replaced"], period(MONTH)["count_cashless"]);
    // Lagging: the facilities with payments more than 5 points below the city by amount.
    let lagging: Vec<String> =
        report["lagging"].as_array().expect("lagging").iter().filter_map(|id| id.as_str().map(String::from)).collect();
    for facility in report["facilities"].as_array().expect("facilities") {
        let id = facility["facility_id"].as_str().expect("id").to_string();
        let behind = facility["month"]["share_amount_percent"]
            .as_str()
            .map(|s| now - s.parse::<rust_decimal::Decimal>().expect("d"));
        let lags = facility["month"]["count_total"] != 0 && behind.is_some_and(|b| b > rust_decimal::Decimal::from(5));
        assert_eq!(lagging.contains(&id), lags, "{id}");
    }
    assert!(lagging.contains(&"F03".to_string()), "the service centre took cash only");

    // An operator's report is its facilities' and says what the analytics say for it.
    let own = json(&app, &format!("/v1/reports/monthly?month={MONTH}"), "op-sports").await;
    let ids: Vec<&str> =
        own["facilities"].as_array().expect("f").iter().filter_map(|f| f["facility_id"].as_str()).collect();
    let sports = pos_core::OperatorId::parse("OP-SPORTS").expect("operator");
    let expected: Vec<String> = app.app.config.operator_facilities(&sports).map(|f| f.id.to_string()).collect();
    assert!(expected.contains(&"F21".to_string()));
    assert_eq!(ids, expected);
    assert_eq!(own["scope"]["whole_city"], false);
    assert_eq!(report["scope"]["whole_city"], true);
    let own_trend =
        json(&app, &format!("/v1/analytics/cashless-share?from=2025-10-01&to={TO}&granularity=month"), "op-sports")
            .await;
    let own_month =
        own_trend["rows"].as_array().expect("rows").iter().find(|row| row["period"] == MONTH).cloned().expect("row");
    assert_eq!(split_fields(&own["city"]["month"]), split_fields(&own_month));
    let (status, _) = bytes(&app, &format!("/v1/reports/monthly?month={MONTH}"), Some("clerk-r0101")).await;
    assert_eq!(status, 403);
    let (code, _, field) = app.get("/v1/reports/monthly?month=2026-13", &token("treasury")).await.error(422);
    assert_eq!((code.as_str(), field.as_deref()), ("invalid_filter", Some("month")));

    // The printable page shows the same figures, with the analytics' charts.
    let (status, page) = bytes(&app, &format!("/reports/monthly?month={MONTH}"), Some("treasury")).await;
    assert_eq!(status, 200);
    let page = String::from_utf8(page).expect("utf-8");
    for needle in [
        "data-chart=\"cashless-share\"",
        "data-chart=\"facilities\"",
        "data-chart=\"fees-by-brand\"",
        "@media print",
        "<strong id=\"hours\">5.0 時間</strong>",
    ] {
        assert!(page.contains(needle), "the page lacks {needle}");
    }
    assert!(page.contains(&format!("{} %", period(MONTH)["share_amount_percent"].as_str().expect("share"))));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_page_exists_only_when_turned_on_and_leads_nowhere_else() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Off by default: no route, whoever asks.
    let off = app_with(Backend::Sqlite, |config| {
        if let Some(open) = config.open_data.as_mut() {
            open.dir = dir.path().to_path_buf();
        }
    })
    .await;
    seed(&off).await;
    let config = off.app.config.clone();
    gateway::opendata::publish::publish(
        &off.app.journal,
        &config,
        MONTH.parse().expect("m"),
        instant("2026-11-10T00:00"),
        false,
    )
    .await
    .expect("publishes");
    for path in ["/open-data", "/open-data/2026-10/datapackage.json"] {
        assert_eq!(bytes(&off, path, None).await.0, 404, "{path} exists while the page is off");
        assert_eq!(bytes(&off, path, Some("treasury")).await.0, 404, "{path} exists while the page is off");
    }
    off.stop().await;

    let on = app_with(Backend::Sqlite, open_data_in(dir.path())).await;
    let (status, page) = bytes(&on, "/open-data", None).await;
    assert_eq!(status, 200, "no sign-in needed");
    let page = String::from_utf8(page).expect("utf-8");
    assert!(page.contains("CC BY 4.0") && page.contains("2026-10") && page.contains("公開履歴"));
    assert!(!page.contains("<script") && !page.contains("<form"), "nothing to run or submit");
    let links: Vec<&str> = page.split("href=\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
    assert!(links.len() >= 10, "the tables, their schemas and the package are linked: {links:?}");
    for link in &links {
        if link.starts_with("https://creativecommons.org/") {
            continue;
        }
        assert!(link.starts_with("/open-data/2026-10/"), "the page links to {link}");
        let (status, served) = bytes(&on, link, None).await;
        assert_eq!(status, 200, "{link}");
        let name = link.trim_start_matches("/open-data/2026-10/");
        assert_eq!(served, std::fs::read(dir.path().join(MONTH).join(name)).expect("file"), "{link}");
    }
    for path in [
        "/open-data/2026-10/history.json",
        "/open-data/2026-10/..%2Fhistory.json",
        "/open-data/2026-13/datapackage.json",
        "/open-data/2026-09/datapackage.json",
    ] {
        assert_eq!(bytes(&on, path, None).await.0, 404, "{path} is served");
    }
    // Everything else stays closed to anonymous callers.
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    for path in [
        format!("/v1/analytics/by-method?from={FROM}&to={TO}"),
        format!("/v1/exports/tidy?from={FROM}&to={TO}"),
        format!("/v1/reports/monthly?month={MONTH}"),
        "/v1/payments".to_string(),
        "/v1/facilities".to_string(),
    ] {
        let status = anonymous.get(format!("{}{path}", on.base)).send().await.expect("request").status().as_u16();
        assert_eq!(status, 401, "{path} answered an anonymous caller");
    }
    for path in ["/analytics", "/reports/monthly", "/treasury"] {
        let response = anonymous.get(format!("{}{path}", on.base)).send().await.expect("request");
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert!(response.status().is_redirection() && location.starts_with("/sign-in"), "{path}: {location}");
    }
    on.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_opendata_command_publishes_a_month_and_refuses_to_do_it_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("journal.db");
    let published = dir.path().join("open-data");
    let example = std::fs::read_to_string(crate::support::example_config_path()).expect("example");
    let text = example
        .replace("url = \"sqlite://../../demo-data/journal.db\"", &format!("url = \"sqlite://{}\"", database.display()))
        .replace("dir = \"../../demo-data/open-data\"", &format!("dir = \"{}\"", published.display()));
    let config_path = dir.path().join("city.toml");
    std::fs::write(&config_path, text).expect("config");
    let app = app_with(Backend::Sqlite, |config| {
        config.database.url = format!("sqlite://{}", database.display());
    })
    .await;
    seed(&app).await;
    app.stop().await;

    let run = |extra: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"));
        command.args(["opendata", "--config"]).arg(&config_path).args(extra);
        command.output().expect("gateway runs")
    };
    let first = run(&["--month", MONTH]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("published 2026-10 (10 files)"));
    let tables = check_month_folder(&published.join(MONTH));
    assert_eq!(tables.len(), 3);
    let second = run(&["--month", MONTH]);
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already published"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let bad = run(&["--month", "2026-1"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("YYYY-MM"));
}
