//! Reading one facility's business day ([`DayJournal`]) from the gateway's journal database.
//!
//! Either backend, through sqlx's `Any` driver as the gateway itself does: `sqlite://path` is
//! opened with `mode=ro`, and a PostgreSQL session is set to read-only transactions, so the
//! reconciler can never change the journal. Rows are fetched as a stream and turned into the
//! [`crate::journal`] types one at a time; only one facility-day is held at once, and a day larger
//! than [`JOURNAL_DAY_ROWS_MAX`] rows is refused rather than allowed to fill memory, so a year of a
//! whole city is read day by day in bounded memory.
//!
//! How the journal's tables map onto the model, and what the journal does not record (yet):
//!
//! - A payment's time is its `created_at` (UTC) in JST; its STAN is `acquirer_stan`, the number the
//!   gateway sent to the card acquirer or the e-money centre (which is what their files carry as
//!   `stan` / 取引通番). The QR provider's `merchantPaymentId` is the payment id itself; the journal
//!   has no column of its own for it. A QR payment's `rrn` column holds the provider's own
//!   payment id (決済番号, e.g. `04000000000000000006`), which is not an RRN and is not read.
//! - `masked_card` is a masked PAN for cards and a masked card id (カードID) for e-money.
//! - A cashless payment whose brand was never read (the card was not presented) has no `brand`;
//!   if it was undone it never reached an acquirer and moves no money, so it is left out (and
//!   counted in [`ReadStatistics::unbranded_undone`]); if it is still pending it is kept under the
//!   first brand of its method so that matching lists it as in doubt.
//! - Refunds are read when dated (JST) on the business day, with the payment they refund (which
//!   may be of an earlier day). Only `approved` and `recorded` refunds moved money; an `in_doubt`
//!   refund is left out, so that one the acquirer did settle appears as an unmatched refund.
//! - The journal does not record which shift's drawer paid a cash refund; the reconciler takes the
//!   day's first shift at the payment's register, else the day's first shift, else the payment's.
//! - A payment's receipt number is its sale's (`sales.receipt_fiscal_year`, `receipt_number`),
//!   once the sale was paid; the sale lines read are those of the day's payments and of the
//!   payments refunded that day (a refund is booked to the revenue accounts of the sale it
//!   refunds).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Days, FixedOffset, NaiveTime, SecondsFormat, TimeZone, Utc};
use futures::TryStreamExt;
use pos_core::{Brand, BusinessDate, FacilityId, FeeItemCode, FiscalYear, MaskedPan, Method, PaymentState, RegisterId};
use pos_core::{TerminalId, Yen, JST_OFFSET_SECONDS};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

use crate::bank::ExpectedDeposit;
use crate::contract;
use crate::inputs::identifiers::{MaskedCardId, Rrn, Stan};
use crate::journal::{DayJournal, JournalPayment, JournalRefund, JournalSaleLine, JournalShift};
use crate::journal::{PaymentId, Receipt, RefundChannel, RefundId, SaleId, ShiftId};

/// The most rows of one table read for one facility-day. A city's busiest counter takes a few
/// hundred payments a day; a prefecture-wide service a few tens of thousands.
pub const JOURNAL_DAY_ROWS_MAX: usize = 1_000_000;
/// The most facility-days one [`JournalSource::active_days`] call lists (ten years of 500
/// facilities).
pub const ACTIVE_DAYS_MAX: usize = 2_000_000;
/// How long to wait for the database connection.
pub const CONNECT_TIMEOUT_MS: u64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The URLs kept here are for display: without user information (`url_for_display`).
    #[error("journal URL {0:?} is neither sqlite://path nor postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot open the journal database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("reading the journal ({what}): {source}")]
    Database {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("journal record {table}.{column} of {id} holds {value:?}, which {problem}")]
    Corrupt { table: &'static str, column: &'static str, id: String, value: String, problem: String },
    #[error("the journal of {facility} on {date} has more than {JOURNAL_DAY_ROWS_MAX} {table} rows")]
    TooLarge { facility: FacilityId, date: BusinessDate, table: &'static str },
    #[error("more than {ACTIVE_DAYS_MAX} facility-days between {from} and {to}; ask for a shorter range")]
    TooManyDays { from: BusinessDate, to: BusinessDate },
}

