//! Payments: their live status for the register ("waiting for card", "approved", "declined",
//! "checking — do not retry"), cancelling one still waiting, treasury's list of payments in doubt
//! and its resolution, refunds, and the supervisor's approval of a clerk's refund. The decisions
//! are [`crate::payments`]'s; here requests are parsed, authenticated and answered.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use pos_config::Role;
use pos_core::api::{
    ApprovalCodeRequest, ApprovalDecision, ApprovalState, PaymentList, PaymentView, RefundApprovalList,
    RefundApprovalRequest, RefundRequest, ResolveRequest, APPROVAL_CODE_CHARS_MAX, REASON_CHARS_MAX,
};
use pos_core::PaymentState;
use serde::Deserialize;

use super::auth::with_audit_detail;
use super::error::ApiError;
use super::extract::{Idempotent, QueryParams};
use super::idempotency::{begin, Begun};
use crate::access::Caller;
use crate::journal::payments;
use crate::AppState;

/// The most payments one list returns.
pub const PAYMENT_LIST_MAX: i64 = 1_000;

pub async fn get(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(payment_id): Path<String>,
) -> Result<Json<PaymentView>, ApiError> {
    let mut conn = app.journal.read().await?;
    let payment =
        payments::load(&mut conn, &payment_id, "").await?.ok_or_else(|| ApiError::not_found("payment", &payment_id))?;
    caller.require_read(&app.config, &facility_of(&payment.facility_id)?)?;
    Ok(Json(payment.view))
}

