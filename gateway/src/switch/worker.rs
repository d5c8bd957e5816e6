//! The switch's background work: send queued reversals (0400, repeats 0401 with backoff, until
//! 0410 or the tries run out), sweep payments a crash left `authorizing` into reversal, and expire
//! payments whose card never came.

use std::time::Duration;

use chrono::Utc;
use iso8583::{fields, Message, Mti};
use pos_core::PaymentState;
use tokio::sync::watch;

use super::authorize::reverse_in_doubt;
use crate::journal::events::{self, NewEvent};
use crate::journal::payments::{self, Answer};
use crate::journal::reversals::{self, DueReversal, ReversalReason};
use crate::journal::JournalError;
use crate::AppState;

/// How often the worker looks for due work when nothing wakes it.
pub const WORKER_POLL_MS: u64 = 250;
/// Reversals sent per round, at most.
pub const REVERSAL_BATCH_MAX: i64 = 32;
/// The longest wait between two reversal attempts.
pub const REVERSAL_BACKOFF_MS_MAX: u64 = 60_000;
/// Added to an acquirer's request timeout before a payment still `authorizing` is taken to be
/// abandoned by a crashed gateway (the live request has certainly ended by then).
pub const AUTHORIZING_STALE_MARGIN_MS: u64 = 2_000;
/// Payments swept per round, at most.
const SWEEP_BATCH_MAX: i64 = 64;
const SWITCH_ACTOR: &str = "switch";

/// Runs until `stop` turns true.
pub async fn run(app: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(error) = round(&app).await {
            tracing::error!(%error, "switch worker round failed");
        }
        tokio::select! {
            _ = app.switch.reversal_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(WORKER_POLL_MS)) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
}

/// One pass over all due work; public so tests can drive it step by step.
pub async fn round(app: &AppState) -> Result<(), JournalError> {
    sweep_stale_authorizations(app).await?;
    expire_waiting_payments(app).await?;
    super::qr::sweep(app).await?;
    let now = app.clock.now();
    let lease = chrono::Duration::milliseconds(
        i64::try_from(longest_request_timeout_ms(app) + AUTHORIZING_STALE_MARGIN_MS).unwrap_or(i64::MAX),
    );
    let due = reversals::claim_due(&app.journal, now, lease, REVERSAL_BATCH_MAX).await?;
    let attempts = due.into_iter().map(|reversal| attempt(app, reversal));
    for result in futures::future::join_all(attempts).await {
        result?;
    }
    Ok(())
}

fn longest_request_timeout_ms(app: &AppState) -> u64 {
    app.config.acquirers.iter().filter_map(|a| a.link.as_ref().map(|l| l.request_timeout_ms)).max().unwrap_or(0)
}

async fn sweep_stale_authorizations(app: &AppState) -> Result<(), JournalError> {
    let stale_ms = longest_request_timeout_ms(app) + AUTHORIZING_STALE_MARGIN_MS;
    let before = app.clock.now() - chrono::Duration::milliseconds(i64::try_from(stale_ms).unwrap_or(i64::MAX));
    super::refund::sweep_stale(app, before, SWEEP_BATCH_MAX).await?;
    let mut conn = app.journal.read().await?;
    let stale = payments::in_state_since(&mut conn, PaymentState::Authorizing, before, SWEEP_BATCH_MAX).await?;
    drop(conn);
    // QR payments stay `authorizing` while the customer scans; their watcher and `qr::sweep` own them.
    for candidate in stale.into_iter().filter(|p| p.view.method != pos_core::Method::Qr) {
        let mut tx = app.journal.begin_write().await?;
        let lock = tx.for_update();
        let current = payments::load(tx.conn(), &candidate.view.id, lock).await?;
        match current.filter(|p| p.view.state == PaymentState::Authorizing) {
            Some(payment) => {
                reverse_in_doubt(
                    &mut tx,
                    &payment,
                    app,
                    ReversalReason::Recovery,
                    "the outcome was not recorded (the gateway stopped mid-request)",
                )
                .await?;
                tx.commit().await?;
                tracing::warn!(payment = %payment.view.id, "payment left authorizing: in doubt, reversal queued");
            }
            None => tx.rollback().await?,
        }
    }
    Ok(())
}

