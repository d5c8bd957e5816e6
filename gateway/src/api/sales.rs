//! Sales: ring up fee items, pay (cash, for now), void within the shift, list and fetch.

use crate::switch::qr_barcode::CustomerCode;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use pos_config::{Facility, Price};
use pos_core::api::{
    CreateSaleRequest, PaymentRequest, PaymentResult, PaymentView, SaleLineView, SaleList, SaleView, ShiftState,
    VoidSaleRequest, LINE_QUANTITY_MAX, REASON_CHARS_MAX, SALE_LINES_MAX,
};
use pos_core::{Brand, BusinessDate, FacilityId, Method, PaymentState, RegisterId, SaleState, Yen};
use serde::Deserialize;

use super::auth::Caller;
use super::error::ApiError;
use super::extract::{Idempotent, QueryParams};
use super::idempotency::{begin, Begun};
use crate::booking::{book_payment, BookingError};
use crate::journal::events::{self, NewEvent};
use crate::journal::payments;
use crate::journal::sales::{self, SaleFilter};
use crate::journal::{shifts, WriteTx};
use crate::AppState;

pub fn booking_error(error: BookingError) -> ApiError {
    match error {
        BookingError::Journal(error) => error.into(),
        BookingError::NoSale(sale) => ApiError::not_found("sale", &sale),
        BookingError::Overpaid { .. } => ApiError::conflict("sale_not_open", error.to_string()),
    }
}

fn money_error(field: &str) -> impl Fn(pos_core::MoneyError) -> ApiError + '_ {
    move |error| ApiError::unprocessable("invalid_amount", error.to_string()).at(field)
}

/// Checks the basket against the fee catalogue and the facility's policy; returns priced lines.
fn price_lines(
    app: &AppState,
    facility: &Facility,
    request: &CreateSaleRequest,
) -> Result<(Vec<SaleLineView>, Yen), ApiError> {
    if request.lines.is_empty() {
        return Err(ApiError::unprocessable("empty_sale", "a sale needs at least one fee item").at("lines"));
    }
    if request.lines.len() > SALE_LINES_MAX {
        return Err(
            ApiError::unprocessable("too_many_lines", format!("a sale has at most {SALE_LINES_MAX} lines")).at("lines")
        );
    }
    let mut lines = Vec::with_capacity(request.lines.len());
    for (index, line) in request.lines.iter().enumerate() {
        let field = |name: &str| format!("lines[{index}].{name}");
        let item = app.config.fee_item(&line.fee_item).ok_or_else(|| {
            ApiError::unprocessable("unknown_fee_item", format!("unknown fee item {:?}", line.fee_item.as_str()))
                .at(field("fee_item"))
        })?;
        if !facility.sells(&item.code) {
            return Err(ApiError::unprocessable(
                "fee_item_not_sold",
                format!("fee item {} ({}) is not sold at facility {}", item.code, item.name_ja, facility.id),
            )
            .at(field("fee_item")));
        }
        if line.quantity == 0 || line.quantity > LINE_QUANTITY_MAX {
            return Err(ApiError::unprocessable(
                "invalid_quantity",
                format!("quantity must be between 1 and {LINE_QUANTITY_MAX}"),
            )
            .at(field("quantity")));
        }
        let unit_price = match (item.price, line.amount) {
            (Price::Fixed(price), None) => price,
            (Price::Fixed(price), Some(_)) => {
                return Err(ApiError::unprocessable(
                    "amount_not_allowed",
                    format!("{} has a fixed price of {price}; do not send an amount", item.code),
                )
                .at(field("amount")))
            }
            (Price::Open { .. }, _) if !facility.policy.open_price_items => {
                return Err(ApiError::unprocessable(
                    "open_price_not_allowed",
                    format!("facility {} does not take open-priced items", facility.id),
                )
                .at(field("fee_item")))
            }
            (Price::Open { .. }, None) => {
                return Err(ApiError::unprocessable(
                    "amount_required",
                    format!("{} is open-priced: enter the amount", item.code),
                )
                .at(field("amount")))
            }
            (Price::Open { amount_max }, Some(amount)) => {
                if amount.get() <= 0 || amount > amount_max {
                    return Err(ApiError::unprocessable(
                        "invalid_amount",
                        format!("the amount for {} must be between ¥1 and {amount_max}", item.code),
                    )
                    .at(field("amount")));
                }
                amount
            }
        };
        let amount = unit_price.checked_mul(i64::from(line.quantity)).map_err(money_error(&field("quantity")))?;
        lines.push(SaleLineView {
            fee_item: item.code.clone(),
            name_ja: item.name_ja.clone(),
            unit_price,
            quantity: line.quantity,
            amount,
            revenue_account: item.revenue_account.clone(),
        });
    }
    let total = Yen::checked_sum(lines.iter().map(|l| l.amount)).map_err(money_error("lines"))?;
    Ok((lines, total))
}

