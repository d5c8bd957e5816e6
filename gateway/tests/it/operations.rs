//! What operators and their tools see: liveness and readiness probes, the metrics role, request
//! ids on answers, in the audit log and in JSON logs.

use std::sync::Arc;

use pos_config::{Backend, QrLink, Secret};
use serde_json::Value;

use crate::support::*;

on_both_backends!(
    probes_answer_without_credentials_and_leave_no_audit_record,
    readiness_detail_is_for_monitoring_roles_only,
    links_down_degrade_and_a_journal_without_its_migrations_is_unready,
    the_metrics_role_reads_metrics_and_no_business,
    request_ids_are_echoed_and_kept_in_the_audit_record,
    the_openapi_document_and_its_page_are_served_to_anyone,
    the_gauges_the_alerts_use_are_exported,
);

async fn get_with(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = app.http.get(format!("{}{path}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)), headers)
}

async fn probes_answer_without_credentials_and_leave_no_audit_record(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = app.count("audit_record").await;
    let (status, body, _) = get_with(&app, "/healthz", None).await;
    assert_eq!((status, body), (200, serde_json::json!({ "status": "alive" })));
    let (status, body, _) = get_with(&app, "/readyz", None).await;
    // The verdict alone: no version, no links, no schema for an anonymous caller.
    assert_eq!((status, body), (200, serde_json::json!({ "status": "ready" })));
    assert_eq!(app.count("audit_record").await, before, "anonymous probes are not audited");
    app.stop().await;
}

async fn readiness_detail_is_for_monitoring_roles_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = app.count("audit_record").await;
    for user in ["prometheus", "admin", "treasury"] {
        let (status, body, _) = get_with(&app, "/readyz", Some(&token(user))).await;
        assert_eq!(status, 200, "{user}: {body}");
        assert_eq!(body["status"], "ready", "{body}");
        assert_eq!(body["version"], pos_build_info::VERSION);
        let journal = &body["journal"];
        assert_eq!(journal["reachable"], true, "{body}");
        assert_eq!(journal["schema"]["missing"], serde_json::json!([]), "{body}");
        assert_eq!(journal["schema"]["newer"], serde_json::json!([]), "{body}");
        assert_eq!(journal["schema"]["applied_latest"], journal["schema"]["known_latest"], "{body}");
        assert!(journal["schema"]["known_latest"].as_i64().unwrap() >= 7, "{body}");
    }
    let (status, _, _) = get_with(&app, "/readyz", Some(&token("clerk-r0101"))).await;
    assert_eq!(status, 403);
    let (status, _, _) = get_with(&app, "/readyz", Some("not-a-token")).await;
    assert_eq!(status, 401);
    // A probe with credentials is a call like any other: four records; the wrong token is gathered
    // into its source's aggregated record of refused authentication (`api::throttle`).
    assert_eq!(app.count("audit_record").await, before + 4);
    app.stop().await;
}

/// A port on which nothing listens.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address").port()
}

async fn links_down_degrade_and_a_journal_without_its_migrations_is_unready(backend: Backend) {
    let pki = TestPki::new();
    let (card_port, qr_port) = (closed_port().await, closed_port().await);
    let ca = pki.ca_path();
    let app = spawn_app_with(backend, Arc::new(pos_core::SystemClock), move |config| {
        for acquirer in &mut config.acquirers {
            match acquirer.id.as_str() {
                "ACQ-CARD" => {
                    acquirer.link = Some(crate::switch_rig::link(&ca, 10001, vec![format!("127.0.0.1:{card_port}")]));
                }
                "ACQ-QR" => {
                    acquirer.qr_link = Some(QrLink {
                        base_url: format!("http://127.0.0.1:{qr_port}"),
                        api_key: "sample_key".to_string(),
                        api_secret: Secret::new("sample_secret"),
                        poll_interval_ms: 1_000,
                        request_timeout_ms: 1_000,
                        resolve_retry_ms: 1_000,
                        resolve_tries_max: 1,
                        customer_presented: false,
                        ca_file: None,
                        merchants: Default::default(),
                    });
                }
                _ => {}
            }
        }
    })
    .await;
    let (status, body, _) = get_with(&app, "/readyz", None).await;
    assert_eq!((status, body), (200, serde_json::json!({ "status": "degraded" })));
    let (_, body, _) = get_with(&app, "/readyz", Some(&token("prometheus"))).await;
    assert_eq!(body["status"], "degraded");
    assert_eq!(
        body["acquirer_links"],
        serde_json::json!([{ "acquirer": "ACQ-CARD", "connected": false, "endpoint": null }])
    );
    let qr = &body["qr_links"][0];
    assert_eq!((qr["acquirer"].as_str(), qr["reachable"].as_bool()), (Some("ACQ-QR"), Some(false)), "{body}");
    assert!(qr["problem"].as_str().unwrap().contains(&format!("127.0.0.1:{qr_port}")), "{body}");

    // The journal loses its newest migration (as if restored from before it): nothing may be
    // served, and the balancer is told so.
    let latest = body["journal"]["schema"]["known_latest"].as_i64().unwrap();
    let mut conn = app.app.journal.read().await.expect("connection");
    sqlx::query(&format!("DELETE FROM _sqlx_migrations WHERE version = {latest}"))
        .execute(&mut *conn)
        .await
        .expect("forget a migration");
    drop(conn);
    let (status, body, _) = get_with(&app, "/readyz", None).await;
    assert_eq!((status, body), (503, serde_json::json!({ "status": "unready" })));
    let (status, body, _) = get_with(&app, "/readyz", Some(&token("prometheus"))).await;
    assert_eq!(status, 503);
    assert_eq!(body["journal"]["schema"]["missing"], serde_json::json!([latest]), "{body}");
    assert!(body["journal"]["problem"].as_str().unwrap().contains("lacks migrations"), "{body}");
    app.stop().await;
}

