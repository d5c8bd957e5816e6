//! `pos-sim`: a seeded whole-system simulation. One seed is one business day at several counters
//! (cash, card and e-money on the registers' terminals over ISO 8583, QR codes paid at the
//! provider, split tender, voids, refunds, double clicks), played through the real HTTP API and
//! terminal host of a gateway started by [`crate::rig`], while the acquirer, e-money and QR
//! simulators make the faults the seed's [`schedule::Schedule`] plants and the gateway is killed
//! (its runtime ended at once, as a crash of its process would: [`crate::rig::Rig::kill_gateway`])
//! at the seed's points and restarted on the same journal. The clerks retry as clerks do: after a
//! lost answer, the same request with the same idempotency key.
//!
//! [`check`] holds the invariants, checked after every restart and at the end of the day. A run
//! that breaks one stops there and reports its seed, the invariant and the events that led to it;
//! running the same seed again replays the same schedule.

pub mod check;
pub mod schedule;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use pos_config::{Backend, Config};
use pos_core::api::{
    CreateSaleRequest, PaymentRequest, PaymentResult, PaymentView, RefundMethod, RefundRequest, SaleView,
    VoidSaleRequest,
};
use pos_core::{Brand, Method, PaymentState, Yen};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::rig::{within, FreshDatabase, LinkTiming, QrOptions, Rig, RigOptions};
use schedule::{CounterPlan, Injection, Op, Schedule, Shape, Tender, Then};

/// The acquirer links' timing in a simulated day: short, so timeouts, sweeps and reversals come
/// quickly; few reversal tries, so refused reversals run out and reach treasury.
pub const SIM_LINK_TIMING: LinkTiming =
    LinkTiming { request_timeout_ms: 1_500, reversal_tries_max: 4, reversal_backoff_ms: 100 };
/// How long a clerk keeps retrying one request whose answer was lost (the gateway restarting).
pub const REQUEST_RETRY_MS_MAX: u64 = 60_000;
/// One HTTP request's own deadline.
pub const REQUEST_TIMEOUT_MS: u64 = 15_000;
/// How long a terminal waits for the terminal host's answer.
pub const TERMINAL_WAIT_MS: u64 = 6_000;
/// How long a terminal may take to connect again after a restart.
pub const TERMINAL_CONNECT_MS_MAX: u64 = 15_000;
/// How long a payment may stay authorizing (or a QR code unpaid) before the clerk gives up on it:
/// the gateway's sweep takes over abandoned authorizations a few seconds after a restart.
pub const RESOLUTION_WINDOW_MS: u64 = 45_000;
/// How many payments a clerk starts on one sale before leaving it unpaid.
pub const PAYMENT_ATTEMPTS_MAX: usize = 3;
/// How many times a terminal sends an authorization the gateway has not bound.
pub const TERMINAL_SENDS_MAX: usize = 3;
/// Events kept for the report of a violation.
pub const EVENTS_SHOWN: usize = 40;

/// `pos-sim`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct SimOptions {
    /// The city's configuration.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/examples/city.toml"))]
    pub config: PathBuf,
    /// The journal's backend: sqlite or postgres (POS_TEST_POSTGRES_URL, else the local server).
    #[arg(long, default_value = "sqlite", value_parser = parse_backend)]
    pub backend: Backend,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How many seeds, from `--seed` on.
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// Gateway kills over all seeds (spread evenly).
    #[arg(long, default_value_t = 5)]
    pub kills: usize,
    /// Counters (registers) per day.
    #[arg(long, default_value_t = 4)]
    pub counters: usize,
    /// Sales per counter.
    #[arg(long, default_value_t = 12)]
    pub sales: usize,
    /// Faults planted per seed.
    #[arg(long, default_value_t = 8)]
    pub faults: usize,
    /// Print every event as it happens.
    #[arg(long)]
    pub verbose: bool,
}

fn parse_backend(text: &str) -> Result<Backend, String> {
    match text {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        other => Err(format!("{other:?} is not sqlite or postgres")),
    }
}

impl SimOptions {
    /// The shape of one seed's day, with `kills` kills.
    pub fn shape(&self, kills: usize) -> Shape {
        Shape {
            counters: self.counters,
            ops_per_counter: self.sales,
            kills,
            faults: self.faults,
            request_timeout_ms: SIM_LINK_TIMING.request_timeout_ms,
        }
    }

    /// Kills of the `index`-th seed: `--kills` spread over the seeds, the first ones one more.
    pub fn kills_of(&self, index: u64) -> usize {
        let seeds = usize::try_from(self.seeds.max(1)).unwrap_or(usize::MAX);
        let index = usize::try_from(index).unwrap_or(usize::MAX);
        self.kills / seeds + usize::from(index < self.kills % seeds)
    }
}

/// An invariant broken.
#[derive(Debug, Clone)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invariant violated — {}: {}", self.invariant, self.detail)
    }
}

