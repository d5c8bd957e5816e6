//! `POST /v2/codes`, `GET /v2/codes/payments/{merchantPaymentId}`, `DELETE /v2/codes/{codeId}`.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use qr_protocol::{CreateCodeRequest, MerchantPaymentId, ResultCode};

use super::{answer, reference, Answer, AppState, Signed};
use crate::fault::Endpoint;

pub async fn create(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
    let parsed = signed.json::<CreateCodeRequest>();
    let expiry = state.config.code_expiry_seconds;
    let base = state.config.payment_url_base.clone();
    answer(&state, &signed, Endpoint::CreateCode, |ledger, now, _| {
        let data = ledger.create_code(&signed.merchant, parsed?, now, expiry, &base)?;
        Answer::new(StatusCode::CREATED, ResultCode::Success, Some(data))
    })
    .await
}

pub async fn payment(
    State(state): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
    signed: Signed,
) -> Response {
    let id = reference::<MerchantPaymentId>(id);
    answer(&state, &signed, Endpoint::GetCodePayment, |ledger, now, _| {
        let data = ledger.payment_details(&signed.merchant, &id?, now)?;
        Answer::new(StatusCode::OK, ResultCode::Success, Some(data))
    })
    .await
}

/// The SDK sends `{}` with a Content-Type; other clients send nothing. Both are accepted and the
/// body is not read beyond its signature.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    code_id: Result<Path<String>, PathRejection>,
    signed: Signed,
) -> Response {
    let code_id = code_id.map(|Path(code_id)| code_id);
    answer(&state, &signed, Endpoint::DeleteCode, |ledger, now, paid_after_cancel| {
        let code_id = code_id.map_err(|error| super::ApiError::invalid_params(error.body_text()))?;
        ledger.delete_code(&signed.merchant, &code_id, now, paid_after_cancel)?;
        Answer::new::<()>(StatusCode::OK, ResultCode::Success, None)
    })
    .await
}
