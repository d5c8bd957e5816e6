//! A crash with QR payments pending: SIGKILL the real `gateway` binary while codes wait at the
//! provider — some paid just before the kill, one whose create is still out, others paid while
//! the gateway is down, others never paid — restart it on the same journal and check that each
//! payment is resolved (completed, or cancelled at the provider) and that the simulator's ledger
//! agrees with the journal payment by payment. The simulator runs in the test process, so it
//! outlives the gateway as a real provider would.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use pos_config::Backend;
use pos_core::api::{PaymentResult, PaymentView, SaleView};
use pos_core::PaymentState;
use qr_protocol::PaymentStatus;
use qr_sim::{Endpoint, Fault, FaultPlan, QrSimConfig, QrSimHandle};
use serde_json::json;

use crate::crash::{post, start_gateway_with};
use crate::support::{key, token, until, write_config, TestDatabase, TestPki};

const CLERK: &str = "clerk-r0101";
const REGISTER: &str = "R0101";
/// QR payments started before the kill (the last one's create is held at the provider).
const PAYMENTS: usize = 7;
/// Slow polling, so payments made just before the kill are not yet seen by the gateway.
const POLL_INTERVAL_MS: u64 = 3_000;
const REQUEST_TIMEOUT_MS: u64 = 1_000;
/// How long the provider holds the create that is out when the gateway dies.
const CREATE_HELD_MS: u64 = 20_000;
/// Codes expire soon, so the never-paid ones end within the test.
const CODE_EXPIRY_SECONDS: u32 = 12;
/// The bound on every wait.
const WAIT_MS_MAX: u64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_qr_payments_pending_resolves_each_one_on_sqlite() {
    sigkill_with_qr_payments_pending(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_qr_payments_pending_resolves_each_one_on_postgres() {
    sigkill_with_qr_payments_pending(Backend::Postgres).await;
}

/// Adds a `qr_link` for `base_url` to the QR provider of the configuration at `path`.
pub fn add_qr_link(path: &Path, base_url: &str, poll_interval_ms: u64, request_timeout_ms: u64) {
    let text = std::fs::read_to_string(path).expect("config");
    let anchor = "id = \"ACQ-QR\"";
    let at = text.find(anchor).expect("the example configuration has the QR provider ACQ-QR");
    let insert_at = at + text[at..].find("[[acquirers.fees]]").expect("ACQ-QR has fees");
    let link = format!(
        "[acquirers.qr_link]\nbase_url = \"{base_url}\"\napi_key = \"sample_key\"\napi_secret = \"sample_secret\"\n\
         poll_interval_ms = {poll_interval_ms}\nrequest_timeout_ms = {request_timeout_ms}\nresolve_retry_ms = 300\n\
         resolve_tries_max = 50\n\n[acquirers.qr_link.merchants]\nF01 = \"M0001\"\n\n"
    );
    let text = format!("{}{link}{}", &text[..insert_at], &text[insert_at..]);
    std::fs::write(path, text).expect("write config");
}

async fn get<T: serde::de::DeserializeOwned>(http: &reqwest::Client, url: String) -> T {
    let response = http.get(&url).bearer_auth(token("treasury")).send().await.expect("request");
    assert!(response.status().is_success(), "{url}: {}", response.status());
    response.json().await.expect("json")
}

async fn start_payment(http: &reqwest::Client, base: &str) -> PaymentView {
    let sale_body = json!({ "register_id": REGISTER, "lines": [{ "fee_item": "JUMINHYO", "quantity": 1 }] });
    let (status, text) = post(http, format!("{base}/v1/sales"), CLERK, &key(), &sale_body).await.expect("sale");
    assert_eq!(status, 201, "{text}");
    let sale: SaleView = serde_json::from_str(&text).expect("sale");
    let (status, text) = post(
        http,
        format!("{base}/v1/sales/{}/payments", sale.id),
        CLERK,
        &key(),
        &json!({ "method": "qr", "brand": "PAYPAY" }),
    )
    .await
    .expect("payment");
    assert_eq!(status, 201, "{text}");
    let result: PaymentResult = serde_json::from_str(&text).expect("payment");
    assert_eq!(result.payment.state, PaymentState::Authorizing);
    result.payment
}

fn sim_record(sim: &QrSimHandle, id: &str) -> Option<qr_sim::PaymentRecord> {
    sim.payments().into_iter().find(|p| p.merchant_payment_id.as_str() == id)
}

/// Waits until the gateway shows the code of `id` (it has stored the provider's answer).
async fn wait_code_shown(http: &reqwest::Client, base: &str, id: &str) {
    until(&format!("the code of {id} shown"), Duration::from_millis(WAIT_MS_MAX), || async {
        let payment: PaymentView = get(http, format!("{base}/v1/payments/{id}")).await;
        payment.note.as_deref().is_some_and(|n| n.starts_with("QR code shown")).then_some(())
    })
    .await;
}

async fn sigkill_with_qr_payments_pending(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let pki = TestPki::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind qr-sim");
    let sim_config = QrSimConfig { code_expiry_seconds: CODE_EXPIRY_SECONDS, ..QrSimConfig::example() };
    let sim = qr_sim::start(listener, sim_config).await.expect("qr-sim starts");
    let config_dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(config_dir.path(), &pki, &["127.0.0.1:9".to_string()], &["127.0.0.1:9".to_string()]);
    add_qr_link(&config, &sim.base_url(), POLL_INTERVAL_MS, REQUEST_TIMEOUT_MS);
    let mut gateway = start_gateway_with(&config, &database).await;
    let http = reqwest::Client::builder().timeout(Duration::from_millis(WAIT_MS_MAX)).build().expect("client");
    let (status, text) = post(
        &http,
        format!("{}/v1/shifts", gateway.base),
        CLERK,
        &key(),
        &json!({ "register_id": REGISTER, "opening_float": 0 }),
    )
    .await
    .expect("open shift");
    assert_eq!(status, 201, "{text}");

    let mut payments = Vec::new();
    for _ in 0..PAYMENTS - 1 {
        let payment = start_payment(&http, &gateway.base).await;
        wait_code_shown(&http, &gateway.base, &payment.id).await;
        payments.push(payment);
    }
    // The last create reaches the provider, which makes the code and holds the answer.
    sim.set_faults(vec![FaultPlan::new(Endpoint::CreateCode, Fault::Delay { ms: CREATE_HELD_MS }, 1)]);
    let held = start_payment(&http, &gateway.base).await;
    until("the held create to reach the provider", Duration::from_millis(WAIT_MS_MAX), || async {
        sim_record(&sim, &held.id).map(|_| ())
    })
    .await;
    // Two customers pay just before the kill; with the slow poll the gateway has not seen it.
    let paid_before = [payments[0].id.clone(), payments[1].id.clone()];
    for id in &paid_before {
        sim.pay(id).expect("the customer pays before the kill");
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(gateway.child.id().expect("running")).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
    gateway.child.wait().await.expect("reaped");

    // While the gateway is down, two more pay (the code on the display is still valid).
    let paid_while_down = [payments[2].id.clone(), payments[3].id.clone()];
    for id in &paid_while_down {
        sim.pay(id).expect("the customer pays while the gateway is down");
    }
    let gateway = start_gateway_with(&config, &database).await;
    // A clerk gives up on one never-paid payment after the restart; the others expire unpaid.
    let cancelled_by_clerk = payments[4].id.clone();
    let (status, text) =
        post(&http, format!("{}/v1/payments/{cancelled_by_clerk}/cancel", gateway.base), CLERK, &key(), &json!({}))
            .await
            .expect("cancel");
    assert_eq!(status, 200, "{text}");
    payments.push(held.clone());

    let finals: BTreeMap<String, PaymentView> =
        until("every payment resolved after the restart", Duration::from_millis(WAIT_MS_MAX), || async {
            let mut views = BTreeMap::new();
            for payment in &payments {
                let view: PaymentView = get(&http, format!("{}/v1/payments/{}", gateway.base, payment.id)).await;
                views.insert(payment.id.clone(), view);
            }
            views.values().all(|v| !v.state.is_pending()).then_some(views)
        })
        .await;

    // Payment by payment: completed in the journal exactly when paid at the provider, with the
    // provider's payment id; everything else is no longer payable there.
    for (id, view) in &finals {
        let record = sim_record(&sim, id).unwrap_or_else(|| panic!("the provider knows {id}"));
        if view.state == PaymentState::Completed {
            assert_eq!(record.status, PaymentStatus::Completed, "{id} completed in the journal");
            assert_eq!(view.rrn, record.payment_id, "{id}: the journal holds the provider's payment id");
            assert_eq!(view.amount, record.amount);
        } else {
            assert!(
                matches!(view.state, PaymentState::Cancelled | PaymentState::Failed | PaymentState::Reversed),
                "{id} ended {}",
                view.state
            );
            assert!(
                !record.status.is_paid(),
                "{id} is {} in the journal but {} at the provider",
                view.state,
                record.status
            );
            assert!(sim.pay(id).is_err(), "{id} can no longer be paid");
        }
    }
    for id in paid_before.iter().chain(&paid_while_down) {
        assert_eq!(finals[id].state, PaymentState::Completed, "{id} was paid and must be completed");
    }
    assert_eq!(finals[&cancelled_by_clerk].state, PaymentState::Cancelled);
    assert!(
        matches!(finals[&held.id].state, PaymentState::Failed | PaymentState::Cancelled),
        "the create held at the kill is withdrawn: {:?}",
        finals[&held.id]
    );
    let sales: Vec<SaleView> = {
        let mut sales = Vec::new();
        for view in finals.values() {
            sales.push(get(&http, format!("{}/v1/sales/{}", gateway.base, view.sale_id)).await);
        }
        sales
    };
    for (sale, view) in sales.iter().zip(finals.values()) {
        let paid = sale.payments.iter().filter(|p| p.state == PaymentState::Completed).count();
        assert_eq!(
            paid,
            usize::from(view.state == PaymentState::Completed),
            "sale {} paid once or not at all",
            sale.id
        );
    }
    let journal_total: i64 =
        finals.values().filter(|v| v.state == PaymentState::Completed).map(|v| v.amount.get()).sum();
    let provider_total: i64 = sim.payments().iter().filter(|p| p.status.is_paid()).map(|p| p.amount.get()).sum();
    assert_eq!(journal_total, provider_total, "the provider holds exactly the money the journal completed");
    drop(gateway);
    sim.shutdown().await;
}
