//! The validated configuration: domain types only.

use std::collections::BTreeMap;

use pos_core::{Brand, FacilityId, FeeItemCode, OperatorId, Rate, RegisterId, Rounding, TerminalId, UserName, Yen};

#[derive(Debug, Clone)]
pub struct Config {
    pub city: City,
    pub server: Server,
    pub database: Database,
    pub operators: Vec<Operator>,
    pub fee_items: BTreeMap<FeeItemCode, FeeItem>,
    pub facilities: Vec<Facility>,
    pub acquirers: Vec<Acquirer>,
    pub brand_rules: Vec<BrandRule>,
    pub terminal_host: Option<TerminalHost>,
    pub users: Vec<User>,
    pub accounting: Accounting,
    pub calendar: Calendar,
    /// The open data (オープンデータ) the city publishes; `None`: none is configured, and the
    /// public page does not exist.
    pub open_data: Option<OpenData>,
    pub monthly_report: MonthlyReport,
}

/// What `gateway opendata` publishes, where, and whether the public page is served.
#[derive(Debug, Clone)]
pub struct OpenData {
    /// Where the published months are written (relative paths are anchored at the config file's
    /// folder) and from where the public page serves them.
    pub dir: std::path::PathBuf,
    /// A cell counting fewer payments than this (and more than none) is suppressed.
    pub suppression_threshold_payments: u64,
    /// Serve the public, sign-in-free page `/open-data`. Off unless turned on.
    pub public_page: bool,
    /// `gateway opendata --due` publishes the previous month from this day of the month on, so
    /// the month's late outcomes (payments resolved after the fact) are in.
    pub publish_day_of_month: u32,
    pub publisher_ja: String,
    pub publisher_en: String,
    /// The categories fee items are published under; every fee item is in exactly one.
    pub fee_item_categories: Vec<FeeItemCategory>,
}

impl OpenData {
    pub fn category_of(&self, item: &FeeItemCode) -> Option<&FeeItemCategory> {
        self.fee_item_categories.iter().find(|category| category.fee_items.contains(item))
    }
}

/// A published group of fee items (e.g. family-register certificates).
#[derive(Debug, Clone)]
pub struct FeeItemCategory {
    /// Lower-case letters, digits and `-`.
    pub code: String,
    pub name_ja: String,
    pub name_en: String,
    pub fee_items: Vec<FeeItemCode>,
}

/// The limits and the city's counting rules of the DX office's monthly report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthlyReport {
    /// A fee item whose card and QR fee per payment reaches this is flagged.
    pub fee_per_payment_high_yen: Yen,
    /// A facility whose cashless share (by amount) is more than this many percentage points below
    /// the city-wide share is listed as lagging.
    pub lagging_below_city_points: u32,
    /// The cash handling a facility is spared on a day it takes cashless payments, in minutes
    /// (BRIEF.md: about 30 minutes a day per facility).
    pub cash_handling_minutes_per_facility_day: u32,
}

impl Default for MonthlyReport {
    /// The city's own figures when the configuration has no `[monthly_report]`.
    fn default() -> MonthlyReport {
        MonthlyReport {
            fee_per_payment_high_yen: Yen::new(100).unwrap_or(Yen::ZERO),
            lagging_below_city_points: 5,
            cash_handling_minutes_per_facility_day: 30,
        }
    }
}

/// The bank calendar's data: national holidays are computed by the rules of the 祝日法 for
/// 2000–2099; a `holidays-YYYY.txt` file in `holidays_dir` overrides its year (a change of law, a
/// year beyond the rules) without a rebuild.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    /// Resolved against the configuration file's directory.
    pub holidays_dir: Option<std::path::PathBuf>,
}

/// The accounting system's account codes that the reconciler's export books to, besides the
/// fee items' revenue accounts (歳入科目) and each acquirer's receivable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounting {
    /// 現金: cash in hand until it is deposited.
    pub cash_account: String,
    /// 未収金 of revenue that no payment of the day covers.
    pub unsettled_account: String,
    /// 役務費 (手数料): the acquirers' fees.
    pub fee_expense_account: String,
    /// 雑入 (現金過剰).
    pub cash_over_account: String,
    /// 現金不足 (損失).
    pub cash_short_account: String,
    /// 仮受金・仮払金: amounts under an open exception (a settled line the journal does not
    /// explain, the fee charged on it, an unexplained bank line) until treasury resolves them.
    pub suspense_account: String,
    /// 過誤納還付金 (歳出): refunds of revenue of a fiscal year whose accounts are closed (after
    /// its 出納整理期間), which can no longer be taken back out of that year's revenue.
    pub refund_expense_account: String,
    /// 預金: the collection account the bank statement is of.
    pub bank_account: String,
    /// 役務費 (銀行手数料): the bank's charges on the collection account.
    pub bank_charge_account: String,
}