pub async fn create(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    request: Idempotent<CreateSaleRequest>,
) -> Result<Response, ApiError> {
    let (facility, _) = app.config.register(&request.body.register_id).ok_or_else(|| {
        ApiError::unprocessable("unknown_register", format!("register {} is not configured", request.body.register_id))
            .at("register_id")
    })?;
    caller.require_register(facility, &request.body.register_id)?;
    let (lines, total) = price_lines(&app, facility, &request.body)?;
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let now = app.clock.now();
    let sale = SaleView {
        id: format!("sale_{}", uuid::Uuid::new_v4().simple()),
        facility_id: facility.id.clone(),
        register_id: request.body.register_id.clone(),
        shift_id: String::new(),
        state: SaleState::Open,
        business_date: BusinessDate::of_instant(now),
        created_at: now,
        created_by: caller.user.clone(),
        amount_total: total,
        amount_paid: Yen::ZERO,
        amount_due: total,
        receipt: None,
        paid_at: None,
        voided_at: None,
        void_reason: None,
        lines,
        payments: Vec::new(),
    };
    let outcome = create_in(&mut itx.tx, sale, &caller).await.map(|sale| (StatusCode::CREATED, sale));
    if outcome.is_ok() {
        metrics::counter!("sales_created_total", "facility" => facility.id.to_string()).increment(1);
    }
    itx.complete(outcome).await
}

async fn create_in(tx: &mut WriteTx, mut sale: SaleView, caller: &Caller) -> Result<SaleView, ApiError> {
    let lock = tx.for_update();
    let shift = shifts::open_at_register(tx.conn(), sale.register_id.as_str(), lock).await?.ok_or_else(|| {
        ApiError::conflict("no_open_shift", format!("register {} has no open shift; open one first", sale.register_id))
    })?;
    sale.shift_id = shift.id;
    sales::insert_sale(tx, &sale).await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: sale.created_at,
            actor: caller.user.as_str(),
            kind: "sale.created",
            entity_id: &sale.id,
            facility_id: sale.facility_id.as_str(),
            data: serde_json::json!({ "register_id": sale.register_id, "shift_id": sale.shift_id, "amount_total": sale.amount_total, "lines": sale.lines }),
        },
    )
    .await?;
    Ok(sale)
}

/// Loads a sale for change, checking the caller may work its register and its shift is open.
async fn load_for_change(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    sale_id: &str,
) -> Result<(SaleView, Facility), ApiError> {
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
) -> Result<(SaleView, Facility), ApiError> {
    let lock = tx.for_update();
    let sale = sales::load(tx.conn(), sale_id, lock).await?.ok_or_else(|| ApiError::not_found("sale", sale_id))?;
    let facility = app
        .config
        .facility(&sale.facility_id)
        .ok_or_else(|| ApiError::internal("sale of a facility that is no longer configured"))?
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
        .ok_or_else(|| ApiError::internal("sale without its shift"))?;
    if shift.state != ShiftState::Open {
        return Err(ApiError::conflict(
            "shift_closed",
            format!("sale {sale_id} belongs to shift {}, which is closed", shift.id),
        ));
    }
    Ok((sale, facility))
}

