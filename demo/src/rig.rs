//! The one rig: the gateway served in this process on ports the system picks, the simulators it
//! talks to — the card acquirer (with a failover secondary if asked), the e-money centre, the QR
//! provider — over a development PKI, its terminal host requiring terminal certificates, and the
//! terminals of that PKI ([`crate::terminals`]). The demo, the benchmark, the gateway's
//! integration tests and the end-to-end tests start their systems here, and wait with [`until`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use pos_config::{AcquirerKind, AcquirerLink, Config, QrLink, Secret};
use pos_core::{Clock, FacilityId};

use crate::terminals::TerminalFleet;

/// How long a card payment waits for the card, for a terminal host the rig adds.
pub const TERMINAL_DEVICE_WAIT_MS: u64 = 120_000;
/// How often [`until`] looks again.
pub const UNTIL_POLL_MS: u64 = 20;
/// The QR simulator's sample key (its example configuration's), used by [`QrOptions::example`].
/// The longest any HTTP call of the rig's clients waits for its whole answer: a gateway that
/// stops answering fails the caller with a message instead of hanging it (the longest long poll
/// the API holds is well under this).
pub const HTTP_REPLY_MS_MAX: u64 = 120_000;

/// The HTTP client the demo, the benchmark and the tests use: every call bounded by
/// [`HTTP_REPLY_MS_MAX`].
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(HTTP_REPLY_MS_MAX))
        .build()
        .expect("an HTTP client with default TLS settings builds")
}

pub const QR_API_KEY: &str = "sample_key";
pub const QR_API_SECRET: &str = "sample_secret";
/// The merchant the QR link assumes for the example city's facility F01.
pub const QR_MERCHANT: &str = "M0001";

/// Waits until `check` yields a value, looking every [`UNTIL_POLL_MS`], or panics naming `what`
/// after `bound` (for tests; [`within`] is the same wait for a program that reports errors).
pub async fn until<T, F, Fut>(what: &str, bound: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    match within(what, bound, || {
        let looked = check();
        async move { Ok(looked.await) }
    })
    .await
    {
        Ok(value) => value,
        Err(error) => panic!("{error:#}"),
    }
}

/// Waits until `check` yields a value, looking every [`UNTIL_POLL_MS`]; an error of `check`
/// ends the wait, and so does `bound`, with an error naming `what`.
pub async fn within<T, F, Fut>(what: &str, bound: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "{what}: not within {} ms", bound.as_millis());
        tokio::time::sleep(Duration::from_millis(UNTIL_POLL_MS)).await;
    }
}

/// The acquirer links' timing, short in tests so that timeouts and reversals happen quickly.
#[derive(Debug, Clone, Copy)]
pub struct LinkTiming {
    pub request_timeout_ms: u64,
    pub reversal_tries_max: u32,
    pub reversal_backoff_ms: u64,
}

impl LinkTiming {
    /// For a link the rig adds to a configuration that has none.
    pub const DEFAULT: LinkTiming =
        LinkTiming { request_timeout_ms: 3_000, reversal_tries_max: 6, reversal_backoff_ms: 200 };
}

/// Our institution ids at the simulated acquirers, for links the rig adds (field 90).
pub const CARD_INSTITUTION_ID: u64 = 9001;
pub const EMONEY_INSTITUTION_ID: u64 = 9002;

/// The QR provider's link.
#[derive(Debug, Clone)]
pub struct QrOptions {
    pub api_key: String,
    pub api_secret: String,
    pub customer_presented: bool,
    pub poll_interval_ms: u64,
    pub request_timeout_ms: u64,
    pub resolve_retry_ms: u64,
    pub resolve_tries_max: u32,
    /// The simulator's own configuration (keys, fees); its keys must include `api_key`.
    pub simulator: qr_sim::QrSimConfig,
    /// Facility → merchant the link assumes; empty: the key's only merchant.
    pub merchants: BTreeMap<FacilityId, String>,
    /// The simulator's controls on: the customer page at each code's URL (which then points at
    /// the simulator) and `/_sim/codes/{codeId}/pay|decline`.
    pub control: bool,
}

impl QrOptions {
    /// The example simulator, facility F01 as merchant M0001, quick polls.
    pub fn example(customer_presented: bool) -> QrOptions {
        let mut merchants = BTreeMap::new();
        if let Ok(facility) = FacilityId::parse("F01") {
            merchants.insert(facility, QR_MERCHANT.to_string());
        }
        QrOptions {
            api_key: QR_API_KEY.to_string(),
            api_secret: QR_API_SECRET.to_string(),
            customer_presented,
            poll_interval_ms: 100,
            request_timeout_ms: 2_000,
            resolve_retry_ms: 200,
            resolve_tries_max: 20,
            simulator: qr_sim::QrSimConfig::example(),
            merchants,
            control: false,
        }
    }
}

