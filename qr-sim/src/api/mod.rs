//! The HTTP layer: routes of PROTOCOLS.md §2, the signed-request extractor and the fault wrapper.
//!
//! Every request passes through [`Signed`]: the body is read up to [`REQUEST_BODY_BYTES_MAX`],
//! the `hmac OPA-Auth` header is verified against the method, the path *as received* (so
//! `/v2/refunds/` and `/v2/refunds` differ), the raw Content-Type and the raw body, and the
//! merchant is chosen by `X-ASSUME-MERCHANT`. Only then does a handler parse the body. Every
//! answer, including unknown routes, wrong methods and oversized bodies, is the JSON envelope.

pub mod codes;
pub mod error;
pub mod payments;
pub mod refunds;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use pos_core::Clock;
use qr_protocol::auth::{SignedRequest, Verifier};
use qr_protocol::{ApiKey, ApiSecret, ResultCode};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;

use crate::config::QrSimConfig;
use crate::fault::{self, Endpoint, Fault, FaultPlan};
use crate::ledger::Ledger;

/// The largest request body read; a larger one is answered 413 without being verified.
pub const REQUEST_BODY_BYTES_MAX: usize = 64 * 1024;
/// How many received requests the log keeps (oldest dropped first).
pub const RECEIVED_LOG_MAX: usize = 10_000;
/// The merchant-selection header.
pub const ASSUME_MERCHANT: &str = "x-assume-merchant";

/// One request as the simulator saw it, for tests: what was asked and what was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub api_key: Option<String>,
    pub code: ResultCode,
}

/// Shared by every request.
pub struct AppState {
    pub config: QrSimConfig,
    pub clock: Arc<dyn Clock>,
    pub verifier: Verifier,
    pub ledger: Mutex<Ledger>,
    pub faults: Mutex<Vec<FaultPlan>>,
    pub received: Mutex<VecDeque<Received>>,
    pub shutdown: CancellationToken,
}

/// Locks a mutex, recovering from poisoning: every critical section leaves its data consistent
/// (single inserts and field updates), so a panic elsewhere does not corrupt it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AppState {
    pub fn new(config: QrSimConfig, clock: Arc<dyn Clock>, shutdown: CancellationToken) -> AppState {
        AppState {
            config,
            verifier: Verifier::new(clock.clone()),
            clock,
            ledger: Mutex::new(Ledger::default()),
            faults: Mutex::new(Vec::new()),
            received: Mutex::new(VecDeque::new()),
            shutdown,
        }
    }

    fn secret_of(&self, key: &ApiKey) -> Option<&ApiSecret> {
        self.config.keys.iter().find(|candidate| &candidate.api_key == key).map(|candidate| &candidate.api_secret)
    }

    fn record(&self, method: &str, path: &str, api_key: Option<&ApiKey>, code: ResultCode) {
        let mut received = lock(&self.received);
        if received.len() >= RECEIVED_LOG_MAX {
            received.pop_front();
        }
        received.push_back(Received {
            method: method.to_string(),
            path: path.to_string(),
            api_key: api_key.map(|key| key.as_str().to_string()),
            code,
        });
    }
}

/// The router of §2 over the shared state.
pub fn router(state: Arc<AppState>) -> Router {
    with_fallbacks(routes()).with_state(state)
}

/// The routes of §2, without the answers for unknown routes and methods (so other routes, the
/// simulator's controls, can be merged in first).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/codes", post(codes::create))
        .route("/v2/codes/payments/{merchant_payment_id}", get(codes::payment))
        .route("/v2/codes/{code_id}", delete(codes::delete))
        .route("/v2/payments", post(payments::create))
        .route("/v2/payments/{merchant_payment_id}", get(payments::details).delete(payments::cancel))
        .route("/v2/refunds", post(refunds::create))
        .route("/v2/refunds/", post(refunds::create))
        .route("/v2/refunds/{merchant_refund_id}", get(refunds::details))
}

/// Unknown routes and wrong methods answered in the provider's JSON envelope.
pub fn with_fallbacks(router: Router<Arc<AppState>>) -> Router<Arc<AppState>> {
    router.fallback(not_found).method_not_allowed_fallback(method_not_allowed)
}

async fn not_found() -> ApiError {
    ApiError::new(ResultCode::NotFound, "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ResultCode::MethodNotAllowed, "method not allowed on this endpoint")
}

/// An authenticated request: its merchant, key and raw body.
pub struct Signed {
    pub merchant: String,
    pub api_key: ApiKey,
    pub body: Bytes,
    method: String,
    path: String,
}

impl FromRequest<Arc<AppState>> for Signed {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &Arc<AppState>) -> Result<Signed, ApiError> {
        let (parts, body) = request.into_parts();
        let method = parts.method.as_str().to_string();
        let path = parts.uri.path().to_string();
        let refuse = |error: ApiError, key: Option<&ApiKey>| {
            state.record(&method, &path, key, error.code.clone());
            error
        };
        let body = axum::body::to_bytes(body, REQUEST_BODY_BYTES_MAX).await.map_err(|_| {
            refuse(
                ApiError::new(ResultCode::PayloadTooLarge, format!("body over {REQUEST_BODY_BYTES_MAX} bytes")),
                None,
            )
        })?;
        let request = SignedRequest {
            method: &method,
            path: &path,
            content_type: parts.headers.get(CONTENT_TYPE).map(|value| value.as_bytes()),
            body: &body,
        };
        let authorization = parts.headers.get(AUTHORIZATION).map(|value| value.as_bytes());
        let verified = state
            .verifier
            .verify(&request, authorization, |key| state.secret_of(key))
            .map_err(|error| refuse(ApiError::unauthorized(error.to_string()), None))?;
        let assumed = parts.headers.get(ASSUME_MERCHANT).map(|value| value.as_bytes()).unwrap_or_default();
        let merchant = select_merchant(state, &verified.api_key, assumed)
            .map_err(|error| refuse(error, Some(&verified.api_key)))?;
        Ok(Signed { merchant, api_key: verified.api_key, body, method, path })
    }
}