pub async fn pay(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(sale_id): Path<String>,
    request: Idempotent<PaymentRequest>,
) -> Result<Response, ApiError> {
    if request.body.method != Method::Qr && request.body.brand.is_some() {
        return Err(ApiError::unprocessable("brand_not_allowed", "only a QR payment names its brand").at("brand"));
    }
    if request.body.method != Method::Cash && request.body.tendered.is_some() {
        return Err(
            ApiError::unprocessable("tendered_not_allowed", "only a cash payment has a tendered amount").at("tendered")
        );
    }
    let customer_code = scanned_customer_code(&request.body)?;
    for (field, amount) in [("tendered", request.body.tendered), ("amount", request.body.amount)] {
        if amount.is_some_and(|a| a.get() <= 0) {
            return Err(ApiError::unprocessable("invalid_amount", format!("{field} must be a positive amount of yen"))
                .at(field));
        }
    }
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let outcome = match request.body.method {
        Method::Cash => pay_cash_in(&app, &mut itx.tx, &caller, &sale_id, &request.body).await,
        Method::Qr => {
            start_qr_payment_in(&app, &mut itx.tx, &caller, &sale_id, &request.body, customer_code.as_ref()).await
        }
        method => start_device_payment_in(&app, &mut itx.tx, &caller, &sale_id, &request.body, method).await,
    };
    if let Some(result) = outcome.as_ref().ok().filter(|r| r.payment.method == Method::Cash) {
        let facility = result.sale.facility_id.to_string();
        metrics::counter!("payments_completed_total", "facility" => facility.clone(), "method" => "cash").increment(1);
        metrics::counter!("payments_amount_yen_total", "facility" => facility, "method" => "cash")
            .increment(result.payment.amount.get().unsigned_abs());
    }
    let qr_payment = outcome.as_ref().ok().filter(|r| r.payment.method == Method::Qr).map(|r| r.payment.id.clone());
    // The scanned code waits in memory for the watcher: it is never journaled.
    let held = qr_payment.clone().zip(customer_code);
    if let Some((payment_id, code)) = held.clone() {
        app.switch.qr.hold_code(&payment_id, code);
    }
    let response = match itx.complete(outcome.map(|result| (StatusCode::CREATED, result))).await {
        Ok(response) => response,
        Err(error) => {
            if let Some((payment_id, _)) = held {
                app.switch.qr.drop_code(&payment_id);
            }
            return Err(error);
        }
    };
    // Only once `authorizing` is committed may the code be created (write-ahead).
    if let Some(payment_id) = qr_payment {
        crate::switch::qr::spawn_watch(&app, &payment_id);
    }
    Ok(response)
}

/// The customer code a QR payment request carries, checked before anything is journaled: digits
/// only, of a scanner's length, and only on a QR payment. Errors never repeat the code.
fn scanned_customer_code(request: &PaymentRequest) -> Result<Option<CustomerCode>, ApiError> {
    let Some(text) = &request.customer_code else { return Ok(None) };
    if request.method != Method::Qr {
        return Err(ApiError::unprocessable(
            "customer_code_not_allowed",
            "only a QR payment takes a scanned customer code",
        )
        .at("customer_code"));
    }
    CustomerCode::parse(text)
        .map(Some)
        .map_err(|error| ApiError::unprocessable("invalid_customer_code", error.to_string()).at("customer_code"))
}

