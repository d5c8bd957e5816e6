//! `POST /v2/payments` (customer-presented), `GET` and `DELETE /v2/payments/{merchantPaymentId}`.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use qr_protocol::{CreatePaymentRequest, MerchantPaymentId, ResultCode};

use super::{answer, reference, Answer, AppState, Signed};
use crate::fault::Endpoint;

pub async fn create(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
    let parsed = signed.json::<CreatePaymentRequest>();
    answer(&state, &signed, Endpoint::CreatePayment, |ledger, now, _| {
        let data = ledger.create_payment(&signed.merchant, parsed?, now)?;
        Answer::new(StatusCode::CREATED, ResultCode::Success, Some(data))
    })
    .await
}

pub async fn details(
    State(state): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
    signed: Signed,
) -> Response {
    let id = reference::<MerchantPaymentId>(id);
    answer(&state, &signed, Endpoint::GetPayment, |ledger, now, _| {
        let data = ledger.payment_details(&signed.merchant, &id?, now)?;
        Answer::new(StatusCode::OK, ResultCode::Success, Some(data))
    })
    .await
}

/// Answered 202 `REQUEST_ACCEPTED`; the simulator applies the cancel at once.
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
    signed: Signed,
) -> Response {
    let id = reference::<MerchantPaymentId>(id);
    answer(&state, &signed, Endpoint::CancelPayment, |ledger, now, _| {
        ledger.cancel_payment(&signed.merchant, &id?, now)?;
        Answer::new::<()>(StatusCode::ACCEPTED, ResultCode::RequestAccepted, None)
    })
    .await
}
