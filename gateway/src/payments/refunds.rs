//! Refunds: money given back on a payment — through its acquirer (a 0200 with processing code 20
//! naming the original's RRN) or its QR provider (`POST /v2/refunds`) under the brand's rules, or
//! as cash treasury records. A refund is journaled `authorizing` before it is sent and claims the
//! payment's one money-return, so it can never run beside a void or another refund; a refund of a
//! voided sale is refused (treasury alone may still refund a payment whose void was never
//! confirmed). A card refund whose answer is lost goes in doubt and is reversed; a QR refund in
//! doubt is settled by inquiry ([`super::qr`]).

use pos_config::{RefundRule, Role};
use pos_core::api::{RefundMethod, RefundRequest, RefundView};
use pos_core::{BusinessDate, Method, RefundState, Yen};

use super::{connectors_acquirer, load_locked, SWITCH_ACTOR};
use crate::access::Caller;
use crate::connectors::acquirer::{messages, AuthorizationOutcome};
use crate::journal::lifecycle::{self, Cause, LifecycleError, NewRefund, RefundFields, Step};
use crate::journal::payments::{self, PaymentRecord};
use crate::journal::refunds::{self, RefundRecord};
use crate::journal::reversals::{OriginalRequest, ReversalReason};
use crate::journal::{JournalError, WriteTx};
use crate::refusal::Refusal;
use crate::AppState;

/// Sweeps of refunds a crash left `authorizing`, per round at most.
pub const REFUND_SWEEP_BATCH_MAX: i64 = 32;

/// A trace number for a card refund of this payment, reserved before the refund's transaction
/// opens (on SQLite a reservation inside it would wait for its own writer gate). `None` for
/// payments that are not refunded over an ISO 8583 link.
pub async fn reserve_stan(app: &AppState, payment_id: &str) -> Result<Option<String>, JournalError> {
    let Some(payment) = super::read(app, payment_id).await? else { return Ok(None) };
    match payment.acquirer_id.as_deref().and_then(|a| connectors_acquirer(app, a)) {
        Some(connector) if payment.view.method != Method::Qr => connector.next_stan().await.map(Some),
        _ => Ok(None),
    }
}

/// Decides and journals a refund. `approved_by` is the supervisor who approved a clerk's refund
/// (checked by [`super::approvals`]); `stan` comes from [`reserve_stan`]; the caller sends an
/// `authorizing` refund after the commit ([`spawn_send`]).
#[allow(clippy::too_many_arguments)]
pub async fn refund(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    approved_by: Option<&str>,
    payment_id: &str,
    request: &RefundRequest,
    reason: &str,
    stan: Option<String>,
) -> Result<RefundView, Refusal> {
    let payment = load_locked(tx, payment_id).await?;
    super::trace_payment(&payment.view.id, &payment.view.sale_id);
    let facility = super::facility_of(app, &payment)?;
    match request.method {
        RefundMethod::Cash => caller.require_role(&[Role::Treasury])?,
        RefundMethod::Original if caller.role == Role::Treasury => {}
        RefundMethod::Original => {
            let register = pos_core::RegisterId::parse(&payment.register_id)
                .map_err(|_| Refusal::internal("malformed register id"))?;
            caller.require_register(facility, &register)?;
        }
    }
    check_refundable(app, tx, caller, &payment, request.amount).await?;
    if caller.role == Role::Clerk && approved_by.is_none() {
        return Err(Refusal::forbidden(
            "a clerk's refund needs a supervisor's approval: ask for it (refund request) or enter the supervisor's one-time approval code",
        ));
    }
    let now = app.clock.now();
    let id = format!("ref_{}", uuid::Uuid::new_v4().simple());
    let today = BusinessDate::of_instant(now);
    let (state, acquirer_id, stan, transmitted_at) = match request.method {
        RefundMethod::Cash => (RefundState::Recorded, None, None, None),
        RefundMethod::Original if payment.view.method == Method::Qr => {
            check_brand_rule(app, &payment, request.amount, today)?;
            let acquirer_id =
                payment.acquirer_id.clone().filter(|a| app.connectors.qr(a).is_some()).ok_or_else(|| {
                    Refusal::unprocessable(
                        "no_acquirer_link",
                        "this payment's QR provider is not connected; treasury can record a cash refund",
                    )
                    .at("method")
                })?;
            (RefundState::Authorizing, Some(acquirer_id), None, None)
        }
        RefundMethod::Original => {
            check_brand_rule(app, &payment, request.amount, today)?;
            let connector =
                payment.acquirer_id.as_deref().and_then(|a| connectors_acquirer(app, a)).ok_or_else(|| {
                    Refusal::unprocessable(
                        "no_acquirer_link",
                        "this payment's acquirer is not connected; treasury can record a cash refund",
                    )
                    .at("method")
                })?;
            let stan = stan.clone().ok_or_else(|| Refusal::internal("no trace number was reserved for the refund"))?;
            let transmitted_at = connector.transmission_time(now);
            (RefundState::Authorizing, Some(connector.id().to_string()), Some(stan), Some(transmitted_at))
        }
    };
    let new = NewRefund {
        id: &id,
        payment: &payment,
        amount: request.amount,
        method: request.method,
        state,
        acquirer_id: acquirer_id.as_deref(),
        acquirer_stan: stan.as_deref(),
        transmitted_at: transmitted_at.as_deref(),
        reason,
        created_by: caller.user.as_str(),
        approved_by,
        business_date: today,
    };
    lifecycle::apply(tx, Step::NewRefund(new), Cause::new(caller.user.as_str(), now)).await?;
    if state == RefundState::Recorded {
        super::booking::apply_refund(tx, &payment, request.amount, caller.user.as_str(), now).await?;
    }
    let lock = tx.for_update();
    let stored = refunds::load(tx.conn(), &id, lock).await?.ok_or_else(|| Refusal::internal("refund vanished"))?;
    Ok(stored.view)
}

