//! The benchmark: card authorizations per second through the whole switch, and what the gateway
//! adds to the acquirer's own latency.
//!
//! It starts, in this process, a card acquirer simulator over TLS, the gateway on a fresh journal
//! (a new SQLite file, or a new PostgreSQL database dropped afterwards) with its terminal host, and
//! `--concurrency` workers. Each worker is one counter: its own register of the configuration, its
//! clerk's token, its own terminal id and its own TLS connection to the terminal host. Per payment
//! the worker does what a counter does, and each step is timed:
//!
//! 1. `POST /v1/sales` — the clerk rings up one fixed-price fee item of the facility;
//! 2. `POST /v1/sales/{id}/payments` with `{"method":"card"}` — the payment now waits on the
//!    register's terminal;
//! 3. the terminal sends its ISO 8583 0200 over TLS; the terminal host binds it to the pending
//!    payment, journals it, forwards it to the simulator, journals the answer and sends the 0210.
//!
//! End to end is 1 → 3; the *authorization leg* is 3 alone (0200 out → 0210 in, as the terminal
//! sees it). Then, in the same run and against the same simulator, the same number of 0200s go
//! straight to the simulator at the same concurrency over one multiplexed
//! [`iso8583::client::Client`] (the shape of the gateway's own acquirer link), each with a terminal
//! id and STAN of its own. **Gateway adds** is the authorization leg's percentile minus the
//! simulator's: the terminal host, the two journal transactions around the forward and the extra
//! TLS hop. It measures the gateway's cost per authorization under parallel counters, which is
//! what decides how far one gateway and one journal scale (BRIEF.md: one city is 1,300 a day; a
//! prefecture is millions).
//!
//! A warm-up of `--warmup` payments (and as many simulator requests) runs first and is not
//! counted. Latencies are whole microseconds, percentiles by nearest rank; rates are computed in
//! integers (thousandths per second). Every payment must be approved; a failure is counted, its
//! first messages kept, and it is left out of the latencies. Afterwards the journal's completed
//! card payments and the simulator's approvals for the benchmark's terminals are counted, so a
//! report of a run that lost or doubled a payment says so.
//!
//! This is a measurement, not a test: it asserts nothing about behaviour beyond counting what
//! went wrong. The simulator start-up follows `demo::start_switch`, and the database set-up the
//! integration tests' `TestDatabase` (copied, as neither is public).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use iso8583::client::{Client, ClientSettings};
use iso8583::{fields, BrandData, Message, Mti};
use pos_config::{Backend, Config, Price, Role, Scope};
use pos_core::api::{CreateSaleRequest, OpenShiftRequest, PaymentRequest, PaymentResult, SaleLineRequest, SaleView};
use pos_core::{Brand, FeeItemCode, Method, RegisterId, Yen};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::Connection;

/// The most payments one run measures (the simulator's ledger holds 500,000 bookings, and a run
/// books the gateway's payments and the simulator-alone requests, warm-ups included).
pub const PAYMENTS_MAX: usize = 200_000;
/// The most warm-up payments.
pub const WARMUP_MAX: usize = 10_000;
/// The most counters worked in parallel (also bounded by the registers with a terminal).
pub const CONCURRENCY_MAX: usize = 64;
/// The highest open-loop rate, payments per second.
pub const RATE_MAX: u32 = 100_000;
/// How long one HTTP request of a worker may take.
const HTTP_TIMEOUT_MS: u64 = 30_000;
/// How long a terminal waits for its 0210 (the gateway's own acquirer deadline is shorter).
const TERMINAL_WAIT_MS: u64 = 30_000;
/// How long the set-up waits for a TLS link to come up.
const CONNECT_WAIT_MS: u64 = 10_000;
/// Failures in a row after which a worker gives up (its register is probably stuck).
const WORKER_FAILURES_IN_A_ROW_MAX: usize = 20;
/// Example messages kept per kind of failure.
const FAILURE_SAMPLES_MAX: usize = 3;
/// Terminal ids of the simulator-alone workers start with this (8 characters in all).
const SIMULATOR_TERMINAL_PREFIX: &str = "BENCH";
/// The card the benchmark's terminals read: VISA's published test number, masked in the journal.
const TEST_PAN: &str = "4111111111111111";
const TEST_BRAND: Brand = Brand::Visa;

/// Which journal backend the gateway runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchBackend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// The journal backend.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub backend: BenchBackend,
    /// PostgreSQL server (administrative database) on which a fresh database `pos_bench_<random>`
    /// is created for the run and dropped after it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub postgres_url: String,
    /// Payments measured.
    #[arg(long, default_value_t = 2_000)]
    pub payments: usize,
    /// Counters worked in parallel, each with its own register, terminal id and terminal
    /// connection.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// The configuration whose registers, fee items and users the benchmark uses.
    #[arg(long, default_value = "config/examples/city.toml")]
    pub config: PathBuf,
    /// Payments (and simulator-alone requests) run first and not counted.
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Open loop: payments arrive on a fixed schedule, this many per second, whatever the
    /// gateway's pace; each latency counts from the payment's scheduled time, so queueing shows.
    /// Without it, the closed loop: each counter starts its next payment when the last is done.
    #[arg(long)]
    pub rate: Option<u32>,
}

/// Latency percentiles of one measured step, in microseconds (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Latency {
    pub samples: usize,
    pub mean_us: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// A difference of two [`Latency`] values; negative when the first is the faster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LatencyDifference {
    pub p50_us: i64,
    pub p90_us: i64,
    pub p99_us: i64,
    pub max_us: i64,
}

/// Failures of one kind, with the first few messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FailureTally {
    pub kind: String,
    pub count: usize,
    pub samples: Vec<String>,
}

/// The payments through the gateway.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GatewayPhase {
    pub completed: usize,
    pub failed: usize,
    pub elapsed_us: u64,
    /// Approved payments per second, end to end, in thousandths; each is one card authorization.
    pub payments_per_second_milli: u64,
    pub end_to_end: Latency,
    pub create_sale: Latency,
    pub start_payment: Latency,
    /// Terminal 0200 sent → 0210 received.
    pub authorization: Latency,
    pub failures: Vec<FailureTally>,
    /// 0210s that reached a terminal after it had stopped waiting.
    pub terminal_late_answers: u64,
    /// The gateway's own metrics over the measured payments.
    pub gateway_metrics: GatewayMetrics,
    /// Open loop only: how long payments waited past their scheduled time for a free counter.
    pub queued: Latency,
}

