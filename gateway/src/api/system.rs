//! Who am I, metrics, liveness and readiness, and the audit log's verification.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use pos_config::{Role, Scope};
use pos_core::api::WhoAmI;

use super::error::ApiError;
use crate::access::Caller;
use crate::health::{self, Readiness, ReadinessSummary};
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
    caller.require_role(&MONITORING_ROLES)?;
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render()))
}

/// Who may read the metrics and the readiness detail.
pub const MONITORING_ROLES: [Role; 3] = [Role::Admin, Role::Treasury, Role::Metrics];

/// Liveness: the process answers. No credentials, no data, nothing checked (see [`crate::health`]).
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "alive" }))
}

/// Readiness: `200` ready or degraded, `503` unready. Without credentials the verdict alone; with
/// an admin, treasury or metrics token every check behind it (any other role: `403`).
pub async fn readyz(
    State(app): State<AppState>,
    caller: Option<Extension<Caller>>,
) -> Result<axum::response::Response, ApiError> {
    if let Some(Extension(caller)) = &caller {
        caller.require_role(&MONITORING_ROLES)?;
    }
    let report = health::readiness(&app).await;
    let status = if report.status == Readiness::Unready {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    } else {
        axum::http::StatusCode::OK
    };
    Ok(match caller {
        Some(_) => (status, Json(report)).into_response(),
        None => (status, Json(ReadinessSummary { status: report.status })).into_response(),
    })
}

pub async fn verify_audit(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Verification>, ApiError> {
    caller.require_role(&[Role::Admin, Role::Treasury])?;
    Ok(Json(audit::verify(&app.journal).await?))
}
