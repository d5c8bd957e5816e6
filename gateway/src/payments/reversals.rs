//! Reversals at the acquirer: queued in the transaction that decides them, sent by the
//! [`super::recovery`] worker as 0400 and then 0401 with backoff, and believed only when the
//! acquirer confirms (PROTOCOLS.md §1): `00`, or — for an authorization whose outcome we never
//! learnt, or a refund in doubt — `25`, the original was never booked. Any other code, garbage or
//! silence is retried; when the tries run out the reversal gives up, the payment stays as it was
//! (in doubt, or completed with its void failed), and treasury gets an exception naming the
//! acquirer's last answer. The clerk is never told "nothing was charged" without a positive answer.

use chrono::{DateTime, Utc};
use pos_core::{PaymentState, RefundState, ReversalState};

use super::connectors_acquirer;
use super::exceptions::{self, SwitchException};
use super::SWITCH_ACTOR;
use crate::connectors::acquirer::ReversalAnswer;
use crate::journal::lifecycle::{
    self, Applied, Cause, LifecycleError, NewReversal as NewReversalOriginal, PaymentFields, RefundFields,
    ReversalFields, Step,
};
use crate::journal::payments::{self, PaymentRecord};
use crate::journal::refunds;
use crate::journal::reversals::{OriginalRequest, ReversalReason, ReversalRecord};
use crate::journal::{JournalError, WriteTx};
use crate::AppState;

/// The longest wait between two reversal attempts.
pub const REVERSAL_BACKOFF_MS_MAX: u64 = 60_000;

/// What a reversal of this payment's authorization must name (no card data).
pub fn original_of_payment(app: &AppState, payment: &PaymentRecord) -> Option<(String, OriginalRequest)> {
    let (Some(acquirer_id), Some(stan), Some(transmitted_at)) =
        (&payment.acquirer_id, &payment.acquirer_stan, &payment.transmitted_at)
    else {
        return None;
    };
    let brand_data = iso8583::BrandData { brand: payment.view.brand, ..iso8583::BrandData::default() }.format();
    Some((
        acquirer_id.clone(),
        OriginalRequest {
            mti: "0200".to_string(),
            processing_code: iso8583::fields::PROCESSING_PURCHASE.to_string(),
            amount: payment.view.amount.get(),
            terminal_id: payment.view.terminal_id.clone().unwrap_or_default(),
            merchant_id: super::merchant_of(app, &payment.facility_id),
            stan: stan.clone(),
            transmitted_at: transmitted_at.clone(),
            brand_data,
        },
    ))
}

/// Queues the reversal of a completed payment (a clerk's void, a terminal's late reversal),
/// claiming its money-return; `None` when the payment has no acquirer record to reverse.
pub async fn open_of_completed(
    app: &AppState,
    tx: &mut WriteTx,
    payment: &PaymentRecord,
    reason: ReversalReason,
    actor: &str,
) -> Result<Option<String>, LifecycleError> {
    let Some((acquirer_id, original)) = original_of_payment(app, payment) else {
        return Ok(None);
    };
    let applied = lifecycle::apply(
        tx,
        Step::NewReversal(NewReversalOriginal {
            payment,
            refund_id: None,
            acquirer_id: &acquirer_id,
            reason,
            original: &original,
        }),
        Cause::new(actor, app.clock.now()),
    )
    .await?;
    Ok(match applied {
        Applied::Reversal { id, .. } => Some(id),
        _ => None,
    })
}

/// Puts a payment whose request went out without a usable answer into doubt and queues its
/// reversal, in one transaction. Returns whether a reversal was queued.
pub async fn open_in_doubt(
    app: &AppState,
    tx: &mut WriteTx,
    payment: &PaymentRecord,
    reason: ReversalReason,
    detail: &str,
    actor: &str,
) -> Result<bool, LifecycleError> {
    let Some((acquirer_id, original)) = original_of_payment(app, payment) else {
        return Ok(false);
    };
    let now = app.clock.now();
    let mut current = payment.clone();
    if payment.view.state != PaymentState::InDoubt {
        let note = format!("{detail}: reversing — checking, do not retry");
        let fields = PaymentFields { note: Some(&note), ..PaymentFields::default() };
        lifecycle::apply(
            tx,
            Step::Payment { record: payment, to: PaymentState::InDoubt, fields },
            Cause::new(actor, now),
        )
        .await?;
        current.view.state = PaymentState::InDoubt;
    }
    let applied = lifecycle::apply(
        tx,
        Step::NewReversal(NewReversalOriginal {
            payment: &current,
            refund_id: None,
            acquirer_id: &acquirer_id,
            reason,
            original: &original,
        }),
        Cause::new(actor, now),
    )
    .await?;
    Ok(matches!(applied, Applied::Reversal { .. }))
}