/// What was read besides the journal itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStatistics {
    pub payments: usize,
    pub refunds: usize,
    pub sale_lines: usize,
    pub shifts: usize,
    /// Cashless payments undone before their card was read: no brand, no money, left out.
    pub unbranded_undone: usize,
}

/// A read-only connection to the gateway's journal.
#[derive(Debug, Clone)]
pub struct JournalSource {
    pool: AnyPool,
}

/// The backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

fn read_only_url(url: &str) -> Result<(Backend, String), SourceError> {
    if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        let path = rest.split_once('?').map_or(rest, |(path, _)| path);
        return Ok((Backend::Sqlite, format!("sqlite://{path}?mode=ro")));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_string()));
    }
    Err(SourceError::UnsupportedUrl(pos_core::url_for_display(url)))
}

/// The UTC instants, as the journal's fixed-width text, that bound a JST calendar day.
fn day_bounds(date: BusinessDate) -> (String, String) {
    let jst = FixedOffset::east_opt(JST_OFFSET_SECONDS).unwrap_or_else(|| unreachable!("constant offset"));
    let start_of = |day: chrono::NaiveDate| {
        jst.from_local_datetime(&day.and_time(NaiveTime::MIN))
            .single()
            .map(|instant| instant.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Millis, true))
            .unwrap_or_default()
    };
    let next = date.date().checked_add_days(Days::new(1)).unwrap_or(date.date());
    (start_of(date.date()), start_of(next))
}

fn database(what: &'static str) -> impl Fn(sqlx::Error) -> SourceError {
    move |source| SourceError::Database { what, source }
}

fn corrupt(
    table: &'static str,
    column: &'static str,
    id: &str,
    value: impl ToString,
    problem: impl ToString,
) -> SourceError {
    SourceError::Corrupt { table, column, id: id.to_string(), value: value.to_string(), problem: problem.to_string() }
}

/// Reads typed columns of one row, naming the row in every error.
struct Columns<'a> {
    row: &'a AnyRow,
    table: &'static str,
    id: String,
}

impl<'a> Columns<'a> {
    fn new(row: &'a AnyRow, table: &'static str, id_column: &str) -> Result<Columns<'a>, SourceError> {
        let id: String = row.try_get(id_column).map_err(database(table))?;
        Ok(Columns { row, table, id })
    }

    fn text(&self, column: &'static str) -> Result<String, SourceError> {
        self.row.try_get(column).map_err(database(self.table))
    }

    fn optional_text(&self, column: &'static str) -> Result<Option<String>, SourceError> {
        let value: Option<String> = self.row.try_get(column).map_err(database(self.table))?;
        Ok(value.filter(|text| !text.is_empty()))
    }

    fn yen(&self, column: &'static str) -> Result<Yen, SourceError> {
        let value: i64 = self.row.try_get(column).map_err(database(self.table))?;
        Yen::new(value).map_err(|error| corrupt(self.table, column, &self.id, value, error))
    }

    fn optional_yen(&self, column: &'static str) -> Result<Option<Yen>, SourceError> {
        let value: Option<i64> = self.row.try_get(column).map_err(database(self.table))?;
        value
            .map(|value| Yen::new(value).map_err(|error| corrupt(self.table, column, &self.id, value, error)))
            .transpose()
    }

    fn parsed<T, E: ToString>(
        &self,
        column: &'static str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<T, SourceError> {
        let text = self.text(column)?;
        parse(&text).map_err(|error| corrupt(self.table, column, &self.id, &text, error.to_string()))
    }

    fn optional_parsed<T, E: ToString>(
        &self,
        column: &'static str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<Option<T>, SourceError> {
        match self.optional_text(column)? {
            None => Ok(None),
            Some(text) => {
                parse(&text).map(Some).map_err(|error| corrupt(self.table, column, &self.id, &text, error.to_string()))
            }
        }
    }

    fn instant(&self, column: &'static str) -> Result<DateTime<FixedOffset>, SourceError> {
        let jst = FixedOffset::east_opt(JST_OFFSET_SECONDS).unwrap_or_else(|| unreachable!("constant offset"));
        self.parsed(column, |text| DateTime::parse_from_rfc3339(text).map(|instant| instant.with_timezone(&jst)))
    }
}

