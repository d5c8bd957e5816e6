//! `GET /v1/exports/tidy`: the analysts' long table ([`crate::analytics::tidy`]) for a range of
//! business dates, as CSV (`format=csv`, the default) or Parquet (`format=parquet`).
//!
//! The filter is the analytics API's — `from`, `to` (at most
//! [`crate::analytics::request::RANGE_DAYS_MAX`] days apart), `facility_id`, `operator_id`,
//! `method` — and so is the scope: treasury and admin see every facility, an operator only its
//! own (naming another's is refused), clerks and devices nothing.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use pos_core::FacilityId;

use super::analytics::{covered_facilities, fact_filter, ANALYTICS_ROLES};
use super::error::ApiError;
use super::extract::QueryParams;
use crate::access::Caller;
use crate::analytics::paid;
use crate::analytics::request::{ChartKind, ChartRequest};
use crate::analytics::tidy::{self, TidyTable};
use crate::AppState;

/// The query parameters of the export.
const PARAMETERS: [&str; 6] = ["from", "to", "facility_id", "operator_id", "method", "format"];

/// The media type of Parquet files.
pub const PARQUET_MEDIA_TYPE: &str = "application/vnd.apache.parquet";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExportFormat {
    Csv,
    Parquet,
}

fn parse(mut params: BTreeMap<String, String>) -> Result<(ChartRequest, ExportFormat), ApiError> {
    if let Some(unknown) = params.keys().find(|key| !PARAMETERS.contains(&key.as_str())) {
        return Err(ApiError::unprocessable(
            "invalid_filter",
            format!("is not a parameter of the export ({})", PARAMETERS.join(", ")),
        )
        .at(unknown.clone()));
    }
    let format = match params.remove("format").as_deref() {
        None | Some("csv") => ExportFormat::Csv,
        Some("parquet") => ExportFormat::Parquet,
        Some(other) => {
            return Err(
                ApiError::unprocessable("invalid_filter", format!("{other:?} is not one of csv, parquet")).at("format")
            )
        }
    };
    // The analytics' own parser checks the dates, the range and the lists.
    let request = ChartRequest::parse(ChartKind::ByMethod, &params)
        .map_err(|error| ApiError::unprocessable("invalid_filter", error.message).at(error.field))?;
    Ok((request, format))
}

pub async fn tidy(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    QueryParams(params): QueryParams<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    caller.require_role(&ANALYTICS_ROLES)?;
    let (request, format) = parse(params)?;
    let facilities = covered_facilities(&app, &caller, &request)?;
    let ids: Vec<FacilityId> = facilities.iter().map(|facility| facility.id.clone()).collect();
    let filter = fact_filter(&caller, &request, &ids);
    let mut table = TidyTable::default();
    paid::for_each_part(&app.journal, &app.config, &filter, |part| table.take(&part)).await?;
    let stem = format!("pos-tidy-{}-{}", request.from, request.to);
    Ok(match format {
        ExportFormat::Csv => (
            [
                (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (CONTENT_DISPOSITION, format!("attachment; filename=\"{stem}.csv\"")),
            ],
            tidy::to_csv(&app.config, &table),
        )
            .into_response(),
        ExportFormat::Parquet => {
            let bytes = tidy::to_parquet(&app.config, &table).map_err(|error| {
                tracing::error!(%error, "the Parquet export failed");
                ApiError::internal("the Parquet file could not be written; see the gateway's log")
            })?;
            (
                [
                    (CONTENT_TYPE, PARQUET_MEDIA_TYPE.to_string()),
                    (CONTENT_DISPOSITION, format!("attachment; filename=\"{stem}.parquet\"")),
                ],
                bytes,
            )
                .into_response()
        }
    })
}
