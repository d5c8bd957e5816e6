//! `POST /v2/refunds` (with or without the SDK's trailing slash) and
//! `GET /v2/refunds/{merchantRefundId}[?paymentId=…]`.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use qr_protocol::{MerchantRefundId, RefundRequest, ResultCode};

use super::{answer, reference, Answer, AppState, Signed};
use crate::fault::Endpoint;

pub async fn create(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
    let parsed = signed.json::<RefundRequest>();
    answer(&state, &signed, Endpoint::CreateRefund, |ledger, now, _| {
        let data = ledger.refund(&signed.merchant, parsed?, now)?;
        Answer::new(StatusCode::CREATED, ResultCode::Success, Some(data))
    })
    .await
}

pub async fn details(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
    signed: Signed,
) -> Response {
    let id = reference::<MerchantRefundId>(id);
    let payment_id = uri
        .query()
        .and_then(|query| query.split('&').find_map(|pair| pair.strip_prefix("paymentId=")))
        .map(str::to_string);
    answer(&state, &signed, Endpoint::GetRefund, |ledger, _, _| {
        let data = ledger.refund_of(&signed.merchant, &id?, payment_id.as_deref())?;
        Answer::new(StatusCode::OK, ResultCode::Success, Some(data))
    })
    .await
}