/// What the measured payments cost the machine.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CostReport {
    /// The journal writer's `COMMIT`s (group commits) per payment, in thousandths: each is one
    /// fsync of the SQLite WAL, or one WAL flush of PostgreSQL.
    pub group_commits_per_payment_milli: u64,
    /// PostgreSQL only: the server's WAL syncs (`pg_stat_wal.wal_sync`, the whole server) per
    /// payment, in thousandths.
    pub postgres_wal_syncs_per_payment_milli: Option<u64>,
    /// CPU of this whole process (gateway, simulator, counters' clients) per payment.
    pub cpu_us_per_payment: u64,
    /// CPU per authorization sent straight to the simulator (client and simulator: ISO 8583 and
    /// TLS, nothing of the gateway).
    pub cpu_us_per_simulator_authorization: u64,
    /// CPU per request to a bare HTTP server in this process (client and server: one fixed JSON
    /// body, no TLS, no journal).
    pub cpu_us_per_bare_http_request: u64,
    /// The bare server's requests per second at the same concurrency, in thousandths.
    pub bare_http_requests_per_second_milli: u64,
    /// What is left for the gateway's own work per payment (journal, audit, logic): the whole
    /// minus 2 bare HTTP requests minus 2 simulator authorizations (terminal and acquirer hops).
    pub cpu_us_per_payment_gateway_own: i64,
    /// Processor time of the machine, from `/proc/stat`, available per second in microseconds.
    pub cpus: u64,
}

/// Means the gateway's Prometheus histograms recorded over the measured payments, in
/// microseconds. The HTTP handler time (`http_request_duration_seconds`) is taken before the
/// audit record is appended, so client latency minus handler time is the audit append plus the
/// HTTP transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GatewayMetrics {
    pub create_sale_handler_mean_us: u64,
    pub start_payment_handler_mean_us: u64,
    /// The gateway's round trip to the simulator over its card link (`acquirer_latency_seconds`).
    pub acquirer_round_trip_mean_us: u64,
}

/// The same authorizations sent straight to the simulator.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SimulatorPhase {
    pub completed: usize,
    pub failed: usize,
    pub elapsed_us: u64,
    pub authorizations_per_second_milli: u64,
    pub latency: Latency,
    pub failures: Vec<FailureTally>,
}

/// What the books say after the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BooksCheck {
    /// Card payments `completed` in the journal (warm-up included).
    pub journal_completed: i64,
    /// Approvals the simulator booked for the benchmark's registers' terminals.
    pub simulator_approved_via_gateway: usize,
    /// Payments the workers saw approved (warm-up included).
    pub workers_approved: usize,
}

