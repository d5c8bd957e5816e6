//! QR payments end to end: the gateway's connector against the QR provider simulator over HTTP,
//! driven through the gateway's API; the customer pays through the simulator's handle.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use pos_config::Backend;
use pos_core::api::{PaymentResult, PaymentView, SaleView};
use pos_core::{Clock, PaymentState, SaleState};
use qr_protocol::PaymentStatus;
use qr_sim::{Endpoint, Fault, FaultPlan, QrSimHandle};
use serde_json::json;

use crate::support::{key, token, TestApp};

on_both_backends!(
    a_qr_payment_is_paid_and_the_display_shows_its_code,
    an_expired_code_cancels_the_payment,
    a_clerk_cancel_withdraws_the_code,
    paid_after_cancel_is_cancelled_at_the_provider,
    a_provider_5xx_puts_the_payment_in_doubt_and_it_is_resolved,
    a_create_timeout_is_resolved_by_withdrawing_at_the_provider,
    a_provider_paid_amount_other_than_asked_is_never_booked,
);

pub const CLERK: &str = "clerk-r0101";
pub const REGISTER: &str = "R0101";
/// Short intervals so the flows finish within a test.
pub const POLL_MS: u64 = 100;
pub const REQUEST_TIMEOUT_MS: u64 = 500;
/// The bound on waiting for any state.
pub const WAIT_MS: u64 = 15_000;

pub struct QrRig {
    pub app: TestApp,
    pub sim: QrSimHandle,
}

pub async fn qr_rig(backend: Backend, clock: Arc<dyn Clock>) -> QrRig {
    qr_rig_with(backend, clock, true).await
}

/// A rig whose provider takes scanned customer codes or not: the one rig with its QR provider,
/// the tests' short polls and timeouts.
pub async fn qr_rig_with(backend: Backend, clock: Arc<dyn Clock>, customer_presented: bool) -> QrRig {
    let qr = demo::rig::QrOptions {
        poll_interval_ms: POLL_MS,
        request_timeout_ms: REQUEST_TIMEOUT_MS,
        ..demo::rig::QrOptions::example(customer_presented)
    };
    let mut app =
        crate::support::spawn_rig(backend, clock, |_| {}, |options| demo::rig::RigOptions { qr: Some(qr), ..options })
            .await;
    let sim = app.rig.as_mut().and_then(|rig| rig.qr.take()).expect("the QR simulator");
    QrRig { app, sim }
}

impl QrRig {
    pub async fn start(&self) -> PaymentView {
        self.app
            .post("/v1/shifts", &token(CLERK), &key(), &json!({ "register_id": REGISTER, "opening_float": 0 }))
            .await
            .ok::<serde_json::Value>();
        let sale: SaleView = self
            .app
            .post(
                "/v1/sales",
                &token(CLERK),
                &key(),
                &json!({ "register_id": REGISTER, "lines": [{ "fee_item": "JUMINHYO", "quantity": 1 }] }),
            )
            .await
            .ok();
        let result: PaymentResult = self
            .app
            .post(
                &format!("/v1/sales/{}/payments", sale.id),
                &token(CLERK),
                &key(),
                &json!({ "method": "qr", "brand": "PAYPAY" }),
            )
            .await
            .ok();
        assert_eq!(result.payment.state, PaymentState::Authorizing);
        result.payment
    }

    /// Waits until the simulator holds the code of `payment` and the gateway has stored it.
    pub async fn code_shown(&self, payment: &str) -> qr_sim::PaymentRecord {
        crate::support::until(&format!("the code of {payment} to be shown"), Duration::from_millis(WAIT_MS), || async {
            let record = self.sim.payments().into_iter().find(|p| p.merchant_payment_id.as_str() == payment);
            let note = self.payment(payment).await.note.unwrap_or_default();
            record.filter(|_| note.starts_with("QR code shown"))
        })
        .await
    }

    pub async fn payment(&self, id: &str) -> PaymentView {
        self.app.get(&format!("/v1/payments/{id}"), &token("treasury")).await.ok()
    }

    pub async fn wait_for(&self, id: &str, state: PaymentState) -> PaymentView {
        crate::support::until(&format!("payment {id} to become {state}"), Duration::from_millis(WAIT_MS), || async {
            Some(self.payment(id).await).filter(|payment| payment.state == state)
        })
        .await
    }

    pub fn sim_status(&self, id: &str) -> PaymentStatus {
        self.sim
            .payments()
            .into_iter()
            .find(|p| p.merchant_payment_id.as_str() == id)
            .map(|p| p.status)
            .expect("the simulator knows the payment")
    }

    pub async fn cancel(&self, id: &str) -> PaymentView {
        self.app.post(&format!("/v1/payments/{id}/cancel"), &token(CLERK), &key(), &json!({})).await.ok()
    }

