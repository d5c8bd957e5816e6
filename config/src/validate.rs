//! From the file as written to the model, collecting every problem with its path.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;

use pos_core::{
    Brand, FacilityId, FeeItemCode, Method, OperatorId, Rate, RegisterId, Rounding, TerminalId, UserName, Yen,
};

use crate::model::*;
use crate::raw::*;
use crate::Issue;

/// The cap on a register's cash tender: ten million yen, far above any counter fee.
pub const CASH_TENDERED_MAX_LIMIT: i64 = 10_000_000;
/// The most connections a gateway node may open to its database.
pub const DATABASE_CONNECTIONS_MAX: u32 = 256;
/// Bounds on request limits, so a typo cannot disable them.
pub const REQUEST_BODY_BYTES_LIMIT: u64 = 16 * 1024 * 1024;
pub const REQUEST_TIMEOUT_MS_LIMIT: u64 = 600_000;
/// Bounds on the header-read and idle timeouts: below 100 ms a slow but honest network fails;
/// above ten minutes a slow client holds its connection as good as forever.
pub const CONNECTION_TIMEOUT_MS_MIN: u64 = 100;
pub const CONNECTION_TIMEOUT_MS_LIMIT: u64 = 600_000;
/// The most connections a gateway may be configured to serve at once (file descriptors).
pub const CONNECTIONS_LIMIT: u64 = 65_536;
/// Bounds on the authentication throttle: at most 100 failures a minute before a block, blocks
/// of at most a day, an audit summary at least every hour.
pub const AUTH_FAILURES_PER_MINUTE_LIMIT: u32 = 100;
pub const AUTH_BLOCK_SECONDS_LIMIT: u64 = 86_400;
pub const AUTH_AUDIT_INTERVAL_SECONDS_LIMIT: u64 = 3_600;
/// The longest a page session may last: a long day.
pub const SESSION_MINUTES_LIMIT: u32 = 16 * 60;
/// The longest settlement lag an acquirer contract may state, in days.
pub const SETTLEMENT_LAG_DAYS_MAX: u32 = 60;
/// The longest 処理未了 deadline an e-money brand may have, in bank business days.
pub const OUTCOME_UNKNOWN_DEADLINE_BUSINESS_DAYS_MAX: u32 = 60;
/// Bounds on the open data's suppression threshold, in payments: below 3 a cell could be one
/// person's two visits; above 1,000 nearly every facility's month would vanish.
pub const SUPPRESSION_THRESHOLD_PAYMENTS_MIN: u64 = 3;
pub const SUPPRESSION_THRESHOLD_PAYMENTS_MAX: u64 = 1_000;
/// The latest day of the month the open data may be published on (every month has it).
pub const PUBLISH_DAY_OF_MONTH_MAX: u32 = 28;
/// The longest fee item category code.
pub const CATEGORY_CODE_CHARS_MAX: usize = 40;
/// Bounds on the monthly report's settings.
pub const FEE_PER_PAYMENT_HIGH_YEN_MAX: i64 = 1_000_000;
pub const LAGGING_POINTS_MAX: u32 = 100;
/// A day has 1,440 minutes.
pub const CASH_HANDLING_MINUTES_MAX: u32 = 1_440;

#[derive(Default)]
struct Issues(Vec<Issue>);

impl Issues {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Issue { path: path.into(), message: message.into() });
    }

    /// Parses a value, recording the failure under `path`.
    fn parse<T, E: std::fmt::Display>(&mut self, path: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(path, error.to_string());
                None
            }
        }
    }

    fn non_empty(&mut self, path: &str, value: &str) {
        if value.trim().is_empty() {
            self.add(path, "must not be empty");
        }
    }
}

pub fn validate(raw: RawConfig, base_dir: &Path) -> Result<Config, Vec<Issue>> {
    let mut issues = Issues::default();

    issues.non_empty("city.name_ja", &raw.city.name_ja);
    issues.non_empty("city.name_en", &raw.city.name_en);
    let city = City { name_ja: raw.city.name_ja, name_en: raw.city.name_en };

    let server = validate_server(&raw.server, base_dir, &mut issues);
    let database = validate_database(&raw.database, base_dir, &mut issues);

    let mut operators = Vec::new();
    let mut operator_ids = HashSet::new();
    for (index, operator) in raw.operators.iter().enumerate() {
        let path = format!("operators[{index}]");
        issues.non_empty(&format!("{path}.name_ja"), &operator.name_ja);
        issues.non_empty(&format!("{path}.name_en"), &operator.name_en);
        if let Some(id) = issues.parse(&format!("{path}.id"), OperatorId::parse(&operator.id)) {
            if !operator_ids.insert(id.clone()) {
                issues.add(format!("{path}.id"), format!("duplicate operator id {:?}", operator.id));
            }
            operators.push(Operator { id, name_ja: operator.name_ja.clone(), name_en: operator.name_en.clone() });
        }
    }

    let fee_items = validate_fee_items(&raw.fee_items, &mut issues);
    let acquirers = validate_acquirers(&raw.acquirers, base_dir, &mut issues);
    let accounting = validate_accounting(raw.accounting.as_ref(), &raw.acquirers, &mut issues);
    // A brand named by any acquirer counts as routed even if that fee line has another problem,
    // so one mistake is reported once, not again at every facility that takes the brand.
    let routed_brands: HashSet<Brand> =
        raw.acquirers.iter().flat_map(|a| a.fees.iter().filter_map(|f| Brand::from_str(&f.brand).ok())).collect();
    let declared_fee_items: HashSet<&str> = raw.fee_items.iter().map(|item| item.code.as_str()).collect();

    let mut facilities = Vec::new();
    let mut facility_ids = HashSet::new();
    let mut register_ids = HashSet::new();
    let mut terminal_ids = HashSet::new();
    let mut merchant_ids = HashSet::new();
    if raw.facilities.is_empty() {
        issues.add("facilities", "at least one facility is required");
    }
    for (index, facility) in raw.facilities.iter().enumerate() {
        let path = format!("facilities[{index}]");
        let context = FacilityContext {
            operator_ids: &operator_ids,
            fee_items: &fee_items,
            declared_fee_items: &declared_fee_items,
            routed_brands: &routed_brands,
        };
        if let Some(valid) = validate_facility(&path, facility, &context, &mut issues) {
            if !facility_ids.insert(valid.id.clone()) {
                issues.add(format!("{path}.id"), format!("duplicate facility id {:?}", facility.id));
            }
            if !merchant_ids.insert(valid.merchant_id.clone()) {
                issues.add(
                    format!("{path}.merchant_id"),
                    format!("merchant id {:?} is used by another facility", valid.merchant_id),
                );
            }
            for (register_index, register) in valid.registers.iter().enumerate() {
                if !register_ids.insert(register.id.clone()) {
                    issues.add(
                        format!("{path}.registers[{register_index}].id"),
                        format!("duplicate register id {:?}", register.id.as_str()),
                    );
                }
                if let Some(terminal) = &register.terminal {
                    if !terminal_ids.insert(terminal.clone()) {
                        issues.add(
                            format!("{path}.registers[{register_index}].terminal"),
                            format!("terminal {:?} is assigned to another register", terminal.as_str()),
                        );
                    }
                }
            }
            facilities.push(valid);
        }
    }

    let users = validate_users(&raw.users, &facilities, &operator_ids, &mut issues);
    let brand_rules = validate_brand_rules(&raw.brand_rules, &mut issues);
    let terminal_host = raw.terminal_host.as_ref().and_then(|host| validate_terminal_host(host, base_dir, &mut issues));
    let calendar = validate_calendar(raw.calendar.as_ref(), base_dir, &mut issues);
    let open_data = raw.open_data.as_ref().and_then(|open| validate_open_data(open, &fee_items, base_dir, &mut issues));
    let monthly_report = raw
        .monthly_report
        .as_ref()
        .map_or_else(MonthlyReport::default, |report| validate_monthly_report(report, &mut issues).unwrap_or_default());

    if issues.0.is_empty() {
        if let (Some(server), Some(database)) = (server, database) {
            return Ok(Config {
                city,
                server,
                database,
                operators,
                fee_items,
                facilities,
                acquirers,
                brand_rules,
                terminal_host,
                users,
                accounting,
                calendar,
                open_data,
                monthly_report,
            });
        }
    }
    Err(issues.0)
}

