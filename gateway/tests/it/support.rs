//! Test support: a fresh database per test (a temporary SQLite file, or a new PostgreSQL
//! database that is dropped afterwards), the gateway served on port 0, and a small client.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pos_config::{Backend, Config};
use pos_core::Clock;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::Connection;

/// The PostgreSQL server the PostgreSQL tests use. They fail, never skip, when it is missing.
pub fn postgres_admin_url() -> String {
    std::env::var("POS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

pub fn example_config_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/city.toml")
}

pub fn example_config() -> Config {
    pos_config::load_with_env(&example_config_path(), |_| None).expect("example config loads")
}

/// A database made for one test, removed when the test ends.
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    postgres_name: Option<String>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("journal.db").display());
                TestDatabase { url, backend, _dir: Some(dir), postgres_name: None }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("pos_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL is required for the PostgreSQL journal tests ({admin}): {e}")
                });
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base).to_string();
                TestDatabase { url: format!("{base}/{name}"), backend, _dir: None, postgres_name: Some(name) }
            }
        }
    }

    pub fn database_config(&self) -> pos_config::Database {
        pos_config::Database { url: self.url.clone(), backend: self.backend, connections_max: 8 }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(name) = self.postgres_name.take() {
            // Drop runs outside any async context we can rely on: use a thread with its own
            // runtime, and force out connections a killed gateway may have left behind.
            let admin = postgres_admin_url();
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async move {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub app: gateway::AppState,
    pub terminal_host: Option<std::net::SocketAddr>,
    _database: TestDatabase,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), gateway::GatewayError>>>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Arc::new(pos_core::SystemClock), |_| {}).await
}

/// The example configuration with its acquirer links and terminal host removed (they need TLS
/// material and simulators; the switch tests add their own).
pub fn offline_config() -> Config {
    let mut config = example_config();
    for acquirer in &mut config.acquirers {
        acquirer.link = None;
    }
    config.terminal_host = None;
    config
}

pub async fn spawn_app_with(backend: Backend, clock: Arc<dyn Clock>, adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_full(backend, clock, None, adjust).await
}

/// Spawns the gateway, with a terminal host when `terminal_tls` is given (its address is then
/// in [`TestApp::terminal_host`]).
pub async fn spawn_app_full(
    backend: Backend,
    clock: Arc<dyn Clock>,
    terminal_tls: Option<Arc<rustls::ServerConfig>>,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let database = TestDatabase::new(backend).await;
    let mut config = offline_config();
    config.database = database.database_config();
    adjust(&mut config);
    let app = gateway::AppState::start(config, clock).await.expect("gateway starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut terminal_host = None;
    let terminals = match terminal_tls {
        Some(tls) => {
            let terminal_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind terminal host");
            terminal_host = Some(terminal_listener.local_addr().expect("address"));
            Some((terminal_listener, tls))
        }
        None => None,
    };
    let server = tokio::spawn(gateway::run_with_terminals(listener, terminals, app.clone(), async move {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        app,
        terminal_host,
        _database: database,
        http: reqwest::Client::new(),
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server ends cleanly");
        }
    }

    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body);
        }
        let response = request.send().await.expect("request reaches the gateway");
        let status = response.status().as_u16();
        let replayed = response.headers().get("idempotent-replayed").is_some();
        let text = response.text().await.expect("body");
        Reply { status, text, replayed }
    }

    pub async fn post<B: Serialize>(&self, path: &str, token: &str, key: &str, body: &B) -> Reply {
        self.send_raw(
            reqwest::Method::POST,
            path,
            Some(token),
            Some(key),
            Some(serde_json::to_string(body).expect("json")),
        )
        .await
    }

    /// A refund as a clerk makes it with a supervisor's approval: treasury issues a one-time code
    /// for the payment and amount, and the refund carries it (other callers need no code).
    pub async fn post_approved<B: Serialize>(&self, path: &str, token: &str, key: &str, body: &B) -> Reply {
        let mut body = serde_json::to_value(body).expect("json");
        if token.starts_with("demo-clerk-") {
            let payment = path.trim_start_matches("/v1/payments/").trim_end_matches("/refunds");
            let issued = self
                .post(
                    &format!("/v1/payments/{payment}/approval-codes"),
                    &crate::support::token("treasury"),
                    &crate::support::key(),
                    &serde_json::json!({ "amount": body["amount"] }),
                )
                .await;
            if let Ok(code) = serde_json::from_str::<pos_core::api::ApprovalCodeView>(&issued.text) {
                body["approval_code"] = serde_json::Value::String(code.code);
            }
        }
        self.post(path, token, key, &body).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send_raw(reqwest::Method::GET, path, Some(token), None, None).await
    }

    /// Counts rows of a table straight from the journal.
    pub async fn count(&self, table: &str) -> i64 {
        use sqlx::Row;
        let mut conn = self.app.journal.read().await.expect("conn");
        sqlx::query(&format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table}"))
            .fetch_one(&mut *conn)
            .await
            .expect("count")
            .get::<i64, _>("n")
    }

    /// A fingerprint of everything the journal holds except the audit log.
    pub async fn journal_counts(&self) -> Vec<(String, i64)> {
        let mut counts = Vec::new();
        for table in ["events", "shifts", "sales", "sale_lines", "payments", "receipt_counters", "idempotency_keys"] {
            counts.push((table.to_string(), self.count(table).await));
        }
        counts
    }
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub text: String,
    pub replayed: bool,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("unexpected body ({e}): {}", self.text))
    }

    pub fn ok<T: DeserializeOwned>(&self) -> T {
        assert!((200..300).contains(&self.status), "expected success, got {}: {}", self.status, self.text);
        self.json()
    }

    /// Asserts an error answer and returns its (code, message, field).
    pub fn error(&self, status: u16) -> (String, String, Option<String>) {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        let body: pos_core::api::ErrorBody = self.json();
        (body.error.code, body.error.message, body.error.field)
    }
}

