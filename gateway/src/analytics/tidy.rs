//! The analysts' export: one long ("tidy") table for a range of business dates, one row per
//! business date, hour, facility, fee item, method and brand — the grain a visualisation tool
//! (Tableau) or a spreadsheet pivots without reshaping — as CSV and as Parquet.
//!
//! The columns, in this order, are the export's stable schema ([`COLUMNS`]; README "The
//! analysts' export" documents them):
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `date` | date | business date (Asia/Tokyo), `YYYY-MM-DD` |
//! | `hour` | integer 0–23 | the hour the payment was made (Asia/Tokyo) |
//! | `facility_id`, `facility_name` | text | the facility |
//! | `operator` | text | who runs it: `city`, or the designated manager's operator id |
//! | `fee_item`, `fee_item_name` | text | the fee item sold (its name as sold) |
//! | `revenue_account` | text | 歳入科目 booked with the line |
//! | `method`, `brand` | text | `cash`/`card`/`emoney`/`qr`; the brand code (`CASH` for cash) |
//! | `count` | integer | sale lines paid (a line split between two payments counts under both) — `top-fee-items`' count |
//! | `amount` | integer yen | what was paid for them, gross |
//! | `fee` | integer yen, empty when unknown | their share of the contracted card/e-money/QR fees ([`super::paid`]); 0 for cash |
//!
//! What counts is what the analytics count: taken payments on their business date, refunds not
//! netted. The rows are every part of [`super::paid`] added up, so `amount` summed over any
//! facility set equals the analytics API's `by-method` total for it.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{NaiveDate, Timelike};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use pos_config::{Config, Owner};
use pos_core::{Brand, BusinessDate, FacilityId, FeeItemCode, Method, Yen};

use super::paid::PaidPart;
use super::{add, AnalyticsError};

/// The columns of the export, in order: the CSV header and the Parquet schema's field names.
pub const COLUMNS: [&str; 13] = [
    "date",
    "hour",
    "facility_id",
    "facility_name",
    "operator",
    "fee_item",
    "fee_item_name",
    "revenue_account",
    "method",
    "brand",
    "count",
    "amount",
    "fee",
];

/// The most rows one export holds: a year of the whole city is about 35 facilities × 300 days ×
/// 10 hours × a few items and brands, well below it.
pub const TIDY_ROWS_MAX: usize = 2_000_000;

/// The Parquet schema of [`COLUMNS`]. Dates are Parquet `DATE`, texts UTF-8 `STRING`, yen 64-bit.
const PARQUET_SCHEMA: &str = "message pos_tidy_export_v1 {
  REQUIRED INT32 date (DATE);
  REQUIRED INT32 hour;
  REQUIRED BYTE_ARRAY facility_id (STRING);
  REQUIRED BYTE_ARRAY facility_name (STRING);
  REQUIRED BYTE_ARRAY operator (STRING);
  REQUIRED BYTE_ARRAY fee_item (STRING);
  REQUIRED BYTE_ARRAY fee_item_name (STRING);
  REQUIRED BYTE_ARRAY revenue_account (STRING);
  REQUIRED BYTE_ARRAY method (STRING);
  REQUIRED BYTE_ARRAY brand (STRING);
  REQUIRED INT64 count;
  REQUIRED INT64 amount;
  OPTIONAL INT64 fee;
}";

/// The grain of a row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TidyKey {
    pub date: BusinessDate,
    pub hour: u32,
    pub facility: FacilityId,
    pub fee_item: FeeItemCode,
    pub revenue_account: String,
    pub method: Method,
    pub brand: Brand,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TidyRow {
    pub key: TidyKey,
    pub fee_item_name: String,
    pub count: u64,
    pub amount: Yen,
    /// `None` when some payment of the row has a brand without a contracted fee.
    pub fee: Option<Yen>,
}

/// Paid parts added up to the export's grain.
#[derive(Debug, Default)]
pub struct TidyTable {
    rows: BTreeMap<TidyKey, TidyRow>,
}

impl TidyTable {
    pub fn take(&mut self, part: &PaidPart<'_>) -> Result<(), AnalyticsError> {
        let key = TidyKey {
            date: part.payment.business_date,
            hour: part.time().hour(),
            facility: part.payment.facility.clone(),
            fee_item: part.line.fee_item.clone(),
            revenue_account: part.line.revenue_account.clone(),
            method: part.payment.method,
            brand: part.payment.brand,
        };
        if !self.rows.contains_key(&key) && self.rows.len() == TIDY_ROWS_MAX {
            return Err(AnalyticsError::TooLarge { what: "export", limit: TIDY_ROWS_MAX });
        }
        let row = self.rows.entry(key.clone()).or_insert_with(|| TidyRow {
            key,
            fee_item_name: part.line.name_ja.clone(),
            count: 0,
            amount: Yen::ZERO,
            fee: Some(Yen::ZERO),
        });
        row.count += 1;
        row.amount = add(row.amount, part.amount, "an export row's amount")?;
        row.fee = match (row.fee, part.fee) {
            (Some(sum), Some(fee)) => Some(add(sum, fee, "an export row's fee")?),
            _ => None,
        };
        Ok(())
    }

