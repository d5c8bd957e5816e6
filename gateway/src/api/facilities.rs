//! The facilities a caller may see, with their fee items, registers and accepted brands: what
//! the register page builds its buttons from, and what the treasury and analytics pages list.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use pos_config::{Facility, Price};
use pos_core::api::{FacilityList, FacilityView, FeeItemView};
use pos_core::FacilityId;
use reconciler::report::owner_code;

use super::error::ApiError;
use crate::access::Caller;
use crate::AppState;

fn view(app: &AppState, facility: &Facility) -> FacilityView {
    let fee_items = facility
        .fee_items
        .iter()
        .filter_map(|code| app.config.fee_item(code))
        .map(|item| {
            let (unit_price, open_price_max) = match item.price {
                Price::Fixed(price) => (Some(price), None),
                Price::Open { amount_max } => (None, Some(amount_max)),
            };
            FeeItemView {
                code: item.code.clone(),
                name_ja: item.name_ja.clone(),
                name_en: item.name_en.clone(),
                unit_price,
                open_price_max,
                revenue_account: item.revenue_account.clone(),
            }
        })
        .collect();
    FacilityView {
        id: facility.id.clone(),
        name_ja: facility.name_ja.clone(),
        name_en: facility.name_en.clone(),
        owner: owner_code(&facility.owner),
        registers: facility.registers.iter().map(|r| r.id.clone()).collect(),
        fee_items,
        brands: facility.brands.clone(),
        qr_brands: facility.brands.iter().copied().filter(|b| b.method() == pos_core::Method::Qr).collect(),
        split_tender: facility.policy.split_tender,
        open_price_items: facility.policy.open_price_items,
        cash_tendered_max: facility.policy.cash_tendered_max,
    }
}

pub async fn list(State(app): State<AppState>, Extension(caller): Extension<Caller>) -> Json<FacilityList> {
    let facilities =
        app.config.facilities.iter().filter(|f| caller.can_read(&app.config, &f.id)).map(|f| view(&app, f)).collect();
    Json(FacilityList { facilities })
}

pub async fn get(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<FacilityView>, ApiError> {
    let facility_id = FacilityId::parse(&id).map_err(|_| ApiError::not_found("facility", &id))?;
    let facility = app.config.facility(&facility_id).ok_or_else(|| ApiError::not_found("facility", &id))?;
    caller.require_read(&app.config, &facility.id)?;
    Ok(Json(view(&app, facility)))
}