impl BooksCheck {
    pub fn agrees(&self) -> bool {
        usize::try_from(self.journal_completed).ok() == Some(self.workers_approved)
            && self.simulator_approved_via_gateway == self.workers_approved
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub backend: BenchBackend,
    /// The SQLite file or the PostgreSQL database name (gone once the run ends).
    pub journal: String,
    pub payments: usize,
    pub warmup: usize,
    pub concurrency: usize,
    pub registers: Vec<String>,
    pub gateway: GatewayPhase,
    pub simulator_alone: SimulatorPhase,
    /// Authorization leg minus simulator alone, per percentile.
    pub gateway_adds: LatencyDifference,
    pub books: BooksCheck,
    /// Open loop: the offered rate, payments per second.
    pub rate: Option<u32>,
    pub cost: CostReport,
}

/// Runs the benchmark and prints its report (a table, or JSON with `--json`).
pub async fn run(options: BenchOptions) -> anyhow::Result<BenchReport> {
    check_options(&options)?;
    let mut config = pos_config::load(&options.config)?;
    let lanes = choose_lanes(&config, options.concurrency)?;
    let work_dir = WorkDir::create()?;
    let database = BenchDatabase::create(options.backend, &options.postgres_url, work_dir.path()).await?;
    config.database = pos_config::Database {
        url: database.url.clone(),
        backend: database.backend,
        connections_max: config.database.connections_max,
    };
    let measured = measure(config, &options, lanes, work_dir.path(), &database.label).await;
    database.drop_postgres().await;
    drop(work_dir);
    let report = measured?;
    if options.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(report)
}

fn check_options(options: &BenchOptions) -> anyhow::Result<()> {
    if options.payments == 0 || options.payments > PAYMENTS_MAX {
        bail!("--payments must be between 1 and {PAYMENTS_MAX}");
    }
    if options.warmup > WARMUP_MAX {
        bail!("--warmup must be at most {WARMUP_MAX}");
    }
    if options.concurrency == 0 || options.concurrency > CONCURRENCY_MAX {
        bail!("--concurrency must be between 1 and {CONCURRENCY_MAX}");
    }
    if options.rate.is_some_and(|rate| rate == 0 || rate > RATE_MAX) {
        bail!("--rate must be between 1 and {RATE_MAX}");
    }
    Ok(())
}

/// One counter of the benchmark: a register with its terminal, its clerk and what it sells.
#[derive(Debug, Clone)]
struct Lane {
    register: RegisterId,
    terminal_id: String,
    merchant_id: String,
    token: String,
    fee_item: FeeItemCode,
}

/// The first `count` registers (in configuration order) with a terminal, a clerk with a demo
/// token, a facility that takes the test card's brand and a fixed-price fee item the simulator
/// approves.
fn choose_lanes(config: &Config, count: usize) -> anyhow::Result<Vec<Lane>> {
    let clerk_of: BTreeMap<&RegisterId, String> = config
        .users
        .iter()
        .filter(|user| user.role == Role::Clerk)
        .filter_map(|user| match &user.scope {
            Scope::Register { register, .. } => Some((register, format!("demo-{}", user.name))),
            _ => None,
        })
        .filter(|(_, token)| config.user_by_token_sha256(&pos_config::token_sha256(token)).is_some())
        .collect();
    let mut lanes = Vec::new();
    for facility in config.facilities.iter().filter(|f| f.accepts(TEST_BRAND)) {
        let approved_item = facility.fee_items.iter().find(|code| {
            config.fee_item(code).is_some_and(|item| match item.price {
                Price::Fixed(price) => {
                    acquirer_sim::magic::response_for(price, acquirer_sim::Centre::Card)
                        == iso8583::ResponseCode::Approved
                }
                Price::Open { .. } => false,
            })
        });
        let Some(fee_item) = approved_item else { continue };
        for register in &facility.registers {
            let (Some(terminal), Some(token)) = (&register.terminal, clerk_of.get(&register.id)) else { continue };
            lanes.push(Lane {
                register: register.id.clone(),
                terminal_id: terminal.as_str().to_string(),
                merchant_id: facility.merchant_id.clone(),
                token: token.clone(),
                fee_item: fee_item.clone(),
            });
        }
    }
    if lanes.len() < count {
        bail!(
            "--concurrency {count} needs as many registers with a terminal, a clerk with a demo token (\"demo-<user>\") and a fixed-price fee item; the configuration has {}",
            lanes.len()
        );
    }
    lanes.truncate(count);
    Ok(lanes)
}

/// A folder of the run (TLS material, the SQLite journal), removed when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create() -> anyhow::Result<WorkDir> {
        let path = std::env::temp_dir().join(format!("pos-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(WorkDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The run's own journal database. Follows the integration tests' `TestDatabase`.
struct BenchDatabase {
    url: String,
    backend: Backend,
    label: String,
    /// The administrative URL and database name to drop after the run.
    postgres: Option<(String, String)>,
}

impl BenchDatabase {
    async fn create(backend: BenchBackend, admin_url: &str, dir: &Path) -> anyhow::Result<BenchDatabase> {
        match backend {
            BenchBackend::Sqlite => {
                let file = dir.join("journal.db");
                Ok(BenchDatabase {
                    url: format!("sqlite://{}", file.display()),
                    backend: Backend::Sqlite,
                    label: file.display().to_string(),
                    postgres: None,
                })
            }
            BenchBackend::Postgres => {
                let name = format!("pos_bench_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(admin_url)
                    .await
                    .with_context(|| format!("cannot connect to PostgreSQL at {admin_url}"))?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .with_context(|| format!("cannot create database {name}"))?;
                let _ = conn.close().await;
                let base = admin_url.split_once('?').map_or(admin_url, |(base, _)| base);
                let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
                Ok(BenchDatabase {
                    url: format!("{base}/{name}"),
                    backend: Backend::Postgres,
                    label: name.clone(),
                    postgres: Some((admin_url.to_string(), name)),
                })
            }
        }
    }

    /// Drops the PostgreSQL database, forcing out connections left behind; best effort.
    async fn drop_postgres(&self) {
        let Some((admin_url, name)) = &self.postgres else { return };
        match sqlx::PgConnection::connect(admin_url).await {
            Ok(mut conn) => {
                if let Err(error) =
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await
                {
                    tracing::warn!(%error, database = %name, "benchmark database could not be dropped");
                }
                let _ = conn.close().await;
            }
            Err(error) => tracing::warn!(%error, database = %name, "benchmark database could not be dropped"),
        }
    }
}

/// Starts everything, runs both phases, checks the books, stops everything.
async fn measure(
    config: Config,
    options: &BenchOptions,
    lanes: Vec<Lane>,
    dir: &Path,
    journal_label: &str,
) -> anyhow::Result<BenchReport> {
    // Only the card link is measured: the other links are dropped rather than left retrying
    // endpoints that are not there.
    let mut config = config;
    for acquirer in config.acquirers.iter_mut().filter(|a| a.kind != pos_config::AcquirerKind::Card) {
        acquirer.link = None;
        acquirer.qr_link = None;
    }
    let mut rig = crate::rig::Rig::start(crate::rig::RigOptions {
        card: true,
        terminal_host: true,
        ..crate::rig::RigOptions::gateway_only(config, Arc::new(pos_core::SystemClock), dir.join("tls"))
    })
    .await?;
    let acquirer_id = rig
        .app
        .config
        .fee_rate(TEST_BRAND)
        .and_then(|(acquirer, _)| acquirer.link.as_ref().map(|_| acquirer.id.clone()))
        .with_context(|| format!("the configuration routes {TEST_BRAND} to no acquirer with a link"))?;
    let terminal_address = rig.terminal_host.context("the bench's terminal host")?.to_string();
    let measured = measure_phases(&rig, &acquirer_id, options, &lanes, &terminal_address).await;
    let stopped = rig.stop_gateway().await;
    rig.stop().await?;
    let (gateway, simulator_alone, books, cost) = measured?;
    stopped?;
    let gateway_adds = difference(&gateway.authorization, &simulator_alone.latency);
    Ok(BenchReport {
        backend: options.backend,
        journal: journal_label.to_string(),
        payments: options.payments,
        warmup: options.warmup,
        concurrency: options.concurrency,
        registers: lanes.iter().map(|lane| lane.register.to_string()).collect(),
        gateway,
        simulator_alone,
        gateway_adds,
        books,
        rate: options.rate,
        cost,
    })
}

async fn measure_phases(
    rig: &crate::rig::Rig,
    acquirer_id: &str,
    options: &BenchOptions,
    lanes: &[Lane],
    terminal_address: &str,
) -> anyhow::Result<(GatewayPhase, SimulatorPhase, BooksCheck, CostReport)> {
    let (app, base) = (&rig.app, rig.base.as_str());
    let link = app.connectors.acquirer(acquirer_id).context("the gateway started no card link")?;
    if !link.wait_connected(Duration::from_millis(CONNECT_WAIT_MS)).await {
        bail!("the gateway's card link did not connect to the simulator within {CONNECT_WAIT_MS} ms");
    }
    let mut counters: Vec<Counter> = Vec::new();
    for lane in lanes {
        let terminal_tls = rig.pki.terminal_client(lane.terminal_id.as_str())?;
        match Counter::open(lane.clone(), base, terminal_address, &terminal_tls).await {
            Ok(counter) => counters.push(counter),
            Err(error) => {
                for counter in &counters {
                    counter.terminal.shutdown();
                }
                return Err(error);
            }
        }
    }

    let (counters, warmup) = run_counters(counters, options.warmup, None).await;
    let before = MetricsSnapshot::take(app, acquirer_id);
    let commits_before = app.journal.group_commits();
    let wal_before = postgres_wal_syncs(options).await;
    let cpu_before = process_cpu_us();
    let (counters, measured) = run_counters(counters, options.payments, options.rate).await;
    let cpu_payments = process_cpu_us().saturating_sub(cpu_before);
    let commits = app.journal.group_commits().saturating_sub(commits_before);
    let wal_syncs = match (wal_before, postgres_wal_syncs(options).await) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    let gateway_metrics = MetricsSnapshot::take(app, acquirer_id).means_since(&before);
    let late_answers = counters.iter().map(|c| c.terminal.late_answers()).sum();
    for counter in &counters {
        counter.terminal.shutdown();
    }
    let gateway = GatewayPhase { gateway_metrics, ..gateway_phase(measured, late_answers) };

    let cpu_before = process_cpu_us();
    let simulator_alone = simulator_phase(rig, lanes, options).await?;
    let cpu_simulator = process_cpu_us().saturating_sub(cpu_before);
    let bare = bare_http(options).await?;

    let terminals: Vec<&str> = lanes.iter().map(|lane| lane.terminal_id.as_str()).collect();
    let simulator_approved_via_gateway = rig
        .card
        .as_ref()
        .context("the bench's card simulator")?
        .ledger()
        .iter()
        .filter(|entry| entry.state == acquirer_sim::EntryState::Approved)
        .filter(|entry| terminals.contains(&entry.terminal_id.as_str()))
        .count();
    let books = BooksCheck {
        journal_completed: completed_card_payments(app).await?,
        simulator_approved_via_gateway,
        workers_approved: warmup.samples.len() + gateway.completed,
    };
    let per = |total: u64, count: usize| total / u64::try_from(count.max(1)).unwrap_or(1);
    let cpu_us_per_payment = per(cpu_payments, gateway.completed);
    // The simulator phase also ran its warm-up.
    let cpu_us_per_simulator_authorization = per(cpu_simulator, simulator_alone.completed + options.warmup);
    let milli = |count: u64| count.saturating_mul(1_000) / u64::try_from(gateway.completed.max(1)).unwrap_or(1);
    let cost = CostReport {
        group_commits_per_payment_milli: milli(commits),
        postgres_wal_syncs_per_payment_milli: wal_syncs.map(milli),
        cpu_us_per_payment,
        cpu_us_per_simulator_authorization,
        cpu_us_per_bare_http_request: bare.cpu_us_per_request,
        bare_http_requests_per_second_milli: bare.requests_per_second_milli,
        cpu_us_per_payment_gateway_own: signed(cpu_us_per_payment)
            - 2 * signed(bare.cpu_us_per_request)
            - 2 * signed(cpu_us_per_simulator_authorization),
        cpus: u64::try_from(std::thread::available_parallelism().map_or(1, |n| n.get())).unwrap_or(1),
    };
    Ok((gateway, simulator_alone, books, cost))
}

/// This process's CPU time (user and system, all threads) in microseconds, from
/// `/proc/self/stat` (clock ticks of 10 ms: read over whole phases only).
fn process_cpu_us() -> u64 {
    const TICK_US: u64 = 10_000;
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0 };
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime field 14, stime field 15.
    let tick = |index: usize| fields.get(index).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    (tick(11) + tick(12)) * TICK_US
}

/// The PostgreSQL server's WAL syncs so far (`pg_stat_wal`), when the journal is PostgreSQL.
async fn postgres_wal_syncs(options: &BenchOptions) -> Option<u64> {
    use sqlx::Row;
    if options.backend != BenchBackend::Postgres {
        return None;
    }
    let mut conn = sqlx::PgConnection::connect(&options.postgres_url).await.ok()?;
    let row = sqlx::query("SELECT wal_sync FROM pg_stat_wal").fetch_one(&mut conn).await.ok()?;
    let _ = conn.close().await;
    u64::try_from(row.try_get::<i64, _>("wal_sync").ok()?).ok()
}

/// A bare HTTP server's cost, for comparison.
struct Bare {
    requests_per_second_milli: u64,
    cpu_us_per_request: u64,
}

/// Serves one fixed JSON body from a one-route axum (hyper) server in this process and sends it
/// as many POST requests as the gateway phase made (2 per payment) at the same concurrency, with
/// the same client as the counters.
async fn bare_http(options: &BenchOptions) -> anyhow::Result<Bare> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let router = axum::Router::new().route(
        "/v1/sales",
        axum::routing::post(|| async {
            ([("content-type", "application/json")], "{\"id\":\"S1\",\"state\":\"open\"}")
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let total = options.payments * 2;
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("http://{address}/v1/sales");
    let started = Instant::now();
    let cpu_before = process_cpu_us();
    let workers: Vec<_> = (0..options.concurrency)
        .map(|_| {
            let (next, url) = (next.clone(), url.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::builder().timeout(Duration::from_millis(HTTP_TIMEOUT_MS)).build()?;
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let response = http
                        .post(&url)
                        .bearer_auth("bench")
                        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                        .json(&serde_json::json!({ "register_id": "R0101", "lines": [] }))
                        .send()
                        .await?;
                    let _: serde_json::Value = response.json().await?;
                }
                Ok::<(), anyhow::Error>(())
            })
        })
        .collect();
    for worker in futures::future::join_all(workers).await {
        worker??;
    }
    let cpu = process_cpu_us().saturating_sub(cpu_before);
    let elapsed = started.elapsed();
    server.abort();
    Ok(Bare {
        requests_per_second_milli: per_second_milli(total, elapsed),
        cpu_us_per_request: cpu / u64::try_from(total.max(1)).unwrap_or(1),
    })
}

async fn completed_card_payments(app: &gateway::AppState) -> anyhow::Result<i64> {
    use sqlx::Row;
    let mut conn = app.journal.read().await?;
    let row = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM payments WHERE method = $1 AND state = $2")
        .bind(Method::Card.code())
        .bind(pos_core::PaymentState::Completed.code())
        .fetch_one(&mut *conn)
        .await?;
    // Closed here rather than handed back to the pool, which the gateway is about to close.
    let _ = conn.close().await;
    Ok(row.try_get::<i64, _>("n")?)
}

/// Sums and counts of the gateway's latency histograms at one moment.
struct MetricsSnapshot {
    create_sale: (Decimal, Decimal),
    start_payment: (Decimal, Decimal),
    acquirer: (Decimal, Decimal),
}

impl MetricsSnapshot {
    fn take(app: &gateway::AppState, acquirer_id: &str) -> MetricsSnapshot {
        let text = app.metrics.render();
        let http = "http_request_duration_seconds";
        MetricsSnapshot {
            create_sale: histogram(&text, http, "route", "/v1/sales"),
            start_payment: histogram(&text, http, "route", "/v1/sales/{id}/payments"),
            acquirer: histogram(&text, "acquirer_latency_seconds", "acquirer", acquirer_id),
        }
    }

    fn means_since(&self, before: &MetricsSnapshot) -> GatewayMetrics {
        GatewayMetrics {
            create_sale_handler_mean_us: mean_us(self.create_sale, before.create_sale),
            start_payment_handler_mean_us: mean_us(self.start_payment, before.start_payment),
            acquirer_round_trip_mean_us: mean_us(self.acquirer, before.acquirer),
        }
    }
}

/// The sum (seconds) and count of one series of a Prometheus histogram in `text`; zero when absent.
fn histogram(text: &str, name: &str, label: &str, value: &str) -> (Decimal, Decimal) {
    let wanted = format!("{label}=\"{value}\"");
    let has_label = |labels: &str| {
        labels == wanted
            || labels.starts_with(&format!("{wanted},"))
            || labels.ends_with(&format!(",{wanted}"))
            || labels.contains(&format!(",{wanted},"))
    };
    let read = |suffix: &str| {
        let prefix = format!("{name}_{suffix}{{");
        text.lines()
            .filter_map(|line| line.rsplit_once(' '))
            .filter(|(series, _)| {
                series.strip_prefix(&prefix).and_then(|rest| rest.strip_suffix('}')).is_some_and(has_label)
            })
            .find_map(|(_, number)| Decimal::from_str(number).or_else(|_| Decimal::from_scientific(number)).ok())
            .unwrap_or_default()
    };
    (read("sum"), read("count"))
}

/// The mean in microseconds of what was recorded between two readings of a histogram.
fn mean_us(after: (Decimal, Decimal), before: (Decimal, Decimal)) -> u64 {
    let (sum, count) = (after.0 - before.0, after.1 - before.1);
    if count <= Decimal::ZERO {
        return 0;
    }
    (sum * Decimal::from(1_000_000) / count).round().to_u64().unwrap_or(0)
}

/// One payment's timings, in microseconds.
#[derive(Debug, Clone, Copy)]
struct Sample {
    create_sale_us: u64,
    start_payment_us: u64,
    authorization_us: u64,
    end_to_end_us: u64,
    /// Open loop: from the scheduled time to the start.
    queued_us: u64,
}

#[derive(Debug, Default)]
struct Outcome {
    samples: Vec<Sample>,
    failures: Failures,
    elapsed: Duration,
}

/// Failures by kind, with a few messages each.
#[derive(Debug, Default)]
struct Failures(BTreeMap<String, FailureTally>);

impl Failures {
    fn add(&mut self, kind: &str, message: String) {
        let tally = self
            .0
            .entry(kind.to_string())
            .or_insert_with(|| FailureTally { kind: kind.to_string(), ..FailureTally::default() });
        tally.count += 1;
        if tally.samples.len() < FAILURE_SAMPLES_MAX {
            tally.samples.push(message);
        }
    }

    fn merge(&mut self, other: Failures) {
        for (kind, tally) in other.0 {
            let mine = self.0.entry(kind.clone()).or_insert_with(|| FailureTally { kind, ..FailureTally::default() });
            mine.count += tally.count;
            for sample in tally.samples {
                if mine.samples.len() < FAILURE_SAMPLES_MAX {
                    mine.samples.push(sample);
                }
            }
        }
    }

    fn count(&self) -> usize {
        self.0.values().map(|tally| tally.count).sum()
    }

    fn into_list(self) -> Vec<FailureTally> {
        self.0.into_values().collect()
    }
}

/// A worker: one register's clerk and its terminal.
struct Counter {
    lane: Lane,
    http: reqwest::Client,
    base: String,
    terminal: Client,
    stan: u32,
}

/// What failed in one payment, and how.
struct Failure {
    kind: &'static str,
    message: String,
}

fn failure(kind: &'static str, message: impl std::fmt::Display) -> Failure {
    Failure { kind, message: message.to_string() }
}

impl Counter {
    /// Connects the terminal and opens the register's shift (not timed).
    async fn open(
        lane: Lane,
        base: &str,
        terminal_address: &str,
        tls: &Arc<rustls::ClientConfig>,
    ) -> anyhow::Result<Counter> {
        let http = reqwest::Client::builder().timeout(Duration::from_millis(HTTP_TIMEOUT_MS)).build()?;
        let terminal = Client::start(ClientSettings {
            endpoints: vec![terminal_address.to_string()],
            server_name: "localhost".to_string(),
            tls: tls.clone(),
            in_flight_max: 1,
            connect_timeout_ms: CONNECT_WAIT_MS,
            echo_interval_ms: 60_000,
            reconnect_backoff_ms_max: 1_000,
        });
        let counter = Counter { lane, http, base: base.to_string(), terminal, stan: 0 };
        if !counter.terminal.wait_connected(Duration::from_millis(CONNECT_WAIT_MS)).await {
            counter.terminal.shutdown();
            bail!("terminal {} did not connect to the terminal host", counter.lane.terminal_id);
        }
        let shift = OpenShiftRequest { register_id: counter.lane.register.clone(), opening_float: Yen::ZERO };
        let opened: Result<serde_json::Value, Failure> = counter.post("/v1/shifts", &shift).await;
        if let Err(failure) = opened {
            counter.terminal.shutdown();
            bail!("cannot open a shift at {}: {}", counter.lane.register, failure.message);
        }
        Ok(counter)
    }

    async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, Failure> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.lane.token)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(body)
            .send()
            .await
            .map_err(|e| failure("http_transport", format!("POST {path}: {e}")))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| failure("http_transport", format!("POST {path}: {e}")))?;
        if !status.is_success() {
            return Err(failure("http_status", format!("POST {path} answered {status}: {text}")));
        }
        serde_json::from_str(&text).map_err(|e| failure("http_body", format!("POST {path}: {e}: {text}")))
    }

