//! Starting a payment of a sale: cash (completed and booked at once), card and e-money (waiting for
//! the register's terminal, with the charge queued for its counter), QR (journaled `authorizing`
//! with its provider before the code is made or the customer's code charged).

use pos_config::Facility;
use pos_core::api::{PaymentRequest, PaymentResult, PaymentView, SaleView, ShiftState};
use pos_core::{Brand, BusinessDate, CustomerCode, Method, PaymentState, SaleState, Yen};

use super::booking::book_payment;
use crate::access::Caller;
use crate::journal::lifecycle::{self, Cause, Step};
use crate::journal::{payments, sales, shifts, WriteTx};
use crate::refusal::Refusal;
use crate::AppState;

fn money_error(field: &str) -> impl Fn(pos_core::MoneyError) -> Refusal + '_ {
    move |error| Refusal::unprocessable("invalid_amount", error.to_string()).at(field)
}

/// Loads a sale for change, checking the caller may work its register and its shift is open.
pub(crate) async fn load_for_change(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    sale_id: &str,
) -> Result<(SaleView, Facility), Refusal> {
    load_for_change_by(app, tx, caller, sale_id, false).await
}

/// As [`load_for_change`]; with `device_may`, the register's own counter device may also change
/// the sale (it pays a sale with the code the customer showed its scanner).
async fn load_for_change_by(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    sale_id: &str,
    device_may: bool,
) -> Result<(SaleView, Facility), Refusal> {
    let lock = tx.for_update();
    let sale = sales::load(tx.conn(), sale_id, lock).await?.ok_or_else(|| Refusal::not_found("sale", sale_id))?;
    let facility = app
        .config
        .facility(&sale.facility_id)
        .ok_or_else(|| Refusal::internal("sale of a facility that is no longer configured"))?
        .clone();
    let own_device = matches!(
        (&caller.role, &caller.scope),
        (pos_config::Role::Device, pos_config::Scope::Register { register, .. }) if *register == sale.register_id
    );
    if !(device_may && own_device) {
        caller.require_register(&facility, &sale.register_id)?;
    }
    let shift = shifts::load(tx.conn(), &sale.shift_id, lock)
        .await?
        .ok_or_else(|| Refusal::internal("sale without its shift"))?;
    if shift.state != ShiftState::Open {
        return Err(Refusal::conflict(
            "shift_closed",
            format!("sale {sale_id} belongs to shift {}, which is closed", shift.id),
        ));
    }
    Ok((sale, facility))
}

/// A QR payment: journaled `authorizing` with its provider; the watcher then creates the code
/// (merchant-presented) or charges the scanned customer code (customer-presented) after the
/// commit, and follows it to an outcome.
pub async fn qr(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    sale_id: &str,
    request: &PaymentRequest,
    customer_code: Option<&CustomerCode>,
) -> Result<PaymentResult, Refusal> {
    let (sale, facility) = load_for_change_by(app, tx, caller, sale_id, customer_code.is_some()).await?;
    let brand = request.brand.ok_or_else(|| {
        Refusal::unprocessable("brand_required", "a QR payment needs its brand, e.g. PAYPAY").at("brand")
    })?;
    if brand.method() != Method::Qr {
        return Err(Refusal::unprocessable("brand_not_qr", format!("{brand} is not a QR brand")).at("brand"));
    }
    if !facility.accepts(brand) {
        return Err(Refusal::unprocessable(
            "brand_not_accepted",
            format!("facility {} does not take {brand}", facility.id),
        )
        .at("brand"));
    }
    let acquirer = app
        .config
        .qr_acquirer(brand)
        .map(|(acquirer, _)| acquirer.id.clone())
        .filter(|id| app.connectors.qr(id).is_some())
        .ok_or_else(|| {
            Refusal::unprocessable(
                "method_unavailable",
                format!("no {brand} provider is connected to this gateway; take another method"),
            )
            .at("method")
        })?;
    let scans = app.config.qr_acquirer(brand).is_some_and(|(_, link)| link.customer_presented);
    if customer_code.is_some() && !scans {
        return Err(Refusal::unprocessable(
            "customer_presented_unsupported",
            format!("the {brand} provider does not take scanned customer codes: show the customer display instead"),
        )
        .at("customer_code"));
    }
    let amount = amount_to_pay(&sale, &facility, request)?;
    let now = app.clock.now();
    let state = PaymentState::Created
        .transition(PaymentState::Authorizing, Method::Qr)
        .map_err(|e| Refusal::internal(e.to_string()))?;
    let payment = PaymentView {
        id: format!("pay_{}", uuid::Uuid::new_v4().simple()),
        sale_id: sale.id.clone(),
        method: Method::Qr,
        brand: Some(brand),
        amount,
        tendered: None,
        change: None,
        state,
        created_at: now,
        business_date: BusinessDate::of_instant(now),
        terminal_id: None,
        masked_card: customer_code.map(CustomerCode::masked),
        response_code: None,
        rrn: None,
        auth_code: None,
        note: Some(
            if customer_code.is_some() {
                "charging the customer's code at the QR provider"
            } else {
                "creating the QR code: show the customer display"
            }
            .to_string(),
        ),
        refunded: Yen::ZERO,
    };
    lifecycle::apply(
        tx,
        Step::NewPayment { sale: &sale, payment: &payment, acquirer_id: Some(&acquirer) },
        Cause::new(caller.user.as_str(), now).with(serde_json::json!({ "acquirer": acquirer })),
    )
    .await?;
    let mut sale = sale;
    sale.payments.push(payment.clone());
    super::trace_payment(&payment.id, &sale.id);
    Ok(PaymentResult { payment, sale })
}