/// What to start. The configuration's database must already be the one to use.
pub struct RigOptions {
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    /// Where the development PKI is written (`ca.crt`, `gateway.crt`, `gateway.key`).
    pub tls_dir: PathBuf,
    pub card: bool,
    /// A second card endpoint (failover), its own simulator.
    pub card_secondary: bool,
    pub emoney: bool,
    pub qr: Option<QrOptions>,
    pub terminal_host: bool,
    /// The terminal host's TLS instead of the rig's own (which requires terminal certificates of
    /// the rig's PKI): a test of other certificate rules. Implies a terminal host.
    pub terminal_tls: Option<Arc<rustls::ServerConfig>>,
    /// `None`: the links as the configuration has them (endpoints excepted), or
    /// [`LinkTiming::DEFAULT`] for a link the rig adds.
    pub link_timing: Option<LinkTiming>,
    /// Days from a sale to its payout in the card and e-money simulators' settlement files.
    pub card_payout_lag_days: u32,
    pub emoney_payout_lag_days: u32,
    /// The gateway on a runtime of its own ([`GATEWAY_WORKER_THREADS`] workers), so that
    /// [`Rig::kill_gateway`] can end every task it started at once, as a crash of its process would.
    pub own_runtime: bool,
}

impl RigOptions {
    /// Nothing but the gateway: no simulator, no terminal host, every link removed.
    pub fn gateway_only(config: Config, clock: Arc<dyn Clock>, tls_dir: PathBuf) -> RigOptions {
        RigOptions {
            config,
            clock,
            tls_dir,
            card: false,
            card_secondary: false,
            emoney: false,
            qr: None,
            terminal_host: false,
            terminal_tls: None,
            link_timing: None,
            card_payout_lag_days: 2,
            emoney_payout_lag_days: 2,
            own_runtime: false,
        }
    }
}

/// A running rig. Dropping it leaves tasks running; [`Rig::stop`] ends them.
pub struct Rig {
    /// The running gateway's state (the latest one after [`Rig::start_gateway`]).
    pub app: gateway::AppState,
    /// `http://127.0.0.1:<port>` of the API.
    pub base: String,
    pub terminal_host: Option<SocketAddr>,
    pub pki: Arc<pos_tls::DevPki>,
    pub tls_dir: PathBuf,
    pub card: Option<acquirer_sim::SimulatorHandle>,
    pub card_secondary: Option<acquirer_sim::SimulatorHandle>,
    pub emoney: Option<acquirer_sim::SimulatorHandle>,
    pub qr: Option<qr_sim::QrSimHandle>,
    /// The configuration the gateway runs with (links pointed at the simulators).
    pub config: Config,
    clock: Arc<dyn Clock>,
    api: SocketAddr,
    terminal_tls: Option<Arc<rustls::ServerConfig>>,
    own_runtime: bool,
    serving: Option<Serving>,
}

/// Worker threads of the gateway's own runtime ([`RigOptions::own_runtime`]).
pub const GATEWAY_WORKER_THREADS: usize = 2;
/// How long a stopping gateway may take to finish its open connections.
pub const GATEWAY_STOP_MS_MAX: u64 = 5_000;
/// How long binding a just-released port may keep failing.
pub const REBIND_MS_MAX: u64 = 5_000;

/// A gateway being served: its stop signal, its task and, if it has one, its own runtime.
struct Serving {
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), gateway::GatewayError>>,
    runtime: GatewayRuntime,
}

/// The gateway's own runtime. A test that fails before stopping the rig still ends the gateway:
/// a runtime dropped inside another runtime's task would panic, so it is shut down without
/// waiting.
struct GatewayRuntime(Option<tokio::runtime::Runtime>);

impl GatewayRuntime {
    /// Ends every task of the runtime at its next await, waiting at most [`GATEWAY_STOP_MS_MAX`].
    async fn shut(mut self) {
        if let Some(runtime) = self.0.take() {
            // Shutting a runtime down blocks, which an async task must not do.
            let _ = tokio::task::spawn_blocking(move || {
                runtime.shutdown_timeout(Duration::from_millis(GATEWAY_STOP_MS_MAX))
            })
            .await;
        }
    }
}

