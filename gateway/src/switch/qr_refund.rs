//! Refunds of QR payments at the provider (PROTOCOLS.md §2: `POST /v2/refunds`, then
//! `GET /v2/refunds/{merchantRefundId}` until final), for a clerk's refund under the brand's
//! rules and for the void of a QR-paid sale (the whole amount).
//!
//! The same write-ahead discipline and the same journal as card refunds ([`super::refund`]): the
//! refund row is journaled `authorizing` (our refund id is the `merchantRefundId`) before the
//! request goes out. A timeout, a transport error or a 5xx puts it `in_doubt`; so does a crash
//! that leaves it `authorizing`. Where a card refund in doubt is reversed, a QR refund in doubt is
//! resolved by inquiry: the provider keeps refunds by `merchantRefundId` and answers a repeated
//! create with the earlier refund, so the resolver reads the refund and, when the provider never
//! got it, sends the very same request again — it cannot refund twice.
//!
//! An approved refund is applied to the payment ([`super::refund::apply_refund`]); a full refund
//! of a payment whose sale was voided makes the payment `voided` instead.

use std::sync::PoisonError;
use std::time::Duration;

use pos_core::api::RefundMethod;
use pos_core::{PaymentState, SaleState, Yen};
use qr_protocol::{MerchantRefundId, Money, RefundDetails, RefundRequest, RefundStatus, ResultCode};

use super::qr::{QrClient, QrError};
use crate::journal::events::{self, NewEvent};
use crate::journal::payments::{self, Answer, PaymentRecord};
use crate::journal::refunds::{self, NewRefund, RefundRecord};
use crate::journal::{JournalError, WriteTx};
use crate::AppState;

/// Reads of a refund the provider reports `CREATED` (accepted, not yet final) before it is left
/// in doubt for the sweep.
pub const REFUND_STATUS_READS_MAX: u32 = 5;
/// Added to the provider's request timeout before a refund still `authorizing` is taken to be
/// abandoned by a crashed gateway.
pub const REFUND_STALE_MARGIN_MS: u64 = 2_000;
/// QR refunds resolved per sweep, at most.
const REFUND_SWEEP_BATCH_MAX: i64 = 32;
const SWITCH_ACTOR: &str = "switch";

impl QrClient {
    /// `POST /v2/refunds` for `amount` of the provider's payment `provider_payment_id`.
    pub async fn refund(
        &self,
        epoch: i64,
        merchant: &str,
        id: &MerchantRefundId,
        provider_payment_id: &str,
        amount: Yen,
        reason: &str,
    ) -> Result<RefundDetails, QrError> {
        let request = RefundRequest {
            merchant_refund_id: id.clone(),
            payment_id: provider_payment_id.to_string(),
            amount: Money::jpy(amount),
            requested_at: epoch,
            reason: Some(reason.to_string()),
        };
        let body = serde_json::to_vec(&request).map_err(|e| QrError::Transport(e.to_string()))?;
        self.call(epoch, reqwest::Method::POST, qr_protocol::paths::REFUNDS, merchant, body)
            .await?
            .ok_or_else(|| QrError::Transport("a refund without data".into()))
    }

