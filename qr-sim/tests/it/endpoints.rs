//! Each endpoint's success and error cases, authentication refusals, idempotency, expiry and the
//! cancel window — over HTTP, with the manual clock.

use serde_json::json;

use crate::rig::{assert_error_body, code, Call, Rig};
use qr_protocol::{ApiKey, ApiSecret, Credentials};
use qr_sim::{KeyConfig, MerchantConfig, QrSimConfig};

#[tokio::test]
async fn create_then_pay_then_read() {
    let rig = Rig::start().await;
    let (status, body) = rig.create_code("PAY-1", 300).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(code(&body), "SUCCESS");
    let code_id = body["data"]["codeId"].as_str().unwrap().to_string();
    assert!(code_id.starts_with("04-"));
    assert_eq!(body["data"]["url"], format!("https://qr.sim.invalid/pay/{code_id}"));
    assert!(body["data"]["deeplink"].is_string());
    assert_eq!(body["data"]["expiryDate"], rig.clock_epoch() + 300);
    assert_eq!(rig.status_of("PAY-1").await, "CREATED");

    rig.handle.pay_code(&code_id).unwrap();
    let (status, body) = rig.get("/v2/payments/PAY-1").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["status"], "COMPLETED");
    assert_eq!(body["data"]["amount"], json!({"amount": 300, "currency": "JPY"}));
    assert!(body["data"]["paymentId"].as_str().unwrap().len() == 20);
    assert!(rig.handle.pay("PAY-1").is_err(), "a paid code cannot be paid again");
}

impl Rig {
    fn clock_epoch(&self) -> i64 {
        use pos_core::Clock;
        self.clock.now().timestamp()
    }
}

#[tokio::test]
async fn a_reused_merchant_payment_id_is_refused_not_replayed() {
    let rig = Rig::start().await;
    assert_eq!(rig.create_code("PAY-1", 300).await.0, 201);
    let (status, body) = rig.create_code("PAY-1", 300).await;
    assert_eq!(status, 400);
    assert_error_body(&body, "DUPLICATE_DYNAMIC_QR_REQUEST");
    assert!(body["data"].is_null());
    assert_eq!(rig.handle.payments().len(), 1);
}

