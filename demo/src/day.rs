//! The demo: a simulated business day across every facility, played through the real HTTP API.
//!
//! It starts the gateway in-process on a fresh SQLite journal with a simulated clock, opens a
//! shift at every register, rings up a day's sales (about 1,300, the city's daily volume) with the
//! facilities' own fee items at the times of day people come, pays them, voids a few mistakes,
//! repeats a few requests as a double-clicking clerk would (the idempotency keys make them
//! harmless), closes every shift with a counted drawer — one of them ten yen short — and prints
//! each facility's takings as treasury sees them through the API. Everything is drawn from a
//! seeded generator, so a day replays exactly.
//!
//! One register's card and e-money payments go through a real counter: counterd, the terminal
//! simulator and a printer simulator over pseudo-terminals ([`crate::counter`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use pos_config::{Config, FacilityKind, Owner, Price, Scope};
use pos_core::api::{
    CloseShiftRequest, CreateSaleRequest, PaymentRequest, PaymentResult, SaleLineRequest, SaleList, SaleView,
    ShiftView, VoidSaleRequest,
};
use pos_core::{
    Brand, BusinessDate, CashCount, Clock, Denomination, FacilityId, ManualClock, Method, RegisterId, SaleState, Yen,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The city's daily volume: FY2021's 465,305 payments over about 360 counter days.
pub const DEMO_SALES_DEFAULT: usize = 1_300;
/// The most sales one demo day plays.
pub const DEMO_SALES_MAX: usize = 100_000;
/// Share of sales (per mille) voided right after payment, as a clerk's mistake.
const VOID_PER_MILLE: u32 = 5;
/// Share of payment requests (per mille) sent twice, as a double click.
const REPEAT_PER_MILLE: u32 = 10;
/// Marks a folder as the demo's own, so it never replaces a journal it did not write.
pub const DEMO_MARKER_FILE: &str = ".pos-demo";
pub use crate::reconcile::PLANTED_SHORTAGE_YEN;

#[derive(Debug, Clone, clap::Args)]
pub struct DemoOptions {
    /// The city's configuration.
    #[arg(long, default_value = "config/examples/city.toml")]
    pub config: PathBuf,
    /// Where the demo's journal is written (replaced on each run).
    #[arg(long, default_value = "demo-data")]
    pub data_dir: PathBuf,
    /// How many sales to play.
    #[arg(long, default_value_t = DEMO_SALES_DEFAULT)]
    pub sales: usize,
    /// The business day to play (YYYY-MM-DD); today in Tokyo when absent.
    #[arg(long)]
    pub date: Option<NaiveDate>,
    /// Per mille of sales paid by card or e-money (FY2021: 35,746 of 465,305, 7.7 %).
    #[arg(long, default_value_t = 77)]
    pub cashless_per_mille: u32,
    /// Seed of the day's random draws.
    #[arg(long, default_value_t = 2021)]
    pub seed: u64,
    /// Do not print the summary (tests).
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub reconcile: crate::reconcile::ReconcileOptions,
    #[command(flatten)]
    pub pages: crate::pages::PagesOptions,
}

/// What the day came to, per facility, as read back through the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FacilityDay {
    pub facility_id: String,
    pub name_ja: String,
    pub sales_paid: usize,
    pub sales_voided: usize,
    pub sales_cancelled: usize,
    pub amount_paid: i64,
    /// Card and e-money payments standing at the end of the day, and their amount.
    pub cashless_payments: usize,
    pub cashless_amount: i64,
    /// QR payments standing at the end of the day, and their amount.
    pub qr_payments: usize,
    pub qr_amount: i64,
    pub cash_expected: i64,
    pub cash_counted: i64,
    pub over_short: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DemoReport {
    pub business_date: String,
    pub journal: String,
    pub facilities: Vec<FacilityDay>,
    /// Sales the demo itself saw acknowledged as paid and not voided.
    pub played_paid: usize,
    pub played_voided: usize,
    pub played_cancelled: usize,
    /// The demo terminal's last STAN.
    #[serde(skip)]
    pub terminal_stan: u32,
    pub repeats_sent: usize,
    /// Cashless payments played, by brand code.
    pub cashless: BTreeMap<String, usize>,
    /// What the simulated acquirers hold as approved at the end of the day.
    pub acquirer_approved: usize,
    pub acquirer_approved_amount: i64,
    /// What the simulated QR provider holds as paid at the end of the day.
    pub qr_provider_paid: usize,
    pub qr_provider_paid_amount: i64,
    pub audit_records: i64,
    pub audit_intact: bool,
    /// The end-of-day reconciliation of the day played.
    pub reconciliation: Option<crate::reconcile::DemoReconciliation>,
    /// The register whose card and e-money payments went through counterd and the terminal
    /// simulator (see [`crate::counter`]), and the receipts its printer printed for them.
    pub counter_register: Option<String>,
    pub counter_receipts: Vec<String>,
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: Option<&B>,
    ) -> anyhow::Result<T> {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {path}: unexpected answer {text}"))
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        token: &str,
        key: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.send(reqwest::Method::POST, path, token, Some(key), Some(body)).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, token: &str) -> anyhow::Result<T> {
        self.send::<(), T>(reqwest::Method::GET, path, token, None, None).await
    }
}

