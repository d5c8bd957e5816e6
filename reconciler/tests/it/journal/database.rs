//! A journal database written as the gateway writes it: the gateway's migrations applied in
//! order, then rows inserted with the gateway's columns and text formats.

use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};
use pos_core::{BusinessDate, FacilityId, Method};
use reconciler::journal::{DayJournal, RefundChannel};
use reconciler::source::JournalSource;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection};

use super::support::*;

pub const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn migrations(backend: &str) -> Vec<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gateway/migrations").join(backend);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no migrations in {}", folder.display());
    files
}

pub async fn migrate(pool: &AnyPool, backend: &str) {
    for file in migrations(backend) {
        let sql = std::fs::read_to_string(&file).unwrap();
        sqlx::raw_sql(&sql).execute(pool).await.unwrap_or_else(|error| panic!("{}: {error}", file.display()));
    }
}

/// A fresh SQLite journal in `folder`, migrated; returns its URL.
pub async fn sqlite_journal(folder: &Path) -> (String, AnyPool) {
    sqlx::any::install_default_drivers();
    let path = folder.join("journal.db");
    let url = format!("sqlite://{}", path.display());
    let pool = AnyPoolOptions::new().max_connections(1).connect(&format!("{url}?mode=rwc")).await.unwrap();
    migrate(&pool, "sqlite").await;
    (url, pool)
}

/// A fresh PostgreSQL database, migrated. Fails (never skips) when PostgreSQL is unreachable.
pub struct PostgresJournal {
    pub url: String,
    pub pool: AnyPool,
    name: String,
}

impl PostgresJournal {
    pub async fn create() -> PostgresJournal {
        sqlx::any::install_default_drivers();
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let name = format!("reconciler_test_{}_{}", std::process::id(), nanos.rem_euclid(1_000_000_000_000));
        let mut admin = sqlx::AnyConnection::connect(POSTGRES_ADMIN_URL)
            .await
            .unwrap_or_else(|error| panic!("PostgreSQL at {POSTGRES_ADMIN_URL} is required: {error}"));
        sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
        admin.close().await.unwrap();
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        let pool = AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        migrate(&pool, "postgres").await;
        PostgresJournal { url, pool, name }
    }

    pub async fn drop_database(self) {
        self.pool.close().await;
        let mut admin = sqlx::AnyConnection::connect(POSTGRES_ADMIN_URL).await.unwrap();
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
    }
}