async fn expire_waiting_payments(app: &AppState) -> Result<(), JournalError> {
    let Some(host) = &app.config.terminal_host else { return Ok(()) };
    let before =
        app.clock.now() - chrono::Duration::milliseconds(i64::try_from(host.device_wait_ms).unwrap_or(i64::MAX));
    let mut conn = app.journal.read().await?;
    let waiting = payments::in_state_since(&mut conn, PaymentState::AwaitingDevice, before, SWEEP_BATCH_MAX).await?;
    drop(conn);
    for candidate in waiting {
        let mut tx = app.journal.begin_write().await?;
        let lock = tx.for_update();
        if let Some(payment) = payments::load(tx.conn(), &candidate.view.id, lock)
            .await?
            .filter(|p| p.view.state == PaymentState::AwaitingDevice)
        {
            let now = app.clock.now();
            let note = "no card was presented in time: cancelled, nothing was charged";
            payments::set_state(&mut tx, &payment.view.id, PaymentState::Cancelled, Some(note), now).await?;
            events::append(
                tx.conn(),
                NewEvent {
                    at: now,
                    actor: SWITCH_ACTOR,
                    kind: "payment.cancelled",
                    entity_id: &payment.view.id,
                    facility_id: &payment.facility_id,
                    data: serde_json::json!({ "note": note }),
                },
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

fn reversal_message(reversal: &DueReversal, stan: &str, institution: u64, now: chrono::DateTime<Utc>) -> Message {
    let original = &reversal.original;
    let original_message = Message::new(Mti::parse(&original.mti).unwrap_or(Mti::FINANCIAL_REQUEST))
        .with(fields::STAN, original.stan.clone())
        .with(fields::TRANSMISSION_DATE_TIME, original.transmitted_at.clone());
    let mti = if reversal.tries == 0 { Mti::REVERSAL_REQUEST } else { Mti::REVERSAL_REPEAT };
    let mut message = Message::new(mti)
        .with(fields::PROCESSING_CODE, original.processing_code.clone())
        .with(fields::TRANSMISSION_DATE_TIME, super::transmission_time(now))
        .with(fields::STAN, stan.to_string())
        .with(fields::TERMINAL_ID, original.terminal_id.clone())
        .with(fields::MERCHANT_ID, original.merchant_id.clone())
        .with(fields::CURRENCY, fields::CURRENCY_JPY);
    if let Some(amount) = pos_core::Yen::new(original.amount).ok().and_then(iso8583::amount_field) {
        message.set(fields::AMOUNT, amount);
    }
    if !original.brand_data.is_empty() {
        message.set(fields::BRAND_DATA, original.brand_data.clone());
    }
    if let Some(data) = iso8583::original_data_elements(&original_message, institution) {
        message.set(fields::ORIGINAL_DATA, data);
    }
    message
}

async fn attempt(app: &AppState, reversal: DueReversal) -> Result<(), JournalError> {
    let acquirer = app.config.acquirers.iter().find(|a| a.id == reversal.acquirer_id);
    let link = acquirer.and_then(|a| a.link.clone());
    let client = app.switch.client(&reversal.acquirer_id);
    let (Some(link), Some(client)) = (link, client) else {
        return record_failure(app, &reversal, "no link to the acquirer", u32::MAX).await;
    };
    let mut tx = app.journal.begin_write().await?;
    let stan = payments::next_stan(&mut tx, &reversal.acquirer_id).await?;
    tx.commit().await?;
    let message = reversal_message(&reversal, &stan, link.institution_id, app.clock.now());
    let result = client.request(&message, Duration::from_millis(link.request_timeout_ms)).await;
    match result {
        Ok(answer) if answer.mti == Mti::REVERSAL_RESPONSE => {
            let code = answer.text(fields::RESPONSE_CODE).unwrap_or("").to_string();
            record_success(app, &reversal, &code).await
        }
        Ok(answer) => {
            record_failure(app, &reversal, &format!("unexpected answer {}", answer.mti), link.reversal_tries_max).await
        }
        Err(error) => record_failure(app, &reversal, &error.to_string(), link.reversal_tries_max).await,
    }
}

async fn record_success(app: &AppState, reversal: &DueReversal, code: &str) -> Result<(), JournalError> {
    let now = app.clock.now();
    let mut tx = app.journal.begin_write().await?;
    reversals::mark_done(&mut tx, &reversal.id, code, now).await?;
    if let Some(refund_id) = &reversal.refund_id {
        crate::journal::refunds::set_outcome(&mut tx, refund_id, "reversed", None, None, now).await?;
        tx.commit().await?;
        metrics::counter!("reversals_total", "acquirer" => reversal.acquirer_id.clone(), "outcome" => "confirmed")
            .increment(1);
        return Ok(());
    }
    let lock = tx.for_update();
    if let Some(payment) = payments::load(tx.conn(), &reversal.payment_id, lock).await? {
        let (to, note) = match (payment.view.state, reversal.reason) {
            (PaymentState::InDoubt, _) => {
                (Some(PaymentState::Reversed), "reversed at the acquirer: nothing was charged")
            }
            (PaymentState::Completed, ReversalReason::Void) => {
                (Some(PaymentState::Voided), "voided: reversed at the acquirer")
            }
            (PaymentState::Completed, ReversalReason::TerminalRequest) => {
                (Some(PaymentState::Voided), "reversed at the terminal's request: the sale must be taken again")
            }
            _ => (None, ""),
        };
        if let Some(to) = to.filter(|to| payment.view.state.can_become(*to, payment.view.method)) {
            payments::set_outcome(
                &mut tx,
                &payment.view.id,
                to,
                &Answer { response_code: None, rrn: None, auth_code: None },
                note,
                now,
            )
            .await?;
            events::append(
                tx.conn(),
                NewEvent {
                    at: now,
                    actor: SWITCH_ACTOR,
                    kind: if to == PaymentState::Voided { "payment.voided" } else { "payment.reversed" },
                    entity_id: &payment.view.id,
                    facility_id: &payment.facility_id,
                    data: serde_json::json!({ "reversal": reversal.id, "reason": reversal.reason.code(), "response_code": code }),
                },
            )
            .await?;
            if reversal.reason == ReversalReason::TerminalRequest && to == PaymentState::Voided {
                crate::journal::sales::void_if_paid(
                    &mut tx,
                    &payment.view.sale_id,
                    now,
                    SWITCH_ACTOR,
                    "reversed at the terminal's request",
                )
                .await?;
            }
        }
    }
    tx.commit().await?;
    metrics::counter!("reversals_total", "acquirer" => reversal.acquirer_id.clone(), "outcome" => "confirmed")
        .increment(1);
    Ok(())
}

async fn record_failure(
    app: &AppState,
    reversal: &DueReversal,
    error: &str,
    tries_max: u32,
) -> Result<(), JournalError> {
    let now = app.clock.now();
    let tries = reversal.tries.saturating_add(1);
    let backoff_base = app
        .config
        .acquirers
        .iter()
        .find(|a| a.id == reversal.acquirer_id)
        .and_then(|a| a.link.as_ref())
        .map_or(1_000, |l| l.reversal_backoff_ms);
    let next = (tries < tries_max).then(|| {
        let factor = 1u64 << (tries - 1).min(16);
        let wait = backoff_base.saturating_mul(factor).min(REVERSAL_BACKOFF_MS_MAX);
        now + chrono::Duration::milliseconds(i64::try_from(wait).unwrap_or(i64::MAX))
    });
    let mut tx = app.journal.begin_write().await?;
    reversals::mark_failed(&mut tx, &reversal.id, error, next, now).await?;
    if next.is_none() {
        let note = format!("reversal failed {tries} times ({error}): still in doubt — listed for treasury");
        payments::set_note(&mut tx, &reversal.payment_id, &note, now).await?;
        tracing::error!(payment = %reversal.payment_id, %error, "reversal gave up: payment stays in doubt for treasury");
    }
    tx.commit().await?;
    metrics::counter!("reversals_total", "acquirer" => reversal.acquirer_id.clone(), "outcome" => if next.is_some() { "retry" } else { "gave_up" }).increment(1);
    Ok(())
}
