//! The gateway's edges as an anonymous client on the city network meets them: connection limits
//! (slow headers, connection floods from one address and from many).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pos_config::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::*;

on_both_backends!(
    a_connection_with_partial_headers_is_closed_within_the_header_read_timeout,
    connections_over_the_caps_are_refused_while_a_clerk_is_served,
    a_flood_of_wrong_tokens_is_throttled_and_audited_in_aggregate,
    sessions_live_on_the_server_and_end_at_sign_out_revocation_expiry_and_token_change,
    the_api_speaks_tls_with_a_secure_cookie_and_reloads_its_certificate_on_sighup,
);

/// A password that must appear in no log line, error message or answer.
const DATABASE_PASSWORD: &str = "Sup3rS3cretPw";

fn address_of(app: &TestApp) -> SocketAddr {
    app.base.trim_start_matches("http://").parse().expect("the gateway's address")
}

/// A connection to the gateway from `source` (any 127.0.0.0/8 address is the loopback on Linux,
/// so one test can play several clients).
async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(format!("{source}:0").parse().expect("source address")).expect("bind the source address");
    socket.connect(to).await.expect("connect")
}

async fn a_connection_with_partial_headers_is_closed_within_the_header_read_timeout(backend: Backend) {
    const HEADER_READ_TIMEOUT_MS: u64 = 500;
    let app = spawn_app_with(backend, Arc::new(pos_core::SystemClock), |config| {
        config.server.limits.header_read_timeout_ms = HEADER_READ_TIMEOUT_MS;
    })
    .await;
    let mut stream = TcpStream::connect(address_of(&app)).await.expect("connect");
    let started = Instant::now();
    stream.write_all(b"GET /v1/me HTTP/1.1\r\nHost: gateway\r\n").await.expect("a partial head");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let elapsed = started.elapsed();
    assert!(read.is_ok(), "the connection was still open after 10 s");
    assert!(
        elapsed < Duration::from_millis(HEADER_READ_TIMEOUT_MS * 4),
        "closed only after {elapsed:?} (bound {HEADER_READ_TIMEOUT_MS} ms)"
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(!answer.contains("200 OK"), "a partial request was answered: {answer}");

    // A kept-alive connection that goes quiet after its request is closed by the same bound.
    let mut stream = TcpStream::connect(address_of(&app)).await.expect("connect");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n").await.expect("a whole request");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "an idle kept-alive connection was still open after 10 s");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "the request itself was answered");
    app.stop().await;
}

/// Opens `count` connections from `source` and reads each to its end in the background; returns
/// the connections' reads (the answer of each refused one) and how many have ended.
fn flood(
    source: &'static str,
    to: SocketAddr,
    count: usize,
) -> (Arc<AtomicUsize>, Vec<tokio::task::JoinHandle<String>>) {
    let ended = Arc::new(AtomicUsize::new(0));
    let reads = (0..count)
        .map(|_| {
            let ended = ended.clone();
            tokio::spawn(async move {
                let mut stream = connect_from(source, to).await;
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer).await;
                ended.fetch_add(1, Ordering::SeqCst);
                String::from_utf8_lossy(&answer).into_owned()
            })
        })
        .collect();
    (ended, reads)
}