    /// `GET /v2/refunds/{id}`; `Ok(None)` when the provider knows no such refund.
    pub async fn refund_status(
        &self,
        epoch: i64,
        merchant: &str,
        id: &MerchantRefundId,
    ) -> Result<Option<RefundDetails>, QrError> {
        let path = qr_protocol::paths::refund(id.as_str());
        match self.call::<RefundDetails>(epoch, reqwest::Method::GET, &path, merchant, Vec::new()).await {
            Ok(Some(details)) => Ok(Some(details)),
            Ok(None) => Err(QrError::Transport("a refund status without data".into())),
            Err(error) if error.code() == Some(&ResultCode::NoSuchRefundOrder) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Journals the refund of a QR payment's whole amount for a void, `authorizing`, in the void's
/// transaction; the caller starts it with [`spawn_pending_of_sale`] after the commit.
pub async fn start_void(
    app: &AppState,
    tx: &mut WriteTx,
    payment: &PaymentRecord,
    actor: &str,
    reason: &str,
) -> Result<Option<String>, JournalError> {
    let Some(acquirer_id) = payment.acquirer_id.as_deref().filter(|a| app.switch.qr.client(a).is_some()) else {
        return Ok(None);
    };
    let now = app.clock.now();
    let id = format!("ref_{}", uuid::Uuid::new_v4().simple());
    refunds::insert(
        tx,
        &NewRefund {
            id: &id,
            payment_id: &payment.view.id,
            facility_id: &payment.facility_id,
            amount: payment.view.amount,
            method: RefundMethod::Original,
            state: "authorizing",
            acquirer_id: Some(acquirer_id),
            acquirer_stan: None,
            transmitted_at: None,
            reason,
            created_by: actor,
        },
        now,
    )
    .await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor,
            kind: "refund.created",
            entity_id: &id,
            facility_id: &payment.facility_id,
            data: serde_json::json!({ "payment_id": payment.view.id, "amount": payment.view.amount, "method": "original", "state": "authorizing", "reason": reason, "void": true }),
        },
    )
    .await?;
    Ok(Some(id))
}

/// Whether a refund goes to a QR provider (rather than over an ISO 8583 link).
pub fn is_qr_refund(app: &AppState, refund: &RefundRecord) -> bool {
    refund.acquirer_id.as_deref().is_some_and(|a| app.switch.qr.client(a).is_some())
}

/// Starts the QR refunds a void just journaled for `sale_id`.
pub async fn spawn_pending_of_sale(app: &AppState, sale_id: &str) -> Result<(), JournalError> {
    let mut conn = app.journal.read().await?;
    let mut pending = Vec::new();
    for payment in payments::of_sale(&mut conn, sale_id).await?.iter().filter(|p| p.method == pos_core::Method::Qr) {
        let refunds = refunds::of_payment(&mut conn, &payment.id).await?;
        pending.extend(refunds.into_iter().filter(|r| r.view.state == "authorizing").map(|r| r.view.id));
    }
    drop(conn);
    for refund_id in pending {
        spawn(app, &refund_id);
    }
    Ok(())
}

/// Sends (or, in doubt, resolves) one QR refund on its own task, once per process at a time.
pub fn spawn(app: &AppState, refund_id: &str) {
    if !app.switch.qr.claim(refund_id) {
        return;
    }
    let app = app.clone();
    let refund_id = refund_id.to_string();
    tokio::spawn(async move {
        if let Err(error) = settle(&app, &refund_id).await {
            tracing::error!(%error, refund = %refund_id, "QR refund outcome could not be journaled; the sweep resumes it");
        }
        app.switch.qr.release(&refund_id);
    });
}

/// What the provider says about a refund, as far as the journal is concerned.
enum Outcome {
    Approved(RefundDetails),
    Refused(String),
    InDoubt(String),
}

/// Brings one refund to its outcome: sends it when `authorizing` and fresh, asks when in doubt.
async fn settle(app: &AppState, refund_id: &str) -> Result<(), JournalError> {
    let mut conn = app.journal.read().await?;
    let Some(refund) = refunds::load(&mut conn, refund_id, "").await? else { return Ok(()) };
    let Some(payment) = payments::load(&mut conn, &refund.view.payment_id, "").await? else { return Ok(()) };
    drop(conn);
    let (Some(client), Some(id)) = (
        refund.acquirer_id.as_deref().and_then(|a| app.switch.qr.client(a)),
        MerchantRefundId::parse(&refund.view.id).ok(),
    ) else {
        return Ok(());
    };
    let merchant = pos_core::FacilityId::parse(&payment.facility_id)
        .map(|facility| client.link().merchant_for(&facility).to_string())
        .unwrap_or_default();
    let outcome = match refund.view.state.as_str() {
        "authorizing" => send(app, client, &merchant, &id, &refund, &payment).await,
        "in_doubt" => match client.refund_status(super::qr::epoch(app), &merchant, &id).await {
            Ok(Some(details)) => follow(app, client, &merchant, &id, details).await,
            // The provider never got it: the same request again (the same merchantRefundId).
            Ok(None) => send(app, client, &merchant, &id, &refund, &payment).await,
            Err(error) => Outcome::InDoubt(error.to_string()),
        },
        _ => return Ok(()),
    };
    record(app, &refund, &payment, outcome).await
}

async fn send(
    app: &AppState,
    client: &QrClient,
    merchant: &str,
    id: &MerchantRefundId,
    refund: &RefundRecord,
    payment: &PaymentRecord,
) -> Outcome {
    let Some(provider_payment_id) = payment.view.rrn.as_deref() else {
        return Outcome::Refused("the payment has no provider payment id to refund".into());
    };
    let epoch = super::qr::epoch(app);
    match client.refund(epoch, merchant, id, provider_payment_id, refund.view.amount, &refund.view.reason).await {
        Ok(details) => follow(app, client, merchant, id, details).await,
        Err(error) if error.is_in_doubt() => Outcome::InDoubt(error.to_string()),
        Err(error) => Outcome::Refused(error.to_string()),
    }
}

/// Reads a refund the provider has accepted until it is final, a bounded number of times.
async fn follow(
    app: &AppState,
    client: &QrClient,
    merchant: &str,
    id: &MerchantRefundId,
    mut details: RefundDetails,
) -> Outcome {
    for _ in 0..REFUND_STATUS_READS_MAX {
        match details.status {
            RefundStatus::Refunded => return Outcome::Approved(details),
            RefundStatus::Failed => return Outcome::Refused("the provider reports the refund FAILED".into()),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(client.link().poll_interval_ms)).await;
        details = match client.refund_status(super::qr::epoch(app), merchant, id).await {
            Ok(Some(details)) => details,
            Ok(None) => return Outcome::InDoubt("the provider no longer knows the refund it accepted".into()),
            Err(error) => return Outcome::InDoubt(error.to_string()),
        };
    }
    Outcome::InDoubt(format!("the refund is still {} at the provider", details.status))
}

/// Journals the outcome, if the refund is still where this attempt found it.
async fn record(
    app: &AppState,
    refund: &RefundRecord,
    payment: &PaymentRecord,
    outcome: Outcome,
) -> Result<(), JournalError> {
    let now = app.clock.now();
    let mut tx = app.journal.begin_write().await?;
    let lock = tx.for_update();
    let current = refunds::load(tx.conn(), &refund.view.id, lock).await?;
    if current.as_ref().is_none_or(|r| r.view.state != refund.view.state) {
        tx.rollback().await?;
        return Ok(());
    }
    let (kind, data) = match &outcome {
        Outcome::Approved(details) => {
            refunds::set_outcome(&mut tx, &refund.view.id, "approved", Some("REFUNDED"), None, now).await?;
            apply(app, &mut tx, refund, payment).await?;
            app.switch.qr.forget_tries(&refund.view.id);
            (
                "refund.answered",
                serde_json::json!({ "response_code": "REFUNDED", "provider_payment_id": details.payment_id }),
            )
        }
        Outcome::Refused(reason) => {
            refunds::set_outcome(&mut tx, &refund.view.id, "declined", None, None, now).await?;
            if is_void(&mut tx, payment).await? {
                let note = format!(
                    "the QR provider refused the void's refund ({reason}): the payment stands — treasury refunds it"
                );
                payments::set_note(&mut tx, &payment.view.id, &note, now).await?;
            }
            app.switch.qr.forget_tries(&refund.view.id);
            ("refund.answered", serde_json::json!({ "refused": reason }))
        }
        Outcome::InDoubt(reason) => {
            let tries = app.switch.qr.count_try(&refund.view.id);
            refunds::set_outcome(&mut tx, &refund.view.id, "in_doubt", None, None, now).await?;
            tracing::warn!(refund = %refund.view.id, tries, %reason, "QR refund in doubt: resolved by inquiry");
            if refund.view.state == "in_doubt" {
                // Already in doubt: only the time of this attempt moves (the sweep's retry clock).
                tx.commit().await?;
                return Ok(());
            }
            ("refund.in_doubt", serde_json::json!({ "reason": reason }))
        }
    };
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: SWITCH_ACTOR,
            kind,
            entity_id: &refund.view.id,
            facility_id: &refund.facility_id,
            data,
        },
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("qr_refunds_total", "outcome" => kind).increment(1);
    Ok(())
}

