//! Customer-presented QR payments: the counter scans the customer's barcode and the gateway
//! charges it at the provider (`POST /v2/payments`). Paid, declined, an answer lost → in doubt →
//! resolved by inquiry, and bad codes refused before anything is journaled. The code itself is
//! never kept: only its first and last four digits.

use std::sync::Arc;

use pos_config::Backend;
use pos_core::api::{PaymentResult, PaymentView, SaleView};
use pos_core::{PaymentState, SaleState};
use qr_protocol::PaymentStatus;
use qr_sim::{Endpoint, Fault, FaultPlan};
use serde_json::json;

use crate::qr::{qr_rig, qr_rig_with, QrRig, CLERK, REGISTER, REQUEST_TIMEOUT_MS};
use crate::support::{key, token, Reply};

on_both_backends!(
    a_scanned_customer_code_is_charged_and_kept_only_masked,
    a_declined_customer_code_fails_the_payment,
    a_lost_answer_to_a_charge_is_resolved_by_inquiry,
    bad_customer_codes_are_refused_and_nothing_is_journaled,
);

/// A code the simulator charges; one starting `99` it declines as expired.
const GOOD_CODE: &str = "281234567890123456";
const EXPIRED_CODE: &str = "991234567890123456";
/// What may never be found at rest: the code's middle digits.
const GOOD_CODE_MIDDLE: &str = "4567890123";

async fn open_sale(rig: &QrRig) -> SaleView {
    // The register's shift: opened by the first sale of a test, already open for the next.
    let shift = rig
        .app
        .post("/v1/shifts", &token(CLERK), &key(), &json!({ "register_id": REGISTER, "opening_float": 0 }))
        .await;
    assert!(shift.status == 201 || shift.status == 409, "{}", shift.text);
    rig.app
        .post(
            "/v1/sales",
            &token(CLERK),
            &key(),
            &json!({ "register_id": REGISTER, "lines": [{ "fee_item": "JUMINHYO", "quantity": 1 }] }),
        )
        .await
        .ok()
}

async fn scan(rig: &QrRig, sale: &SaleView, body: serde_json::Value) -> Reply {
    rig.app.post(&format!("/v1/sales/{}/payments", sale.id), &token(CLERK), &key(), &body).await
}

async fn charge(rig: &QrRig, code: &str) -> PaymentView {
    let sale = open_sale(rig).await;
    let result: PaymentResult =
        scan(rig, &sale, json!({ "method": "qr", "brand": "PAYPAY", "customer_code": code })).await.ok();
    assert_eq!(result.payment.state, PaymentState::Authorizing);
    result.payment
}

/// Rows of the journal's text columns that contain `needle`.
async fn journal_mentions(rig: &QrRig, needle: &str) -> i64 {
    use sqlx::Row;
    rig.app.app.journal.flush_audit().await.expect("audit records written");
    let mut conn = rig.app.app.journal.read().await.expect("conn");
    let mut found = 0;
    for query in [
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM payments WHERE masked_card LIKE $1 OR note LIKE $1",
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM events WHERE data LIKE $1",
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM idempotency_keys WHERE response LIKE $1",
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM audit_log WHERE target LIKE $1 OR outcome LIKE $1",
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM audit_record WHERE target LIKE $1 OR detail LIKE $1",
    ] {
        let row = sqlx::query(query).bind(format!("%{needle}%")).fetch_one(&mut *conn).await.expect("count");
        found += row.get::<i64, _>("n");
    }
    found
}

async fn a_scanned_customer_code_is_charged_and_kept_only_masked(backend: Backend) {
    let rig = qr_rig(backend, Arc::new(pos_core::SystemClock)).await;
    let payment = charge(&rig, GOOD_CODE).await;
    assert_eq!(payment.masked_card.as_deref(), Some("2812**********3456"));
    let paid = rig.wait_for(&payment.id, PaymentState::Completed).await;
    let record = rig.sim.payments().into_iter().find(|p| p.merchant_payment_id.as_str() == payment.id).expect("known");
    assert_eq!(record.flow, qr_sim::Flow::CustomerPresented { user_code: GOOD_CODE.to_string() });
    assert_eq!(record.status, PaymentStatus::Completed);
    assert_eq!(paid.rrn, record.payment_id, "the provider's payment id is journaled");
    let sale: SaleView = rig.app.get(&format!("/v1/sales/{}", payment.sale_id), &token(CLERK)).await.ok();
    assert_eq!(sale.state, SaleState::Paid);
    assert_eq!(journal_mentions(&rig, GOOD_CODE_MIDDLE).await, 0, "the full code is not at rest");
    assert_eq!(
        journal_mentions(&rig, "2812**********3456").await,
        3,
        "only the masked code (payment, its event, answer)"
    );
    rig.stop().await;
}

