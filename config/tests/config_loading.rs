//! Loading the example city, and refusing bad configurations with every problem named by its path.
//!
//! The first half loads `examples/city.toml` and checks facts of the city it describes (the 35
//! facilities of the brief, designated managers, fees, brands, acquirers, demo users). The second
//! half starts from a small valid configuration ([`base`]) and changes one thing per test, so each
//! test shows that exactly that change is caught, at the right path, with a message that says why.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use pos_config::{
    AcquirerKind, Backend, Config, ConfigError, FacilityKind, Issue, Owner, Price, RevenueRule, Role, Scope,
};
use pos_core::{Brand, FeeItemCode, Method, OperatorId, Rate, Rounding, Yen};

// ---------------------------------------------------------------------------------------------
// The example city
// ---------------------------------------------------------------------------------------------

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join("city.toml")
}

fn example() -> Config {
    let path = example_path();
    match pos_config::load_with_env(&path, |_| None) {
        Ok(config) => config,
        Err(error) => panic!("{} does not load: {error}", path.display()),
    }
}

fn yen(value: i64) -> Yen {
    Yen::new(value).expect("test amount in range")
}

fn code(value: &str) -> FeeItemCode {
    FeeItemCode::parse(value).expect("test fee item code")
}

#[test]
fn example_city_has_the_35_facilities_of_the_brief() {
    let config = example();
    assert_eq!(config.city.name_ja, "みなと市");
    assert_eq!(config.facilities.len(), 35);

    let ids: HashSet<&str> = config.facilities.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids.len(), 35, "facility ids are unique");

    let count = |kind: FacilityKind| config.facilities.iter().filter(|f| f.kind == kind).count();
    let certificate_counters = count(FacilityKind::CertificateCounter);
    assert!(certificate_counters > 35 / 2, "certificate counters are the majority, got {certificate_counters}");
    for kind in [
        FacilityKind::Sports,
        FacilityKind::Culture,
        FacilityKind::Museum,
        FacilityKind::CarPark,
        FacilityKind::BicyclePark,
        FacilityKind::Community,
    ] {
        assert!(count(kind) >= 1, "no facility of kind {kind:?}");
    }

    let names: Vec<&str> = config.facilities.iter().map(|f| f.name_ja.as_str()).collect();
    for wanted in [
        "市民課",
        "資産税課",
        "市民サービスセンター",
        "行政センター",
        "連絡所",
        "総合体育館",
        "テニスコート",
        "美術館",
        "駅西口駐車場",
        "自転車駐車場",
        "男女共同参画センター",
    ] {
        assert!(names.iter().any(|name| name.contains(wanted)), "no facility named like {wanted}");
    }

    let merchant_ids: HashSet<&str> = config.facilities.iter().map(|f| f.merchant_id.as_str()).collect();
    assert_eq!(merchant_ids.len(), 35, "merchant ids are unique");
    for facility in &config.facilities {
        assert_eq!(facility.merchant_id.len(), 15, "{}", facility.id);
        assert!(facility.merchant_id.bytes().all(|b| b.is_ascii_digit()), "{}", facility.id);
        assert!(!facility.depositor_name.is_empty(), "{}", facility.id);
        assert!(
            facility.depositor_name.chars().all(|c| c.is_ascii() || ('\u{FF61}'..='\u{FF9F}').contains(&c)),
            "{}: depositor name {:?} is not half-width",
            facility.id,
            facility.depositor_name
        );
        assert!((1..=3).contains(&facility.registers.len()), "{}", facility.id);
    }
}

#[test]
fn example_designated_managers_run_their_facilities_under_both_revenue_rules() {
    let config = example();
    assert!(config.operators.len() >= 3, "got {} operators", config.operators.len());

    let run_by_operators: Vec<_> = config.facilities.iter().filter(|f| matches!(f.owner, Owner::Operator(_))).collect();
    assert!((6..=8).contains(&run_by_operators.len()), "got {} operator facilities", run_by_operators.len());

    for operator in &config.operators {
        assert!(config.operator_facilities(&operator.id).count() >= 1, "{} runs no facility", operator.id);
    }
    let sports = OperatorId::parse("OP-SPORTS").expect("operator id");
    let sports_facilities: Vec<_> = config.operator_facilities(&sports).collect();
    assert!(sports_facilities.iter().any(|f| f.name_ja.contains("総合体育館")));
    assert!(sports_facilities.iter().all(|f| f.kind == FacilityKind::Sports));

    let rules: HashSet<RevenueRule> = config.facilities.iter().map(|f| f.revenue_rule).collect();
    assert!(rules.contains(&RevenueRule::Shiyoryo) && rules.contains(&RevenueRule::RiyoRyokin));
    assert!(
        run_by_operators.iter().any(|f| f.revenue_rule == RevenueRule::Shiyoryo),
        "some designated manager collects 使用料 on the city's behalf"
    );
    for facility in &config.facilities {
        if facility.revenue_rule == RevenueRule::RiyoRyokin {
            assert!(matches!(facility.owner, Owner::Operator(_)), "{} is 利用料金制 but city-owned", facility.id);
        }
        if facility.owner == Owner::City {
            assert_eq!(facility.revenue_rule, RevenueRule::Shiyoryo, "{}", facility.id);
        }
    }
}

#[test]
fn example_fee_catalogue_has_the_city_fees() {
    let config = example();
    let by_name = |name_ja: &str| {
        config
            .fee_items
            .values()
            .find(|item| item.name_ja == name_ja)
            .unwrap_or_else(|| panic!("no fee item named {name_ja}"))
    };
    assert_eq!(by_name("住民票の写し").price, Price::Fixed(yen(300)));
    assert_eq!(by_name("印鑑登録証明書").price, Price::Fixed(yen(300)));
    assert_eq!(config.fee_item(&code("JUMINHYO")).map(|item| item.price), Some(Price::Fixed(yen(300))));
    assert_eq!(config.fee_item(&code("KOSEKI-ZENBU")).map(|item| item.price), Some(Price::Fixed(yen(450))));
    assert_eq!(config.fee_item(&code("JOSEKI")).map(|item| item.price), Some(Price::Fixed(yen(750))));
    assert_eq!(config.fee_item(&code("MUSEUM-IPPAN")).map(|item| item.price), Some(Price::Fixed(yen(800))));
    assert!(matches!(config.fee_item(&code("PARKING")).map(|item| item.price), Some(Price::Open { .. })));

    for item in config.fee_items.values() {
        let account = &item.revenue_account;
        match item.code.as_str() {
            "JUMINHYO" | "INKAN" | "KOSEKI-ZENBU" | "SHOTOKU" | "NOZEI" => {
                assert!(account.starts_with("14-"), "{} is a 手数料 but booked to {account}", item.code)
            }
            "GYM-IPPAN" | "TENNIS-HOUR" | "MUSEUM-IPPAN" | "PARKING" | "BICYCLE-ICHIJI" => {
                assert!(account.starts_with("13-"), "{} is a 使用料 but booked to {account}", item.code)
            }
            _ => {}
        }
    }

    // The main counter sells resident certificates; a facility sells only what it lists, and
    // a facility selling an open-priced item allows open prices.
    let main_counter = &config.facilities[0];
    assert!(main_counter.name_ja.contains("市民課"));
    assert!(main_counter.sells(&code("JUMINHYO")));
    assert!(!main_counter.sells(&code("PARKING")));
    for facility in &config.facilities {
        let sells_open = facility
            .fee_items
            .iter()
            .any(|c| matches!(config.fee_item(c).map(|item| item.price), Some(Price::Open { .. })));
        if sells_open {
            assert!(facility.policy.open_price_items, "{} sells open-priced items", facility.id);
        }
    }
}

