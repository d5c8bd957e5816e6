//! Who am I, metrics, and the audit log's verification.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use pos_config::{Role, Scope};
use pos_core::api::WhoAmI;

use super::error::ApiError;
use crate::access::Caller;
use crate::journal::audit::{self, Verification};
use crate::AppState;

pub async fn me(State(app): State<AppState>, Extension(caller): Extension<Caller>) -> Json<WhoAmI> {
    Json(who_am_i(&app, &caller))
}

pub fn who_am_i(app: &AppState, caller: &Caller) -> WhoAmI {
    let facilities = caller
        .readable_facilities(&app.config)
        .unwrap_or_else(|| app.config.facilities.iter().map(|f| f.id.clone()).collect());
    let register_id = match &caller.scope {
        Scope::Register { register, .. } => Some(register.clone()),
        _ => None,
    };
    WhoAmI { user: caller.user.clone(), role: caller.role.code().to_string(), facilities, register_id }
}

/// Prometheus exposition. Authenticated like every endpoint: Prometheus sends the token with
/// `authorization.credentials` in its scrape configuration.
pub async fn metrics(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_role(&[Role::Admin, Role::Treasury])?;
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render()))
}

pub async fn verify_audit(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Verification>, ApiError> {
    caller.require_role(&[Role::Admin, Role::Treasury])?;
    Ok(Json(audit::verify(&app.journal).await?))
}