/// A payment row, before its refunds are attached.
fn decode_payment(row: &AnyRow) -> Result<Option<JournalPayment>, SourceError> {
    let columns = Columns::new(row, "payments", "id")?;
    let id = columns.id.clone();
    let method: Method = columns.parsed("method", str::parse)?;
    let state: PaymentState = columns.parsed("state", str::parse)?;
    let brand = match columns.optional_parsed("brand", str::parse::<Brand>)? {
        Some(brand) => brand,
        None if method == Method::Cash => Brand::Cash,
        None => match placeholder_brand(method, state) {
            Some(brand) => brand,
            None if is_undone(state) => return Ok(None),
            None => {
                return Err(corrupt(
                    "payments",
                    "brand",
                    &id,
                    "",
                    format!("is missing on a {state} {method:?} payment"),
                ))
            }
        },
    };
    if brand.method() != method {
        return Err(corrupt("payments", "brand", &id, brand, format!("is not a brand of method {}", method.code())));
    }
    let masked_card = columns.optional_text("masked_card")?;
    let masked_pan = match (method, &masked_card) {
        (Method::Card, Some(text)) => {
            Some(MaskedPan::parse_masked(text).map_err(|error| corrupt("payments", "masked_card", &id, text, error))?)
        }
        _ => None,
    };
    let card_id = match (method, &masked_card) {
        (Method::Emoney, Some(text)) => {
            Some(MaskedCardId::parse(text).map_err(|problem| corrupt("payments", "masked_card", &id, text, problem))?)
        }
        _ => None,
    };
    Ok(Some(JournalPayment {
        payment_id: PaymentId::new(id.clone()),
        sale_id: SaleId::new(columns.text("sale_id")?),
        facility: columns.parsed("facility_id", FacilityId::parse)?,
        register: columns.parsed("register_id", RegisterId::parse)?,
        shift: ShiftId::new(columns.text("shift_id")?),
        method,
        brand,
        amount: columns.yen("amount")?,
        state,
        business_date: columns.parsed("business_date", str::parse::<BusinessDate>)?,
        time: columns.instant("created_at")?,
        terminal_id: columns.optional_parsed("terminal_id", TerminalId::parse)?,
        stan: columns.optional_parsed("acquirer_stan", Stan::parse)?,
        rrn: if method == Method::Qr { None } else { columns.optional_parsed("rrn", Rrn::parse)? },
        masked_pan,
        card_id,
        receipt: receipt(row, &id)?,
        refunds: Vec::new(),
    }))
}

/// The receipt of the payment's sale, once the sale was paid.
fn receipt(row: &AnyRow, id: &str) -> Result<Option<Receipt>, SourceError> {
    let year: Option<i64> = row.try_get("receipt_fiscal_year").map_err(database("payments"))?;
    let number: Option<i64> = row.try_get("receipt_number").map_err(database("payments"))?;
    match (year, number) {
        (Some(year), Some(number)) => {
            let year =
                i32::try_from(year).map_err(|_| corrupt("sales", "receipt_fiscal_year", id, year, "is not a year"))?;
            Ok(Some(Receipt { fiscal_year: FiscalYear::new(year), number }))
        }
        _ => Ok(None),
    }
}

fn is_undone(state: PaymentState) -> bool {
    matches!(
        state,
        PaymentState::Voided
            | PaymentState::Reversed
            | PaymentState::Declined
            | PaymentState::Cancelled
            | PaymentState::Failed
    )
}

/// A pending cashless payment without a brand is kept, under its method's first brand, so that
/// matching lists it as in doubt; a taken or undone one gets none.
fn placeholder_brand(method: Method, state: PaymentState) -> Option<Brand> {
    if !state.is_pending() {
        return None;
    }
    Brand::ALL.into_iter().find(|brand| brand.method() == method)
}

/// A refund row, with the id of the payment it refunds.
fn decode_refund(row: &AnyRow) -> Result<Option<(PaymentId, JournalRefund)>, SourceError> {
    let columns = Columns::new(row, "refunds", "id")?;
    let state = columns.text("state")?;
    if !matches!(state.as_str(), "approved" | "recorded") {
        return Ok(None);
    }
    let channel = match columns.text("method")?.as_str() {
        "original" => RefundChannel::Original,
        "cash" => RefundChannel::Cash,
        other => return Err(corrupt("refunds", "method", &columns.id, other, "is neither original nor cash")),
    };
    let refund = JournalRefund {
        refund_id: RefundId::new(columns.id.clone()),
        amount: columns.yen("amount")?,
        channel,
        // Filled in once the day's shifts are known: the journal does not record it.
        shift: ShiftId::new(""),
        time: columns.instant("created_at")?,
        stan: columns.optional_parsed("acquirer_stan", Stan::parse)?,
        rrn: columns.optional_parsed("rrn", Rrn::parse)?,
        original_rrn: None,
    };
    Ok(Some((PaymentId::new(columns.text("payment_id")?), refund)))
}

