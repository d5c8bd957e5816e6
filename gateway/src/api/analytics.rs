//! `GET /v1/analytics/{chart}`: the analytics pages' figures as JSON, CSV or SVG.
//!
//! Treasury and admin see every facility; an operator sees its own facilities only — all of
//! them when it names none, and a refusal (403) when it names another's facility or operator;
//! clerks and devices are refused. The figures themselves are built in [`crate::analytics`].

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use pos_config::{Facility, Owner, Role, Scope};
use pos_core::FacilityId;

use super::error::ApiError;
use super::extract::QueryParams;
use crate::access::Caller;
use crate::analytics::charts::{self, ChartInput};
use crate::analytics::facts::{self, FactFilter};
use crate::analytics::request::{ChartKind, ChartRequest, Format, OwnerFilter};
use crate::analytics::table::ChartTable;
use crate::analytics::{csv, svg, AnalyticsError};
use crate::AppState;

/// Who may read analytics at all; operators are then held to their own facilities.
pub const ANALYTICS_ROLES: [Role; 3] = [Role::Treasury, Role::Admin, Role::Operator];

impl From<AnalyticsError> for ApiError {
    fn from(error: AnalyticsError) -> ApiError {
        match error {
            AnalyticsError::Journal(error) => error.into(),
            AnalyticsError::TooLarge { .. } => ApiError::unprocessable("range_too_large", error.to_string()).at("to"),
            AnalyticsError::Money { .. } => {
                tracing::error!(%error, "analytics arithmetic failed");
                ApiError::internal("the figures could not be added up exactly; see the gateway's log")
            }
        }
    }
}

/// The facilities a chart covers: the caller's scope, narrowed by `facility_id` and
/// `operator_id`. A name outside the caller's scope is refused rather than silently dropped, so
/// an operator never mistakes an empty chart for another's figures.
pub(crate) fn covered_facilities<'c>(
    app: &'c AppState,
    caller: &Caller,
    request: &ChartRequest,
) -> Result<Vec<&'c Facility>, ApiError> {
    let config = &app.config;
    if let Some(OwnerFilter::Operator(operator)) = &request.operator_id {
        if !config.operators.iter().any(|known| &known.id == operator) {
            return Err(ApiError::unprocessable("unknown_operator", format!("operator {operator} is not configured"))
                .at("operator_id"));
        }
    }
    if let (Scope::Operator(own), Some(asked)) = (&caller.scope, &request.operator_id) {
        if asked != &OwnerFilter::Operator(own.clone()) {
            return Err(ApiError::forbidden(format!("{} may see only the facilities of operator {own}", caller.user)));
        }
    }
    let mut facilities: Vec<&Facility> = match &request.facility_id {
        None => config.facilities.iter().collect(),
        Some(ids) => {
            let mut named = Vec::new();
            for id in ids {
                let facility = config.facility(id).ok_or_else(|| {
                    ApiError::unprocessable("unknown_facility", format!("facility {id} is not configured"))
                        .at("facility_id")
                })?;
                caller.require_read(config, id)?;
                if !named.iter().any(|known: &&Facility| known.id == facility.id) {
                    named.push(facility);
                }
            }
            named
        }
    };
    facilities.retain(|facility| caller.can_read(config, &facility.id));
    match &request.operator_id {
        None => {}
        Some(OwnerFilter::City(_)) => facilities.retain(|facility| facility.owner == Owner::City),
        Some(OwnerFilter::Operator(operator)) => {
            facilities.retain(|facility| facility.owner == Owner::Operator(operator.clone()))
        }
    }
    Ok(facilities)
}

pub async fn chart(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(chart): Path<String>,
    QueryParams(params): QueryParams<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    caller.require_role(&ANALYTICS_ROLES)?;
    let kind = ChartKind::parse(&chart).ok_or_else(|| {
        let charts: Vec<&str> = ChartKind::ALL.iter().map(|chart| chart.code()).collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_chart",
            format!("there is no chart {chart:?}; the charts are {}", charts.join(", ")),
        )
    })?;
    let request = ChartRequest::parse(kind, &params)
        .map_err(|error| ApiError::unprocessable("invalid_filter", error.message).at(error.field))?;
    let table = chart_table(&app, &caller, &request).await?;
    Ok(match request.format {
        Format::Json => Json(table.to_json(&request)).into_response(),
        Format::Csv => {
            let name = format!("attachment; filename=\"{}-{}-{}.csv\"", kind.code(), request.from, request.to);
            (
                [(CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (CONTENT_DISPOSITION, name)],
                csv::render(&table, request.lang),
            )
                .into_response()
        }
        Format::Svg => {
            ([(CONTENT_TYPE, "image/svg+xml; charset=utf-8")], svg::render(&table, &request)).into_response()
        }
    })
}

/// The facts filter of a request for the facilities it covers; `None` facilities (no list in
/// the query) when the caller reads the whole city unfiltered, the common case.
pub(crate) fn fact_filter<'a>(caller: &Caller, request: &ChartRequest, ids: &'a [FacilityId]) -> FactFilter<'a> {
    let unrestricted = request.facility_id.is_none() && request.operator_id.is_none() && caller.scope == Scope::All;
    FactFilter {
        from: request.from,
        to: request.to,
        facilities: (!unrestricted).then_some(ids),
        method: request.method,
    }
}

/// A chart's figures for a caller: the same table whatever the format, and whichever page or
/// report asks (the monthly report builds its figures through here, so they are the API's).
pub(crate) async fn chart_table(
    app: &AppState,
    caller: &Caller,
    request: &ChartRequest,
) -> Result<ChartTable, ApiError> {
    let facilities = covered_facilities(app, caller, request)?;
    let ids: Vec<FacilityId> = facilities.iter().map(|facility| facility.id.clone()).collect();
    let filter = fact_filter(caller, request, &ids);
    let mut input = ChartInput::new(request, &app.config, facilities);
    match request.chart {
        ChartKind::Heatmap => input.hours = facts::by_hour(&app.journal, &filter).await?,
        ChartKind::FeesByBrand => input.amounts = facts::by_amount(&app.journal, &filter).await?,
        ChartKind::TopFeeItems => {
            input.items = facts::items_paid_whole(&app.journal, &filter).await?;
            (input.split_payments, input.split_lines) = facts::split_sales(&app.journal, &filter).await?;
        }
        ChartKind::CashlessShare | ChartKind::ByBrand | ChartKind::ByMethod | ChartKind::Facilities => {
            input.days = facts::by_day(&app.journal, &filter).await?
        }
    }
    Ok(charts::build(&input)?)
}