async fn connections_over_the_caps_are_refused_while_a_clerk_is_served(backend: Backend) {
    const PER_SOURCE: usize = 4;
    const TOTAL: usize = 10;
    let app = spawn_app_with(backend, Arc::new(pos_core::SystemClock), |config| {
        // Long enough that held connections stay held for the whole test.
        config.server.limits.header_read_timeout_ms = 60_000;
        config.server.limits.connections_per_source_max = PER_SOURCE;
        config.server.limits.connections_max = TOTAL;
    })
    .await;
    let to = address_of(&app);

    // One address opens 10 connections and sends nothing: 4 are held, 6 are refused at once.
    let (ended, reads) = flood("127.0.0.2", to, 10);
    until("the connections over the per-source cap are refused", Duration::from_secs(10), || async {
        (ended.load(Ordering::SeqCst) >= 10 - PER_SOURCE).then_some(())
    })
    .await;
    // The clerk, from another address, is served meanwhile.
    let me = app.get("/v1/me", &token("clerk-r0101")).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(ended.load(Ordering::SeqCst), 10 - PER_SOURCE, "the connections under the cap are still held");

    // Two more addresses fill the server to its total: the excess is refused from any address.
    let (second_ended, second) = flood("127.0.0.3", to, PER_SOURCE);
    let (third_ended, third) = flood("127.0.0.4", to, PER_SOURCE);
    // The reqwest client keeps its connection to the clerk open too: one slot is the clerk's.
    let held_room = TOTAL - PER_SOURCE - 1;
    until("the connections over the total are refused", Duration::from_secs(10), || async {
        let refused = second_ended.load(Ordering::SeqCst) + third_ended.load(Ordering::SeqCst);
        (refused >= 2 * PER_SOURCE - held_room).then_some(())
    })
    .await;

    let mut refusals = Vec::new();
    for read in reads.into_iter().chain(second).chain(third) {
        if read.is_finished() {
            refusals.push(read.await.expect("reader"));
        } else {
            read.abort();
        }
    }
    assert!(refusals.len() >= 6 + 2 * PER_SOURCE - held_room, "{refusals:?}");
    for answer in &refusals {
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 503"), "a refused connection got {answer:?}");
    }

    // Once the flood is gone, the clerk's requests still succeed.
    let me = app.get("/v1/me", &token("clerk-r0101")).await;
    assert_eq!(me.status, 200, "{}", me.text);
    app.stop().await;
}

/// Audit records written for refused authentication (aggregated) and for anonymous refusals.
async fn refusal_records(app: &TestApp) -> Vec<(String, String, i64, String)> {
    use sqlx::Row;
    let mut conn = app.app.journal.read().await.expect("conn");
    sqlx::query("SELECT action, remote, status, detail FROM audit_record WHERE user_name = '-' AND status IN (401, 429) ORDER BY chain, seq")
        .fetch_all(&mut *conn)
        .await
        .expect("audit")
        .iter()
        .map(|row| (row.get("action"), row.get("remote"), row.get("status"), row.get("detail")))
        .collect()
}

async fn a_flood_of_wrong_tokens_is_throttled_and_audited_in_aggregate(backend: Backend) {
    let app = spawn_app_with(backend, Arc::new(pos_core::SystemClock), |config| {
        config.server.auth_throttle.audit_interval_seconds = 1;
    })
    .await;
    let allowance = app.app.config.server.auth_throttle.failures_per_minute as usize;
    let audited_before = app.count("audit_record").await;
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut retry_after = Vec::new();
    for attempt in 0..500 {
        let response = app
            .http
            .get(format!("{}/v1/me", app.base))
            .bearer_auth(format!("wrong-token-{attempt}"))
            .send()
            .await
            .expect("request");
        *statuses.entry(response.status().as_u16()).or_default() += 1;
        if let Some(value) = response.headers().get("retry-after") {
            retry_after.push(value.to_str().expect("ascii").parse::<u64>().expect("seconds"));
        }
        if attempt % 100 == 0 {
            // A clerk at the same address is never slowed.
            let me = app.get("/v1/me", &token("clerk-r0101")).await;
            assert_eq!(me.status, 200, "{}", me.text);
        }
    }
    assert_eq!(statuses.get(&401), Some(&allowance), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&(500 - allowance)), "{statuses:?}");
    assert_eq!(retry_after.len(), 500 - allowance);
    assert!(retry_after.iter().all(|seconds| (1..=60).contains(seconds)), "{retry_after:?}");

    // Sign-in and device tokens from the blocked address: wrong ones are throttled, right ones work.
    let signed_in = app
        .http
        .post(format!("{}/v1/session", app.base))
        .json(&serde_json::json!({ "token": "not-a-token" }))
        .send()
        .await
        .expect("sign-in");
    assert_eq!(signed_in.status().as_u16(), 429);
    assert!(signed_in.headers().contains_key("retry-after"));
    let signed_in = app
        .http
        .post(format!("{}/v1/session", app.base))
        .json(&serde_json::json!({ "token": token("clerk-r0101") }))
        .send()
        .await
        .expect("sign-in");
    assert_eq!(signed_in.status().as_u16(), 200);
    let device = app.get("/v1/devices/R0101/commands/next?wait_ms=0", "wrong-device-token").await;
    assert_eq!(device.status, 429, "{}", device.text);
    let device = app.get("/v1/devices/R0101/commands/next?wait_ms=0", &token("counter-r0101")).await;
    assert!(device.status == 200 || device.status == 204, "{}", device.text);

    // 502 refusals: a handful of aggregated records, not 502 writes.
    let records = until("the refusals are audited", Duration::from_secs(10), || async {
        let records = refusal_records(&app).await;
        let counted: u64 = records
            .iter()
            .filter_map(|(_, _, _, detail)| {
                let field = |name: &str| {
                    detail.split(' ').find_map(|part| part.strip_prefix(name)).and_then(|n| n.parse::<u64>().ok())
                };
                Some(field("refused=")? + field("throttled=")?)
            })
            .sum();
        (counted == 502).then_some(records)
    })
    .await;
    assert!(records.len() <= 15, "{} records for 502 refusals: {records:?}", records.len());
    for (action, remote, _, _) in &records {
        assert_eq!(action, gateway::api::throttle::REFUSALS_ACTION);
        assert_eq!(remote, "127.0.0.1");
    }
    let written = app.count("audit_record").await - audited_before;
    assert!(written < 40, "{written} audit records for 500 wrong tokens and a few clerk calls");
    app.stop().await;
}