impl Drop for GatewayRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Starts the gateway on `listener` (and the terminal host on `terminals`), on this runtime or,
/// with `own_runtime`, on a new one.
async fn serve(
    config: Config,
    clock: Arc<dyn Clock>,
    listener: tokio::net::TcpListener,
    terminals: Option<(tokio::net::TcpListener, Arc<rustls::ServerConfig>)>,
    own_runtime: bool,
) -> anyhow::Result<(gateway::AppState, Serving)> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async move {
        let _ = stopped.await;
    };
    if !own_runtime {
        let app = gateway::AppState::start(config, clock).await?;
        let server = tokio::spawn(gateway::run_with_terminals(listener, terminals, app.clone(), stopped));
        return Ok((app, Serving { stop, server, runtime: GatewayRuntime(None) }));
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(GATEWAY_WORKER_THREADS).enable_all().build()?;
    // Listeners move to the new runtime's reactor.
    let listener = listener.into_std()?;
    let terminals = terminals.map(|(l, tls)| l.into_std().map(|l| (l, tls))).transpose()?;
    let (listener, terminals) = {
        let _inside = runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let terminals = terminals.map(|(l, tls)| tokio::net::TcpListener::from_std(l).map(|l| (l, tls))).transpose()?;
        (listener, terminals)
    };
    let (ready, started) = tokio::sync::oneshot::channel::<Result<gateway::AppState, gateway::GatewayError>>();
    let server = runtime.spawn(async move {
        let app = match gateway::AppState::start(config, clock).await {
            Ok(app) => app,
            Err(error) => {
                let _ = ready.send(Err(error));
                return Ok(());
            }
        };
        let _ = ready.send(Ok(app.clone()));
        gateway::run_with_terminals(listener, terminals, app, stopped).await
    });
    let app = started.await.context("the gateway's runtime ended before it started")??;
    Ok((app, Serving { stop, server, runtime: GatewayRuntime(Some(runtime)) }))
}

/// Binds `address` again, waiting at most [`REBIND_MS_MAX`] for a just-released port.
async fn bind_again(address: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(REBIND_MS_MAX);
    loop {
        match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => return Ok(listener),
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(UNTIL_POLL_MS)).await;
            }
            Err(error) => return Err(error).with_context(|| format!("cannot bind {address} again")),
        }
    }
}

/// The fees the simulators charge: the configuration's contracted ones.
fn contracted_fees(config: &Config) -> Vec<acquirer_sim::FeeTerm> {
    config
        .acquirers
        .iter()
        .flat_map(|a| a.fees.iter())
        .map(|f| acquirer_sim::FeeTerm { brand: f.brand, rate: f.rate, rounding: f.rounding })
        .collect()
}

async fn acquirer(
    centre: acquirer_sim::Centre,
    tls: Arc<rustls::ServerConfig>,
    config: &Config,
    clock: Arc<dyn Clock>,
    rrn_node: u8,
    payout_lag_days: u32,
) -> anyhow::Result<acquirer_sim::SimulatorHandle> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let simulator = acquirer_sim::SimulatorConfig {
        centre,
        tls,
        fees: contracted_fees(config),
        payout_lag_days,
        name: "rig".to_string(),
    };
    let options = acquirer_sim::StartOptions::new(centre).with_clock(clock).with_rrn_node(rrn_node);
    Ok(acquirer_sim::start_with(listener, simulator, options).await)
}

/// Points the configuration's links of `kind` at `endpoints`, trusting the rig's CA; an acquirer
/// of that kind without a link gets one.
fn link_to(config: &mut Config, kind: AcquirerKind, endpoints: Vec<String>, ca: &Path, timing: Option<LinkTiming>) {
    let institution = if kind == AcquirerKind::Emoney { EMONEY_INSTITUTION_ID } else { CARD_INSTITUTION_ID };
    for acquirer in config.acquirers.iter_mut().filter(|a| a.kind == kind) {
        let link = acquirer
            .link
            .get_or_insert_with(|| link(ca, institution, endpoints.clone(), timing.unwrap_or(LinkTiming::DEFAULT)));
        link.endpoints = endpoints.clone();
        link.ca_file = ca.to_path_buf();
        link.server_name = "localhost".to_string();
        link.client_identity = None;
        if let Some(timing) = timing {
            link.request_timeout_ms = timing.request_timeout_ms;
            link.reversal_tries_max = timing.reversal_tries_max;
            link.reversal_backoff_ms = timing.reversal_backoff_ms;
        }
    }
}

