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
    _database: Option<TestDatabase>,
    pub http: reqwest::Client,
    /// The gateway and what the rig started beside it.
    pub rig: Option<demo::rig::Rig>,
    /// Where the rig's development PKI was written.
    _tls_dir: tempfile::TempDir,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Arc::new(pos_core::SystemClock), |_| {}).await
}

/// The example configuration with its acquirer links and terminal host removed (the rig adds
/// what a test asks for).
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

/// Spawns the gateway, with a terminal host of this TLS when `terminal_tls` is given (its address
/// is then in [`TestApp::terminal_host`]).
pub async fn spawn_app_full(
    backend: Backend,
    clock: Arc<dyn Clock>,
    terminal_tls: Option<Arc<rustls::ServerConfig>>,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    spawn_rig(backend, clock, adjust, |options| demo::rig::RigOptions { terminal_tls, ..options }).await
}

/// Starts the gateway on a fresh database through the one rig, with what `choose` asks for
/// (simulators, a terminal host, link timing).
pub async fn spawn_rig(
    backend: Backend,
    clock: Arc<dyn Clock>,
    adjust: impl FnOnce(&mut Config),
    choose: impl FnOnce(demo::rig::RigOptions) -> demo::rig::RigOptions,
) -> TestApp {
    let database = TestDatabase::new(backend).await;
    let mut config = offline_config();
    config.database = database.database_config();
    adjust(&mut config);
    let tls_dir = tempfile::tempdir().expect("temp dir");
    let options = choose(demo::rig::RigOptions::gateway_only(config, clock, tls_dir.path().to_path_buf()));
    let rig = demo::rig::Rig::start(options).await.expect("the rig starts");
    TestApp {
        base: rig.base.clone(),
        app: rig.app.clone(),
        terminal_host: rig.terminal_host,
        _database: Some(database),
        http: demo::rig::http_client(),
        rig: Some(rig),
        _tls_dir: tls_dir,
    }
}

/// Spawns the gateway on an existing journal at `url` (a restored backup), which the test owns.
pub async fn spawn_app_on(url: &str) -> TestApp {
    let mut config = offline_config();
    config.database.url = url.to_string();
    config.database.backend = if url.starts_with("postgres") { Backend::Postgres } else { Backend::Sqlite };
    let tls_dir = tempfile::tempdir().expect("temp dir");
    let options =
        demo::rig::RigOptions::gateway_only(config, Arc::new(pos_core::SystemClock), tls_dir.path().to_path_buf());
    let rig = demo::rig::Rig::start(options).await.expect("the rig starts");
    TestApp {
        base: rig.base.clone(),
        app: rig.app.clone(),
        terminal_host: None,
        _database: None,
        http: demo::rig::http_client(),
        rig: Some(rig),
        _tls_dir: tls_dir,
    }
}

impl TestApp {
    pub async fn stop(mut self) {
        if let Some(rig) = self.rig.take() {
            rig.stop().await.expect("the gateway and its simulators stop cleanly");
        }
    }

    /// Waits at most `bound` until payment `id`, as treasury sees it, is `done`.
    pub async fn payment_until(
        &self,
        id: &str,
        bound: std::time::Duration,
        done: impl Fn(&pos_core::api::PaymentView) -> bool,
    ) -> pos_core::api::PaymentView {
        until(&format!("payment {id}"), bound, || async {
            let payment: pos_core::api::PaymentView =
                self.get(&format!("/v1/payments/{id}"), &token("treasury")).await.ok();
            done(&payment).then_some(payment)
        })
        .await
    }

    /// The rig's development PKI (its CA trusted by the links and the terminal host).
    pub fn pki(&self) -> TestPki {
        let rig = self.rig.as_ref().expect("a running rig");
        TestPki::of(rig.pki.clone(), rig.tls_dir.clone())
    }

    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base));
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
        let content_type = content_type_of(&response);
        let text = response.text().await.expect("body");
        contract::check(method.as_str(), path, status, content_type.as_deref(), &text);
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
        // Audit records of reads wait for the writer's next group commit: write them first.
        self.app.journal.flush_audit().await.expect("audit records written");
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

/// A development PKI written to a folder as `ca.crt`, `gateway.crt`, `gateway.key`: a temporary
/// one of its own, or the rig's.
pub struct TestPki {
    dir: PathBuf,
    _owned: Option<tempfile::TempDir>,
    pub pki: Arc<pos_tls::DevPki>,
}