fn decode_sale_line(row: &AnyRow) -> Result<JournalSaleLine, SourceError> {
    let columns = Columns::new(row, "sale_lines", "sale_id")?;
    let quantity: i64 = row.try_get("quantity").map_err(database("sale_lines"))?;
    Ok(JournalSaleLine {
        sale_id: SaleId::new(columns.id.clone()),
        fee_item: columns.parsed("fee_item", FeeItemCode::parse)?,
        revenue_account: columns.text("revenue_account")?,
        quantity: u32::try_from(quantity)
            .map_err(|_| corrupt("sale_lines", "quantity", &columns.id, quantity, "is not a count"))?,
        amount: columns.yen("amount")?,
    })
}

fn decode_shift(row: &AnyRow) -> Result<JournalShift, SourceError> {
    let columns = Columns::new(row, "shifts", "id")?;
    Ok(JournalShift {
        shift_id: ShiftId::new(columns.id.clone()),
        register: columns.parsed("register_id", RegisterId::parse)?,
        opened_at: Some(columns.instant("opened_at")?),
        float_opening: columns.yen("opening_float")?,
        cash_expected_recorded: columns.optional_yen("cash_expected")?,
        cash_counted: columns.optional_yen("cash_counted")?,
        over_short_recorded: columns.optional_yen("over_short")?,
    })
}

impl JournalSource {
    /// Opens the journal read-only: `sqlite://path` or `postgres://user@host:port/database`.
    pub async fn connect(url: &str) -> Result<JournalSource, SourceError> {
        JournalSource::connect_with(url, 1).await
    }