fn instant(time: chrono::DateTime<chrono::FixedOffset>) -> String {
    time.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Inserts a day's journal as the gateway would have written it.
pub async fn insert_journal(pool: &AnyPool, journal: &DayJournal) {
    let date = journal.business_date.to_string();
    let facility = journal.facility.as_str();
    for shift in &journal.shifts {
        let opened_at = shift.opened_at.map(instant).unwrap_or_else(|| format!("{date}T00:00:00.000Z"));
        sqlx::query(
            "INSERT INTO shifts (id, facility_id, register_id, state, business_date, opened_at, opened_by, opening_float, closed_at, closed_by, cash_sales, cash_expected, cash_counted, over_short) \
             VALUES ($1, $2, $3, 'closed', $4, $5, 'clerk', $6, $7, 'clerk', $8, $9, $10, $11)",
        )
        .bind(shift.shift_id.as_str())
        .bind(facility)
        .bind(shift.register.as_str())
        .bind(&date)
        .bind(&opened_at)
        .bind(shift.float_opening.get())
        .bind(format!("{}T09:00:00.000Z", date))
        .bind(shift.cash_expected_recorded.map(|expected| expected.get() - shift.float_opening.get()))
        .bind(shift.cash_expected_recorded.map(|amount| amount.get()))
        .bind(shift.cash_counted.map(|amount| amount.get()))
        .bind(shift.over_short_recorded.map(|amount| amount.get()))
        .execute(pool)
        .await
        .unwrap();
    }
    for payment in &journal.payments {
        let lines: Vec<_> = journal.sale_lines.iter().filter(|line| line.sale_id == payment.sale_id).collect();
        let total: i64 = lines.iter().map(|line| line.amount.get()).sum();
        let created_at = instant(payment.time);
        sqlx::query(
            "INSERT INTO sales (id, facility_id, register_id, shift_id, state, business_date, created_at, created_by, amount_total, amount_paid, paid_at, receipt_fiscal_year, receipt_number) \
             VALUES ($1, $2, $3, $4, 'paid', $5, $6, 'clerk', $7, $7, $6, $8, $9)",
        )
        .bind(payment.sale_id.as_str())
        .bind(facility)
        .bind(payment.register.as_str())
        .bind(payment.shift.as_str())
        .bind(payment.business_date.to_string())
        .bind(&created_at)
        .bind(total.max(payment.amount.get()))
        .bind(payment.receipt.map(|receipt| i64::from(receipt.fiscal_year.start_year())))
        .bind(payment.receipt.map(|receipt| receipt.number))
        .execute(pool)
        .await
        .unwrap();
        for (index, line) in lines.iter().enumerate() {
            sqlx::query(
                "INSERT INTO sale_lines (sale_id, line_no, fee_item, name_ja, unit_price, quantity, amount, revenue_account) VALUES ($1, $2, $3, '住民票の写し', $4, $5, $6, $7)",
            )
            .bind(line.sale_id.as_str())
            .bind(index as i64)
            .bind(line.fee_item.as_str())
            .bind(line.amount.get() / i64::from(line.quantity))
            .bind(i64::from(line.quantity))
            .bind(line.amount.get())
            .bind(&line.revenue_account)
            .execute(pool)
            .await
            .unwrap();
        }
        let cash = payment.method == Method::Cash;
        sqlx::query(
            "INSERT INTO payments (id, sale_id, facility_id, register_id, shift_id, method, brand, amount, tendered, change_due, state, business_date, created_at, updated_at, \
             terminal_id, masked_card, acquirer_id, acquirer_stan, rrn, refunded) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, $17, $18, 0)",
        )
        .bind(payment.payment_id.as_str())
        .bind(payment.sale_id.as_str())
        .bind(facility)
        .bind(payment.register.as_str())
        .bind(payment.shift.as_str())
        .bind(payment.method.code())
        .bind(payment.brand.code())
        .bind(payment.amount.get())
        .bind(cash.then(|| payment.amount.get()))
        .bind(cash.then_some(0i64))
        .bind(payment.state.code())
        .bind(payment.business_date.to_string())
        .bind(&created_at)
        .bind(payment.terminal_id.as_ref().map(|terminal| terminal.as_str().to_string()))
        .bind(
            payment
                .masked_pan
                .as_ref()
                .map(|pan| pan.as_str().to_string())
                .or_else(|| payment.card_id.as_ref().map(|card| card.as_str().to_string())),
        )
        .bind((!cash).then(|| "acquirer".to_string()))
        .bind(payment.stan.as_ref().map(|stan| stan.as_str().to_string()))
        .bind(payment.rrn.as_ref().map(|rrn| rrn.as_str().to_string()))
        .execute(pool)
        .await
        .unwrap();
        for refund in &payment.refunds {
            sqlx::query(
                "INSERT INTO refunds (id, payment_id, facility_id, amount, method, state, acquirer_stan, rrn, reason, created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'approved', $6, $7, 'clerk error', 'treasury', $8, $8)",
            )
            .bind(refund.refund_id.as_str())
            .bind(payment.payment_id.as_str())
            .bind(facility)
            .bind(refund.amount.get())
            .bind(if refund.channel == RefundChannel::Cash { "cash" } else { "original" })
            .bind(refund.stan.as_ref().map(|stan| stan.as_str().to_string()))
            .bind(refund.rrn.as_ref().map(|rrn| rrn.as_str().to_string()))
            .bind(instant(refund.time))
            .execute(pool)
            .await
            .unwrap();
        }
    }
}

/// A day with every method: two cards, e-money, QR and cash.
pub fn mixed_day(date: &str) -> DayJournal {
    let payments = vec![
        payment(
            "PAY-CARD-1",
            pos_core::Brand::Visa,
            1_500,
            &format!("{date}T10:15:02"),
            "000123",
            Some("632810000123"),
        ),
        payment("PAY-CARD-2", pos_core::Brand::Jcb, 5_000, &format!("{date}T11:00:00"), "000124", Some("632810000124")),
        payment("PAY-EMONEY-1", pos_core::Brand::TransitIc, 470, &format!("{date}T12:01:00"), "000201", None),
        payment("PAY-QR-1", pos_core::Brand::PayPay, 300, &format!("{date}T13:30:00"), "", None),
        payment("PAY-CASH-1", pos_core::Brand::Cash, 900, &format!("{date}T14:00:00"), "", None),
    ];
    journal(date, payments, None)
}

/// Reads a day back through the reconciler's source and checks it is the journal written.
pub async fn read_back(url: &str, written: &DayJournal) -> DayJournal {
    let source = JournalSource::connect(url).await.unwrap();
    let read = source.read_day(&FacilityId::parse(FACILITY).unwrap(), written.business_date).await.unwrap();
    let days =
        source.active_days(BusinessDate::new(date("2026-11-01")), BusinessDate::new(date("2026-11-30"))).await.unwrap();
    assert_eq!(days, vec![(written.facility.clone(), written.business_date)]);
    source.close().await;
    read
}

async fn reconciles_cleanly(url: &str, pool: &AnyPool) {
    let written = mixed_day("2026-11-24");
    insert_journal(pool, &written).await;
    let read = read_back(url, &written).await;
    // The source orders sale lines by sale and line number.
    let mut expected = written.clone();
    expected.sale_lines.sort_by(|left, right| left.sale_id.cmp(&right.sale_id));
    assert_eq!(read, expected, "the journal read back is the journal written");
    let config = config();
    let settlements = settlements_for(&config, &read);
    let bank = bank_for(&settlements, &read);
    let result = reconcile(&config, &read, &settlements, &bank, "2026-12-10");
    assert_eq!(kinds(&result), vec![], "{:#?}", result.exceptions);
    assert_eq!(result.revenue_total, yen(1_500 + 5_000 + 470 + 300 + 900));
    let report = reconciler::report::DayReport::build(&result, &read, &config).unwrap();
    reconciler::report::totals::check_day_report(&report).unwrap();
}

#[tokio::test]
async fn a_sqlite_journal_written_by_the_gateway_reconciles_with_no_exception() {
    let folder = tempfile::tempdir().unwrap();
    let (url, pool) = sqlite_journal(folder.path()).await;
    reconciles_cleanly(&url, &pool).await;
    pool.close().await;
}

#[tokio::test]
async fn a_postgres_journal_written_by_the_gateway_reconciles_with_no_exception() {
    let database = PostgresJournal::create().await;
    reconciles_cleanly(&database.url, &database.pool).await;
    database.drop_database().await;
}

#[tokio::test]
async fn the_source_is_read_only() {
    let folder = tempfile::tempdir().unwrap();
    let (url, pool) = sqlite_journal(folder.path()).await;
    pool.close().await;
    sqlx::any::install_default_drivers();
    // The same URL rewriting the source uses: a write through it must fail.
    let read_only = AnyPoolOptions::new().max_connections(1).connect(&format!("{url}?mode=ro")).await.unwrap();
    let error = sqlx::query("DELETE FROM payments").execute(&read_only).await.unwrap_err();
    assert!(error.to_string().contains("readonly"), "{error}");
    read_only.close().await;
}

#[tokio::test]
async fn a_corrupt_row_is_named() {
    let folder = tempfile::tempdir().unwrap();
    let (url, pool) = sqlite_journal(folder.path()).await;
    let mut written = mixed_day("2026-11-24");
    written.payments.truncate(1);
    insert_journal(&pool, &written).await;
    sqlx::query("UPDATE payments SET brand = 'DINERS'").execute(&pool).await.unwrap();
    let source = JournalSource::connect(&url).await.unwrap();
    let error = source.read_day(&written.facility, written.business_date).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "journal record payments.brand of PAY-CARD-1 holds \"DINERS\", which unknown brand \"DINERS\" (expected one of CASH, VISA, MC, JCB, AMEX, UPI, TRANSIT, ID, QUICPAY, WAON, NANACO, EDY, PAYPAY, LINEPAY, DBARAI, AUPAY, MERPAY, YUCHO, ALIPAY, WECHAT)"
    );
    pool.close().await;
}

