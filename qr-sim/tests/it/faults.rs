//! Each injected fault, observed from the client's side.

use std::time::{Duration, Instant};

use qr_sim::{Endpoint, Fault, FaultPlan};

use crate::rig::{assert_error_body, code, Rig};

#[tokio::test]
async fn delay_answers_late_but_normally() {
    let rig = Rig::start().await;
    rig.handle.set_faults(vec![FaultPlan::new(Endpoint::CreateCode, Fault::Delay { ms: 300 }, 1)]);
    let started = Instant::now();
    let (status, _) = rig.create_code("PAY-1", 300).await;
    assert_eq!(status, 201);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(rig.handle.faults()[0].times, 0);
}

#[tokio::test]
async fn server_errors_before_and_after_the_effect() {
    let rig = Rig::start().await;
    rig.handle.set_faults(vec![
        FaultPlan::new(Endpoint::CreateCode, Fault::ServerError { status: 503, processed: false }, 1),
        FaultPlan::new(Endpoint::CreateCode, Fault::ServerError { status: 500, processed: true }, 1),
    ]);
    let (status, body) = rig.create_code("PAY-1", 300).await;
    assert_eq!(status, 503);
    assert_error_body(&body, "INTERNAL_SERVER_ERROR");
    assert!(rig.handle.payments().is_empty(), "not processed");
    let (status, _) = rig.create_code("PAY-1", 300).await;
    assert_eq!(status, 500);
    assert_eq!(rig.handle.payments().len(), 1, "processed, then failed");
    // The retry now meets the duplicate rule and the client must read the status instead.
    assert_error_body(&rig.create_code("PAY-1", 300).await.1, "DUPLICATE_DYNAMIC_QR_REQUEST");
    assert_eq!(rig.status_of("PAY-1").await, "CREATED");
}

#[tokio::test]
async fn no_answer_applies_the_effect_and_times_the_client_out() {
    let rig = Rig::start().await;
    rig.handle.set_faults(vec![FaultPlan::new(Endpoint::CreateCode, Fault::NoAnswer, 1)]);
    let outcome = tokio::time::timeout(Duration::from_millis(500), rig.create_code("PAY-1", 300)).await;
    assert!(outcome.is_err(), "no answer expected");
    assert_eq!(rig.handle.payments().len(), 1);
    assert_eq!(rig.status_of("PAY-1").await, "CREATED");
    rig.handle.shutdown().await;
}

#[tokio::test]
async fn paid_after_cancel_leaves_a_paid_payment_to_cancel() {
    let rig = Rig::start().await;
    let (_, created) = rig.create_code("PAY-1", 300).await;
    rig.handle.set_faults(vec![FaultPlan::new(Endpoint::Any, Fault::PaidAfterCancel, 1)]);
    // A GET does not use up a PaidAfterCancel plan.
    assert_eq!(rig.status_of("PAY-1").await, "CREATED");
    let (status, body) = rig.delete(&format!("/v2/codes/{}", created["data"]["codeId"].as_str().unwrap())).await;
    assert_eq!((status, code(&body)), (200, "SUCCESS"));
    assert_eq!(rig.status_of("PAY-1").await, "COMPLETED");
    // The gateway's remedy: cancel the payment.
    assert_eq!(rig.delete("/v2/payments/PAY-1").await.0, 202);
    assert_eq!(rig.status_of("PAY-1").await, "FAILED");
}