    pub fn rows(&self) -> impl Iterator<Item = &TidyRow> {
        self.rows.values()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// A row's cells as text, in [`COLUMNS`] order.
fn cells(config: &Config, row: &TidyRow) -> Vec<String> {
    let facility = config.facility(&row.key.facility);
    vec![
        row.key.date.to_string(),
        row.key.hour.to_string(),
        row.key.facility.to_string(),
        facility.map(|f| f.name_ja.clone()).unwrap_or_default(),
        operator(config, &row.key.facility),
        row.key.fee_item.to_string(),
        row.fee_item_name.clone(),
        row.key.revenue_account.clone(),
        row.key.method.code().to_string(),
        row.key.brand.code().to_string(),
        row.count.to_string(),
        row.amount.get().to_string(),
        row.fee.map(|fee| fee.get().to_string()).unwrap_or_default(),
    ]
}

/// `city` or the designated manager that runs the facility (a facility no longer configured:
/// empty).
fn operator(config: &Config, facility: &FacilityId) -> String {
    match config.facility(facility).map(|f| &f.owner) {
        Some(Owner::City) => super::request::CITY_OWNER.to_string(),
        Some(Owner::Operator(operator)) => operator.to_string(),
        None => String::new(),
    }
}

/// The export as CSV with the reconciler's writer: UTF-8 with BOM (Excel reads the Japanese
/// names), CRLF, a header row of the column names.
pub fn to_csv(config: &Config, table: &TidyTable) -> Vec<u8> {
    let mut csv = reconciler::report::csv::Table::new(&COLUMNS);
    for row in table.rows() {
        csv.row(cells(config, row));
    }
    csv.to_bytes()
}

#[derive(Debug, thiserror::Error)]
#[error("writing the Parquet file: {0}")]
pub struct ParquetError(#[from] parquet::errors::ParquetError);

/// Days from 1970-01-01, Parquet's `DATE`.
fn epoch_days(date: BusinessDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    i32::try_from((date.date() - epoch).num_days()).unwrap_or(i32::MAX)
}

/// The export as one Parquet file (one row group, Snappy-compressed columns).
pub fn to_parquet(config: &Config, table: &TidyTable) -> Result<Vec<u8>, ParquetError> {
    let schema = Arc::new(parquet::schema::parser::parse_message_type(PARQUET_SCHEMA)?);
    let properties = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
    let mut buffer = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut buffer, schema, properties)?;
    let rows: Vec<&TidyRow> = table.rows().collect();
    let texts: Vec<Vec<String>> = rows.iter().map(|row| cells(config, row)).collect();
    let mut group = writer.next_row_group()?;
    let mut index = 0;
    while let Some(mut column) = group.next_column()? {
        match COLUMNS[index] {
            "date" => {
                let values: Vec<i32> = rows.iter().map(|row| epoch_days(row.key.date)).collect();
                column.typed::<Int32Type>().write_batch(&values, None, None)?;
            }
            "hour" => {
                let values: Vec<i32> = rows.iter().map(|row| i32::try_from(row.key.hour).unwrap_or(0)).collect();
                column.typed::<Int32Type>().write_batch(&values, None, None)?;
            }
            "count" => {
                let values: Vec<i64> = rows.iter().map(|row| i64::try_from(row.count).unwrap_or(i64::MAX)).collect();
                column.typed::<Int64Type>().write_batch(&values, None, None)?;
            }
            "amount" => {
                let values: Vec<i64> = rows.iter().map(|row| row.amount.get()).collect();
                column.typed::<Int64Type>().write_batch(&values, None, None)?;
            }
            "fee" => {
                let values: Vec<i64> = rows.iter().filter_map(|row| row.fee.map(Yen::get)).collect();
                let defined: Vec<i16> = rows.iter().map(|row| i16::from(row.fee.is_some())).collect();
                column.typed::<Int64Type>().write_batch(&values, Some(&defined), None)?;
            }
            _ => {
                let values: Vec<ByteArray> = texts.iter().map(|cells| ByteArray::from(cells[index].as_str())).collect();
                column.typed::<ByteArrayType>().write_batch(&values, None, None)?;
            }
        }
        column.close()?;
        index += 1;
    }
    group.close()?;
    writer.close()?;
    Ok(buffer)
}
