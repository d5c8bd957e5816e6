//! The simulator's controls over HTTP: the customer page at the code's URL and the control
//! endpoints outside `/v2`, only when started with them; the API sees what the customer did.

use std::sync::Arc;

use pos_core::ManualClock;
use qr_sim::{QrSimConfig, StartOptions};
use serde_json::Value;

use crate::rig::{instant, Rig};

/// A simulator with its controls, its codes' URLs pointing at itself.
async fn controlled() -> Rig {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = QrSimConfig::example();
    config.payment_url_base = format!("http://{}/pay", listener.local_addr().unwrap());
    let clock = Arc::new(ManualClock::new(instant("2026-11-24T11:00:00+09:00")));
    let handle =
        qr_sim::start_with_control(listener, config, StartOptions { clock: clock.clone(), tls: None }).await.unwrap();
    Rig { handle, clock, http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap() }
}

async fn code_of(rig: &Rig, id: &str, amount: i64) -> (String, String) {
    let (status, body) = rig.create_code(id, amount).await;
    assert_eq!(status, 201, "{body}");
    (body["data"]["codeId"].as_str().unwrap().to_string(), body["data"]["url"].as_str().unwrap().to_string())
}

async fn control(rig: &Rig, method: reqwest::Method, path: &str) -> (u16, Value) {
    let response = rig.http.request(method, format!("{}{path}", rig.handle.base_url())).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn page(rig: &Rig, url: &str) -> (u16, String) {
    let response = rig.http.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "the customer page is HTML");
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn the_customer_page_is_at_the_codes_url_with_amount_merchant_and_both_buttons() {
    let rig = controlled().await;
    let (code_id, url) = code_of(&rig, "PAY-1", 1_500).await;
    assert_eq!(url, format!("{}/pay/{code_id}", rig.handle.base_url()), "the code's URL is the simulator's page");
    let (status, html) = page(&rig, &url).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-amount=\"1500\"") && html.contains("¥1,500"), "{html}");
    assert!(html.contains("見本市 市民課"), "the merchant's name: {html}");
    assert!(html.contains("支払う") && html.contains("Pay") && html.contains("支払わない") && html.contains("Decline"));
    assert!(html.contains("data-status=\"CREATED\""));
    assert!(!html.contains("http://") && !html.contains("https://"), "no external assets");

    // The "pay" button: a form post answered with a redirect back to the page, which shows it paid.
    let response = rig.http.post(&url).body("action=pay").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], code_id.as_str());
    let (_, html) = page(&rig, &url).await;
    assert!(html.contains("data-status=\"COMPLETED\"") && html.contains("お支払いが完了しました"), "{html}");
    assert!(!html.contains("id=\"pay\""), "no buttons once paid");
    assert_eq!(rig.status_of("PAY-1").await, "COMPLETED", "the API sees the payment");

    // Paying again changes nothing and says why.
    let response = rig.http.post(&url).body("action=pay").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 409);
    assert!(response.text().await.unwrap().contains("この操作はできません"));
    let (status, html) = page(&rig, &format!("{}/pay/04-9999999999999999", rig.handle.base_url())).await;
    assert_eq!(status, 404);
    assert!(html.contains("見つかりません"));
}

#[tokio::test]
async fn scripts_pay_and_decline_through_the_control_endpoints() {
    let rig = controlled().await;
    let (paid, _) = code_of(&rig, "PAY-1", 300).await;
    let (declined, _) = code_of(&rig, "PAY-2", 470).await;

    let (status, view) = control(&rig, reqwest::Method::GET, &format!("/_sim/codes/{paid}")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!((view["amount"].as_i64(), view["status"].as_str()), (Some(300), Some("CREATED")));
    assert_eq!(view["merchantPaymentId"], "PAY-1");

    let (status, view) = control(&rig, reqwest::Method::POST, &format!("/_sim/codes/{paid}/pay")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["status"], "COMPLETED");
    assert!(view["paymentId"].as_str().is_some_and(|id| id.len() == 20), "{view}");
    assert_eq!(rig.status_of("PAY-1").await, "COMPLETED");

    let (status, view) = control(&rig, reqwest::Method::POST, &format!("/_sim/codes/{declined}/decline")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["status"], "FAILED");
    assert_eq!(rig.status_of("PAY-2").await, "FAILED", "declined: nothing charged");

    // What cannot be done is refused, with a reason, and changes nothing.
    let (status, body) = control(&rig, reqwest::Method::POST, &format!("/_sim/codes/{declined}/pay")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "NOT_PAYABLE");
    assert_eq!(rig.status_of("PAY-2").await, "FAILED");
    let (status, body) = control(&rig, reqwest::Method::POST, "/_sim/codes/04-9999999999999999/pay").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("UNKNOWN_CODE")));
    // An expired code cannot be paid.
    let (expiring, _) = code_of(&rig, "PAY-3", 100).await;
    rig.set_now("2026-11-24T11:10:00+09:00");
    let (status, body) = control(&rig, reqwest::Method::POST, &format!("/_sim/codes/{expiring}/pay")).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("EXPIRED"), "{body}");
}

#[tokio::test]
async fn without_the_control_flag_there_is_no_page_and_no_control() {
    let rig = Rig::start().await;
    let (status, body) = rig.create_code("PAY-1", 300).await;
    assert_eq!(status, 201);
    let code_id = body["data"]["codeId"].as_str().unwrap();
    for path in [format!("/_sim/codes/{code_id}/pay"), format!("/pay/{code_id}")] {
        let response = rig.http.post(format!("{}{path}", rig.handle.base_url())).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["resultInfo"]["code"], "NOT_FOUND");
    }
    assert_eq!(rig.status_of("PAY-1").await, "CREATED");
}

#[tokio::test]
async fn controls_need_a_payment_url_base_pointing_at_an_http_page() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = QrSimConfig::example();
    config.payment_url_base = "qrsim://pay".into();
    let refused = qr_sim::start_with_control(listener, config, StartOptions::default()).await;
    let error = refused.err().expect("refused").to_string();
    assert!(error.contains("payment_url_base"), "{error}");
}