#[tokio::test]
async fn bad_fields_are_invalid_params() {
    let rig = Rig::start().await;
    for body in [
        json!({"merchantPaymentId": "a/b", "amount": {"amount": 1, "currency": "JPY"}, "codeType": "ORDER_QR"}),
        json!({"merchantPaymentId": "x".repeat(65), "amount": {"amount": 1, "currency": "JPY"}, "codeType": "ORDER_QR"}),
        json!({"merchantPaymentId": "A", "amount": {"amount": 0, "currency": "JPY"}, "codeType": "ORDER_QR"}),
        json!({"merchantPaymentId": "A", "amount": {"amount": 1, "currency": "USD"}, "codeType": "ORDER_QR"}),
        json!({"merchantPaymentId": "A", "amount": {"amount": 1, "currency": "JPY"}, "codeType": "OTHER"}),
        json!({"amount": {"amount": 1, "currency": "JPY"}, "codeType": "ORDER_QR"}),
    ] {
        let (status, answer) = rig.post("/v2/codes", body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_error_body(&answer, "INVALID_PARAMS");
    }
}

#[tokio::test]
async fn unknown_ids_get_their_404_codes() {
    let rig = Rig::start().await;
    let (status, body) = rig.get("/v2/codes/payments/NOPE").await;
    assert_eq!(status, 404);
    assert_error_body(&body, "DYNAMIC_QR_PAYMENT_NOT_FOUND");
    let (status, body) = rig.get("/v2/payments/NOPE").await;
    assert_eq!(status, 404);
    assert_error_body(&body, "DYNAMIC_QR_PAYMENT_NOT_FOUND");
    let (status, body) = rig.delete("/v2/codes/04-nope").await;
    assert_eq!(status, 404);
    assert_error_body(&body, "DYNAMIC_QR_NOT_FOUND");
    let (status, body) = rig.get("/v2/refunds/NOPE").await;
    assert_eq!(status, 404);
    assert_error_body(&body, "NO_SUCH_REFUND_ORDER");
    let (status, body) = rig.get("/v2/nothing").await;
    assert_eq!(status, 404);
    assert_error_body(&body, "NOT_FOUND");
    let (status, body) = rig.send(Call::new("PUT", "/v2/codes", b"{}")).await;
    assert_eq!(status, 405);
    assert_error_body(&body, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn a_code_can_be_withdrawn_with_or_without_a_body() {
    let rig = Rig::start().await;
    let (_, first) = rig.create_code("PAY-1", 300).await;
    let (_, second) = rig.create_code("PAY-2", 300).await;
    let path = format!("/v2/codes/{}", first["data"]["codeId"].as_str().unwrap());
    // The SDK's form: `{}` with a Content-Type, signed.
    let (status, body) = rig.send(Call::new("DELETE", &path, b"{}")).await;
    assert_eq!((status, code(&body)), (200, "SUCCESS"), "{body}");
    let path = format!("/v2/codes/{}", second["data"]["codeId"].as_str().unwrap());
    let (status, body) = rig.delete(&path).await;
    assert_eq!((status, code(&body)), (200, "SUCCESS"), "{body}");
    assert_eq!(rig.status_of("PAY-1").await, "CANCELED");
    assert!(rig.handle.pay("PAY-2").is_err(), "a withdrawn code cannot be paid");
    // Repeating the withdrawal is harmless.
    assert_eq!(rig.delete(&path).await.0, 200);
}

#[tokio::test]
async fn a_paid_code_cannot_be_withdrawn() {
    let rig = Rig::start().await;
    let (_, created) = rig.create_code("PAY-1", 300).await;
    rig.handle.pay("PAY-1").unwrap();
    let (status, body) = rig.delete(&format!("/v2/codes/{}", created["data"]["codeId"].as_str().unwrap())).await;
    assert_eq!(status, 400);
    assert_error_body(&body, "DYNAMIC_QR_ALREADY_PAID");
}

#[tokio::test]
async fn codes_expire_by_the_injected_clock() {
    let rig = Rig::start().await;
    rig.create_code("PAY-1", 300).await;
    rig.set_now("2026-11-24T11:04:59+09:00");
    assert_eq!(rig.status_of("PAY-1").await, "CREATED");
    rig.set_now("2026-11-24T11:05:00+09:00");
    assert_eq!(rig.status_of("PAY-1").await, "EXPIRED");
    assert!(rig.handle.pay("PAY-1").is_err());
    assert_eq!(rig.handle.payments()[0].status.to_string(), "EXPIRED");
}

#[tokio::test]
async fn cancel_is_accepted_until_00_14_59_jst_the_next_day() {
    let rig = Rig::start_with(QrSimConfig::example(), "2026-11-24T23:50:00+09:00").await;
    for id in ["LATE-1", "LATE-2"] {
        rig.create_code(id, 300).await;
        rig.handle.pay(id).unwrap();
    }
    rig.set_now("2026-11-25T00:14:59+09:00");
    let (status, body) = rig.delete("/v2/payments/LATE-1").await;
    assert_eq!((status, code(&body)), (202, "REQUEST_ACCEPTED"), "{body}");
    assert_eq!(rig.get("/v2/payments/LATE-1").await.1["data"]["status"], "FAILED");
    // Repeating an accepted cancel is accepted again.
    assert_eq!(rig.delete("/v2/payments/LATE-1").await.0, 202);
    rig.set_now("2026-11-25T00:15:00+09:00");
    let (status, body) = rig.delete("/v2/payments/LATE-2").await;
    assert_eq!(status, 400);
    assert_error_body(&body, "ORDER_NOT_REVERSIBLE");
    assert_eq!(rig.get("/v2/payments/LATE-2").await.1["data"]["status"], "COMPLETED");
}

#[tokio::test]
async fn cancelling_an_unpaid_code_stops_it_being_paid() {
    let rig = Rig::start().await;
    rig.create_code("PAY-1", 300).await;
    assert_eq!(rig.delete("/v2/payments/PAY-1").await.0, 202);
    assert_eq!(rig.status_of("PAY-1").await, "FAILED");
    assert!(rig.handle.pay("PAY-1").is_err());
}

#[tokio::test]
async fn refunds_partial_full_idempotent_and_bounded() {
    let rig = Rig::start().await;
    rig.create_code("PAY-1", 300).await;
    let payment_id = rig.handle.pay("PAY-1").unwrap().payment_id.unwrap();
    let refund = |id: &str, amount: i64| {
        json!({"merchantRefundId": id, "paymentId": payment_id, "amount": {"amount": amount, "currency": "JPY"},
               "requestedAt": 1_700_000_000})
    };
    let (status, body) = rig.post("/v2/refunds", refund("R-1", 100)).await;
    assert_eq!((status, code(&body)), (201, "SUCCESS"), "{body}");
    // The SDK's trailing slash, and the same merchantRefundId: the earlier refund, unchanged.
    let (status, again) = rig.post("/v2/refunds/", refund("R-1", 100)).await;
    assert_eq!(status, 201);
    assert_eq!(again["data"], body["data"]);
    let (status, body) = rig.post("/v2/refunds", refund("R-2", 201)).await;
    assert_eq!(status, 400);
    assert_error_body(&body, "INVALID_PARAMS");
    assert_eq!(rig.get("/v2/payments/PAY-1").await.1["data"]["status"], "COMPLETED");
    assert_eq!(rig.post("/v2/refunds", refund("R-3", 200)).await.0, 201);
    let (_, details) = rig.get("/v2/payments/PAY-1").await;
    assert_eq!(details["data"]["status"], "REFUNDED");
    assert_eq!(details["data"]["refunds"]["data"].as_array().unwrap().len(), 2);
    // Read back, with and without the paymentId narrowing.
    let (status, body) = rig.get("/v2/refunds/R-1").await;
    assert_eq!((status, body["data"]["amount"]["amount"].as_i64()), (200, Some(100)));
    let (status, _) = rig.get(&format!("/v2/refunds/R-1?paymentId={payment_id}")).await;
    assert_eq!(status, 200);
    let (status, body) = rig.get("/v2/refunds/R-1?paymentId=04000000000000000000").await;
    assert_eq!(status, 404);
    assert_error_body(&body, "NO_SUCH_REFUND_ORDER");
    // A refunded payment can no longer be cancelled.
    assert_error_body(&rig.delete("/v2/payments/PAY-1").await.1, "ORDER_NOT_REVERSIBLE");
}

/// PayPay answers a refund of a `paymentId` it does not know with 404 `RESOURCE_NOT_FOUND`.
#[tokio::test]
async fn a_refund_of_an_unknown_payment_is_resource_not_found() {
    let rig = Rig::start().await;
    rig.create_code("PAY-1", 300).await;
    let (status, body) = rig
        .post(
            "/v2/refunds",
            json!({"merchantRefundId": "R-1", "paymentId": "04000000000000000001",
                   "amount": {"amount": 1, "currency": "JPY"}, "requestedAt": 1}),
        )
        .await;
    assert_eq!(status, 404);
    assert_error_body(&body, "RESOURCE_NOT_FOUND");
    assert!(rig.handle.refunds().is_empty());
}

#[tokio::test]
async fn customer_presented_payments_complete_or_decline() {
    let rig = Rig::start().await;
    let payment = |id: &str, user_code: &str, amount: i64| {
        json!({"merchantPaymentId": id, "userAuthorizationId": user_code, "amount": {"amount": amount, "currency": "JPY"},
               "requestedAt": 1_700_000_000})
    };
    let (status, body) = rig.post("/v2/payments", payment("CP-1", "281234567890123456", 470)).await;
    assert_eq!((status, code(&body)), (201, "SUCCESS"), "{body}");
    assert_eq!(body["data"]["status"], "COMPLETED");
    assert!(body["data"]["paymentId"].is_string());
    let (status, body) = rig.post("/v2/payments", payment("CP-1", "281234567890123456", 470)).await;
    assert_eq!(status, 400);
    assert_error_body(&body, "DUPLICATE_PAYMENT_REQUEST");
    let (status, body) = rig.post("/v2/payments", payment("CP-2", "281234567890123456", 9051)).await;
    assert_eq!(status, 400);
    assert_error_body(&body, "INSUFFICIENT_BALANCE");
    assert_eq!(rig.get("/v2/payments/CP-2").await.1["data"]["status"], "FAILED");
    assert_error_body(
        &rig.post("/v2/payments", payment("CP-3", "991234567890123456", 470)).await.1,
        "INVALID_USER_CODE",
    );
    assert_error_body(&rig.post("/v2/payments", payment("CP-4", "12345", 470)).await.1, "INVALID_PARAMS");
    // A customer-presented payment is cancelled like any other.
    assert_eq!(rig.delete("/v2/payments/CP-1").await.0, 202);
    assert_eq!(rig.get("/v2/payments/CP-1").await.1["data"]["status"], "FAILED");
}

#[tokio::test]
async fn every_authentication_failure_is_401_unauthorized() {
    let rig = Rig::start().await;
    let body = br#"{"merchantPaymentId":"A-1","amount":{"amount":300,"currency":"JPY"},"codeType":"ORDER_QR"}"#;
    let wrong = Credentials { api_key: ApiKey::new("sample_key"), api_secret: ApiSecret::new("nope") };
    let unknown = Credentials { api_key: ApiKey::new("other"), api_secret: ApiSecret::new("sample_secret") };
    let cases = [
        ("wrong secret", Call { credentials: wrong, ..Call::new("POST", "/v2/codes", body) }),
        ("unknown key", Call { credentials: unknown, ..Call::new("POST", "/v2/codes", body) }),
        ("stale epoch", Call { epoch_offset: -121, ..Call::new("POST", "/v2/codes", body) }),
        ("future epoch", Call { epoch_offset: 121, ..Call::new("POST", "/v2/codes", body) }),
        ("missing header", Call { sign: false, ..Call::new("POST", "/v2/codes", body) }),
        ("foreign merchant", Call { merchant: "M9999", ..Call::new("POST", "/v2/codes", body) }),
    ];
    for (what, call) in cases {
        let (status, answer) = rig.send(call).await;
        assert_eq!(status, 401, "{what}: {answer}");
        assert_error_body(&answer, "UNAUTHORIZED");
    }
    // Tampered body: signed over one body, another sent.
    let call = Call::new("POST", "/v2/codes", body);
    let (authorization, _) = rig.authorization(&call);
    let tampered = br#"{"merchantPaymentId":"A-1","amount":{"amount":900,"currency":"JPY"},"codeType":"ORDER_QR"}"#;
    let (status, answer) = rig.send_with(&Call::new("POST", "/v2/codes", tampered), Some(&authorization)).await;
    assert_eq!(status, 401);
    assert!(answer["resultInfo"]["message"].as_str().unwrap().contains("hash"), "{answer}");
    // Replay: the same header twice.
    let call = Call::new("GET", "/v2/payments/X", b"");
    let (authorization, _) = rig.authorization(&call);
    assert_eq!(rig.send_with(&call, Some(&authorization)).await.0, 404);
    let (status, answer) = rig.send_with(&call, Some(&authorization)).await;
    assert_eq!(status, 401);
    assert!(answer["resultInfo"]["message"].as_str().unwrap().contains("nonce"), "{answer}");
    // Malformed header.
    let (status, answer) = rig.send_with(&call, Some("hmac OPA-Auth:sample_key")).await;
    assert_eq!(status, 401);
    assert_error_body(&answer, "UNAUTHORIZED");
    assert!(rig.handle.payments().is_empty());
}

#[tokio::test]
async fn x_assume_merchant_selects_among_a_keys_merchants() {
    let mut config = QrSimConfig::example();
    config.merchants.push(MerchantConfig {
        name: None,
        merchant_id: "M0002".into(),
        store_id: "S0020001".into(),
        terminal_id: "R0020001".into(),
    });
    config.keys.push(KeyConfig {
        api_key: ApiKey::new("shared_key"),
        api_secret: ApiSecret::new("shared_secret"),
        merchants: vec!["M0001".into(), "M0002".into()],
    });
    let rig = Rig::start_with(config, "2026-11-24T11:00:00+09:00").await;
    let shared = || Credentials { api_key: ApiKey::new("shared_key"), api_secret: ApiSecret::new("shared_secret") };
    let body = br#"{"merchantPaymentId":"SAME","amount":{"amount":300,"currency":"JPY"},"codeType":"ORDER_QR"}"#;
    let (status, answer) = rig.send(Call { credentials: shared(), ..Call::new("POST", "/v2/codes", body) }).await;
    assert_eq!(status, 400, "a key with two merchants must name one: {answer}");
    for merchant in ["M0001", "M0002"] {
        let call = Call { credentials: shared(), merchant, ..Call::new("POST", "/v2/codes", body) };
        assert_eq!(rig.send(call).await.0, 201, "{merchant}");
    }
    // merchantPaymentId is unique per merchant: the same id at two merchants is two payments.
    assert_eq!(rig.handle.payments().len(), 2);
    assert!(rig.handle.pay("SAME").is_err(), "ambiguous across merchants");
    // sample_key owns M0001 only.
    let call = Call { merchant: "M0002", ..Call::new("GET", "/v2/payments/SAME", b"") };
    assert_eq!(rig.send(call).await.0, 401);
    let call = Call { merchant: "M0001", ..Call::new("GET", "/v2/payments/SAME", b"") };
    assert_eq!(rig.send(call).await.0, 200);
}