fn validate_server(raw: &RawServer, base_dir: &Path, issues: &mut Issues) -> Option<Server> {
    let listen = issues.parse(
        "server.listen",
        raw.listen
            .parse::<std::net::SocketAddr>()
            .map_err(|_| format!("{:?} is not an address such as 127.0.0.1:8080", raw.listen)),
    );
    if raw.request_body_bytes_max == 0 || raw.request_body_bytes_max > REQUEST_BODY_BYTES_LIMIT {
        issues.add("server.request_body_bytes_max", format!("must be between 1 and {REQUEST_BODY_BYTES_LIMIT}"));
    }
    if raw.request_timeout_ms == 0 || raw.request_timeout_ms > REQUEST_TIMEOUT_MS_LIMIT {
        issues.add("server.request_timeout_ms", format!("must be between 1 and {REQUEST_TIMEOUT_MS_LIMIT}"));
    }
    let request_body_bytes_max = usize::try_from(raw.request_body_bytes_max).ok()?;
    let limits = validate_http_limits(raw, issues);
    let auth_throttle = validate_auth_throttle(raw, issues);
    let sessions = validate_sessions(raw.sessions.as_ref(), issues);
    if let Some(url) = &raw.public_url {
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains('@') {
            issues.add("server.public_url", "must be an http:// or https:// address without user information");
        }
    }
    let tls = raw.tls.as_ref().map(|tls| ServerTls {
        cert_file: anchored(base_dir, &tls.cert_file),
        key_file: anchored(base_dir, &tls.key_file),
        client_ca_file: tls.client_ca_file.as_deref().map(|file| anchored(base_dir, file)),
    });
    Some(Server {
        tls,
        public_url: raw.public_url.clone(),
        sessions,
        listen: listen?,
        request_body_bytes_max,
        request_timeout_ms: raw.request_timeout_ms,
        limits,
        auth_throttle,
    })
}

fn validate_sessions(raw: Option<&RawSessions>, issues: &mut Issues) -> SessionLifetimes {
    let mut lifetimes = SessionLifetimes::default();
    let Some(raw) = raw else { return lifetimes };
    for (role, given, slot) in [
        ("clerk", &raw.clerk, &mut lifetimes.clerk),
        ("operator", &raw.operator, &mut lifetimes.operator),
        ("treasury", &raw.treasury, &mut lifetimes.treasury),
        ("admin", &raw.admin, &mut lifetimes.admin),
    ] {
        let Some(given) = given else { continue };
        if given.absolute_minutes == 0 || given.absolute_minutes > SESSION_MINUTES_LIMIT {
            issues.add(
                format!("server.sessions.{role}.absolute_minutes"),
                format!("must be between 1 and {SESSION_MINUTES_LIMIT}"),
            );
        }
        if given.idle_minutes == 0 || given.idle_minutes > given.absolute_minutes {
            issues.add(format!("server.sessions.{role}.idle_minutes"), "must be between 1 and absolute_minutes");
        }
        *slot = SessionLifetime { absolute_minutes: given.absolute_minutes, idle_minutes: given.idle_minutes };
    }
    lifetimes
}

fn validate_auth_throttle(raw: &RawServer, issues: &mut Issues) -> AuthThrottle {
    let defaults = AuthThrottle::default();
    let throttle = AuthThrottle {
        failures_per_minute: raw.auth_failures_per_minute.unwrap_or(defaults.failures_per_minute),
        block_seconds: raw.auth_block_seconds.unwrap_or(defaults.block_seconds),
        block_seconds_max: raw.auth_block_seconds_max.unwrap_or(defaults.block_seconds_max),
        audit_interval_seconds: raw.auth_audit_interval_seconds.unwrap_or(defaults.audit_interval_seconds),
    };
    if throttle.failures_per_minute == 0 || throttle.failures_per_minute > AUTH_FAILURES_PER_MINUTE_LIMIT {
        issues
            .add("server.auth_failures_per_minute", format!("must be between 1 and {AUTH_FAILURES_PER_MINUTE_LIMIT}"));
    }
    if throttle.block_seconds == 0 || throttle.block_seconds > AUTH_BLOCK_SECONDS_LIMIT {
        issues.add("server.auth_block_seconds", format!("must be between 1 and {AUTH_BLOCK_SECONDS_LIMIT}"));
    }
    if throttle.block_seconds_max < throttle.block_seconds || throttle.block_seconds_max > AUTH_BLOCK_SECONDS_LIMIT {
        issues.add(
            "server.auth_block_seconds_max",
            format!("must be between server.auth_block_seconds and {AUTH_BLOCK_SECONDS_LIMIT}"),
        );
    }
    if throttle.audit_interval_seconds == 0 || throttle.audit_interval_seconds > AUTH_AUDIT_INTERVAL_SECONDS_LIMIT {
        issues.add(
            "server.auth_audit_interval_seconds",
            format!("must be between 1 and {AUTH_AUDIT_INTERVAL_SECONDS_LIMIT}"),
        );
    }
    throttle
}

