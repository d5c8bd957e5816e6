//! Refunds through the acquirer: a 0200 with processing code 20 against the original payment
//! (its RRN in field 48 `ORRN`), journaled as `authorizing` before it is sent, reversed when its
//! outcome is in doubt — the same write-ahead discipline as a purchase.

use std::time::Duration;

use iso8583::client::ClientError;
use iso8583::{fields, BrandData, Message, Mti, ResponseCode};
use pos_core::{PaymentState, Yen};

use crate::journal::events::{self, NewEvent};
use crate::journal::payments::{self, PaymentRecord};
use crate::journal::refunds::{self, RefundRecord};
use crate::journal::reversals::{self, NewReversal, OriginalRequest, ReversalReason};
use crate::journal::{JournalError, WriteTx};
use crate::AppState;

const SWITCH_ACTOR: &str = "switch";

fn original_of(refund: &RefundRecord, payment: &PaymentRecord, merchant_id: &str) -> Option<OriginalRequest> {
    Some(OriginalRequest {
        mti: "0200".to_string(),
        processing_code: fields::PROCESSING_REFUND.to_string(),
        amount: refund.view.amount.get(),
        terminal_id: payment.view.terminal_id.clone()?,
        merchant_id: merchant_id.to_string(),
        stan: refund.acquirer_stan.clone()?,
        transmitted_at: refund.transmitted_at.clone()?,
        brand_data: BrandData { brand: payment.view.brand, ..BrandData::default() }.format(),
    })
}

fn merchant_of(app: &AppState, facility_id: &str) -> String {
    pos_core::FacilityId::parse(facility_id)
        .ok()
        .and_then(|id| app.config.facility(&id).map(|f| f.merchant_id.clone()))
        .unwrap_or_default()
}

/// Sends a journaled refund and records its outcome. Runs on its own task after the API has
/// answered; a crash before the outcome is recorded is swept into a reversal.
pub async fn send(app: AppState, refund_id: String) {
    if let Err(error) = send_inner(&app, &refund_id).await {
        tracing::error!(%error, refund = %refund_id, "refund outcome could not be journaled; the sweep will reverse it");
    }
}

async fn send_inner(app: &AppState, refund_id: &str) -> Result<(), JournalError> {
    let mut conn = app.journal.read().await?;
    let Some(refund) = refunds::load(&mut conn, refund_id, "").await? else { return Ok(()) };
    if super::qr_refund::is_qr_refund(app, &refund) {
        super::qr_refund::spawn(app, refund_id);
        return Ok(());
    }
    let Some(payment) = payments::load(&mut conn, &refund.view.payment_id, "").await? else { return Ok(()) };
    drop(conn);
    let merchant_id = merchant_of(app, &payment.facility_id);
    let (Some(acquirer_id), Some(original)) =
        (refund.acquirer_id.clone(), original_of(&refund, &payment, &merchant_id))
    else {
        return Ok(());
    };
    let link = app.config.acquirers.iter().find(|a| a.id == acquirer_id).and_then(|a| a.link.clone());
    let brand_data = BrandData {
        brand: payment.view.brand,
        other: payment.view.rrn.iter().map(|rrn| ("ORRN".to_string(), rrn.clone())).collect(),
        ..BrandData::default()
    };
    let mut message = Message::new(Mti::FINANCIAL_REQUEST)
        .with(fields::PROCESSING_CODE, fields::PROCESSING_REFUND)
        .with(fields::TRANSMISSION_DATE_TIME, original.transmitted_at.clone())
        .with(fields::STAN, original.stan.clone())
        .with(fields::TERMINAL_ID, original.terminal_id.clone())
        .with(fields::MERCHANT_ID, merchant_id.clone())
        .with(fields::BRAND_DATA, brand_data.format())
        .with(fields::CURRENCY, fields::CURRENCY_JPY);
    if let Some(amount) = iso8583::amount_field(refund.view.amount) {
        message.set(fields::AMOUNT, amount);
    }
    let result = match (link, app.switch.client(&acquirer_id)) {
        (Some(link), Some(client)) => client.request(&message, Duration::from_millis(link.request_timeout_ms)).await,
        _ => Err(ClientError::NotSent("no link to the acquirer".to_string())),
    };
    let now = app.clock.now();
    let mut tx = app.journal.begin_write().await?;
    let lock = tx.for_update();
    let current = refunds::load(tx.conn(), refund_id, lock).await?;
    if current.as_ref().is_none_or(|r| r.view.state != "authorizing") {
        tx.rollback().await?;
        return Ok(());
    }
    match result {
        Ok(answer) if answer.mti == Mti::FINANCIAL_RESPONSE => {
            let code = answer.text(fields::RESPONSE_CODE).unwrap_or("96").to_string();
            let rrn = answer.text(fields::RETRIEVAL_REFERENCE);
            if ResponseCode::parse(&code) == ResponseCode::Approved {
                refunds::set_outcome(&mut tx, refund_id, "approved", Some(&code), rrn, now).await?;
                apply_refund(&mut tx, &payment, refund.view.amount, SWITCH_ACTOR, now).await?;
            } else {
                refunds::set_outcome(&mut tx, refund_id, "declined", Some(&code), rrn, now).await?;
            }
            events::append(
                tx.conn(),
                NewEvent {
                    at: now,
                    actor: SWITCH_ACTOR,
                    kind: "refund.answered",
                    entity_id: refund_id,
                    facility_id: &refund.facility_id,
                    data: serde_json::json!({ "response_code": code }),
                },
            )
            .await?;
        }
        Err(ClientError::NotSent(reason)) => {
            refunds::set_outcome(&mut tx, refund_id, "declined", None, None, now).await?;
            events::append(
                tx.conn(),
                NewEvent {
                    at: now,
                    actor: SWITCH_ACTOR,
                    kind: "refund.not_sent",
                    entity_id: refund_id,
                    facility_id: &refund.facility_id,
                    data: serde_json::json!({ "reason": reason }),
                },
            )
            .await?;
        }
        _ => {
            in_doubt(&mut tx, &refund, &payment, &acquirer_id, &original, ReversalReason::Timeout, now).await?;
        }
    }
    tx.commit().await?;
    app.switch.reversal_wake.notify_one();
    Ok(())
}