fn demo_token(user: &str) -> String {
    format!("demo-{user}")
}

fn jst_instant(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = date.and_time(time);
    pos_core::time::jst()
        .from_local_datetime(&local)
        .single()
        .map_or_else(|| Utc.from_utc_datetime(&local), |t| t.with_timezone(&Utc))
}

/// How busy a facility is relative to others, per register.
fn kind_weight(kind: FacilityKind) -> u32 {
    match kind {
        FacilityKind::CarPark => 8,
        FacilityKind::CertificateCounter | FacilityKind::BicyclePark => 6,
        FacilityKind::Museum => 4,
        FacilityKind::Sports => 3,
        FacilityKind::Culture => 2,
        FacilityKind::Community => 1,
    }
}

/// Visitors per hour of the counter day (08:30–17:15), heavier mid-morning and after lunch.
const HOUR_WEIGHTS: [(u32, u32); 10] =
    [(8, 1), (9, 4), (10, 5), (11, 4), (12, 2), (13, 4), (14, 4), (15, 3), (16, 3), (17, 1)];

fn pick_weighted<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| *w).sum();
    let mut ticket = rng.gen_range(0..total.max(1));
    for (item, weight) in items {
        if ticket < *weight {
            return *item;
        }
        ticket -= weight;
    }
    items[items.len() - 1].0
}

struct PlannedSale {
    at: DateTime<Utc>,
    register: RegisterId,
    request: CreateSaleRequest,
    tender_style: u32,
    void: bool,
    repeat_payment: bool,
    /// A card or e-money brand when the citizen pays cashless.
    brand: Option<Brand>,
}

/// Which brand a cashless citizen uses, weighted by BRIEF.md's FY2021 shares of cashless amount
/// (VISA 29 %, JCB 17 %, PayPay 11 %, nanaco 11 %, Mastercard 7 %; the rest a little each). The
/// demo's QR provider acts as PayPay, so the other QR brands' small shares go to the rest.
const CASHLESS_BRAND_WEIGHTS: [(Brand, u32); 12] = [
    (Brand::Visa, 29),
    (Brand::Jcb, 17),
    (Brand::Nanaco, 11),
    (Brand::Mastercard, 7),
    (Brand::TransitIc, 4),
    (Brand::Waon, 3),
    (Brand::Id, 2),
    (Brand::QuicPay, 2),
    (Brand::Amex, 2),
    (Brand::Edy, 2),
    (Brand::UnionPay, 1),
    (Brand::PayPay, 11),
];

fn plan_day(
    config: &Config,
    date: NaiveDate,
    count: usize,
    cashless_per_mille: u32,
    rng: &mut StdRng,
) -> Vec<PlannedSale> {
    let mut registers: Vec<(usize, u32)> = Vec::new();
    for (index, facility) in config.facilities.iter().enumerate() {
        registers.push((index, kind_weight(facility.kind) * u32::try_from(facility.registers.len()).unwrap_or(1)));
    }
    let mut plan = Vec::with_capacity(count);
    for _ in 0..count {
        let facility = &config.facilities[pick_weighted(rng, &registers)];
        let register = facility.registers[rng.gen_range(0..facility.registers.len())].id.clone();
        let hour = pick_weighted(rng, &HOUR_WEIGHTS.map(|(h, w)| (h, w)));
        let minute = match hour {
            8 => rng.gen_range(30..60),
            17 => rng.gen_range(0..15),
            _ => rng.gen_range(0..60),
        };
        let time = NaiveTime::from_hms_opt(hour, minute, rng.gen_range(0..60)).unwrap_or(NaiveTime::MIN);
        let line_count = if rng.gen_ratio(1, 5) && facility.fee_items.len() > 1 { 2 } else { 1 };
        let mut lines: Vec<SaleLineRequest> = Vec::new();
        while lines.len() < line_count {
            let code = &facility.fee_items[rng.gen_range(0..facility.fee_items.len())];
            if lines.iter().any(|l| &l.fee_item == code) {
                continue;
            }
            let quantity = pick_weighted(rng, &[(1u32, 75), (2, 20), (3, 5)]);
            let amount = match config.fee_item(code).map(|item| item.price) {
                Some(Price::Open { amount_max }) => Some(open_amount(facility.kind, amount_max, rng)),
                _ => None,
            };
            let quantity = if amount.is_some() { 1 } else { quantity };
            lines.push(SaleLineRequest { fee_item: code.clone(), quantity, amount });
        }
        let accepted: Vec<(Brand, u32)> =
            CASHLESS_BRAND_WEIGHTS.iter().copied().filter(|(b, _)| facility.accepts(*b)).collect();
        let cashless = !accepted.is_empty() && rng.gen_ratio(cashless_per_mille.min(1000), 1000);
        let brand = cashless.then(|| pick_weighted(rng, &accepted));
        plan.push(PlannedSale {
            brand,
            at: jst_instant(date, time),
            register: register.clone(),
            request: CreateSaleRequest { register_id: register, lines },
            tender_style: rng.gen_range(0..10),
            void: rng.gen_ratio(VOID_PER_MILLE, 1000),
            repeat_payment: rng.gen_ratio(REPEAT_PER_MILLE, 1000),
        });
    }
    plan.sort_by_key(|sale| sale.at);
    plan
}