fn validate_http_limits(raw: &RawServer, issues: &mut Issues) -> HttpLimits {
    let defaults = HttpLimits::default();
    let header_read_timeout_ms = raw.header_read_timeout_ms.unwrap_or(defaults.header_read_timeout_ms);
    let idle_timeout_ms = raw.idle_timeout_ms.unwrap_or(defaults.idle_timeout_ms);
    for (key, value) in [("header_read_timeout_ms", header_read_timeout_ms), ("idle_timeout_ms", idle_timeout_ms)] {
        if !(CONNECTION_TIMEOUT_MS_MIN..=CONNECTION_TIMEOUT_MS_LIMIT).contains(&value) {
            issues.add(
                format!("server.{key}"),
                format!("must be between {CONNECTION_TIMEOUT_MS_MIN} and {CONNECTION_TIMEOUT_MS_LIMIT}"),
            );
        }
    }
    let connections_max = raw.connections_max.unwrap_or(defaults.connections_max as u64);
    let per_source = raw.connections_per_source_max.unwrap_or(defaults.connections_per_source_max as u64);
    if connections_max == 0 || connections_max > CONNECTIONS_LIMIT {
        issues.add("server.connections_max", format!("must be between 1 and {CONNECTIONS_LIMIT}"));
    }
    if per_source == 0 || per_source > connections_max {
        issues.add("server.connections_per_source_max", "must be between 1 and server.connections_max");
    }
    HttpLimits {
        header_read_timeout_ms,
        idle_timeout_ms,
        connections_max: usize::try_from(connections_max).unwrap_or(usize::MAX),
        connections_per_source_max: usize::try_from(per_source).unwrap_or(usize::MAX),
    }
}

fn validate_database(raw: &RawDatabase, base_dir: &Path, issues: &mut Issues) -> Option<Database> {
    if raw.connections_max == 0 || raw.connections_max > DATABASE_CONNECTIONS_MAX {
        issues.add("database.connections_max", format!("must be between 1 and {DATABASE_CONNECTIONS_MAX}"));
    }
    if let Some(rest) = raw.url.strip_prefix("sqlite://") {
        let (file, query) = rest.split_once('?').map_or((rest, None), |(f, q)| (f, Some(q)));
        if file.is_empty() || file.ends_with('/') {
            issues.add("database.url", "sqlite URL needs a file path, e.g. sqlite://data/journal.db");
            return None;
        }
        // Absolute and without `..`: sqlx reads a database URL as a URL, where a relative
        // `sqlite://dir/../file` would name host `dir` and lose the `..`.
        let anchored = if file == ":memory:" {
            file.to_string()
        } else {
            lexically_absolute(&base_dir.join(file)).to_string_lossy().into_owned()
        };
        let url = match query {
            Some(query) => format!("sqlite://{anchored}?{query}"),
            None => format!("sqlite://{anchored}"),
        };
        Some(Database { url, backend: Backend::Sqlite, connections_max: raw.connections_max })
    } else if raw.url.starts_with("postgres://") || raw.url.starts_with("postgresql://") {
        Some(Database { url: raw.url.clone(), backend: Backend::Postgres, connections_max: raw.connections_max })
    } else {
        issues.add("database.url", "must start with sqlite:// or postgres://");
        None
    }
}

/// `path` made absolute (against the working directory) with `.` and `..` resolved by name, not
/// by following links: what a URL's path can carry.
fn lexically_absolute(path: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut resolved = std::path::PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            other => resolved.push(other),
        }
    }
    resolved
}

fn validate_fee_items(raw: &[RawFeeItem], issues: &mut Issues) -> BTreeMap<FeeItemCode, FeeItem> {
    let mut items = BTreeMap::new();
    if raw.is_empty() {
        issues.add("fee_items", "at least one fee item is required");
    }
    for (index, item) in raw.iter().enumerate() {
        let path = format!("fee_items[{index}]");
        issues.non_empty(&format!("{path}.name_ja"), &item.name_ja);
        issues.non_empty(&format!("{path}.name_en"), &item.name_en);
        if !is_account_code(&item.revenue_account) {
            issues.add(
                format!("{path}.revenue_account"),
                format!("{:?} is not a revenue account code (digits and '-')", item.revenue_account),
            );
        }
        let positive = |value: i64| -> Result<Yen, String> {
            let yen = Yen::new(value).map_err(|e| e.to_string())?;
            if yen.get() <= 0 {
                return Err(format!("{value} is not a positive amount of yen"));
            }
            Ok(yen)
        };
        let price = match (&item.price, item.open_amount_max) {
            (RawPrice::Fixed(value), None) => {
                issues.parse(&format!("{path}.price"), positive(*value)).map(Price::Fixed)
            }
            (RawPrice::Fixed(_), Some(_)) => {
                issues.add(
                    format!("{path}.open_amount_max"),
                    "only an open-priced item (price = \"open\") has a maximum",
                );
                None
            }
            (RawPrice::Keyword(word), max) if word == "open" => match max {
                Some(max) => issues
                    .parse(&format!("{path}.open_amount_max"), positive(max))
                    .map(|amount_max| Price::Open { amount_max }),
                None => {
                    issues.add(format!("{path}.open_amount_max"), "an open-priced item needs open_amount_max");
                    None
                }
            },
            (RawPrice::Keyword(word), _) => {
                issues.add(format!("{path}.price"), format!("{word:?} is neither an amount in yen nor \"open\""));
                None
            }
        };
        let code = issues.parse(&format!("{path}.code"), FeeItemCode::parse(&item.code));
        if let (Some(code), Some(price)) = (code, price) {
            if items.contains_key(&code) {
                issues.add(format!("{path}.code"), format!("duplicate fee item code {:?}", item.code));
                continue;
            }
            items.insert(
                code.clone(),
                FeeItem {
                    code,
                    name_ja: item.name_ja.clone(),
                    name_en: item.name_en.clone(),
                    price,
                    revenue_account: item.revenue_account.clone(),
                },
            );
        }
    }
    items
}

