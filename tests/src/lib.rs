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

/// How often the gateway polls the QR provider in these tests.
pub const QR_POLL_MS: u64 = 200;

/// The gateway (SQLite journal in a temporary folder) with its terminal host, a card acquirer
/// and an e-money centre simulated over ISO 8583/TLS, all on ports chosen by the system: the one
/// rig ([`demo::rig`]), its gateway on a runtime of its own so that a test can kill it.
pub struct Counter {
    pub base: String,
    pub terminal_host: String,
    pub card: acquirer_sim::SimulatorHandle,
    pub emoney: acquirer_sim::SimulatorHandle,
    rig: demo::rig::Rig,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Counter {
    pub async fn start() -> Counter {
        Counter::start_with(|_| {}).await
    }

    /// As [`Counter::start`], with a PayPay-style QR provider simulated in this process and
    /// linked for facility F01 (merchant `M0001`); `customer_presented` lets it charge scanned codes.
    pub async fn start_with_qr(customer_presented: bool) -> (Counter, qr_sim::QrSimHandle) {
        Counter::start_with_qr_sim(demo::rig::QrOptions::example(customer_presented), |_| {}).await
    }

    /// As [`Counter::start_with_qr`] (merchant-presented codes only), with the simulator's
    /// controls on — the customer page at each code's URL, which points at the simulator, and
    /// `/_sim/codes/{codeId}/pay|decline` — and the configuration adjusted further.
    pub async fn start_with_qr_controls(
        adjust: impl FnOnce(&mut pos_config::Config),
    ) -> (Counter, qr_sim::QrSimHandle) {
        let qr = demo::rig::QrOptions { control: true, ..demo::rig::QrOptions::example(false) };
        Counter::start_with_qr_sim(qr, adjust).await
    }

    async fn start_with_qr_sim(
        qr: demo::rig::QrOptions,
        adjust: impl FnOnce(&mut pos_config::Config),
    ) -> (Counter, qr_sim::QrSimHandle) {
        let qr = demo::rig::QrOptions { poll_interval_ms: QR_POLL_MS, ..qr };
        let mut counter = Counter::start_on(Some(qr), adjust).await;
        let sim = counter.rig.qr.take().expect("the QR simulator");
        (counter, sim)
    }

    /// As [`Counter::start`], with the configuration adjusted first (e.g. a QR provider link).
    pub async fn start_with(adjust: impl FnOnce(&mut pos_config::Config)) -> Counter {
        Counter::start_on(None, adjust).await
    }

    async fn start_on(qr: Option<demo::rig::QrOptions>, adjust: impl FnOnce(&mut pos_config::Config)) -> Counter {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = pos_config::load_with_env(&example_config_path(), |_| None).expect("example config");
        adjust(&mut config);
        config.database = pos_config::Database {
            url: format!("sqlite://{}", dir.path().join("journal.db").display()),
            backend: pos_config::Backend::Sqlite,
            connections_max: 8,
        };
        let options = demo::rig::RigOptions {
            card: true,
            emoney: true,
            qr,
            terminal_host: true,
            own_runtime: true,
            ..demo::rig::RigOptions::gateway_only(config, Arc::new(pos_core::SystemClock), dir.path().join("tls"))
        };
        let mut rig = demo::rig::Rig::start(options).await.expect("the rig starts");
        let card = rig.card.take().expect("the card acquirer");
        let emoney = rig.emoney.take().expect("the e-money centre");
        Counter {
            base: rig.base.clone(),
            terminal_host: rig.terminal_host.expect("the terminal host").to_string(),
            card,
            emoney,
            rig,
            http: demo::rig::http_client(),
            _dir: dir,
        }
    }

    /// Ends the gateway's runtime, as when its process is killed ([`demo::rig::Rig::kill_gateway`]).
    pub async fn kill_gateway(&mut self) {
        self.rig.kill_gateway().await.expect("the gateway is killed");
    }

    /// Stops the gateway (API and terminal host; the acquirer simulators keep running).
    pub async fn stop_gateway(&mut self) {
        self.rig.stop_gateway().await.expect("the gateway stops");
    }

    /// Starts the gateway again on the same addresses and the same journal file.
    pub async fn start_gateway(&mut self) {
        self.rig.start_gateway().await.expect("the gateway starts again");
    }

    /// The demo token of `user`.
    pub fn token_of(user: &str) -> String {
        Counter::token(user)
    }

    /// A terminal's ISO 8583/TLS connection to the gateway's terminal host, presenting the
    /// terminal's own certificate (`urn:pos:terminal:<id>`).
    pub async fn terminal_host_client(&self, terminal_id: &str) -> iso8583::client::Client {
        let tls = self.rig.pki.terminal_client(terminal_id).expect("terminal certificate");
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
        self.rig.stop().await.expect("the rig stops");
    }
}