/// A link of the example's shape, for a configuration whose acquirer has none.
pub fn link(ca_file: &Path, institution_id: u64, endpoints: Vec<String>, timing: LinkTiming) -> AcquirerLink {
    AcquirerLink {
        institution_id,
        endpoints,
        server_name: "localhost".to_string(),
        ca_file: ca_file.to_path_buf(),
        client_identity: None,
        request_timeout_ms: timing.request_timeout_ms,
        in_flight_max: 64,
        echo_interval_ms: 30_000,
        reconnect_backoff_ms_max: 200,
        reversal_tries_max: timing.reversal_tries_max,
        reversal_backoff_ms: timing.reversal_backoff_ms,
    }
}

impl Rig {
    pub async fn start(options: RigOptions) -> anyhow::Result<Rig> {
        let RigOptions { mut config, clock, tls_dir, .. } = options;
        let pki = pos_tls::DevPki::new("pos rig CA")?;
        pki.write_server(&tls_dir, "gateway", &["localhost", "127.0.0.1"])?;
        let ca = tls_dir.join("ca.crt");
        let server_tls = {
            let leaf = pki.server(&["localhost", "127.0.0.1"])?;
            pos_tls::server_config_from_pem(
                leaf.chain_pem.as_bytes(),
                leaf.key_pem.as_bytes(),
                None,
                pos_tls::ClientAuth::None,
            )?
        };
        let (card_lag, emoney_lag) = (options.card_payout_lag_days, options.emoney_payout_lag_days);
        let start = |centre, node, lag| acquirer(centre, server_tls.clone(), &config, clock.clone(), node, lag);
        let card = match options.card {
            true => Some(start(acquirer_sim::Centre::Card, 10, card_lag).await?),
            false => None,
        };
        let card_secondary = match options.card && options.card_secondary {
            true => Some(start(acquirer_sim::Centre::Card, 11, card_lag).await?),
            false => None,
        };
        let emoney = match options.emoney {
            true => Some(start(acquirer_sim::Centre::Emoney, 20, emoney_lag).await?),
            false => None,
        };
        let mut card_endpoints: Vec<String> = card.iter().map(|s| s.address().to_string()).collect();
        card_endpoints.extend(card_secondary.iter().map(|s| s.address().to_string()));
        let emoney_endpoints: Vec<String> = emoney.iter().map(|s| s.address().to_string()).collect();
        for (kind, endpoints) in [(AcquirerKind::Card, card_endpoints), (AcquirerKind::Emoney, emoney_endpoints)] {
            if !endpoints.is_empty() {
                link_to(&mut config, kind, endpoints, &ca, options.link_timing);
            }
        }
        let qr = match &options.qr {
            Some(qr_options) => Some(start_qr(&mut config, qr_options, clock.clone()).await?),
            None => None,
        };
        let terminal_tls = match (options.terminal_tls.clone(), options.terminal_host) {
            (Some(tls), _) => Some(tls),
            (None, true) => Some(pki.server_requiring_clients(&["localhost", "127.0.0.1"])?),
            (None, false) => None,
        };
        if terminal_tls.is_some() {
            // The terminal host as production runs it: terminal certificates of this CA required.
            let host = config.terminal_host.get_or_insert_with(|| pos_config::TerminalHost {
                listen: "127.0.0.1:0".parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0))),
                cert_file: ca.clone(),
                key_file: ca.clone(),
                client_ca_file: None,
                client_crl_files: Vec::new(),
                client_auth: pos_config::ClientAuthMode::Required,
                device_wait_ms: TERMINAL_DEVICE_WAIT_MS,
                reversal_window_ms: None,
            });
            host.client_ca_file = Some(ca.clone());
            host.client_auth = pos_config::ClientAuthMode::Required;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api = listener.local_addr()?;
        let (terminals, terminal_host) = match &terminal_tls {
            Some(tls) => {
                let terminal_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let address = terminal_listener.local_addr()?;
                (Some((terminal_listener, tls.clone())), Some(address))
            }
            None => (None, None),
        };
        let (app, serving) = serve(config.clone(), clock.clone(), listener, terminals, options.own_runtime).await?;
        Ok(Rig {
            app,
            base: format!("http://{api}"),
            terminal_host,
            pki: Arc::new(pki),
            tls_dir,
            card,
            card_secondary,
            emoney,
            qr,
            config,
            clock,
            api,
            terminal_tls,
            own_runtime: options.own_runtime,
            serving: Some(serving),
        })
    }

    /// The terminals of the rig's PKI, each connecting with its own certificate.
    pub fn terminals(&self) -> anyhow::Result<TerminalFleet> {
        let address = self.terminal_host.context("the rig has no terminal host")?;
        Ok(TerminalFleet::new(address.to_string(), self.pki.clone()))
    }

    /// A client configuration trusting the rig's CA, without a client certificate.
    pub fn client_tls(&self) -> anyhow::Result<Arc<rustls::ClientConfig>> {
        Ok(pos_tls::client_config_from_pem(self.pki.ca_pem().as_bytes(), None)?)
    }

    /// Stops the gateway, letting requests in flight finish; the simulators keep running (their
    /// ledgers and settlement files are read afterwards).
    pub async fn stop_gateway(&mut self) -> anyhow::Result<()> {
        let Some(Serving { stop, server, runtime }) = self.serving.take() else { return Ok(()) };
        let _ = stop.send(());
        let ended = server.await.context("the gateway's task");
        runtime.shut().await;
        ended??;
        Ok(())
    }

    /// Ends the gateway's runtime: every task of the gateway (API, terminal host, requests in
    /// flight to the acquirers, the workers) stops at its next await, nothing is answered and
    /// nothing more is written — as when its process is killed. Committed journal writes stay.
    /// Needs [`RigOptions::own_runtime`].
    pub async fn kill_gateway(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.own_runtime, "only a gateway on its own runtime can be killed");
        if let Some(Serving { stop, server, runtime }) = self.serving.take() {
            // The runtime goes first: the stop signal dropped first would start a graceful stop.
            runtime.shut().await;
            drop((stop, server));
        }
        Ok(())
    }

    /// Starts the gateway again, on the same addresses and the same journal, as a restarted
    /// process would.
    pub async fn start_gateway(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.serving.is_none(), "the gateway is running");
        let listener = bind_again(self.api).await?;
        let terminals = match (self.terminal_host, &self.terminal_tls) {
            (Some(address), Some(tls)) => Some((bind_again(address).await?, tls.clone())),
            _ => None,
        };
        let (app, serving) =
            serve(self.config.clone(), self.clock.clone(), listener, terminals, self.own_runtime).await?;
        self.app = app;
        self.serving = Some(serving);
        Ok(())
    }

    /// Stops the gateway (letting requests in flight finish) and every simulator.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop_gateway().await?;
        for simulator in [self.card.take(), self.card_secondary.take(), self.emoney.take()].into_iter().flatten() {
            simulator.shutdown().await;
        }
        if let Some(qr) = self.qr.take() {
            qr.shutdown().await;
        }
        Ok(())
    }
}