/// An account code as the city's accounting system writes it: digits and '-'.
fn is_account_code(code: &str) -> bool {
    !code.trim().is_empty() && code.bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

/// The `[accounting]` codes, each checked; with them, every acquirer needs its receivable
/// account too, so that no line of the export falls back to an unmapped code.
fn validate_accounting(raw: Option<&RawAccounting>, acquirers: &[RawAcquirer], issues: &mut Issues) -> Accounting {
    for (index, acquirer) in acquirers.iter().enumerate() {
        let path = format!("acquirers[{index}].receivable_account");
        match &acquirer.receivable_account {
            Some(code) if !is_account_code(code) => {
                issues.add(path, format!("{code:?} is not an account code (digits and '-')"));
            }
            None if raw.is_some() => issues.add(path, "required when [accounting] gives the account codes"),
            _ => {}
        }
    }
    let Some(raw) = raw else { return Accounting::unmapped() };
    for (field, code) in [
        ("cash_account", &raw.cash_account),
        ("unsettled_account", &raw.unsettled_account),
        ("fee_expense_account", &raw.fee_expense_account),
        ("cash_over_account", &raw.cash_over_account),
        ("cash_short_account", &raw.cash_short_account),
        ("suspense_account", &raw.suspense_account),
        ("refund_expense_account", &raw.refund_expense_account),
        ("bank_account", &raw.bank_account),
        ("bank_charge_account", &raw.bank_charge_account),
    ] {
        if !is_account_code(code) {
            issues.add(format!("accounting.{field}"), format!("{code:?} is not an account code (digits and '-')"));
        }
    }
    Accounting {
        cash_account: raw.cash_account.clone(),
        unsettled_account: raw.unsettled_account.clone(),
        fee_expense_account: raw.fee_expense_account.clone(),
        cash_over_account: raw.cash_over_account.clone(),
        cash_short_account: raw.cash_short_account.clone(),
        suspense_account: raw.suspense_account.clone(),
        refund_expense_account: raw.refund_expense_account.clone(),
        bank_account: raw.bank_account.clone(),
        bank_charge_account: raw.bank_charge_account.clone(),
    }
}

/// An e-money brand's 処理未了 deadline: required (the reconciler cannot tell "due" from "late"
/// without it) and within [`OUTCOME_UNKNOWN_DEADLINE_BUSINESS_DAYS_MAX`]; any other brand has no
/// 処理未了, so the key is refused there rather than silently ignored.
fn validate_outcome_unknown_deadline(
    fee_path: &str,
    brand: Option<Brand>,
    fee: &RawFee,
    issues: &mut Issues,
) -> Option<u32> {
    let path = format!("{fee_path}.outcome_unknown_deadline_business_days");
    let emoney = brand.map(|brand| brand.method() == Method::Emoney);
    match (fee.outcome_unknown_deadline_business_days, emoney) {
        (None, Some(true)) => {
            issues.add(path, "required for an e-money brand: the centre's deadline for settling a 処理未了");
            None
        }
        (Some(_), Some(false)) => {
            issues.add(path, "only e-money brands have a 処理未了 deadline");
            None
        }
        (Some(days), _) if days == 0 || days > OUTCOME_UNKNOWN_DEADLINE_BUSINESS_DAYS_MAX => {
            issues.add(path, format!("must be 1 to {OUTCOME_UNKNOWN_DEADLINE_BUSINESS_DAYS_MAX} bank business days"));
            None
        }
        (days, _) => days,
    }
}

fn validate_acquirers(raw: &[RawAcquirer], base_dir: &Path, issues: &mut Issues) -> Vec<Acquirer> {
    let mut acquirers = Vec::new();
    let mut ids = HashSet::new();
    let mut brand_owner: HashMap<Brand, usize> = HashMap::new();
    for (index, acquirer) in raw.iter().enumerate() {
        let path = format!("acquirers[{index}]");
        if acquirer.id.trim().is_empty() || !ids.insert(acquirer.id.clone()) {
            issues.add(format!("{path}.id"), format!("acquirer id {:?} is empty or used twice", acquirer.id));
        }
        issues.non_empty(&format!("{path}.name"), &acquirer.name);
        issues.non_empty(&format!("{path}.depositor_name"), &acquirer.depositor_name);
        if acquirer.settlement_lag_days > SETTLEMENT_LAG_DAYS_MAX {
            issues
                .add(format!("{path}.settlement_lag_days"), format!("must be at most {SETTLEMENT_LAG_DAYS_MAX} days"));
        }
        let kind = match acquirer.kind.as_str() {
            "card" => Some(AcquirerKind::Card),
            "emoney" => Some(AcquirerKind::Emoney),
            "qr" => Some(AcquirerKind::Qr),
            other => {
                issues.add(
                    format!("{path}.kind"),
                    format!("unknown acquirer kind {other:?} (expected card, emoney or qr)"),
                );
                None
            }
        };
        let mut fees = Vec::new();
        for (fee_index, fee) in acquirer.fees.iter().enumerate() {
            let fee_path = format!("{path}.fees[{fee_index}]");
            let brand = issues.parse(&format!("{fee_path}.brand"), Brand::from_str(&fee.brand));
            let rate = issues.parse(&format!("{fee_path}.rate"), Rate::parse_percent(&fee.rate));
            let rounding = issues.parse(&format!("{fee_path}.rounding"), Rounding::from_str(&fee.rounding));
            if let (Some(brand), Some(kind)) = (brand, kind) {
                let expected = match kind {
                    AcquirerKind::Card => Method::Card,
                    AcquirerKind::Emoney => Method::Emoney,
                    AcquirerKind::Qr => Method::Qr,
                };
                if brand.method() != expected {
                    issues.add(
                        format!("{fee_path}.brand"),
                        format!("{brand} is a {} brand; a {} acquirer cannot take it", brand.method(), acquirer.kind),
                    );
                }
                if let Some(previous) = brand_owner.insert(brand, index) {
                    issues.add(
                        format!("{fee_path}.brand"),
                        format!("{brand} is already routed to acquirers[{previous}]"),
                    );
                }
            }
            let deadline = validate_outcome_unknown_deadline(&fee_path, brand, fee, issues);
            if let (Some(brand), Some(rate), Some(rounding)) = (brand, rate, rounding) {
                fees.push(FeeRate { brand, rate, rounding, outcome_unknown_deadline_business_days: deadline });
            }
        }
        let link =
            acquirer.link.as_ref().and_then(|link| validate_link(&format!("{path}.link"), link, base_dir, issues));
        if kind == Some(AcquirerKind::Qr) && acquirer.link.is_some() {
            issues.add(format!("{path}.link"), "a QR provider is reached over HTTPS, not an ISO 8583 link");
        }
        let qr_link = acquirer
            .qr_link
            .as_ref()
            .and_then(|raw| validate_qr_link(&format!("{path}.qr_link"), raw, base_dir, issues));
        if kind.is_some_and(|kind| kind != AcquirerKind::Qr) && acquirer.qr_link.is_some() {
            issues.add(format!("{path}.qr_link"), "only a QR provider (kind qr) has a qr_link");
        }
        if let Some(kind) = kind {
            acquirers.push(Acquirer {
                id: acquirer.id.clone(),
                name: acquirer.name.clone(),
                kind,
                depositor_name: acquirer.depositor_name.clone(),
                settlement_lag_days: acquirer.settlement_lag_days,
                receivable_account: acquirer
                    .receivable_account
                    .clone()
                    .unwrap_or_else(|| Accounting::unmapped_receivable(&acquirer.id)),
                fees,
                link,
                qr_link,
            });
        }
    }
    acquirers
}

struct FacilityContext<'a> {
    operator_ids: &'a HashSet<OperatorId>,
    fee_items: &'a BTreeMap<FeeItemCode, FeeItem>,
    /// Codes written in the catalogue, valid or not: an invalid item is reported where it is
    /// defined, not again as "unknown" where it is sold.
    declared_fee_items: &'a HashSet<&'a str>,
    routed_brands: &'a HashSet<Brand>,
}

