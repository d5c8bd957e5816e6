//! `GET /v1/reports/monthly?month=YYYY-MM`: the cashless programme's monthly report
//! ([`crate::analytics::monthly`]) as JSON; the printable page `/reports/monthly` shows the
//! same, built by the same function.
//!
//! Its figures are the analytics charts' for the same caller and filter (`facility_id`,
//! `operator_id` narrow it as in the analytics API; an operator sees its own facilities only),
//! fetched through [`super::analytics::chart_table`]. Without `month`, the month before today's.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::{Extension, Json};
use pos_core::{BusinessDate, FacilityId};
use serde_json::Value as Json_;

use super::analytics::{chart_table, covered_facilities, fact_filter, ANALYTICS_ROLES};
use super::error::ApiError;
use super::extract::QueryParams;
use crate::access::Caller;
use crate::analytics::month::Month;
use crate::analytics::monthly::{self, ItemTally, MonthlyInputs, TREND_MONTHS};
use crate::analytics::request::{ChartKind, ChartRequest};
use crate::analytics::table::ChartTable;
use crate::analytics::{facts, paid};
use crate::AppState;

const PARAMETERS: [&str; 4] = ["month", "facility_id", "operator_id", "lang"];

/// The report and the charts' tables it was made from (the page draws them).
pub struct MonthlyView {
    pub month: Month,
    pub report: Json_,
    pub trend: (ChartTable, ChartRequest),
    pub facilities: (ChartTable, ChartRequest),
    pub fees_by_brand: (ChartTable, ChartRequest),
}

fn request(
    chart: ChartKind,
    from: BusinessDate,
    to: BusinessDate,
    params: &BTreeMap<String, String>,
) -> Result<ChartRequest, ApiError> {
    let mut query: BTreeMap<String, String> = params
        .iter()
        .filter(|(key, _)| matches!(key.as_str(), "facility_id" | "operator_id" | "lang"))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    query.insert("from".to_string(), from.to_string());
    query.insert("to".to_string(), to.to_string());
    if chart == ChartKind::CashlessShare {
        query.insert("granularity".to_string(), "month".to_string());
    }
    ChartRequest::parse(chart, &query)
        .map_err(|error| ApiError::unprocessable("invalid_filter", error.message).at(error.field))
}

/// Builds the report for a caller.
pub(crate) async fn monthly_view(
    app: &AppState,
    caller: &Caller,
    params: &BTreeMap<String, String>,
) -> Result<MonthlyView, ApiError> {
    caller.require_role(&ANALYTICS_ROLES)?;
    if let Some(unknown) = params.keys().find(|key| !PARAMETERS.contains(&key.as_str())) {
        return Err(ApiError::unprocessable(
            "invalid_filter",
            format!("is not a parameter of the monthly report ({})", PARAMETERS.join(", ")),
        )
        .at(unknown.clone()));
    }
    let month = match params.get("month") {
        Some(text) => text
            .parse::<Month>()
            .map_err(|error| ApiError::unprocessable("invalid_filter", error.to_string()).at("month"))?,
        None => Month::of(BusinessDate::of_instant(app.clock.now())).previous(),
    };
    let (from, to) = (month.first_day(), month.last_day());
    let trend_request = request(ChartKind::CashlessShare, month.minus(TREND_MONTHS - 1).first_day(), to, params)?;
    let trend = chart_table(app, caller, &trend_request).await?;
    let mut facility_tables = Vec::new();
    for period in [month, month.previous(), month.minus(12)] {
        let period_request = request(ChartKind::Facilities, period.first_day(), period.last_day(), params)?;
        facility_tables.push((chart_table(app, caller, &period_request).await?, period_request));
    }
    let fees_request = request(ChartKind::FeesByBrand, from, to, params)?;
    let fees_by_brand = chart_table(app, caller, &fees_request).await?;

    // The facts the charts do not carry: fees per fee item and the days of cashless per facility.
    let scope = request(ChartKind::ByMethod, from, to, params)?;
    let ids: Vec<FacilityId> =
        covered_facilities(app, caller, &scope)?.iter().map(|facility| facility.id.clone()).collect();
    let filter = fact_filter(caller, &scope, &ids);
    let mut items = ItemTally::default();
    paid::for_each_part(&app.journal, &app.config, &filter, |part| items.take(&part)).await?;
    let mut days: BTreeSet<(FacilityId, BusinessDate)> = BTreeSet::new();
    for group in facts::by_day(&app.journal, &filter).await? {
        if group.method.is_cashless() && group.count > 0 {
            days.insert((group.facility, group.business_date));
        }
    }
    let mut cashless_days: BTreeMap<FacilityId, u64> = BTreeMap::new();
    for (facility, _) in days {
        *cashless_days.entry(facility).or_default() += 1;
    }

    let mut report = monthly::assemble(&MonthlyInputs {
        month,
        settings: app.config.monthly_report,
        trend: &trend,
        facilities: [&facility_tables[0].0, &facility_tables[1].0, &facility_tables[2].0],
        fees_by_brand: &fees_by_brand,
        items: &items,
        cashless_days: &cashless_days,
    });
    // Whom the figures cover: the whole city, or the facilities of the caller's scope and filter.
    let whole_city = caller.scope == pos_config::Scope::All
        && !params.contains_key("facility_id")
        && !params.contains_key("operator_id");
    if let Some(object) = report.as_object_mut() {
        object.insert("scope".to_string(), serde_json::json!({ "whole_city": whole_city, "facilities": ids }));
    }
    let facilities = facility_tables.swap_remove(0);
    Ok(MonthlyView {
        month,
        report,
        trend: (trend, trend_request),
        facilities,
        fees_by_brand: (fees_by_brand, fees_request),
    })
}

pub async fn monthly(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    QueryParams(params): QueryParams<BTreeMap<String, String>>,
) -> Result<Json<Json_>, ApiError> {
    Ok(Json(monthly_view(&app, &caller, &params).await?.report))
}