/// What every refund must satisfy before it is journaled: money to give back, none already on its
/// way back, the sale not voided (but for treasury, on a void the acquirer never confirmed).
async fn check_refundable(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    payment: &PaymentRecord,
    amount: Yen,
) -> Result<(), Refusal> {
    let payment_id = payment.view.id.as_str();
    if !payment.view.state.holds_money() {
        return Err(Refusal::conflict(
            "not_refundable",
            format!("payment {payment_id} is {}: there is nothing to refund", payment.view.state),
        ));
    }
    if let Some(open) = &payment.money_return {
        return Err(Refusal::conflict(
            "money_return_pending",
            format!(
                "payment {payment_id} already has {open} returning money (a void or a refund): wait for its outcome"
            ),
        ));
    }
    let sale = crate::journal::sales::load(tx.conn(), &payment.view.sale_id, "")
        .await?
        .ok_or_else(|| Refusal::internal("payment without its sale"))?;
    if sale.state == pos_core::SaleState::Voided && caller.role != Role::Treasury {
        return Err(Refusal::conflict(
            "sale_voided",
            format!("sale {} was voided: its payments are returned by the void, not by a refund", sale.id),
        ));
    }
    let remaining = payment.view.amount.checked_sub(payment.view.refunded).unwrap_or_default();
    if amount > remaining {
        return Err(Refusal::unprocessable(
            "refund_exceeds_payment",
            format!("at most {remaining} of this payment can still be refunded"),
        )
        .at("amount"));
    }
    let _ = app;
    Ok(())
}