/// An amount entered at the counter, in hundreds of yen: parking and bicycle fees are small, room
/// and hall hire larger; small amounts are the more common (the lowest of a few draws).
fn open_amount(kind: FacilityKind, amount_max: Yen, rng: &mut StdRng) -> Yen {
    let (hundreds_cap, draws) = match kind {
        FacilityKind::CarPark | FacilityKind::BicyclePark => (20, 3),
        FacilityKind::Culture | FacilityKind::Community | FacilityKind::Sports => (300, 2),
        _ => (50, 2),
    };
    let hundreds_max = (amount_max.get() / 100).clamp(1, hundreds_cap);
    let hundreds = (0..draws).map(|_| rng.gen_range(1..=hundreds_max)).min().unwrap_or(1);
    Yen::new(100 * hundreds).unwrap_or(amount_max)
}

/// What a citizen hands over: the exact amount, the next thousand, or a larger note.
fn tendered_for(amount: Yen, style: u32, cap: Yen) -> Yen {
    let value = amount.get();
    let round_up = |unit: i64| ((value + unit - 1) / unit) * unit;
    let tendered = match style {
        0..=3 => value,
        4..=7 => round_up(1_000),
        8 => round_up(5_000),
        _ => round_up(10_000),
    };
    Yen::new(tendered.min(cap.get()).max(value)).unwrap_or(amount)
}

/// The drawer as a clerk counts it: the expected amount in the fewest pieces.
fn count_drawer(amount: Yen) -> CashCount {
    let mut rest = amount.get().max(0);
    let mut pieces = BTreeMap::new();
    for yen in Denomination::ALL_YEN {
        let value = i64::from(yen);
        let count = rest / value;
        rest -= count * value;
        if count > 0 {
            pieces.insert(yen.to_string(), u64::try_from(count).unwrap_or(0));
        }
    }
    CashCount::try_from(pieces).unwrap_or_default()
}

/// The demo's QR provider: a PayPay-style simulator on the demo's clock that charges the city's
/// contracted fees (so that its settlement file's fees are the contracted ones), linked over plain
/// HTTP on the loopback, as PROTOCOLS.md §2 allows for local runs.
fn qr_options(config: &Config) -> crate::rig::QrOptions {
    const DEMO_QR_KEY: &str = "demo_qr_key";
    const DEMO_QR_SECRET: &str = "demo_qr_secret";
    let mut simulator = qr_sim::QrSimConfig::example();
    simulator.fees = config
        .acquirers
        .iter()
        .filter(|a| a.kind == pos_config::AcquirerKind::Qr)
        .flat_map(|a| a.fees.iter())
        .map(|f| qr_sim::FeeTerm { brand: f.brand, rate: f.rate, rounding: f.rounding })
        .collect();
    simulator.keys = vec![qr_sim::KeyConfig {
        api_key: qr_protocol::ApiKey::new(DEMO_QR_KEY),
        api_secret: qr_protocol::ApiSecret::new(DEMO_QR_SECRET),
        merchants: vec!["M0001".into()],
    }];
    crate::rig::QrOptions {
        api_key: DEMO_QR_KEY.to_string(),
        api_secret: DEMO_QR_SECRET.to_string(),
        customer_presented: true,
        poll_interval_ms: 50,
        request_timeout_ms: 3_000,
        resolve_retry_ms: 200,
        resolve_tries_max: 10,
        simulator,
        merchants: BTreeMap::new(),
        control: false,
    }
}

/// The citizen scans the register's code and pays; the register sees the sale paid.
async fn pay_by_qr(
    client: &Client,
    qr: &qr_sim::QrSimHandle,
    token: &str,
    sale: &SaleView,
    brand: Brand,
) -> anyhow::Result<SaleView> {
    let request =
        PaymentRequest { method: Method::Qr, tendered: None, amount: None, brand: Some(brand), customer_code: None };
    let started: PaymentResult = client
        .post(&format!("/v1/sales/{}/payments", sale.id), token, &uuid::Uuid::new_v4().to_string(), &request)
        .await?;
    let bound = std::time::Duration::from_secs(QR_WAIT_SECONDS);
    let id = &started.payment.id;
    crate::rig::within(&format!("the QR code of payment {id} to become payable"), bound, || async {
        Ok(qr.pay(id).ok())
    })
    .await?;
    crate::rig::within(&format!("the sale of QR payment {id}, paid at the provider, to be paid"), bound, || async {
        let sale: SaleView = client.get(&format!("/v1/sales/{}", sale.id), token).await?;
        Ok((sale.state == SaleState::Paid).then_some(sale))
    })
    .await
}