    pub async fn events_of(&self, id: &str, kind: &str) -> i64 {
        use sqlx::Row;
        let mut conn = self.app.app.journal.read().await.expect("conn");
        sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM events WHERE entity_id = $1 AND kind = $2")
            .bind(id)
            .bind(kind)
            .fetch_one(&mut *conn)
            .await
            .expect("count")
            .get::<i64, _>("n")
    }

    pub async fn stop(self) {
        self.app.stop().await;
        self.sim.shutdown().await;
    }
}

/// The dark modules of the display's SVG, shifted back by the quiet zone.
fn svg_modules(html: &str) -> HashSet<(usize, usize)> {
    let mut modules = HashSet::new();
    for rect in html.split("<rect x=\"").skip(1) {
        let mut parts = rect.split('"');
        let x: usize = parts.next().and_then(|x| x.parse().ok()).expect("x");
        let y: usize = parts.nth(1).and_then(|y| y.parse().ok()).expect("y");
        modules.insert((x - 4, y - 4));
    }
    modules
}

async fn a_qr_payment_is_paid_and_the_display_shows_its_code(backend: Backend) {
    let rig = qr_rig(backend, Arc::new(pos_core::SystemClock)).await;
    let payment = rig.start().await;
    let record = rig.code_shown(&payment.id).await;
    let url = format!(
        "{}/{}",
        rig.sim.config().payment_url_base,
        match &record.flow {
            qr_sim::Flow::MerchantPresented { code_id } => code_id.clone(),
            other => panic!("unexpected flow {other:?}"),
        }
    );

    let page = rig.app.get(&format!("/v1/registers/{REGISTER}/display"), &token(CLERK)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("<svg") && page.text.contains("300"), "{}", page.text);
    let expected = qrcode::QrCode::new(url.as_bytes()).expect("qr");
    let width = expected.width();
    let dark: HashSet<(usize, usize)> = expected
        .to_colors()
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == qrcode::Color::Dark)
        .map(|(i, _)| (i % width, i / width))
        .collect();
    assert_eq!(svg_modules(&page.text), dark, "the displayed QR code encodes the simulator's code URL {url}");
    let other_clerk = rig.app.get(&format!("/v1/registers/{REGISTER}/display"), &token("clerk-r0201")).await;
    assert_eq!(other_clerk.status, 403);
    assert_eq!(rig.app.get(&format!("/v1/registers/{REGISTER}/display"), "wrong").await.status, 401);

    rig.sim.pay(&payment.id).expect("the customer pays");
    let paid = rig.wait_for(&payment.id, PaymentState::Completed).await;
    assert_eq!(paid.brand, Some(pos_core::Brand::PayPay));
    let sale: SaleView = rig.app.get(&format!("/v1/sales/{}", payment.sale_id), &token(CLERK)).await.ok();
    assert_eq!(sale.state, SaleState::Paid);
    let page = rig.app.get(&format!("/v1/registers/{REGISTER}/display"), &token("admin")).await;
    assert!(page.text.contains("Paid"), "{}", page.text);
    rig.stop().await;
}

async fn an_expired_code_cancels_the_payment(backend: Backend) {
    let clock = Arc::new(pos_core::time::ManualClock::new(chrono::Utc::now()));
    let rig = qr_rig(backend, clock.clone()).await;
    let payment = rig.start().await;
    rig.code_shown(&payment.id).await;
    clock.set(chrono::Utc::now() + chrono::Duration::seconds(301));
    let expired = rig.wait_for(&payment.id, PaymentState::Cancelled).await;
    assert!(expired.note.as_deref().is_some_and(|n| n.contains("expired")), "{:?}", expired.note);
    assert_eq!(rig.sim_status(&payment.id), PaymentStatus::Expired);
    rig.stop().await;
}

async fn a_clerk_cancel_withdraws_the_code(backend: Backend) {
    let rig = qr_rig(backend, Arc::new(pos_core::SystemClock)).await;
    let payment = rig.start().await;
    rig.code_shown(&payment.id).await;
    let asked = rig.cancel(&payment.id).await;
    assert_eq!(asked.state, PaymentState::InDoubt, "checking until the provider has been asked");
    let cancelled = rig.wait_for(&payment.id, PaymentState::Cancelled).await;
    assert!(cancelled.note.as_deref().is_some_and(|n| n.contains("nothing was charged")), "{:?}", cancelled.note);
    assert!(!rig.sim_status(&payment.id).is_paid());
    assert!(rig.sim.pay(&payment.id).is_err(), "a withdrawn code cannot be paid");
    rig.stop().await;
}

