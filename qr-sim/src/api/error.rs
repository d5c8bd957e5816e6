//! The one error of the HTTP layer, turned into the provider's JSON error body in exactly one
//! place ([`IntoResponse`]).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use qr_protocol::{Envelope, ResultCode};

/// A refusal: its result code, a message, and the HTTP status (the code's own unless a fault
/// overrides it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ResultCode,
    pub message: String,
    pub status: u16,
}

impl ApiError {
    pub fn new(code: ResultCode, message: impl Into<String>) -> ApiError {
        let status = code.http_status();
        ApiError { code, message: message.into(), status }
    }

    pub fn invalid_params(message: impl Into<String>) -> ApiError {
        ApiError::new(ResultCode::InvalidParams, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(ResultCode::Unauthorized, message)
    }

    /// An injected server error.
    pub fn server_error(status: u16) -> ApiError {
        ApiError { status, ..ApiError::new(ResultCode::InternalServerError, "injected fault") }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(Envelope::<()>::error(self.code, self.message))).into_response()
    }
}

/// A success answer: `{"resultInfo": {"code": "SUCCESS" …}, "data": …}` with its status.
pub fn success<T: serde::Serialize>(status: StatusCode, code: ResultCode, data: Option<T>) -> Response {
    let body = match data {
        Some(data) => Envelope::success(code, data),
        None => Envelope { data: None, ..Envelope::<T>::error(code.clone(), code.as_str()) },
    };
    (status, Json(body)).into_response()
}