/// The part of the sale a new payment covers, after the checks every method shares.
fn amount_to_pay(sale: &SaleView, facility: &Facility, request: &PaymentRequest) -> Result<Yen, Refusal> {
    if sale.state != SaleState::Open {
        return Err(Refusal::conflict(
            "sale_not_open",
            format!("sale {} is {} and takes no more payments", sale.id, sale.state),
        ));
    }
    if let Some(pending) = sale.payments.iter().find(|p| p.state.is_pending()) {
        let advice = if pending.state == PaymentState::InDoubt {
            "checking its outcome — do not retry"
        } else {
            "wait for it or cancel it"
        };
        return Err(Refusal::conflict(
            "payment_pending",
            format!("payment {} of this sale is {}: {advice}", pending.id, pending.state),
        ));
    }
    let due = sale.amount_due;
    let amount = request.amount.unwrap_or(due);
    if amount > due {
        return Err(Refusal::unprocessable(
            "amount_exceeds_due",
            format!("amount {amount} is more than the {due} still due"),
        )
        .at("amount"));
    }
    if amount != due && !facility.policy.split_tender {
        return Err(Refusal::unprocessable(
            "split_tender_not_allowed",
            format!("facility {} takes one payment per sale: pay the whole {due}", facility.id),
        )
        .at("amount"));
    }
    Ok(amount)
}

pub async fn cash(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    sale_id: &str,
    request: &PaymentRequest,
) -> Result<PaymentResult, Refusal> {
    let (sale, facility) = load_for_change(app, tx, caller, sale_id).await?;
    if !facility.accepts(Brand::Cash) {
        return Err(Refusal::unprocessable(
            "brand_not_accepted",
            format!("facility {} does not take cash", facility.id),
        )
        .at("method"));
    }
    let amount = amount_to_pay(&sale, &facility, request)?;
    let tendered = request.tendered.ok_or_else(|| {
        Refusal::unprocessable("tendered_required", "a cash payment needs the tendered amount").at("tendered")
    })?;
    if tendered < amount {
        return Err(Refusal::unprocessable(
            "tendered_insufficient",
            format!("tendered {tendered} is less than the {amount} to pay"),
        )
        .at("tendered"));
    }
    if tendered > facility.policy.cash_tendered_max {
        return Err(Refusal::unprocessable(
            "cash_limit",
            format!("this register accepts at most {} in cash at once", facility.policy.cash_tendered_max),
        )
        .at("tendered"));
    }
    let change = tendered.checked_sub(amount).map_err(money_error("tendered"))?;
    let now = app.clock.now();
    let state = PaymentState::Created
        .transition(PaymentState::Completed, Method::Cash)
        .map_err(|e| Refusal::internal(e.to_string()))?;
    let payment = PaymentView {
        id: format!("pay_{}", uuid::Uuid::new_v4().simple()),
        sale_id: sale.id.clone(),
        method: Method::Cash,
        brand: Some(Brand::Cash),
        amount,
        tendered: Some(tendered),
        change: Some(change),
        state,
        created_at: now,
        business_date: BusinessDate::of_instant(now),
        terminal_id: None,
        masked_card: None,
        response_code: None,
        rrn: None,
        auth_code: None,
        note: None,
        refunded: Yen::ZERO,
    };
    let actor = caller.user.as_str();
    lifecycle::apply(
        tx,
        Step::NewPayment { sale: &sale, payment: &payment, acquirer_id: None },
        Cause::new(actor, now),
    )
    .await?;
    let sale = book_payment(tx, &sale.id, amount, payment.business_date, now, actor).await?;
    // Cash went into the drawer and change comes out of it.
    crate::journal::devices::enqueue(tx, sale.register_id.as_str(), &pos_core::api::CommandKind::OpenDrawer, now)
        .await?;
    super::trace_payment(&payment.id, &sale.id);
    Ok(PaymentResult { payment, sale })
}