impl Accounting {
    /// Codes that say what they stand for, used when the configuration has no `[accounting]`
    /// section: an export booked to them is visibly not mapped to the city's chart of accounts.
    pub fn unmapped() -> Accounting {
        Accounting {
            cash_account: "CASH".to_string(),
            unsettled_account: "RECEIVABLE-UNSETTLED".to_string(),
            fee_expense_account: "EXPENSE-FEES".to_string(),
            cash_over_account: "MISC-INCOME-CASH-OVER".to_string(),
            cash_short_account: "LOSS-CASH-SHORT".to_string(),
            suspense_account: "SUSPENSE".to_string(),
            refund_expense_account: "EXPENSE-REFUNDS-CLOSED-YEARS".to_string(),
            bank_account: "BANK-COLLECTION".to_string(),
            bank_charge_account: "EXPENSE-BANK-CHARGES".to_string(),
        }
    }

    /// An acquirer's receivable when the configuration names none (see [`Accounting::unmapped`]).
    pub fn unmapped_receivable(acquirer_id: &str) -> String {
        format!("RECEIVABLE-{acquirer_id}")
    }
}

/// The TLS listener that payment terminals connect to (ISO 8583).
#[derive(Debug, Clone)]
pub struct TerminalHost {
    pub listen: std::net::SocketAddr,
    pub cert_file: std::path::PathBuf,
    pub key_file: std::path::PathBuf,
    pub client_ca_file: Option<std::path::PathBuf>,
    /// Revocation lists of the client CA (PEM): terminals taken out of service.
    pub client_crl_files: Vec<std::path::PathBuf>,
    pub client_auth: ClientAuthMode,
    /// How long a card or e-money payment waits for the card before it expires.
    pub device_wait_ms: u64,
    /// How long after an authorization was answered its terminal may still reverse it (it did
    /// not hear the answer); `None` takes the longest acquirer request timeout plus a margin.
    pub reversal_window_ms: Option<u64>,
}

/// How terminals prove who they are (PROTOCOLS.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMode {
    /// Every terminal presents a certificate of `client_ca_file` naming its terminal id
    /// (`urn:pos:terminal:<id>`), and speaks only for that id. The default.
    Required,
    /// Terminals connect without certificates and field 41 is taken as they say it: for a lab
    /// with simulated terminals only, never for money (logged loudly at start-up).
    LabWithoutCertificates,
}

/// What a brand allows after the payment (PROTOCOLS and the brands' own rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundRule {
    /// No refund through the brand (treasury may still record a cash refund).
    None,
    /// Only the whole amount.
    Full,
    /// Any part of the amount, several times, up to the whole.
    Partial,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrandRule {
    pub brand: Brand,
    pub refund: RefundRule,
    pub refund_within_days: Option<u32>,
}

/// The ISO 8583 link to an acquirer (card acquirer, e-money centre).
#[derive(Debug, Clone)]
pub struct AcquirerLink {
    /// Our institution id at the acquirer (field 90 of reversals).
    pub institution_id: u64,
    /// `host:port`, primary first.
    pub endpoints: Vec<String>,
    pub server_name: String,
    pub ca_file: std::path::PathBuf,
    pub client_identity: Option<(std::path::PathBuf, std::path::PathBuf)>,
    pub request_timeout_ms: u64,
    pub in_flight_max: usize,
    pub echo_interval_ms: u64,
    pub reconnect_backoff_ms_max: u64,
    pub reversal_tries_max: u32,
    pub reversal_backoff_ms: u64,
}

#[derive(Debug, Clone)]
pub struct City {
    pub name_ja: String,
    pub name_en: String,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub listen: std::net::SocketAddr,
    pub request_body_bytes_max: usize,
    pub request_timeout_ms: u64,
    /// What one connection, and one source, may hold of the server.
    pub limits: HttpLimits,
    /// How failed authentication is slowed down.
    pub auth_throttle: AuthThrottle,
    /// How long the pages' sessions last, per role.
    pub sessions: SessionLifetimes,
    /// The address people reach the gateway at when a proxy terminates TLS in front of it
    /// (`https://pos.city.example`): an https address makes the session cookie `Secure`.
    pub public_url: Option<String>,
    /// TLS terminated by the gateway itself on `listen` (`[server.tls]`); `None`: plain HTTP.
    pub tls: Option<ServerTls>,
}