fn validate_facility(
    path: &str,
    raw: &RawFacility,
    context: &FacilityContext<'_>,
    issues: &mut Issues,
) -> Option<Facility> {
    let id = issues.parse(&format!("{path}.id"), FacilityId::parse(&raw.id));
    issues.non_empty(&format!("{path}.name_ja"), &raw.name_ja);
    issues.non_empty(&format!("{path}.name_en"), &raw.name_en);
    issues.non_empty(&format!("{path}.depositor_name"), &raw.depositor_name);
    let kind = FacilityKind::ALL.iter().find(|(name, _)| *name == raw.kind).map(|(_, kind)| *kind);
    if kind.is_none() {
        let names: Vec<&str> = FacilityKind::ALL.iter().map(|(name, _)| *name).collect();
        issues.add(
            format!("{path}.kind"),
            format!("unknown facility kind {:?} (expected one of {})", raw.kind, names.join(", ")),
        );
    }
    let owner = if raw.owner == "city" {
        Some(Owner::City)
    } else {
        match OperatorId::parse(&raw.owner) {
            Ok(operator) if context.operator_ids.contains(&operator) => Some(Owner::Operator(operator)),
            _ => {
                issues.add(
                    format!("{path}.owner"),
                    format!("{:?} is neither \"city\" nor a configured operator id", raw.owner),
                );
                None
            }
        }
    };
    let revenue_rule = match raw.revenue_rule.as_str() {
        "shiyoryo" => Some(RevenueRule::Shiyoryo),
        "riyo_ryokin" => Some(RevenueRule::RiyoRyokin),
        other => {
            issues.add(
                format!("{path}.revenue_rule"),
                format!("unknown revenue rule {other:?} (expected shiyoryo (使用料) or riyo_ryokin (利用料金制))"),
            );
            None
        }
    };
    if owner == Some(Owner::City) && revenue_rule == Some(RevenueRule::RiyoRyokin) {
        issues.add(
            format!("{path}.revenue_rule"),
            "利用料金制 (riyo_ryokin) applies only to a facility run by a designated-manager operator",
        );
    }
    if raw.merchant_id.len() != 15 || !raw.merchant_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        issues.add(
            format!("{path}.merchant_id"),
            format!("{:?} must be 15 ASCII letters or digits (ISO 8583 field 42)", raw.merchant_id),
        );
    }

    let mut brands = Vec::new();
    for (index, brand) in raw.brands.iter().enumerate() {
        let brand_path = format!("{path}.brands[{index}]");
        if let Some(brand) = issues.parse(&brand_path, Brand::from_str(brand)) {
            if brands.contains(&brand) {
                issues.add(&brand_path, format!("{brand} is listed twice"));
            } else if brand != Brand::Cash && !context.routed_brands.contains(&brand) {
                issues.add(&brand_path, format!("no acquirer takes {brand}: add it to an acquirer's fees"));
            } else {
                brands.push(brand);
            }
        }
    }
    if raw.brands.is_empty() {
        issues.add(format!("{path}.brands"), "a facility must accept at least one brand");
    }

    let mut fee_items = Vec::new();
    for (index, code) in raw.fee_items.iter().enumerate() {
        let item_path = format!("{path}.fee_items[{index}]");
        match FeeItemCode::parse(code).ok().and_then(|code| context.fee_items.get(&code)) {
            Some(item) if fee_items.contains(&item.code) => {
                issues.add(&item_path, format!("fee item {code:?} is listed twice"))
            }
            Some(item) => {
                if matches!(item.price, Price::Open { .. }) && !raw.policy.open_price_items {
                    issues.add(
                        &item_path,
                        format!("fee item {code:?} is open-priced but the facility's policy forbids open-priced items"),
                    );
                }
                fee_items.push(item.code.clone());
            }
            None if context.declared_fee_items.contains(code.as_str()) => {}
            None => issues.add(&item_path, format!("unknown fee item {code:?}")),
        }
    }
    if raw.fee_items.is_empty() {
        issues.add(format!("{path}.fee_items"), "a facility must sell at least one fee item");
    }

    if raw.policy.cash_tendered_max <= 0 || raw.policy.cash_tendered_max > CASH_TENDERED_MAX_LIMIT {
        issues.add(
            format!("{path}.policy.cash_tendered_max"),
            format!("must be between 1 and {CASH_TENDERED_MAX_LIMIT} yen"),
        );
    }
    let cash_tendered_max = Yen::new(raw.policy.cash_tendered_max.clamp(0, CASH_TENDERED_MAX_LIMIT)).ok()?;

    let mut registers = Vec::new();
    if raw.registers.is_empty() {
        issues.add(format!("{path}.registers"), "a facility needs at least one register");
    }
    for (index, register) in raw.registers.iter().enumerate() {
        let register_path = format!("{path}.registers[{index}]");
        let register_id = issues.parse(&format!("{register_path}.id"), RegisterId::parse(&register.id));
        let terminal = match &register.terminal {
            Some(terminal) => issues.parse(&format!("{register_path}.terminal"), TerminalId::parse(terminal)).map(Some),
            None => Some(None),
        };
        if let (Some(id), Some(terminal)) = (register_id, terminal) {
            registers.push(Register { id, terminal });
        }
    }

    Some(Facility {
        id: id?,
        name_ja: raw.name_ja.clone(),
        name_en: raw.name_en.clone(),
        kind: kind?,
        owner: owner?,
        revenue_rule: revenue_rule?,
        merchant_id: raw.merchant_id.clone(),
        depositor_name: raw.depositor_name.clone(),
        brands,
        fee_items,
        policy: CounterPolicy {
            split_tender: raw.policy.split_tender,
            open_price_items: raw.policy.open_price_items,
            cash_tendered_max,
        },
        registers,
    })
}