async fn the_metrics_role_reads_metrics_and_no_business(backend: Backend) {
    let app = spawn_app(backend).await;
    let monitoring = token("prometheus");
    let metrics = app.get("/metrics", &monitoring).await;
    assert_eq!(metrics.status, 200, "{}", metrics.text);
    assert!(metrics.text.contains("http_requests_total"), "{}", metrics.text);
    let me: Value = app.get("/v1/me", &monitoring).await.ok();
    assert_eq!((me["role"].as_str(), me["facilities"].as_array().map(Vec::len)), (Some("metrics"), Some(0)));
    let facilities: Value = app.get("/v1/facilities", &monitoring).await.ok();
    assert_eq!(facilities["facilities"].as_array().map(Vec::len), Some(0), "{facilities}");
    app.get("/v1/audit/verify", &monitoring).await.error(403);
    app.get("/v1/treasury/exceptions", &monitoring).await.error(403);
    let sign_in = app
        .send_raw(
            reqwest::Method::POST,
            "/v1/session",
            None,
            None,
            Some(serde_json::json!({ "token": monitoring }).to_string()),
        )
        .await;
    sign_in.error(403);
    app.stop().await;
}

async fn last_audit_request_id(app: &TestApp) -> Option<String> {
    use sqlx::Row;
    app.app.journal.flush_audit().await.expect("audit records written");
    let mut conn = app.app.journal.read().await.expect("connection");
    sqlx::query("SELECT request_id FROM audit_record WHERE kind = 'request' ORDER BY seq DESC LIMIT 1")
        .fetch_one(&mut *conn)
        .await
        .expect("last record")
        .get::<Option<String>, _>("request_id")
}

async fn request_ids_are_echoed_and_kept_in_the_audit_record(backend: Backend) {
    let app = spawn_app(backend).await;
    let call = |id: Option<&'static str>| {
        let mut request = app.http.get(format!("{}/v1/me", app.base)).bearer_auth(token("treasury"));
        if let Some(id) = id {
            request = request.header("X-Request-Id", id);
        }
        async move {
            let response = request.send().await.expect("request");
            assert_eq!(response.status(), 200);
            response.headers().get("x-request-id").expect("echoed").to_str().expect("ascii").to_string()
        }
    };
    assert_eq!(call(Some("clerk-complaint.2026-11-24_0001")).await, "clerk-complaint.2026-11-24_0001");
    assert_eq!(last_audit_request_id(&app).await.as_deref(), Some("clerk-complaint.2026-11-24_0001"));
    // A header that could forge a log line is replaced by an id of the gateway's own.
    for sent in [None, Some("two words"), Some("a/b;c=d")] {
        let made = call(sent).await;
        assert!(made.len() == 32 && made.bytes().all(|b| b.is_ascii_hexdigit()), "{made}");
        assert_eq!(last_audit_request_id(&app).await, Some(made));
    }
    // A refusal carries its id too, and the chain with ids in it verifies.
    let refused = app.http.get(format!("{}/v1/me", app.base)).header("X-Request-Id", "refused-1").send().await.unwrap();
    assert_eq!((refused.status().as_u16(), refused.headers()["x-request-id"].to_str().unwrap()), (401, "refused-1"));
    assert_eq!(last_audit_request_id(&app).await.as_deref(), Some("refused-1"));
    let verification: Value = app.get("/v1/audit/verify", &token("admin")).await.ok();
    assert_eq!(verification["problem"], Value::Null, "{verification}");
    app.stop().await;
}

/// `gateway serve --log-format json` writes one JSON object a line, and a request's lines carry
/// its id in their span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_request_id() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = TestPki::new();
    let config = write_config(dir.path(), &pki, &["127.0.0.1:1".to_string()], &["127.0.0.1:1".to_string()]);
    let database = TestDatabase::new(Backend::Sqlite).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["serve", "--log-format", "json", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("POS_DATABASE_URL", &database.url)
        .env("RUST_LOG", "gateway=debug,warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("gateway starts");
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(30), stdout.next_line())
        .await
        .expect("address in time")
        .expect("read")
        .expect("a line");
    let address = first.strip_prefix("listening on ").expect("address line").to_string();
    let response = demo::rig::http_client()
        .get(format!("http://{address}/v1/me"))
        .bearer_auth(token("admin"))
        .header("X-Request-Id", "json-log-test-1")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let served = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await.expect("read") {
            let object: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if object["fields"]["message"] == "request served" && object["span"]["request_id"] == "json-log-test-1" {
                return object;
            }
        }
        panic!("the gateway stopped logging before the request's line");
    })
    .await
    .expect("the request's log line in time");
    assert_eq!(served["fields"]["status"], 200, "{served}");
    assert_eq!(served["span"]["route"], "/v1/me", "{served}");
    child.kill().await.expect("stop");
}