impl std::error::Error for Violation {}

/// What one or more seeds came to.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub seeds: u64,
    pub sales: u64,
    pub acknowledged: u64,
    pub unpaid: u64,
    pub voids: u64,
    pub refunds: u64,
    pub double_submits: u64,
    pub lost_answers: u64,
    pub kills: u64,
    pub checks: u64,
    /// Faults planted, by kind, counted in requests they apply to.
    pub faults: BTreeMap<String, u64>,
    /// Payments left in doubt (and on treasury's exceptions list) at the end of the day.
    pub in_doubt_raised: u64,
    /// E-money payments the centre answered `Y1`, left in doubt for treasury to settle.
    pub left_to_treasury: u64,
}

impl Tally {
    pub fn add(&mut self, other: &Tally) {
        self.seeds += other.seeds;
        self.sales += other.sales;
        self.acknowledged += other.acknowledged;
        self.unpaid += other.unpaid;
        self.voids += other.voids;
        self.refunds += other.refunds;
        self.double_submits += other.double_submits;
        self.lost_answers += other.lost_answers;
        self.kills += other.kills;
        self.checks += other.checks;
        self.in_doubt_raised += other.in_doubt_raised;
        self.left_to_treasury += other.left_to_treasury;
        for (kind, count) in &other.faults {
            *self.faults.entry(kind.clone()).or_default() += count;
        }
    }
}

/// One seed's outcome: its tally, and the violation that ended it with the events before it.
#[derive(Debug)]
pub struct SeedOutcome {
    pub seed: u64,
    pub tally: Tally,
    pub violation: Option<(Violation, Vec<String>)>,
    pub elapsed: Duration,
}

/// A payment the clerk saw acknowledged as taking money, and what the clerk did with it after.
#[derive(Debug, Clone)]
pub struct Ack {
    pub register: String,
    pub sale_id: String,
    pub payment_id: String,
    pub method: Method,
    pub amount: Yen,
    /// The void of its sale was asked for.
    pub voided: bool,
    /// Refunds acknowledged.
    pub refunded: i64,
}

/// What the counters, the controller and the checks share.
pub struct Shared {
    pub http: reqwest::Client,
    pub base: String,
    pub terminals: crate::terminals::TerminalFleet,
    pub qr: qr_sim::QrSimHandle,
    pub acks: Mutex<Vec<Ack>>,
    pub registers: Vec<String>,
    events: Mutex<Vec<String>>,
    started: Instant,
    verbose: bool,
    done: tokio::sync::watch::Sender<(usize, usize)>,
    lost_answers: AtomicU64,
    counts: Mutex<Tally>,
}

/// Treasury's token in the example city.
pub const TREASURY_TOKEN: &str = "demo-treasury";

fn token_of(user: &str) -> String {
    format!("demo-{user}")
}

fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Shared {
    /// Notes an event of the day.
    pub fn event(&self, text: impl Into<String>) {
        let line = format!("{:>8.3}s {}", self.started.elapsed().as_secs_f64(), text.into());
        if self.verbose {
            eprintln!("{line}");
        }
        self.events.lock().unwrap_or_else(PoisonError::into_inner).push(line);
    }

    fn count(&self, add: impl FnOnce(&mut Tally)) {
        add(&mut self.counts.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// The events that led to `violation`: those naming an id it names, and the last ones.
    fn events_for(&self, violation: &Violation) -> Vec<String> {
        let events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        let ids: Vec<&str> = violation
            .detail
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .filter(|word| word.len() >= 12 && word.contains('_'))
            .collect();
        let mut shown: Vec<String> =
            events.iter().filter(|e| ids.iter().any(|id| e.contains(id))).cloned().collect::<Vec<_>>();
        let tail = events.len().saturating_sub(EVENTS_SHOWN);
        shown.push("… the last events:".to_string());
        shown.extend(events[tail..].iter().cloned());
        shown
    }

    /// Sends a request until it is answered (anything but a lost answer or a 5xx), as a clerk
    /// retries: the same request, the same idempotency key.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<(u16, String)> {
        let what = format!("an answer to {method} {path}");
        within(&what, Duration::from_millis(REQUEST_RETRY_MS_MAX), || async {
            let mut request = self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(token);
            if let Some(key) = key {
                request = request.header("Idempotency-Key", key);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let answer = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    response.text().await.map(|text| (status, text))
                }
                Err(error) => Err(error),
            };
            match answer {
                Ok((status, text)) if status < 500 && !(status == 409 && text.contains("in_progress")) => {
                    Ok(Some((status, text)))
                }
                Ok((status, _)) => {
                    self.lost_answers.fetch_add(1, Ordering::Relaxed);
                    self.event(format!("answer {status} to {method} {path} (key {key:?}): retried"));
                    Ok(None)
                }
                Err(error) => {
                    self.lost_answers.fetch_add(1, Ordering::Relaxed);
                    let kind = if error.is_timeout() { "timed out" } else { "lost" };
                    self.event(format!("answer to {method} {path} (key {key:?}) {kind}: retried"));
                    Ok(None)
                }
            }
        })
        .await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        token: &str,
        key: &str,
        body: &B,
    ) -> anyhow::Result<Result<T, (u16, String)>> {
        let body = serde_json::to_value(body)?;
        let (status, text) = self.send(reqwest::Method::POST, path, token, Some(key), Some(&body)).await?;
        if !(200..300).contains(&status) {
            return Ok(Err((status, text)));
        }
        Ok(Ok(serde_json::from_str(&text).with_context(|| format!("POST {path}: unexpected answer {text}"))?))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str, token: &str) -> anyhow::Result<T> {
        let (status, text) = self.send(reqwest::Method::GET, path, token, None, None).await?;
        anyhow::ensure!((200..300).contains(&status), "GET {path} answered {status}: {text}");
        serde_json::from_str(&text).with_context(|| format!("GET {path}: unexpected answer {text}"))
    }
}