    /// As [`JournalSource::connect`], with up to `connections` connections for facility-days read
    /// at once.
    pub async fn connect_with(url: &str, connections: usize) -> Result<JournalSource, SourceError> {
        sqlx::any::install_default_drivers();
        let (backend, url_read_only) = read_only_url(url)?;
        let connect = |source| SourceError::Connect { url: pos_core::url_for_display(url), source };
        let options: AnyConnectOptions = url_read_only.parse().map_err(connect)?;
        let pool = AnyPoolOptions::new()
            .max_connections(u32::try_from(connections.max(1)).unwrap_or(u32::MAX))
            .acquire_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
            .after_connect(move |connection, _meta| {
                Box::pin(async move {
                    // Belt and braces on PostgreSQL, which has no read-only URL flag: every
                    // transaction of the session refuses writes.
                    if backend == Backend::Postgres {
                        connection.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(connect)?;
        Ok(JournalSource { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The facility-days between two dates (inclusive) on which the journal has a shift or a
    /// payment, in date then facility order.
    pub async fn active_days(
        &self,
        from: BusinessDate,
        to: BusinessDate,
    ) -> Result<Vec<(FacilityId, BusinessDate)>, SourceError> {
        let mut connection = self.pool.acquire().await.map_err(database("active days"))?;
        let query = format!(
            "SELECT facility_id, business_date FROM {shifts} WHERE business_date >= $1 AND business_date <= $2 \
             UNION SELECT facility_id, business_date FROM {payments} WHERE business_date >= $1 AND business_date <= $2",
            shifts = contract::SHIFTS.name,
            payments = contract::PAYMENTS.name,
        );
        let mut rows = sqlx::query(&query).bind(from.to_string()).bind(to.to_string()).fetch(&mut *connection);
        let mut days = BTreeSet::new();
        while let Some(row) = rows.try_next().await.map_err(database("active days"))? {
            let columns = Columns::new(&row, "shifts", "facility_id")?;
            let facility = columns.parsed("facility_id", FacilityId::parse)?;
            let date = columns.parsed("business_date", str::parse::<BusinessDate>)?;
            days.insert((date, facility));
            if days.len() > ACTIVE_DAYS_MAX {
                return Err(SourceError::TooManyDays { from, to });
            }
        }
        Ok(days.into_iter().map(|(date, facility)| (facility, date)).collect())
    }

    /// Every facility's cash to deposit on each business date between two dates (inclusive): the
    /// counted cash of its closed shifts less their floats, when that is more than nothing.
    pub async fn cash_to_deposit(
        &self,
        from: BusinessDate,
        to: BusinessDate,
    ) -> Result<Vec<ExpectedDeposit>, SourceError> {
        let mut connection = self.pool.acquire().await.map_err(database("cash to deposit"))?;
        let query = format!(
            "SELECT id, facility_id, business_date, opening_float, cash_counted FROM {} \
             WHERE business_date >= $1 AND business_date <= $2 AND cash_counted IS NOT NULL",
            contract::SHIFTS.name
        );
        let mut rows = sqlx::query(&query).bind(from.to_string()).bind(to.to_string()).fetch(&mut *connection);
        let mut sums: BTreeMap<(FacilityId, BusinessDate), Yen> = BTreeMap::new();
        while let Some(row) = rows.try_next().await.map_err(database("cash to deposit"))? {
            let columns = Columns::new(&row, "shifts", "id")?;
            let facility = columns.parsed("facility_id", FacilityId::parse)?;
            let date = columns.parsed("business_date", str::parse::<BusinessDate>)?;
            let counted = columns.yen("cash_counted")?;
            let deposit = counted
                .checked_sub(columns.yen("opening_float")?)
                .map_err(|error| corrupt("shifts", "cash_counted", &columns.id, counted, error))?;
            let sum = sums.entry((facility, date)).or_insert(Yen::ZERO);
            *sum = sum
                .checked_add(deposit)
                .map_err(|error| corrupt("shifts", "cash_counted", &columns.id, counted, error))?;
            if sums.len() > ACTIVE_DAYS_MAX {
                return Err(SourceError::TooManyDays { from, to });
            }
        }
        Ok(sums
            .into_iter()
            .filter(|(_, amount)| *amount > Yen::ZERO)
            .map(|((facility, business_date), amount)| ExpectedDeposit { facility, business_date, amount })
            .collect())
    }

    /// Reads a facility's business day.
    pub async fn read_day(&self, facility: &FacilityId, date: BusinessDate) -> Result<DayJournal, SourceError> {
        self.read_day_with_statistics(facility, date).await.map(|(journal, _)| journal)
    }

    /// Reads a facility's business day and says how much was read.
    pub async fn read_day_with_statistics(
        &self,
        facility: &FacilityId,
        date: BusinessDate,
    ) -> Result<(DayJournal, ReadStatistics), SourceError> {
        let mut statistics = ReadStatistics::default();
        let too_large = |table| SourceError::TooLarge { facility: facility.clone(), date, table };
        let mut connection = self.pool.acquire().await.map_err(database("connection"))?;
        let (day_start, day_end) = day_bounds(date);

        let mut payments: BTreeMap<PaymentId, JournalPayment> = BTreeMap::new();
        {
            let query = format!(
                "SELECT {columns} FROM {payments} \
                 WHERE facility_id = $1 AND (business_date = $2 OR id IN \
                 (SELECT payment_id FROM {refunds} WHERE facility_id = $1 AND created_at >= $3 AND created_at < $4)) \
                 ORDER BY created_at, id",
                columns = contract::PAYMENTS.select_list(),
                payments = contract::PAYMENTS.name,
                refunds = contract::REFUNDS.name,
            );
            let mut rows = sqlx::query(&query)
                .bind(facility.as_str())
                .bind(date.to_string())
                .bind(&day_start)
                .bind(&day_end)
                .fetch(&mut *connection);
            while let Some(row) = rows.try_next().await.map_err(database("payments"))? {
                match decode_payment(&row)? {
                    Some(payment) => {
                        payments.insert(payment.payment_id.clone(), payment);
                    }
                    None => statistics.unbranded_undone += 1,
                }
                if payments.len() > JOURNAL_DAY_ROWS_MAX {
                    return Err(too_large("payments"));
                }
            }
        }
        statistics.payments = payments.len();

        let mut refunds = Vec::new();
        {
            let query = format!(
                "SELECT {columns} FROM {refunds} WHERE facility_id = $1 AND created_at >= $2 AND created_at < $3 \
                 ORDER BY created_at, id",
                columns = contract::REFUNDS.select_list(),
                refunds = contract::REFUNDS.name,
            );
            let mut rows =
                sqlx::query(&query).bind(facility.as_str()).bind(&day_start).bind(&day_end).fetch(&mut *connection);
            while let Some(row) = rows.try_next().await.map_err(database("refunds"))? {
                if let Some(refund) = decode_refund(&row)? {
                    refunds.push(refund);
                }
                if refunds.len() > JOURNAL_DAY_ROWS_MAX {
                    return Err(too_large("refunds"));
                }
            }
        }
        statistics.refunds = refunds.len();

        let mut shifts = Vec::new();
        {
            let query = format!(
                "SELECT {columns} FROM {shifts} WHERE facility_id = $1 AND business_date = $2 ORDER BY opened_at, id",
                columns = contract::SHIFTS.select_list(),
                shifts = contract::SHIFTS.name,
            );
            let mut rows = sqlx::query(&query).bind(facility.as_str()).bind(date.to_string()).fetch(&mut *connection);
            while let Some(row) = rows.try_next().await.map_err(database("shifts"))? {
                shifts.push(decode_shift(&row)?);
                if shifts.len() > JOURNAL_DAY_ROWS_MAX {
                    return Err(too_large("shifts"));
                }
            }
        }
        statistics.shifts = shifts.len();

        let mut sale_lines = Vec::new();
        {
            let query = format!(
                "SELECT {columns} FROM {lines} \
                 WHERE sale_id IN (SELECT sale_id FROM {payments} WHERE facility_id = $1 AND (business_date = $2 \
                 OR id IN (SELECT payment_id FROM {refunds} WHERE facility_id = $1 AND created_at >= $3 \
                 AND created_at < $4))) ORDER BY sale_id, line_no",
                columns = contract::SALE_LINES.select_list(),
                lines = contract::SALE_LINES.name,
                payments = contract::PAYMENTS.name,
                refunds = contract::REFUNDS.name,
            );
            let mut rows = sqlx::query(&query)
                .bind(facility.as_str())
                .bind(date.to_string())
                .bind(&day_start)
                .bind(&day_end)
                .fetch(&mut *connection);
            while let Some(row) = rows.try_next().await.map_err(database("sale_lines"))? {
                sale_lines.push(decode_sale_line(&row)?);
                if sale_lines.len() > JOURNAL_DAY_ROWS_MAX {
                    return Err(too_large("sale_lines"));
                }
            }
        }
        statistics.sale_lines = sale_lines.len();

        for (payment_id, mut refund) in refunds {
            let Some(payment) = payments.get_mut(&payment_id) else {
                return Err(corrupt(
                    "refunds",
                    "payment_id",
                    refund.refund_id.as_str(),
                    payment_id,
                    "names no payment of the facility",
                ));
            };
            refund.original_rrn = payment.rrn.clone();
            refund.shift = refund_shift(&shifts, &payment.register, &payment.shift);
            payment.refunds.push(refund);
        }
        let mut payments: Vec<JournalPayment> = payments.into_values().collect();
        payments.sort_by(|left, right| (left.time, &left.payment_id).cmp(&(right.time, &right.payment_id)));
        let journal = DayJournal { facility: facility.clone(), business_date: date, payments, sale_lines, shifts };
        Ok((journal, statistics))
    }
}

/// The shift whose drawer paid a cash refund: the journal does not say, so the day's first
/// shift at the payment's register, else the day's first shift, else the payment's own.
fn refund_shift(shifts: &[JournalShift], register: &RegisterId, payment_shift: &ShiftId) -> ShiftId {
    shifts
        .iter()
        .find(|shift| &shift.register == register)
        .or_else(|| shifts.first())
        .map_or_else(|| payment_shift.clone(), |shift| shift.shift_id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_read_only() {
        assert_eq!(
            read_only_url("sqlite:///tmp/journal.db?mode=rwc").unwrap(),
            (Backend::Sqlite, "sqlite:///tmp/journal.db?mode=ro".to_string())
        );
        assert_eq!(read_only_url("postgres://u@h/db").unwrap().0, Backend::Postgres);
        assert!(read_only_url("mysql://x").is_err());
    }

    #[test]
    fn a_day_is_its_tokyo_hours_in_utc() {
        let date: BusinessDate = "2026-04-01".parse().unwrap();
        assert_eq!(day_bounds(date), ("2026-03-31T15:00:00.000Z".to_string(), "2026-04-01T15:00:00.000Z".to_string()));
    }
}