fn validate_users(
    raw: &[RawUser],
    facilities: &[Facility],
    operator_ids: &HashSet<OperatorId>,
    issues: &mut Issues,
) -> Vec<User> {
    let mut users = Vec::new();
    let mut names = HashSet::new();
    let mut digests = HashSet::new();
    for (index, user) in raw.iter().enumerate() {
        let path = format!("users[{index}]");
        let name = issues.parse(&format!("{path}.name"), UserName::parse(&user.name));
        if name.is_some() && !names.insert(user.name.clone()) {
            issues.add(format!("{path}.name"), format!("duplicate user name {:?}", user.name));
        }
        let digest = user.token_sha256.to_ascii_lowercase();
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            issues.add(format!("{path}.token_sha256"), "must be the 64 hex digits of the token's SHA-256");
        } else if !digests.insert(digest.clone()) {
            issues.add(format!("{path}.token_sha256"), "the same token is given to two users");
        }
        let unexpected = |issues: &mut Issues, key: &str, present: bool, role: &str| {
            if present {
                issues.add(format!("{path}.{key}"), format!("a {role} user has no {key}"));
            }
        };
        let (role, scope) = match user.role.as_str() {
            role_name @ ("clerk" | "device") => {
                let role = if role_name == "clerk" { Role::Clerk } else { Role::Device };
                unexpected(issues, "operator", user.operator.is_some(), role_name);
                let facility = user.facility.as_deref().and_then(|f| facilities.iter().find(|x| x.id.as_str() == f));
                let register = user.register.as_deref();
                match (facility, register) {
                    (Some(facility), Some(register)) => {
                        match facility.registers.iter().find(|r| r.id.as_str() == register) {
                            Some(register) => (
                                Some(role),
                                Some(Scope::Register { facility: facility.id.clone(), register: register.id.clone() }),
                            ),
                            None => {
                                issues.add(
                                    format!("{path}.register"),
                                    format!("register {register:?} is not a register of facility {}", facility.id),
                                );
                                (Some(role), None)
                            }
                        }
                    }
                    _ => {
                        issues.add(&path, format!("a {role_name} needs an existing facility and one of its registers"));
                        (Some(role), None)
                    }
                }
            }
            "operator" => {
                unexpected(issues, "facility", user.facility.is_some(), "operator");
                unexpected(issues, "register", user.register.is_some(), "operator");
                match user
                    .operator
                    .as_deref()
                    .and_then(|o| OperatorId::parse(o).ok())
                    .filter(|o| operator_ids.contains(o))
                {
                    Some(operator) => (Some(Role::Operator), Some(Scope::Operator(operator))),
                    None => {
                        issues.add(format!("{path}.operator"), "an operator user needs an existing operator id");
                        (Some(Role::Operator), None)
                    }
                }
            }
            "treasury" | "admin" => {
                let role_name = user.role.as_str();
                unexpected(issues, "facility", user.facility.is_some(), role_name);
                unexpected(issues, "register", user.register.is_some(), role_name);
                unexpected(issues, "operator", user.operator.is_some(), role_name);
                let role = if role_name == "treasury" { Role::Treasury } else { Role::Admin };
                (Some(role), Some(Scope::All))
            }
            "metrics" => {
                unexpected(issues, "facility", user.facility.is_some(), "metrics");
                unexpected(issues, "register", user.register.is_some(), "metrics");
                unexpected(issues, "operator", user.operator.is_some(), "metrics");
                (Some(Role::Metrics), Some(Scope::NoFacilities))
            }
            other => {
                issues.add(
                    format!("{path}.role"),
                    format!("unknown role {other:?} (expected clerk, operator, treasury, admin, device or metrics)"),
                );
                (None, None)
            }
        };
        if let (Some(name), Some(role), Some(scope)) = (name, role, scope) {
            users.push(User { name, role, scope, token_sha256: digest });
        }
    }
    users
}

/// Bounds on link settings, so a typo cannot disable a limit.
pub const LINK_TIMEOUT_MS_LIMIT: u64 = 120_000;
pub const LINK_IN_FLIGHT_LIMIT: usize = 10_000;
pub const REVERSAL_TRIES_LIMIT: u32 = 100;
pub const DEVICE_WAIT_MS_LIMIT: u64 = 600_000;
/// The longest window in which a terminal may still reverse an answered authorization ("well
/// under a minute" is the intent; a minute is the hard limit).
pub const REVERSAL_WINDOW_MS_LIMIT: u64 = 60_000;

/// The holiday directory, resolved against the configuration's directory. Whether it exists is
/// checked when the calendar reads it (the error then names the directory and the file).
fn validate_calendar(raw: Option<&RawCalendar>, base_dir: &Path, issues: &mut Issues) -> Calendar {
    let Some(raw) = raw else { return Calendar::default() };
    if raw.holidays_dir.trim().is_empty() {
        issues.add("calendar.holidays_dir", "must name a directory (or leave [calendar] out)");
        return Calendar::default();
    }
    Calendar { holidays_dir: Some(anchored(base_dir, &raw.holidays_dir)) }
}

fn anchored(base_dir: &Path, file: &str) -> std::path::PathBuf {
    if Path::new(file).is_absolute() {
        std::path::PathBuf::from(file)
    } else {
        base_dir.join(file)
    }
}

fn bounded_u64(issues: &mut Issues, path: String, value: u64, max: u64) {
    if value == 0 || value > max {
        issues.add(path, format!("must be between 1 and {max}"));
    }
}

fn validate_link(path: &str, raw: &RawLink, base_dir: &Path, issues: &mut Issues) -> Option<AcquirerLink> {
    if raw.endpoints.is_empty() {
        issues.add(format!("{path}.endpoints"), "at least one endpoint (host:port) is required");
    }
    for (index, endpoint) in raw.endpoints.iter().enumerate() {
        let valid = endpoint
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
        if !valid {
            issues.add(format!("{path}.endpoints[{index}]"), format!("{endpoint:?} is not host:port"));
        }
    }
    if raw.institution_id > 99_999_999_999 {
        issues.add(format!("{path}.institution_id"), "must have at most 11 digits (ISO 8583 field 90)");
    }
    issues.non_empty(&format!("{path}.server_name"), &raw.server_name);
    issues.non_empty(&format!("{path}.ca_file"), &raw.ca_file);
    bounded_u64(issues, format!("{path}.request_timeout_ms"), raw.request_timeout_ms, LINK_TIMEOUT_MS_LIMIT);
    bounded_u64(issues, format!("{path}.echo_interval_ms"), raw.echo_interval_ms, 3_600_000);
    bounded_u64(
        issues,
        format!("{path}.reconnect_backoff_ms_max"),
        raw.reconnect_backoff_ms_max,
        LINK_TIMEOUT_MS_LIMIT,
    );
    bounded_u64(issues, format!("{path}.reversal_backoff_ms"), raw.reversal_backoff_ms, LINK_TIMEOUT_MS_LIMIT);
    if raw.in_flight_max == 0 || raw.in_flight_max > LINK_IN_FLIGHT_LIMIT {
        issues.add(format!("{path}.in_flight_max"), format!("must be between 1 and {LINK_IN_FLIGHT_LIMIT}"));
    }
    if raw.reversal_tries_max == 0 || raw.reversal_tries_max > REVERSAL_TRIES_LIMIT {
        issues.add(format!("{path}.reversal_tries_max"), format!("must be between 1 and {REVERSAL_TRIES_LIMIT}"));
    }
    let client_identity = match (&raw.client_cert_file, &raw.client_key_file) {
        (Some(cert), Some(key)) => Some((anchored(base_dir, cert), anchored(base_dir, key))),
        (None, None) => None,
        _ => {
            issues.add(path.to_string(), "client_cert_file and client_key_file go together");
            None
        }
    };
    Some(AcquirerLink {
        institution_id: raw.institution_id,
        endpoints: raw.endpoints.clone(),
        server_name: raw.server_name.clone(),
        ca_file: anchored(base_dir, &raw.ca_file),
        client_identity,
        request_timeout_ms: raw.request_timeout_ms,
        in_flight_max: raw.in_flight_max,
        echo_interval_ms: raw.echo_interval_ms,
        reconnect_backoff_ms_max: raw.reconnect_backoff_ms_max,
        reversal_tries_max: raw.reversal_tries_max,
        reversal_backoff_ms: raw.reversal_backoff_ms,
    })
}