/// A QR payment: journaled `authorizing` with its provider; the watcher then creates the code
/// (merchant-presented) or charges the scanned customer code (customer-presented) after the
/// commit, and follows it to an outcome.
async fn start_qr_payment_in(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    sale_id: &str,
    request: &PaymentRequest,
    customer_code: Option<&CustomerCode>,
) -> Result<PaymentResult, ApiError> {
    let (sale, facility) = load_for_change_by(app, tx, caller, sale_id, customer_code.is_some()).await?;
    let brand = request.brand.ok_or_else(|| {
        ApiError::unprocessable("brand_required", "a QR payment needs its brand, e.g. PAYPAY").at("brand")
    })?;
    if brand.method() != Method::Qr {
        return Err(ApiError::unprocessable("brand_not_qr", format!("{brand} is not a QR brand")).at("brand"));
    }
    if !facility.accepts(brand) {
        return Err(ApiError::unprocessable(
            "brand_not_accepted",
            format!("facility {} does not take {brand}", facility.id),
        )
        .at("brand"));
    }
    let acquirer = app
        .config
        .qr_acquirer(brand)
        .map(|(acquirer, _)| acquirer.id.clone())
        .filter(|id| app.switch.qr.client(id).is_some())
        .ok_or_else(|| {
            ApiError::unprocessable(
                "method_unavailable",
                format!("no {brand} provider is connected to this gateway; take another method"),
            )
            .at("method")
        })?;
    let scans = app.config.qr_acquirer(brand).is_some_and(|(_, link)| link.customer_presented);
    if customer_code.is_some() && !scans {
        return Err(ApiError::unprocessable(
            "customer_presented_unsupported",
            format!("the {brand} provider does not take scanned customer codes: show the customer display instead"),
        )
        .at("customer_code"));
    }
    let amount = amount_to_pay(&sale, &facility, request)?;
    let now = app.clock.now();
    let state = PaymentState::Created
        .transition(PaymentState::Authorizing, Method::Qr)
        .map_err(|e| ApiError::internal(e.to_string()))?;
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
    payments::insert(tx, &sale, &payment).await?;
    crate::journal::qr::set_acquirer(tx, &payment.id, &acquirer).await?;
    if let Some(masked) = &payment.masked_card {
        crate::journal::qr::set_customer_code(tx, &payment.id, masked).await?;
    }
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: caller.user.as_str(),
            kind: "payment.authorizing",
            entity_id: &payment.id,
            facility_id: sale.facility_id.as_str(),
            data: serde_json::json!({ "sale_id": sale.id, "method": "qr", "brand": brand, "amount": amount, "acquirer": acquirer }),
        },
    )
    .await?;
    let mut sale = sale;
    sale.payments.push(payment.clone());
    Ok(PaymentResult { payment, sale })
}

/// The part of the sale a new payment covers, after the checks every method shares.
fn amount_to_pay(sale: &SaleView, facility: &Facility, request: &PaymentRequest) -> Result<Yen, ApiError> {
    if sale.state != SaleState::Open {
        return Err(ApiError::conflict(
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
        return Err(ApiError::conflict(
            "payment_pending",
            format!("payment {} of this sale is {}: {advice}", pending.id, pending.state),
        ));
    }
    let due = sale.amount_due;
    let amount = request.amount.unwrap_or(due);
    if amount > due {
        return Err(ApiError::unprocessable(
            "amount_exceeds_due",
            format!("amount {amount} is more than the {due} still due"),
        )
        .at("amount"));
    }
    if amount != due && !facility.policy.split_tender {
        return Err(ApiError::unprocessable(
            "split_tender_not_allowed",
            format!("facility {} takes one payment per sale: pay the whole {due}", facility.id),
        )
        .at("amount"));
    }
    Ok(amount)
}

async fn pay_cash_in(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    sale_id: &str,
    request: &PaymentRequest,
) -> Result<PaymentResult, ApiError> {
    let (sale, facility) = load_for_change(app, tx, caller, sale_id).await?;
    if !facility.accepts(Brand::Cash) {
        return Err(ApiError::unprocessable(
            "brand_not_accepted",
            format!("facility {} does not take cash", facility.id),
        )
        .at("method"));
    }
    let amount = amount_to_pay(&sale, &facility, request)?;
    let tendered = request.tendered.ok_or_else(|| {
        ApiError::unprocessable("tendered_required", "a cash payment needs the tendered amount").at("tendered")
    })?;
    if tendered < amount {
        return Err(ApiError::unprocessable(
            "tendered_insufficient",
            format!("tendered {tendered} is less than the {amount} to pay"),
        )
        .at("tendered"));
    }
    if tendered > facility.policy.cash_tendered_max {
        return Err(ApiError::unprocessable(
            "cash_limit",
            format!("this register accepts at most {} in cash at once", facility.policy.cash_tendered_max),
        )
        .at("tendered"));
    }
    let change = tendered.checked_sub(amount).map_err(money_error("tendered"))?;
    let now = app.clock.now();
    let state = PaymentState::Created
        .transition(PaymentState::Completed, Method::Cash)
        .map_err(|e| ApiError::internal(e.to_string()))?;
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
    payments::insert(tx, &sale, &payment).await?;
    let actor = caller.user.as_str();
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor,
            kind: "payment.completed",
            entity_id: &payment.id,
            facility_id: sale.facility_id.as_str(),
            data: serde_json::json!({ "sale_id": sale.id, "method": "cash", "amount": amount, "tendered": tendered, "change": change }),
        },
    )
    .await?;
    let sale = book_payment(tx, &sale.id, amount, payment.business_date, now, actor).await.map_err(booking_error)?;
    // Cash went into the drawer and change comes out of it.
    crate::journal::devices::enqueue(tx, sale.register_id.as_str(), &pos_core::api::CommandKind::OpenDrawer, now)
        .await?;
    Ok(PaymentResult { payment, sale })
}