/// The API's own TLS: a certificate chain and key (reloaded on `SIGHUP`), and optionally the CA
/// whose client certificates are asked for (optional: browsers need none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    pub cert_file: std::path::PathBuf,
    pub key_file: std::path::PathBuf,
    pub client_ca_file: Option<std::path::PathBuf>,
}

/// A session's lifetimes: it ends `absolute_minutes` after sign-in, or `idle_minutes` after the
/// last request, whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetime {
    pub absolute_minutes: u32,
    pub idle_minutes: u32,
}

/// Session lifetimes per role (`[server.sessions]`, each role optional): a clerk's lasts a shift,
/// treasury's and an administrator's are short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLifetimes {
    pub clerk: SessionLifetime,
    pub operator: SessionLifetime,
    pub treasury: SessionLifetime,
    pub admin: SessionLifetime,
}

impl Default for SessionLifetimes {
    fn default() -> SessionLifetimes {
        SessionLifetimes {
            clerk: SessionLifetime { absolute_minutes: 10 * 60, idle_minutes: 60 },
            operator: SessionLifetime { absolute_minutes: 10 * 60, idle_minutes: 60 },
            treasury: SessionLifetime { absolute_minutes: 2 * 60, idle_minutes: 15 },
            admin: SessionLifetime { absolute_minutes: 60, idle_minutes: 15 },
        }
    }
}

impl SessionLifetimes {
    /// The lifetime of a role's sessions; `None` for roles that cannot sign in to the pages.
    pub fn of(&self, role: Role) -> Option<SessionLifetime> {
        match role {
            Role::Clerk => Some(self.clerk),
            Role::Operator => Some(self.operator),
            Role::Treasury => Some(self.treasury),
            Role::Admin => Some(self.admin),
            _ => None,
        }
    }
}

/// Throttling of failed authentication (`[server]` keys `auth_*`; each has a default). A source
/// address (and a device's register, and a clerk trying approval codes) may fail this many times
/// a minute; the next failure is answered `429` with `Retry-After` for `auth_block_seconds`,
/// doubling with each block up to `auth_block_seconds_max`. Credentials that verify are never
/// slowed. Refusals are audited as one record per source per `auth_audit_interval_seconds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthThrottle {
    pub failures_per_minute: u32,
    pub block_seconds: u64,
    pub block_seconds_max: u64,
    pub audit_interval_seconds: u64,
}

impl Default for AuthThrottle {
    fn default() -> AuthThrottle {
        AuthThrottle { failures_per_minute: 5, block_seconds: 60, block_seconds_max: 900, audit_interval_seconds: 60 }
    }
}

/// The HTTP server's connection limits (`[server]` keys of the same names; each has a default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request's head (request line and headers) must have arrived this long after the
    /// connection opened or the previous response ended; otherwise the connection is closed. This
    /// also bounds how long a kept-alive connection may sit idle between requests.
    pub header_read_timeout_ms: u64,
    /// A connection on which no byte moved either way for this long is closed (gracefully: a
    /// request being answered is finished first).
    pub idle_timeout_ms: u64,
    /// Connections served at once; a connection beyond it is answered `503` and closed.
    pub connections_max: usize,
    /// Connections one source address may hold at once; beyond it, `503` and closed. (Behind a
    /// proxy every client shares the proxy's address: raise it to the proxy's own limit there.)
    pub connections_per_source_max: usize,
}