/// Bounds on QR link settings.
pub const QR_POLL_INTERVAL_MS_LIMIT: u64 = 60_000;
pub const QR_RESOLVE_TRIES_LIMIT: u32 = 1_000;

fn validate_qr_link(path: &str, raw: &RawQrLink, base_dir: &Path, issues: &mut Issues) -> Option<QrLink> {
    let scheme_ok = raw.base_url.starts_with("https://") || raw.base_url.starts_with("http://");
    if !scheme_ok || raw.base_url.trim_end_matches('/').ends_with(':') || raw.base_url.contains(char::is_whitespace) {
        issues.add(format!("{path}.base_url"), format!("{:?} is not an https:// (or local http://) URL", raw.base_url));
    }
    if raw.api_key.trim().is_empty() || raw.api_key.contains(':') {
        issues.add(format!("{path}.api_key"), "must not be empty nor contain ':'");
    }
    let secret = match (&raw.api_secret, &raw.api_secret_env) {
        (Some(secret), None) => Some(secret.clone()),
        (None, Some(name)) => match &raw.api_secret_from_env {
            Some(secret) => Some(secret.clone()),
            None => {
                issues.add(format!("{path}.api_secret_env"), format!("the environment variable {name} is not set"));
                None
            }
        },
        _ => {
            issues.add(path.to_string(), "give exactly one of api_secret and api_secret_env");
            None
        }
    };
    if secret.as_ref().is_some_and(|s| s.is_empty()) {
        issues.add(format!("{path}.api_secret"), "must not be empty");
    }
    bounded_u64(issues, format!("{path}.poll_interval_ms"), raw.poll_interval_ms, QR_POLL_INTERVAL_MS_LIMIT);
    bounded_u64(issues, format!("{path}.request_timeout_ms"), raw.request_timeout_ms, LINK_TIMEOUT_MS_LIMIT);
    bounded_u64(issues, format!("{path}.resolve_retry_ms"), raw.resolve_retry_ms, LINK_TIMEOUT_MS_LIMIT);
    if raw.resolve_tries_max == 0 || raw.resolve_tries_max > QR_RESOLVE_TRIES_LIMIT {
        issues.add(format!("{path}.resolve_tries_max"), format!("must be between 1 and {QR_RESOLVE_TRIES_LIMIT}"));
    }
    if let Some(ca_file) = &raw.ca_file {
        issues.non_empty(&format!("{path}.ca_file"), ca_file);
        if !raw.base_url.starts_with("https://") {
            issues.add(format!("{path}.ca_file"), "a CA only applies to an https:// base_url");
        }
    }
    let mut merchants = BTreeMap::new();
    for (facility, merchant) in &raw.merchants {
        let at = format!("{path}.merchants.{facility}");
        if merchant.trim().is_empty() {
            issues.add(at.clone(), "merchant id must not be empty");
        }
        if let Some(id) = issues.parse(&at, FacilityId::parse(facility)) {
            merchants.insert(id, merchant.clone());
        }
    }
    Some(QrLink {
        base_url: raw.base_url.trim_end_matches('/').to_string(),
        api_key: raw.api_key.clone(),
        api_secret: Secret::new(secret?),
        poll_interval_ms: raw.poll_interval_ms,
        request_timeout_ms: raw.request_timeout_ms,
        resolve_retry_ms: raw.resolve_retry_ms,
        resolve_tries_max: raw.resolve_tries_max,
        customer_presented: raw.customer_presented,
        ca_file: raw.ca_file.as_deref().map(|f| anchored(base_dir, f)),
        merchants,
    })
}

fn validate_terminal_host(raw: &RawTerminalHost, base_dir: &Path, issues: &mut Issues) -> Option<TerminalHost> {
    let listen = issues.parse(
        "terminal_host.listen",
        raw.listen
            .parse::<std::net::SocketAddr>()
            .map_err(|_| format!("{:?} is not an address such as 127.0.0.1:8583", raw.listen)),
    );
    let client_auth = match raw.client_auth.as_deref().unwrap_or("required") {
        "required" => Some(ClientAuthMode::Required),
        "lab-without-certificates" => Some(ClientAuthMode::LabWithoutCertificates),
        other @ ("none" | "optional") => {
            issues.add(
                "terminal_host.client_auth",
                format!("{other:?} is no longer accepted: terminals prove who they are with a certificate (\"required\"); a lab with simulated terminals may say \"lab-without-certificates\""),
            );
            None
        }
        other => {
            issues.add(
                "terminal_host.client_auth",
                format!("unknown client_auth {other:?} (expected required or lab-without-certificates)"),
            );
            None
        }
    };
    if !raw.client_crl_files.is_empty() && raw.client_ca_file.is_none() {
        issues
            .add("terminal_host.client_crl_files", "revocation lists belong to the client CA: name client_ca_file too");
    }
    if client_auth == Some(ClientAuthMode::Required) && raw.client_ca_file.is_none() {
        issues.add("terminal_host.client_ca_file", "terminal certificates need the CA that signs them");
    }
    if let Some(window) = raw.reversal_window_ms {
        bounded_u64(issues, "terminal_host.reversal_window_ms".to_string(), window, REVERSAL_WINDOW_MS_LIMIT);
    }
    bounded_u64(issues, "terminal_host.device_wait_ms".to_string(), raw.device_wait_ms, DEVICE_WAIT_MS_LIMIT);
    Some(TerminalHost {
        listen: listen?,
        cert_file: anchored(base_dir, &raw.cert_file),
        key_file: anchored(base_dir, &raw.key_file),
        client_ca_file: raw.client_ca_file.as_deref().map(|f| anchored(base_dir, f)),
        client_crl_files: raw.client_crl_files.iter().map(|f| anchored(base_dir, f)).collect(),
        client_auth: client_auth?,
        device_wait_ms: raw.device_wait_ms,
        reversal_window_ms: raw.reversal_window_ms,
    })
}