/// How long the demo waits for a QR payment to go through.
const QR_WAIT_SECONDS: u64 = 20;

/// Test card numbers of each card brand's published test ranges; only ever masked in the journal.
fn test_card(brand: Brand) -> &'static str {
    match brand {
        Brand::Mastercard => "5555555555554444",
        Brand::Jcb => "3530111333300000",
        Brand::Amex => "378282246310005",
        Brand::UnionPay => "6200000000000005",
        _ => "4111111111111111",
    }
}

/// The register asks for a card or e-money payment; the citizen taps or inserts at the
/// terminal, which authorizes with the gateway's terminal host (ISO 8583 over TLS); the register
/// sees the outcome.
async fn pay_on_terminal(
    client: &Client,
    terminals: &crate::terminals::TerminalFleet,
    token: &str,
    sale: &SaleView,
    brand: Brand,
    terminal_id: &str,
    report: &mut DemoReport,
) -> anyhow::Result<SaleView> {
    use iso8583::{fields, BrandData, Message, Mti};
    let request =
        PaymentRequest { method: brand.method(), tendered: None, amount: None, brand: None, customer_code: None };
    let started: PaymentResult = client
        .post(&format!("/v1/sales/{}/payments", sale.id), token, &uuid::Uuid::new_v4().to_string(), &request)
        .await?;
    report.terminal_stan += 1;
    let mut message = Message::new(Mti::FINANCIAL_REQUEST)
        .with(fields::PROCESSING_CODE, fields::PROCESSING_PURCHASE)
        .with(fields::AMOUNT, iso8583::amount_field(started.payment.amount).context("amount")?)
        .with(fields::TRANSMISSION_DATE_TIME, gateway::connectors::acquirer::messages::transmission_time(Utc::now()))
        .with(fields::STAN, format!("{:06}", report.terminal_stan % 999_999 + 1))
        .with(fields::TERMINAL_ID, terminal_id.to_string())
        .with(fields::CURRENCY, fields::CURRENCY_JPY);
    if brand.method() == Method::Card {
        message.set(fields::POS_ENTRY_MODE, "051");
        message.set(fields::PAN, test_card(brand));
        message.set(fields::BRAND_DATA, BrandData { brand: Some(brand), ..BrandData::default() }.format());
    } else {
        message.set(fields::POS_ENTRY_MODE, "071");
        let card_id = format!("JE80****{:04}", report.terminal_stan % 10_000);
        message.set(
            fields::BRAND_DATA,
            BrandData { brand: Some(brand), card_id: Some(card_id), ..BrandData::default() }.format(),
        );
    }
    let answer = terminals
        .request(&message, std::time::Duration::from_secs(TERMINAL_WAIT_SECONDS))
        .await
        .context("the terminal host did not answer")?;
    let code = answer.text(fields::RESPONSE_CODE).unwrap_or("??");
    if code != "00" {
        bail!("{brand} payment of sale {} was answered {code}", sale.id);
    }
    let sale: SaleView = client.get(&format!("/v1/sales/{}", sale.id), token).await?;
    Ok(sale)
}

/// How long the demo waits for void reversals to be confirmed.
const REVERSALS_WAIT_SECONDS: u64 = 30;
/// How long the demo's terminal waits for the gateway's answer.
const TERMINAL_WAIT_SECONDS: u64 = 20;