impl TestPki {
    pub fn new() -> TestPki {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = pos_tls::DevPki::new("test CA").expect("CA");
        pki.write_server(dir.path(), "gateway", &["localhost", "127.0.0.1"]).expect("write PKI");
        TestPki { dir: dir.path().to_path_buf(), _owned: Some(dir), pki: Arc::new(pki) }
    }

    /// The rig's PKI, written to `dir` by the rig.
    pub fn of(pki: Arc<pos_tls::DevPki>, dir: PathBuf) -> TestPki {
        TestPki { dir, _owned: None, pki }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.crt")
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
        ("../../demo-data/tls".to_string(), pki.dir().display().to_string()),
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

/// The one wait helper (the rig's): a condition with a bound.
pub use demo::rig::until;

fn content_type_of(response: &reqwest::Response) -> Option<String> {
    response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Every answer the tests receive through [`TestApp`] is checked against the gateway's OpenAPI
/// document (`gateway::api::openapi`): its route and status must be documented, and a JSON body
/// must validate against the documented schema (JSON Schema 2020-12, as OpenAPI 3.1 has it).
pub mod contract {
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, Mutex};

    use serde_json::Value;

    static DOCUMENT: LazyLock<Value> =
        LazyLock::new(|| serde_json::to_value(gateway::api::openapi::document()).expect("the document serialises"));
    static VALIDATORS: LazyLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = LazyLock::new(Default::default);

    /// The documented path template a concrete path matches (`/v1/sales/S-1` → `/v1/sales/{id}`),
    /// preferring literal segments over parameters.
    pub fn template_of(path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        let paths = DOCUMENT["paths"].as_object()?;
        paths
            .keys()
            .filter_map(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                if parts.len() != segments.len() {
                    return None;
                }
                let mut literal = 0;
                for (part, segment) in parts.iter().zip(&segments) {
                    if part.starts_with('{') {
                        continue;
                    }
                    if part != segment {
                        return None;
                    }
                    literal += 1;
                }
                Some((literal, template.clone()))
            })
            .max()
            .map(|(_, template)| template)
    }

    fn validator(key: &str, schema: &Value) -> Arc<jsonschema::Validator> {
        let mut cache = VALIDATORS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .entry(key.to_string())
            .or_insert_with(|| {
                let mut root = schema.clone();
                root["components"] = DOCUMENT["components"].clone();
                Arc::new(jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("schema of {key}: {e}")))
            })
            .clone()
    }

    pub fn check(method: &str, path: &str, status: u16, content_type: Option<&str>, body: &str) {
        let path = path.split('?').next().unwrap_or(path);
        let method = method.to_ascii_lowercase();
        let Some(template) = template_of(path) else {
            assert_eq!(status, 404, "{method} {path} answered {status}, and the OpenAPI document has no such path");
            return;
        };
        let operation = &DOCUMENT["paths"][&template][&method];
        if operation.is_null() {
            assert_eq!(
                status, 405,
                "{method} {template} answered {status}, and the OpenAPI document has no such operation"
            );
            return;
        }
        let responses = &operation["responses"];
        let response = [status.to_string(), format!("{}XX", status / 100)]
            .iter()
            .map(|key| &responses[key])
            .find(|r| !r.is_null())
            .unwrap_or_else(|| {
                panic!("{method} {template} answered {status}, which its OpenAPI operation does not list")
            });
        let is_json = content_type.is_some_and(|t| t.starts_with("application/json"));
        if status >= 400 && !is_json {
            // Refusals made by the HTTP layers below the API (body too large, timeout) have no JSON.
            return;
        }
        let content = &response["content"];
        match content_type {
            Some(_) if is_json => {
                let schema = &content["application/json"]["schema"];
                assert!(!schema.is_null(), "{method} {template} {status} answered JSON, documented as {content}");
                let value: Value = serde_json::from_str(body).unwrap_or_else(|e| {
                    panic!("{method} {path} {status}: a JSON content type with a body that is not JSON ({e})")
                });
                let key = format!("{method} {template} {status}");
                let validator = validator(&key, schema);
                let problems: Vec<String> =
                    validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
                assert!(problems.is_empty(), "{key}: the answer breaks its OpenAPI schema: {problems:?}\n{body}");
            }
            Some(media) => {
                let media = media.split(';').next().unwrap_or(media).trim();
                assert!(
                    content.as_object().is_some_and(|c| c.contains_key(media)),
                    "{method} {template} {status} answered {media}, documented as {content}"
                );
            }
            None => {
                assert!(body.is_empty() || content.is_null(), "{method} {template} {status}: a body without a type")
            }
        }
    }
}