/// Sends one attempt of a due reversal and journals what came of it.
pub async fn attempt(app: &AppState, reversal: ReversalRecord) -> Result<(), JournalError> {
    let Some(connector) = connectors_acquirer(app, &reversal.acquirer_id) else {
        return record(app, &reversal, ReversalAnswer::NoAnswer("no link to the acquirer".to_string()), u32::MAX, 0)
            .await;
    };
    let answer = connector.reverse(&reversal.original, reversal.tries > 0, app.clock.now()).await;
    let outcome = match &answer {
        ReversalAnswer::Confirmed => "confirmed",
        ReversalAnswer::OriginalNotFound => "not_found",
        ReversalAnswer::Refused(_) => "refused",
        ReversalAnswer::NoAnswer(_) => "no_answer",
    };
    metrics::counter!("reversal_answers_total", "acquirer" => reversal.acquirer_id.clone(), "answer" => outcome)
        .increment(1);
    record(app, &reversal, answer, connector.reversal_tries_max(), connector.reversal_backoff_ms()).await
}

/// Whether this answer confirms the reversal, given what it reverses now.
fn confirms(answer: &ReversalAnswer, reverses_money_held: bool) -> bool {
    match answer {
        ReversalAnswer::Confirmed => true,
        // "Never booked" proves nothing was charged only where we never learnt the outcome; for
        // money the journal holds as taken it contradicts the approval, and proves nothing.
        ReversalAnswer::OriginalNotFound => !reverses_money_held,
        ReversalAnswer::Refused(_) | ReversalAnswer::NoAnswer(_) => false,
    }
}

async fn record(
    app: &AppState,
    reversal: &ReversalRecord,
    answer: ReversalAnswer,
    tries_max: u32,
    backoff_ms: u64,
) -> Result<(), JournalError> {
    let now = app.clock.now();
    let mut tx = app.journal.begin_write().await?;
    let lock = tx.for_update();
    let Some(current) = crate::journal::reversals::load(tx.conn(), &reversal.id, lock).await? else {
        return tx.rollback().await;
    };
    if current.state != ReversalState::Pending {
        // Another node or attempt finished it meanwhile.
        return tx.rollback().await;
    }
    let Some(payment) = payments::load(tx.conn(), &current.payment_id, lock).await? else {
        return tx.rollback().await;
    };
    let money_held = current.refund_id.is_none() && payment.view.state.holds_money();
    let recorded = answer.recorded();
    let result = if confirms(&answer, money_held) {
        confirmed(&mut tx, &current, &payment, &recorded, now).await
    } else {
        failed(&mut tx, &current, &payment, &recorded, tries_max, backoff_ms, now).await
    };
    match result {
        Ok(()) => tx.commit().await,
        Err(LifecycleError::Journal(error)) => Err(error),
        Err(error) => {
            // A state that moved meanwhile (another node, a resolution): nothing to record here.
            tracing::warn!(%error, reversal = %current.id, "reversal outcome not recorded");
            tx.rollback().await
        }
    }
}