/// Plays the demo day and returns what treasury reads back.
pub async fn run(options: DemoOptions) -> anyhow::Result<DemoReport> {
    if options.sales > DEMO_SALES_MAX {
        bail!("at most {DEMO_SALES_MAX} sales in one demo day");
    }
    let mut config = pos_config::load(&options.config)?;
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("cannot create {}", options.data_dir.display()))?;
    let journal_path = options.data_dir.join("journal.db");
    // The demo replaces its own journal on each run, and only its own: a folder holding a journal
    // without the demo's marker (a real one) is refused.
    let marker = options.data_dir.join(DEMO_MARKER_FILE);
    if journal_path.exists() && !marker.exists() {
        bail!(
            "{} holds a journal the demo did not write; give the demo its own --data-dir",
            options.data_dir.display()
        );
    }
    std::fs::write(&marker, "written by `gateway demo`; its journal is replaced on each run\n")
        .with_context(|| format!("cannot write {}", marker.display()))?;
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", journal_path.display()));
        if file.exists() {
            std::fs::remove_file(&file).with_context(|| format!("cannot replace {}", file.display()))?;
        }
    }
    config.database = pos_config::Database {
        url: format!("sqlite://{}", journal_path.display()),
        backend: pos_config::Backend::Sqlite,
        connections_max: config.database.connections_max,
    };

    let date = options.date.unwrap_or_else(|| BusinessDate::of_instant(Utc::now()).date());
    let clock =
        Arc::new(ManualClock::new(jst_instant(date, NaiveTime::from_hms_opt(8, 15, 0).unwrap_or(NaiveTime::MIN))));
    // The simulators book on the demo's simulated day, so their settlement files are of it.
    let mut rig = crate::rig::Rig::start(crate::rig::RigOptions {
        card: true,
        emoney: true,
        qr: Some(qr_options(&config)),
        terminal_host: true,
        card_payout_lag_days: 2,
        emoney_payout_lag_days: 3,
        ..crate::rig::RigOptions::gateway_only(config.clone(), clock.clone(), options.data_dir.join("tls"))
    })
    .await?;
    let config = rig.app.config.as_ref().clone();
    let app = rig.app.clone();
    let base = rig.base.clone();
    let terminal_address = rig.terminal_host.context("the demo's terminal host")?.to_string();
    let client = Client { http: crate::rig::http_client(), base };
    let terminals = rig.terminals()?;

    let mut counter = start_counter(&config, &options, date, &client.base, &terminal_address, &rig, &clock).await?;
    let stage = Stage {
        client: &client,
        terminals: &terminals,
        qr: rig.qr.as_ref().context("the demo's QR provider")?,
        app: &app,
        clock: clock.as_ref(),
        counter: &mut counter,
    };
    let report = play(&config, &options, date, stage).await;
    let counter_receipts = counter.as_ref().map(|c| c.receipts.clone()).unwrap_or_default();
    let first_receipt = counter.as_ref().and_then(|c| c.first_receipt.clone());
    let counter_register = counter.as_ref().map(|c| c.register.to_string());
    if let Some(counter) = counter {
        counter.stop().await;
    }
    terminals.shutdown();
    rig.stop_gateway().await?;
    let (Some(card), Some(emoney), Some(qr)) = (&rig.card, &rig.emoney, &rig.qr) else {
        bail!("the demo's simulators did not start");
    };
    let ledger: Vec<_> = card
        .ledger()
        .into_iter()
        .chain(emoney.ledger())
        .filter(|entry| entry.state == acquirer_sim::EntryState::Approved)
        .collect();
    let qr_payments = qr.payments();
    let sims = crate::reconcile::Simulators { card, emoney, qr };
    let reconciliation = match &report {
        Ok(_) => {
            Some(crate::reconcile::reconcile_day(&config, &options.data_dir, &options.reconcile, date, sims).await)
        }
        Err(_) => None,
    };
    rig.stop().await?;
    let mut report = report?;
    report.reconciliation = reconciliation.transpose()?;
    report.journal = journal_path.display().to_string();
    report.acquirer_approved = ledger.len();
    report.acquirer_approved_amount = ledger.iter().map(|entry| entry.amount.get()).sum();
    let qr_paid: Vec<_> = qr_payments.iter().filter(|p| p.status == qr_protocol::PaymentStatus::Completed).collect();
    report.qr_provider_paid = qr_paid.len();
    report.qr_provider_paid_amount = qr_paid.iter().map(|p| p.amount.get()).sum();
    report.counter_register = counter_register;
    report.counter_receipts = counter_receipts.iter().map(|path| path.display().to_string()).collect();
    if !options.quiet {
        print_report(&config, &report);
        print_counter(&report, first_receipt.as_deref());
    }
    if options.pages.serve {
        crate::pages::serve(&config, &options.pages, clock.clone(), date, report.reconciliation.as_ref()).await?;
    } else if !options.quiet {
        println!();
        println!("To see the day in the pages (register, treasury, analytics), run the demo with --serve.");
    }
    Ok(report)
}

/// Starts the demo's one real counter (see [`crate::counter`]) at the register the day's
/// plan has the most card and e-money sales for.
async fn start_counter(
    config: &Config,
    options: &DemoOptions,
    date: NaiveDate,
    api_base: &str,
    terminal_host: &str,
    rig: &crate::rig::Rig,
    clock: &Arc<ManualClock>,
) -> anyhow::Result<Option<crate::counter::DemoCounter>> {
    // The same draws `play` makes first, so the plan is the one played.
    let plan =
        plan_day(config, date, options.sales, options.cashless_per_mille, &mut StdRng::seed_from_u64(options.seed));
    let planned: Vec<(RegisterId, Brand)> =
        plan.into_iter().filter_map(|sale| sale.brand.map(|brand| (sale.register, brand))).collect();
    let Some((register, brands)) = crate::counter::pick_register(config, &planned) else { return Ok(None) };
    let setup = crate::counter::CounterSetup {
        config,
        register,
        brands,
        api_base: api_base.to_string(),
        terminal_host: terminal_host.to_string(),
        pki: rig.pki.clone(),
        clock: clock.clone(),
        data_dir: &options.data_dir,
    };
    Ok(Some(crate::counter::DemoCounter::start(setup).await?))
}

