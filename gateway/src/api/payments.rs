//! Payments: their live status for the register ("waiting for card", "approved", "declined",
//! "checking — do not retry"), cancelling one still waiting for the card, treasury's list of
//! payments in doubt and its resolution of an e-money outcome left unknown (処理未了).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use pos_config::{RefundRule, Role};
use pos_core::api::{
    PaymentList, PaymentView, RefundMethod, RefundRequest, RefundView, Resolution, ResolveRequest, REASON_CHARS_MAX,
};
use pos_core::{BusinessDate, PaymentState};
use serde::Deserialize;

use super::auth::Caller;
use super::error::ApiError;
use super::extract::{Idempotent, QueryParams};
use super::idempotency::{begin, Begun};
use crate::booking::book_payment;
use crate::journal::events::{self, NewEvent};
use crate::journal::payments::{self, Answer};
use crate::journal::refunds::NewRefund;
use crate::journal::WriteTx;
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

/// Cancels a card or e-money payment still waiting for the card. Once the terminal has sent the
/// authorization the outcome belongs to the acquirer, and cancelling is refused.
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
    let outcome = cancel_in(&app, &mut itx.tx, &caller, &payment_id).await;
    let qr_cancel = outcome.as_ref().ok().is_some_and(|p| p.method == pos_core::Method::Qr);
    let response = itx.complete(outcome.map(|payment| (StatusCode::OK, payment))).await?;
    // The cancel is journaled; now withdraw the code and check nobody paid meanwhile.
    if qr_cancel {
        crate::switch::qr::spawn_resolve(&app, &payment_id);
    }
    Ok(response)
}

async fn cancel_in(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    payment_id: &str,
) -> Result<PaymentView, ApiError> {
    let lock = tx.for_update();
    let payment =
        payments::load(tx.conn(), payment_id, lock).await?.ok_or_else(|| ApiError::not_found("payment", payment_id))?;
    let facility = app
        .config
        .facility(&facility_of(&payment.facility_id)?)
        .ok_or_else(|| ApiError::internal("facility no longer configured"))?;
    let register =
        pos_core::RegisterId::parse(&payment.register_id).map_err(|_| ApiError::internal("malformed register id"))?;
    caller.require_register(facility, &register)?;
    if payment.view.method == pos_core::Method::Qr {
        if payment.view.state != PaymentState::Authorizing {
            return Err(ApiError::conflict(
                "payment_final",
                format!("payment {payment_id} is already {}", payment.view.state),
            ));
        }
        // Not `cancelled` yet: the customer may pay in the instant the code is withdrawn. In doubt
        // until the provider has been asked (and the payment cancelled there if it was paid).
        let now = app.clock.now();
        let note = "cancel requested at the register: withdrawing the QR code — checking, do not retry";
        crate::journal::qr::request_cancel(tx, payment_id, note, now).await?;
        events::append(
            tx.conn(),
            NewEvent {
                at: now,
                actor: caller.user.as_str(),
                kind: "payment.cancel_requested",
                entity_id: payment_id,
                facility_id: &payment.facility_id,
                data: serde_json::json!({ "note": note }),
            },
        )
        .await?;
        return Ok(PaymentView { state: PaymentState::InDoubt, note: Some(note.to_string()), ..payment.view });
    }
    match payment.view.state {
        PaymentState::AwaitingDevice => {}
        PaymentState::Authorizing | PaymentState::InDoubt | PaymentState::Approved => {
            return Err(ApiError::conflict("payment_in_progress", format!("payment {payment_id} is {}: the card has been read and the outcome is with the acquirer — wait for it, do not retry", payment.view.state)));
        }
        state => return Err(ApiError::conflict("payment_final", format!("payment {payment_id} is already {state}"))),
    }
    let now = app.clock.now();
    let note = "cancelled at the register before the card was read: nothing was charged";
    payments::set_state(tx, payment_id, PaymentState::Cancelled, Some(note), now).await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: caller.user.as_str(),
            kind: "payment.cancelled",
            entity_id: payment_id,
            facility_id: &payment.facility_id,
            data: serde_json::json!({ "note": note }),
        },
    )
    .await?;
    Ok(PaymentView { state: PaymentState::Cancelled, note: Some(note.to_string()), ..payment.view })
}

