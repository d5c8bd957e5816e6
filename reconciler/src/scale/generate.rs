//! Generated days of a city: a journal in the gateway's own SQLite schema and the settlement
//! files the acquirers would send for it, written as they are generated (one batch of rows and
//! one line at a time), so that ten million payments need no more memory than ten.
//!
//! Every payment is a completed sale of one fee item the facility sells (one to three of it), by
//! the brand mix of BRIEF.md (FY2021: [`CASHLESS_PER_MILLION`] of payments cashless; of the
//! cashless, VISA 29 %, JCB 17 %, PayPay 11 %, nanaco 11 %, Mastercard 7 %, the rest shared
//! evenly), taken between [`OPENING_SECONDS`] and [`CLOSING_SECONDS`] JST at the facility's
//! registers in turn. Each register has one shift a day, closed with exactly the cash it took.
//! Each cashless payment gets its settlement line on its own business date, with the contracted
//! fee and a payout date `settlement_lag_days` bank business days later, so a generated range
//! reconciles with no exception. Refunds, voids and discrepancies are left to the golden and
//! property tests, which plant them one at a time.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Utc};
use pos_config::{Config, Facility, Price};
use pos_core::{Brand, FacilityId, Method, RegisterId, TerminalId, Yen, JST_OFFSET_SECONDS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};

use crate::calendar::{BankCalendar, CalendarError};
use crate::inputs::card::CARD_COLUMNS;
use crate::inputs::emoney::EMONEY_COLUMNS;
use crate::inputs::qr::QR_COLUMNS;
use crate::pipeline::InputFiles;

/// Payments per million that are cashless: 35,746 of 465,305 in FY2021 (BRIEF.md).
pub const CASHLESS_PER_MILLION: u64 = 76_822;
/// Payments in a year of the whole city (FY2021, BRIEF.md).
pub const CITY_PAYMENTS_PER_YEAR: u64 = 465_305;

/// Cashless brands and their weights (thousandths of the cashless payments), from BRIEF.md's
/// shares by amount, taken as shares by count: the average ticket hardly differs by brand.
const BRAND_WEIGHTS: [(Brand, u32); 19] = [
    (Brand::Visa, 290),
    (Brand::Jcb, 170),
    (Brand::PayPay, 110),
    (Brand::Nanaco, 110),
    (Brand::Mastercard, 70),
    (Brand::Amex, 18),
    (Brand::UnionPay, 18),
    (Brand::TransitIc, 18),
    (Brand::Id, 18),
    (Brand::QuicPay, 18),
    (Brand::Waon, 18),
    (Brand::Edy, 16),
    (Brand::LinePay, 16),
    (Brand::DBarai, 16),
    (Brand::AuPay, 16),
    (Brand::MerPay, 16),
    (Brand::YuchoPay, 16),
    (Brand::Alipay, 16),
    (Brand::WeChatPay, 16),
];

