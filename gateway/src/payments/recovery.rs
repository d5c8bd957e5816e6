//! The background worker: sends due reversals, sweeps what a crash (of this node or another) left
//! half done — card payments and refunds still `authorizing` past their acquirer's deadline go in
//! doubt with a reversal queued; QR payments and refunds are resumed or resolved by inquiry — and
//! expires payments whose card never came. Several nodes may run it on one PostgreSQL: reversals
//! are claimed with a lease (`FOR UPDATE SKIP LOCKED`), and every state change is conditional on
//! the state it starts from.

use std::time::Duration;

use pos_core::PaymentState;
use tokio::sync::watch;

use super::{reversals, SWITCH_ACTOR};
use crate::journal::lifecycle::{self, Cause, LifecycleError, PaymentFields, Step};
use crate::journal::reversals::ReversalReason;
use crate::journal::{payments, JournalError};
use crate::AppState;

/// How often the worker looks for due work when nothing wakes it.
pub const WORKER_POLL_MS: u64 = 250;
/// Reversals sent per round, at most.
pub const REVERSAL_BATCH_MAX: i64 = 32;
/// Added to an acquirer's request timeout before a payment still `authorizing` is taken to be
/// abandoned by a crashed gateway (the live request has certainly ended by then).
pub const AUTHORIZING_STALE_MARGIN_MS: u64 = 2_000;
/// Payments swept per round, at most.
const SWEEP_BATCH_MAX: i64 = 64;

/// Runs until `stop` turns true.
pub async fn run(app: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(error) = round(&app).await {
            tracing::error!(%error, "payments worker round failed");
        }
        tokio::select! {
            _ = app.work.reversal_wake.notified() => {}
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
    let lease = chrono::Duration::milliseconds(i64::try_from(stale_after_ms(app)).unwrap_or(i64::MAX));
    let due = crate::journal::reversals::claim_due(&app.journal, now, lease, REVERSAL_BATCH_MAX).await?;
    for result in futures::future::join_all(due.into_iter().map(|reversal| reversals::attempt(app, reversal))).await {
        result?;
    }
    Ok(())
}

/// How long after its last change a request still `authorizing` is taken to be abandoned.
fn stale_after_ms(app: &AppState) -> u64 {
    let longest =
        app.config.acquirers.iter().filter_map(|a| a.link.as_ref().map(|l| l.request_timeout_ms)).max().unwrap_or(0);
    longest + AUTHORIZING_STALE_MARGIN_MS
}

async fn sweep_stale_authorizations(app: &AppState) -> Result<(), JournalError> {
    let before =
        app.clock.now() - chrono::Duration::milliseconds(i64::try_from(stale_after_ms(app)).unwrap_or(i64::MAX));
    super::refunds::sweep_stale(app, before).await?;
    let stale = {
        let mut conn = app.journal.read().await?;
        payments::in_state_since(&mut conn, PaymentState::Authorizing, before, SWEEP_BATCH_MAX).await?
    };
    // QR payments stay `authorizing` while the customer scans; their watcher and `qr::sweep` own them.
    for candidate in stale.into_iter().filter(|p| p.view.method != pos_core::Method::Qr) {
        let mut tx = app.journal.begin_write().await?;
        let lock = tx.for_update();
        let current = payments::load(tx.conn(), &candidate.view.id, lock).await?;
        let Some(payment) = current.filter(|p| p.view.state == PaymentState::Authorizing) else {
            tx.rollback().await?;
            continue;
        };
        let detail = "the outcome was not recorded (the gateway stopped mid-request)";
        match reversals::open_in_doubt(app, &mut tx, &payment, ReversalReason::Recovery, detail, SWITCH_ACTOR).await {
            Ok(_) => {
                tx.commit().await?;
                tracing::warn!(payment = %payment.view.id, "payment left authorizing: in doubt, reversal queued");
            }
            Err(LifecycleError::Journal(error)) => return Err(error),
            Err(error) => {
                tracing::warn!(%error, payment = %payment.view.id, "stale authorization not swept");
                tx.rollback().await?;
            }
        }
    }
    Ok(())
}

async fn expire_waiting_payments(app: &AppState) -> Result<(), JournalError> {
    let Some(host) = &app.config.terminal_host else { return Ok(()) };
    let before =
        app.clock.now() - chrono::Duration::milliseconds(i64::try_from(host.device_wait_ms).unwrap_or(i64::MAX));
    let waiting = {
        let mut conn = app.journal.read().await?;
        payments::in_state_since(&mut conn, PaymentState::AwaitingDevice, before, SWEEP_BATCH_MAX).await?
    };
    for candidate in waiting {
        let mut tx = app.journal.begin_write().await?;
        let lock = tx.for_update();
        let current = payments::load(tx.conn(), &candidate.view.id, lock).await?;
        let Some(payment) = current.filter(|p| p.view.state == PaymentState::AwaitingDevice) else {
            tx.rollback().await?;
            continue;
        };
        let note = "no card was presented in time: cancelled, nothing was charged";
        let fields = PaymentFields { note: Some(note), ..PaymentFields::default() };
        let step = Step::Payment { record: &payment, to: PaymentState::Cancelled, fields };
        match lifecycle::apply(&mut tx, step, Cause::new(SWITCH_ACTOR, app.clock.now())).await {
            Ok(_) => tx.commit().await?,
            Err(LifecycleError::Journal(error)) => return Err(error),
            Err(_) => tx.rollback().await?,
        }
    }
    Ok(())
}