/// Treasury settles a payment left in doubt: the settlement or the centre's inquiry shows whether
/// the money was taken.
pub async fn resolve(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(payment_id): Path<String>,
    request: Idempotent<ResolveRequest>,
) -> Result<Response, ApiError> {
    caller.require_role(&[Role::Treasury])?;
    let note = request.body.note.trim().to_string();
    if note.is_empty() || note.chars().count() > REASON_CHARS_MAX {
        return Err(ApiError::unprocessable(
            "invalid_note",
            format!("say how it was resolved in 1 to {REASON_CHARS_MAX} characters"),
        )
        .at("note"));
    }
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let outcome = resolve_in(&app, &mut itx.tx, &caller, &payment_id, request.body.outcome, &note)
        .await
        .map(|payment| (StatusCode::OK, payment));
    itx.complete(outcome).await
}

async fn resolve_in(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    payment_id: &str,
    outcome: Resolution,
    note: &str,
) -> Result<PaymentView, ApiError> {
    let lock = tx.for_update();
    let payment =
        payments::load(tx.conn(), payment_id, lock).await?.ok_or_else(|| ApiError::not_found("payment", payment_id))?;
    if payment.view.state != PaymentState::InDoubt {
        return Err(ApiError::conflict(
            "not_in_doubt",
            format!("payment {payment_id} is {}, not in doubt", payment.view.state),
        ));
    }
    if crate::journal::reversals::open_for_payment(tx, payment_id).await? {
        return Err(ApiError::conflict(
            "reversal_pending",
            format!("payment {payment_id} has a reversal in progress; it resolves itself"),
        ));
    }
    let now = app.clock.now();
    let to = match outcome {
        Resolution::Completed => PaymentState::Completed,
        Resolution::Failed => PaymentState::Failed,
    };
    let state = payment
        .view
        .state
        .transition(to, payment.view.method)
        .map_err(|e| ApiError::conflict("illegal_transition", e.to_string()))?;
    let recorded = format!("resolved by {}: {note}", caller.user);
    payments::set_outcome(
        tx,
        payment_id,
        state,
        &Answer { response_code: None, rrn: None, auth_code: None },
        &recorded,
        now,
    )
    .await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: caller.user.as_str(),
            kind: "payment.resolved",
            entity_id: payment_id,
            facility_id: &payment.facility_id,
            data: serde_json::json!({ "state": state, "note": note }),
        },
    )
    .await?;
    if state == PaymentState::Completed {
        book_payment(
            tx,
            &payment.view.sale_id,
            payment.view.amount,
            payment.view.business_date,
            now,
            caller.user.as_str(),
        )
        .await
        .map_err(super::sales::booking_error)?;
    }
    Ok(PaymentView { state, note: Some(recorded), ..payment.view })
}

/// Gives money back on a payment: through its acquirer where the brand allows (answered 202 at
/// once; the outcome follows on the payment and the refund), or as cash that treasury records.
/// The header a clerk's refund carries: the token of the supervisor who approves it (the
/// facility's operator, or treasury). It is checked and named in the refund's reason, never stored.
pub const SUPERVISOR_TOKEN_HEADER: &str = "x-supervisor-token";

/// Who approves a clerk's refund, from [`SUPERVISOR_TOKEN_HEADER`].
fn supervisor(app: &AppState, headers: &axum::http::HeaderMap) -> Result<Option<Caller>, ApiError> {
    let Some(value) = headers.get(SUPERVISOR_TOKEN_HEADER) else { return Ok(None) };
    let token = value.to_str().map_err(|_| ApiError::forbidden("the supervisor token is not valid"))?;
    super::auth::caller_of_token(&app.config, token.trim())
        .map(Some)
        .map_err(|_| ApiError::forbidden("the supervisor token is not valid"))
}