/// A card or e-money payment: bound to the register's terminal, waiting for the card. The terminal
/// host completes it when the terminal's authorization arrives (PROTOCOLS.md §1).
async fn start_device_payment_in(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    sale_id: &str,
    request: &PaymentRequest,
    method: Method,
) -> Result<PaymentResult, ApiError> {
    let (sale, facility) = load_for_change(app, tx, caller, sale_id).await?;
    if !facility.brands.iter().any(|b| b.method() == method) {
        return Err(ApiError::unprocessable(
            "brand_not_accepted",
            format!("facility {} takes no {method} brand", facility.id),
        )
        .at("method"));
    }
    let connected =
        app.config.acquirers.iter().any(|a| a.link.is_some() && a.fees.iter().any(|f| f.brand.method() == method));
    if !connected {
        return Err(ApiError::unprocessable(
            "method_unavailable",
            format!("no {method} acquirer is connected to this gateway; take another method"),
        )
        .at("method"));
    }
    let terminal =
        app.config.register(&sale.register_id).and_then(|(_, register)| register.terminal.clone()).ok_or_else(
            || {
                ApiError::unprocessable("no_terminal", format!("register {} has no payment terminal", sale.register_id))
                    .at("method")
            },
        )?;
    let amount = amount_to_pay(&sale, &facility, request)?;
    let lock = tx.for_update();
    let busy = payments::list_pending_at_terminal(tx.conn(), terminal.as_str(), lock).await?;
    if let Some(busy) = busy {
        return Err(ApiError::conflict(
            "terminal_busy",
            format!("terminal {terminal} is busy with payment {} ({})", busy.view.id, busy.view.state),
        ));
    }
    let now = app.clock.now();
    let state = PaymentState::Created
        .transition(PaymentState::AwaitingDevice, method)
        .map_err(|e| ApiError::internal(e.to_string()))?;
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
    payments::insert(tx, &sale, &payment).await?;
    // The counter's device bridge takes the charge to the terminal (server-driven model).
    crate::journal::devices::enqueue(
        tx,
        sale.register_id.as_str(),
        &pos_core::api::CommandKind::Charge { payment_id: payment.id.clone(), amount },
        now,
    )
    .await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: caller.user.as_str(),
            kind: "payment.awaiting_device",
            entity_id: &payment.id,
            facility_id: sale.facility_id.as_str(),
            data: serde_json::json!({ "sale_id": sale.id, "method": method, "amount": amount, "terminal_id": terminal }),
        },
    )
    .await?;
    let mut sale = sale;
    sale.payments.push(payment.clone());
    Ok(PaymentResult { payment, sale })
}