/// `X-ASSUME-MERCHANT`: empty means the key's only merchant; a merchant the key does not own is
/// an authentication failure.
fn select_merchant(state: &AppState, api_key: &ApiKey, assumed: &[u8]) -> Result<String, ApiError> {
    let owned = state
        .config
        .keys
        .iter()
        .find(|key| &key.api_key == api_key)
        .map(|key| key.merchants.as_slice())
        .unwrap_or_default();
    let assumed = std::str::from_utf8(assumed).map_err(|_| ApiError::unauthorized("X-ASSUME-MERCHANT is not UTF-8"))?;
    if assumed.is_empty() {
        return match owned {
            [only] => Ok(only.clone()),
            _ => Err(ApiError::invalid_params("this key has several merchants: set X-ASSUME-MERCHANT")),
        };
    }
    owned
        .iter()
        .find(|merchant| merchant.as_str() == assumed)
        .cloned()
        .ok_or_else(|| ApiError::unauthorized(format!("this key may not act for merchant {assumed}")))
}

impl Signed {
    /// The body as `T`; anything that does not parse is `INVALID_PARAMS` with serde's reason.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.is_empty() {
            return Err(ApiError::invalid_params("a JSON body is required"));
        }
        serde_json::from_slice(&self.body).map_err(|error| ApiError::invalid_params(format!("body: {error}")))
    }
}

/// A successful answer before it becomes a response.
pub struct Answer {
    pub status: StatusCode,
    pub code: ResultCode,
    pub data: Option<serde_json::Value>,
}

impl Answer {
    pub fn new<T: serde::Serialize>(status: StatusCode, code: ResultCode, data: Option<T>) -> Result<Answer, ApiError> {
        let data = data
            .map(serde_json::to_value)
            .transpose()
            .map_err(|error| ApiError::new(ResultCode::InternalServerError, format!("answer: {error}")))?;
        Ok(Answer { status, code, data })
    }
}

/// Runs one authenticated request's effect under the fault plans and logs the answer.
/// `apply` gets the ledger, the current instant and whether [`Fault::PaidAfterCancel`] applies.
pub async fn answer(
    state: &AppState,
    signed: &Signed,
    endpoint: Endpoint,
    apply: impl FnOnce(&mut Ledger, chrono::DateTime<chrono::Utc>, bool) -> Result<Answer, ApiError>,
) -> Response {
    let fault = fault::take(&mut lock(&state.faults), endpoint);
    let outcome = match fault {
        Some(Fault::ServerError { status, processed: false }) => Err(ApiError::server_error(status)),
        Some(Fault::Refuse) => Err(ApiError::new(ResultCode::UnacceptableOp, "refused (injected fault)")),
        _ => {
            let now = state.clock.now();
            let paid_after_cancel = fault == Some(Fault::PaidAfterCancel);
            let outcome = apply(&mut lock(&state.ledger), now, paid_after_cancel);
            match fault {
                Some(Fault::ServerError { status, processed: true }) => Err(ApiError::server_error(status)),
                _ => outcome,
            }
        }
    };
    let code = match &outcome {
        Ok(answer) => answer.code.clone(),
        Err(error) => error.code.clone(),
    };
    state.record(&signed.method, &signed.path, Some(&signed.api_key), code);
    let response = match outcome {
        Ok(mut answer) => {
            if let (Some(Fault::MisreportAmount { yen }), Some(data)) = (fault, answer.data.as_mut()) {
                misreport_amount(data, yen);
            }
            error::success(answer.status, answer.code, answer.data)
        }
        Err(error) => error.into_response(),
    };
    match fault {
        Some(Fault::Delay { ms }) => {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(ms)) => response,
                () = state.shutdown.cancelled() => ApiError::new(ResultCode::ServiceUnavailable, "shutting down").into_response(),
            }
        }
        Some(Fault::NoAnswer) => {
            state.shutdown.cancelled().await;
            ApiError::new(ResultCode::ServiceUnavailable, "shutting down").into_response()
        }
        _ => response,
    }
}

/// Shifts `amount.amount` of an answer's data by `yen` (the [`Fault::MisreportAmount`] fault).
fn misreport_amount(data: &mut serde_json::Value, yen: i64) {
    if let Some(amount) = data.pointer_mut("/amount/amount") {
        if let Some(value) = amount.as_i64() {
            *amount = serde_json::Value::from(value.saturating_add(yen));
        }
    }
}

/// A path segment that must be a merchant reference.
pub fn reference<T: std::str::FromStr<Err = qr_protocol::IdError>>(
    segment: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<T, ApiError> {
    let axum::extract::Path(text) = segment.map_err(|error| ApiError::invalid_params(error.body_text()))?;
    text.parse::<T>().map_err(|error| ApiError::invalid_params(error.to_string()))
}
