//! The QR connector over HTTPS: the provider (the simulator serving TLS with a certificate of the
//! development PKI) is trusted through the link's `ca_file`; a provider whose certificate another
//! CA signed is refused at the handshake, so nothing reaches it and the payment waits in doubt.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pos_config::{Backend, QrLink, Secret};
use pos_core::api::PaymentResult;
use pos_core::PaymentState;
use qr_sim::{QrSimConfig, QrSimHandle};
use serde_json::json;

use crate::qr::{CLERK, POLL_MS, REGISTER, REQUEST_TIMEOUT_MS, WAIT_MS};
use crate::support::{key, spawn_app_with, token, TestApp, TestPki};

on_both_backends!(a_qr_payment_goes_over_https_to_a_provider_of_the_trusted_ca, a_provider_of_another_ca_is_refused,);

/// The gateway with a QR link to an HTTPS simulator whose certificate `server` signs, trusting
/// the CA of `trusted`.
async fn https_rig(backend: Backend, server: &TestPki, trusted: &TestPki) -> (TestApp, QrSimHandle) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind qr-sim");
    let options = qr_sim::StartOptions { clock: Arc::new(pos_core::SystemClock), tls: Some(server.server_tls()) };
    let sim = qr_sim::start_with(listener, QrSimConfig::example(), options).await.expect("qr-sim starts");
    let base_url = format!("https://localhost:{}", sim.address().port());
    let ca_file = trusted.ca_path();
    let app = spawn_app_with(backend, Arc::new(pos_core::SystemClock), move |config| {
        let acquirer = config.acquirers.iter_mut().find(|a| a.id == "ACQ-QR").expect("ACQ-QR configured");
        let mut merchants = BTreeMap::new();
        merchants.insert(pos_core::FacilityId::parse("F01").expect("facility"), "M0001".to_string());
        acquirer.qr_link = Some(QrLink {
            base_url,
            api_key: "sample_key".to_string(),
            api_secret: Secret::new("sample_secret"),
            poll_interval_ms: POLL_MS,
            request_timeout_ms: REQUEST_TIMEOUT_MS,
            resolve_retry_ms: 200,
            resolve_tries_max: 20,
            customer_presented: true,
            ca_file: Some(ca_file),
            merchants,
        });
    })
    .await;
    (app, sim)
}

async fn start_payment(app: &TestApp) -> String {
    app.post("/v1/shifts", &token(CLERK), &key(), &json!({ "register_id": REGISTER, "opening_float": 0 }))
        .await
        .ok::<serde_json::Value>();
    let sale: pos_core::api::SaleView = app
        .post(
            "/v1/sales",
            &token(CLERK),
            &key(),
            &json!({ "register_id": REGISTER, "lines": [{ "fee_item": "JUMINHYO", "quantity": 1 }] }),
        )
        .await
        .ok();
    let result: PaymentResult = app
        .post(
            &format!("/v1/sales/{}/payments", sale.id),
            &token(CLERK),
            &key(),
            &json!({ "method": "qr", "brand": "PAYPAY" }),
        )
        .await
        .ok();
    result.payment.id
}

async fn wait_for(app: &TestApp, id: &str, done: impl Fn(&pos_core::api::PaymentView) -> bool) {
    app.payment_until(id, Duration::from_millis(WAIT_MS), done).await;
}

async fn a_qr_payment_goes_over_https_to_a_provider_of_the_trusted_ca(backend: Backend) {
    let pki = TestPki::new();
    let (app, sim) = https_rig(backend, &pki, &pki).await;
    let id = start_payment(&app).await;
    crate::support::until("the code to reach the provider over HTTPS", Duration::from_millis(WAIT_MS), || async {
        sim.payments().iter().any(|p| p.merchant_payment_id.as_str() == id).then_some(())
    })
    .await;
    sim.pay(&id).expect("the customer pays");
    wait_for(&app, &id, |p| p.state == PaymentState::Completed).await;
    assert!(sim.received().iter().all(|r| r.code.is_success()), "every request verified: {:?}", sim.received());
    app.stop().await;
    sim.shutdown().await;
}

async fn a_provider_of_another_ca_is_refused(backend: Backend) {
    let (provider, trusted) = (TestPki::new(), TestPki::new());
    let (app, sim) = https_rig(backend, &provider, &trusted).await;
    let id = start_payment(&app).await;
    // The handshake fails on every try: the code's fate is unknown to the gateway, so it waits in
    // doubt ("checking") rather than telling the clerk anything final.
    wait_for(&app, &id, |p| {
        p.state == PaymentState::InDoubt
            && p.note.as_deref().is_some_and(|n| n.contains("checking with the QR provider"))
    })
    .await;
    assert!(sim.received().is_empty(), "nothing reached the provider: {:?}", sim.received());
    assert!(sim.payments().is_empty());
    app.stop().await;
    sim.shutdown().await;
}