    fn next_stan(&mut self) -> String {
        self.stan = self.stan % 999_999 + 1;
        format!("{:06}", self.stan)
    }

    /// One payment, timed step by step; end to end from `scheduled` in the open loop.
    async fn pay(&mut self, scheduled: Option<Instant>) -> Result<Sample, Failure> {
        let started = Instant::now();
        let origin = scheduled.unwrap_or(started);
        let sale_request = CreateSaleRequest {
            register_id: self.lane.register.clone(),
            lines: vec![SaleLineRequest { fee_item: self.lane.fee_item.clone(), quantity: 1, amount: None }],
        };
        let sale: SaleView = self.post("/v1/sales", &sale_request).await?;
        let sale_created = Instant::now();
        let payment_request =
            PaymentRequest { method: Method::Card, tendered: None, amount: None, brand: None, customer_code: None };
        let path = format!("/v1/sales/{}/payments", sale.id);
        let started_payment: PaymentResult = self.post(&path, &payment_request).await?;
        let payment_started = Instant::now();
        let stan = self.next_stan();
        let request = purchase(&self.lane.terminal_id, &stan, started_payment.payment.amount, None)
            .map_err(|e| failure("terminal_request", e))?;
        let answer = self.terminal.request(&request, Duration::from_millis(TERMINAL_WAIT_MS)).await;
        let answered = Instant::now();
        let code = match answer {
            Ok(answer) => answer.text(fields::RESPONSE_CODE).unwrap_or("??").to_string(),
            Err(error) => {
                self.cancel(&started_payment.payment.id).await;
                return Err(failure("terminal_no_answer", error));
            }
        };
        if code != "00" {
            self.cancel(&started_payment.payment.id).await;
            return Err(failure("declined", format!("sale {} answered {code}", sale.id)));
        }
        Ok(Sample {
            create_sale_us: micros(sale_created - started),
            start_payment_us: micros(payment_started - sale_created),
            authorization_us: micros(answered - payment_started),
            end_to_end_us: micros(answered - origin),
            queued_us: micros(started.saturating_duration_since(origin)),
        })
    }

