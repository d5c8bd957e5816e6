//! A simulator on port 0 with a manual clock, and a signing HTTP client built on `qr-protocol`
//! (the same calls the gateway's connector makes).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use pos_core::{Clock, ManualClock};
use qr_protocol::auth::SignedRequest;
use qr_protocol::{sign, ApiKey, ApiSecret, Credentials};
use qr_sim::{QrSimConfig, QrSimHandle, StartOptions};
use serde_json::Value;

static NONCE: AtomicU64 = AtomicU64::new(1);

pub const JSON: &str = "application/json;charset=UTF-8";

pub fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

pub fn sample() -> Credentials {
    Credentials { api_key: ApiKey::new("sample_key"), api_secret: ApiSecret::new("sample_secret") }
}

pub struct Rig {
    pub handle: QrSimHandle,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
}

/// One request, fully described, so tests can vary any part of it.
pub struct Call<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
    pub content_type: Option<&'a str>,
    pub credentials: Credentials,
    pub merchant: &'a str,
    pub epoch_offset: i64,
    pub nonce: Option<String>,
    pub sign: bool,
}

impl<'a> Call<'a> {
    pub fn new(method: &'a str, path: &'a str, body: &'a [u8]) -> Call<'a> {
        Call {
            method,
            path,
            body,
            content_type: Some(JSON),
            credentials: sample(),
            merchant: "",
            epoch_offset: 0,
            nonce: None,
            sign: true,
        }
    }
}

impl Rig {
    pub async fn start() -> Rig {
        Rig::start_with(QrSimConfig::example(), "2026-11-24T11:00:00+09:00").await
    }

    pub async fn start_with(config: QrSimConfig, now: &str) -> Rig {
        let clock = Arc::new(ManualClock::new(instant(now)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let handle =
            qr_sim::start_with(listener, config, StartOptions { clock: clock.clone(), tls: None }).await.unwrap();
        Rig { handle, clock, http: reqwest::Client::new() }
    }

    pub fn set_now(&self, text: &str) {
        self.clock.set(instant(text));
    }

    pub fn authorization(&self, call: &Call<'_>) -> (String, String) {
        let nonce = call.nonce.clone().unwrap_or_else(|| format!("{:08x}", NONCE.fetch_add(1, Ordering::Relaxed)));
        let request = SignedRequest {
            method: call.method,
            path: call.path,
            content_type: call.content_type.map(str::as_bytes),
            body: call.body,
        };
        let epoch = self.clock.now().timestamp() + call.epoch_offset;
        (sign(&call.credentials, &request, &nonce, epoch).to_header_value(), nonce)
    }

    pub async fn send(&self, call: Call<'_>) -> (u16, Value) {
        let (authorization, _) = self.authorization(&call);
        self.send_with(&call, call.sign.then_some(authorization.as_str())).await
    }

    pub async fn send_with(&self, call: &Call<'_>, authorization: Option<&str>) -> (u16, Value) {
        let url = format!("{}{}", self.handle.base_url(), call.path);
        let method = reqwest::Method::from_bytes(call.method.as_bytes()).unwrap();
        let mut request = self.http.request(method, url).header("X-ASSUME-MERCHANT", call.merchant);
        if let Some(content_type) = call.content_type {
            request = request.header("Content-Type", content_type);
        }
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        if !call.body.is_empty() {
            request = request.body(call.body.to_vec());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", String::from_utf8_lossy(&bytes)));
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(Call::new("GET", path, b"")).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(Call { content_type: None, ..Call::new("DELETE", path, b"") }).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(&body).unwrap();
        self.send(Call::new("POST", path, &bytes)).await
    }

    pub async fn create_code(&self, id: &str, amount: i64) -> (u16, Value) {
        self.post(
            "/v2/codes",
            serde_json::json!({"merchantPaymentId": id, "amount": {"amount": amount, "currency": "JPY"},
                               "codeType": "ORDER_QR", "requestedAt": self.clock.now().timestamp()}),
        )
        .await
    }

    pub async fn status_of(&self, id: &str) -> String {
        let (_, body) = self.get(&format!("/v2/codes/payments/{id}")).await;
        body["data"]["status"].as_str().unwrap_or("none").to_string()
    }
}

/// `resultInfo.code`.
pub fn code(body: &Value) -> &str {
    body["resultInfo"]["code"].as_str().unwrap_or_else(|| panic!("no resultInfo.code in {body}"))
}

/// Checks the §2 error body shape: code, message and codeId all present.
pub fn assert_error_body(body: &Value, expected: &str) {
    assert_eq!(code(body), expected, "{body}");
    assert!(body["resultInfo"]["message"].is_string(), "{body}");
    assert!(body["resultInfo"]["codeId"].is_string(), "{body}");
}
