//! The HTTP API, versioned under `/v1`: one module per resource, one error type, one
//! authentication and audit layer over every route.

pub mod analytics;
pub mod auth;
pub mod devices;
pub mod display;
pub mod error;
pub mod exports;
pub mod extract;
pub mod facilities;
pub mod idempotency;
pub mod openapi;
pub mod payments;
pub mod reports;
pub mod request_id;
pub mod sales;
pub mod session;
pub mod shifts;
pub mod system;
pub mod throttle;
pub mod treasury;

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
        .route("/v1/payments/{id}/refund-requests", post(payments::request_refund))
        .route("/v1/payments/{id}/approval-codes", post(payments::issue_approval_code))
        .route("/v1/refund-requests", get(payments::refund_requests))
        .route("/v1/refund-requests/{id}", get(payments::refund_request))
        .route("/v1/refund-requests/{id}/approve", post(payments::approve_refund_request))
        .route("/v1/refund-requests/{id}/reject", post(payments::reject_refund_request))
        .route("/v1/registers/{id}/display", get(display::page))
        .route("/v1/registers/{id}/commands", post(devices::queue).get(devices::list))
        .route("/v1/devices/{register}/commands/next", get(devices::next))
        .route("/v1/devices/{register}/commands/{id}/result", post(devices::result))
        .route("/v1/devices/{register}/health", post(devices::health))
        .route("/v1/facilities", get(facilities::list))
        .route("/v1/facilities/{id}", get(facilities::get))
        .route("/v1/session", post(session::sign_in))
        .route("/v1/session/sign-out", post(session::sign_out))
        .route("/v1/users/{name}/sessions/revoke", post(session::revoke))
        .route(
            "/v1/treasury/files",
            post(treasury::upload).get(treasury::files).layer(DefaultBodyLimit::max(treasury::TREASURY_FILE_BYTES_MAX)),
        )
        .route("/v1/treasury/days/{date}", get(treasury::board))
        .route("/v1/treasury/days/{date}/reconcile", post(treasury::reconcile))
        .route("/v1/treasury/days/{date}/run", get(treasury::latest_run))
        .route("/v1/treasury/runs/{id}", get(treasury::run))
        .route("/v1/treasury/days/{date}/accounting-export", get(treasury::accounting_export))
        .route("/v1/treasury/days/{date}/bank", get(treasury::bank_statement))
        .route("/v1/treasury/days/{date}/facilities/{id}/report", get(treasury::day_report))
        .route("/v1/treasury/days/{date}/facilities/{id}/close", post(treasury::close_day))
        .route("/v1/treasury/exceptions", get(treasury::exceptions))
        .route("/v1/treasury/exceptions/{id}/resolve", post(treasury::resolve_exception))
        .merge(crate::web::routes())
        .merge(crate::web::open_data::routes(&app))
        .route("/v1/analytics/{chart}", get(analytics::chart))
        .route("/v1/exports/tidy", get(exports::tidy))
        .route("/v1/reports/monthly", get(reports::monthly))
        .route("/v1/audit/verify", get(system::verify_audit))
        .route("/metrics", get(system::metrics))
        .route("/v1/openapi.json", get(openapi::document_json))
        .route("/v1/docs", get(openapi::docs_page))
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
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
        // Outermost, so that even a refusal by the layers inside carries the request's id.
        .layer(axum::middleware::from_fn(request_id::assign))
        .with_state(app)
}