#[test]
fn example_every_facility_accepts_cash_and_only_routed_brands() {
    let config = example();
    for facility in &config.facilities {
        assert!(facility.accepts(Brand::Cash), "{} does not take cash", facility.id);
        for brand in facility.brands.iter().filter(|b| b.method().is_cashless()) {
            assert!(config.fee_rate(*brand).is_some(), "{} takes {brand} but no acquirer does", facility.id);
        }
    }
    let taking_everything = config.facilities.iter().filter(|f| f.brands.len() == Brand::ALL.len()).count();
    assert!(taking_everything >= 1, "some facility takes every brand of the brief");
    let taking_cards = config.facilities.iter().filter(|f| f.accepts(Brand::Visa)).count();
    assert!(taking_cards * 2 > config.facilities.len(), "most facilities take cards");
    // Every brand of the brief is routed to an acquirer of its own method.
    for brand in Brand::ALL.into_iter().filter(|b| b.method().is_cashless()) {
        let (acquirer, _) = config.fee_rate(brand).unwrap_or_else(|| panic!("{brand} not routed"));
        let expected = match brand.method() {
            Method::Card => AcquirerKind::Card,
            Method::Emoney => AcquirerKind::Emoney,
            _ => AcquirerKind::Qr,
        };
        assert_eq!(acquirer.kind, expected, "{brand}");
    }
}

#[test]
fn example_visa_costs_3_24_percent_truncated() {
    let config = example();
    let (acquirer, fee) = config.fee_rate(Brand::Visa).expect("VISA is routed");
    assert_eq!(acquirer.kind, AcquirerKind::Card);
    assert_eq!(acquirer.settlement_lag_days, 2);
    assert_eq!(fee.rate, Rate::parse_percent("3.24%").expect("rate"));
    assert_eq!(fee.rounding, Rounding::Truncate);
    // 3.24 % of 470 yen is 15.228 yen, truncated to 15.
    assert_eq!(fee.rate.fee(yen(470), fee.rounding), Ok(yen(15)));

    let (_, amex) = config.fee_rate(Brand::Amex).expect("AMEX is routed");
    assert!(amex.rate > fee.rate, "AMEX costs more than VISA");
    let (qr, paypay) = config.fee_rate(Brand::PayPay).expect("PAYPAY is routed");
    assert_eq!(qr.kind, AcquirerKind::Qr);
    assert_eq!(qr.settlement_lag_days, 5);
    assert!(paypay.rate < fee.rate, "PayPay costs less than VISA");
    let (emoney, _) = config.fee_rate(Brand::TransitIc).expect("TRANSIT is routed");
    assert_eq!(emoney.settlement_lag_days, 3);
}

#[test]
fn example_demo_tokens_authenticate_with_their_roles() {
    let config = example();
    let treasury = config
        .user_by_token_sha256(&pos_config::token_sha256("demo-treasury"))
        .expect("the demo token of treasury authenticates");
    assert_eq!(treasury.name.as_str(), "treasury");
    assert_eq!(treasury.role, Role::Treasury);
    assert_eq!(treasury.scope, Scope::All);

    let admin = config.user_by_token_sha256(&pos_config::token_sha256("demo-admin")).expect("admin");
    assert_eq!(admin.role, Role::Admin);

    let clerk = config.user_by_token_sha256(&pos_config::token_sha256("demo-clerk-r0101")).expect("clerk");
    assert_eq!(clerk.role, Role::Clerk);
    match &clerk.scope {
        Scope::Register { facility, register } => {
            assert_eq!(facility.as_str(), "F01");
            assert_eq!(register.as_str(), "R0101");
        }
        other => panic!("clerk-r0101 has scope {other:?}"),
    }

    let operator =
        config.user_by_token_sha256(&pos_config::token_sha256("demo-op-sports")).expect("the sports operator's user");
    assert_eq!(operator.role, Role::Operator);
    assert_eq!(operator.scope, Scope::Operator(OperatorId::parse("OP-SPORTS").expect("id")));

    assert!(config.user_by_token_sha256(&pos_config::token_sha256("treasury")).is_none());
    assert!(config.user_by_token_sha256(&pos_config::token_sha256("demo-nobody")).is_none());
}

#[test]
fn example_has_one_clerk_per_register_and_one_user_per_operator() {
    let config = example();
    let mut terminals = HashSet::new();
    let mut registers = HashSet::new();
    for facility in &config.facilities {
        for register in &facility.registers {
            assert!(registers.insert(register.id.clone()), "register {} twice", register.id);
            let terminal = register.terminal.as_ref().unwrap_or_else(|| panic!("{} has no terminal", register.id));
            assert!(terminals.insert(terminal.clone()), "terminal {} twice", terminal.as_str());
        }
    }

    let mut clerks_per_register: HashMap<String, Vec<&str>> = HashMap::new();
    for user in config.users.iter().filter(|u| u.role == Role::Clerk) {
        let Scope::Register { facility, register } = &user.scope else {
            panic!("clerk {} is not bound to a register", user.name)
        };
        let (owner, _) = config.register(register).expect("the clerk's register exists");
        assert_eq!(&owner.id, facility);
        assert_eq!(user.name.as_str(), format!("clerk-{}", register.as_str().to_lowercase()));
        clerks_per_register.entry(register.as_str().to_string()).or_default().push(user.name.as_str());
    }
    assert_eq!(clerks_per_register.len(), registers.len(), "every register has a clerk");
    assert!(clerks_per_register.values().all(|clerks| clerks.len() == 1));

    let operator_users: BTreeSet<String> = config
        .users
        .iter()
        .filter_map(|u| match &u.scope {
            Scope::Operator(operator) => Some(operator.as_str().to_string()),
            _ => None,
        })
        .collect();
    let operators: BTreeSet<String> = config.operators.iter().map(|o| o.id.as_str().to_string()).collect();
    assert_eq!(operator_users, operators);
}