/// Signs in with `user`'s token; returns the cookie's value and the whole Set-Cookie header.
async fn sign_in(app: &TestApp, user: &str) -> (String, String) {
    let response = app
        .http
        .post(format!("{}/v1/session", app.base))
        .json(&serde_json::json!({ "token": token(user) }))
        .send()
        .await
        .expect("sign-in");
    assert_eq!(response.status().as_u16(), 200, "{user} signs in");
    let header = response.headers().get("set-cookie").expect("a cookie").to_str().expect("ascii").to_string();
    let value = header
        .strip_prefix(&format!("{}=", gateway::api::auth::SESSION_COOKIE))
        .and_then(|rest| rest.split(';').next())
        .expect("the session cookie")
        .to_string();
    (value, header)
}

async fn with_cookie(app: &TestApp, method: reqwest::Method, path: &str, cookie: &str) -> u16 {
    app.http
        .request(method, format!("{}{path}", app.base))
        .header("cookie", format!("{}={cookie}", gateway::api::auth::SESSION_COOKIE))
        .header(gateway::api::auth::CSRF_HEADER, "1")
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn sessions_live_on_the_server_and_end_at_sign_out_revocation_expiry_and_token_change(backend: Backend) {
    let start = chrono::Utc::now();
    let clock = Arc::new(pos_core::ManualClock::new(start));
    let app = spawn_app_with(backend, clock.clone(), |config| {
        // This test's refused cookies are all from one address: not enough to be throttled.
        config.server.auth_throttle.failures_per_minute = 50;
    })
    .await;
    let lifetimes = app.app.config.server.sessions.clone();

    // The cookie holds a random id, not the token; only its hash is stored.
    let (cookie, header) = sign_in(&app, "clerk-r0101").await;
    assert_ne!(cookie, token("clerk-r0101"));
    assert!(cookie.len() >= 43, "{cookie}");
    assert!(header.contains("HttpOnly") && header.contains("SameSite=Strict"), "{header}");
    assert!(!header.contains("Secure"), "plain http: {header}");
    assert!(header.contains(&format!("Max-Age={}", lifetimes.clerk.absolute_minutes * 60)), "{header}");
    {
        use sqlx::Row;
        let mut conn = app.app.journal.read().await.expect("conn");
        let stored: Vec<String> = sqlx::query("SELECT id_sha256 FROM sessions")
            .fetch_all(&mut *conn)
            .await
            .expect("sessions")
            .iter()
            .map(|row| row.get("id_sha256"))
            .collect();
        assert_eq!(stored, vec![pos_config::token_sha256(&cookie)]);
    }
    assert_eq!(with_cookie(&app, reqwest::Method::GET, "/v1/me", &cookie).await, 200);

    // Sign-out ends it on the server: the same cookie replayed is refused.
    assert_eq!(with_cookie(&app, reqwest::Method::POST, "/v1/session/sign-out", &cookie).await, 200);
    assert_eq!(with_cookie(&app, reqwest::Method::GET, "/v1/me", &cookie).await, 401);

    // An administrator's revocation ends every session of the user at once.
    let (first, _) = sign_in(&app, "clerk-r0101").await;
    let (second, _) = sign_in(&app, "clerk-r0101").await;
    let (other, _) = sign_in(&app, "treasury").await;
    let revoked =
        app.post("/v1/users/clerk-r0101/sessions/revoke", &token("admin"), &key(), &serde_json::json!({})).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(revoked.json::<serde_json::Value>()["sessions_ended"], 2);
    assert_eq!(with_cookie(&app, reqwest::Method::GET, "/v1/me", &first).await, 401);
    assert_eq!(with_cookie(&app, reqwest::Method::GET, "/v1/me", &second).await, 401);
    assert_eq!(with_cookie(&app, reqwest::Method::GET, "/v1/me", &other).await, 200, "another user's session lives");
    let refused =
        app.post("/v1/users/clerk-r0101/sessions/revoke", &token("treasury"), &key(), &serde_json::json!({})).await;
    assert_eq!(refused.status, 403, "only an administrator revokes");

    // Idle expiry, per role: treasury's is short, a clerk's lasts longer.
    let (clerk, _) = sign_in(&app, "clerk-r0101").await;
    let (treasury, _) = sign_in(&app, "treasury").await;
    clock.set(start + chrono::Duration::minutes(i64::from(lifetimes.treasury.idle_minutes) + 1));
    assert_eq!(with_cookie(&app, reqwest::Method::GET, "/v1/me", &treasury).await, 401, "treasury idle");
    assert_eq!(with_cookie(&app, reqwest::Method::GET, "/v1/me", &clerk).await, 200, "the clerk's is live");
    // Used within its idle time, a clerk's session still ends at its absolute expiry.
    let mut at = start;
    let step = chrono::Duration::minutes(i64::from(lifetimes.clerk.idle_minutes) - 1);
    while at + step < start + chrono::Duration::minutes(i64::from(lifetimes.clerk.absolute_minutes)) {
        at += step;
        clock.set(at);
        assert_eq!(with_cookie(&app, reqwest::Method::GET, "/v1/me", &clerk).await, 200, "active at {at}");
    }
    clock.set(start + chrono::Duration::minutes(i64::from(lifetimes.clerk.absolute_minutes)));
    assert_eq!(with_cookie(&app, reqwest::Method::GET, "/v1/me", &clerk).await, 401, "absolute expiry");

    // A session opened with a token that is no longer the user's ends.
    let (changed, _) = sign_in(&app, "clerk-r0101").await;
    {
        let mut conn = app.app.journal.read().await.expect("conn");
        sqlx::query("UPDATE sessions SET token_sha256 = $1 WHERE id_sha256 = $2")
            .bind(pos_config::token_sha256("the-old-token"))
            .bind(pos_config::token_sha256(&changed))
            .execute(&mut *conn)
            .await
            .expect("the token changes");
    }
    assert_eq!(with_cookie(&app, reqwest::Method::GET, "/v1/me", &changed).await, 401, "token changed");
    app.stop().await;
}

/// A closed port: nothing listens there.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_database_connections_print_no_password() {
    let url = format!(
        "postgres://pos:{DATABASE_PASSWORD}@127.0.0.1:{}/pos?password={DATABASE_PASSWORD}",
        closed_port().await
    );
    // The reconciler's journal source, as treasury's reconciliation opens it.
    let error = reconciler::source::JournalSource::connect(&url).await.expect_err("nothing listens there");
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(DATABASE_PASSWORD), "{text}");
    }
    // The configuration's Debug.
    let mut config = offline_config();
    config.database.url = url.clone();
    let printed = format!("{:?}", config.database);
    assert!(!printed.contains(DATABASE_PASSWORD), "{printed}");

    // The gateway itself, failing to reach its journal: neither its logs nor its error print it.
    let dir = tempfile::tempdir().expect("temp dir");
    let text = std::fs::read_to_string(example_config_path()).expect("example config");
    let original = "url = \"sqlite://../../demo-data/journal.db\"";
    assert!(text.contains(original), "the example config's database URL changed");
    let config_path = dir.path().join("city.toml");
    std::fs::write(&config_path, text.replace(original, &format!("url = {url:?}"))).expect("write config");
    for command in
        [vec!["serve", "--listen", "127.0.0.1:0"], vec!["audit-verify"], vec!["--log-format", "json", "serve"]]
    {
        let output = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
                .args(&command)
                .arg("--config")
                .arg(&config_path)
                .env("RUST_LOG", "trace")
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("the gateway gives up within a minute")
        .expect("the gateway runs");
        assert!(!output.status.success(), "{command:?} cannot succeed without its journal");
        let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!printed.is_empty(), "{command:?} says why it failed");
        assert!(!printed.contains(DATABASE_PASSWORD), "{command:?} printed the password:\n{printed}");
    }
}