pub fn token(user: &str) -> String {
    format!("demo-{user}")
}

pub fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A development PKI written to a temporary folder as `ca.crt`, `gateway.crt`, `gateway.key`.
pub struct TestPki {
    pub dir: tempfile::TempDir,
    pub pki: Arc<pos_tls::DevPki>,
}

impl TestPki {
    pub fn new() -> TestPki {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = pos_tls::DevPki::new("test CA").expect("CA");
        pki.write_server(dir.path(), "gateway", &["localhost", "127.0.0.1"]).expect("write PKI");
        TestPki { dir, pki: Arc::new(pki) }
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A server configuration for a listener named localhost (terminal host or simulator).
    pub fn server_tls(&self) -> Arc<rustls::ServerConfig> {
        let leaf = self.pki.server(&["localhost", "127.0.0.1"]).expect("leaf");
        pos_tls::server_config_from_pem(
            leaf.chain_pem.as_bytes(),
            leaf.key_pem.as_bytes(),
            Some(self.pki.ca_pem().as_bytes()),
            pos_tls::ClientAuth::Optional,
        )
        .expect("server tls")
    }

    /// The terminal host's configuration: terminals must present a certificate of this CA.
    pub fn terminal_host_tls(&self) -> Arc<rustls::ServerConfig> {
        self.pki.server_requiring_clients(&["localhost", "127.0.0.1"]).expect("terminal host tls")
    }

    /// The terminal host as the configuration names it (terminal certificates required).
    pub fn terminal_host_config(&self) -> pos_config::TerminalHost {
        pos_config::TerminalHost {
            listen: "127.0.0.1:0".parse().expect("address"),
            cert_file: self.ca_path(),
            key_file: self.ca_path(),
            client_ca_file: Some(self.ca_path()),
            client_crl_files: Vec::new(),
            client_auth: pos_config::ClientAuthMode::Required,
            device_wait_ms: 120_000,
            reversal_window_ms: None,
        }
    }

    /// Terminals connecting to `address`, each with its own certificate.
    pub fn terminals(&self, address: &str) -> demo::terminals::TerminalFleet {
        demo::terminals::TerminalFleet::new(address.to_string(), self.pki.clone())
    }

    pub fn client_tls(&self) -> Arc<rustls::ClientConfig> {
        pos_tls::client_config_from_pem(self.pki.ca_pem().as_bytes(), None).expect("client tls")
    }
}

/// Writes a copy of the example configuration into `dir` whose TLS files are `pki`'s, whose
/// terminal host listens on a free port, and whose acquirer endpoints are `card` and `emoney`.
pub fn write_config(dir: &Path, pki: &TestPki, card: &[String], emoney: &[String]) -> PathBuf {
    let text = std::fs::read_to_string(example_config_path()).expect("example config");
    let quoted = |endpoints: &[String]| {
        format!("[{}]", endpoints.iter().map(|e| format!("{e:?}")).collect::<Vec<_>>().join(", "))
    };
    let replacements = [
        ("../../demo-data/tls".to_string(), pki.dir.path().display().to_string()),
        ("listen = \"127.0.0.1:8583\"".to_string(), "listen = \"127.0.0.1:0\"".to_string()),
        ("endpoints = [\"127.0.0.1:7001\", \"127.0.0.1:7002\"]".to_string(), format!("endpoints = {}", quoted(card))),
        ("endpoints = [\"127.0.0.1:7011\"]".to_string(), format!("endpoints = {}", quoted(emoney))),
    ];
    let mut text = text;
    for (from, to) in replacements {
        assert!(text.contains(&from), "example config no longer contains {from:?}");
        text = text.replace(&from, &to);
    }
    let path = dir.join("city.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Waits until `check` yields a value, polling every [`UNTIL_POLL_MS`], or fails naming `what`
/// after `bound`.
pub async fn until<T, F, Fut>(what: &str, bound: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {} ms", bound.as_millis());
        tokio::time::sleep(std::time::Duration::from_millis(UNTIL_POLL_MS)).await;
    }
}

/// How often [`until`] looks again.
pub const UNTIL_POLL_MS: u64 = 25;