    /// Frees the register after a failed payment, if the payment still waits on the terminal.
    async fn cancel(&self, payment_id: &str) {
        let path = format!("/v1/payments/{payment_id}/cancel");
        let _: Result<serde_json::Value, Failure> = self.post(&path, &serde_json::json!({})).await;
    }
}

/// Runs `total` payments spread over the counters, each taking the next one when it is free;
/// with `rate`, payment `i` is due at `i / rate` seconds from the start (open loop) and a counter
/// waits for it when early.
async fn run_counters(counters: Vec<Counter>, total: usize, rate: Option<u32>) -> (Vec<Counter>, Outcome) {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let period_ns = rate.map(|rate| 1_000_000_000 / u64::from(rate));
    let workers: Vec<_> = counters
        .into_iter()
        .map(|mut counter| {
            let next = next.clone();
            tokio::spawn(async move {
                let mut outcome = Outcome::default();
                let mut failures_in_a_row = 0;
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= total {
                        break;
                    }
                    let scheduled = period_ns.map(|period| {
                        started + Duration::from_nanos(period.saturating_mul(u64::try_from(index).unwrap_or(u64::MAX)))
                    });
                    if let Some(due) = scheduled {
                        tokio::time::sleep_until(due.into()).await;
                    }
                    match counter.pay(scheduled).await {
                        Ok(sample) => {
                            outcome.samples.push(sample);
                            failures_in_a_row = 0;
                        }
                        Err(failure) => {
                            outcome.failures.add(failure.kind, failure.message);
                            failures_in_a_row += 1;
                            if failures_in_a_row >= WORKER_FAILURES_IN_A_ROW_MAX {
                                outcome.failures.add(
                                    "worker_gave_up",
                                    format!("{} failed {failures_in_a_row} times in a row", counter.lane.register),
                                );
                                break;
                            }
                        }
                    }
                }
                (counter, outcome)
            })
        })
        .collect();
    let mut counters = Vec::new();
    let mut outcome = Outcome::default();
    for worker in futures::future::join_all(workers).await {
        match worker {
            Ok((counter, part)) => {
                counters.push(counter);
                outcome.samples.extend(part.samples);
                outcome.failures.merge(part.failures);
            }
            Err(error) => outcome.failures.add("worker_panicked", error.to_string()),
        }
    }
    outcome.elapsed = started.elapsed();
    (counters, outcome)
}