/// A full refund whose sale was voided: the void of the payment.
async fn is_void(tx: &mut WriteTx, payment: &PaymentRecord) -> Result<bool, JournalError> {
    let sale = crate::journal::sales::load(tx.conn(), &payment.view.sale_id, "").await?;
    Ok(sale.is_some_and(|s| s.state == SaleState::Voided))
}

async fn apply(
    app: &AppState,
    tx: &mut WriteTx,
    refund: &RefundRecord,
    payment: &PaymentRecord,
) -> Result<(), JournalError> {
    let now = app.clock.now();
    let lock = tx.for_update();
    let current = payments::load(tx.conn(), &payment.view.id, lock).await?.unwrap_or_else(|| payment.clone());
    let whole = refund.view.amount == current.view.amount && current.view.refunded == Yen::ZERO;
    if whole
        && current.view.state.can_become(PaymentState::Voided, current.view.method)
        && is_void(tx, &current).await?
    {
        let note = "voided: refunded in full at the QR provider";
        let answer = Answer { response_code: None, rrn: None, auth_code: None };
        payments::set_outcome(tx, &current.view.id, PaymentState::Voided, &answer, note, now).await?;
        events::append(
            tx.conn(),
            NewEvent {
                at: now,
                actor: SWITCH_ACTOR,
                kind: "payment.voided",
                entity_id: &current.view.id,
                facility_id: &current.facility_id,
                data: serde_json::json!({ "refund": refund.view.id, "amount": refund.view.amount }),
            },
        )
        .await?;
        return Ok(());
    }
    super::refund::apply_refund(tx, &current, refund.view.amount, SWITCH_ACTOR, now).await.map(|_| ())
}