fn print_counter(report: &DemoReport, first_receipt: Option<&str>) {
    let Some(register) = &report.counter_register else { return };
    println!();
    println!(
        "Counter {register}: {} card and e-money payments went register → gateway → counterd → ZVT over a pty → \
         terminal simulator → ISO 8583 → gateway → acquirer; receipts printed in ESC/POS (Shift_JIS) on a simulated \
         printer, their text in {}/.",
        report.counter_receipts.len(),
        report
            .counter_receipts
            .first()
            .and_then(|p| std::path::Path::new(p).parent())
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    if let Some(receipt) = first_receipt {
        println!("The first of them:\n\n{receipt}");
    }
}

/// What the day is played through: the API client, the terminal's link, the QR provider, the
/// running gateway and its clock.
struct Stage<'a> {
    client: &'a Client,
    terminals: &'a crate::terminals::TerminalFleet,
    qr: &'a qr_sim::QrSimHandle,
    app: &'a gateway::AppState,
    clock: &'a ManualClock,
    /// The register whose payments go through counterd and the terminal simulator.
    counter: &'a mut Option<crate::counter::DemoCounter>,
}

async fn play(config: &Config, options: &DemoOptions, date: NaiveDate, stage: Stage<'_>) -> anyhow::Result<DemoReport> {
    let Stage { client, terminals, qr, app, clock, counter } = stage;
    let mut rng = StdRng::seed_from_u64(options.seed);
    let clerk_of: BTreeMap<RegisterId, String> = config
        .users
        .iter()
        .filter_map(|user| match &user.scope {
            Scope::Register { register, .. } if user.role == pos_config::Role::Clerk => {
                Some((register.clone(), user.name.to_string()))
            }
            _ => None,
        })
        .collect();
    for user in clerk_of.values().chain(std::iter::once(&"treasury".to_string())) {
        if config.user_by_token_sha256(&pos_config::token_sha256(&demo_token(user))).is_none() {
            bail!("user {user} has no demo token: the demo needs a configuration with demo tokens (\"demo-<user>\"), like config/examples/city.toml");
        }
    }
    let token_for = |register: &RegisterId| -> anyhow::Result<String> {
        clerk_of
            .get(register)
            .map(|user| demo_token(user))
            .with_context(|| format!("no clerk user for register {register}"))
    };

    // Open every register at 08:15 with its float.
    let mut shift_of: BTreeMap<RegisterId, String> = BTreeMap::new();
    for facility in &config.facilities {
        let float =
            if matches!(facility.kind, FacilityKind::CarPark | FacilityKind::BicyclePark) { 50_000 } else { 30_000 };
        for register in &facility.registers {
            let shift: ShiftView = client
                .post(
                    "/v1/shifts",
                    &token_for(&register.id)?,
                    &uuid::Uuid::new_v4().to_string(),
                    &pos_core::api::OpenShiftRequest {
                        register_id: register.id.clone(),
                        opening_float: Yen::new(float)?,
                    },
                )
                .await?;
            shift_of.insert(register.id.clone(), shift.id);
        }
    }

    let mut report = DemoReport { business_date: date.to_string(), ..DemoReport::default() };
    for planned in plan_day(config, date, options.sales, options.cashless_per_mille, &mut rng) {
        clock.set(planned.at);
        let token = token_for(&planned.register)?;
        let sale: SaleView =
            client.post("/v1/sales", &token, &uuid::Uuid::new_v4().to_string(), &planned.request).await?;
        let (facility, register) = config.register(&planned.register).context("register vanished")?;
        clock.set(planned.at + Duration::seconds(40));
        let paid = match (planned.brand, register.terminal.as_ref()) {
            (Some(brand), _) if brand.method() == Method::Qr => {
                let sale = pay_by_qr(client, qr, &token, &sale, brand).await?;
                *report.cashless.entry(brand.code().to_string()).or_default() += 1;
                sale
            }
            (Some(brand), Some(terminal_id)) => {
                let result = match counter.as_mut().filter(|counter| counter.register == planned.register) {
                    Some(counter) => counter.pay(&token, &sale, brand).await?,
                    None => {
                        pay_on_terminal(client, terminals, &token, &sale, brand, terminal_id.as_str(), &mut report)
                            .await?
                    }
                };
                *report.cashless.entry(brand.code().to_string()).or_default() += 1;
                result
            }
            _ => {
                let tendered = tendered_for(sale.amount_total, planned.tender_style, facility.policy.cash_tendered_max);
                let payment = PaymentRequest {
                    method: Method::Cash,
                    tendered: Some(tendered),
                    amount: None,
                    brand: None,
                    customer_code: None,
                };
                let key = uuid::Uuid::new_v4().to_string();
                let path = format!("/v1/sales/{}/payments", sale.id);
                let paid: PaymentResult = client.post(&path, &token, &key, &payment).await?;
                if planned.repeat_payment {
                    let again: PaymentResult = client.post(&path, &token, &key, &payment).await?;
                    if again.payment.id != paid.payment.id {
                        bail!("a repeated payment request created a second payment");
                    }
                    report.repeats_sent += 1;
                }
                paid.sale
            }
        };
        if paid.state != SaleState::Paid {
            bail!("sale {} is {} after full payment", sale.id, paid.state);
        }
        // A QR payment is not voided at the counter (the connector has no cancel-after-payment yet).
        if planned.void && planned.brand.is_none_or(|b| b.method() != Method::Qr) {
            clock.set(planned.at + Duration::seconds(90));
            let _: SaleView = client
                .post(
                    &format!("/v1/sales/{}/void", sale.id),
                    &token,
                    &uuid::Uuid::new_v4().to_string(),
                    &VoidSaleRequest { reason: "打ち間違い (keyed the wrong item)".to_string() },
                )
                .await?;
            report.played_voided += 1;
        } else {
            report.played_paid += 1;
        }
    }

    // Close every register at 17:30; the first register of the busiest certificate counter is
    // ten yen short.
    clock.set(jst_instant(date, NaiveTime::from_hms_opt(17, 30, 0).unwrap_or(NaiveTime::MIN)));
    let short_register = crate::reconcile::short_register(config);
    for (register, shift_id) in &shift_of {
        let token = token_for(register)?;
        let shift: ShiftView = client.get(&format!("/v1/shifts/{shift_id}"), &token).await?;
        let sales: SaleList = client.get(&format!("/v1/sales?shift_id={shift_id}"), &token).await?;
        let cash_in: i64 = sales
            .sales
            .iter()
            .flat_map(|s| &s.payments)
            .filter(|p| p.state == pos_core::PaymentState::Completed && p.method == Method::Cash)
            .map(|p| p.amount.get())
            .sum();
        let mut counted = shift.opening_float.get() + cash_in;
        if Some(register) == short_register.as_ref() {
            counted -= PLANTED_SHORTAGE_YEN;
        }
        let request = CloseShiftRequest { counted: count_drawer(Yen::new(counted)?) };
        let _: ShiftView = client
            .post(&format!("/v1/shifts/{shift_id}/close"), &token, &uuid::Uuid::new_v4().to_string(), &request)
            .await?;
    }

    // Voids of card payments are reversals at the acquirer; let them land before reading back.
    let bound = std::time::Duration::from_secs(REVERSALS_WAIT_SECONDS);
    crate::rig::within("the voids' reversals to land", bound, || async {
        let pending = gateway::journal::reversals::count(&app.journal, pos_core::ReversalState::Pending).await?;
        app.work.reversal_wake.notify_one();
        Ok((pending == 0).then_some(()))
    })
    .await?;

    // Read the day back as treasury sees it.
    let treasury = demo_token("treasury");
    for facility in &config.facilities {
        let sales: SaleList =
            client.get(&format!("/v1/sales?facility_id={}&business_date={date}", facility.id), &treasury).await?;
        let shifts: pos_core::api::ShiftList =
            client.get(&format!("/v1/shifts?facility_id={}&business_date={date}", facility.id), &treasury).await?;
        let mut day = FacilityDay {
            facility_id: facility.id.to_string(),
            name_ja: facility.name_ja.clone(),
            ..FacilityDay::default()
        };
        for sale in &sales.sales {
            match sale.state {
                SaleState::Paid => {
                    day.sales_paid += 1;
                    day.amount_paid += sale.amount_total.get();
                    for payment in sale.payments.iter().filter(|p| p.state.holds_money()) {
                        match payment.method {
                            Method::Card | Method::Emoney => {
                                day.cashless_payments += 1;
                                day.cashless_amount += payment.amount.get();
                            }
                            Method::Qr => {
                                day.qr_payments += 1;
                                day.qr_amount += payment.amount.get();
                            }
                            Method::Cash => {}
                        }
                    }
                }
                SaleState::Voided => day.sales_voided += 1,
                SaleState::Cancelled => day.sales_cancelled += 1,
                SaleState::Open => {}
            }
        }
        for cash in shifts.shifts.iter().filter_map(|s| s.cash.as_ref()) {
            day.cash_expected += cash.expected.get();
            day.cash_counted += cash.counted.get();
            day.over_short += cash.over_short.get();
        }
        report.facilities.push(day);
    }
    let verification: gateway::journal::audit::Verification = client.get("/v1/audit/verify", &treasury).await?;
    report.audit_records = verification.records;
    report.audit_intact = verification.is_intact();
    Ok(report)
}