fn gateway_phase(outcome: Outcome, terminal_late_answers: u64) -> GatewayPhase {
    let pick = |f: fn(&Sample) -> u64| latency(outcome.samples.iter().map(f).collect());
    let completed = outcome.samples.len();
    GatewayPhase {
        completed,
        failed: outcome.failures.count(),
        elapsed_us: micros(outcome.elapsed),
        payments_per_second_milli: per_second_milli(completed, outcome.elapsed),
        end_to_end: pick(|s| s.end_to_end_us),
        create_sale: pick(|s| s.create_sale_us),
        start_payment: pick(|s| s.start_payment_us),
        authorization: pick(|s| s.authorization_us),
        queued: pick(|s| s.queued_us),
        failures: outcome.failures.into_list(),
        terminal_late_answers,
        gateway_metrics: GatewayMetrics::default(),
    }
}

/// The same number of 0200s as the gateway phase, straight to the simulator, one multiplexed
/// connection, `concurrency` requests in flight; warm-up first.
async fn simulator_phase(
    rig: &crate::rig::Rig,
    lanes: &[Lane],
    options: &BenchOptions,
) -> anyhow::Result<SimulatorPhase> {
    let card = rig.card.as_ref().context("the bench's card simulator")?;
    let client = Client::start(ClientSettings {
        endpoints: vec![card.address().to_string()],
        server_name: "localhost".to_string(),
        tls: rig.client_tls()?,
        in_flight_max: options.concurrency,
        connect_timeout_ms: CONNECT_WAIT_MS,
        echo_interval_ms: 60_000,
        reconnect_backoff_ms_max: 1_000,
    });
    if !client.wait_connected(Duration::from_millis(CONNECT_WAIT_MS)).await {
        client.shutdown();
        bail!("could not connect to the simulator");
    }
    let amount = Yen::new(300)?;
    let _warmup = run_simulator_requests(&client, lanes, options.warmup, 0, amount).await;
    let outcome = run_simulator_requests(&client, lanes, options.payments, 1, amount).await;
    client.shutdown();
    let completed = outcome.samples.len();
    Ok(SimulatorPhase {
        completed,
        failed: outcome.failures.count(),
        elapsed_us: micros(outcome.elapsed),
        authorizations_per_second_milli: per_second_milli(completed, outcome.elapsed),
        latency: latency(outcome.samples.iter().map(|s| s.authorization_us).collect()),
        failures: outcome.failures.into_list(),
    })
}

