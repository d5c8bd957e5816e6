//! Shifts: open a register with its float, close it with the drawer count (過不足).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use pos_core::api::{CashReconciliation, CloseShiftRequest, OpenShiftRequest, ShiftList, ShiftState, ShiftView};
use pos_core::{BusinessDate, RegisterId, Yen};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Idempotent, QueryParams};
use super::idempotency::{begin, Begun};
use crate::access::Caller;
use crate::journal::events::{self, EventKind, NewEvent};
use crate::journal::{shifts, WriteTx};
use crate::AppState;

/// The largest opening float a register may declare.
pub const OPENING_FLOAT_MAX_YEN: i64 = 1_000_000;

pub async fn open(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    request: Idempotent<OpenShiftRequest>,
) -> Result<Response, ApiError> {
    let (facility, _) = app.config.register(&request.body.register_id).ok_or_else(|| {
        ApiError::unprocessable("unknown_register", format!("register {} is not configured", request.body.register_id))
            .at("register_id")
    })?;
    caller.require_register(facility, &request.body.register_id)?;
    let float = request.body.opening_float;
    if float.is_negative() || float.get() > OPENING_FLOAT_MAX_YEN {
        return Err(ApiError::unprocessable(
            "invalid_amount",
            format!("opening float must be between ¥0 and {}", Yen::new(OPENING_FLOAT_MAX_YEN).unwrap_or_default()),
        )
        .at("opening_float"));
    }
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let now = app.clock.now();
    let shift = ShiftView {
        id: format!("shift_{}", uuid::Uuid::new_v4().simple()),
        facility_id: facility.id.clone(),
        register_id: request.body.register_id.clone(),
        state: ShiftState::Open,
        business_date: BusinessDate::of_instant(now),
        opened_at: now,
        opened_by: caller.user.clone(),
        opening_float: float,
        closed_at: None,
        closed_by: None,
        cash: None,
    };
    let outcome = open_in(&mut itx.tx, &shift, &caller).await.map(|()| (StatusCode::CREATED, shift));
    itx.complete(outcome).await
}

async fn open_in(tx: &mut WriteTx, shift: &ShiftView, caller: &Caller) -> Result<(), ApiError> {
    let lock = tx.for_update();
    if let Some(existing) = shifts::open_at_register(tx.conn(), shift.register_id.as_str(), lock).await? {
        return Err(ApiError::conflict(
            "shift_already_open",
            format!(
                "register {} already has an open shift ({}, opened {}); close it first",
                shift.register_id, existing.id, existing.opened_at
            ),
        ));
    }
    shifts::insert(tx, shift).await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: shift.opened_at,
            actor: caller.user.as_str(),
            kind: EventKind::ShiftOpened,
            entity_id: &shift.id,
            facility_id: shift.facility_id.as_str(),
            data: serde_json::json!({ "register_id": shift.register_id, "opening_float": shift.opening_float }),
        },
    )
    .await?;
    Ok(())
}

pub async fn close(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(shift_id): Path<String>,
    request: Idempotent<CloseShiftRequest>,
) -> Result<Response, ApiError> {
    let counted = request
        .body
        .counted
        .total()
        .map_err(|e| ApiError::unprocessable("invalid_amount", e.to_string()).at("counted"))?;
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let outcome = close_in(&app, &mut itx.tx, &caller, &shift_id, &request.body, counted)
        .await
        .map(|shift| (StatusCode::OK, shift));
    itx.complete(outcome).await
}

async fn close_in(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    shift_id: &str,
    request: &CloseShiftRequest,
    counted: Yen,
) -> Result<ShiftView, ApiError> {
    let lock = tx.for_update();
    let shift = shifts::load(tx.conn(), shift_id, lock).await?.ok_or_else(|| ApiError::not_found("shift", shift_id))?;
    let facility = app
        .config
        .facility(&shift.facility_id)
        .ok_or_else(|| ApiError::internal("shift of a facility that is no longer configured"))?;
    caller.require_register(facility, &shift.register_id)?;
    if shift.state == ShiftState::Closed {
        return Err(ApiError::conflict("shift_closed", format!("shift {shift_id} is already closed")));
    }
    let open_sales = shifts::open_sale_ids(tx.conn(), shift_id).await?;
    if !open_sales.is_empty() {
        return Err(ApiError::conflict(
            "open_sales",
            format!(
                "shift {shift_id} has {} unpaid sale(s) ({}); pay or void them before closing",
                open_sales.len(),
                open_sales.join(", ")
            ),
        ));
    }
    let cash_sales = shifts::cash_sales(tx.conn(), shift_id).await?;
    let money = |e: pos_core::MoneyError| ApiError::unprocessable("invalid_amount", e.to_string());
    let expected = shift.opening_float.checked_add(cash_sales).map_err(money)?;
    let over_short = counted.checked_sub(expected).map_err(money)?;
    let cash = CashReconciliation {
        opening_float: shift.opening_float,
        cash_sales,
        expected,
        counted,
        over_short,
        count: request.counted.clone(),
    };
    let now = app.clock.now();
    shifts::close(tx, shift_id, now, caller.user.as_str(), &cash).await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: caller.user.as_str(),
            kind: EventKind::ShiftClosed,
            entity_id: shift_id,
            facility_id: shift.facility_id.as_str(),
            data: serde_json::json!({ "cash": cash }),
        },
    )
    .await?;
    metrics::counter!("shifts_closed_total", "facility" => shift.facility_id.to_string()).increment(1);
    if over_short != Yen::ZERO {
        metrics::counter!("shift_cash_discrepancies_total", "facility" => shift.facility_id.to_string()).increment(1);
    }
    Ok(ShiftView {
        state: ShiftState::Closed,
        closed_at: Some(now),
        closed_by: Some(caller.user.clone()),
        cash: Some(cash),
        ..shift
    })
}

pub async fn get(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(shift_id): Path<String>,
) -> Result<Json<ShiftView>, ApiError> {
    let mut conn = app.journal.read().await?;
    let shift = shifts::load(&mut conn, &shift_id, "").await?.ok_or_else(|| ApiError::not_found("shift", &shift_id))?;
    caller.require_read(&app.config, &shift.facility_id)?;
    Ok(Json(shift))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShiftQuery {
    pub facility_id: Option<pos_core::FacilityId>,
    pub register_id: Option<RegisterId>,
    pub business_date: Option<BusinessDate>,
    pub state: Option<ShiftState>,
}

pub async fn list(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    QueryParams(query): QueryParams<ShiftQuery>,
) -> Result<Json<ShiftList>, ApiError> {
    let facilities = super::sales::facility_filter(&app, &caller, query.facility_id.as_ref())?;
    let mut conn = app.journal.read().await?;
    let mut shifts = shifts::list(&mut conn, facilities.as_deref(), query.business_date).await?;
    shifts.retain(|shift| {
        query.register_id.as_ref().is_none_or(|r| &shift.register_id == r)
            && query.state.as_ref().is_none_or(|s| &shift.state == s)
    });
    Ok(Json(ShiftList { shifts }))
}