/// A card or e-money payment: bound to the register's terminal, waiting for the card. The terminal
/// host completes it when the terminal's authorization arrives (PROTOCOLS.md §1).
pub async fn device(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    sale_id: &str,
    request: &PaymentRequest,
    method: Method,
) -> Result<PaymentResult, Refusal> {
    let (sale, facility) = load_for_change(app, tx, caller, sale_id).await?;
    if !facility.brands.iter().any(|b| b.method() == method) {
        return Err(Refusal::unprocessable(
            "brand_not_accepted",
            format!("facility {} takes no {method} brand", facility.id),
        )
        .at("method"));
    }
    let connected =
        app.config.acquirers.iter().any(|a| a.link.is_some() && a.fees.iter().any(|f| f.brand.method() == method));
    if !connected {
        return Err(Refusal::unprocessable(
            "method_unavailable",
            format!("no {method} acquirer is connected to this gateway; take another method"),
        )
        .at("method"));
    }
    let terminal =
        app.config.register(&sale.register_id).and_then(|(_, register)| register.terminal.clone()).ok_or_else(
            || {
                Refusal::unprocessable("no_terminal", format!("register {} has no payment terminal", sale.register_id))
                    .at("method")
            },
        )?;
    let amount = amount_to_pay(&sale, &facility, request)?;
    let lock = tx.for_update();
    let busy = payments::list_pending_at_terminal(tx.conn(), terminal.as_str(), lock).await?;
    if let Some(busy) = busy {
        return Err(Refusal::conflict(
            "terminal_busy",
            format!("terminal {terminal} is busy with payment {} ({})", busy.view.id, busy.view.state),
        ));
    }
    let now = app.clock.now();
    let state = PaymentState::Created
        .transition(PaymentState::AwaitingDevice, method)
        .map_err(|e| Refusal::internal(e.to_string()))?;
    let payment = PaymentView {
        id: format!("pay_{}", uuid::Uuid::new_v4().simple()),
        sale_id: sale.id.clone(),
        method,
        brand: None,
        amount,
        tendered: None,
        change: None,
        state,
        created_at: now,
        business_date: BusinessDate::of_instant(now),
        terminal_id: Some(terminal.to_string()),
        masked_card: None,
        response_code: None,
        rrn: None,
        auth_code: None,
        note: Some(format!("waiting for the card on terminal {terminal}")),
        refunded: Yen::ZERO,
    };
    lifecycle::apply(
        tx,
        Step::NewPayment { sale: &sale, payment: &payment, acquirer_id: None },
        Cause::new(caller.user.as_str(), now),
    )
    .await?;
    // The counter's device bridge takes the charge to the terminal (server-driven model).
    crate::journal::devices::enqueue(
        tx,
        sale.register_id.as_str(),
        &pos_core::api::CommandKind::Charge { payment_id: payment.id.clone(), amount },
        now,
    )
    .await?;
    let mut sale = sale;
    sale.payments.push(payment.clone());
    super::trace_payment(&payment.id, &sale.id);
    Ok(PaymentResult { payment, sale })
}
