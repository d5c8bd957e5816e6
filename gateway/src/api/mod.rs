//! The HTTP API, versioned under `/v1`: one module per resource, one error type, one
//! authentication and audit layer over every route.

pub mod analytics;
pub mod auth;
pub mod devices;
pub mod display;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod payments;
pub mod sales;
pub mod shifts;
pub mod system;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tower_http::timeout::TimeoutLayer;

use crate::AppState;

pub fn router(app: AppState) -> Router {
    let body_limit = app.config.server.request_body_bytes_max;
    let timeout = Duration::from_millis(app.config.server.request_timeout_ms);
    Router::new()
        .route("/v1/me", get(system::me))
        .route("/v1/shifts", post(shifts::open).get(shifts::list))
        .route("/v1/shifts/{id}", get(shifts::get))
        .route("/v1/shifts/{id}/close", post(shifts::close))
        .route("/v1/sales", post(sales::create).get(sales::list))
        .route("/v1/sales/{id}", get(sales::get))
        .route("/v1/sales/{id}/payments", post(sales::pay))
        .route("/v1/sales/{id}/void", post(sales::void))
        .route("/v1/payments", get(payments::list))
        .route("/v1/payments/{id}", get(payments::get))
        .route("/v1/payments/{id}/cancel", post(payments::cancel))
        .route("/v1/payments/{id}/resolve", post(payments::resolve))
        .route("/v1/payments/{id}/refunds", post(payments::refund))
        .route("/v1/registers/{id}/display", get(display::page))
        .route("/v1/registers/{id}/commands", post(devices::queue).get(devices::list))
        .route("/v1/devices/{register}/commands/next", get(devices::next))
        .route("/v1/devices/{register}/commands/{id}/result", post(devices::result))
        .route("/v1/devices/{register}/health", post(devices::health))
        .route("/v1/analytics/{chart}", get(analytics::chart))
        .route("/v1/audit/verify", get(system::verify_audit))
        .route("/metrics", get(system::metrics))
        // The timeout sits inside the audit layer, so a request cut off by it is still recorded.
        .route_layer(TimeoutLayer::with_status_code(axum::http::StatusCode::SERVICE_UNAVAILABLE, timeout))
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), auth::authenticate_and_audit))
        .fallback(|| async {
            error::ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "no_such_route",
                "no such endpoint; the API lives under /v1",
            )
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(app)
}