#[test]
fn example_database_url_is_anchored_at_the_config_folder() {
    let config = example();
    assert_eq!(config.database.backend, Backend::Sqlite);
    assert_eq!(config.database.connections_max, 8);
    // `../../demo-data/journal.db` from config/examples, resolved: the repository's demo-data.
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the repository");
    let expected = format!("sqlite://{}", repository.join("demo-data/journal.db").display());
    assert_eq!(config.database.url, expected);
    let file = config.database.url.strip_prefix("sqlite://").expect("sqlite url");
    assert!(Path::new(file).is_absolute(), "{file} is not absolute");
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.request_body_bytes_max, 65536);
    assert_eq!(config.server.request_timeout_ms, 10000);
}

#[test]
fn example_loads_with_overrides_from_the_environment() {
    let env = |key: &str| match key {
        "POS_DATABASE_URL" => Some("postgresql://pos@db.internal:5432/pos".to_string()),
        "POS_SERVER_LISTEN" => Some("0.0.0.0:9000".to_string()),
        _ => None,
    };
    let config = pos_config::load_with_env(&example_path(), env).expect("loads");
    assert_eq!(config.database.backend, Backend::Postgres);
    assert_eq!(config.database.url, "postgresql://pos@db.internal:5432/pos");
    assert_eq!(config.server.listen.to_string(), "0.0.0.0:9000");
}

#[test]
fn a_missing_file_is_a_read_error_naming_it() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join("no-such-city.toml");
    let error = pos_config::load_with_env(&path, |_| None).expect_err("no file");
    assert!(matches!(error, ConfigError::Read { .. }), "{error:?}");
    assert!(error.to_string().contains("no-such-city.toml"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Bad input: a small valid configuration, changed one thing at a time
// ---------------------------------------------------------------------------------------------

/// A small valid configuration: a city-run certificate counter (F01) and an operator-run gym (F02).
fn base() -> String {
    let digest = |name: &str| pos_config::token_sha256(&format!("demo-{name}"));
    format!(
        r#"
[city]
name_ja = "テスト市"
name_en = "Test City"

[server]
listen = "127.0.0.1:8080"
request_body_bytes_max = 65536
request_timeout_ms = 10000

[database]
url = "sqlite://data/journal.db"
connections_max = 4

[[operators]]
id = "OP-SPORTS"
name_ja = "テストスポーツ振興事業団"
name_en = "Test Sports Foundation"

[[fee_items]]
code = "JUMINHYO"
name_ja = "住民票の写し"
name_en = "Certified copy of residence record"
price = 300
revenue_account = "14-01-02-01"

[[fee_items]]
code = "GYM-IPPAN"
name_ja = "体育館 個人利用 一般"
name_en = "Gymnasium individual use, adult"
price = 300
revenue_account = "13-01-06-02"

[[fee_items]]
code = "HALL-USE"
name_ja = "ホール使用料"
name_en = "Hall rental"
price = "open"
open_amount_max = 500000
revenue_account = "13-01-01-03"

[[facilities]]
id = "F01"
name_ja = "市民課"
name_en = "Citizens Division"
kind = "certificate_counter"
owner = "city"
revenue_rule = "shiyoryo"
merchant_id = "000000000010001"
depositor_name = "ｼﾐﾝｶ"
brands = ["CASH", "VISA", "PAYPAY"]
fee_items = ["JUMINHYO"]

[facilities.policy]
split_tender = false
open_price_items = false
cash_tendered_max = 200000

[[facilities.registers]]
id = "R0101"
terminal = "T0010101"

[[facilities]]
id = "F02"
name_ja = "総合体育館"
name_en = "General Gymnasium"
kind = "sports"
owner = "OP-SPORTS"
revenue_rule = "riyo_ryokin"
merchant_id = "000000000010002"
depositor_name = "ｿｳｺﾞｳﾀｲｲｸｶﾝ"
brands = ["CASH", "VISA"]
fee_items = ["GYM-IPPAN"]

[facilities.policy]
split_tender = true
open_price_items = false
cash_tendered_max = 100000

[[facilities.registers]]
id = "R0201"
terminal = "T0010201"

[[acquirers]]
id = "ACQ-CARD"
name = "Test card acquirer"
kind = "card"
depositor_name = "ｶｰﾄﾞｹｯｻｲ"
settlement_lag_days = 2

[[acquirers.fees]]
brand = "VISA"
rate = "3.24%"
rounding = "truncate"

[[acquirers]]
id = "ACQ-QR"
name = "Test QR provider"
kind = "qr"
depositor_name = "QRｹｯｻｲ"
settlement_lag_days = 5

[[acquirers.fees]]
brand = "PAYPAY"
rate = "1.98%"
rounding = "truncate"

[[users]]
name = "clerk-r0101"
role = "clerk"
facility = "F01"
register = "R0101"
token_sha256 = "{clerk_r0101}"

[[users]]
name = "clerk-r0201"
role = "clerk"
facility = "F02"
register = "R0201"
token_sha256 = "{clerk_r0201}"

[[users]]
name = "op-sports"
role = "operator"
operator = "OP-SPORTS"
token_sha256 = "{operator}"

[[users]]
name = "treasury"
role = "treasury"
token_sha256 = "{treasury}"
"#,
        clerk_r0101 = digest("clerk-r0101"),
        clerk_r0201 = digest("clerk-r0201"),
        operator = digest("op-sports"),
        treasury = digest("treasury"),
    )
}

/// `text` with `from` (which must occur exactly once, so the change is unambiguous) replaced.
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "{from:?} must occur exactly once in the base configuration");
    text.replacen(from, to, 1)
}

/// The base configuration with one change.
fn base_with(from: &str, to: &str) -> String {
    replaced(&base(), from, to)
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    pos_config::parse_with_env(text, Path::new("bad.toml"), Path::new("."), |_| None)
}

/// The issues of a configuration that must be refused by validation (not by the TOML parser).
fn issues_of(text: &str) -> Vec<Issue> {
    match parse(text) {
        Ok(_) => panic!("the configuration was accepted"),
        Err(error @ ConfigError::Invalid { .. }) => error.issues().to_vec(),
        Err(error) => panic!("expected validation issues, got {error}"),
    }
}

fn issue(path: &str, message: &str) -> Issue {
    Issue { path: path.to_string(), message: message.to_string() }
}

/// The message of the one issue at `path`, failing if there is none or more than one.
fn message_at(issues: &[Issue], path: &str) -> String {
    let at: Vec<&Issue> = issues.iter().filter(|i| i.path == path).collect();
    assert_eq!(at.len(), 1, "expected one issue at {path}, got {issues:#?}");
    at[0].message.clone()
}

