//! Voids and refunds of QR payments through the connector: a voided QR sale is refunded in full
//! at the provider, a clerk's partial refund goes through the provider under the brand's rules,
//! a provider's refusal changes nothing, and a refund whose answer is lost is resolved by inquiry.

use std::sync::Arc;
use std::time::Duration;

use pos_config::Backend;
use pos_core::api::{PaymentView, RefundView, SaleView};
use pos_core::{PaymentState, SaleState};
use qr_protocol::PaymentStatus;
use qr_sim::{Endpoint, Fault, FaultPlan};
use serde_json::json;

use crate::qr::{qr_rig, QrRig, CLERK, REQUEST_TIMEOUT_MS, WAIT_MS};
use crate::support::{key, token};

on_both_backends!(
    voiding_a_qr_sale_refunds_it_in_full_at_the_provider,
    a_partial_qr_refund_goes_through_the_provider,
    a_refund_the_provider_refuses_changes_nothing,
    a_refund_whose_answer_is_lost_is_resolved_by_inquiry,
);

/// A QR payment the customer has paid.
async fn paid(rig: &QrRig) -> PaymentView {
    let payment = rig.start().await;
    rig.code_shown(&payment.id).await;
    rig.sim.pay(&payment.id).expect("the customer pays");
    rig.wait_for(&payment.id, PaymentState::Completed).await
}

async fn refund(rig: &QrRig, payment: &str, amount: i64) -> RefundView {
    let reply = rig
        .app
        .post_approved(
            &format!("/v1/payments/{payment}/refunds"),
            &token(CLERK),
            &key(),
            &json!({ "amount": amount, "method": "original", "reason": "申請取り下げ" }),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let view: RefundView = reply.json();
    assert_eq!(view.state, pos_core::RefundState::Authorizing);
    view
}

/// The refund's state in the journal, once it leaves `authorizing`/`in_doubt`.
async fn refund_outcome(rig: &QrRig, refund_id: &str) -> String {
    crate::support::until(&format!("refund {refund_id} to end"), Duration::from_millis(WAIT_MS), || async {
        let mut conn = rig.app.app.journal.read().await.expect("conn");
        let refund = gateway::journal::refunds::load(&mut conn, refund_id, "").await.expect("load").expect("refund");
        (!refund.view.state.is_open()).then(|| refund.view.state.code().to_string())
    })
    .await
}

fn sim_refunds_of(rig: &QrRig, payment: &str) -> Vec<qr_sim::RefundRecord> {
    rig.sim.refunds().into_iter().filter(|r| r.merchant_payment_id.as_str() == payment).collect()
}

async fn voiding_a_qr_sale_refunds_it_in_full_at_the_provider(backend: Backend) {
    let rig = qr_rig(backend, Arc::new(pos_core::SystemClock)).await;
    let payment = paid(&rig).await;
    let reply = rig
        .app
        .post(&format!("/v1/sales/{}/void", payment.sale_id), &token(CLERK), &key(), &json!({ "reason": "打ち間違い" }))
        .await;
    let sale: SaleView = reply.ok();
    assert_eq!(sale.state, SaleState::Voided);
    let voided = rig.wait_for(&payment.id, PaymentState::Voided).await;
    assert!(voided.note.as_deref().is_some_and(|n| n.contains("refunded in full")), "{:?}", voided.note);
    let refunds = sim_refunds_of(&rig, &payment.id);
    assert_eq!(refunds.len(), 1, "one refund at the provider: {refunds:?}");
    assert_eq!(refunds[0].amount, payment.amount);
    assert_eq!(refunds[0].merchant_refund_id.as_str().get(..4), Some("ref_"), "our refund id is the merchantRefundId");
    assert_eq!(rig.sim_status(&payment.id), PaymentStatus::Refunded);
    assert_eq!(rig.events_of(&payment.id, "payment.voided").await, 1);
    rig.stop().await;
}

async fn a_partial_qr_refund_goes_through_the_provider(backend: Backend) {
    let rig = qr_rig(backend, Arc::new(pos_core::SystemClock)).await;
    let payment = paid(&rig).await;
    let first = refund(&rig, &payment.id, 100).await;
    assert_eq!(refund_outcome(&rig, &first.id).await, "approved");
    let partly = rig.wait_for(&payment.id, PaymentState::PartiallyRefunded).await;
    assert_eq!(partly.refunded.get(), 100);
    // The rest, then nothing more: the gateway refuses before the provider is asked.
    let rest = refund(&rig, &payment.id, 200).await;
    assert_eq!(refund_outcome(&rig, &rest.id).await, "approved");
    let refunded = rig.wait_for(&payment.id, PaymentState::Refunded).await;
    assert_eq!(refunded.refunded, payment.amount);
    let amounts: Vec<i64> = sim_refunds_of(&rig, &payment.id).iter().map(|r| r.amount.get()).collect();
    assert_eq!(amounts, vec![100, 200]);
    assert_eq!(rig.sim_status(&payment.id), PaymentStatus::Refunded);
    let more = rig
        .app
        .post_approved(
            &format!("/v1/payments/{}/refunds", payment.id),
            &token(CLERK),
            &key(),
            &json!({ "amount": 1, "method": "original", "reason": "more" }),
        )
        .await;
    more.error(409);
    rig.stop().await;
}

async fn a_refund_the_provider_refuses_changes_nothing(backend: Backend) {
    let rig = qr_rig(backend, Arc::new(pos_core::SystemClock)).await;
    let payment = paid(&rig).await;
    rig.sim.set_faults(vec![FaultPlan::new(Endpoint::CreateRefund, Fault::Refuse, 1)]);
    let refused = refund(&rig, &payment.id, 100).await;
    assert_eq!(refund_outcome(&rig, &refused.id).await, "declined");
    let unchanged = rig.payment(&payment.id).await;
    assert_eq!(unchanged.state, PaymentState::Completed);
    assert_eq!(unchanged.refunded.get(), 0);
    assert!(sim_refunds_of(&rig, &payment.id).is_empty());
    assert_eq!(rig.sim_status(&payment.id), PaymentStatus::Completed);
    // Refused is final: a new refund may be asked and goes through.
    let again = refund(&rig, &payment.id, 100).await;
    assert_eq!(refund_outcome(&rig, &again.id).await, "approved");
    assert_eq!(rig.wait_for(&payment.id, PaymentState::PartiallyRefunded).await.refunded.get(), 100);
    rig.stop().await;
}

async fn a_refund_whose_answer_is_lost_is_resolved_by_inquiry(backend: Backend) {
    let rig = qr_rig(backend, Arc::new(pos_core::SystemClock)).await;
    let payment = paid(&rig).await;
    // The provider makes the refund but answers after the connector has given up.
    rig.sim.set_faults(vec![FaultPlan::new(Endpoint::CreateRefund, Fault::Delay { ms: REQUEST_TIMEOUT_MS * 3 }, 1)]);
    let lost = refund(&rig, &payment.id, payment.amount.get()).await;
    assert_eq!(refund_outcome(&rig, &lost.id).await, "approved");
    let refunded = rig.wait_for(&payment.id, PaymentState::Refunded).await;
    assert_eq!(refunded.refunded, payment.amount);
    assert_eq!(rig.events_of(&lost.id, "refund.in_doubt").await, 1, "the lost answer put it in doubt first");
    assert_eq!(sim_refunds_of(&rig, &payment.id).len(), 1, "refunded once at the provider");
    rig.stop().await;
}