async fn confirmed(
    tx: &mut WriteTx,
    reversal: &ReversalRecord,
    payment: &PaymentRecord,
    answer: &str,
    now: DateTime<Utc>,
) -> Result<(), LifecycleError> {
    let cause = || Cause::new(SWITCH_ACTOR, now).with(serde_json::json!({ "reversal": reversal.id, "answer": answer }));
    let fields = ReversalFields { attempted: true, answer: Some(answer), ..ReversalFields::default() };
    lifecycle::apply(tx, Step::Reversal { record: reversal, to: ReversalState::Done, fields }, cause()).await?;
    metrics::counter!("reversals_total", "acquirer" => reversal.acquirer_id.clone(), "outcome" => "confirmed")
        .increment(1);
    if let Some(refund_id) = &reversal.refund_id {
        let lock = tx.for_update();
        if let Some(refund) =
            refunds::load(tx.conn(), refund_id, lock).await?.filter(|r| r.view.state == RefundState::InDoubt)
        {
            let fields = RefundFields { response_code: Some(answer), rrn: None };
            lifecycle::apply(tx, Step::Refund { record: &refund, to: RefundState::Reversed, fields }, cause()).await?;
        }
        return Ok(());
    }
    let (to, note) = match payment.view.state {
        PaymentState::InDoubt if answer == "25" => {
            (PaymentState::Reversed, "the acquirer never booked it (25): nothing was charged — take the payment again")
        }
        PaymentState::InDoubt => {
            (PaymentState::Reversed, "reversed at the acquirer (00): nothing was charged — take the payment again")
        }
        PaymentState::Completed if reversal.reason == ReversalReason::TerminalRequest => {
            (PaymentState::Voided, "reversed at the terminal's request (00): the sale must be taken again")
        }
        PaymentState::Completed => (PaymentState::Voided, "voided: reversed at the acquirer (00)"),
        _ => return Ok(()),
    };
    let fields = PaymentFields { note: Some(note), response_code: None, ..PaymentFields::default() };
    lifecycle::apply(tx, Step::Payment { record: payment, to, fields }, cause()).await?;
    if reversal.reason == ReversalReason::TerminalRequest && to == PaymentState::Voided {
        crate::journal::sales::void_if_paid(
            tx,
            &payment.view.sale_id,
            now,
            SWITCH_ACTOR,
            "reversed at the terminal's request",
        )
        .await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn failed(
    tx: &mut WriteTx,
    reversal: &ReversalRecord,
    payment: &PaymentRecord,
    answer: &str,
    tries_max: u32,
    backoff_ms: u64,
    now: DateTime<Utc>,
) -> Result<(), LifecycleError> {
    let tries = reversal.tries.saturating_add(1);
    let next = (tries < tries_max).then(|| {
        let factor = 1u64 << (tries - 1).min(16);
        let wait = backoff_ms.saturating_mul(factor).min(REVERSAL_BACKOFF_MS_MAX);
        now + chrono::Duration::milliseconds(i64::try_from(wait).unwrap_or(i64::MAX))
    });
    let to = if next.is_some() { ReversalState::Pending } else { ReversalState::GaveUp };
    let fields = ReversalFields { attempted: true, answer: Some(answer), error: None, next_attempt_at: next };
    let cause = || Cause::new(SWITCH_ACTOR, now).with(serde_json::json!({ "reversal": reversal.id }));
    lifecycle::apply(tx, Step::Reversal { record: reversal, to, fields }, cause()).await?;
    let outcome = if next.is_some() { "retry" } else { "gave_up" };
    metrics::counter!("reversals_total", "acquirer" => reversal.acquirer_id.clone(), "outcome" => outcome).increment(1);
    if next.is_some() {
        return Ok(());
    }
    // Given up: what it was meant to undo stands as it was, and treasury is told.
    let (note, exception) = if let Some(refund_id) = &reversal.refund_id {
        (None, SwitchException::refund_unconfirmed(payment, refund_id, reversal, answer, tries))
    } else if payment.view.state.holds_money() {
        (
            Some(format!(
                "the void was not confirmed by the acquirer (last answer {answer}, {tries} tries): the payment is still taken — treasury resolves it"
            )),
            SwitchException::void_unconfirmed(payment, reversal, answer, tries),
        )
    } else {
        (
            Some(format!(
                "the acquirer did not confirm the reversal (last answer {answer}, {tries} tries): the outcome is unknown — do not take the payment again; treasury resolves it"
            )),
            SwitchException::reversal_unconfirmed(payment, reversal, answer, tries),
        )
    };
    if let Some(note) = note {
        payments::set_note(tx, &payment.view.id, &note, now).await?;
    }
    exceptions::raise(tx, &exception, now).await?;
    tracing::error!(payment = %payment.view.id, reversal = %reversal.id, %answer, tries, "reversal gave up: raised to treasury");
    Ok(())
}
