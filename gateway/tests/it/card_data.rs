//! No card data at rest: after card and e-money payments — approved, declined, timed out and
//! reversed, refunded — the journal's files, the gateway's log (at debug level) and every answer
//! it gave hold no full card number, no track data and no chip (field 55) data.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use acquirer_sim::{Centre, Fault, FaultPlan, MessageKind};
use pos_config::Backend;
use pos_core::api::{PaymentResult, SaleView};
use serde_json::json;

use crate::crash::start_gateway_logging;
use crate::support::{key, token, write_config, TestDatabase, TestPki};
use crate::switch_rig::{purchase, simulator, TEST_ICC, TEST_PAN, TEST_TRACK_2};

/// What must never be found: the PAN, track 2's discretionary data, the chip data.
fn forbidden() -> Vec<(String, Vec<u8>)> {
    let icc_hex: String = TEST_ICC.iter().map(|b| format!("{b:02X}")).collect();
    let discretionary = TEST_TRACK_2.split_once('=').map(|(_, rest)| rest.to_string()).expect("track 2");
    vec![
        ("the PAN".to_string(), TEST_PAN.as_bytes().to_vec()),
        ("track 2 data".to_string(), discretionary.as_bytes().to_vec()),
        ("chip data (hex)".to_string(), icc_hex.as_bytes().to_vec()),
        ("chip data (hex, lower case)".to_string(), icc_hex.to_lowercase().as_bytes().to_vec()),
        ("chip data (bytes)".to_string(), TEST_ICC.to_vec()),
    ]
}

fn assert_clean(what: &str, bytes: &[u8]) {
    for (name, needle) in forbidden() {
        let found = bytes.windows(needle.len()).any(|window| window == needle.as_slice());
        assert!(!found, "{what} contains {name}");
    }
}