/// A clerk refunds only with the approval of the facility's operator or of treasury.
fn require_approval(
    caller: &Caller,
    approver: Option<&Caller>,
    facility: &pos_config::Facility,
) -> Result<Option<String>, ApiError> {
    if caller.role != Role::Clerk {
        return Ok(None);
    }
    let approver = approver.ok_or_else(|| {
        ApiError::forbidden(format!(
            "a clerk's refund needs a supervisor's approval: send the supervisor's token in {SUPERVISOR_TOKEN_HEADER}"
        ))
    })?;
    let may_approve = match (&approver.role, &approver.scope) {
        (Role::Treasury, _) => true,
        (Role::Operator, pos_config::Scope::Operator(operator)) => {
            facility.owner == pos_config::Owner::Operator(operator.clone())
        }
        _ => false,
    };
    if !may_approve {
        return Err(ApiError::forbidden(format!(
            "{} ({}) may not approve refunds at facility {}",
            approver.user,
            approver.role.code(),
            facility.id
        )));
    }
    Ok(Some(approver.user.to_string()))
}

pub async fn refund(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(payment_id): Path<String>,
    headers: axum::http::HeaderMap,
    request: Idempotent<RefundRequest>,
) -> Result<Response, ApiError> {
    let approver = supervisor(&app, &headers)?;
    let reason = request.body.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > REASON_CHARS_MAX {
        return Err(ApiError::unprocessable(
            "invalid_reason",
            format!("give a reason of 1 to {REASON_CHARS_MAX} characters"),
        )
        .at("reason"));
    }
    if request.body.amount.get() <= 0 {
        return Err(ApiError::unprocessable("invalid_amount", "a refund is a positive amount of yen").at("amount"));
    }
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let outcome = refund_in(&app, &mut itx.tx, &caller, approver.as_ref(), &payment_id, &request.body, &reason).await;
    let to_send = outcome.as_ref().ok().filter(|r| r.state == "authorizing").map(|r| r.id.clone());
    let response = itx
        .complete(outcome.map(|refund| {
            (if refund.state == "authorizing" { StatusCode::ACCEPTED } else { StatusCode::CREATED }, refund)
        }))
        .await?;
    if let Some(refund_id) = to_send {
        tokio::spawn(crate::switch::refund::send(app.clone(), refund_id));
    }
    Ok(response)
}