async fn a_declined_customer_code_fails_the_payment(backend: Backend) {
    let rig = qr_rig(backend, Arc::new(pos_core::SystemClock)).await;
    let payment = charge(&rig, EXPIRED_CODE).await;
    let failed = rig.wait_for(&payment.id, PaymentState::Failed).await;
    let note = failed.note.unwrap_or_default();
    assert!(note.contains("declined") && note.contains("INVALID_USER_CODE"), "{note}");
    let sale: SaleView = rig.app.get(&format!("/v1/sales/{}", payment.sale_id), &token(CLERK)).await.ok();
    assert_eq!(sale.state, SaleState::Open, "nothing was booked: the clerk takes another method");
    assert_eq!(rig.sim_status(&payment.id), PaymentStatus::Failed);
    rig.stop().await;
}

async fn a_lost_answer_to_a_charge_is_resolved_by_inquiry(backend: Backend) {
    let rig = qr_rig(backend, Arc::new(pos_core::SystemClock)).await;
    // The provider charges the code but answers after the connector has given up.
    rig.sim.set_faults(vec![FaultPlan::new(Endpoint::CreatePayment, Fault::Delay { ms: REQUEST_TIMEOUT_MS * 3 }, 1)]);
    let payment = charge(&rig, GOOD_CODE).await;
    let paid = rig.wait_for(&payment.id, PaymentState::Completed).await;
    assert_eq!(rig.events_of(&payment.id, "payment.in_doubt").await, 1, "the lost answer put it in doubt first");
    assert_eq!(rig.sim_status(&payment.id), PaymentStatus::Completed);
    assert_eq!(paid.amount.get(), 300);
    // A charge that never reached the provider: in doubt, then failed and cancelled there.
    rig.sim.set_faults(vec![FaultPlan::new(
        Endpoint::CreatePayment,
        Fault::ServerError { status: 503, processed: false },
        1,
    )]);
    let lost = charge(&rig, GOOD_CODE).await;
    let failed = rig.wait_for(&lost.id, PaymentState::Failed).await;
    assert!(failed.note.as_deref().is_some_and(|n| n.contains("never reached")), "{:?}", failed.note);
    assert!(!rig.sim.payments().iter().any(|p| p.merchant_payment_id.as_str() == lost.id && p.status.is_paid()));
    rig.stop().await;
}

async fn bad_customer_codes_are_refused_and_nothing_is_journaled(backend: Backend) {
    let rig = qr_rig_with(backend, Arc::new(pos_core::SystemClock), false).await;
    let sale = open_sale(&rig).await;
    let before = rig.app.journal_counts().await;
    let qr = |code: &str| json!({ "method": "qr", "brand": "PAYPAY", "customer_code": code });
    for (body, code) in [
        (qr("12345678901"), "invalid_customer_code"),
        (qr(&"1".repeat(25)), "invalid_customer_code"),
        (qr("28123456789012345x"), "invalid_customer_code"),
        (qr(" 281234567890123456"), "invalid_customer_code"),
        (json!({ "method": "cash", "tendered": 1000, "customer_code": GOOD_CODE }), "customer_code_not_allowed"),
        // A well-formed code, but this provider does not take scanned codes.
        (qr(GOOD_CODE), "customer_presented_unsupported"),
    ] {
        let reply = scan(&rig, &sale, body.clone()).await;
        let (error, message, field) = reply.error(422);
        assert_eq!((error.as_str(), field.as_deref()), (code, Some("customer_code")), "{body}: {message}");
        assert!(!message.contains("2812345678"), "the error does not repeat the code: {message}");
    }
    assert_eq!(rig.app.journal_counts().await, before, "nothing was journaled");
    assert!(rig.sim.payments().is_empty(), "nothing reached the provider");
    rig.stop().await;
}