/// `round` keeps the warm-up's terminal ids apart from the measured ones, so no (terminal id,
/// STAN) pair repeats at the simulator.
async fn run_simulator_requests(client: &Client, lanes: &[Lane], total: usize, round: usize, amount: Yen) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = lanes
        .iter()
        .enumerate()
        .map(|(index, lane)| {
            let (client, next, merchant_id) = (client.clone(), next.clone(), lane.merchant_id.clone());
            let terminal_id = format!("{SIMULATOR_TERMINAL_PREFIX}{:03}", round * CONCURRENCY_MAX + index);
            tokio::spawn(async move {
                let mut outcome = Outcome::default();
                let mut stan = 0u32;
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    stan = stan % 999_999 + 1;
                    let request = match purchase(&terminal_id, &format!("{stan:06}"), amount, Some(&merchant_id)) {
                        Ok(request) => request,
                        Err(error) => {
                            outcome.failures.add("simulator_request", error.to_string());
                            break;
                        }
                    };
                    let sent = Instant::now();
                    match client.request(&request, Duration::from_millis(TERMINAL_WAIT_MS)).await {
                        Ok(answer) if answer.text(fields::RESPONSE_CODE) == Some("00") => {
                            let us = micros(sent.elapsed());
                            outcome.samples.push(Sample {
                                create_sale_us: 0,
                                start_payment_us: 0,
                                authorization_us: us,
                                end_to_end_us: us,
                                queued_us: 0,
                            });
                        }
                        Ok(answer) => outcome.failures.add(
                            "simulator_declined",
                            format!("answered {}", answer.text(fields::RESPONSE_CODE).unwrap_or("??")),
                        ),
                        Err(error) => outcome.failures.add("simulator_no_answer", error.to_string()),
                    }
                }
                outcome
            })
        })
        .collect();
    let mut outcome = Outcome::default();
    for worker in futures::future::join_all(workers).await {
        match worker {
            Ok(part) => {
                outcome.samples.extend(part.samples);
                outcome.failures.merge(part.failures);
            }
            Err(error) => outcome.failures.add("worker_panicked", error.to_string()),
        }
    }
    outcome.elapsed = started.elapsed();
    outcome
}