async fn refund_in(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    approver: Option<&Caller>,
    payment_id: &str,
    request: &RefundRequest,
    reason: &str,
) -> Result<RefundView, ApiError> {
    let lock = tx.for_update();
    let payment =
        payments::load(tx.conn(), payment_id, lock).await?.ok_or_else(|| ApiError::not_found("payment", payment_id))?;
    let facility = app
        .config
        .facility(&facility_of(&payment.facility_id)?)
        .ok_or_else(|| ApiError::internal("facility no longer configured"))?;
    match request.method {
        RefundMethod::Cash => caller.require_role(&[Role::Treasury])?,
        RefundMethod::Original if caller.role == Role::Treasury => {}
        RefundMethod::Original => {
            let register = pos_core::RegisterId::parse(&payment.register_id)
                .map_err(|_| ApiError::internal("malformed register id"))?;
            caller.require_register(facility, &register)?;
        }
    }
    let approved_reason = require_approval(caller, approver, facility)?.map(|by| format!("{reason} [承認: {by}]"));
    let reason = approved_reason.as_deref().unwrap_or(reason);
    if !payment.view.state.holds_money() {
        return Err(ApiError::conflict(
            "not_refundable",
            format!("payment {payment_id} is {}: there is nothing to refund", payment.view.state),
        ));
    }
    let remaining = payment.view.amount.checked_sub(payment.view.refunded).unwrap_or_default();
    if request.amount > remaining {
        return Err(ApiError::unprocessable(
            "refund_exceeds_payment",
            format!("at most {remaining} of this payment can still be refunded"),
        )
        .at("amount"));
    }
    let mut open_refunds = crate::journal::refunds::of_payment(tx.conn(), payment_id).await?;
    open_refunds.retain(|r| r.view.state == "authorizing" || r.view.state == "in_doubt");
    if let Some(open) = open_refunds.first() {
        return Err(ApiError::conflict(
            "refund_pending",
            format!("refund {} of this payment is {}: wait for its outcome", open.view.id, open.view.state),
        ));
    }
    let now = app.clock.now();
    let id = format!("ref_{}", uuid::Uuid::new_v4().simple());
    let new = |state, acquirer_id, acquirer_stan, transmitted_at| NewRefund {
        id: &id,
        payment_id,
        facility_id: &payment.facility_id,
        amount: request.amount,
        method: request.method,
        state,
        acquirer_id,
        acquirer_stan,
        transmitted_at,
        reason,
        created_by: caller.user.as_str(),
    };
    let state = match request.method {
        RefundMethod::Cash => {
            crate::journal::refunds::insert(tx, &new("recorded", None, None, None), now).await?;
            crate::switch::refund::apply_refund(tx, &payment, request.amount, caller.user.as_str(), now).await?;
            "recorded"
        }
        RefundMethod::Original if payment.view.method == pos_core::Method::Qr => {
            check_brand_rule(app, &payment, request.amount, BusinessDate::of_instant(now))?;
            // Refunded at the QR provider (`POST /v2/refunds`) by the switch after the commit.
            let acquirer_id =
                payment.acquirer_id.clone().filter(|a| app.switch.qr.client(a).is_some()).ok_or_else(|| {
                    ApiError::unprocessable(
                        "no_acquirer_link",
                        "this payment's QR provider is not connected; treasury can record a cash refund",
                    )
                    .at("method")
                })?;
            crate::journal::refunds::insert(tx, &new("authorizing", Some(&acquirer_id), None, None), now).await?;
            "authorizing"
        }
        RefundMethod::Original => {
            check_brand_rule(app, &payment, request.amount, BusinessDate::of_instant(now))?;
            let acquirer_id =
                payment.acquirer_id.clone().filter(|a| app.switch.client(a).is_some()).ok_or_else(|| {
                    ApiError::unprocessable(
                        "no_acquirer_link",
                        "this payment's acquirer is not connected; treasury can record a cash refund",
                    )
                    .at("method")
                })?;
            let stan = payments::next_stan(tx, &acquirer_id).await?;
            let transmitted_at = crate::switch::transmission_time(now);
            crate::journal::refunds::insert(
                tx,
                &new("authorizing", Some(&acquirer_id), Some(&stan), Some(&transmitted_at)),
                now,
            )
            .await?;
            "authorizing"
        }
    };
    events::append(tx.conn(), NewEvent { at: now, actor: caller.user.as_str(), kind: "refund.created", entity_id: &id, facility_id: &payment.facility_id, data: serde_json::json!({ "payment_id": payment_id, "amount": request.amount, "method": request.method, "state": state, "reason": reason }) }).await?;
    Ok(RefundView {
        id: id.clone(),
        payment_id: payment_id.to_string(),
        amount: request.amount,
        method: request.method,
        state: state.to_string(),
        response_code: None,
        rrn: None,
        reason: reason.to_string(),
        created_at: now,
    })
}

/// The brand's own rules (configuration `brand_rules`): some take no refunds, some only the
/// whole amount, some only within a number of days.
fn check_brand_rule(
    app: &AppState,
    payment: &payments::PaymentRecord,
    amount: pos_core::Yen,
    today: BusinessDate,
) -> Result<(), ApiError> {
    let brand = payment.view.brand.filter(|b| b.method().is_cashless()).ok_or_else(|| ApiError::unprocessable("refund_not_allowed", "a cash payment is not refunded through an acquirer: void it in its shift, or treasury records a cash refund").at("method"))?;
    let rule = app.config.brand_rule(brand);
    match rule.refund {
        RefundRule::None => {
            return Err(ApiError::unprocessable(
                "refund_not_allowed",
                format!(
                    "{} ({brand}) takes no refunds; treasury can record a cash refund instead",
                    brand.display_name()
                ),
            )
            .at("method"));
        }
        RefundRule::Full if amount != payment.view.amount || payment.view.refunded != pos_core::Yen::ZERO => {
            return Err(ApiError::unprocessable(
                "refund_full_only",
                format!("{} refunds only the whole {}", brand.display_name(), payment.view.amount),
            )
            .at("amount"));
        }
        _ => {}
    }
    if let Some(days) = rule.refund_within_days {
        let age = (today.date() - payment.view.business_date.date()).num_days();
        if age > i64::from(days) {
            return Err(ApiError::unprocessable(
                "refund_period_over",
                format!(
                    "{} refunds within {days} days; this payment is {age} days old — treasury can record a cash refund",
                    brand.display_name()
                ),
            )
            .at("method"));
        }
    }
    Ok(())
}