/// States in which a card, e-money or QR payment has taken the citizen's money at the acquirer or
/// provider (a refund gives part or all of it back, the charge stands).
pub fn charged(state: PaymentState) -> bool {
    matches!(
        state,
        PaymentState::Approved | PaymentState::Completed | PaymentState::PartiallyRefunded | PaymentState::Refunded
    )
}

/// The QR link of a simulated day: the example simulator, every facility its key's merchant,
/// quick polls and inquiries.
fn qr_options() -> QrOptions {
    QrOptions { merchants: BTreeMap::new(), ..QrOptions::example(true) }
}

/// Plays one seed on `backend` and checks it.
pub async fn run_seed(config: &Config, backend: Backend, seed: u64, shape: Shape, verbose: bool) -> SeedOutcome {
    let started = Instant::now();
    let schedule = Schedule::draw(config, seed, shape);
    let mut tally = Tally { seeds: 1, ..Tally::default() };
    let outcome = play(config, backend, &schedule, verbose, &mut tally).await;
    let violation = match outcome {
        Ok(()) => None,
        Err(Failure::Violation(violation, events)) => Some((violation, events)),
        Err(Failure::Broken(error)) => {
            Some((Violation { invariant: "the day runs to its end", detail: format!("{error:#}") }, Vec::new()))
        }
    };
    SeedOutcome { seed, tally, violation, elapsed: started.elapsed() }
}

enum Failure {
    Violation(Violation, Vec<String>),
    Broken(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        match error.downcast::<Violation>() {
            Ok(violation) => Failure::Violation(violation, Vec::new()),
            Err(error) => Failure::Broken(error),
        }
    }
}

async fn play(
    config: &Config,
    backend: Backend,
    schedule: &Schedule,
    verbose: bool,
    tally: &mut Tally,
) -> Result<(), Failure> {
    let database = FreshDatabase::new(backend, 8).await?;
    let mut config = config.clone();
    config.database = database.config.clone();
    let tls = tempfile::tempdir().context("a folder for the rig's PKI")?;
    let clock: Arc<dyn pos_core::Clock> = Arc::new(pos_core::SystemClock);
    let mut rig = Rig::start(RigOptions {
        card: true,
        emoney: true,
        qr: Some(qr_options()),
        terminal_host: true,
        own_runtime: true,
        link_timing: Some(SIM_LINK_TIMING),
        ..RigOptions::gateway_only(config, clock, tls.path().to_path_buf())
    })
    .await?;
    let result = play_on(&mut rig, schedule, verbose, tally).await;
    // Faults off and the gateway stopped whatever happened, so nothing outlives the seed.
    if let Some(card) = &rig.card {
        card.set_faults(Vec::new());
    }
    let stopped = rig.stop().await;
    result?;
    stopped?;
    Ok(())
}

async fn play_on(rig: &mut Rig, schedule: &Schedule, verbose: bool, tally: &mut Tally) -> Result<(), Failure> {
    let qr = rig.qr.clone().context("the rig's QR provider")?;
    let (done, _) = tokio::sync::watch::channel((0usize, 0usize));
    let shared = Arc::new(Shared {
        http: reqwest::Client::builder()
            .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
            .build()
            .context("client")?,
        base: rig.base.clone(),
        terminals: rig.terminals()?,
        qr,
        acks: Mutex::new(Vec::new()),
        registers: schedule.counters.iter().map(|c| c.register.to_string()).collect(),
        events: Mutex::new(Vec::new()),
        started: Instant::now(),
        verbose,
        done,
        lost_answers: AtomicU64::new(0),
        counts: Mutex::new(Tally::default()),
    });
    shared.event(format!(
        "seed {}: {} counters, {} sales, kills after sales {:?}, faults {:?}",
        schedule.seed,
        schedule.counters.len(),
        schedule.ops(),
        schedule.kills.iter().map(|k| (k.after_ops, k.delay_ms)).collect::<Vec<_>>(),
        schedule.faults.iter().map(|f| format!("{}@{}", f.injection, f.after_ops)).collect::<Vec<_>>()
    ));
    let result = play_day(rig, schedule, &shared, tally).await;
    shared.terminals.shutdown();
    let counts = shared.counts.lock().unwrap_or_else(PoisonError::into_inner).clone();
    tally.add(&counts);
    tally.lost_answers += shared.lost_answers.load(Ordering::Relaxed);
    result.map_err(|failure| match failure {
        Failure::Violation(violation, _) => {
            let events = shared.events_for(&violation);
            Failure::Violation(violation, events)
        }
        broken => broken,
    })
}

