//! Signing in to the pages: the user gives their token once; the gateway opens a session on the
//! server and answers with a cookie that carries the session's random id (never the token):
//! `HttpOnly` (no script reads it), `SameSite=Strict` (no other site sends it), `Secure` when the
//! gateway is reached over https. Only the id's SHA-256 is stored (`journal::sessions`).
//!
//! A session ends at the first of: its absolute expiry and its idle expiry (per role,
//! `[server.sessions]`: a clerk's lasts a shift, treasury's is short), sign-out, an
//! administrator's revocation of the user's sessions (`POST /v1/users/{name}/sessions/revoke`), or
//! a change of the user's token in the configuration. Sessions are in the journal, so a gateway
//! restart does not sign the counters out mid-shift.

use axum::extract::{Path, State};
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use chrono::Duration as Span;
use pos_config::Role;
use rand::RngCore;
use serde::Deserialize;

use super::auth::{caller_of_token, SessionHash, SESSION_COOKIE, TOKEN_CHARS_MAX};
use super::error::ApiError;
use super::system::who_am_i;
use crate::access::Caller;
use crate::http_server::Transport;
use crate::journal::sessions::{self, NewSession};
use crate::AppState;

/// Random bytes in a session id (256 bits).
pub const SESSION_ID_BYTES: usize = 32;
/// A session's idle expiry is moved on at most this often (one write a minute per session, not
/// one per request).
pub const SESSION_TOUCH_SECONDS: i64 = 60;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub token: String,
}

/// Characters a token or session id may have to travel in a cookie unquoted.
fn cookie_safe(token: &str) -> bool {
    token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
}

fn cookie(value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// Whether the caller reached the gateway over https: its own TLS, or a proxy in front of it
/// whose public address (`server.public_url`) is https.
pub fn over_https(app: &AppState, transport: Option<&Transport>) -> bool {
    transport.is_some_and(|t| t.tls)
        || app.config.server.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
}

fn session_hash(id: &str) -> String {
    pos_config::token_sha256(id)
}

/// The caller a session cookie's id belongs to, if the session is live; ends it when it has
/// expired or its user's token has changed.
pub async fn caller_of_session(app: &AppState, id: &str) -> Result<(Caller, SessionHash), ApiError> {
    if id.is_empty() || id.len() > TOKEN_CHARS_MAX || !cookie_safe(id) {
        return Err(ApiError::unauthenticated("no such session: sign in again"));
    }
    let hash = session_hash(id);
    let row = sessions::find(&app.journal, &hash)
        .await?
        .ok_or_else(|| ApiError::unauthenticated("no such session: sign in again"))?;
    if row.ended {
        return Err(ApiError::unauthenticated("the session has ended: sign in again"));
    }
    let now = app.clock.now();
    if now >= row.absolute_expires_at || now >= row.idle_expires_at {
        sessions::end(&app.journal, &hash, now, "expired").await?;
        return Err(ApiError::unauthenticated("the session has expired: sign in again"));
    }
    let user = app.config.users.iter().find(|user| user.name.as_str() == row.user_name);
    let user = match user {
        Some(user) if user.token_sha256 == row.token_sha256 && user.role.code() == row.role => user,
        _ => {
            sessions::end(&app.journal, &hash, now, "token changed").await?;
            return Err(ApiError::unauthenticated("the user's token has changed: sign in again"));
        }
    };
    if now - row.last_seen_at >= Span::seconds(SESSION_TOUCH_SECONDS) {
        if let Some(lifetime) = app.config.server.sessions.of(user.role) {
            let idle = (now + Span::minutes(i64::from(lifetime.idle_minutes))).min(row.absolute_expires_at);
            sessions::touch(&app.journal, &hash, now, idle).await?;
        }
    }
    Ok((Caller { user: user.name.clone(), role: user.role, scope: user.scope.clone() }, SessionHash(hash)))
}

pub async fn sign_in(
    State(app): State<AppState>,
    transport: Option<Extension<Transport>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: SignIn = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("sign-in body: {e}")).at("token"))?;
    let token = request.token.trim();
    if token.len() > TOKEN_CHARS_MAX {
        return Err(ApiError::unauthenticated("unknown token").at("token"));
    }
    let caller = caller_of_token(&app.config, token).map_err(|e| e.at("token"))?;
    let Some(lifetime) = app.config.server.sessions.of(caller.role).filter(|_| !matches!(caller.role, Role::Device))
    else {
        return Err(
            ApiError::forbidden(format!("a {} token cannot sign in to the pages", caller.role.code())).at("token")
        );
    };
    let mut bytes = [0u8; SESSION_ID_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let now = app.clock.now();
    let absolute = now + Span::minutes(i64::from(lifetime.absolute_minutes));
    let hash = session_hash(&id);
    sessions::create(
        &app.journal,
        &NewSession {
            id_sha256: &hash,
            user_name: caller.user.as_str(),
            role: caller.role.code(),
            token_sha256: &pos_config::token_sha256(token),
            now,
            idle_expires_at: now + Span::minutes(i64::from(lifetime.idle_minutes)),
            absolute_expires_at: absolute,
        },
    )
    .await?;
    let secure = over_https(&app, transport.as_ref().map(|t| &t.0));
    let me = who_am_i(&app, &caller);
    let response =
        ([(SET_COOKIE, cookie(&id, i64::from(lifetime.absolute_minutes) * 60, secure))], Json(me)).into_response();
    Ok(super::auth::with_audit_detail(response, format!("signed in {} ({})", caller.user, caller.role.code())))
}

pub async fn sign_out(
    State(app): State<AppState>,
    Extension(_caller): Extension<Caller>,
    session: Option<Extension<SessionHash>>,
    transport: Option<Extension<Transport>>,
) -> Result<Response, ApiError> {
    if let Some(Extension(SessionHash(hash))) = session {
        sessions::end(&app.journal, &hash, app.clock.now(), "signed out").await?;
    }
    let secure = over_https(&app, transport.as_ref().map(|t| &t.0));
    Ok(([(SET_COOKIE, cookie("", 0, secure))], Json(serde_json::json!({ "signed_out": true }))).into_response())
}

/// `POST /v1/users/{name}/sessions/revoke`: an administrator ends every session of a user at once.
pub async fn revoke(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_role(&[Role::Admin])?;
    if !app.config.users.iter().any(|user| user.name.as_str() == name) {
        return Err(ApiError::not_found("user", &name));
    }
    let ended = sessions::end_for_user(&app.journal, &name, app.clock.now(), "revoked").await?;
    let response = Json(serde_json::json!({ "user": name, "sessions_ended": ended })).into_response();
    Ok(super::auth::with_audit_detail(response, format!("revoked {ended} sessions of {name}")))
}