fn facility_of(id: &str) -> Result<pos_core::FacilityId, ApiError> {
    pos_core::FacilityId::parse(id).map_err(|_| ApiError::internal("payment of a malformed facility id"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentQuery {
    pub facility_id: Option<pos_core::FacilityId>,
    pub state: Option<PaymentState>,
    pub limit: Option<i64>,
}

pub async fn list(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    QueryParams(query): QueryParams<PaymentQuery>,
) -> Result<Json<PaymentList>, ApiError> {
    let facilities = super::sales::facility_filter(&app, &caller, query.facility_id.as_ref())?;
    let mut conn = app.journal.read().await?;
    let limit = query.limit.unwrap_or(PAYMENT_LIST_MAX).clamp(1, PAYMENT_LIST_MAX);
    Ok(Json(PaymentList { payments: payments::list(&mut conn, facilities.as_deref(), query.state, limit).await? }))
}

/// Cancels a card or e-money payment still waiting for the card, or a QR payment not yet paid.
pub async fn cancel(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(payment_id): Path<String>,
    request: Idempotent<serde_json::Value>,
) -> Result<Response, ApiError> {
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let outcome =
        crate::payments::resolve::cancel(&app, &mut itx.tx, &caller, &payment_id).await.map_err(ApiError::from);
    let qr_cancel = outcome.as_ref().ok().is_some_and(|p| p.method == pos_core::Method::Qr);
    let response = itx.complete(outcome.map(|payment| (StatusCode::OK, payment))).await?;
    // The cancel is journaled; now withdraw the code and check nobody paid meanwhile.
    if qr_cancel {
        crate::payments::qr::spawn_resolve(&app, &payment_id);
    }
    Ok(response)
}

fn checked_text(text: &str, field: &'static str, what: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > REASON_CHARS_MAX {
        return Err(ApiError::unprocessable(
            if field == "note" { "invalid_note" } else { "invalid_reason" },
            format!("{what} in 1 to {REASON_CHARS_MAX} characters"),
        )
        .at(field));
    }
    Ok(text.to_string())
}

/// Treasury settles a payment left in doubt.
pub async fn resolve(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(payment_id): Path<String>,
    request: Idempotent<ResolveRequest>,
) -> Result<Response, ApiError> {
    caller.require_role(&[Role::Treasury])?;
    let note = checked_text(&request.body.note, "note", "say how it was resolved")?;
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let outcome =
        crate::payments::resolve::resolve(&app, &mut itx.tx, &caller, &payment_id, request.body.outcome, &note)
            .await
            .map_err(ApiError::from)
            .map(|payment| (StatusCode::OK, payment));
    itx.complete(outcome).await
}

/// Gives money back on a payment: through its acquirer where the brand allows (answered 202 at
/// once; the outcome follows on the payment and the refund), or as cash that treasury records. A
/// clerk's refund carries a supervisor's one-time approval code; without one the clerk asks for
/// approval instead ([`request_refund`]).
pub async fn refund(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(payment_id): Path<String>,
    request: Idempotent<RefundRequest>,
) -> Result<Response, ApiError> {
    let reason = checked_text(&request.body.reason, "reason", "give a reason")?;
    if request.body.amount.get() <= 0 {
        return Err(ApiError::unprocessable("invalid_amount", "a refund is a positive amount of yen").at("amount"));
    }
    let code = match &request.body.approval_code {
        Some(code) if code.is_empty() || code.chars().count() > APPROVAL_CODE_CHARS_MAX => {
            return Err(ApiError::forbidden("the approval code is not valid for this payment and amount"));
        }
        code => code.clone(),
    };
    // A replayed request is answered before its code is checked again (the code is spent).
    if let Some(replay) = crate::api::idempotency::replay(&app, &caller, &request).await? {
        return Ok(replay);
    }
    let checked = match (&code, caller.role) {
        (Some(code), Role::Clerk) => {
            // A clerk's wrong codes are throttled like wrong tokens (beside each code's own lock).
            let key = crate::api::throttle::ThrottleKey::User(caller.user.to_string());
            if let Some(wait) = app.throttle.blocked(&key, std::time::Instant::now()) {
                return Ok(crate::api::throttle::too_many(wait));
            }
            match crate::payments::approvals::check_code(&app, &caller, &payment_id, request.body.amount, code).await {
                Ok(checked) => Some(checked),
                Err(refusal) if refusal.kind == crate::refusal::RefusalKind::Forbidden => {
                    metrics::counter!("auth_failures_total", "route" => "approval_code").increment(1);
                    if let Some(wait) = app.throttle.failed(&[key], std::time::Instant::now()) {
                        return Ok(crate::api::throttle::too_many(wait));
                    }
                    return Err(refusal.into());
                }
                Err(other) => return Err(other.into()),
            }
        }
        _ => None,
    };
    let stan = crate::payments::refunds::reserve_stan(&app, &payment_id).await?;
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let approver = checked.as_ref().map(|c| c.approver.to_string());
    let mut outcome = crate::payments::refunds::refund(
        &app,
        &mut itx.tx,
        &caller,
        approver.as_deref(),
        &payment_id,
        &request.body,
        &reason,
        stan,
    )
    .await
    .map_err(ApiError::from);
    if let (Ok(refund), Some(checked)) = (&outcome, &checked) {
        let now = app.clock.now();
        if let Err(refusal) = crate::payments::approvals::consume_code(&mut itx.tx, checked, &caller, refund, now).await
        {
            outcome = Err(refusal.into());
        }
    }
    let to_send = outcome.as_ref().ok().filter(|r| r.state == pos_core::RefundState::Authorizing).map(|r| r.id.clone());
    let detail = outcome.as_ref().ok().map(|r| {
        format!(
            "refund {} of payment {payment_id}: {} yen, approved by {}",
            r.id,
            r.amount.get(),
            r.approved_by.as_ref().map_or("-", |a| a.as_str())
        )
    });
    let response = itx
        .complete(outcome.map(|refund| {
            (
                if refund.state == pos_core::RefundState::Authorizing {
                    StatusCode::ACCEPTED
                } else {
                    StatusCode::CREATED
                },
                refund,
            )
        }))
        .await?;
    if let Some(refund_id) = to_send {
        crate::payments::refunds::spawn_send(&app, &refund_id);
    }
    Ok(match detail {
        Some(detail) => with_audit_detail(response, detail),
        None => response,
    })
}

/// A clerk asks a supervisor to approve a refund.
pub async fn request_refund(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(payment_id): Path<String>,
    request: Idempotent<RefundApprovalRequest>,
) -> Result<Response, ApiError> {
    let reason = checked_text(&request.body.reason, "reason", "give a reason")?;
    if request.body.amount.get() <= 0 {
        return Err(ApiError::unprocessable("invalid_amount", "a refund is a positive amount of yen").at("amount"));
    }
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let outcome =
        crate::payments::approvals::request(&app, &mut itx.tx, &caller, &payment_id, request.body.amount, &reason)
            .await
            .map_err(ApiError::from)
            .map(|view| (StatusCode::CREATED, view));
    itx.complete(outcome).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalQuery {
    pub state: Option<ApprovalState>,
}

/// Refund requests: a supervisor's to decide, a clerk's own.
pub async fn refund_requests(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    QueryParams(query): QueryParams<ApprovalQuery>,
) -> Result<Json<RefundApprovalList>, ApiError> {
    caller.require_role(&[Role::Clerk, Role::Operator, Role::Treasury])?;
    Ok(Json(RefundApprovalList { requests: crate::payments::approvals::list(&app, &caller, query.state).await? }))
}

pub async fn refund_request(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<pos_core::api::RefundApprovalView>, ApiError> {
    Ok(Json(crate::payments::approvals::get(&app, &caller, &id).await?))
}

async fn decide(
    app: AppState,
    caller: Caller,
    id: String,
    request: Idempotent<ApprovalDecision>,
    approve: bool,
) -> Result<Response, ApiError> {
    caller.require_role(&[Role::Operator, Role::Treasury])?;
    if request.body.note.chars().count() > REASON_CHARS_MAX {
        return Err(ApiError::unprocessable(
            "invalid_note",
            format!("a note has at most {REASON_CHARS_MAX} characters"),
        )
        .at("note"));
    }
    if let Some(replay) = crate::api::idempotency::replay(&app, &caller, &request).await? {
        return Ok(replay);
    }
    let stan = match approve {
        true => {
            let payment_id = crate::payments::approvals::get(&app, &caller, &id).await?.payment_id;
            crate::payments::refunds::reserve_stan(&app, &payment_id).await?
        }
        false => None,
    };
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let outcome =
        crate::payments::approvals::decide(&app, &mut itx.tx, &caller, &id, approve, request.body.note.trim(), stan)
            .await
            .map_err(ApiError::from);
    let to_send = outcome.as_ref().ok().and_then(|d| d.refund_to_send.clone());
    let detail = outcome.as_ref().ok().map(|decided| {
        format!(
            "refund request {id} {} by {}: {} yen of payment {}{}",
            decided.view.state.code(),
            caller.user,
            decided.view.amount.get(),
            decided.view.payment_id,
            decided.view.refund.as_ref().map(|r| format!(", refund {}", r.id)).unwrap_or_default()
        )
    });
    let response = itx.complete(outcome.map(|decided| (StatusCode::OK, decided.view))).await?;
    if let Some(refund_id) = to_send {
        crate::payments::refunds::spawn_send(&app, &refund_id);
    }
    Ok(match detail {
        Some(detail) => with_audit_detail(response, detail),
        None => response,
    })
}

pub async fn approve_refund_request(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    request: Idempotent<ApprovalDecision>,
) -> Result<Response, ApiError> {
    decide(app, caller, id, request, true).await
}

pub async fn reject_refund_request(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    request: Idempotent<ApprovalDecision>,
) -> Result<Response, ApiError> {
    decide(app, caller, id, request, false).await
}

/// A supervisor issues a one-time code approving a refund of an amount of a payment (shown once).
pub async fn issue_approval_code(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(payment_id): Path<String>,
    request: Idempotent<ApprovalCodeRequest>,
) -> Result<Response, ApiError> {
    caller.require_role(&[Role::Operator, Role::Treasury])?;
    // A code is shown once: a repeated request issues a new one rather than replaying the first.
    let mut tx = app.journal.begin_write().await?;
    let outcome =
        crate::payments::approvals::issue_code(&app, &mut tx, &caller, &payment_id, request.body.amount).await;
    match outcome {
        Ok(view) => {
            tx.commit().await?;
            let detail =
                format!("approval code for payment {payment_id}: {} yen, by {}", view.amount.get(), caller.user);
            let response = axum::response::IntoResponse::into_response((StatusCode::CREATED, Json(view)));
            Ok(with_audit_detail(response, detail))
        }
        Err(refusal) => {
            tx.rollback().await?;
            Err(refusal.into())
        }
    }
}