fn validate_brand_rules(raw: &[RawBrandRule], issues: &mut Issues) -> Vec<BrandRule> {
    let mut rules: Vec<BrandRule> = Vec::new();
    for (index, rule) in raw.iter().enumerate() {
        let path = format!("brand_rules[{index}]");
        let brand = issues.parse(&format!("{path}.brand"), Brand::from_str(&rule.brand));
        let refund = match rule.refund.as_str() {
            "none" => Some(RefundRule::None),
            "full" => Some(RefundRule::Full),
            "partial" => Some(RefundRule::Partial),
            other => {
                issues.add(
                    format!("{path}.refund"),
                    format!("unknown refund rule {other:?} (expected none, full or partial)"),
                );
                None
            }
        };
        if refund == Some(RefundRule::None) && rule.refund_within_days.is_some() {
            issues.add(format!("{path}.refund_within_days"), "a brand without refunds has no refund period");
        }
        if let (Some(brand), Some(refund)) = (brand, refund) {
            if rules.iter().any(|r| r.brand == brand) {
                issues.add(format!("{path}.brand"), format!("{brand} has two rules"));
                continue;
            }
            rules.push(BrandRule { brand, refund, refund_within_days: rule.refund_within_days });
        }
    }
    rules
}

fn validate_open_data(
    raw: &RawOpenData,
    fee_items: &BTreeMap<FeeItemCode, FeeItem>,
    base_dir: &Path,
    issues: &mut Issues,
) -> Option<OpenData> {
    let before = issues.0.len();
    issues.non_empty("open_data.dir", &raw.dir);
    issues.non_empty("open_data.publisher_ja", &raw.publisher_ja);
    issues.non_empty("open_data.publisher_en", &raw.publisher_en);
    let threshold = raw.suppression_threshold_payments;
    if !(SUPPRESSION_THRESHOLD_PAYMENTS_MIN..=SUPPRESSION_THRESHOLD_PAYMENTS_MAX).contains(&threshold) {
        issues.add(
            "open_data.suppression_threshold_payments",
            format!(
                "{threshold} is not between {SUPPRESSION_THRESHOLD_PAYMENTS_MIN} and {SUPPRESSION_THRESHOLD_PAYMENTS_MAX} payments"
            ),
        );
    }
    if !(1..=PUBLISH_DAY_OF_MONTH_MAX).contains(&raw.publish_day_of_month) {
        issues.add(
            "open_data.publish_day_of_month",
            format!("{} is not a day from 1 to {PUBLISH_DAY_OF_MONTH_MAX}", raw.publish_day_of_month),
        );
    }
    let mut categories = Vec::new();
    let mut codes = HashSet::new();
    let mut placed: HashMap<FeeItemCode, String> = HashMap::new();
    for (index, category) in raw.fee_item_categories.iter().enumerate() {
        let path = format!("open_data.fee_item_categories[{index}]");
        let code_ok = !category.code.is_empty()
            && category.code.len() <= CATEGORY_CODE_CHARS_MAX
            && category.code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !code_ok {
            issues.add(
                format!("{path}.code"),
                format!("{:?} is not 1 to {CATEGORY_CODE_CHARS_MAX} lower-case letters, digits or '-'", category.code),
            );
        } else if !codes.insert(category.code.as_str()) {
            issues.add(format!("{path}.code"), format!("duplicate category {:?}", category.code));
        }
        issues.non_empty(&format!("{path}.name_ja"), &category.name_ja);
        issues.non_empty(&format!("{path}.name_en"), &category.name_en);
        let mut items = Vec::new();
        for (item_index, text) in category.fee_items.iter().enumerate() {
            let item_path = format!("{path}.fee_items[{item_index}]");
            match FeeItemCode::parse(text).ok().filter(|code| fee_items.contains_key(code)) {
                None => issues.add(item_path, format!("unknown fee item {text:?}")),
                Some(code) => match placed.get(&code) {
                    Some(other) => issues.add(item_path, format!("fee item {text:?} is already in category {other:?}")),
                    None => {
                        placed.insert(code.clone(), category.code.clone());
                        items.push(code);
                    }
                },
            }
        }
        categories.push(FeeItemCategory {
            code: category.code.clone(),
            name_ja: category.name_ja.clone(),
            name_en: category.name_en.clone(),
            fee_items: items,
        });
    }
    // Every fee item must be published under some category, or the categories would not add up
    // to the month's total and the published figures would contradict each other.
    let missing: Vec<&str> =
        fee_items.keys().filter(|code| !placed.contains_key(*code)).map(FeeItemCode::as_str).collect();
    if !missing.is_empty() {
        issues.add(
            "open_data.fee_item_categories",
            format!("every fee item must be in a category; not placed: {}", missing.join(", ")),
        );
    }
    let dir = Path::new(&raw.dir);
    let dir = if dir.is_absolute() { dir.to_path_buf() } else { base_dir.join(dir) };
    (issues.0.len() == before).then(|| OpenData {
        dir,
        suppression_threshold_payments: threshold,
        public_page: raw.public_page,
        publish_day_of_month: raw.publish_day_of_month,
        publisher_ja: raw.publisher_ja.clone(),
        publisher_en: raw.publisher_en.clone(),
        fee_item_categories: categories,
    })
}

fn validate_monthly_report(raw: &RawMonthlyReport, issues: &mut Issues) -> Option<MonthlyReport> {
    let before = issues.0.len();
    if !(1..=FEE_PER_PAYMENT_HIGH_YEN_MAX).contains(&raw.fee_per_payment_high_yen) {
        issues.add(
            "monthly_report.fee_per_payment_high_yen",
            format!("{} is not between 1 and {FEE_PER_PAYMENT_HIGH_YEN_MAX} yen", raw.fee_per_payment_high_yen),
        );
    }
    if raw.lagging_below_city_points > LAGGING_POINTS_MAX {
        issues.add(
            "monthly_report.lagging_below_city_points",
            format!("{} is more than {LAGGING_POINTS_MAX} percentage points", raw.lagging_below_city_points),
        );
    }
    if !(1..=CASH_HANDLING_MINUTES_MAX).contains(&raw.cash_handling_minutes_per_facility_day) {
        issues.add(
            "monthly_report.cash_handling_minutes_per_facility_day",
            format!(
                "{} is not between 1 and {CASH_HANDLING_MINUTES_MAX} minutes",
                raw.cash_handling_minutes_per_facility_day
            ),
        );
    }
    let fee_per_payment_high_yen = Yen::new(raw.fee_per_payment_high_yen).ok()?;
    (issues.0.len() == before).then_some(MonthlyReport {
        fee_per_payment_high_yen,
        lagging_below_city_points: raw.lagging_below_city_points,
        cash_handling_minutes_per_facility_day: raw.cash_handling_minutes_per_facility_day,
    })
}