impl HttpLimits {
    pub const HEADER_READ_TIMEOUT_MS_DEFAULT: u64 = 10_000;
    pub const IDLE_TIMEOUT_MS_DEFAULT: u64 = 60_000;
    pub const CONNECTIONS_MAX_DEFAULT: usize = 1_024;
    pub const CONNECTIONS_PER_SOURCE_MAX_DEFAULT: usize = 64;
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            header_read_timeout_ms: HttpLimits::HEADER_READ_TIMEOUT_MS_DEFAULT,
            idle_timeout_ms: HttpLimits::IDLE_TIMEOUT_MS_DEFAULT,
            connections_max: HttpLimits::CONNECTIONS_MAX_DEFAULT,
            connections_per_source_max: HttpLimits::CONNECTIONS_PER_SOURCE_MAX_DEFAULT,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Database {
    /// `sqlite://path/to/journal.db` (relative paths are anchored at the config file's folder)
    /// or `postgres://user@host:port/db`.
    pub url: String,
    pub backend: Backend,
    pub connections_max: u32,
}

/// The URL may carry a password: printed without it.
impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &pos_core::url_for_display(&self.url))
            .field("backend", &self.backend)
            .field("connections_max", &self.connections_max)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct Operator {
    pub id: OperatorId,
    pub name_ja: String,
    pub name_en: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Price {
    Fixed(Yen),
    /// Amount entered at the counter, up to a maximum.
    Open {
        amount_max: Yen,
    },
}

#[derive(Debug, Clone)]
pub struct FeeItem {
    pub code: FeeItemCode,
    pub name_ja: String,
    pub name_en: String,
    pub price: Price,
    /// Revenue account code (歳入科目), as the city's accounting system writes it.
    pub revenue_account: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FacilityKind {
    CertificateCounter,
    Sports,
    Culture,
    Museum,
    CarPark,
    BicyclePark,
    Community,
}

impl FacilityKind {
    pub const ALL: [(&'static str, FacilityKind); 7] = [
        ("certificate_counter", FacilityKind::CertificateCounter),
        ("sports", FacilityKind::Sports),
        ("culture", FacilityKind::Culture),
        ("museum", FacilityKind::Museum),
        ("car_park", FacilityKind::CarPark),
        ("bicycle_park", FacilityKind::BicyclePark),
        ("community", FacilityKind::Community),
    ];
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    City,
    Operator(OperatorId),
}

/// Whose revenue a facility's takings are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevenueRule {
    /// 使用料: the city's revenue, collected at the counter (by the city or on its behalf).
    Shiyoryo,
    /// 利用料金制: the designated manager keeps the fee as its own revenue.
    RiyoRyokin,
}

impl RevenueRule {
    pub fn code(self) -> &'static str {
        match self {
            RevenueRule::Shiyoryo => "shiyoryo",
            RevenueRule::RiyoRyokin => "riyo_ryokin",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct CounterPolicy {
    /// May one sale be paid by more than one payment?
    pub split_tender: bool,
    /// May the counter sell items whose amount is entered by the clerk?
    pub open_price_items: bool,
    /// The largest cash amount one tender may hand over.
    pub cash_tendered_max: Yen,
}

#[derive(Debug, Clone)]
pub struct Register {
    pub id: RegisterId,
    pub terminal: Option<TerminalId>,
}

#[derive(Debug, Clone)]
pub struct Facility {
    pub id: FacilityId,
    pub name_ja: String,
    pub name_en: String,
    pub kind: FacilityKind,
    pub owner: Owner,
    pub revenue_rule: RevenueRule,
    /// ISO 8583 field 42: 15 characters.
    pub merchant_id: String,
    /// Half-width kana name on the facility's cash deposits in the bank statement.
    pub depositor_name: String,
    pub brands: Vec<Brand>,
    pub fee_items: Vec<FeeItemCode>,
    pub policy: CounterPolicy,
    pub registers: Vec<Register>,
}

impl Facility {
    pub fn sells(&self, code: &FeeItemCode) -> bool {
        self.fee_items.contains(code)
    }

    pub fn accepts(&self, brand: Brand) -> bool {
        self.brands.contains(&brand)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcquirerKind {
    Card,
    Emoney,
    Qr,
}

#[derive(Debug, Clone, Copy)]
pub struct FeeRate {
    pub brand: Brand,
    pub rate: Rate,
    pub rounding: Rounding,
    /// E-money brands: the bank business days after the transaction by which the centre
    /// settles a 処理未了 as 売上 or 取消 (its deadline); until then the line is "due", not an
    /// exception. `None` for card and QR brands, which have no 処理未了.
    pub outcome_unknown_deadline_business_days: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Acquirer {
    pub id: String,
    pub name: String,
    pub kind: AcquirerKind,
    pub depositor_name: String,
    pub settlement_lag_days: u32,
    /// 未収金 from this acquirer: what it owes until its payout arrives.
    pub receivable_account: String,
    pub fees: Vec<FeeRate>,
    pub link: Option<AcquirerLink>,
    /// The HTTPS link to a QR provider (kind `qr` only).
    pub qr_link: Option<QrLink>,
}

/// A secret from the configuration or the environment. `Debug` and `Display` print a mask, so no
/// log line or error message can carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself, for signing and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("****")
    }
}

/// The HTTPS API of a QR provider (PayPay Open Payment API v2, PROTOCOLS.md §2).
#[derive(Debug, Clone)]
pub struct QrLink {
    /// `https://…` in production; `http://` is accepted for local simulators only.
    pub base_url: String,
    pub api_key: String,
    pub api_secret: Secret,
    /// How often a shown code's payment status is read (PayPay recommends 2–5 s).
    pub poll_interval_ms: u64,
    /// How long one request to the provider may take before its outcome is in doubt.
    pub request_timeout_ms: u64,
    /// The wait between two attempts to resolve a payment in doubt.
    pub resolve_retry_ms: u64,
    /// Attempts to resolve a payment in doubt before it is left to treasury.
    pub resolve_tries_max: u32,
    /// The provider takes customer-presented barcodes (`POST /v2/payments`) as well as showing codes.
    pub customer_presented: bool,
    /// The CA trusted for the provider's HTTPS instead of the public roots; `None`: public roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Facility → the provider's merchant id (`X-ASSUME-MERCHANT`).
    pub merchants: BTreeMap<FacilityId, String>,
}

impl QrLink {
    /// The merchant to act for at a facility; empty means the key's only merchant.
    pub fn merchant_for(&self, facility: &FacilityId) -> &str {
        self.merchants.get(facility).map_or("", String::as_str)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Counter clerk: one register of one facility.
    Clerk,
    /// Designated-manager staff: the operator's facilities.
    Operator,
    /// Treasury (会計課): reads everything, closes days.
    Treasury,
    /// System administration.
    Admin,
    /// A counter's device bridge (counterd): takes its register's commands, reports results.
    Device,
    /// Monitoring (Prometheus, a load balancer's detailed readiness check): `/metrics` and
    /// `/readyz`'s detail, and no facility's data.
    Metrics,
}

impl Role {
    pub fn code(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Operator => "operator",
            Role::Treasury => "treasury",
            Role::Admin => "admin",
            Role::Device => "device",
            Role::Metrics => "metrics",
        }
    }
}

/// What a user may reach, fixed by the role and its binding in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Register {
        facility: FacilityId,
        register: RegisterId,
    },
    Operator(OperatorId),
    All,
    /// No facility at all: a monitoring user reads the system's state, never its business.
    NoFacilities,
}

#[derive(Debug, Clone)]
pub struct User {
    pub name: UserName,
    pub role: Role,
    pub scope: Scope,
    /// Hex SHA-256 of the bearer token; the token itself is never stored.
    pub token_sha256: String,
}

impl Config {
    pub fn facility(&self, id: &FacilityId) -> Option<&Facility> {
        self.facilities.iter().find(|f| &f.id == id)
    }

    pub fn register(&self, id: &RegisterId) -> Option<(&Facility, &Register)> {
        self.facilities
            .iter()
            .find_map(|facility| facility.registers.iter().find(|r| &r.id == id).map(|register| (facility, register)))
    }

    pub fn fee_item(&self, code: &FeeItemCode) -> Option<&FeeItem> {
        self.fee_items.get(code)
    }

    pub fn user_by_token_sha256(&self, digest: &str) -> Option<&User> {
        self.users.iter().find(|user| constant_time_eq(user.token_sha256.as_bytes(), digest.as_bytes()))
    }

    /// The facilities a designated-manager operator runs.
    pub fn operator_facilities(&self, operator: &OperatorId) -> impl Iterator<Item = &Facility> {
        let operator = operator.clone();
        self.facilities.iter().filter(move |f| f.owner == Owner::Operator(operator.clone()))
    }

    /// The refund rule of a brand; a brand without one allows partial refunds.
    pub fn brand_rule(&self, brand: Brand) -> BrandRule {
        self.brand_rules.iter().find(|rule| rule.brand == brand).copied().unwrap_or(BrandRule {
            brand,
            refund: RefundRule::Partial,
            refund_within_days: None,
        })
    }

    /// The QR provider link that takes a brand, if it is connected.
    pub fn qr_acquirer(&self, brand: Brand) -> Option<(&Acquirer, &QrLink)> {
        let (acquirer, _) = self.fee_rate(brand)?;
        acquirer.qr_link.as_ref().map(|link| (acquirer, link))
    }

    /// The contracted fee for a brand, from the acquirer that takes it.
    pub fn fee_rate(&self, brand: Brand) -> Option<(&Acquirer, FeeRate)> {
        self.acquirers
            .iter()
            .find_map(|acquirer| acquirer.fees.iter().find(|fee| fee.brand == brand).map(|fee| (acquirer, *fee)))
    }
}

/// Comparison whose time does not depend on where the inputs differ, for token digests.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
