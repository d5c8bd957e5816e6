//! Voiding a sale within its open shift. Cash goes back from the drawer at once; a same-day card or
//! e-money payment is reversed at its acquirer and becomes `voided` only when the acquirer
//! confirms (until then, and if it never does, it stays `completed`); a QR payment is refunded in
//! full at its provider. Each cashless part claims the payment's one money-return, so a void and a
//! refund can never both be on their way.

use pos_core::api::SaleView;
use pos_core::{BusinessDate, Method, PaymentState, SaleState, Yen};

use super::{load_locked, refunds, reversals};
use crate::access::Caller;
use crate::journal::events::{self, EventKind, NewEvent};
use crate::journal::lifecycle::{self, Cause, PaymentFields, Step};
use crate::journal::reversals::ReversalReason;
use crate::journal::{payments, sales, WriteTx};
use crate::refusal::Refusal;
use crate::AppState;

/// What a void started beside the journal: QR refunds to send once the transaction commits.
pub struct Voided {
    pub sale: SaleView,
    pub qr_refunds: Vec<String>,
}

pub async fn void(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    sale_id: &str,
    reason: &str,
) -> Result<Voided, Refusal> {
    let (mut sale, _) = super::start::load_for_change(app, tx, caller, sale_id).await?;
    tracing::Span::current().record("sale_id", tracing::field::display(sale_id));
    let next_state = match sale.state {
        SaleState::Paid => SaleState::Voided,
        SaleState::Open => SaleState::Cancelled,
        SaleState::Voided | SaleState::Cancelled => {
            return Err(Refusal::conflict("sale_not_voidable", format!("sale {sale_id} is already {}", sale.state)));
        }
    };
    if let Some(pending) = sale.payments.iter().find(|p| p.state.is_pending()) {
        return Err(Refusal::conflict(
            "payment_pending",
            format!("payment {} is {}; wait for its outcome before voiding", pending.id, pending.state),
        ));
    }
    let now = app.clock.now();
    let actor = caller.user.as_str();
    let today = BusinessDate::of_instant(now);
    let mut qr_refunds = Vec::new();
    for payment in sale.payments.iter_mut().filter(|p| p.state.holds_money()) {
        let record = load_locked(tx, &payment.id).await?;
        if let Some(open) = &record.money_return {
            return Err(Refusal::conflict(
                "money_return_pending",
                format!(
                    "payment {} already has {open} returning money: wait for its outcome before voiding",
                    payment.id
                ),
            ));
        }
        if payment.refunded != Yen::ZERO {
            return Err(Refusal::conflict(
                "void_not_possible",
                format!("payment {} is partly refunded: refund the rest instead", payment.id),
            ));
        }
        let cause = || Cause::new(actor, now).with(serde_json::json!({ "sale_id": sale.id, "reason": reason }));
        let note = match payment.method {
            Method::Cash => {
                lifecycle::apply(
                    tx,
                    Step::Payment { record: &record, to: PaymentState::Voided, fields: PaymentFields::default() },
                    cause(),
                )
                .await?;
                payment.state = PaymentState::Voided;
                continue;
            }
            Method::Qr => {
                let refund_id = refunds::start_qr_void(app, tx, &record, actor, reason).await?.ok_or_else(|| {
                    Refusal::conflict(
                        "void_not_possible",
                        format!(
                            "payment {}'s QR provider is not connected; treasury can record a cash refund",
                            payment.id
                        ),
                    )
                })?;
                qr_refunds.push(refund_id);
                "void requested: refunding at the QR provider"
            }
            _ => {
                if payment.business_date != today {
                    return Err(Refusal::conflict(
                        "void_not_possible",
                        format!(
                            "payment {} was taken on {}: a {} payment can only be voided on its own day — refund it instead",
                            payment.id, payment.business_date, payment.method
                        ),
                    ));
                }
                let queued = reversals::open_of_completed(app, tx, &record, ReversalReason::Void, actor)
                    .await?
                    .ok_or_else(|| {
                        Refusal::conflict(
                            "void_not_possible",
                            format!("payment {} has no acquirer record to reverse", payment.id),
                        )
                    })?;
                tracing::info!(payment = %payment.id, reversal = %queued, "void: reversal queued");
                app.work.reversal_wake.notify_one();
                "void requested: reversing at the acquirer — the payment stays taken until the acquirer confirms"
            }
        };
        payments::set_note(tx, &payment.id, note, now).await?;
        payment.note = Some(note.to_string());
        events::append(
            tx.conn(),
            NewEvent {
                at: now,
                actor,
                kind: EventKind::PaymentVoidRequested,
                entity_id: &payment.id,
                facility_id: sale.facility_id.as_str(),
                data: serde_json::json!({ "sale_id": sale.id, "amount": payment.amount, "reason": reason }),
            },
        )
        .await?;
    }
    sales::set_voided(tx, &sale.id, next_state, now, actor, reason).await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor,
            kind: if next_state == SaleState::Voided { EventKind::SaleVoided } else { EventKind::SaleCancelled },
            entity_id: &sale.id,
            facility_id: sale.facility_id.as_str(),
            data: serde_json::json!({ "reason": reason, "receipt": sale.receipt }),
        },
    )
    .await?;
    sale.state = next_state;
    sale.amount_due = Yen::ZERO;
    sale.voided_at = Some(now);
    sale.void_reason = Some(reason.to_string());
    Ok(Voided { sale, qr_refunds })
}