async fn play_day(rig: &mut Rig, schedule: &Schedule, shared: &Arc<Shared>, tally: &mut Tally) -> Result<(), Failure> {
    for counter in &schedule.counters {
        let opened: Result<serde_json::Value, _> = shared
            .post(
                "/v1/shifts",
                &token_of(&counter.clerk),
                &new_key(),
                &serde_json::json!({ "register_id": counter.register, "opening_float": 30_000 }),
            )
            .await?;
        opened.map_err(|(status, text)| {
            anyhow::anyhow!("opening a shift at {} answered {status}: {text}", counter.register)
        })?;
    }
    let mut counters = Vec::new();
    for (index, plan) in schedule.counters.iter().cloned().enumerate() {
        let shared = shared.clone();
        counters.push(tokio::spawn(async move { play_counter(&shared, index, plan).await }));
    }
    let counter_count = counters.len();
    let all_counters = async {
        let mut first_error: Option<anyhow::Error> = None;
        for counter in counters {
            let ended = counter.await.map_err(anyhow::Error::from).and_then(|r| r);
            if let (Err(error), None) = (ended, &first_error) {
                first_error = Some(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    };
    let controller = control(rig, schedule, shared, counter_count, tally);
    let (counters_ended, controlled) = tokio::join!(all_counters, controller);
    counters_ended?;
    controlled?;
    // The end of the day: faults off, everything due resolves, then every invariant.
    clear_faults(rig);
    let window = Duration::from_millis(RESOLUTION_WINDOW_MS);
    let settled = within("payments to settle after the day", window, || async {
        rig.app.work.reversal_wake.notify_one();
        check::settled(rig, shared).await
    })
    .await;
    if let Err(error) = settled {
        shared.event(format!("not settled within the resolution window: {error:#}"));
    }
    let end = check::end_of_day(rig, shared, tally).await;
    tally.checks += end.checks;
    end.result.map_err(|v| Failure::Violation(v, Vec::new()))
}

fn clear_faults(rig: &Rig) {
    for simulator in [&rig.card, &rig.emoney].into_iter().flatten() {
        simulator.set_faults(Vec::new());
    }
    if let Some(qr) = &rig.qr {
        qr.set_faults(Vec::new());
    }
}

/// Plants the faults and kills the gateway at the schedule's points, checking the invariants that
/// hold at any moment after each restart.
async fn control(
    rig: &mut Rig,
    schedule: &Schedule,
    shared: &Arc<Shared>,
    counters: usize,
    tally: &mut Tally,
) -> Result<(), Failure> {
    enum Step {
        Kill(u64),
        Fault(Injection),
    }
    let mut steps: Vec<(usize, Step)> = schedule
        .kills
        .iter()
        .map(|k| (k.after_ops, Step::Kill(k.delay_ms)))
        .chain(schedule.faults.iter().map(|f| (f.after_ops, Step::Fault(f.injection))))
        .collect();
    steps.sort_by_key(|(after, step)| (*after, matches!(step, Step::Kill(_))));
    let mut done = shared.done.subscribe();
    for (after, step) in steps {
        // Waits for the counters, however long they take (their own waits are bounded).
        let _ = done.wait_for(|(ops, ended)| *ops >= after || *ended >= counters).await;
        match step {
            Step::Fault(injection) => {
                shared.event(format!("fault planted after {after} sales: {injection}"));
                *tally.faults.entry(injection.kind()).or_default() += u64::from(injection.times());
                // A plan list replaces the simulator's previous one: the newest fault stands.
                match injection {
                    Injection::Card(plan) => {
                        if let Some(card) = &rig.card {
                            card.set_faults(vec![plan]);
                        }
                    }
                    Injection::Emoney(plan) => {
                        if let Some(emoney) = &rig.emoney {
                            emoney.set_faults(vec![plan]);
                        }
                    }
                    Injection::Qr(plan) => shared.qr.set_faults(vec![plan]),
                }
            }
            Step::Kill(delay_ms) => {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                tally.kills += 1;
                shared.event(format!("KILL #{} of the gateway ({delay_ms} ms after sale {after})", tally.kills));
                rig.kill_gateway().await?;
                rig.start_gateway().await?;
                shared.event(format!("gateway restarted after kill #{}", tally.kills));
                let checked = check::any_moment(shared).await;
                tally.checks += checked.checks;
                checked.result.map_err(|v| Failure::Violation(v, Vec::new()))?;
            }
        }
    }
    Ok(())
}

/// One counter's day, sale after sale.
async fn play_counter(shared: &Shared, index: usize, plan: CounterPlan) -> anyhow::Result<()> {
    let mut counter = Counter { index, plan: &plan, stan: 0, token: token_of(&plan.clerk) };
    let result = async {
        for (number, op) in plan.ops.iter().enumerate() {
            counter.play(shared, number, op).await?;
            shared.done.send_modify(|(ops, _)| *ops += 1);
        }
        anyhow::Ok(())
    }
    .await;
    shared.done.send_modify(|(_, ended)| *ended += 1);
    result
}

struct Counter<'a> {
    index: usize,
    plan: &'a CounterPlan,
    stan: u32,
    token: String,
}

impl Counter<'_> {
    fn name(&self, number: usize) -> String {
        format!("c{}:{} sale {number}", self.index, self.plan.register)
    }

    async fn play(&mut self, shared: &Shared, number: usize, op: &Op) -> anyhow::Result<()> {
        let name = self.name(number);
        let request = CreateSaleRequest { register_id: self.plan.register.clone(), lines: op.lines.clone() };
        let sale: SaleView = shared
            .post("/v1/sales", &self.token, &new_key(), &request)
            .await?
            .map_err(|(status, text)| anyhow::anyhow!("{name}: creating the sale answered {status}: {text}"))?;
        shared.count(|t| t.sales += 1);
        shared.event(format!("{name}: sale {} of {} ({:?})", sale.id, sale.amount_total, op.tender));
        let paid = match op.tender {
            Tender::Cash => self.pay_cash(shared, &name, &sale, None, op.double_submit).await?.into_iter().collect(),
            Tender::Terminal(brand) => {
                self.pay_terminal(shared, &name, &sale, brand, None, op.double_submit).await?.into_iter().collect()
            }
            Tender::Qr(brand) => self.pay_qr(shared, &name, &sale, brand).await?.into_iter().collect(),
            Tender::Split(brand) => {
                let part = Yen::new((sale.amount_total.get() / 200) * 100)?;
                let mut paid: Vec<PaymentView> = Vec::new();
                if part.get() > 0 {
                    paid.extend(self.pay_cash(shared, &name, &sale, Some(part), op.double_submit).await?);
                }
                if !paid.is_empty() || part.get() == 0 {
                    paid.extend(self.pay_terminal(shared, &name, &sale, brand, None, false).await?);
                }
                paid
            }
        };
        let total: i64 = paid.iter().map(|p| p.amount.get()).sum();
        if total < sale.amount_total.get() {
            shared.count(|t| t.unpaid += 1);
            shared.event(format!("{name}: sale {} left unpaid ({total} of {})", sale.id, sale.amount_total));
            return Ok(());
        }
        match op.then {
            Then::Nothing => {}
            Then::Void => {
                // Marked before the request: a check may read the journal between the void's
                // commit and its answer.
                {
                    let mut acks = shared.acks.lock().unwrap_or_else(PoisonError::into_inner);
                    acks.iter_mut().filter(|a| a.sale_id == sale.id).for_each(|a| a.voided = true);
                }
                let voided: Result<SaleView, _> = shared
                    .post(
                        &format!("/v1/sales/{}/void", sale.id),
                        &self.token,
                        &new_key(),
                        &VoidSaleRequest { reason: "keyed the wrong item".to_string() },
                    )
                    .await?;
                match voided {
                    Ok(_) => {
                        shared.count(|t| t.voids += 1);
                        shared.event(format!("{name}: sale {} voided", sale.id));
                    }
                    Err((status, text)) => {
                        shared.event(format!("{name}: void of {} refused {status}: {text}", sale.id))
                    }
                }
            }
            Then::Refund { tenths } => {
                for payment in paid.iter().filter(|p| p.method != Method::Cash) {
                    let amount = Yen::new((payment.amount.get() * tenths / 10).max(1))?;
                    let request = RefundRequest {
                        amount,
                        method: RefundMethod::Original,
                        reason: "the citizen changed their mind".to_string(),
                        approval_code: None,
                    };
                    let refunded: Result<serde_json::Value, _> = shared
                        .post(&format!("/v1/payments/{}/refunds", payment.id), TREASURY_TOKEN, &new_key(), &request)
                        .await?;
                    match refunded {
                        Ok(view) => {
                            shared.count(|t| t.refunds += 1);
                            let state = view.get("state").and_then(|s| s.as_str()).unwrap_or("?").to_string();
                            shared.event(format!("{name}: refund of {amount} on {} answered {state}", payment.id));
                            if state == "approved" || state == "recorded" {
                                let mut acks = shared.acks.lock().unwrap_or_else(PoisonError::into_inner);
                                acks.iter_mut()
                                    .filter(|a| a.payment_id == payment.id)
                                    .for_each(|a| a.refunded += amount.get());
                            }
                        }
                        Err((status, text)) => {
                            shared.event(format!("{name}: refund on {} refused {status}: {text}", payment.id))
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn acknowledge(&self, shared: &Shared, name: &str, sale: &SaleView, payment: &PaymentView) {
        shared.count(|t| t.acknowledged += 1);
        shared.event(format!(
            "{name}: payment {} of sale {} acknowledged {} ({}, rrn {:?})",
            payment.id, sale.id, payment.state, payment.amount, payment.rrn
        ));
        shared.acks.lock().unwrap_or_else(PoisonError::into_inner).push(Ack {
            register: self.plan.register.to_string(),
            sale_id: sale.id.clone(),
            payment_id: payment.id.clone(),
            method: payment.method,
            amount: payment.amount,
            voided: false,
            refunded: 0,
        });
    }

    /// Sends the same payment request with the same key again: the answer must name the same
    /// payment.
    async fn double_submit(
        &self,
        shared: &Shared,
        name: &str,
        path: &str,
        key: &str,
        request: &PaymentRequest,
        first: &PaymentView,
    ) -> anyhow::Result<()> {
        shared.count(|t| t.double_submits += 1);
        let again: Result<PaymentResult, _> = shared.post(path, &self.token, key, request).await?;
        match again {
            Ok(again) if again.payment.id == first.id => Ok(()),
            Ok(again) => Err(Violation {
                invariant: "a repeated request with the same idempotency key does nothing new",
                detail: format!("{name}: payment {} answered again as payment {}", first.id, again.payment.id),
            }
            .into()),
            Err((status, text)) => Err(Violation {
                invariant: "a repeated request with the same idempotency key does nothing new",
                detail: format!("{name}: payment {} repeated was answered {status}: {text}", first.id),
            }
            .into()),
        }
    }

    async fn pay_cash(
        &self,
        shared: &Shared,
        name: &str,
        sale: &SaleView,
        part: Option<Yen>,
        double: bool,
    ) -> anyhow::Result<Option<PaymentView>> {
        let amount = part.unwrap_or(sale.amount_total);
        let request = PaymentRequest {
            method: Method::Cash,
            tendered: Some(amount),
            amount: part,
            brand: None,
            customer_code: None,
        };
        let path = format!("/v1/sales/{}/payments", sale.id);
        let key = new_key();
        let paid: Result<PaymentResult, _> = shared.post(&path, &self.token, &key, &request).await?;
        let paid = paid.map_err(|(status, text)| anyhow::anyhow!("{name}: cash payment answered {status}: {text}"))?;
        anyhow::ensure!(
            paid.payment.state == PaymentState::Completed,
            "{name}: cash payment is {}",
            paid.payment.state
        );
        self.acknowledge(shared, name, sale, &paid.payment);
        if double {
            self.double_submit(shared, name, &path, &key, &request, &paid.payment).await?;
        }
        Ok(Some(paid.payment))
    }

    async fn payment(&self, shared: &Shared, id: &str) -> anyhow::Result<PaymentView> {
        shared.get(&format!("/v1/payments/{id}"), &self.token).await
    }

    /// Waits (within the resolution window) until `id` leaves the states an answer may still change.
    async fn settled(&self, shared: &Shared, id: &str) -> anyhow::Result<PaymentView> {
        let window = Duration::from_millis(RESOLUTION_WINDOW_MS);
        within(&format!("payment {id} to be decided"), window, || async {
            let payment = self.payment(shared, id).await?;
            Ok((!matches!(payment.state, PaymentState::Authorizing | PaymentState::Approved)).then_some(payment))
        })
        .await
        .map_err(|error| {
            Violation {
                invariant: "nothing stays authorizing past the resolution window",
                detail: format!("{error:#}"),
            }
            .into()
        })
    }

    async fn cancel(&self, shared: &Shared, name: &str, id: &str) -> anyhow::Result<()> {
        let cancelled: Result<serde_json::Value, _> =
            shared.post(&format!("/v1/payments/{id}/cancel"), &self.token, &new_key(), &serde_json::json!({})).await?;
        match cancelled {
            Ok(_) => shared.event(format!("{name}: payment {id} cancelled by the clerk")),
            Err((status, text)) => shared.event(format!("{name}: cancel of payment {id} answered {status}: {text}")),
        }
        Ok(())
    }

    async fn pay_terminal(
        &mut self,
        shared: &Shared,
        name: &str,
        sale: &SaleView,
        brand: Brand,
        part: Option<Yen>,
        double: bool,
    ) -> anyhow::Result<Option<PaymentView>> {
        let terminal = self.plan.terminal.clone().context("a terminal counter without a terminal")?;
        let path = format!("/v1/sales/{}/payments", sale.id);
        for attempt in 0..PAYMENT_ATTEMPTS_MAX {
            let request = PaymentRequest {
                method: brand.method(),
                tendered: None,
                amount: part,
                brand: None,
                customer_code: None,
            };
            let key = new_key();
            let started: Result<PaymentResult, _> = shared.post(&path, &self.token, &key, &request).await?;
            let started = match started {
                Ok(started) => started,
                Err((status, text)) => {
                    shared.event(format!("{name}: {brand} payment attempt {attempt} refused {status}: {text}"));
                    self.cancel_pending(shared, name, &sale.id).await?;
                    continue;
                }
            };
            let id = started.payment.id.clone();
            shared.event(format!("{name}: {brand} payment {id} started ({})", started.payment.state));
            for _ in 0..TERMINAL_SENDS_MAX {
                let connected =
                    shared.terminals.wait_connected(&terminal, Duration::from_millis(TERMINAL_CONNECT_MS_MAX)).await;
                if !connected {
                    shared.event(format!("{name}: terminal {terminal} not connected"));
                }
                self.stan = self.stan % 999_998 + 1;
                let message = authorization(&terminal, self.stan, started.payment.amount, brand)?;
                let answer =
                    shared.terminals.request(&message, Duration::from_millis(TERMINAL_WAIT_MS)).await.map_or_else(
                        |e| format!("no answer ({e})"),
                        |m| m.text(iso8583::fields::RESPONSE_CODE).unwrap_or("??").to_string(),
                    );
                shared.event(format!("{name}: terminal {terminal} stan {} for {id}: {answer}", self.stan));
                let payment = self.settled(shared, &id).await?;
                if charged(payment.state) {
                    self.acknowledge(shared, name, sale, &payment);
                    if double {
                        self.double_submit(shared, name, &path, &key, &request, &payment).await?;
                    }
                    return Ok(Some(payment));
                }
                if payment.state != PaymentState::AwaitingDevice {
                    shared.event(format!("{name}: payment {id} ended {} ({:?})", payment.state, payment.note));
                    break;
                }
            }
            let payment = self.payment(shared, &id).await?;
            if payment.state == PaymentState::AwaitingDevice {
                self.cancel(shared, name, &id).await?;
            }
        }
        Ok(None)
    }

    /// Cancels what an earlier attempt left waiting on this sale.
    async fn cancel_pending(&self, shared: &Shared, name: &str, sale_id: &str) -> anyhow::Result<()> {
        let sale: SaleView = shared.get(&format!("/v1/sales/{sale_id}"), &self.token).await?;
        for payment in sale.payments.iter().filter(|p| p.state == PaymentState::AwaitingDevice) {
            self.cancel(shared, name, &payment.id).await?;
        }
        for payment in sale.payments.iter().filter(|p| matches!(p.state, PaymentState::Authorizing)) {
            self.settled(shared, &payment.id).await?;
        }
        Ok(())
    }

    async fn pay_qr(
        &mut self,
        shared: &Shared,
        name: &str,
        sale: &SaleView,
        brand: Brand,
    ) -> anyhow::Result<Option<PaymentView>> {
        let path = format!("/v1/sales/{}/payments", sale.id);
        let window = Duration::from_millis(RESOLUTION_WINDOW_MS);
        for attempt in 0..PAYMENT_ATTEMPTS_MAX {
            let request = PaymentRequest {
                method: Method::Qr,
                tendered: None,
                amount: None,
                brand: Some(brand),
                customer_code: None,
            };
            let started: Result<PaymentResult, _> = shared.post(&path, &self.token, &new_key(), &request).await?;
            let started = match started {
                Ok(started) => started,
                Err((status, text)) => {
                    shared.event(format!("{name}: QR payment attempt {attempt} refused {status}: {text}"));
                    self.cancel_pending(shared, name, &sale.id).await?;
                    continue;
                }
            };
            let id = started.payment.id.clone();
            shared.event(format!("{name}: QR payment {id} started ({})", started.payment.state));
            // The citizen scans and pays once the code exists at the provider.
            let payable = within(&format!("the code of {id} to be payable"), window, || async {
                if let Ok(record) = shared.qr.pay(&id) {
                    return Ok(Some(Ok(record)));
                }
                let payment = self.payment(shared, &id).await?;
                Ok((!payment.state.is_pending()).then_some(Err(payment)))
            })
            .await;
            match payable {
                Ok(Ok(record)) => {
                    shared.event(format!("{name}: citizen paid QR {id} at the provider ({:?})", record.status))
                }
                Ok(Err(payment)) => {
                    shared.event(format!("{name}: QR payment {id} ended {} before it was paid", payment.state));
                    continue;
                }
                Err(error) => {
                    shared.event(format!("{name}: QR payment {id} never payable: {error:#}"));
                    self.cancel(shared, name, &id).await?;
                    continue;
                }
            }
            let payment = within(&format!("QR payment {id} to be decided"), window, || async {
                let payment = self.payment(shared, &id).await?;
                Ok((!payment.state.is_pending()).then_some(payment))
            })
            .await
            .map_err(|error| Violation {
                invariant: "nothing stays authorizing past the resolution window",
                detail: format!("{error:#}"),
            })?;
            if charged(payment.state) {
                self.acknowledge(shared, name, sale, &payment);
                return Ok(Some(payment));
            }
            shared.event(format!("{name}: QR payment {id} paid at the provider yet {}", payment.state));
        }
        Ok(None)
    }
}

/// The terminal's authorization request for `amount`.
fn authorization(terminal: &str, stan: u32, amount: Yen, brand: Brand) -> anyhow::Result<iso8583::Message> {
    use iso8583::{fields, BrandData, Message, Mti};
    let mut message = Message::new(Mti::FINANCIAL_REQUEST)
        .with(fields::PROCESSING_CODE, fields::PROCESSING_PURCHASE)
        .with(fields::AMOUNT, iso8583::amount_field(amount).context("amount")?)
        .with(
            fields::TRANSMISSION_DATE_TIME,
            gateway::connectors::acquirer::messages::transmission_time(chrono::Utc::now()),
        )
        .with(fields::STAN, format!("{stan:06}"))
        .with(fields::TERMINAL_ID, terminal.to_string())
        .with(fields::CURRENCY, fields::CURRENCY_JPY);
    if brand.method() == Method::Card {
        message.set(fields::POS_ENTRY_MODE, "051");
        message.set(fields::PAN, "4111111111111111");
        message.set(fields::BRAND_DATA, BrandData { brand: Some(brand), ..BrandData::default() }.format());
    } else {
        message.set(fields::POS_ENTRY_MODE, "071");
        let card_id = format!("JE80****{:04}", stan % 10_000);
        message.set(
            fields::BRAND_DATA,
            BrandData { brand: Some(brand), card_id: Some(card_id), ..BrandData::default() }.format(),
        );
    }
    Ok(message)
}

/// Runs `options`' seeds one after another; prints each seed's line and, for a failing one, its
/// violation and events. Returns the total and the failing seeds.
pub async fn run(options: &SimOptions) -> anyhow::Result<(Tally, Vec<u64>)> {
    let config = pos_config::load(&options.config)?;
    let mut total = Tally::default();
    let mut failed = Vec::new();
    for index in 0..options.seeds {
        let seed = options.seed + index;
        let outcome =
            run_seed(&config, options.backend, seed, options.shape(options.kills_of(index)), options.verbose).await;
        total.add(&outcome.tally);
        let t = &outcome.tally;
        println!(
            "seed {seed}: {} sales, {} acknowledged, {} unpaid, {} voids, {} refunds, {} double submits, {} lost answers, {} kills, {} checks, {:.1}s — {}",
            t.sales,
            t.acknowledged,
            t.unpaid,
            t.voids,
            t.refunds,
            t.double_submits,
            t.lost_answers,
            t.kills,
            t.checks,
            outcome.elapsed.as_secs_f64(),
            if outcome.violation.is_none() { "ok" } else { "VIOLATION" }
        );
        if let Some((violation, events)) = &outcome.violation {
            println!("seed {seed} FAILED: {violation}");
            println!(
                "replay: pos-sim --backend {} --seed {seed} --seeds 1 --kills {} --counters {} --sales {} --faults {}",
                backend_name(options.backend),
                options.kills_of(index),
                options.counters,
                options.sales,
                options.faults
            );
            for event in events {
                println!("  {event}");
            }
            failed.push(seed);
        }
    }
    Ok((total, failed))
}

pub fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// The summary of a run, as RELIABILITY.md records it.
pub fn summary(total: &Tally, failed: &[u64]) -> String {
    let mut text = format!(
        "{} seeds, {} sales, {} payments acknowledged, {} left unpaid, {} voids, {} refunds, {} double submits, {} lost answers retried, {} kills survived, {} invariant checks, {} payments left in doubt on treasury's exceptions list, {} e-money payments answered Y1 left to treasury, {} violations\nfaults planted (requests they apply to):\n",
        total.seeds,
        total.sales,
        total.acknowledged,
        total.unpaid,
        total.voids,
        total.refunds,
        total.double_submits,
        total.lost_answers,
        total.kills,
        total.checks,
        total.in_doubt_raised,
        total.left_to_treasury,
        failed.len()
    );
    for (kind, count) in &total.faults {
        text.push_str(&format!("  {kind}: {count}\n"));
    }
    if !failed.is_empty() {
        text.push_str(&format!("failing seeds: {failed:?}\n"));
    }
    text
}
