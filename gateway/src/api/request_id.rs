//! Every request has an id: the caller's `X-Request-Id` when it is a sensible one, else one the
//! gateway makes. The id is echoed on the answer, carried by the request's tracing span (so every
//! log line written while serving it names it) and written into its audit record, so that a
//! clerk's complaint, a log line, a proxy's access log and an audit record can be matched.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header, in both directions.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest id accepted from a caller; a longer one is replaced, not truncated, so an id in the
/// logs is always exactly what some party sent or made.
pub const REQUEST_ID_CHARS_MAX: usize = 64;

/// A request's id, in the request's extensions for the handlers and the audit layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The caller's id if it is 1 to [`REQUEST_ID_CHARS_MAX`] characters of `A-Za-z0-9._-` (what
    /// proxies and tracing systems send: UUIDs, hex, dotted ids); anything else could smuggle
    /// text into the logs, and is not used.
    pub fn from_caller(value: &str) -> Option<RequestId> {
        let acceptable = !value.is_empty()
            && value.len() <= REQUEST_ID_CHARS_MAX
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        acceptable.then(|| RequestId(value.to_string()))
    }

    /// A fresh id: a random UUID in its 32-hex-digit form.
    pub fn new() -> RequestId {
        RequestId(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> RequestId {
        RequestId::new()
    }
}

/// The outermost layer: settles the id, serves the request inside a span that carries it, and
/// echoes it on the answer.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(RequestId::from_caller)
        .unwrap_or_default();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_string();
    // The payment and sale are filled in by the payments module once the request names them.
    let span = tracing::info_span!(
        "request",
        request_id = %id.as_str(),
        method = %request.method(),
        route = %route,
        payment_id = tracing::field::Empty,
        sale_id = tracing::field::Empty,
    );
    request.extensions_mut().insert(id.clone());
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    // The access log line, at debug: the audit log already records every call durably.
    span.in_scope(|| {
        tracing::debug!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis(),
            "request served"
        );
    });
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensible_ids_are_kept_and_others_replaced() {
        for kept in ["a", "0f3c2a9e-1b7d-4c52-9a61-2f0e8d1c7b44", "req.2026-11-24_0001", &"x".repeat(64)] {
            assert_eq!(RequestId::from_caller(kept).map(|id| id.0), Some(kept.to_string()), "{kept}");
        }
        for refused in ["", &"x".repeat(65), "a b", "id\nforged log line", "ｉｄ", "a/b", "a;b"] {
            assert_eq!(RequestId::from_caller(refused), None, "{refused:?}");
        }
        let made = RequestId::new();
        assert_eq!(made.as_str().len(), 32);
        assert!(RequestId::from_caller(made.as_str()).is_some());
        assert_ne!(made, RequestId::new());
    }
}