/// First and last second of the counters' day, JST (08:30 to 17:15).
pub const OPENING_SECONDS: u32 = 8 * 3600 + 30 * 60;
pub const CLOSING_SECONDS: u32 = 17 * 3600 + 15 * 60;
/// Each shift's opening float.
pub const OPENING_FLOAT_YEN: i64 = 30_000;
/// Rows per INSERT statement.
pub const INSERT_BATCH_ROWS: usize = 200;
/// Starts the QR provider's files, which are UTF-8 with a byte order mark (PROTOCOLS.md §4.2).
const UTF8_BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";
/// The QR provider's merchant id for the city (加盟店ID).
const QR_MERCHANT_CODE: &str = "CITY0001";

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("generated journal {what}: {source}")]
    Database {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("running the gateway's migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error("the scenario is not valid: {0}")]
    Scenario(String),
}

fn database(what: &'static str) -> impl Fn(sqlx::Error) -> GenerateError {
    move |source| GenerateError::Database { what, source }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub config: Config,
    pub first_day: NaiveDate,
    pub days: u32,
    /// Payments of one day across all facilities, shared evenly.
    pub payments_per_day: u64,
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct Generated {
    pub journal_path: PathBuf,
    pub files: InputFiles,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub payments: u64,
    pub cashless: u64,
    pub settlement_bytes: u64,
}

impl Generated {
    pub fn journal_url(&self) -> String {
        format!("sqlite://{}", self.journal_path.display())
    }
}

/// The example city's configuration with `count` facilities: the city's own, repeated with new
/// ids, merchant ids, registers and terminals, as a prefecture-wide service would have them.
pub fn with_facilities(base: &Config, count: usize) -> Result<Config, GenerateError> {
    let originals = base.facilities.clone();
    if originals.is_empty() || count > 99_999 {
        return Err(GenerateError::Scenario(format!("{count} facilities from {} originals", originals.len())));
    }
    let invalid = |what: String| GenerateError::Scenario(what);
    let mut config = base.clone();
    config.facilities = (0..count)
        .map(|number| {
            let mut facility = originals[number % originals.len()].clone();
            facility.id = FacilityId::parse(&format!("PF{number:05}")).map_err(|error| invalid(error.to_string()))?;
            facility.merchant_id = format!("{:015}", 900_000_000 + number);
            for (position, register) in facility.registers.iter_mut().enumerate() {
                register.id = RegisterId::parse(&format!("PR{number:05}{position:02}"))
                    .map_err(|error| invalid(error.to_string()))?;
                register.terminal = Some(
                    TerminalId::parse(&format!("{number:05}{position:03}"))
                        .map_err(|error| invalid(error.to_string()))?,
                );
            }
            Ok(facility)
        })
        .collect::<Result<_, GenerateError>>()?;
    Ok(config)
}

/// A settlement file being written, with the sums its trailer needs.
struct OpenFile {
    path: PathBuf,
    writer: BufWriter<File>,
    gross: i64,
    fee: i64,
    net: i64,
}

impl OpenFile {
    fn create(path: PathBuf, header: &[u8]) -> Result<OpenFile, GenerateError> {
        let failed = |source| GenerateError::Write { path: path.display().to_string(), source };
        let mut writer = BufWriter::new(File::create(&path).map_err(failed)?);
        writer.write_all(header).map_err(failed)?;
        Ok(OpenFile { path, writer, gross: 0, fee: 0, net: 0 })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), GenerateError> {
        self.writer
            .write_all(bytes)
            .map_err(|source| GenerateError::Write { path: self.path.display().to_string(), source })
    }

    fn finish(mut self) -> Result<PathBuf, GenerateError> {
        self.writer.flush().map_err(|source| GenerateError::Write { path: self.path.display().to_string(), source })?;
        Ok(self.path)
    }
}

/// One day's settlement files, opened when their first line comes.
#[derive(Default)]
struct DayFiles {
    card: Option<OpenFile>,
    qr: BTreeMap<Brand, OpenFile>,
    emoney: Option<OpenFile>,
}

fn crlf_line(fields: &[&str]) -> String {
    let mut text = fields.join(",");
    text.push_str("\r\n");
    text
}

fn shift_jis(text: &str) -> Result<Vec<u8>, GenerateError> {
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    if unmappable {
        return Err(GenerateError::Scenario(format!("{text:?} has no Shift_JIS form")));
    }
    Ok(bytes.into_owned())
}

fn emoney_brand_name(brand: Brand) -> &'static str {
    match brand {
        Brand::TransitIc => "交通系IC",
        Brand::Id => "iD",
        Brand::QuicPay => "QUICPay",
        Brand::Waon => "WAON",
        Brand::Nanaco => "nanaco",
        _ => "楽天Edy",
    }
}

/// Rows waiting for their INSERT.
#[derive(Default)]
struct Batches {
    shifts: Vec<ShiftRow>,
    sales: Vec<PaymentRow>,
    payments: Vec<PaymentRow>,
}

struct ShiftRow {
    id: String,
    facility: String,
    register: String,
    business_date: String,
    opened_at: String,
    closed_at: String,
    cash_sales: i64,
}

#[derive(Clone)]
struct PaymentRow {
    id: String,
    sale_id: String,
    facility: String,
    register: String,
    shift: String,
    method: &'static str,
    brand: &'static str,
    amount: i64,
    unit_price: i64,
    quantity: i64,
    fee_item: String,
    name_ja: String,
    revenue_account: String,
    business_date: String,
    created_at: String,
    terminal: Option<String>,
    masked_card: Option<String>,
    stan: Option<String>,
    rrn: Option<String>,
}

async fn insert_shifts(connection: &mut SqliteConnection, rows: &mut Vec<ShiftRow>) -> Result<(), GenerateError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO shifts (id, facility_id, register_id, state, business_date, opened_at, opened_by, opening_float, \
         closed_at, closed_by, cash_sales, cash_expected, cash_counted, over_short) ",
    );
    query.push_values(rows.drain(..), |mut row, shift| {
        let expected = OPENING_FLOAT_YEN + shift.cash_sales;
        row.push_bind(shift.id)
            .push_bind(shift.facility)
            .push_bind(shift.register)
            .push_bind("closed")
            .push_bind(shift.business_date)
            .push_bind(shift.opened_at)
            .push_bind("scale-generator")
            .push_bind(OPENING_FLOAT_YEN)
            .push_bind(shift.closed_at)
            .push_bind("scale-generator")
            .push_bind(shift.cash_sales)
            .push_bind(expected)
            .push_bind(expected)
            .push_bind(0_i64);
    });
    query.build().execute(&mut *connection).await.map_err(database("shifts"))?;
    Ok(())
}