/// A card purchase 0200 as the terminal sends it; with `merchant_id`, as the gateway forwards it
/// to the acquirer (the gateway adds field 42 and its own STAN and transmission time).
fn purchase(terminal_id: &str, stan: &str, amount: Yen, merchant_id: Option<&str>) -> anyhow::Result<Message> {
    let amount = iso8583::amount_field(amount).with_context(|| format!("amount {amount} does not fit field 4"))?;
    let mut message = Message::new(Mti::FINANCIAL_REQUEST)
        .with(fields::PROCESSING_CODE, fields::PROCESSING_PURCHASE)
        .with(fields::AMOUNT, amount)
        .with(fields::TRANSMISSION_DATE_TIME, gateway::connectors::acquirer::messages::transmission_time(Utc::now()))
        .with(fields::STAN, stan.to_string())
        .with(fields::POS_ENTRY_MODE, "051")
        .with(fields::PAN, TEST_PAN)
        .with(fields::TERMINAL_ID, terminal_id.to_string())
        .with(fields::BRAND_DATA, BrandData { brand: Some(TEST_BRAND), ..BrandData::default() }.format())
        .with(fields::CURRENCY, fields::CURRENCY_JPY);
    if let Some(merchant_id) = merchant_id {
        message.set(fields::MERCHANT_ID, merchant_id.to_string());
    }
    Ok(message)
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// `count` per `elapsed`, in thousandths per second, in integers.
fn per_second_milli(count: usize, elapsed: Duration) -> u64 {
    let elapsed_us = elapsed.as_micros().max(1);
    let count = u128::try_from(count).unwrap_or(u128::MAX);
    u64::try_from(count.saturating_mul(1_000_000_000) / elapsed_us).unwrap_or(u64::MAX)
}

/// Percentiles of `samples` (microseconds) by nearest rank.
fn latency(mut samples: Vec<u64>) -> Latency {
    samples.sort_unstable();
    let total: u128 = samples.iter().map(|us| u128::from(*us)).sum();
    let count = u128::try_from(samples.len()).unwrap_or(u128::MAX).max(1);
    Latency {
        samples: samples.len(),
        mean_us: u64::try_from(total / count).unwrap_or(u64::MAX),
        p50_us: percentile(&samples, 500),
        p90_us: percentile(&samples, 900),
        p99_us: percentile(&samples, 990),
        max_us: samples.last().copied().unwrap_or(0),
    }
}

/// The nearest-rank percentile of sorted samples: the smallest value with at least
/// `per_mille`/1000 of the samples at or below it.
fn percentile(sorted: &[u64], per_mille: usize) -> u64 {
    let rank = (sorted.len().saturating_mul(per_mille)).div_ceil(1_000).max(1);
    sorted.get(rank - 1).copied().unwrap_or(0)
}

fn signed(us: u64) -> i64 {
    i64::try_from(us).unwrap_or(i64::MAX)
}

fn difference(a: &Latency, b: &Latency) -> LatencyDifference {
    LatencyDifference {
        p50_us: signed(a.p50_us) - signed(b.p50_us),
        p90_us: signed(a.p90_us) - signed(b.p90_us),
        p99_us: signed(a.p99_us) - signed(b.p99_us),
        max_us: signed(a.max_us) - signed(b.max_us),
    }
}

/// Thousandths as a number with one decimal, e.g. 123456 → "123.4".
fn rate_text(milli: u64) -> String {
    format!("{}.{}", milli / 1_000, milli % 1_000 / 100)
}

fn print_report(report: &BenchReport) {
    let backend = match report.backend {
        BenchBackend::Sqlite => "SQLite",
        BenchBackend::Postgres => "PostgreSQL",
    };
    println!("Card authorizations through the gateway — {backend} journal ({})", report.journal);
    println!(
        "{} payments after {} warm-up, {} counters in parallel ({}), each with its own terminal connection",
        report.payments,
        report.warmup,
        report.concurrency,
        report.registers.join(" ")
    );
    println!();
    println!(
        "{:<44} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "latency (µs)", "count", "per s", "p50", "p90", "p99", "max"
    );
    let gateway = &report.gateway;
    let row = |name: &str, latency: &Latency, rate: Option<u64>| {
        println!(
            "{:<44} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
            name,
            latency.samples,
            rate.map(rate_text).unwrap_or_default(),
            latency.p50_us,
            latency.p90_us,
            latency.p99_us,
            latency.max_us
        );
    };
    row("end to end (sale → card payment → 0210)", &gateway.end_to_end, Some(gateway.payments_per_second_milli));
    row("  POST /v1/sales", &gateway.create_sale, None);
    row("  POST /v1/sales/{id}/payments", &gateway.start_payment, None);
    row("  authorization leg (terminal 0200 → 0210)", &gateway.authorization, Some(gateway.payments_per_second_milli));
    let simulator = &report.simulator_alone;
    row("simulator alone (0200 → 0210)", &simulator.latency, Some(simulator.authorizations_per_second_milli));
    let adds = &report.gateway_adds;
    println!(
        "{:<44} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "gateway adds (authorization − simulator)", "", "", adds.p50_us, adds.p90_us, adds.p99_us, adds.max_us
    );
    let metrics = &gateway.gateway_metrics;
    println!();
    println!(
        "Means (µs), client side / the gateway's own histograms: POST /v1/sales {} / {} handler, POST /v1/sales/{{id}}/payments {} / {} handler",
        gateway.create_sale.mean_us,
        metrics.create_sale_handler_mean_us,
        gateway.start_payment.mean_us,
        metrics.start_payment_handler_mean_us,
    );
    println!(
        "(the handler time excludes the audit record and the HTTP transport); authorization leg {} / acquirer round trip {} (simulator alone {}).",
        gateway.authorization.mean_us, metrics.acquirer_round_trip_mean_us, simulator.latency.mean_us
    );
    println!(
        "Through the gateway: {} payments/s = card authorizations/s (one per payment), {} approved in {} ms.",
        rate_text(gateway.payments_per_second_milli),
        gateway.completed,
        gateway.elapsed_us / 1_000
    );
    println!(
        "Simulator alone: {} authorizations/s, {} approved in {} ms.",
        rate_text(simulator.authorizations_per_second_milli),
        simulator.completed,
        simulator.elapsed_us / 1_000
    );
    for (phase, failures) in [("gateway", &gateway.failures), ("simulator alone", &simulator.failures)] {
        for tally in failures {
            println!("FAILED ({phase}) {} × {}: {}", tally.count, tally.kind, tally.samples.join(" | "));
        }
    }
    if gateway.terminal_late_answers > 0 {
        println!("{} answers reached a terminal after it stopped waiting.", gateway.terminal_late_answers);
    }
    let cost = &report.cost;
    if let Some(rate) = report.rate {
        println!(
            "Open loop at {rate} payments/s offered: latencies count from each payment's scheduled time; waited for a free counter p50 {} / p99 {} / max {} µs.",
            gateway.queued.p50_us, gateway.queued.p99_us, gateway.queued.max_us
        );
    }
    println!(
        "Journal: {} group commits (fsyncs) per payment{}.",
        rate_text(cost.group_commits_per_payment_milli),
        cost.postgres_wal_syncs_per_payment_milli
            .map(|m| format!(", PostgreSQL WAL syncs (whole server) {} per payment", rate_text(m)))
            .unwrap_or_default()
    );
    println!(
        "CPU (this process, {} cores): {} µs per payment; {} µs per authorization straight to the simulator (TLS + ISO 8583, both ends); {} µs per bare HTTP request (both ends); left for the gateway's journal, audit and logic: {} µs per payment.",
        cost.cpus,
        cost.cpu_us_per_payment,
        cost.cpu_us_per_simulator_authorization,
        cost.cpu_us_per_bare_http_request,
        cost.cpu_us_per_payment_gateway_own
    );
    let bare_payments_milli = cost.bare_http_requests_per_second_milli / 2;
    println!(
        "Bare HTTP server (one route, fixed JSON, same client and concurrency): {} requests/s, i.e. {} payments/s at 2 requests each; the gateway reaches {}% of that.",
        rate_text(cost.bare_http_requests_per_second_milli),
        rate_text(bare_payments_milli),
        rate_text(gateway.payments_per_second_milli.saturating_mul(100_000) / bare_payments_milli.max(1))
    );
    let books = &report.books;
    println!(
        "Books (warm-up included): workers saw {} approved, the journal holds {} completed card payments, the simulator {} approvals for these terminals — {}.",
        books.workers_approved,
        books.journal_completed,
        books.simulator_approved_via_gateway,
        if books.agrees() { "they agree" } else { "they DISAGREE" }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&samples, 500), 50);
        assert_eq!(percentile(&samples, 990), 99);
        assert_eq!(percentile(&samples, 1_000), 100);
        assert_eq!(percentile(&[7], 990), 7);
        assert_eq!(percentile(&[], 500), 0);
    }

    #[test]
    fn rates_are_integer_thousandths() {
        assert_eq!(per_second_milli(2_000, Duration::from_secs(4)), 500_000);
        assert_eq!(rate_text(123_456), "123.4");
        assert_eq!(rate_text(999), "0.9");
    }

    #[test]
    fn histogram_series_are_read_by_exact_label() {
        let text = "http_request_duration_seconds_bucket{route=\"/v1/sales\",le=\"0.001\"} 1\n\
            http_request_duration_seconds_sum{route=\"/v1/sales\"} 0.25\n\
            http_request_duration_seconds_count{route=\"/v1/sales\"} 100\n\
            http_request_duration_seconds_sum{route=\"/v1/sales/{id}/payments\"} 1.5\n\
            http_request_duration_seconds_count{route=\"/v1/sales/{id}/payments\"} 10\n";
        let sales = histogram(text, "http_request_duration_seconds", "route", "/v1/sales");
        assert_eq!(sales, (Decimal::new(25, 2), Decimal::from(100)));
        let payments = histogram(text, "http_request_duration_seconds", "route", "/v1/sales/{id}/payments");
        assert_eq!(mean_us(payments, (Decimal::ZERO, Decimal::ZERO)), 150_000);
        assert_eq!(histogram(text, "acquirer_latency_seconds", "acquirer", "ACQ-CARD"), (Decimal::ZERO, Decimal::ZERO));
        assert_eq!(mean_us(sales, sales), 0);
    }
}