fn print_report(config: &Config, report: &DemoReport) {
    println!("{} — business day {} (journal: {})", config.city.name_ja, report.business_date, report.journal);
    println!();
    println!(
        "{:<4} {:<20} {:<11} {:>6} {:>5} {:>12} {:>12} {:>12} {:>6}  name",
        "id", "kind", "owner", "paid", "void", "takings", "expected", "counted", "+/-"
    );
    let mut totals = FacilityDay::default();
    for day in &report.facilities {
        let facility =
            config.facility(&FacilityId::parse(&day.facility_id).unwrap_or_else(|_| config.facilities[0].id.clone()));
        let (kind, owner) = facility.map_or(("?".to_string(), "?".to_string()), |f| {
            let kind = FacilityKind::ALL.iter().find(|(_, k)| *k == f.kind).map_or("?", |(name, _)| name).to_string();
            let owner = match &f.owner {
                Owner::City => "city".to_string(),
                Owner::Operator(operator) => operator.to_string(),
            };
            (kind, owner)
        });
        let yen = |v: i64| Yen::new(v).map(|y| y.to_string()).unwrap_or_default();
        println!(
            "{:<4} {:<20} {:<11} {:>6} {:>5} {:>12} {:>12} {:>12} {:>6}  {}",
            day.facility_id,
            kind,
            owner,
            day.sales_paid,
            day.sales_voided,
            yen(day.amount_paid),
            yen(day.cash_expected),
            yen(day.cash_counted),
            if day.over_short == 0 { "0".to_string() } else { format!("{:+}", day.over_short).replace('-', "−") },
            day.name_ja
        );
        totals.sales_paid += day.sales_paid;
        totals.sales_voided += day.sales_voided;
        totals.amount_paid += day.amount_paid;
        totals.cash_expected += day.cash_expected;
        totals.cash_counted += day.cash_counted;
        totals.over_short += day.over_short;
    }
    let yen = |v: i64| Yen::new(v).map(|y| y.to_string()).unwrap_or_default();
    println!(
        "{:<37} {:>6} {:>5} {:>12} {:>12} {:>12} {:>6}",
        "total",
        totals.sales_paid,
        totals.sales_voided,
        yen(totals.amount_paid),
        yen(totals.cash_expected),
        yen(totals.cash_counted),
        format!("{:+}", totals.over_short).replace('-', "−")
    );
    println!();
    let cashless: usize = report.facilities.iter().map(|f| f.cashless_payments).sum();
    let cashless_amount: i64 = report.facilities.iter().map(|f| f.cashless_amount).sum();
    let brands: Vec<String> = report.cashless.iter().map(|(brand, n)| format!("{brand} {n}")).collect();
    println!(
        "Cashless: {cashless} card and e-money payments for {} ({}), through the terminal host to the simulated acquirers.",
        Yen::new(cashless_amount).map(|y| y.to_string()).unwrap_or_default(),
        brands.join(", ")
    );
    println!(
        "The acquirers hold {} approved for {}; the journal {} completed for {} — they {}.",
        report.acquirer_approved,
        Yen::new(report.acquirer_approved_amount).map(|y| y.to_string()).unwrap_or_default(),
        cashless,
        Yen::new(cashless_amount).map(|y| y.to_string()).unwrap_or_default(),
        if report.acquirer_approved == cashless && report.acquirer_approved_amount == cashless_amount {
            "agree"
        } else {
            "DISAGREE"
        }
    );
    let qr: usize = report.facilities.iter().map(|f| f.qr_payments).sum();
    let qr_amount: i64 = report.facilities.iter().map(|f| f.qr_amount).sum();
    println!(
        "QR: {qr} payments for {} through the signed QR connector; the provider holds {} paid for {} — they {}.",
        Yen::new(qr_amount).map(|y| y.to_string()).unwrap_or_default(),
        report.qr_provider_paid,
        Yen::new(report.qr_provider_paid_amount).map(|y| y.to_string()).unwrap_or_default(),
        if report.qr_provider_paid == qr && report.qr_provider_paid_amount == qr_amount { "agree" } else { "DISAGREE" }
    );
    println!(
        "{} payment requests were sent twice with the same Idempotency-Key; each charged once.",
        report.repeats_sent
    );
    println!(
        "Audit log: {} records, hash chain {}.",
        report.audit_records,
        if report.audit_intact { "intact" } else { "BROKEN" }
    );
    println!("Sign-in tokens of the example configuration: \"demo-<user>\", e.g. demo-clerk-r0101, demo-treasury, demo-admin.");
    if let Some(reconciliation) = &report.reconciliation {
        crate::reconcile::print(reconciliation);
    }
}

/// The clock the demo drives, exposed for tests that want to read it.
pub fn demo_clock_now(clock: &ManualClock) -> DateTime<Utc> {
    clock.now()
}