pub async fn void(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(sale_id): Path<String>,
    request: Idempotent<VoidSaleRequest>,
) -> Result<Response, ApiError> {
    let reason = request.body.reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_CHARS_MAX {
        return Err(ApiError::unprocessable(
            "invalid_reason",
            format!("give a reason of 1 to {REASON_CHARS_MAX} characters"),
        )
        .at("reason"));
    }
    let reason = reason.to_string();
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let outcome = void_in(&app, &mut itx.tx, &caller, &sale_id, &reason).await;
    if let Ok(sale) = &outcome {
        metrics::counter!("sales_voided_total", "facility" => sale.facility_id.to_string()).increment(1);
    }
    let response = itx.complete(outcome.map(|sale| (StatusCode::OK, sale))).await?;
    // A QR payment's void is a refund at the provider, journaled with the void: start it now.
    crate::switch::qr_refund::spawn_pending_of_sale(&app, &sale_id).await?;
    Ok(response)
}

async fn void_in(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    sale_id: &str,
    reason: &str,
) -> Result<SaleView, ApiError> {
    let (mut sale, _) = load_for_change(app, tx, caller, sale_id).await?;
    let next_state = match sale.state {
        SaleState::Paid => SaleState::Voided,
        SaleState::Open => SaleState::Cancelled,
        SaleState::Voided | SaleState::Cancelled => {
            return Err(ApiError::conflict("sale_not_voidable", format!("sale {sale_id} is already {}", sale.state)));
        }
    };
    if let Some(pending) = sale.payments.iter().find(|p| p.state.is_pending()) {
        return Err(ApiError::conflict(
            "payment_pending",
            format!("payment {} is {}; wait for its outcome before voiding", pending.id, pending.state),
        ));
    }
    let now = app.clock.now();
    let actor = caller.user.as_str();
    let facility_id = sale.facility_id.to_string();
    let today = BusinessDate::of_instant(now);
    for payment in sale.payments.iter_mut().filter(|p| p.state.holds_money()) {
        if payment.method == Method::Cash {
            payment.state = payment
                .state
                .transition(PaymentState::Voided, payment.method)
                .map_err(|e| ApiError::conflict("illegal_transition", e.to_string()))?;
            payments::set_state(tx, &payment.id, payment.state, None, now).await?;
            events::append(
                tx.conn(),
                NewEvent {
                    at: now,
                    actor,
                    kind: "payment.voided",
                    entity_id: &payment.id,
                    facility_id: &facility_id,
                    data: serde_json::json!({ "sale_id": sale.id, "amount": payment.amount }),
                },
            )
            .await?;
            continue;
        }
        if payment.method == Method::Qr {
            void_qr_payment(app, tx, payment, actor, reason, &sale.id).await?;
            continue;
        }
        // A same-day card or e-money payment is voided by reversing it at the acquirer; the
        // payment becomes `voided` when the acquirer confirms (the switch's worker).
        if payment.business_date != today || payment.refunded != Yen::ZERO {
            return Err(ApiError::conflict(
                "void_not_possible",
                format!("payment {} was taken on {} (or partly refunded): a {} payment can only be voided on its own day — refund it instead", payment.id, payment.business_date, payment.method),
            ));
        }
        let lock = tx.for_update();
        let record = payments::load(tx.conn(), &payment.id, lock)
            .await?
            .ok_or_else(|| ApiError::internal("payment vanished"))?;
        if !crate::switch::authorize::reverse_completed(
            tx,
            &record,
            app,
            crate::journal::reversals::ReversalReason::Void,
        )
        .await?
        {
            return Err(ApiError::conflict(
                "void_not_possible",
                format!("payment {} has no acquirer record to reverse", payment.id),
            ));
        }
        let note = "void requested: reversing at the acquirer";
        payments::set_state(tx, &payment.id, payment.state, Some(note), now).await?;
        payment.note = Some(note.to_string());
        events::append(
            tx.conn(),
            NewEvent {
                at: now,
                actor,
                kind: "payment.void_requested",
                entity_id: &payment.id,
                facility_id: &facility_id,
                data: serde_json::json!({ "sale_id": sale.id, "amount": payment.amount }),
            },
        )
        .await?;
        app.switch.reversal_wake.notify_one();
    }
    sales::set_voided(tx, &sale.id, next_state, now, actor, reason).await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor,
            kind: if next_state == SaleState::Voided { "sale.voided" } else { "sale.cancelled" },
            entity_id: &sale.id,
            facility_id: &facility_id,
            data: serde_json::json!({ "reason": reason, "receipt": sale.receipt }),
        },
    )
    .await?;
    sale.state = next_state;
    sale.amount_due = Yen::ZERO;
    sale.voided_at = Some(now);
    sale.void_reason = Some(reason.to_string());
    Ok(sale)
}