async fn insert_sales(connection: &mut SqliteConnection, rows: &mut Vec<PaymentRow>) -> Result<(), GenerateError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO sales (id, facility_id, register_id, shift_id, state, business_date, created_at, created_by, \
         amount_total, amount_paid, paid_at) ",
    );
    query.push_values(rows.iter(), |mut row, sale| {
        row.push_bind(&sale.sale_id)
            .push_bind(&sale.facility)
            .push_bind(&sale.register)
            .push_bind(&sale.shift)
            .push_bind("paid")
            .push_bind(&sale.business_date)
            .push_bind(&sale.created_at)
            .push_bind("scale-generator")
            .push_bind(sale.amount)
            .push_bind(sale.amount)
            .push_bind(&sale.created_at);
    });
    query.build().execute(&mut *connection).await.map_err(database("sales"))?;
    let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO sale_lines (sale_id, line_no, fee_item, name_ja, unit_price, quantity, amount, revenue_account) ",
    );
    query.push_values(rows.drain(..), |mut row, sale| {
        row.push_bind(sale.sale_id)
            .push_bind(1_i64)
            .push_bind(sale.fee_item)
            .push_bind(sale.name_ja)
            .push_bind(sale.unit_price)
            .push_bind(sale.quantity)
            .push_bind(sale.amount)
            .push_bind(sale.revenue_account);
    });
    query.build().execute(&mut *connection).await.map_err(database("sale lines"))?;
    Ok(())
}

async fn insert_payments(connection: &mut SqliteConnection, rows: &mut Vec<PaymentRow>) -> Result<(), GenerateError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO payments (id, sale_id, facility_id, register_id, shift_id, method, brand, amount, state, \
         business_date, created_at, updated_at, terminal_id, masked_card, acquirer_stan, rrn) ",
    );
    query.push_values(rows.drain(..), |mut row, payment| {
        row.push_bind(payment.id)
            .push_bind(payment.sale_id)
            .push_bind(payment.facility)
            .push_bind(payment.register)
            .push_bind(payment.shift)
            .push_bind(payment.method)
            .push_bind(payment.brand)
            .push_bind(payment.amount)
            .push_bind("completed")
            .push_bind(payment.business_date)
            .push_bind(payment.created_at.clone())
            .push_bind(payment.created_at)
            .push_bind(payment.terminal)
            .push_bind(payment.masked_card)
            .push_bind(payment.stan)
            .push_bind(payment.rrn);
    });
    query.build().execute(&mut *connection).await.map_err(database("payments"))?;
    Ok(())
}

