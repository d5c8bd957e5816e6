//! counterd's HTTP client for the gateway's device API (`/v1/devices/{register}/…`), with the
//! API types of `pos_core::api`. Every request is bounded; the device token is sent as a bearer
//! token and never logged or put in an error.

use std::sync::Arc;
use std::time::Duration;

use pos_core::api::{
    CommandResult, DeviceCommand, DeviceHealth, NextCommand, PaymentRequest, PaymentResult, SaleView,
    COMMAND_WAIT_MS_MAX, IDEMPOTENCY_KEY_HEADER,
};
use pos_core::RegisterId;
use serde::de::DeserializeOwned;

/// How long connecting to the gateway may take.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;
/// How long a request other than the long poll may take in all.
pub const REQUEST_TIMEOUT_MS: u64 = 15_000;
/// How much longer than its wait a long poll may take before counterd gives up on it.
pub const LONG_POLL_MARGIN_MS: u64 = 10_000;
/// How much of an error body is kept in an error.
pub const ERROR_BODY_CHARS_MAX: usize = 300;

/// The device token: sent, never shown.
#[derive(Clone)]
pub struct DeviceToken(String);

impl DeviceToken {
    /// The token, trimmed of surrounding whitespace (a token file usually ends with a newline).
    pub fn new(token: &str) -> Result<DeviceToken, ClientError> {
        let token = token.trim();
        if token.is_empty() || token.chars().any(|c| c.is_control() || c == ' ') {
            return Err(ClientError::BadToken);
        }
        Ok(DeviceToken(token.to_string()))
    }
}

impl std::fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceToken(…)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the device token is empty or holds spaces or control characters")]
    BadToken,
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
    /// Not connected, timed out, or the connection broke: try again later.
    #[error("the gateway cannot be reached: {0}")]
    Unreachable(String),
    /// 5xx: try again later.
    #[error("the gateway failed with {status}: {body}")]
    Server { status: u16, body: String },
    /// 409: a different result is already recorded for the command.
    #[error("the gateway refused a conflicting answer: {body}")]
    Conflict { body: String },
    /// Any other 4xx: retrying the same request will not help.
    #[error("the gateway refused the request with {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("the gateway's answer could not be read: {0}")]
    Decode(String),
}

impl ClientError {
    /// Whether the same request may succeed later (gateway down, restarting or overloaded).
    pub fn is_transient(&self) -> bool {
        matches!(self, ClientError::Unreachable(_) | ClientError::Server { .. })
    }
}

/// One register's device, talking to the gateway.
#[derive(Debug, Clone)]
pub struct GatewayClient {
    http: reqwest::Client,
    base: String,
    register: RegisterId,
    token: DeviceToken,
}

impl GatewayClient {
    /// `base` is the gateway's URL (`https://gateway.example:8443`); `tls`, when given, is the
    /// TLS client configuration (CA and optional client certificate for mutual TLS, see
    /// `pos_tls::client_config`).
    pub fn new(
        base: &str,
        register: RegisterId,
        token: DeviceToken,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<GatewayClient, ClientError> {
        let mut builder = reqwest::Client::builder().connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS));
        if let Some(tls) = tls {
            builder = builder.use_preconfigured_tls((*tls).clone());
        }
        let http = builder.build().map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(GatewayClient { http, base: base.trim_end_matches('/').to_string(), register, token })
    }

    pub fn register(&self) -> &RegisterId {
        &self.register
    }

    /// The next command, waiting up to `wait_ms` (capped at [`COMMAND_WAIT_MS_MAX`]) for one.
    pub async fn next_command(&self, wait_ms: u64) -> Result<Option<DeviceCommand>, ClientError> {
        let wait_ms = wait_ms.min(COMMAND_WAIT_MS_MAX);
        let url = format!("{}/v1/devices/{}/commands/next?wait_ms={wait_ms}", self.base, self.register);
        let request = self
            .http
            .get(url)
            .bearer_auth(&self.token.0)
            .timeout(Duration::from_millis(wait_ms.saturating_add(LONG_POLL_MARGIN_MS)));
        let next: NextCommand = decode(request.send().await).await?;
        Ok(next.command)
    }

    /// Answers command `id`. A repeat of the same answer is accepted again by the gateway.
    pub async fn post_result(&self, id: &str, result: &CommandResult) -> Result<DeviceCommand, ClientError> {
        let url = format!("{}/v1/devices/{}/commands/{id}/result", self.base, self.register);
        let request = self
            .http
            .post(url)
            .bearer_auth(&self.token.0)
            .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
            .json(result);
        decode(request.send().await).await
    }

    pub async fn post_health(&self, health: &DeviceHealth) -> Result<(), ClientError> {
        let url = format!("{}/v1/devices/{}/health", self.base, self.register);
        let request = self
            .http
            .post(url)
            .bearer_auth(&self.token.0)
            .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
            .json(health);
        let response = request.send().await.map_err(unreachable)?;
        check(response).await.map(|_| ())
    }

    /// A sale of this register's facility (to print its receipt).
    pub async fn sale(&self, id: &str) -> Result<SaleView, ClientError> {
        let url = format!("{}/v1/sales/{id}", self.base);
        let request = self.http.get(url).bearer_auth(&self.token.0).timeout(Duration::from_millis(REQUEST_TIMEOUT_MS));
        decode(request.send().await).await
    }
}

impl GatewayClient {
    /// Starts a payment of sale `id` under `idempotency_key`: a repeat with the same key is
    /// answered with the first payment, never a second one.
    pub async fn start_payment(
        &self,
        id: &str,
        payment: &PaymentRequest,
        idempotency_key: &str,
    ) -> Result<PaymentResult, ClientError> {
        let url = format!("{}/v1/sales/{id}/payments", self.base);
        let request = self
            .http
            .post(url)
            .bearer_auth(&self.token.0)
            .header(IDEMPOTENCY_KEY_HEADER, idempotency_key)
            .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
            .json(payment);
        decode(request.send().await).await
    }
}

fn unreachable(error: reqwest::Error) -> ClientError {
    // reqwest's message names the URL (no token: that travels in a header) and the cause.
    ClientError::Unreachable(error.without_url().to_string())
}

async fn check(response: reqwest::Response) -> Result<String, ClientError> {
    let status = response.status();
    let body = response.text().await.map_err(unreachable)?;
    if status.is_success() {
        return Ok(body);
    }
    let body: String = body.chars().take(ERROR_BODY_CHARS_MAX).collect();
    let status = status.as_u16();
    Err(match status {
        409 => ClientError::Conflict { body },
        500..=599 => ClientError::Server { status, body },
        _ => ClientError::Refused { status, body },
    })
}

async fn decode<T: DeserializeOwned>(sent: Result<reqwest::Response, reqwest::Error>) -> Result<T, ClientError> {
    let body = check(sent.map_err(unreachable)?).await?;
    serde_json::from_str(&body).map_err(|e| ClientError::Decode(e.to_string()))
}
