//! End-to-end tests of the whole system, run as its users would run it.
//!
//! The tests in `tests/` drive complete flows across crates: the demo business day
//! (configuration → gateway → journal → treasury's read-back) and a counter's card path (ECR
//! driver ⇄ pty ⇄ terminal simulator ⇄ ISO 8583/TLS ⇄ gateway ⇄ acquirer simulator). This library
//! holds what those tests share: a running gateway with its terminal host and simulated
//! acquirers, and a small HTTP client.

pub mod browser;
pub mod counter_rig;

use std::path::PathBuf;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The example city's configuration, as shipped.
pub fn example_config_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/examples/city.toml")
}

/// How long a stopping gateway may take to finish its open connections.
pub const GATEWAY_STOP_MS_MAX: u64 = 5_000;
/// How long binding a just-released port may keep failing.
pub const REBIND_MS_MAX: u64 = 5_000;
/// Worker threads of the gateway's own runtime.
pub const GATEWAY_WORKER_THREADS: usize = 2;

async fn bind_again(address: &str) -> tokio::net::TcpListener {
    let until = tokio::time::Instant::now() + std::time::Duration::from_millis(REBIND_MS_MAX);
    loop {
        match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => return listener,
            Err(error) if tokio::time::Instant::now() < until => {
                let _ = error;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(error) => panic!("cannot bind {address} again: {error}"),
        }
    }
}

/// The gateway (SQLite journal in a temporary folder) with its terminal host, a card acquirer
/// and an e-money centre simulated over ISO 8583/TLS, all on ports chosen by the system.
pub struct Counter {
    pub base: String,
    pub terminal_host: String,
    pub card: acquirer_sim::SimulatorHandle,
    pub emoney: acquirer_sim::SimulatorHandle,
    pki: pos_tls::DevPki,
    config: pos_config::Config,
    /// The terminal host's TLS: terminals must present their own certificates.
    tls: Arc<rustls::ServerConfig>,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), gateway::GatewayError>>>,
    /// The gateway runs on a runtime of its own, so that [`Counter::kill_gateway`] can end every
    /// task it started at once, as a crash of its process would.
    runtime: GatewayRuntime,
    _dir: tempfile::TempDir,
}

impl Counter {
    pub async fn start() -> Counter {
        Counter::start_with(|_| {}).await
    }

    /// As [`Counter::start`], with a PayPay-style QR provider simulated in this process and
    /// linked for facility F01 (merchant `M0001`); `customer_presented` lets it charge scanned codes.
    pub async fn start_with_qr(customer_presented: bool) -> (Counter, qr_sim::QrSimHandle) {
        Counter::start_with_qr_sim(customer_presented, false, |_| {}).await
    }

    /// As [`Counter::start_with_qr`] (merchant-presented codes only), with the simulator's
    /// controls on — the customer page at each code's URL, which points at the simulator, and
    /// `/_sim/codes/{codeId}/pay|decline` — and the configuration adjusted further.
    pub async fn start_with_qr_controls(
        adjust: impl FnOnce(&mut pos_config::Config),
    ) -> (Counter, qr_sim::QrSimHandle) {
        Counter::start_with_qr_sim(false, true, adjust).await
    }

