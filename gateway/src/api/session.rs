//! Signing in to the pages: the user gives their token once; the gateway answers with a session
//! cookie that carries it (`HttpOnly`, so no script can read it; `SameSite=Strict`, so no other
//! site can send it), and the pages then call the same API as every other client.
//!
//! The cookie holds the token itself rather than a server-side session so that a gateway restart
//! does not sign every counter out in the middle of a shift; the token is already the user's
//! long-lived credential, and signing out clears it from the browser.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use pos_config::Role;
use serde::Deserialize;

use super::auth::{caller_of_token, SESSION_COOKIE, TOKEN_CHARS_MAX};
use super::error::ApiError;
use super::system::who_am_i;
use crate::access::Caller;
use crate::AppState;

/// How long a page session lasts: a long counter day, after which the clerk signs in again.
pub const SESSION_SECONDS: u32 = 12 * 60 * 60;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub token: String,
}

/// Characters a token may have to travel in a cookie unquoted.
fn cookie_safe(token: &str) -> bool {
    token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
}

fn cookie(value: &str, max_age: u32) -> String {
    format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}")
}

pub async fn sign_in(State(app): State<AppState>, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let request: SignIn = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("sign-in body: {e}")).at("token"))?;
    let token = request.token.trim();
    if token.len() > TOKEN_CHARS_MAX || !cookie_safe(token) {
        return Err(ApiError::unauthenticated("unknown token").at("token"));
    }
    let caller = caller_of_token(&app.config, token).map_err(|e| e.at("token"))?;
    if matches!(caller.role, Role::Device | Role::Metrics) {
        return Err(
            ApiError::forbidden(format!("a {} token cannot sign in to the pages", caller.role.code())).at("token")
        );
    }
    let me = who_am_i(&app, &caller);
    Ok(([(SET_COOKIE, cookie(token, SESSION_SECONDS))], Json(me)).into_response())
}

pub async fn sign_out(Extension(_caller): Extension<Caller>) -> Response {
    ([(SET_COOKIE, cookie("", 0))], Json(serde_json::json!({ "signed_out": true }))).into_response()
}
