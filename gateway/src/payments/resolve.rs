//! Ending a payment that has not ended by itself: the clerk's cancel of a payment still waiting
//! for the card (or of a QR code not yet paid — in doubt until the provider confirms), the
//! counter's report that the terminal never took the card, and treasury's settling of a payment
//! left in doubt (an e-money 処理未了, a reversal the acquirer never confirmed, a QR amount that
//! disagreed).

use pos_config::Role;
use pos_core::api::{PaymentView, Resolution};
use pos_core::{Method, PaymentState};

use super::booking::book_payment;
use super::load_locked;
use crate::access::Caller;
use crate::journal::events::{self, EventKind, NewEvent};
use crate::journal::lifecycle::{self, Cause, PaymentFields, Step};
use crate::journal::{payments, qr as qr_journal, reversals, WriteTx};
use crate::refusal::Refusal;
use crate::AppState;

/// Cancels a card or e-money payment still waiting for the card, or asks to cancel a QR payment
/// (the code is then withdrawn and the provider asked: call [`super::qr::spawn_resolve`] after the
/// commit). Once the terminal has sent the authorization the outcome belongs to the acquirer.
pub async fn cancel(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    payment_id: &str,
) -> Result<PaymentView, Refusal> {
    let payment = load_locked(tx, payment_id).await?;
    let facility = super::facility_of(app, &payment)?;
    let register =
        pos_core::RegisterId::parse(&payment.register_id).map_err(|_| Refusal::internal("malformed register id"))?;
    caller.require_register(facility, &register)?;
    let now = app.clock.now();
    if payment.view.method == Method::Qr {
        if payment.view.state != PaymentState::Authorizing {
            return Err(Refusal::conflict(
                "payment_final",
                format!("payment {payment_id} is already {}", payment.view.state),
            ));
        }
        // Not `cancelled` yet: the customer may pay in the instant the code is withdrawn. In doubt
        // until the provider has been asked (and the payment cancelled there if it was paid).
        let note = "cancel requested at the register: withdrawing the QR code — checking, do not retry";
        let fields = PaymentFields { note: Some(note), ..PaymentFields::default() };
        lifecycle::apply(
            tx,
            Step::Payment { record: &payment, to: PaymentState::InDoubt, fields },
            Cause::new(caller.user.as_str(), now),
        )
        .await?;
        qr_journal::mark_cancel_requested(tx, payment_id, now).await?;
        events::append(
            tx.conn(),
            NewEvent {
                at: now,
                actor: caller.user.as_str(),
                kind: EventKind::PaymentCancelRequested,
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
            return Err(Refusal::conflict("payment_in_progress", format!("payment {payment_id} is {}: the card has been read and the outcome is with the acquirer — wait for it, do not retry", payment.view.state)));
        }
        state => return Err(Refusal::conflict("payment_final", format!("payment {payment_id} is already {state}"))),
    }
    let note = "cancelled at the register before the card was read: nothing was charged";
    let fields = PaymentFields { note: Some(note), ..PaymentFields::default() };
    lifecycle::apply(
        tx,
        Step::Payment { record: &payment, to: PaymentState::Cancelled, fields },
        Cause::new(caller.user.as_str(), now),
    )
    .await?;
    Ok(PaymentView { state: PaymentState::Cancelled, note: Some(note.to_string()), ..payment.view })
}

/// The counter reports that its terminal never took the card: if the payment still waits for it,
/// no authorization was sent, so it ends here instead of at the device-wait sweep.
pub async fn charge_failed(
    app: &AppState,
    tx: &mut WriteTx,
    payment_id: &str,
    detail: &str,
    actor: &str,
) -> Result<(), Refusal> {
    let lock = tx.for_update();
    let Some(payment) =
        payments::load(tx.conn(), payment_id, lock).await?.filter(|p| p.view.state == PaymentState::AwaitingDevice)
    else {
        return Ok(());
    };
    let note = format!("the terminal did not take the card ({detail}): nothing was charged");
    let fields = PaymentFields { note: Some(&note), ..PaymentFields::default() };
    lifecycle::apply(
        tx,
        Step::Payment { record: &payment, to: PaymentState::Cancelled, fields },
        Cause::new(actor, app.clock.now()),
    )
    .await?;
    Ok(())
}

/// Treasury settles a payment left in doubt: the settlement or the centre's inquiry shows whether
/// the money was taken.
pub async fn resolve(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    payment_id: &str,
    outcome: Resolution,
    note: &str,
) -> Result<PaymentView, Refusal> {
    caller.require_role(&[Role::Treasury])?;
    let payment = load_locked(tx, payment_id).await?;
    if payment.view.state != PaymentState::InDoubt {
        return Err(Refusal::conflict(
            "not_in_doubt",
            format!("payment {payment_id} is {}, not in doubt", payment.view.state),
        ));
    }
    if reversals::open_for(tx.conn(), payment_id, None).await?.is_some() {
        return Err(Refusal::conflict(
            "reversal_pending",
            format!("payment {payment_id} has a reversal in progress; it resolves itself"),
        ));
    }
    let now = app.clock.now();
    let to = match outcome {
        Resolution::Completed => PaymentState::Completed,
        Resolution::Failed => PaymentState::Failed,
    };
    let recorded = format!("resolved by {}: {note}", caller.user);
    let fields = PaymentFields { note: Some(&recorded), ..PaymentFields::default() };
    lifecycle::apply(tx, Step::Payment { record: &payment, to, fields }, Cause::new(caller.user.as_str(), now)).await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: caller.user.as_str(),
            kind: EventKind::PaymentResolved,
            entity_id: payment_id,
            facility_id: &payment.facility_id,
            data: serde_json::json!({ "state": to, "note": note }),
        },
    )
    .await?;
    if to == PaymentState::Completed {
        book_payment(
            tx,
            &payment.view.sale_id,
            payment.view.amount,
            payment.view.business_date,
            now,
            caller.user.as_str(),
        )
        .await?;
    }
    Ok(PaymentView { state: to, note: Some(recorded), ..payment.view })
}
