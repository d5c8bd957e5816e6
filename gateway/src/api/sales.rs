//! Sales: ring up fee items, pay, void within the shift, list and fetch. What a payment or a void
//! means for the money is decided in [`crate::payments`]; here requests are parsed and checked.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use pos_config::{Facility, Price};
use pos_core::api::{
    CreateSaleRequest, PaymentRequest, SaleLineView, SaleList, SaleView, VoidSaleRequest, LINE_QUANTITY_MAX,
    REASON_CHARS_MAX, SALE_LINES_MAX,
};
use pos_core::{BusinessDate, FacilityId, Method, RegisterId, SaleState, Yen};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Idempotent, QueryParams};
use super::idempotency::{begin, Begun};
use crate::access::Caller;
use crate::journal::events::{self, EventKind, NewEvent};
use crate::journal::sales::{self, SaleFilter};
use crate::journal::{shifts, WriteTx};
use crate::payments;
use crate::AppState;

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
            kind: EventKind::SaleCreated,
            entity_id: &sale.id,
            facility_id: sale.facility_id.as_str(),
            data: serde_json::json!({ "register_id": sale.register_id, "shift_id": sale.shift_id, "amount_total": sale.amount_total, "lines": sale.lines }),
        },
    )
    .await?;
    Ok(sale)
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
        Method::Cash => payments::start::cash(&app, &mut itx.tx, &caller, &sale_id, &request.body).await,
        Method::Qr => {
            payments::start::qr(&app, &mut itx.tx, &caller, &sale_id, &request.body, customer_code.as_ref()).await
        }
        method => payments::start::device(&app, &mut itx.tx, &caller, &sale_id, &request.body, method).await,
    }
    .map_err(ApiError::from);
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
        app.work.hold_code(&payment_id, code);
    }
    let response = match itx.complete(outcome.map(|result| (StatusCode::CREATED, result))).await {
        Ok(response) => response,
        Err(error) => {
            if let Some((payment_id, _)) = held {
                app.work.take_code(&payment_id);
            }
            return Err(error);
        }
    };
    // Only once `authorizing` is committed may the code be created (write-ahead).
    if let Some(payment_id) = qr_payment {
        payments::qr::spawn_watch(&app, &payment_id);
    }
    Ok(response)
}

/// The customer code a QR payment request carries, checked before anything is journaled: digits
/// only, of a scanner's length, and only on a QR payment. Errors never repeat the code.
fn scanned_customer_code(request: &PaymentRequest) -> Result<Option<pos_core::CustomerCode>, ApiError> {
    let Some(text) = &request.customer_code else { return Ok(None) };
    if request.method != Method::Qr {
        return Err(ApiError::unprocessable(
            "customer_code_not_allowed",
            "only a QR payment takes a scanned customer code",
        )
        .at("customer_code"));
    }
    pos_core::CustomerCode::parse(text)
        .map(Some)
        .map_err(|error| ApiError::unprocessable("invalid_customer_code", error.to_string()).at("customer_code"))
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
    let outcome = payments::void::void(&app, &mut itx.tx, &caller, &sale_id, &reason).await.map_err(ApiError::from);
    let qr_refunds = outcome.as_ref().map(|voided| voided.qr_refunds.clone()).unwrap_or_default();
    if let Ok(voided) = &outcome {
        metrics::counter!("sales_voided_total", "facility" => voided.sale.facility_id.to_string()).increment(1);
    }
    let response = itx.complete(outcome.map(|voided| (StatusCode::OK, voided.sale))).await?;
    // A QR payment's void is a refund at the provider, journaled with the void: send it now.
    for refund_id in qr_refunds {
        payments::qr::spawn_refund(&app, &refund_id);
    }
    Ok(response)
}

pub async fn get(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(sale_id): Path<String>,
) -> Result<Json<SaleView>, ApiError> {
    let mut conn = app.journal.read().await?;
    let mut snapshot = read_snapshot(&app, &mut conn).await?;
    let sale = sales::load(&mut snapshot, &sale_id, "").await?.ok_or_else(|| ApiError::not_found("sale", &sale_id))?;
    snapshot.commit().await.map_err(crate::journal::JournalError::from)?;
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
    let mut snapshot = read_snapshot(&app, &mut conn).await?;
    let sales = sales::list(&mut snapshot, &filter).await?;
    snapshot.commit().await.map_err(crate::journal::JournalError::from)?;
    Ok(Json(SaleList { sales }))
}

/// A sale is read in several statements (the sale, its lines, its payments): one snapshot for
/// all of them, or a void committing between them shows a paid sale whose payment is voided
/// (found by `pos-sim` on PostgreSQL, whose statements each see the latest commit).
async fn read_snapshot<'c>(
    app: &AppState,
    conn: &'c mut sqlx::AnyConnection,
) -> Result<sqlx::Transaction<'c, sqlx::Any>, crate::journal::JournalError> {
    use sqlx::Connection;
    let mut snapshot = conn.begin().await?;
    if app.config.database.backend == pos_config::Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *snapshot).await?;
    }
    Ok(snapshot)
}