/// The brand's own rules (configuration `brand_rules`): some take no refunds, some only the
/// whole amount, some only within a number of days.
pub fn check_brand_rule(
    app: &AppState,
    payment: &PaymentRecord,
    amount: Yen,
    today: BusinessDate,
) -> Result<(), Refusal> {
    let brand = payment.view.brand.filter(|b| b.method().is_cashless()).ok_or_else(|| {
        Refusal::unprocessable(
            "refund_not_allowed",
            "a cash payment is not refunded through an acquirer: void it in its shift, or treasury records a cash refund",
        )
        .at("method")
    })?;
    let rule = app.config.brand_rule(brand);
    match rule.refund {
        RefundRule::None => {
            return Err(Refusal::unprocessable(
                "refund_not_allowed",
                format!(
                    "{} ({brand}) takes no refunds; treasury can record a cash refund instead",
                    brand.display_name()
                ),
            )
            .at("method"));
        }
        RefundRule::Full if amount != payment.view.amount || payment.view.refunded != Yen::ZERO => {
            return Err(Refusal::unprocessable(
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
            return Err(Refusal::unprocessable(
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

/// Journals the refund of a QR payment's whole amount for a void, `authorizing`, in the void's
/// transaction; the caller sends it after the commit ([`send`]).
pub async fn start_qr_void(
    app: &AppState,
    tx: &mut WriteTx,
    payment: &PaymentRecord,
    actor: &str,
    reason: &str,
) -> Result<Option<String>, LifecycleError> {
    let Some(acquirer_id) = payment.acquirer_id.as_deref().filter(|a| app.connectors.qr(a).is_some()) else {
        return Ok(None);
    };
    let now = app.clock.now();
    let id = format!("ref_{}", uuid::Uuid::new_v4().simple());
    let new = NewRefund {
        id: &id,
        payment,
        amount: payment.view.amount,
        method: RefundMethod::Original,
        state: RefundState::Authorizing,
        acquirer_id: Some(acquirer_id),
        acquirer_stan: None,
        transmitted_at: None,
        reason,
        created_by: actor,
        approved_by: None,
        business_date: BusinessDate::of_instant(now),
    };
    lifecycle::apply(tx, Step::NewRefund(new), Cause::new(actor, now).with(serde_json::json!({ "void": true })))
        .await?;
    Ok(Some(id))
}

/// Sends a journaled refund and records its outcome, on its own task after the API answered; a
/// crash before the outcome is recorded is swept into doubt ([`sweep_stale`]).
pub fn spawn_send(app: &AppState, refund_id: &str) {
    let (app, refund_id) = (app.clone(), refund_id.to_string());
    tokio::spawn(async move {
        if let Err(error) = send(&app, &refund_id).await {
            tracing::error!(%error, refund = %refund_id, "refund outcome could not be journaled; the sweep resolves it");
        }
    });
}

async fn send(app: &AppState, refund_id: &str) -> Result<(), JournalError> {
    let mut conn = app.journal.read().await?;
    let Some(refund) = refunds::load(&mut conn, refund_id, "").await? else { return Ok(()) };
    if refund.acquirer_id.as_deref().is_some_and(|a| app.connectors.qr(a).is_some()) {
        drop(conn);
        super::qr::spawn_refund(app, refund_id);
        return Ok(());
    }
    let Some(payment) = payments::load(&mut conn, &refund.view.payment_id, "").await? else { return Ok(()) };
    drop(conn);
    let Some(original) = original_of(app, &refund, &payment) else { return Ok(()) };
    let outcome = match refund.acquirer_id.as_deref().and_then(|a| connectors_acquirer(app, a)) {
        Some(connector) => {
            let message = messages::refund(&original, payment.view.brand, payment.view.rrn.as_deref());
            connector.refund(&message).await
        }
        None => AuthorizationOutcome::NotSent("no link to the acquirer".to_string()),
    };
    record(app, &refund, &payment, &original, outcome).await
}

/// What a reversal of this refund must name (its own trace number and time; no card data).
fn original_of(app: &AppState, refund: &RefundRecord, payment: &PaymentRecord) -> Option<OriginalRequest> {
    Some(OriginalRequest {
        mti: "0200".to_string(),
        processing_code: iso8583::fields::PROCESSING_REFUND.to_string(),
        amount: refund.view.amount.get(),
        terminal_id: payment.view.terminal_id.clone()?,
        merchant_id: super::merchant_of(app, &payment.facility_id),
        stan: refund.acquirer_stan.clone()?,
        transmitted_at: refund.transmitted_at.clone()?,
        brand_data: iso8583::BrandData { brand: payment.view.brand, ..iso8583::BrandData::default() }.format(),
    })
}

async fn record(
    app: &AppState,
    refund: &RefundRecord,
    payment: &PaymentRecord,
    original: &OriginalRequest,
    outcome: AuthorizationOutcome,
) -> Result<(), JournalError> {
    let now = app.clock.now();
    let mut tx = app.journal.begin_write().await?;
    let lock = tx.for_update();
    let Some(current) =
        refunds::load(tx.conn(), &refund.view.id, lock).await?.filter(|r| r.view.state == RefundState::Authorizing)
    else {
        return tx.rollback().await;
    };
    let cause = || Cause::new(SWITCH_ACTOR, now);
    let code = outcome.response_code();
    let result: Result<(), LifecycleError> = async {
        match &outcome {
            AuthorizationOutcome::Approved { rrn, .. } => {
                let fields = RefundFields { response_code: code.as_deref(), rrn: rrn.as_deref() };
                lifecycle::apply(
                    &mut tx,
                    Step::Refund { record: &current, to: RefundState::Approved, fields },
                    cause(),
                )
                .await?;
                super::booking::apply_refund(&mut tx, payment, current.view.amount, SWITCH_ACTOR, now).await?;
            }
            AuthorizationOutcome::Declined { rrn, .. } | AuthorizationOutcome::OutcomeUnknown { rrn } => {
                let fields = RefundFields { response_code: code.as_deref(), rrn: rrn.as_deref() };
                lifecycle::apply(
                    &mut tx,
                    Step::Refund { record: &current, to: RefundState::Declined, fields },
                    cause(),
                )
                .await?;
            }
            AuthorizationOutcome::NotSent(_) => {
                let fields = RefundFields::default();
                lifecycle::apply(
                    &mut tx,
                    Step::Refund { record: &current, to: RefundState::Declined, fields },
                    cause(),
                )
                .await?;
            }
            AuthorizationOutcome::InDoubt { reason, .. } => {
                in_doubt(&mut tx, &current, payment, original, *reason, now).await?;
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            tx.commit().await?;
            app.work.reversal_wake.notify_one();
            Ok(())
        }
        Err(LifecycleError::Journal(error)) => Err(error),
        Err(error) => {
            tracing::warn!(%error, refund = %refund.view.id, "refund outcome not recorded");
            tx.rollback().await
        }
    }
}

/// A card refund whose outcome is unknown: in doubt, with its reversal queued (it rides on the
/// refund's claim of the money-return).
async fn in_doubt(
    tx: &mut WriteTx,
    refund: &RefundRecord,
    payment: &PaymentRecord,
    original: &OriginalRequest,
    reason: ReversalReason,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), LifecycleError> {
    let cause = || Cause::new(SWITCH_ACTOR, now).with(serde_json::json!({ "reason": reason.code() }));
    lifecycle::apply(
        tx,
        Step::Refund { record: refund, to: RefundState::InDoubt, fields: RefundFields::default() },
        cause(),
    )
    .await?;
    let Some(acquirer_id) = refund.acquirer_id.as_deref() else { return Ok(()) };
    lifecycle::apply(
        tx,
        Step::NewReversal(lifecycle::NewReversal {
            payment,
            refund_id: Some(&refund.view.id),
            acquirer_id,
            reason,
            original,
        }),
        cause(),
    )
    .await?;
    Ok(())
}

/// Sweeps card refunds a crash left `authorizing` into doubt, with their reversal queued.
pub async fn sweep_stale(app: &AppState, before: chrono::DateTime<chrono::Utc>) -> Result<(), JournalError> {
    let stale = {
        let mut conn = app.journal.read().await?;
        refunds::in_state_since(&mut conn, RefundState::Authorizing, before, REFUND_SWEEP_BATCH_MAX).await?
    };
    for candidate in
        stale.into_iter().filter(|r| r.acquirer_id.as_deref().is_some_and(|a| app.connectors.qr(a).is_none()))
    {
        let mut tx = app.journal.begin_write().await?;
        let lock = tx.for_update();
        let refund = refunds::load(tx.conn(), &candidate.view.id, lock)
            .await?
            .filter(|r| r.view.state == RefundState::Authorizing);
        let payment = match &refund {
            Some(refund) => payments::load(tx.conn(), &refund.view.payment_id, "").await?,
            None => None,
        };
        let (Some(refund), Some(payment)) = (refund, payment) else {
            tx.rollback().await?;
            continue;
        };
        let Some(original) = original_of(app, &refund, &payment) else {
            tx.rollback().await?;
            continue;
        };
        match in_doubt(&mut tx, &refund, &payment, &original, ReversalReason::Recovery, app.clock.now()).await {
            Ok(()) => tx.commit().await?,
            Err(LifecycleError::Journal(error)) => return Err(error),
            Err(error) => {
                tracing::warn!(%error, refund = %refund.view.id, "stale refund not swept");
                tx.rollback().await?;
            }
        }
    }
    Ok(())
}