/// A QR payment is voided by refunding its whole amount at the provider; it becomes `voided`
/// when the provider confirms (the switch's QR refunds).
async fn void_qr_payment(
    app: &AppState,
    tx: &mut WriteTx,
    payment: &mut PaymentView,
    actor: &str,
    reason: &str,
    sale_id: &str,
) -> Result<(), ApiError> {
    if payment.refunded != Yen::ZERO {
        return Err(ApiError::conflict(
            "void_not_possible",
            format!("payment {} is partly refunded: refund the rest instead", payment.id),
        ));
    }
    let lock = tx.for_update();
    let record =
        payments::load(tx.conn(), &payment.id, lock).await?.ok_or_else(|| ApiError::internal("payment vanished"))?;
    if crate::switch::qr_refund::start_void(app, tx, &record, actor, reason).await?.is_none() {
        return Err(ApiError::conflict(
            "void_not_possible",
            format!("payment {}'s QR provider is not connected; treasury can record a cash refund", payment.id),
        ));
    }
    let now = app.clock.now();
    let note = "void requested: refunding at the QR provider";
    payments::set_state(tx, &payment.id, payment.state, Some(note), now).await?;
    payment.note = Some(note.to_string());
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor,
            kind: "payment.void_requested",
            entity_id: &payment.id,
            facility_id: &record.facility_id,
            data: serde_json::json!({ "sale_id": sale_id, "amount": payment.amount }),
        },
    )
    .await?;
    Ok(())
}

pub async fn get(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(sale_id): Path<String>,
) -> Result<Json<SaleView>, ApiError> {
    let mut conn = app.journal.read().await?;
    let sale = sales::load(&mut conn, &sale_id, "").await?.ok_or_else(|| ApiError::not_found("sale", &sale_id))?;
    caller.require_read(&app.config, &sale.facility_id)?;
    Ok(Json(sale))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaleQuery {
    pub facility_id: Option<FacilityId>,
    pub register_id: Option<RegisterId>,
    pub shift_id: Option<String>,
    pub business_date: Option<BusinessDate>,
    pub limit: Option<i64>,
}

/// The facilities a list may cover: the one asked for (if the caller may see it) or all the
/// caller may see (`None`: everything).
pub fn facility_filter(
    app: &AppState,
    caller: &Caller,
    asked: Option<&FacilityId>,
) -> Result<Option<Vec<String>>, ApiError> {
    match asked {
        Some(facility) => {
            if app.config.facility(facility).is_none() {
                return Err(ApiError::unprocessable(
                    "unknown_facility",
                    format!("facility {facility} is not configured"),
                )
                .at("facility_id"));
            }
            caller.require_read(&app.config, facility)?;
            Ok(Some(vec![facility.to_string()]))
        }
        None => Ok(caller.readable_facilities(&app.config).map(|list| list.iter().map(ToString::to_string).collect())),
    }
}

pub async fn list(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    QueryParams(query): QueryParams<SaleQuery>,
) -> Result<Json<SaleList>, ApiError> {
    let facilities = facility_filter(&app, &caller, query.facility_id.as_ref())?;
    let filter = SaleFilter {
        facilities,
        register_id: query.register_id.map(|r| r.to_string()),
        shift_id: query.shift_id,
        business_date: query.business_date,
        limit: query.limit.unwrap_or(sales::SALE_LIST_MAX),
    };
    let mut conn = app.journal.read().await?;
    Ok(Json(SaleList { sales: sales::list(&mut conn, &filter).await? }))
}
