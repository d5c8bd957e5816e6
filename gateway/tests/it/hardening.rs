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
);

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
    sqlx::query("SELECT action, remote, status, detail FROM audit_log WHERE user_name = '-' AND status IN (401, 429) ORDER BY seq")
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
    let audited_before = app.count("audit_log").await;
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
    let written = app.count("audit_log").await - audited_before;
    assert!(written < 40, "{written} audit records for 500 wrong tokens and a few clerk calls");
    app.stop().await;
}