impl Batches {
    async fn flush(&mut self, connection: &mut SqliteConnection) -> Result<(), GenerateError> {
        insert_shifts(connection, &mut self.shifts).await?;
        insert_sales(connection, &mut self.sales).await?;
        insert_payments(connection, &mut self.payments).await
    }

    async fn flush_if_full(&mut self, connection: &mut SqliteConnection) -> Result<(), GenerateError> {
        if self.payments.len() >= INSERT_BATCH_ROWS || self.shifts.len() >= INSERT_BATCH_ROWS {
            self.flush(connection).await?;
        }
        Ok(())
    }
}

/// The fee items a facility sells at a fixed price: (code, name, unit price, revenue account).
fn priced_items(config: &Config, facility: &Facility) -> Vec<(String, String, i64, String)> {
    facility
        .fee_items
        .iter()
        .filter_map(|code| config.fee_items.get(code))
        .filter_map(|item| match item.price {
            Price::Fixed(price) => {
                Some((item.code.as_str().to_string(), item.name_ja.clone(), price.get(), item.revenue_account.clone()))
            }
            Price::Open { .. } => None,
        })
        .collect()
}

/// A generator's running state across days: the counters that must not repeat.
struct Counters {
    rrn: u64,
    provider_payment: u64,
    /// Per terminal: the next STAN.
    stan: BTreeMap<String, u32>,
}

impl Counters {
    fn next_stan(&mut self, terminal: &str) -> String {
        let next = self.stan.entry(terminal.to_string()).or_insert(0);
        *next = (*next + 1) % 1_000_000;
        format!("{:06}", *next)
    }
}

fn jst() -> FixedOffset {
    FixedOffset::east_opt(JST_OFFSET_SECONDS).unwrap_or_else(|| unreachable!("constant offset"))
}

fn pick_brand(rng: &mut StdRng, accepted: &[(Brand, u32)]) -> Option<Brand> {
    let total: u32 = accepted.iter().map(|(_, weight)| weight).sum();
    if total == 0 {
        return None;
    }
    let mut draw = rng.gen_range(0..total);
    for &(brand, weight) in accepted {
        if draw < weight {
            return Some(brand);
        }
        draw -= weight;
    }
    None
}

/// Generates the scenario into `dir`: `journal.db` and `settlement/`.
pub async fn generate(scenario: &Scenario, dir: &Path) -> Result<Generated, GenerateError> {
    let config = &scenario.config;
    let calendar = BankCalendar::shipped()?;
    let settlement_dir = dir.join("settlement");
    std::fs::create_dir_all(&settlement_dir)
        .map_err(|source| GenerateError::Write { path: settlement_dir.display().to_string(), source })?;
    let journal_path = dir.join("journal.db");
    let options = SqliteConnectOptions::new()
        .filename(&journal_path)
        .create_if_missing(true)
        // A generated journal is thrown away if the run fails, so it need not survive a crash.
        .journal_mode(SqliteJournalMode::Off)
        .synchronous(SqliteSynchronous::Off)
        // A facility-day's shifts are written after its payments, once the cash they took is
        // known; the rows agree by construction.
        .foreign_keys(false);
    let mut connection = SqliteConnection::connect_with(&options).await.map_err(database("open"))?;
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gateway/migrations/sqlite");
    sqlx::migrate::Migrator::new(migrations).await?.run(&mut connection).await?;

    let facilities: Vec<&Facility> = config.facilities.iter().collect();
    if facilities.is_empty() || scenario.days == 0 {
        return Err(GenerateError::Scenario("no facility or no day".to_string()));
    }
    let items: Vec<_> = facilities.iter().map(|facility| priced_items(config, facility)).collect();
    let mut rng = StdRng::seed_from_u64(scenario.seed);
    let mut counters = Counters { rrn: 100_000_000_000, provider_payment: 0, stan: BTreeMap::new() };
    let mut files = InputFiles::default();
    let mut generated_payments = 0;
    let mut cashless = 0;
    let mut settlement_bytes = 0;
    let last_day = scenario
        .first_day
        .checked_add_days(Days::new(u64::from(scenario.days) - 1))
        .ok_or_else(|| GenerateError::Scenario("the range ends after the calendar".to_string()))?;
    for day in scenario.first_day.iter_days().take(scenario.days as usize) {
        let mut day_files = DayFiles::default();
        let mut batches = Batches::default();
        sqlx::query("BEGIN").execute(&mut connection).await.map_err(database("begin"))?;
        let per_facility = scenario.payments_per_day / facilities.len() as u64;
        let extra = scenario.payments_per_day % facilities.len() as u64;
        for (index, facility) in facilities.iter().enumerate() {
            let count = per_facility + u64::from((index as u64) < extra);
            let day_payments = FacilityDay { config, calendar: &calendar, facility, items: &items[index], day, count };
            let (payments, facility_cashless) = day_payments
                .generate(&mut rng, &mut counters, &mut batches, &mut day_files, &settlement_dir, &mut connection)
                .await?;
            generated_payments += payments;
            cashless += facility_cashless;
        }
        batches.flush(&mut connection).await?;
        sqlx::query("COMMIT").execute(&mut connection).await.map_err(database("commit"))?;
        settlement_bytes += close_day_files(day_files, day, &mut files)?;
    }
    // The indexes the reconciler's reads need come with the gateway's migrations (the journal
    // contract, `reconciler::contract`); the planner is told what the tables now hold.
    sqlx::query("ANALYZE").execute(&mut connection).await.map_err(database("analyze"))?;
    connection.close().await.map_err(database("close"))?;
    Ok(Generated {
        journal_path,
        files,
        first_day: scenario.first_day,
        last_day,
        payments: generated_payments,
        cashless,
        settlement_bytes,
    })
}

