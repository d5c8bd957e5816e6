//! Booking money into the records it changes: a completed payment into its sale — the one place
//! where a sale's paid amount grows and its receipt number is issued, whether the money came as
//! cash at the counter or as an approval from an acquirer — and a refund that reached its outcome
//! into its payment.

use chrono::{DateTime, Utc};
use pos_core::api::{CommandKind, ReceiptNumber, SaleView};
use pos_core::{BusinessDate, Method, PaymentState, SaleState, Yen};

use crate::journal::events::{self, EventKind, NewEvent};
use crate::journal::lifecycle::{self, Cause, LifecycleError, PaymentFields, Step};
use crate::journal::payments::{self, PaymentRecord};
use crate::journal::{sales, JournalError, WriteTx};

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("sale {0} does not exist")]
    NoSale(String),
    #[error("payment of {amount} is more than the {due} still due on sale {sale}")]
    Overpaid { sale: String, amount: Yen, due: Yen },
}

/// Adds `amount` to the sale's paid amount inside `tx`; when the sale is then fully paid it
/// becomes `paid` and takes the next receipt number of its register and fiscal year. Returns the
/// sale as it now stands.
pub async fn book_payment(
    tx: &mut WriteTx,
    sale_id: &str,
    amount: Yen,
    paid_on: BusinessDate,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<SaleView, BookingError> {
    let lock = tx.for_update();
    let mut sale =
        sales::load(tx.conn(), sale_id, lock).await?.ok_or_else(|| BookingError::NoSale(sale_id.to_string()))?;
    let paid = sale.amount_paid.checked_add(amount).map_err(|_| BookingError::Overpaid {
        sale: sale_id.to_string(),
        amount,
        due: sale.amount_due,
    })?;
    if paid > sale.amount_total || sale.state != SaleState::Open {
        return Err(BookingError::Overpaid { sale: sale_id.to_string(), amount, due: sale.amount_due });
    }
    sale.amount_paid = paid;
    sale.amount_due = sale.amount_total.checked_sub(paid).unwrap_or_default();
    let receipt: Option<(ReceiptNumber, DateTime<Utc>)> = if sale.amount_due == Yen::ZERO {
        let receipt = sales::next_receipt_number(tx, sale.register_id.as_str(), paid_on.fiscal_year()).await?;
        sale.state = SaleState::Paid;
        sale.receipt = Some(receipt);
        sale.paid_at = Some(now);
        Some((receipt, now))
    } else {
        None
    };
    sales::set_paid(tx, &sale.id, sale.amount_paid, receipt).await?;
    if let Some((receipt, _)) = receipt {
        // The counter prints the receipt (領収書) of every paid sale.
        crate::journal::devices::enqueue(
            tx,
            sale.register_id.as_str(),
            &CommandKind::PrintReceipt { sale_id: sale.id.clone(), reprint: false },
            now,
        )
        .await?;
        events::append(
            tx.conn(),
            NewEvent {
                at: now,
                actor,
                kind: EventKind::SalePaid,
                entity_id: &sale.id,
                facility_id: sale.facility_id.as_str(),
                data: serde_json::json!({ "receipt": receipt, "amount_total": sale.amount_total }),
            },
        )
        .await?;
    }
    // The loaded sale predates this payment's row only when the caller inserted it after; reread
    // the payments so the view is complete.
    sale.payments = crate::journal::payments::of_sale(tx.conn(), &sale.id).await?;
    Ok(sale)
}

impl From<BookingError> for crate::refusal::Refusal {
    fn from(error: BookingError) -> crate::refusal::Refusal {
        match error {
            BookingError::Journal(error) => error.into(),
            BookingError::NoSale(sale) => crate::refusal::Refusal::not_found("sale", &sale),
            BookingError::Overpaid { .. } => crate::refusal::Refusal::conflict("sale_not_open", error.to_string()),
        }
    }
}

/// Records money given back on a payment: its refunded amount and state — or, for the full
/// refund that voids a QR-paid sale, the payment's void.
pub async fn apply_refund(
    tx: &mut WriteTx,
    payment: &PaymentRecord,
    amount: Yen,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PaymentState, LifecycleError> {
    let lock = tx.for_update();
    let current = payments::load(tx.conn(), &payment.view.id, lock).await?.unwrap_or_else(|| payment.clone());
    let sale = crate::journal::sales::load(tx.conn(), &current.view.sale_id, "").await?;
    let voids = sale.is_some_and(|s| s.state == pos_core::SaleState::Voided)
        && amount == current.view.amount
        && current.view.refunded == Yen::ZERO
        && current.view.method == Method::Qr;
    let (to, note) = if voids {
        (PaymentState::Voided, "voided: refunded in full at the QR provider")
    } else {
        let refunded = current.view.refunded.checked_add(amount).unwrap_or(current.view.amount);
        if refunded >= current.view.amount {
            (PaymentState::Refunded, "refunded")
        } else {
            (PaymentState::PartiallyRefunded, "partly refunded")
        }
    };
    let fields = PaymentFields {
        note: Some(note),
        refunded_add: (to != PaymentState::Voided).then_some(amount),
        ..PaymentFields::default()
    };
    lifecycle::apply(
        tx,
        Step::Payment { record: &current, to, fields },
        Cause::new(actor, now).with(serde_json::json!({ "amount": amount })),
    )
    .await?;
    Ok(to)
}