/// Starts the QR provider simulator and links the configuration's QR acquirer to it.
async fn start_qr(
    config: &mut Config,
    options: &QrOptions,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<qr_sim::QrSimHandle> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut simulator = options.simulator.clone();
    let start = qr_sim::StartOptions { clock, tls: None };
    let qr = if options.control {
        simulator.payment_url_base = format!("http://{}/pay", listener.local_addr()?);
        qr_sim::start_with_control(listener, simulator, start).await?
    } else {
        qr_sim::start_with(listener, simulator, start).await?
    };
    for acquirer in config.acquirers.iter_mut().filter(|a| a.kind == AcquirerKind::Qr) {
        acquirer.qr_link = Some(QrLink {
            base_url: qr.base_url(),
            api_key: options.api_key.clone(),
            api_secret: Secret::new(&options.api_secret),
            poll_interval_ms: options.poll_interval_ms,
            request_timeout_ms: options.request_timeout_ms,
            resolve_retry_ms: options.resolve_retry_ms,
            resolve_tries_max: options.resolve_tries_max,
            customer_presented: options.customer_presented,
            ca_file: None,
            merchants: options.merchants.clone(),
        });
    }
    Ok(qr)
}

/// A journal database of its own: a temporary SQLite file, or a new PostgreSQL database that is
/// dropped (with any connection a killed gateway left) when this is dropped.
pub struct FreshDatabase {
    pub config: pos_config::Database,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

/// The PostgreSQL server tests and the benchmark use: `POS_TEST_POSTGRES_URL`, else the local one.
pub fn postgres_admin_url() -> String {
    std::env::var("POS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

impl FreshDatabase {
    pub async fn new(backend: pos_config::Backend, connections_max: u32) -> anyhow::Result<FreshDatabase> {
        use sqlx::Connection;
        match backend {
            pos_config::Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("journal.db").display());
                let config = pos_config::Database { url, backend, connections_max };
                Ok(FreshDatabase { config, _dir: Some(dir), postgres: None })
            }
            pos_config::Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("pos_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .with_context(|| format!("PostgreSQL is required here ({admin})"))?;
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base).to_string();
                let config = pos_config::Database { url: format!("{base}/{name}"), backend, connections_max };
                Ok(FreshDatabase { config, _dir: None, postgres: Some((admin, name)) })
            }
        }
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else { return };
        // Drop runs outside any async context we can rely on: a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            use sqlx::Connection;
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}