#[tokio::test]
async fn a_qr_payments_provider_id_in_the_rrn_column_is_not_taken_for_an_rrn() {
    let folder = tempfile::tempdir().unwrap();
    let (url, pool) = sqlite_journal(folder.path()).await;
    let written = mixed_day("2026-11-24");
    insert_journal(&pool, &written).await;
    // What the gateway's QR connector records: the provider's 決済番号, 20 digits.
    sqlx::query("UPDATE payments SET rrn = '04000000000000000006' WHERE id = 'PAY-QR-1'").execute(&pool).await.unwrap();
    let read = read_back(&url, &written).await;
    let qr = read.payments.iter().find(|payment| payment.payment_id.as_str() == "PAY-QR-1").unwrap();
    assert_eq!(qr.rrn, None);
    // A card payment's RRN is still read, and still strictly.
    assert!(read.payments.iter().any(|payment| payment.rrn.as_ref().is_some_and(|rrn| rrn.as_str() == "632810000123")));
    sqlx::query("UPDATE payments SET rrn = '04000000000000000006' WHERE id = 'PAY-CARD-1'")
        .execute(&pool)
        .await
        .unwrap();
    let source = JournalSource::connect(&url).await.unwrap();
    let error = source.read_day(&written.facility, written.business_date).await.unwrap_err();
    assert!(error.to_string().starts_with("journal record payments.rrn of PAY-CARD-1"), "{error}");
    source.close().await;
    pool.close().await;
}