/// The worker's part: refunds in doubt whose last attempt is `resolve_retry_ms` old, and refunds
/// a crash left `authorizing`, are settled by inquiry.
pub async fn sweep(app: &AppState, retry_ms: u64, request_timeout_ms: u64) -> Result<(), JournalError> {
    let now = app.clock.now();
    let millis = |ms: u64| chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX));
    let mut conn = app.journal.read().await?;
    let mut due =
        refunds::in_state_since(&mut conn, "in_doubt", now - millis(retry_ms), REFUND_SWEEP_BATCH_MAX).await?;
    let stale = now - millis(request_timeout_ms.saturating_add(REFUND_STALE_MARGIN_MS));
    due.extend(refunds::in_state_since(&mut conn, "authorizing", stale, REFUND_SWEEP_BATCH_MAX).await?);
    drop(conn);
    for refund in due.iter().filter(|r| is_qr_refund(app, r)) {
        if refund.view.state == "authorizing" {
            // Its request may be out: from here on it is settled by inquiry, never blindly re-sent.
            let mut tx = app.journal.begin_write().await?;
            let lock = tx.for_update();
            let still = refunds::load(tx.conn(), &refund.view.id, lock).await?;
            if still.is_some_and(|r| r.view.state == "authorizing") && !app.switch.qr.is_busy(&refund.view.id) {
                refunds::set_outcome(&mut tx, &refund.view.id, "in_doubt", None, None, now).await?;
                events::append(
                    tx.conn(),
                    NewEvent {
                        at: now,
                        actor: SWITCH_ACTOR,
                        kind: "refund.in_doubt",
                        entity_id: &refund.view.id,
                        facility_id: &refund.facility_id,
                        data: serde_json::json!({ "reason": "recovery" }),
                    },
                )
                .await?;
            }
            tx.commit().await?;
        }
        if !app.switch.qr.given_up(&refund.view.id) {
            spawn(app, &refund.view.id);
        }
    }
    Ok(())
}

/// Tries so far are kept per id in [`super::qr::QrLinks`]; a refund past `resolve_tries_max`
/// stays in doubt for treasury.
impl super::qr::QrLinks {
    fn count_try(&self, id: &str) -> u32 {
        let mut tries = self.tries.lock().unwrap_or_else(PoisonError::into_inner);
        let count = tries.entry(id.to_string()).or_insert(0);
        *count += 1;
        *count
    }

    fn forget_tries(&self, id: &str) {
        self.tries.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }
}