async fn paid_after_cancel_is_cancelled_at_the_provider(backend: Backend) {
    let rig = qr_rig(backend, Arc::new(pos_core::SystemClock)).await;
    let payment = rig.start().await;
    rig.code_shown(&payment.id).await;
    rig.sim.set_faults(vec![FaultPlan::new(Endpoint::DeleteCode, Fault::PaidAfterCancel, 1)]);
    rig.cancel(&payment.id).await;
    let reversed = rig.wait_for(&payment.id, PaymentState::Reversed).await;
    assert!(
        reversed.note.as_deref().is_some_and(|n| n.contains("cancelled at the QR provider")),
        "{:?}",
        reversed.note
    );
    assert_eq!(rig.sim_status(&payment.id), PaymentStatus::Failed, "the provider cancelled the paid payment");
    let sale: SaleView = rig.app.get(&format!("/v1/sales/{}", payment.sale_id), &token(CLERK)).await.ok();
    assert_eq!(sale.state, SaleState::Open, "nothing was booked");
    rig.stop().await;
}

async fn a_provider_5xx_puts_the_payment_in_doubt_and_it_is_resolved(backend: Backend) {
    let rig = qr_rig(backend, Arc::new(pos_core::SystemClock)).await;
    let payment = rig.start().await;
    rig.code_shown(&payment.id).await;
    rig.sim.set_faults(vec![FaultPlan::new(
        Endpoint::GetCodePayment,
        Fault::ServerError { status: 500, processed: false },
        1,
    )]);
    rig.sim.pay(&payment.id).expect("the customer pays");
    let paid = rig.wait_for(&payment.id, PaymentState::Completed).await;
    assert_eq!(paid.amount.get(), 300);
    assert_eq!(rig.events_of(&payment.id, "payment.in_doubt").await, 1, "the 5xx put it in doubt first");
    let sale: SaleView = rig.app.get(&format!("/v1/sales/{}", payment.sale_id), &token(CLERK)).await.ok();
    assert_eq!(sale.state, SaleState::Paid);
    rig.stop().await;
}

async fn a_create_timeout_is_resolved_by_withdrawing_at_the_provider(backend: Backend) {
    let rig = qr_rig(backend, Arc::new(pos_core::SystemClock)).await;
    rig.sim.set_faults(vec![FaultPlan::new(Endpoint::CreateCode, Fault::Delay { ms: REQUEST_TIMEOUT_MS * 3 }, 1)]);
    let payment = rig.start().await;
    let failed = rig.wait_for(&payment.id, PaymentState::Failed).await;
    assert!(failed.note.as_deref().is_some_and(|n| n.contains("withdrawn at the QR provider")), "{:?}", failed.note);
    assert_eq!(rig.events_of(&payment.id, "payment.in_doubt").await, 1);
    let status = rig.sim_status(&payment.id);
    assert!(matches!(status, PaymentStatus::Failed | PaymentStatus::Canceled), "still payable: {status}");
    assert!(rig.sim.pay(&payment.id).is_err(), "the code can no longer be paid");
    rig.stop().await;
}

async fn a_provider_paid_amount_other_than_asked_is_never_booked(backend: Backend) {
    let rig = qr_rig(backend, Arc::new(pos_core::SystemClock)).await;
    let payment = rig.start().await;
    rig.code_shown(&payment.id).await;
    // Every answer about the payment from now on names 100 yen more than was asked.
    rig.sim.set_faults(vec![
        FaultPlan::new(Endpoint::GetCodePayment, Fault::MisreportAmount { yen: 100 }, 10_000),
        FaultPlan::new(Endpoint::GetPayment, Fault::MisreportAmount { yen: 100 }, 10_000),
    ]);
    rig.sim.pay(&payment.id).expect("the customer pays");
    let disputed = rig.wait_for(&payment.id, PaymentState::InDoubt).await;
    let note = disputed.note.unwrap_or_default();
    assert!(note.contains("400") && note.contains("300"), "the clerk is told what differs: {note}");
    assert_eq!(rig.events_of(&payment.id, "payment.disputed").await, 1);
    let exceptions: pos_core::api::ExceptionList =
        rig.app.get("/v1/treasury/exceptions?kind=qr_amount_mismatch", &token("treasury")).await.ok();
    assert_eq!(exceptions.exceptions.len(), 1);
    assert_eq!(exceptions.exceptions[0].amount_at_stake.get(), 400);
    // The resolver leaves it to treasury, however often it runs.
    for _ in 0..3 {
        gateway::payments::qr::resolve(&rig.app.app, &payment.id).await.expect("resolver runs");
    }
    assert_eq!(rig.payment(&payment.id).await.state, PaymentState::InDoubt);
    let sale: SaleView = rig.app.get(&format!("/v1/sales/{}", payment.sale_id), &token(CLERK)).await.ok();
    assert_eq!(sale.state, SaleState::Open, "nothing was booked into the sale");
    rig.stop().await;
}
