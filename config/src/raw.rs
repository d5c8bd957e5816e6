//! The configuration file as written: strings and numbers, checked for shape by serde (unknown
//! keys and missing required keys are refused), then turned into the model by `validate`.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub city: RawCity,
    pub server: RawServer,
    pub database: RawDatabase,
    #[serde(default)]
    pub operators: Vec<RawOperator>,
    pub fee_items: Vec<RawFeeItem>,
    pub facilities: Vec<RawFacility>,
    #[serde(default)]
    pub acquirers: Vec<RawAcquirer>,
    #[serde(default)]
    pub brand_rules: Vec<RawBrandRule>,
    pub terminal_host: Option<RawTerminalHost>,
    pub users: Vec<RawUser>,
    pub accounting: Option<RawAccounting>,
    pub calendar: Option<RawCalendar>,
    pub open_data: Option<RawOpenData>,
    pub monthly_report: Option<RawMonthlyReport>,
}

/// The open data the city publishes (see `model::OpenData`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOpenData {
    pub dir: String,
    pub suppression_threshold_payments: u64,
    pub public_page: bool,
    pub publish_day_of_month: u32,
    pub publisher_ja: String,
    pub publisher_en: String,
    pub fee_item_categories: Vec<RawFeeItemCategory>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeeItemCategory {
    pub code: String,
    pub name_ja: String,
    pub name_en: String,
    pub fee_items: Vec<String>,
}

/// The DX office's monthly report (see `model::MonthlyReport`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMonthlyReport {
    pub fee_per_payment_high_yen: i64,
    pub lagging_below_city_points: u32,
    pub cash_handling_minutes_per_facility_day: u32,
}

/// The bank calendar's data (see `model::Calendar`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCalendar {
    pub holidays_dir: String,
}

/// The accounting system's account codes (see `model::Accounting`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccounting {
    pub cash_account: String,
    pub unsettled_account: String,
    pub fee_expense_account: String,
    pub cash_over_account: String,
    pub cash_short_account: String,
    pub suspense_account: String,
    pub refund_expense_account: String,
    pub bank_account: String,
    pub bank_charge_account: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTerminalHost {
    pub listen: String,
    pub cert_file: String,
    pub key_file: String,
    pub client_ca_file: Option<String>,
    #[serde(default)]
    pub client_crl_files: Vec<String>,
    #[serde(default)]
    pub client_auth: Option<String>,
    pub device_wait_ms: u64,
    #[serde(default)]
    pub reversal_window_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBrandRule {
    pub brand: String,
    pub refund: String,
    pub refund_within_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLink {
    pub institution_id: u64,
    pub endpoints: Vec<String>,
    pub server_name: String,
    pub ca_file: String,
    pub client_cert_file: Option<String>,
    pub client_key_file: Option<String>,
    pub request_timeout_ms: u64,
    pub in_flight_max: usize,
    pub echo_interval_ms: u64,
    pub reconnect_backoff_ms_max: u64,
    pub reversal_tries_max: u32,
    pub reversal_backoff_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCity {
    pub name_ja: String,
    pub name_en: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: String,
    pub request_body_bytes_max: u64,
    pub request_timeout_ms: u64,
    pub header_read_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub connections_max: Option<u64>,
    pub connections_per_source_max: Option<u64>,
    pub auth_failures_per_minute: Option<u32>,
    pub auth_block_seconds: Option<u64>,
    pub auth_block_seconds_max: Option<u64>,
    pub auth_audit_interval_seconds: Option<u64>,
    pub sessions: Option<RawSessions>,
    pub public_url: Option<String>,
    pub tls: Option<RawServerTls>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServerTls {
    pub cert_file: String,
    pub key_file: String,
    pub client_ca_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    pub clerk: Option<RawSessionLifetime>,
    pub operator: Option<RawSessionLifetime>,
    pub treasury: Option<RawSessionLifetime>,
    pub admin: Option<RawSessionLifetime>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessionLifetime {
    pub absolute_minutes: u32,
    pub idle_minutes: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub url: String,
    pub connections_max: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOperator {
    pub id: String,
    pub name_ja: String,
    pub name_en: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawPrice {
    Fixed(i64),
    Keyword(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeeItem {
    pub code: String,
    pub name_ja: String,
    pub name_en: String,
    pub price: RawPrice,
    pub open_amount_max: Option<i64>,
    pub revenue_account: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFacility {
    pub id: String,
    pub name_ja: String,
    pub name_en: String,
    pub kind: String,
    pub owner: String,
    pub revenue_rule: String,
    pub merchant_id: String,
    pub depositor_name: String,
    pub brands: Vec<String>,
    pub fee_items: Vec<String>,
    pub policy: RawPolicy,
    pub registers: Vec<RawRegister>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub split_tender: bool,
    pub open_price_items: bool,
    pub cash_tendered_max: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegister {
    pub id: String,
    pub terminal: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAcquirer {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub depositor_name: String,
    pub settlement_lag_days: u32,
    pub receivable_account: Option<String>,
    pub fees: Vec<RawFee>,
    pub link: Option<RawLink>,
    pub qr_link: Option<RawQrLink>,
}

/// The HTTPS API of a QR provider (PROTOCOLS.md §2).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQrLink {
    pub base_url: String,
    pub api_key: String,
    /// The secret itself (tests, local demos); production names an environment variable instead.
    pub api_secret: Option<String>,
    pub api_secret_env: Option<String>,
    /// Filled from the environment by `parse_with_env`, never from the file.
    #[serde(skip)]
    pub api_secret_from_env: Option<String>,
    pub poll_interval_ms: u64,
    pub request_timeout_ms: u64,
    pub resolve_retry_ms: u64,
    pub resolve_tries_max: u32,
    /// Whether the provider takes the customer-presented flow (the counter scans the customer's
    /// barcode, `POST /v2/payments`); absent: merchant-presented codes only.
    #[serde(default)]
    pub customer_presented: bool,
    /// The CA to trust for the provider instead of the public roots (a private or test PKI),
    /// relative to the configuration file.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Facility id → the provider's merchant id (`X-ASSUME-MERCHANT`); absent: the key's only merchant.
    #[serde(default)]
    pub merchants: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFee {
    pub brand: String,
    pub rate: String,
    pub rounding: String,
    /// E-money brands only (and required there): the bank business days after the transaction
    /// by which the centre settles a 処理未了 as 売上 or 取消.
    pub outcome_unknown_deadline_business_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub name: String,
    pub role: String,
    pub facility: Option<String>,
    pub register: Option<String>,
    pub operator: Option<String>,
    pub token_sha256: String,
}