async fn in_doubt(
    tx: &mut WriteTx,
    refund: &RefundRecord,
    payment: &PaymentRecord,
    acquirer_id: &str,
    original: &OriginalRequest,
    reason: ReversalReason,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), JournalError> {
    refunds::set_outcome(tx, &refund.view.id, "in_doubt", None, None, now).await?;
    reversals::enqueue(
        tx,
        &NewReversal { payment_id: &payment.view.id, refund_id: Some(&refund.view.id), acquirer_id, reason, original },
        now,
    )
    .await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: SWITCH_ACTOR,
            kind: "refund.in_doubt",
            entity_id: &refund.view.id,
            facility_id: &refund.facility_id,
            data: serde_json::json!({ "reason": reason.code() }),
        },
    )
    .await?;
    Ok(())
}

/// Records money given back on a payment: its refunded amount and state.
pub async fn apply_refund(
    tx: &mut WriteTx,
    payment: &PaymentRecord,
    amount: Yen,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PaymentState, JournalError> {
    let lock = tx.for_update();
    let current = payments::load(tx.conn(), &payment.view.id, lock).await?.unwrap_or_else(|| payment.clone());
    let refunded = current.view.refunded.checked_add(amount).unwrap_or(current.view.amount);
    let target = if refunded >= current.view.amount { PaymentState::Refunded } else { PaymentState::PartiallyRefunded };
    let state = current.view.state.transition(target, current.view.method).map_err(|e| JournalError::Corrupt {
        table: "payments",
        column: "state",
        id: current.view.id.clone(),
        value: e.to_string(),
    })?;
    payments::add_refunded(tx, &current.view.id, amount, state, now).await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor,
            kind: "payment.refunded",
            entity_id: &current.view.id,
            facility_id: &current.facility_id,
            data: serde_json::json!({ "amount": amount, "state": state }),
        },
    )
    .await?;
    Ok(state)
}

/// Sweeps refunds a crash left `authorizing` into doubt, with their reversal queued.
pub async fn sweep_stale(
    app: &AppState,
    before: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> Result<(), JournalError> {
    let mut conn = app.journal.read().await?;
    let stale = refunds::in_state_since(&mut conn, "authorizing", before, limit).await?;
    drop(conn);
    for candidate in stale {
        let mut tx = app.journal.begin_write().await?;
        let lock = tx.for_update();
        let refund =
            refunds::load(tx.conn(), &candidate.view.id, lock).await?.filter(|r| r.view.state == "authorizing");
        let payment = match &refund {
            Some(refund) => payments::load(tx.conn(), &refund.view.payment_id, "").await?,
            None => None,
        };
        if let (Some(refund), Some(payment)) = (refund, payment) {
            let merchant_id = merchant_of(app, &payment.facility_id);
            if let (Some(acquirer_id), Some(original)) =
                (refund.acquirer_id.clone(), original_of(&refund, &payment, &merchant_id))
            {
                in_doubt(
                    &mut tx,
                    &refund,
                    &payment,
                    &acquirer_id,
                    &original,
                    ReversalReason::Recovery,
                    app.clock.now(),
                )
                .await?;
            }
        }
        tx.commit().await?;
    }
    Ok(())
}