async fn post(
    http: &reqwest::Client,
    url: String,
    user: &str,
    body: &serde_json::Value,
    answers: &Mutex<Vec<u8>>,
) -> String {
    let response = http
        .post(url)
        .bearer_auth(token(user))
        .header("Idempotency-Key", key())
        .json(body)
        .send()
        .await
        .expect("request");
    let text = response.text().await.expect("body");
    answers.lock().expect("answers").extend_from_slice(text.as_bytes());
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_card_data_in_the_journal_the_log_or_any_answer() {
    let database = TestDatabase::new(Backend::Sqlite).await;
    let pki = TestPki::new();
    let base_config = crate::support::offline_config();
    let card = simulator(&pki, Centre::Card, &base_config, 10).await;
    let emoney = simulator(&pki, Centre::Emoney, &base_config, 20).await;
    let config_dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(config_dir.path(), &pki, &[card.address().to_string()], &[emoney.address().to_string()]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut gateway = start_gateway_logging(&config, &database, "debug", Some(log.clone())).await;
    let http = demo::rig::http_client();
    let answers = Mutex::new(Vec::new());
    let base = gateway.base.clone();
    post(
        &http,
        format!("{base}/v1/shifts"),
        "clerk-r2901",
        &json!({ "register_id": "R2901", "opening_float": 0 }),
        &answers,
    )
    .await;

    let terminal = pki.terminals(&gateway.terminal_host);
    // Approved, declined (magic 9,051), and one whose answer never comes (reversed).
    card.set_faults(vec![FaultPlan { fault: Fault::NoAnswer, applies_to: MessageKind::Purchase, times: Some(1) }]);
    let mut approved_payment = None;
    for (stan, amount, expected) in [(1u32, 1_200i64, "91"), (2, 1_300, "00"), (3, 9_051, "51")] {
        let sale: SaleView = serde_json::from_str(&post(&http, format!("{base}/v1/sales"), "clerk-r2901", &json!({ "register_id": "R2901", "lines": [{ "fee_item": "PARKING", "quantity": 1, "amount": amount }] }), &answers).await).expect("sale");
        let started: PaymentResult = serde_json::from_str(
            &post(
                &http,
                format!("{base}/v1/sales/{}/payments", sale.id),
                "clerk-r2901",
                &json!({ "method": "card" }),
                &answers,
            )
            .await,
        )
        .expect("payment");
        let answer = terminal
            .request(&purchase("10012901", stan, amount, pos_core::Brand::Visa), Duration::from_secs(15))
            .await
            .expect("answer");
        assert_eq!(answer.text(iso8583::fields::RESPONSE_CODE), Some(expected));
        answers.lock().expect("answers").extend_from_slice(format!("{answer:?} {answer}").as_bytes());
        if expected == "00" {
            approved_payment = Some(started.payment.id);
        } else if expected == "51" {
            // Leave the declined sale paid in cash so the shift can close.
            post(
                &http,
                format!("{base}/v1/sales/{}/payments", sale.id),
                "clerk-r2901",
                &json!({ "method": "cash", "tendered": 10_000 }),
                &answers,
            )
            .await;
        }
    }
    let approved_payment = approved_payment.expect("an approved payment");
    // A clerk's refund, approved by treasury's one-time code.
    let code: pos_core::api::ApprovalCodeView = serde_json::from_str(
        &post(
            &http,
            format!("{base}/v1/payments/{approved_payment}/approval-codes"),
            "treasury",
            &json!({ "amount": 300 }),
            &answers,
        )
        .await,
    )
    .expect("approval code");
    let refund = json!({ "amount": 300, "method": "original", "reason": "overcharged", "approval_code": code.code });
    let refund_answer =
        post(&http, format!("{base}/v1/payments/{approved_payment}/refunds"), "clerk-r2901", &refund, &answers).await;
    assert!(refund_answer.contains("\"state\":\"authorizing\""), "{refund_answer}");
    // Let the reversal and the refund finish, then read everything back as treasury would.
    let get_text = |path: String| {
        let request = http.get(format!("{base}{path}")).bearer_auth(token("treasury"));
        async move { request.send().await.expect("request").text().await.expect("body") }
    };
    crate::support::until("the reversal and the refund to finish", Duration::from_secs(20), || async {
        let in_doubt = get_text("/v1/payments?state=in_doubt".to_string()).await;
        let refunded = get_text(format!("/v1/payments/{approved_payment}")).await;
        (in_doubt.contains("\"payments\":[]") && refunded.contains("partially_refunded")).then_some(())
    })
    .await;
    for path in ["/v1/payments", "/v1/sales", "/v1/shifts", "/metrics", "/v1/audit/verify"] {
        let text = http
            .get(format!("{base}{path}"))
            .bearer_auth(token("admin"))
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("body");
        answers.lock().expect("answers").extend_from_slice(text.as_bytes());
    }
    terminal.shutdown();

    // Stop the gateway the way systemd does, so its log is complete.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(gateway.child.id().expect("running")).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    tokio::time::timeout(Duration::from_secs(20), gateway.child.wait()).await.expect("stops").expect("reaped");

    let log = log.lock().expect("log").clone();
    assert!(log.len() > 1_000, "the debug log was captured ({} bytes)", log.len());
    assert!(String::from_utf8_lossy(&log).contains("411111******1111"), "the log shows card numbers masked");
    assert_clean("the gateway's log", &log);
    // A payment's lines name it: the terminal's authorization and the register's request alike.
    let text = String::from_utf8_lossy(&log);
    let payment_field = format!("payment_id={approved_payment}");
    assert!(
        text.lines().any(|l| l.contains("terminal_message{")
            && l.contains(&payment_field)
            && l.contains("authorization answered")),
        "the authorization's log line carries its payment id"
    );
    assert!(
        text.lines().any(|l| l.contains("request{") && l.contains(&payment_field) && l.contains("request served")),
        "the register's request that started the payment names it in its span"
    );
    assert_clean("the gateway's answers", &answers.lock().expect("answers"));
    let journal_dir = database
        .url
        .trim_start_matches("sqlite://")
        .rsplit_once('/')
        .map(|(dir, _)| dir.to_string())
        .expect("journal folder");
    let mut files = 0;
    for entry in std::fs::read_dir(&journal_dir).expect("journal folder") {
        let path = entry.expect("entry").path();
        assert_clean(&format!("journal file {}", path.display()), &std::fs::read(&path).expect("read journal file"));
        files += 1;
    }
    assert!(files >= 1);
    card.shutdown().await;
    emoney.shutdown().await;
}

/// A customer's payment code as the counter's scanner reads it (PayPay's are 18 digits).
const CUSTOMER_CODE: &str = "281234567890123456";
/// The digits between the first and last four: never at rest, never in a log.
const CUSTOMER_CODE_MIDDLE: &str = "3456789012";

/// Adds a QR provider link for facility F01 (merchant `M0001`) to a configuration file written
/// by [`write_config`], taking scanned customer codes.
fn link_qr_provider(config: &std::path::Path, base_url: &str) {
    let text = std::fs::read_to_string(config).expect("config");
    let anchor = "receivable_account = \"90-02-01-03\"    # 未収金 QRコード決済\n";
    assert!(text.contains(anchor), "the example configuration's QR acquirer moved");
    let link = format!(
        "\n[acquirers.qr_link]\nbase_url = \"{base_url}\"\napi_key = \"sample_key\"\napi_secret = \"sample_secret\"\npoll_interval_ms = 100\nrequest_timeout_ms = 2000\nresolve_retry_ms = 200\nresolve_tries_max = 20\ncustomer_presented = true\n\n[acquirers.qr_link.merchants]\nF01 = \"M0001\"\n"
    );
    std::fs::write(config, text.replace(anchor, &format!("{anchor}{link}"))).expect("write config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanned_customer_code_is_nowhere_at_rest_nor_in_the_log() {
    let database = TestDatabase::new(Backend::Sqlite).await;
    let pki = TestPki::new();
    let base_config = crate::support::offline_config();
    let card = simulator(&pki, Centre::Card, &base_config, 10).await;
    let emoney = simulator(&pki, Centre::Emoney, &base_config, 20).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind qr-sim");
    let qr = qr_sim::start_with(
        listener,
        qr_sim::QrSimConfig::example(),
        qr_sim::StartOptions { clock: Arc::new(pos_core::SystemClock), tls: None },
    )
    .await
    .expect("qr-sim starts");
    let config_dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(config_dir.path(), &pki, &[card.address().to_string()], &[emoney.address().to_string()]);
    link_qr_provider(&config, &qr.base_url());
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut gateway = start_gateway_logging(&config, &database, "debug", Some(log.clone())).await;
    let http = demo::rig::http_client();
    let answers = Mutex::new(Vec::new());
    let base = gateway.base.clone();
    post(
        &http,
        format!("{base}/v1/shifts"),
        "clerk-r0101",
        &json!({ "register_id": "R0101", "opening_float": 0 }),
        &answers,
    )
    .await;
    let sale: SaleView = serde_json::from_str(
        &post(
            &http,
            format!("{base}/v1/sales"),
            "clerk-r0101",
            &json!({ "register_id": "R0101", "lines": [{ "fee_item": "JUMINHYO", "quantity": 1 }] }),
            &answers,
        )
        .await,
    )
    .expect("sale");
    // The register's counter device pays the sale with the scanned code, as counterd does.
    let body = json!({ "method": "qr", "brand": "PAYPAY", "customer_code": CUSTOMER_CODE });
    let started: PaymentResult = serde_json::from_str(
        &post(&http, format!("{base}/v1/sales/{}/payments", sale.id), "counter-r0101", &body, &answers).await,
    )
    .expect("payment");
    assert_eq!(started.payment.masked_card.as_deref(), Some("2812**********3456"));
    crate::support::until("the scanned code's payment completes", Duration::from_secs(20), || async {
        let text = http
            .get(format!("{base}/v1/payments/{}", started.payment.id))
            .bearer_auth(token("treasury"))
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("body");
        answers.lock().expect("answers").extend_from_slice(text.as_bytes());
        text.contains("\"state\":\"completed\"").then_some(())
    })
    .await;
    assert_eq!(qr.payments().len(), 1, "the provider was charged once, with the full code");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(gateway.child.id().expect("running")).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    tokio::time::timeout(Duration::from_secs(20), gateway.child.wait()).await.expect("stops").expect("reaped");

    let log = log.lock().expect("log").clone();
    assert!(log.len() > 1_000, "the debug log was captured ({} bytes)", log.len());
    let journal_dir =
        database.url.trim_start_matches("sqlite://").rsplit_once('/').map(|(dir, _)| dir.to_string()).expect("folder");
    let mut places: Vec<(String, Vec<u8>)> = vec![
        ("the gateway's log".to_string(), log),
        ("the gateway's answers".to_string(), answers.lock().expect("answers").clone()),
    ];
    for entry in std::fs::read_dir(&journal_dir).expect("journal folder") {
        let path = entry.expect("entry").path();
        places.push((format!("journal file {}", path.display()), std::fs::read(&path).expect("read")));
    }
    assert!(places.len() >= 3, "the journal's files were read");
    for (what, bytes) in places {
        for needle in [CUSTOMER_CODE, CUSTOMER_CODE_MIDDLE] {
            let found = bytes.windows(needle.len()).any(|window| window == needle.as_bytes());
            assert!(!found, "{what} holds the customer's code ({needle})");
        }
    }
    qr.shutdown().await;
    card.shutdown().await;
    emoney.shutdown().await;
}
