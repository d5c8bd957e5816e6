//! Request bodies: JSON parsed strictly into API types, with errors that name the field, and the
//! idempotency key of money-moving requests.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use pos_core::api::{IDEMPOTENCY_KEY_CHARS_MAX, IDEMPOTENCY_KEY_HEADER};

use super::error::ApiError;

/// A JSON body, refused with a precise message (what and where) when it does not parse.
pub struct JsonBody<T>(pub T);

/// A JSON body with its `Idempotency-Key` and the hash that tells a repeat from a different
/// request under the same key.
pub struct Idempotent<T> {
    pub key: String,
    pub request_hash: String,
    pub body: T,
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("request body is not valid JSON: {inner}")
        } else {
            format!("invalid request: {inner}")
        };
        let error = ApiError::bad_request("invalid_request", message);
        if path.is_empty() || path == "." {
            error
        } else {
            error.at(path)
        }
    })
}

async fn read_json_bytes(request: Request) -> Result<Bytes, ApiError> {
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.starts_with("application/json") {
        return Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the request body as JSON with `Content-Type: application/json`",
        ));
    }
    Bytes::from_request(request, &()).await.map_err(|rejection| {
        ApiError::new(
            rejection.status(),
            "invalid_body",
            format!("request body could not be read: {}", rejection.body_text()),
        )
    })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_json_bytes(request).await?;
        Ok(JsonBody(parse_json(&bytes)?))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Idempotent<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let key = request
            .headers()
            .get(IDEMPOTENCY_KEY_HEADER)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "idempotency_key_missing",
                    "this request moves money or state: send an Idempotency-Key header (a fresh UUID per action)",
                )
            })?
            .to_str()
            .map_err(|_| ApiError::bad_request("idempotency_key_invalid", "Idempotency-Key must be printable ASCII"))?
            .to_string();
        if key.is_empty() || key.len() > IDEMPOTENCY_KEY_CHARS_MAX || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::bad_request(
                "idempotency_key_invalid",
                format!("Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_CHARS_MAX} printable ASCII characters"),
            ));
        }
        let method = request.method().to_string();
        let path = request.uri().path().to_string();
        let bytes = read_json_bytes(request).await?;
        let fingerprint = without_credentials(&bytes);
        let mut hasher = Sha256::new();
        for part in [method.as_bytes(), path.as_bytes(), &fingerprint[..]] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        let request_hash = hex::encode(hasher.finalize());
        Ok(Idempotent { key, request_hash, body: parse_json(&bytes)? })
    }
}

/// Body fields that are bearer credentials: never kept, not even inside an idempotency key's
/// request hash (a short code's hash is easily reversed). A customer code is replaced by its mask,
/// an approval code dropped; so two requests under one key that differ only there count as one.
const CREDENTIAL_FIELDS: [&str; 2] = ["customer_code", "approval_code"];

/// The body as the idempotency record fingerprints it.
fn without_credentials(bytes: &[u8]) -> Vec<u8> {
    let Ok(serde_json::Value::Object(mut object)) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return bytes.to_vec();
    };
    if !CREDENTIAL_FIELDS.iter().any(|field| object.contains_key(*field)) {
        return bytes.to_vec();
    }
    for field in CREDENTIAL_FIELDS {
        if let Some(serde_json::Value::String(value)) = object.get(field) {
            let masked = if field == "customer_code" { pos_core::mask_if_customer_code(value) } else { String::new() };
            object.insert(field.to_string(), serde_json::Value::String(masked));
        }
    }
    serde_json::to_vec(&object).unwrap_or_default()
}

/// Query parameters, refused with the JSON error body (not axum's plain text) when they do not
/// parse.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|query| QueryParams(query.0))
            .map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))
    }
}