/// The message of a configuration refused by the TOML parser.
fn syntax_error_of(text: &str) -> String {
    match parse(text) {
        Err(ConfigError::Syntax { path, message }) => {
            assert_eq!(path, Path::new("bad.toml"));
            message
        }
        Ok(_) => panic!("the configuration was accepted"),
        Err(error) => panic!("expected a syntax error, got {error}"),
    }
}

#[test]
fn the_base_configuration_is_valid() {
    let config = parse(&base()).unwrap_or_else(|error| panic!("base configuration refused: {error}"));
    assert_eq!(config.facilities.len(), 2);
    assert_eq!(config.users.len(), 4);
    assert_eq!(config.database.backend, Backend::Sqlite);
    let journal = std::env::current_dir().expect("working directory").join("data/journal.db");
    assert_eq!(config.database.url, format!("sqlite://{}", journal.display()), "absolute, with no `.` or `..`");
    assert_eq!(config.fee_item(&code("HALL-USE")).map(|i| i.price), Some(Price::Open { amount_max: yen(500_000) }));
}

#[test]
fn an_unknown_fee_item_is_named_with_its_path() {
    let text = base_with(r#"fee_items = ["JUMINHYO"]"#, r#"fee_items = ["JUMINHYO", "X"]"#);
    let error = parse(&text).expect_err("unknown fee item");
    assert_eq!(error.issues(), [issue("facilities[0].fee_items[1]", r#"unknown fee item "X""#)]);
    assert_eq!(
        error.to_string(),
        "configuration bad.toml has 1 problem(s):\n  facilities[0].fee_items[1]: unknown fee item \"X\""
    );
}

#[test]
fn several_independent_problems_are_all_reported() {
    let mut text = base();
    text = replaced(&text, r#"listen = "127.0.0.1:8080""#, r#"listen = "localhost""#);
    text = replaced(&text, r#"fee_items = ["GYM-IPPAN"]"#, r#"fee_items = ["GYM-IPPAN", "NOPE"]"#);
    text = replaced(&text, r#"merchant_id = "000000000010001""#, r#"merchant_id = "12345""#);
    text = replaced(&text, r#"rate = "1.98%""#, r#"rate = "150%""#);
    text = replaced(&text, r#"role = "treasury""#, r#"role = "mayor""#);
    let error = parse(&text).expect_err("five problems");
    let paths: BTreeSet<&str> = error.issues().iter().map(|i| i.path.as_str()).collect();
    for expected in [
        "server.listen",
        "facilities[1].fee_items[1]",
        "facilities[0].merchant_id",
        "acquirers[1].fees[0].rate",
        "users[3].role",
    ] {
        assert!(paths.contains(expected), "{expected} missing from {paths:?}");
    }
    let display = error.to_string();
    assert!(display.contains(&format!("has {} problem(s)", error.issues().len())), "{display}");
    assert!(display.contains(r#"unknown role "mayor""#), "{display}");
}

#[test]
fn an_unknown_key_is_refused_by_name() {
    let text = base_with("[city]\n", "[city]\ncolour = \"blue\"\n");
    let message = syntax_error_of(&text);
    assert!(message.contains("unknown field `colour`"), "{message}");

    let text = base_with("split_tender = true\n", "split_tender = true\nsplit_tenders = true\n");
    let message = syntax_error_of(&text);
    assert!(message.contains("split_tenders"), "{message}");
}

#[test]
fn a_missing_required_key_is_refused_by_name() {
    let text = base_with("merchant_id = \"000000000010002\"\n", "");
    let message = syntax_error_of(&text);
    assert!(message.contains("missing field `merchant_id`"), "{message}");

    let text = base_with("connections_max = 4\n", "");
    let message = syntax_error_of(&text);
    assert!(message.contains("connections_max"), "{message}");
}

#[test]
fn the_example_city_names_its_account_codes() {
    let config = example();
    let codes = [
        &config.accounting.cash_account,
        &config.accounting.unsettled_account,
        &config.accounting.fee_expense_account,
        &config.accounting.cash_over_account,
        &config.accounting.cash_short_account,
        &config.accounting.suspense_account,
        &config.accounting.refund_expense_account,
        &config.accounting.bank_account,
        &config.accounting.bank_charge_account,
    ];
    let distinct: BTreeSet<&String> = codes.iter().copied().collect();
    assert_eq!(distinct.len(), codes.len(), "each account of the export has a code of its own");
    let receivables: BTreeSet<&str> = config.acquirers.iter().map(|a| a.receivable_account.as_str()).collect();
    assert_eq!(receivables.len(), config.acquirers.len(), "one receivable per acquirer");
    for code in codes.into_iter().map(String::as_str).chain(receivables) {
        assert!(code.bytes().all(|b| b.is_ascii_digit() || b == b'-'), "{code} is a code of the chart");
    }
}

#[test]
fn without_account_codes_the_export_books_to_unmapped_names() {
    let config = parse(&base()).expect("base configuration");
    assert_eq!(config.accounting, pos_config::Accounting::unmapped());
    assert_eq!(config.acquirers[0].receivable_account, "RECEIVABLE-ACQ-CARD");
}

#[test]
fn account_codes_are_checked_and_complete() {
    let accounting = r#"
[accounting]
cash_account = "90-01-01-01"
unsettled_account = "90-02-01-99"
fee_expense_account = "02-01-05-12"
cash_over_account = "cash over"
cash_short_account = "02-01-05-99"
suspense_account = "90-03-01-01"
refund_expense_account = "13-01-01-22"
bank_account = "90-01-02-01"
bank_charge_account = "bank charges"

[city]"#;
    let text = replaced(
        &base_with("settlement_lag_days = 2\n", "settlement_lag_days = 2\nreceivable_account = \"90-02-01-0X\"\n"),
        "\n[city]",
        accounting,
    );
    let issues = issues_of(&text);
    assert_eq!(
        message_at(&issues, "accounting.cash_over_account"),
        r#""cash over" is not an account code (digits and '-')"#
    );
    assert_eq!(
        message_at(&issues, "accounting.bank_charge_account"),
        r#""bank charges" is not an account code (digits and '-')"#
    );
    assert_eq!(
        message_at(&issues, "acquirers[0].receivable_account"),
        r#""90-02-01-0X" is not an account code (digits and '-')"#
    );
    assert_eq!(
        message_at(&issues, "acquirers[1].receivable_account"),
        "required when [accounting] gives the account codes"
    );
    assert_eq!(issues.len(), 4, "{issues:#?}");
}

#[test]
fn a_rate_that_is_not_a_number_is_refused() {
    let text = base_with(r#"rate = "3.24%""#, r#"rate = "three%""#);
    let issues = issues_of(&text);
    assert_eq!(message_at(&issues, "acquirers[0].fees[0].rate"), r#"invalid rate "three%": not a decimal number"#);

    let text = base_with(r#"rate = "3.24%""#, r#"rate = "-1%""#);
    let issues = issues_of(&text);
    assert!(message_at(&issues, "acquirers[0].fees[0].rate").contains("between 0 % and 100 %"));
}

#[test]
fn a_bad_rounding_is_refused() {
    let text = base_with(
        r#"rate = "3.24%"
rounding = "truncate""#,
        r#"rate = "3.24%"
rounding = "nearest""#,
    );
    let issues = issues_of(&text);
    assert!(message_at(&issues, "acquirers[0].fees[0].rounding").contains(r#"unknown rounding policy "nearest""#));
}

#[test]
fn an_unknown_brand_is_refused() {
    let text = base_with(r#"brands = ["CASH", "VISA", "PAYPAY"]"#, r#"brands = ["CASH", "VISA", "DINERS"]"#);
    let issues = issues_of(&text);
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert!(message_at(&issues, "facilities[0].brands[2]").starts_with(r#"unknown brand "DINERS""#));

    // A brand code is exact: lower case is not VISA.
    let text = base_with(r#"brands = ["CASH", "VISA"]"#, r#"brands = ["CASH", "visa"]"#);
    let issues = issues_of(&text);
    assert!(message_at(&issues, "facilities[1].brands[1]").starts_with(r#"unknown brand "visa""#));
}

#[test]
fn a_brand_no_acquirer_takes_is_refused() {
    let text = base_with(r#"brands = ["CASH", "VISA"]"#, r#"brands = ["CASH", "VISA", "JCB"]"#);
    let issues = issues_of(&text);
    assert_eq!(issues, [issue("facilities[1].brands[2]", "no acquirer takes JCB: add it to an acquirer's fees")]);
}

#[test]
fn a_brand_routed_to_an_acquirer_of_another_kind_is_refused() {
    let text = base_with(r#"brand = "PAYPAY""#, r#"brand = "WAON""#);
    let issues = issues_of(&text);
    let message = message_at(&issues, "acquirers[1].fees[0].brand");
    assert!(message.contains("WAON is a emoney brand"), "{message}");
}

/// The base configuration with an e-money centre taking WAON, whose fee entry ends with `tail`.
fn with_emoney_centre(tail: &str) -> String {
    let centre = format!(
        "[[acquirers]]\nid = \"ACQ-EMONEY\"\nname = \"Test e-money centre\"\nkind = \"emoney\"\n\
         depositor_name = \"ﾃﾞﾝｼﾏﾈｰ\"\nsettlement_lag_days = 3\n\n[[acquirers.fees]]\nbrand = \"WAON\"\n\
         rate = \"3.0%\"\nrounding = \"truncate\"\n{tail}"
    );
    let paypay = "brand = \"PAYPAY\"\nrate = \"1.98%\"\nrounding = \"truncate\"\n";
    replaced(&base(), paypay, &format!("{paypay}\n{centre}"))
}

#[test]
fn the_example_city_gives_every_emoney_brand_its_outcome_unknown_deadline() {
    let config = example();
    for fee in config.acquirers.iter().flat_map(|acquirer| &acquirer.fees) {
        match fee.brand.method() {
            Method::Emoney => assert_eq!(fee.outcome_unknown_deadline_business_days, Some(10), "{}", fee.brand),
            _ => assert_eq!(fee.outcome_unknown_deadline_business_days, None, "{}", fee.brand),
        }
    }
}

#[test]
fn an_emoney_brand_needs_its_outcome_unknown_deadline_and_only_it_has_one() {
    let config = parse(&with_emoney_centre("outcome_unknown_deadline_business_days = 7\n")).expect("valid");
    let (_, waon) = config.fee_rate(Brand::Waon).expect("WAON is routed");
    assert_eq!(waon.outcome_unknown_deadline_business_days, Some(7));

    let issues = issues_of(&with_emoney_centre(""));
    assert_eq!(
        issues,
        [issue(
            "acquirers[2].fees[0].outcome_unknown_deadline_business_days",
            "required for an e-money brand: the centre's deadline for settling a 処理未了"
        )]
    );
    for days in ["0", "61"] {
        let issues = issues_of(&with_emoney_centre(&format!("outcome_unknown_deadline_business_days = {days}\n")));
        assert_eq!(
            message_at(&issues, "acquirers[2].fees[0].outcome_unknown_deadline_business_days"),
            "must be 1 to 60 bank business days"
        );
    }
    let text = base_with(r#"rate = "3.24%""#, "rate = \"3.24%\"\noutcome_unknown_deadline_business_days = 5");
    let issues = issues_of(&text);
    assert_eq!(
        issues,
        [issue(
            "acquirers[0].fees[0].outcome_unknown_deadline_business_days",
            "only e-money brands have a 処理未了 deadline"
        )]
    );
}

#[test]
fn duplicate_register_ids_are_refused() {
    // Across facilities: F02's register takes F01's id.
    let text = base_with("id = \"R0201\"", "id = \"R0101\"");
    let issues = issues_of(&text);
    assert_eq!(message_at(&issues, "facilities[1].registers[0].id"), r#"duplicate register id "R0101""#);

    // Within a facility.
    let text = base_with(
        "id = \"R0101\"\nterminal = \"T0010101\"\n",
        "id = \"R0101\"\nterminal = \"T0010101\"\n\n[[facilities.registers]]\nid = \"R0101\"\nterminal = \"T0010102\"\n",
    );
    let issues = issues_of(&text);
    assert_eq!(issues, [issue("facilities[0].registers[1].id", r#"duplicate register id "R0101""#)]);
}

#[test]
fn a_terminal_assigned_twice_or_malformed_is_refused() {
    let text = base_with(r#"terminal = "T0010201""#, r#"terminal = "T0010101""#);
    let issues = issues_of(&text);
    assert_eq!(
        issues,
        [issue("facilities[1].registers[0].terminal", r#"terminal "T0010101" is assigned to another register"#)]
    );

    let text = base_with(r#"terminal = "T0010201""#, r#"terminal = "T001""#);
    let issues = issues_of(&text);
    assert!(message_at(&issues, "facilities[1].registers[0].terminal").contains("exactly 8 characters"));
}

#[test]
fn riyo_ryokin_is_refused_for_a_city_owned_facility() {
    let text =
        base_with("owner = \"city\"\nrevenue_rule = \"shiyoryo\"", "owner = \"city\"\nrevenue_rule = \"riyo_ryokin\"");
    let issues = issues_of(&text);
    assert_eq!(issues.len(), 1, "{issues:#?}");
    let message = message_at(&issues, "facilities[0].revenue_rule");
    assert!(message.contains("利用料金制") && message.contains("designated-manager"), "{message}");
}

#[test]
fn an_owner_that_is_not_a_configured_operator_is_refused() {
    let text = base_with(r#"owner = "OP-SPORTS""#, r#"owner = "OP-CULTURE""#);
    let issues = issues_of(&text);
    assert!(message_at(&issues, "facilities[1].owner")
        .contains(r#""OP-CULTURE" is neither "city" nor a configured operator id"#));
}

#[test]
fn a_clerk_whose_register_is_not_in_their_facility_is_refused() {
    let text = base_with("facility = \"F01\"\nregister = \"R0101\"", "facility = \"F01\"\nregister = \"R0201\"");
    let issues = issues_of(&text);
    assert_eq!(issues, [issue("users[0].register", r#"register "R0201" is not a register of facility F01"#)]);
}

#[test]
fn a_clerk_of_an_unknown_facility_is_refused() {
    let text = base_with("facility = \"F02\"\nregister = \"R0201\"", "facility = \"F99\"\nregister = \"R0201\"");
    let issues = issues_of(&text);
    assert_eq!(issues, [issue("users[1]", "a clerk needs an existing facility and one of its registers")]);
}

#[test]
fn a_bad_token_digest_is_refused() {
    let treasury = pos_config::token_sha256("demo-treasury");
    let text = base_with(&treasury, "abc123");
    let issues = issues_of(&text);
    assert_eq!(issues, [issue("users[3].token_sha256", "must be the 64 hex digits of the token's SHA-256")]);

    // The right length but not hex.
    let text = base_with(&treasury, &"z".repeat(64));
    let issues = issues_of(&text);
    assert_eq!(message_at(&issues, "users[3].token_sha256"), "must be the 64 hex digits of the token's SHA-256");

    // The same digest for two users.
    let text = base_with(&treasury, &pos_config::token_sha256("demo-clerk-r0101"));
    let issues = issues_of(&text);
    assert_eq!(message_at(&issues, "users[3].token_sha256"), "the same token is given to two users");
}

#[test]
fn an_upper_case_token_digest_is_accepted_and_matched() {
    let treasury = pos_config::token_sha256("demo-treasury");
    let text = base_with(&treasury, &treasury.to_uppercase());
    let config = parse(&text).unwrap_or_else(|error| panic!("{error}"));
    let user = config.user_by_token_sha256(&treasury).expect("matched case-insensitively");
    assert_eq!(user.role, Role::Treasury);
}

#[test]
fn pos_database_url_switches_the_backend_to_postgres() {
    let url = "postgres://pos@db.example.jp:5432/pos";
    let env = |key: &str| (key == "POS_DATABASE_URL").then(|| url.to_string());
    let config = pos_config::parse_with_env(&base(), Path::new("bad.toml"), Path::new("."), env)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.database.backend, Backend::Postgres);
    assert_eq!(config.database.url, url);
    assert_eq!(config.database.connections_max, 4);

    // Without the variable, the file's sqlite URL stands, anchored at the base folder.
    let config =
        pos_config::parse_with_env(&base(), Path::new("bad.toml"), Path::new("/srv/pos"), |_| None).expect("valid");
    assert_eq!(config.database.backend, Backend::Sqlite);
    assert_eq!(config.database.url, "sqlite:///srv/pos/data/journal.db");
}

#[test]
fn an_unsupported_database_url_is_refused() {
    let text = base_with(r#"url = "sqlite://data/journal.db""#, r#"url = "mysql://pos@localhost/pos""#);
    let issues = issues_of(&text);
    assert_eq!(issues, [issue("database.url", "must start with sqlite:// or postgres://")]);

    // The same through the environment override.
    let env = |key: &str| (key == "POS_DATABASE_URL").then(|| "redis://localhost".to_string());
    let error = pos_config::parse_with_env(&base(), Path::new("bad.toml"), Path::new("."), env).expect_err("refused");
    assert_eq!(error.issues(), [issue("database.url", "must start with sqlite:// or postgres://")]);
}

#[test]
fn an_open_priced_item_needs_the_policy_to_allow_it() {
    let text = base_with(r#"fee_items = ["GYM-IPPAN"]"#, r#"fee_items = ["GYM-IPPAN", "HALL-USE"]"#);
    let issues = issues_of(&text);
    assert_eq!(
        issues,
        [issue(
            "facilities[1].fee_items[1]",
            r#"fee item "HALL-USE" is open-priced but the facility's policy forbids open-priced items"#
        )]
    );
}

#[test]
fn an_open_priced_item_needs_a_maximum() {
    let text = base_with("open_amount_max = 500000\n", "");
    let issues = issues_of(&text);
    assert_eq!(message_at(&issues, "fee_items[2].open_amount_max"), "an open-priced item needs open_amount_max");
}

#[test]
fn a_bad_revenue_account_is_refused() {
    let text = base_with(r#"revenue_account = "14-01-02-01""#, r#"revenue_account = "手数料""#);
    let issues = issues_of(&text);
    assert_eq!(
        message_at(&issues, "fee_items[0].revenue_account"),
        r#""手数料" is not a revenue account code (digits and '-')"#
    );
}

#[test]
fn one_mistake_is_reported_once_not_again_where_it_is_used() {
    // A bad rate is reported at the rate, not again as "no acquirer takes VISA" at each facility.
    let issues = issues_of(&base_with(r#"rate = "3.24%""#, r#"rate = "three%""#));
    assert_eq!(issues.len(), 1, "{issues:#?}");
    // An item with a bad price is reported at its price, not as "unknown fee item" where sold.
    let issues = issues_of(&replaced(
        &base(),
        "price = 300\nrevenue_account = \"14-01-02-01\"",
        "price = 0\nrevenue_account = \"14-01-02-01\"",
    ));
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!(issues[0].path, "fee_items[0].price");
}

#[test]
fn a_sqlite_url_without_a_file_is_refused() {
    for url in ["sqlite://", "sqlite://?mode=rwc", "sqlite://data/"] {
        let issues = issues_of(&base_with(r#"url = "sqlite://data/journal.db""#, &format!("url = {url:?}")));
        assert_eq!(
            message_at(&issues, "database.url"),
            "sqlite URL needs a file path, e.g. sqlite://data/journal.db",
            "{url}"
        );
    }
}

#[test]
fn an_acquirer_settlement_lag_is_bounded() {
    let text = base();
    let lag = text.lines().find(|l| l.starts_with("settlement_lag_days")).expect("a lag line").to_string();
    let issues = issues_of(&replaced(&text, &lag, "settlement_lag_days = 4000000000"));
    assert_eq!(message_at(&issues, "acquirers[0].settlement_lag_days"), "must be at most 60 days");
}

const QR_LINK: &str = r#"[[acquirers.fees]]
brand = "PAYPAY"
rate = "1.98%"
rounding = "truncate"

[acquirers.qr_link]
base_url = "https://api.paypay.example/"
api_key = "key-1"
api_secret_env = "POS_QR_SECRET"
poll_interval_ms = 3000
request_timeout_ms = 10000
resolve_retry_ms = 2000
resolve_tries_max = 20

[acquirers.qr_link.merchants]
F01 = "M0001"
"#;

fn parse_env(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    pos_config::parse_with_env(text, Path::new("bad.toml"), Path::new("."), env)
}

#[test]
fn a_qr_link_takes_its_secret_from_the_environment_and_never_prints_it() {
    let text =
        base_with("[[acquirers.fees]]\nbrand = \"PAYPAY\"\nrate = \"1.98%\"\nrounding = \"truncate\"\n", QR_LINK);
    let env = |key: &str| (key == "POS_QR_SECRET").then(|| "s3cr3t-value".to_string());
    let config = parse_env(&text, env).unwrap_or_else(|error| panic!("refused: {error}"));
    let (acquirer, link) = config.qr_acquirer(Brand::PayPay).expect("PayPay is linked");
    assert_eq!(acquirer.id, "ACQ-QR");
    assert_eq!(link.base_url, "https://api.paypay.example");
    assert_eq!(link.api_secret.expose(), "s3cr3t-value");
    assert_eq!(link.poll_interval_ms, 3000);
    let facility = pos_core::FacilityId::parse("F01").expect("facility id");
    assert_eq!(link.merchant_for(&facility), "M0001");
    assert!(!format!("{config:?} {}", link.api_secret).contains("s3cr3t"), "the secret is masked");

    let issues = match parse_env(&text, |_| None) {
        Err(error) => error.issues().to_vec(),
        Ok(_) => panic!("a missing secret was accepted"),
    };
    assert!(message_at(&issues, "acquirers[1].qr_link.api_secret_env").contains("POS_QR_SECRET"), "{issues:?}");

    let bad = replaced(&text, "poll_interval_ms = 3000", "poll_interval_ms = 0");
    let bad = replaced(&bad, "base_url = \"https://api.paypay.example/\"", "base_url = \"ftp://x\"");
    let issues = match parse_env(&bad, env) {
        Err(error) => error.issues().to_vec(),
        Ok(_) => panic!("bad qr_link accepted"),
    };
    message_at(&issues, "acquirers[1].qr_link.poll_interval_ms");
    message_at(&issues, "acquirers[1].qr_link.base_url");

    let card_with_qr = base_with(
        "[[acquirers.fees]]\nbrand = \"VISA\"",
        "[acquirers.qr_link]\nbase_url = \"https://x\"\napi_key = \"k\"\napi_secret = \"s\"\npoll_interval_ms = 1\nrequest_timeout_ms = 1\nresolve_retry_ms = 1\nresolve_tries_max = 1\n\n[[acquirers.fees]]\nbrand = \"VISA\"",
    );
    assert!(message_at(&issues_of(&card_with_qr), "acquirers[0].qr_link").contains("kind qr"));
}

#[test]
fn a_qr_link_may_scan_customer_codes_and_trust_its_own_ca_for_https_only() {
    let text =
        base_with("[[acquirers.fees]]\nbrand = \"PAYPAY\"\nrate = \"1.98%\"\nrounding = \"truncate\"\n", QR_LINK);
    let env = |key: &str| (key == "POS_QR_SECRET").then(|| "s3cr3t-value".to_string());
    let config = parse_env(&text, env).unwrap_or_else(|error| panic!("refused: {error}"));
    let (_, link) = config.qr_acquirer(Brand::PayPay).expect("PayPay is linked");
    assert!(!link.customer_presented, "merchant-presented codes only unless configured");
    assert_eq!(link.ca_file, None, "public roots unless a CA is named");

    let scanning = replaced(
        &text,
        "resolve_tries_max = 20",
        "resolve_tries_max = 20\ncustomer_presented = true\nca_file = \"tls/qr-ca.crt\"",
    );
    let config = parse_env(&scanning, env).unwrap_or_else(|error| panic!("refused: {error}"));
    let (_, link) = config.qr_acquirer(Brand::PayPay).expect("PayPay is linked");
    assert!(link.customer_presented);
    assert_eq!(link.ca_file.as_deref(), Some(Path::new("./tls/qr-ca.crt")), "anchored at the configuration's folder");

    let plain =
        replaced(&scanning, "base_url = \"https://api.paypay.example/\"", "base_url = \"http://127.0.0.1:8091\"");
    let issues = match parse_env(&plain, env) {
        Err(error) => error.issues().to_vec(),
        Ok(_) => panic!("a CA for plain HTTP was accepted"),
    };
    assert!(message_at(&issues, "acquirers[1].qr_link.ca_file").contains("https://"), "{issues:?}");
    let wrong_type = replaced(&text, "resolve_tries_max = 20", "resolve_tries_max = 20\ncustomer_presented = \"yes\"");
    assert!(parse_env(&wrong_type, env).is_err(), "the flag is a boolean");
}

const TERMINAL_HOST: &str = r#"
[terminal_host]
listen = "127.0.0.1:8583"
cert_file = "gateway.crt"
key_file = "gateway.key"
device_wait_ms = 120000
"#;

#[test]
fn terminals_must_prove_who_they_are_by_default() {
    let example = example();
    let host = example.terminal_host.as_ref().expect("the example has a terminal host");
    assert_eq!(host.client_auth, pos_config::ClientAuthMode::Required, "the example requires certificates");
    // Without a client_auth key, certificates are required, so their CA must be named.
    let issues = issues_of(&format!("{}{TERMINAL_HOST}", base()));
    assert_eq!(
        message_at(&issues, "terminal_host.client_ca_file"),
        "terminal certificates need the CA that signs them"
    );
    let config =
        parse(&format!("{}{TERMINAL_HOST}client_ca_file = \"ca.crt\"\n", base())).expect("required by default");
    assert_eq!(config.terminal_host.map(|h| h.client_auth), Some(pos_config::ClientAuthMode::Required));
}

#[test]
fn only_a_lab_says_so_to_take_terminals_without_certificates() {
    let lab = format!("{}{TERMINAL_HOST}client_auth = \"lab-without-certificates\"\n", base());
    let config = parse(&lab).expect("a lab configuration");
    assert_eq!(config.terminal_host.map(|h| h.client_auth), Some(pos_config::ClientAuthMode::LabWithoutCertificates));
    for old in ["none", "optional"] {
        let text = format!("{}{TERMINAL_HOST}client_ca_file = \"ca.crt\"\nclient_auth = \"{old}\"\n", base());
        let message = message_at(&issues_of(&text), "terminal_host.client_auth");
        assert!(message.contains("no longer accepted") && message.contains("lab-without-certificates"), "{message}");
    }
    let too_long = format!("{}{TERMINAL_HOST}client_ca_file = \"ca.crt\"\nreversal_window_ms = 3600000\n", base());
    assert_eq!(message_at(&issues_of(&too_long), "terminal_host.reversal_window_ms"), "must be between 1 and 60000");
}

#[test]
fn the_holiday_directory_is_resolved_against_the_configuration_file() {
    let config = example();
    assert_eq!(config.calendar.holidays_dir, Some(example_path().parent().unwrap().join("holidays")));
    assert!(config.calendar.holidays_dir.as_ref().unwrap().is_dir(), "the example city ships its (empty) directory");

    assert_eq!(parse(&base()).expect("base").calendar, pos_config::Calendar::default());
    let text = replaced(&base(), "\n[city]", "\n[calendar]\nholidays_dir = \"/srv/holidays\"\n\n[city]");
    let config = parse(&text).expect("valid");
    assert_eq!(config.calendar.holidays_dir.as_deref(), Some(Path::new("/srv/holidays")));
    let text = replaced(&base(), "\n[city]", "\n[calendar]\nholidays_dir = \" \"\n\n[city]");
    assert_eq!(
        message_at(&issues_of(&text), "calendar.holidays_dir"),
        "must name a directory (or leave [calendar] out)"
    );
    let text = replaced(&base(), "\n[city]", "\n[calendar]\nholidays = \"x\"\n\n[city]");
    assert!(syntax_error_of(&text).contains("unknown field `holidays`"));
}

// ---------------------------------------------------------------------------------------------
// Open data and the monthly report
// ---------------------------------------------------------------------------------------------

/// An `[open_data]` section for the base configuration, its categories given as TOML.
fn open_data(threshold: u64, day: u32, categories: &str) -> String {
    format!(
        r#"
[open_data]
dir = "open-data"
suppression_threshold_payments = {threshold}
public_page = false
publish_day_of_month = {day}
publisher_ja = "テスト市 会計課"
publisher_en = "Test City, Treasury"
{categories}
"#
    )
}

const BASE_CATEGORIES: &str = r#"
[[open_data.fee_item_categories]]
code = "certificates"
name_ja = "証明書"
name_en = "Certificates"
fee_items = ["JUMINHYO"]

[[open_data.fee_item_categories]]
code = "culture"
name_ja = "文化施設"
name_en = "Culture"
fee_items = ["HALL-USE", "GYM-IPPAN"]
"#;

#[test]
fn the_example_city_publishes_every_fee_item_in_one_category() {
    let config = example();
    let open = config.open_data.as_ref().expect("the example configures open data");
    assert_eq!(open.suppression_threshold_payments, 10);
    assert!(!open.public_page, "the public page is off unless turned on");
    for code in config.fee_items.keys() {
        let categories = open.fee_item_categories.iter().filter(|c| c.fee_items.contains(code)).count();
        assert_eq!(categories, 1, "{code} is in {categories} categories");
    }
    assert!(open.dir.ends_with("demo-data/open-data"), "anchored at the config folder: {}", open.dir.display());
    assert_eq!(config.monthly_report.cash_handling_minutes_per_facility_day, 30);
    assert_eq!(config.monthly_report.fee_per_payment_high_yen, yen(100));
}

#[test]
fn open_data_and_the_report_are_optional_with_the_citys_defaults() {
    let config = parse(&base()).expect("base loads");
    assert!(config.open_data.is_none());
    assert_eq!(config.monthly_report, pos_config::MonthlyReport::default());
    assert_eq!(config.monthly_report.cash_handling_minutes_per_facility_day, 30);
    let with = format!("{}{}", base(), open_data(10, 5, BASE_CATEGORIES));
    let config = parse(&with).unwrap_or_else(|error| panic!("open data refused: {error}"));
    let open = config.open_data.expect("open data");
    assert_eq!(open.fee_item_categories.len(), 2);
    assert_eq!(open.category_of(&code("HALL-USE")).map(|c| c.code.as_str()), Some("culture"));
}

#[test]
fn bad_open_data_settings_are_named() {
    let issues = issues_of(&format!("{}{}", base(), open_data(2, 29, BASE_CATEGORIES)));
    assert!(message_at(&issues, "open_data.suppression_threshold_payments").contains("between 3 and 1000"));
    assert!(message_at(&issues, "open_data.publish_day_of_month").contains("from 1 to 28"));
}

#[test]
fn a_fee_item_in_two_categories_or_in_none_is_refused() {
    let twice = BASE_CATEGORIES.replace(
        r#"fee_items = ["HALL-USE", "GYM-IPPAN"]"#,
        r#"fee_items = ["HALL-USE", "JUMINHYO", "NOPE", "GYM-IPPAN"]"#,
    );
    let issues = issues_of(&format!("{}{}", base(), open_data(10, 5, &twice)));
    assert!(message_at(&issues, "open_data.fee_item_categories[1].fee_items[1]")
        .contains("already in category \"certificates\""));
    assert!(message_at(&issues, "open_data.fee_item_categories[1].fee_items[2]").contains("unknown fee item"));
    let none = BASE_CATEGORIES.replace(r#"fee_items = ["HALL-USE", "GYM-IPPAN"]"#, r#"fee_items = ["GYM-IPPAN"]"#);
    let issues = issues_of(&format!("{}{}", base(), open_data(10, 5, &none)));
    assert!(message_at(&issues, "open_data.fee_item_categories").contains("not placed: HALL-USE"));
    let bad_code = BASE_CATEGORIES.replace(r#"code = "culture""#, r#"code = "Culture Halls""#);
    let issues = issues_of(&format!("{}{}", base(), open_data(10, 5, &bad_code)));
    assert!(message_at(&issues, "open_data.fee_item_categories[1].code").contains("lower-case"));
}

#[test]
fn bad_monthly_report_settings_are_named() {
    let report = "\n[monthly_report]\nfee_per_payment_high_yen = 0\nlagging_below_city_points = 101\ncash_handling_minutes_per_facility_day = 0\n";
    let issues = issues_of(&format!("{}{report}", base()));
    assert!(message_at(&issues, "monthly_report.fee_per_payment_high_yen").contains("between 1 and"));
    assert!(message_at(&issues, "monthly_report.lagging_below_city_points").contains("more than 100"));
    assert!(message_at(&issues, "monthly_report.cash_handling_minutes_per_facility_day").contains("between 1 and"));
}