fn https_client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA"))
        .build()
        .expect("client")
}

async fn the_api_speaks_tls_with_a_secure_cookie_and_reloads_its_certificate_on_sighup(backend: Backend) {
    let pki = TestPki::new();
    let app = spawn_app_with(backend, Arc::new(pos_core::SystemClock), |config| {
        config.server.tls = Some(pos_config::ServerTls {
            cert_file: pki.dir().join("gateway.crt"),
            key_file: pki.dir().join("gateway.key"),
            client_ca_file: None,
        });
    })
    .await;
    let base = format!("https://localhost:{}", address_of(&app).port());
    let first = https_client(&pki.pki.ca_pem());
    let me = first.get(format!("{base}/v1/me")).bearer_auth(token("clerk-r0101")).send().await.expect("https");
    assert_eq!(me.status().as_u16(), 200);
    // Plain HTTP to the TLS listener gets no answer.
    let plain = reqwest::Client::new().get(format!("{}/healthz", app.base)).send().await;
    assert!(plain.is_err() || !plain.expect("answer").status().is_success());
    // Reached over https, the session cookie is Secure.
    let signed_in = first
        .post(format!("{base}/v1/session"))
        .json(&serde_json::json!({ "token": token("clerk-r0101") }))
        .send()
        .await
        .expect("sign-in");
    let cookie = signed_in.headers().get("set-cookie").expect("cookie").to_str().expect("ascii").to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");

    // A new certificate from another CA replaces the files; SIGHUP loads it for new connections.
    let renewed = pos_tls::DevPki::new("renewed CA").expect("CA");
    renewed.write_server(pki.dir(), "gateway", &["localhost", "127.0.0.1"]).expect("write");
    let second = https_client(&renewed.ca_pem());
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP).expect("SIGHUP");
    until("the renewed certificate is served", Duration::from_secs(10), || async {
        second.get(format!("{base}/healthz")).send().await.ok().filter(|r| r.status().is_success()).map(|_| ())
    })
    .await;
    // A connection opened before the reload keeps working on its handshake.
    let me = first.get(format!("{base}/v1/me")).bearer_auth(token("clerk-r0101")).send().await.expect("kept");
    assert_eq!(me.status().as_u16(), 200);
    // A new client that trusts only the old CA is refused the renewed certificate.
    let stale = https_client(&pki.pki.ca_pem()).get(format!("{base}/healthz")).send().await;
    assert!(stale.is_err(), "the old certificate is no longer served");
    app.stop().await;
}

/// The journal over TLS to PostgreSQL: `sslmode=require` encrypts (the server says so), and
/// `sslmode=verify-full` with a CA that did not sign the server's certificate is refused rather than
/// falling back to plain TCP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_reaches_postgresql_over_tls_and_verifies_its_certificate() {
    use sqlx::Row;
    let database = TestDatabase::new(Backend::Postgres).await;
    let mut config = database.database_config();
    config.url = format!("{}?sslmode=require", database.url);
    let journal = gateway::journal::Journal::connect(&config).await.expect("the journal over TLS");
    let mut conn = journal.read().await.expect("conn");
    let encrypted: bool = sqlx::query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .expect("pg_stat_ssl")
        .get("ssl");
    assert!(encrypted, "the connection is TLS");
    drop(conn);
    journal.close().await;

    let pki = TestPki::new();
    config.url = format!("{}?sslmode=verify-full&sslrootcert={}", database.url, pki.ca_path().display());
    let refused = gateway::journal::Journal::connect(&config).await;
    assert!(refused.is_err(), "a server certificate the CA did not sign is refused");
}