    async fn start_with_qr_sim(
        customer_presented: bool,
        control: bool,
        adjust: impl FnOnce(&mut pos_config::Config),
    ) -> (Counter, qr_sim::QrSimHandle) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind qr-sim");
        let mut sim_config = qr_sim::QrSimConfig::example();
        let options = qr_sim::StartOptions { clock: Arc::new(pos_core::SystemClock), tls: None };
        let sim = if control {
            sim_config.payment_url_base = format!("http://{}/pay", listener.local_addr().expect("qr-sim address"));
            qr_sim::start_with_control(listener, sim_config, options).await
        } else {
            qr_sim::start_with(listener, sim_config, options).await
        }
        .expect("qr-sim starts");
        let base_url = sim.base_url();
        let counter = Counter::start_with(move |config| {
            let acquirer = config.acquirers.iter_mut().find(|a| a.id == "ACQ-QR").expect("ACQ-QR configured");
            let mut merchants = std::collections::BTreeMap::new();
            merchants.insert(pos_core::FacilityId::parse("F01").expect("facility"), "M0001".to_string());
            acquirer.qr_link = Some(pos_config::QrLink {
                base_url,
                api_key: "sample_key".to_string(),
                api_secret: pos_config::Secret::new("sample_secret"),
                poll_interval_ms: 200,
                request_timeout_ms: 2_000,
                resolve_retry_ms: 200,
                resolve_tries_max: 20,
                customer_presented,
                ca_file: None,
                merchants,
            });
            adjust(config);
        })
        .await;
        (counter, sim)
    }

    /// As [`Counter::start`], with the configuration adjusted first (e.g. a QR provider link).
    pub async fn start_with(adjust: impl FnOnce(&mut pos_config::Config)) -> Counter {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = pos_tls::DevPki::new("e2e CA").expect("CA");
        pki.write_server(dir.path(), "gateway", &["localhost", "127.0.0.1"]).expect("PKI files");
        let leaf = pki.server(&["localhost", "127.0.0.1"]).expect("leaf");
        let tls = pos_tls::server_config_from_pem(
            leaf.chain_pem.as_bytes(),
            leaf.key_pem.as_bytes(),
            None,
            pos_tls::ClientAuth::None,
        )
        .expect("server TLS");
        let mut config = pos_config::load_with_env(&example_config_path(), |_| None).expect("example config");
        let mut simulators = Vec::new();
        for centre in [acquirer_sim::Centre::Card, acquirer_sim::Centre::Emoney] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind simulator");
            let fees = acquirer_sim::default_fees(centre);
            let sim_config = acquirer_sim::SimulatorConfig {
                centre,
                tls: tls.clone(),
                fees,
                payout_lag_days: 2,
                name: "e2e".to_string(),
            };
            simulators.push(acquirer_sim::start(listener, sim_config).await);
        }
        let emoney = simulators.pop().expect("e-money simulator");
        let card = simulators.pop().expect("card simulator");
        for acquirer in &mut config.acquirers {
            let address = match acquirer.kind {
                pos_config::AcquirerKind::Card => card.address(),
                pos_config::AcquirerKind::Emoney => emoney.address(),
                pos_config::AcquirerKind::Qr => continue,
            };
            if let Some(link) = &mut acquirer.link {
                link.endpoints = vec![address.to_string()];
                link.ca_file = dir.path().join("ca.crt");
            }
        }
        // Terminals prove who they are, as in production.
        if let Some(host) = &mut config.terminal_host {
            host.client_ca_file = Some(dir.path().join("ca.crt"));
            host.client_auth = pos_config::ClientAuthMode::Required;
        }
        adjust(&mut config);
        config.database = pos_config::Database {
            url: format!("sqlite://{}", dir.path().join("journal.db").display()),
            backend: pos_config::Backend::Sqlite,
            connections_max: 8,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind API");
        let terminal_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind terminal host");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let terminal_host = terminal_listener.local_addr().expect("address").to_string();
        let mut counter = Counter {
            base,
            terminal_host,
            card,
            emoney,
            tls: pki.server_requiring_clients(&["localhost", "127.0.0.1"]).expect("terminal host TLS"),
            pki,
            config,
            http: reqwest::Client::new(),
            stop: None,
            server: None,
            runtime: GatewayRuntime(None),
            _dir: dir,
        };
        counter.serve(listener, terminal_listener).await;
        counter
    }

    async fn serve(&mut self, listener: tokio::net::TcpListener, terminal_listener: tokio::net::TcpListener) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(GATEWAY_WORKER_THREADS)
            .enable_all()
            .build()
            .expect("gateway runtime");
        let listener = listener.into_std().expect("API listener");
        let terminal_listener = terminal_listener.into_std().expect("terminal listener");
        let (config, tls) = (self.config.clone(), self.tls.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, started) = tokio::sync::oneshot::channel::<()>();
        let server = runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("API listener");
            let terminal_listener = tokio::net::TcpListener::from_std(terminal_listener).expect("terminal listener");
            let app = gateway::AppState::start(config, Arc::new(pos_core::SystemClock)).await.expect("gateway starts");
            let _ = ready.send(());
            gateway::run_with_terminals(listener, Some((terminal_listener, tls)), app, async move {
                let _ = stopped.await;
            })
            .await
        });
        started.await.expect("the gateway started");
        self.stop = Some(stop);
        self.server = Some(server);
        self.runtime = GatewayRuntime(Some(runtime));
    }

    /// Ends the gateway's runtime: every task of the gateway (API, terminal host, requests in
    /// flight to the acquirers, the switch's worker) stops at its next await, nothing is answered
    /// and nothing more is written — as when its process is killed. Committed journal writes stay.
    pub async fn kill_gateway(&mut self) {
        // The runtime goes first: dropping the stop signal would start a graceful shutdown.
        self.shut_runtime().await;
        self.stop = None;
        self.server = None;
    }

    async fn shut_runtime(&mut self) {
        if let Some(runtime) = self.runtime.0.take() {
            // Shutting a runtime down blocks, which an async task must not do.
            tokio::task::spawn_blocking(move || {
                runtime.shutdown_timeout(std::time::Duration::from_millis(GATEWAY_STOP_MS_MAX))
            })
            .await
            .expect("the gateway runtime shuts down");
        }
    }

    /// Stops the gateway (API and terminal host; the acquirer simulators keep running). Open
    /// connections get [`GATEWAY_STOP_MS_MAX`] to finish, then the server is aborted.
    pub async fn stop_gateway(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut server) = self.server.take() {
            let stopped =
                tokio::time::timeout(std::time::Duration::from_millis(GATEWAY_STOP_MS_MAX), &mut server).await;
            if stopped.is_err() {
                server.abort();
                let _ = server.await;
            }
        }
        self.shut_runtime().await;
    }

    /// Starts the gateway again on the same addresses and the same journal file.
    pub async fn start_gateway(&mut self) {
        let api = self.base.trim_start_matches("http://").to_string();
        let listener = bind_again(&api).await;
        let terminal_listener = bind_again(&self.terminal_host).await;
        self.serve(listener, terminal_listener).await;
    }

    /// The demo token of `user`.
    pub fn token_of(user: &str) -> String {
        Counter::token(user)
    }

    /// A terminal's ISO 8583/TLS connection to the gateway's terminal host, presenting the
    /// terminal's own certificate (`urn:pos:terminal:<id>`).
    pub async fn terminal_host_client(&self, terminal_id: &str) -> iso8583::client::Client {
        let tls = self.pki.terminal_client(terminal_id).expect("terminal certificate");
        let client = iso8583::client::Client::start(iso8583::client::ClientSettings {
            endpoints: vec![self.terminal_host.clone()],
            server_name: "localhost".to_string(),
            tls,
            in_flight_max: 4,
            connect_timeout_ms: 3_000,
            echo_interval_ms: 60_000,
            reconnect_backoff_ms_max: 500,
        });
        assert!(
            client.wait_connected(std::time::Duration::from_secs(5)).await,
            "the terminal connects to the terminal host"
        );
        client
    }

    fn token(user: &str) -> String {
        format!("demo-{user}")
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, user: &str, path: &str, body: &B) -> T {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(Counter::token(user))
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {path}: {e}: {text}"))
    }

    pub async fn get<T: DeserializeOwned>(&self, user: &str, path: &str) -> T {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(Counter::token(user))
            .send()
            .await
            .expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "GET {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
    }

    pub async fn open_shift(&self, user: &str, register: &str) {
        let _: serde_json::Value =
            self.post(user, "/v1/shifts", &serde_json::json!({ "register_id": register, "opening_float": 0 })).await;
    }

    pub async fn stop(mut self) {
        self.stop_gateway().await;
        self.card.shutdown().await;
        self.emoney.shutdown().await;
    }
}

/// The gateway's own runtime. A test that fails before [`Counter::stop`] still ends the gateway:
/// a runtime dropped inside another runtime's task would panic, so it is shut down without
/// waiting.
struct GatewayRuntime(Option<tokio::runtime::Runtime>);

impl Drop for GatewayRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