async fn the_openapi_document_and_its_page_are_served_to_anyone(backend: Backend) {
    let app = spawn_app(backend).await;
    let document = app.send_raw(reqwest::Method::GET, "/v1/openapi.json", None, None, None).await;
    assert_eq!(document.status, 200, "{}", document.text);
    let served: Value = document.json();
    assert_eq!(served, serde_json::to_value(gateway::api::openapi::document()).expect("serialises"));
    assert_eq!(served["openapi"], "3.1.0");
    assert!(served["paths"]["/v1/sales/{id}/payments"]["post"].is_object(), "{served}");
    let page = app.send_raw(reqwest::Method::GET, "/v1/docs", None, None, None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("/v1/openapi.json"), "{}", page.text);
    // Inside the municipal network nothing outside the gateway can be loaded.
    for external in ["http://", "https://", "//cdn", "<link"] {
        assert!(!page.text.contains(external), "the docs page refers to {external}");
    }
    app.stop().await;
}

/// Every metric the alert rules of `deploy/prometheus/alerts.yml` read is one the gateway exports;
/// the sampled ones show the state they sample (the rules' thresholds are crossed in their promtool
/// tests, `deploy/prometheus/alerts.test.yml`).
async fn the_gauges_the_alerts_use_are_exported(backend: Backend) {
    let pki = TestPki::new();
    let card_port = closed_port().await;
    let ca = pki.ca_path();
    let app = spawn_app_with(backend, Arc::new(pos_core::SystemClock), move |config| {
        for acquirer in config.acquirers.iter_mut().filter(|a| a.id == "ACQ-CARD") {
            acquirer.link = Some(crate::switch_rig::link(&ca, 10001, vec![format!("127.0.0.1:{card_port}")]));
        }
    })
    .await;
    let health = serde_json::json!({ "terminal": "ready", "printer": "absent", "scanner": "absent", "detail": "" });
    let posted = app.post("/v1/devices/R0101/health", &token("counter-r0101"), &key(), &health).await;
    assert_eq!(posted.status, 204, "{}", posted.text);

    let ca_file = pki.ca_path().display().to_string();
    let expected = [
        "acquirer_link_up{acquirer=\"ACQ-CARD\"} 0".to_string(),
        "payments_in_doubt 0".to_string(),
        "payments_in_doubt_oldest_age_seconds 0".to_string(),
        "reversals_in_journal{state=\"gave_up\"} 0".to_string(),
        "audit_chain_intact 1".to_string(),
        "audit_chain_verified_timestamp_seconds".to_string(),
        format!("tls_certificate_expiry_timestamp_seconds{{file=\"{ca_file}\",subject=\"CN=test CA\"}}"),
        "counter_last_seen_timestamp_seconds{facility=\"F01\",register=\"R0101\"}".to_string(),
        "device_ready{facility=\"F01\",register=\"R0101\",device=\"terminal\"} 1".to_string(),
    ];
    let exported = demo::rig::within("every gauge the alerts use", std::time::Duration::from_secs(30), || async {
        let metrics = app.get("/metrics", &token("prometheus")).await.text;
        Ok(expected.iter().all(|line| metrics.contains(line.as_str())).then_some(()))
    })
    .await;
    if let Err(error) = exported {
        let metrics = app.get("/metrics", &token("prometheus")).await.text;
        let missing: Vec<&String> = expected.iter().filter(|line| !metrics.contains(line.as_str())).collect();
        panic!("{error}: not exported: {missing:?}\n{metrics}");
    }

    // And every metric an alert rule reads is one of these or a counter the request paths keep.
    let rules = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/prometheus/alerts.yml"))
        .expect("alert rules");
    let sources: String = rust_sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
        .iter()
        .map(|path| std::fs::read_to_string(path).expect("source"))
        .collect();
    for line in rules.lines().filter(|l| l.trim_start().starts_with("expr:") || l.starts_with("          ")) {
        for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            let metric = word.trim_end_matches("_bucket");
            let ours = ["_total", "_seconds", "_up", "_intact", "_ready", "payments_in_doubt", "reversals_in_journal"];
            if ours.iter().any(|suffix| metric.ends_with(suffix) || metric == *suffix) && metric.contains('_') {
                assert!(
                    sources.contains(&format!("\"{metric}\"")) || metric == "up",
                    "alerts.yml reads {metric}, which the gateway does not export"
                );
            }
        }
    }
    app.stop().await;
}

/// Every `.rs` file under `dir`, at any depth.
fn rust_sources(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("source folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            found.extend(rust_sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}
