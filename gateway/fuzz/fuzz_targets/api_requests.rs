//! The HTTP API's request bodies and query strings, through the real router (authentication,
//! idempotency, extractors, handlers) on a SQLite journal in memory (`/dev/shm`) of the example city: no input
//! may panic the gateway or be answered 500 — malformed input is the client's error (4xx), never
//! the server's.
//!
//! Input: the first byte picks the route (and caller), the bytes up to the first newline are the
//! query string (percent-encoded as a client would), the rest the body.

#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

/// `(method, path, user)`; `{sale}`, `{payment}` and `{shift}` are ids made when the target starts.
const ROUTES: [(&str, &str, &str); 24] = [
    ("POST", "/v1/shifts", "clerk-r0101"),
    ("POST", "/v1/sales", "clerk-r0101"),
    ("POST", "/v1/sales/{sale}/payments", "clerk-r0101"),
    ("POST", "/v1/sales/{sale}/void", "clerk-r0101"),
    ("POST", "/v1/payments/{payment}/refunds", "treasury"),
    ("POST", "/v1/payments/{payment}/refunds", "clerk-r0101"),
    ("POST", "/v1/payments/{payment}/refund-requests", "clerk-r0101"),
    ("POST", "/v1/payments/{payment}/approval-codes", "treasury"),
    ("POST", "/v1/payments/{payment}/cancel", "clerk-r0101"),
    ("POST", "/v1/payments/{payment}/resolve", "treasury"),
    ("POST", "/v1/shifts/{shift}/close", "clerk-r0101"),
    ("POST", "/v1/session", "clerk-r0101"),
    ("POST", "/v1/registers/R0101/commands", "clerk-r0101"),
    ("POST", "/v1/treasury/days/2026-12-08/reconcile", "treasury"),
    ("POST", "/v1/treasury/days/2026-12-08/facilities/F01/close", "treasury"),
    ("GET", "/v1/sales", "treasury"),
    ("GET", "/v1/payments", "treasury"),
    ("GET", "/v1/shifts", "treasury"),
    ("GET", "/v1/treasury/exceptions", "treasury"),
    ("GET", "/v1/refund-requests", "treasury"),
    ("GET", "/v1/analytics/revenue", "treasury"),
    ("GET", "/v1/exports/tidy", "treasury"),
    ("GET", "/v1/reports/monthly", "treasury"),
    ("GET", "/v1/treasury/days/2026-12-08", "treasury"),
];

struct Target {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    sale: String,
    payment: String,
    shift: String,
}

fn call(target: &Target, method: &str, uri: &str, user: &str, key: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("Authorization", format!("Bearer demo-{user}"))
        .header("Idempotency-Key", key)
        .header("Content-Type", "application/json")
        .body(Body::from(body))
        .expect("a request of a valid URI");
    target.runtime.block_on(async {
        let response = target.router.clone().oneshot(request).await.expect("the router answers");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("the body reads");
        (status, bytes.to_vec())
    })
}

fn id_of(answer: &(StatusCode, Vec<u8>), pointer: &str) -> String {
    let value: serde_json::Value = serde_json::from_slice(&answer.1).expect("a JSON answer");
    value.pointer(pointer).and_then(|v| v.as_str()).unwrap_or_else(|| panic!("{pointer} in {value}")).to_string()
}

fn start() -> Target {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/examples/city.toml");
    let mut config = pos_config::load(std::path::Path::new(path)).expect("the example city");
    for acquirer in &mut config.acquirers {
        acquirer.link = None;
        acquirer.qr_link = None;
    }
    config.terminal_host = None;
    config.database = pos_config::Database {
        url: format!("sqlite:///dev/shm/pos-fuzz-api-{}.db", std::process::id()),
        backend: pos_config::Backend::Sqlite,
        connections_max: 4,
    };
    let app = runtime
        .block_on(gateway::AppState::start(config, std::sync::Arc::new(pos_core::SystemClock)))
        .expect("the gateway starts on an in-memory journal");
    let mut target = Target {
        runtime,
        router: gateway::api::router(app),
        sale: String::new(),
        payment: String::new(),
        shift: String::new(),
    };
    let json = |value: serde_json::Value| value.to_string().into_bytes();
    let shift = call(
        &target,
        "POST",
        "/v1/shifts",
        "clerk-r0101",
        "setup-1",
        json(serde_json::json!({ "register_id": "R0101", "opening_float": 10000 })),
    );
    target.shift = id_of(&shift, "/id");
    let lines = serde_json::json!({ "register_id": "R0101", "lines": [{ "fee_item": "JUMINHYO", "quantity": 1 }] });
    let paid = call(&target, "POST", "/v1/sales", "clerk-r0101", "setup-2", json(lines.clone()));
    let paid_sale = id_of(&paid, "/id");
    let payment = call(
        &target,
        "POST",
        &format!("/v1/sales/{paid_sale}/payments"),
        "clerk-r0101",
        "setup-3",
        json(serde_json::json!({ "method": "cash", "tendered": 1000 })),
    );
    target.payment = id_of(&payment, "/payment/id");
    let open = call(&target, "POST", "/v1/sales", "clerk-r0101", "setup-4", json(lines));
    target.sale = id_of(&open, "/id");
    target
}

static TARGET: OnceLock<Target> = OnceLock::new();
static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A query string as a client would send the bytes: `&` and `=` kept, everything else outside
/// the unreserved set percent-encoded.
fn query_of(bytes: &[u8]) -> String {
    let mut query = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~&=".contains(&b) {
            query.push(char::from(b));
        } else {
            query.push_str(&format!("%{b:02X}"));
        }
    }
    query
}

fuzz_target!(|data: &[u8]| {
    let target = TARGET.get_or_init(start);
    let Some((&selector, rest)) = data.split_first() else { return };
    let (method, template, user) = ROUTES[usize::from(selector) % ROUTES.len()];
    let (query, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (&[][..], rest),
    };
    let path = template
        .replace("{sale}", &target.sale)
        .replace("{payment}", &target.payment)
        .replace("{shift}", &target.shift);
    let uri = if query.is_empty() { path } else { format!("{path}?{}", query_of(query)) };
    let key = format!("fuzz-{}", CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let (status, answer) = call(target, method, &uri, user, &key, body.to_vec());
    assert!(
        status != StatusCode::INTERNAL_SERVER_ERROR,
        "{method} {uri} with {:?} answered 500: {}",
        String::from_utf8_lossy(body),
        String::from_utf8_lossy(&answer)
    );
});