/// Writes the card file's trailer and closes the day's files; returns their bytes.
fn close_day_files(day_files: DayFiles, day: NaiveDate, files: &mut InputFiles) -> Result<u64, GenerateError> {
    let mut bytes = 0;
    let mut measure = |path: &Path| -> Result<(), GenerateError> {
        let metadata = std::fs::metadata(path)
            .map_err(|source| GenerateError::Write { path: path.display().to_string(), source })?;
        bytes += metadata.len();
        Ok(())
    };
    if let Some(mut card) = day_files.card {
        let date = day.format("%Y-%m-%d").to_string();
        let payout_id = format!("P{}", day.format("%Y%m%d"));
        let (gross, fee, net) = (card.gross.to_string(), card.fee.to_string(), card.net.to_string());
        let mut fields = vec![""; CARD_COLUMNS.len()];
        fields[0] = "TOTAL";
        fields[1] = &date;
        fields[2] = &payout_id;
        fields[12] = &gross;
        fields[13] = &fee;
        fields[14] = &net;
        card.write(crlf_line(&fields).as_bytes())?;
        let path = card.finish()?;
        measure(&path)?;
        files.card.push(path);
    }
    for (brand, file) in day_files.qr {
        let path = file.finish()?;
        measure(&path)?;
        files.qr.push((brand, path));
    }
    if let Some(emoney) = day_files.emoney {
        let path = emoney.finish()?;
        measure(&path)?;
        files.emoney.push(path);
    }
    Ok(bytes)
}

/// One facility's payments of one day.
struct FacilityDay<'a> {
    config: &'a Config,
    calendar: &'a BankCalendar,
    facility: &'a Facility,
    items: &'a [(String, String, i64, String)],
    day: NaiveDate,
    count: u64,
}

impl FacilityDay<'_> {
    #[allow(clippy::too_many_arguments)]
    async fn generate(
        &self,
        rng: &mut StdRng,
        counters: &mut Counters,
        batches: &mut Batches,
        day_files: &mut DayFiles,
        settlement_dir: &Path,
        connection: &mut SqliteConnection,
    ) -> Result<(u64, u64), GenerateError> {
        let facility = self.facility;
        if facility.registers.is_empty() || self.count == 0 {
            return Ok((0, 0));
        }
        let accepted: Vec<(Brand, u32)> =
            BRAND_WEIGHTS.iter().copied().filter(|(brand, _)| facility.accepts(*brand)).collect();
        let date_text = self.day.to_string();
        let compact = self.day.format("%Y%m%d").to_string();
        let midnight = jst()
            .from_local_datetime(&self.day.and_time(NaiveTime::MIN))
            .single()
            .ok_or_else(|| GenerateError::Scenario(format!("{} has no midnight in JST", self.day)))?;
        let span = u64::from(CLOSING_SECONDS - OPENING_SECONDS);
        let mut cash_by_register = vec![0_i64; facility.registers.len()];
        let mut cashless = 0;
        for number in 0..self.count {
            let position = (number % facility.registers.len() as u64) as usize;
            let register = &facility.registers[position];
            // Evenly spread over the day, so that times rise with the number.
            let offset = u64::from(OPENING_SECONDS) + number * span / self.count;
            let time = midnight + chrono::Duration::seconds(offset as i64);
            let (fee_item, name_ja, unit_price, revenue_account) = match self.items {
                [] => ("JUMINHYO".to_string(), "住民票の写し".to_string(), 300, "14-01-02-01".to_string()),
                items => items[rng.gen_range(0..items.len())].clone(),
            };
            let quantity = if rng.gen_range(0..10) == 0 { rng.gen_range(2..=3) } else { 1 };
            let amount = unit_price * quantity;
            let brand = if rng.gen_range(0..1_000_000) < CASHLESS_PER_MILLION {
                pick_brand(rng, &accepted).filter(|brand| brand.method() == Method::Qr || register.terminal.is_some())
            } else {
                None
            };
            let id = format!("{}-{compact}-{number:06}", facility.id);
            let shift = format!("SH-{}-{compact}", register.id);
            let mut row = PaymentRow {
                id: format!("PAY-{id}"),
                sale_id: format!("SALE-{id}"),
                facility: facility.id.as_str().to_string(),
                register: register.id.as_str().to_string(),
                shift,
                method: Method::Cash.code(),
                brand: Brand::Cash.code(),
                amount,
                unit_price,
                quantity,
                fee_item,
                name_ja,
                revenue_account,
                business_date: date_text.clone(),
                created_at: time.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Millis, true),
                terminal: None,
                masked_card: None,
                stan: None,
                rrn: None,
            };
            match brand {
                None => cash_by_register[position] += amount,
                Some(brand) => {
                    cashless += 1;
                    row.method = brand.method().code();
                    row.brand = brand.code();
                    self.settle(
                        brand,
                        &mut row,
                        register.terminal.as_ref(),
                        time,
                        counters,
                        day_files,
                        settlement_dir,
                    )?;
                }
            }
            batches.sales.push(row.clone());
            batches.payments.push(row);
            batches.flush_if_full(connection).await?;
        }
        for (position, register) in facility.registers.iter().enumerate() {
            let at = |seconds: u32| {
                (midnight + chrono::Duration::seconds(i64::from(seconds)))
                    .with_timezone(&Utc)
                    .to_rfc3339_opts(SecondsFormat::Millis, true)
            };
            batches.shifts.push(ShiftRow {
                id: format!("SH-{}-{compact}", register.id),
                facility: facility.id.as_str().to_string(),
                register: register.id.as_str().to_string(),
                business_date: date_text.clone(),
                opened_at: at(OPENING_SECONDS - 600),
                closed_at: at(CLOSING_SECONDS + 600),
                cash_sales: cash_by_register[position],
            });
        }
        // Shifts go in before the day's remaining payments that refer to them.
        batches.flush(connection).await?;
        Ok((self.count, cashless))
    }

    /// Fills the payment's acquirer keys and writes its settlement line.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &self,
        brand: Brand,
        row: &mut PaymentRow,
        terminal: Option<&TerminalId>,
        time: DateTime<FixedOffset>,
        counters: &mut Counters,
        day_files: &mut DayFiles,
        settlement_dir: &Path,
    ) -> Result<(), GenerateError> {
        let (acquirer, fee_rate) =
            self.config.fee_rate(brand).ok_or_else(|| GenerateError::Scenario(format!("no acquirer takes {brand}")))?;
        let gross = Yen::new(row.amount).map_err(|error| GenerateError::Scenario(error.to_string()))?;
        let fee =
            fee_rate.rate.fee(gross, fee_rate.rounding).map_err(|error| GenerateError::Scenario(error.to_string()))?;
        let (gross, fee) = (gross.get(), fee.get());
        let net = gross - fee;
        let payout_date = self.calendar.due_on(self.day, acquirer.settlement_lag_days)?;
        let compact = self.day.format("%Y%m%d").to_string();
        let terminal_text = terminal.map(|terminal| terminal.as_str().to_string()).unwrap_or_default();
        match brand.method() {
            Method::Card => {
                counters.rrn += 1;
                let stan = counters.next_stan(&terminal_text);
                let rrn = format!("{:012}", counters.rrn);
                let auth_code = format!("A{:05}", counters.rrn % 100_000);
                let file = match &mut day_files.card {
                    Some(file) => file,
                    None => day_files.card.insert(OpenFile::create(
                        settlement_dir.join(format!("card-settlement-{compact}.csv")),
                        crlf_line(&CARD_COLUMNS).as_bytes(),
                    )?),
                };
                let line = crlf_line(&[
                    "SALE",
                    &self.day.to_string(),
                    &format!("P{compact}"),
                    &payout_date.to_string(),
                    &self.facility.merchant_id,
                    &terminal_text,
                    &time.format("%Y-%m-%dT%H:%M:%S+09:00").to_string(),
                    &stan,
                    &rrn,
                    &auth_code,
                    brand.code(),
                    "411111******1111",
                    &gross.to_string(),
                    &fee.to_string(),
                    &net.to_string(),
                    "",
                ]);
                file.write(line.as_bytes())?;
                (file.gross, file.fee, file.net) = (file.gross + gross, file.fee + fee, file.net + net);
                row.terminal = Some(terminal_text);
                row.masked_card = Some("411111******1111".to_string());
                row.stan = Some(stan);
                row.rrn = Some(rrn);
            }
            Method::Emoney => {
                let stan = counters.next_stan(&terminal_text);
                let file = match &mut day_files.emoney {
                    Some(file) => file,
                    None => day_files.emoney.insert(OpenFile::create(
                        settlement_dir.join(format!("emoney-settlement-{compact}.csv")),
                        &shift_jis(&crlf_line(&EMONEY_COLUMNS))?,
                    )?),
                };
                let line = crlf_line(&[
                    &compact,
                    &time.format("%H%M%S").to_string(),
                    &self.facility.merchant_id,
                    &terminal_text,
                    emoney_brand_name(brand),
                    "売上",
                    &stan,
                    "JE80****5678",
                    &gross.to_string(),
                    &fee.to_string(),
                    &payout_date.format("%Y%m%d").to_string(),
                ]);
                file.write(&shift_jis(&line)?)?;
                row.terminal = Some(terminal_text);
                row.masked_card = Some("JE80****5678".to_string());
                row.stan = Some(stan);
            }
            Method::Qr => {
                counters.provider_payment += 1;
                let file = match day_files.qr.get_mut(&brand) {
                    Some(file) => file,
                    None => {
                        let mut header = UTF8_BYTE_ORDER_MARK.to_vec();
                        header.extend_from_slice(crlf_line(&QR_COLUMNS).as_bytes());
                        let name = format!("qr-settlement-{}-{compact}.csv", brand.code().to_lowercase());
                        day_files.qr.entry(brand).or_insert(OpenFile::create(settlement_dir.join(name), &header)?)
                    }
                };
                let line = crlf_line(&[
                    &time.format("%Y/%m/%d %H:%M:%S").to_string(),
                    QR_MERCHANT_CODE,
                    self.facility.id.as_str(),
                    &row.register,
                    "支払い",
                    &format!("{:020}", counters.provider_payment),
                    &row.id,
                    &gross.to_string(),
                    &fee.to_string(),
                    &net.to_string(),
                    &payout_date.format("%Y/%m/%d").to_string(),
                    &format!("D{}-{}", payout_date.format("%Y%m%d"), brand.code()),
                ]);
                file.write(line.as_bytes())?;
            }
            Method::Cash => {}
        }
        Ok(())
    }
}
