//! Running a money-moving request at most once per idempotency key.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::ApiError;
use super::extract::Idempotent;
use crate::access::Caller;
use crate::journal::idempotency::{self, Claim};
use crate::journal::WriteTx;
use crate::AppState;

pub const REPLAYED_HEADER: &str = "idempotent-replayed";

pub enum Begun {
    /// The key was seen with this same request: here is the first answer again.
    Replay(Response),
    /// First time: do the work in `tx`, then [`IdempotentTx::complete`].
    Fresh(IdempotentTx),
}

pub struct IdempotentTx {
    pub tx: WriteTx,
    scope: String,
    key: String,
}

/// Opens the write transaction and claims the key in it.
pub async fn begin<T>(app: &AppState, caller: &Caller, request: &Idempotent<T>) -> Result<Begun, ApiError> {
    let mut tx = app.journal.begin_write().await?;
    let scope = caller.user.to_string();
    match idempotency::claim(&mut tx, &scope, &request.key, &request.request_hash, app.clock.now()).await? {
        Claim::Fresh => Ok(Begun::Fresh(IdempotentTx { tx, scope, key: request.key.clone() })),
        claim => {
            tx.rollback().await?;
            answer_of(claim, &request.key).map(Begun::Replay)
        }
    }
}

/// The stored answer to a repeated key, if the request was already answered: read only, for a
/// request that checks something outside its transaction before [`begin`].
pub async fn replay<T>(app: &AppState, caller: &Caller, request: &Idempotent<T>) -> Result<Option<Response>, ApiError> {
    let mut conn = app.journal.read().await?;
    match idempotency::peek(&mut conn, caller.user.as_str(), &request.key, &request.request_hash).await? {
        None | Some(Claim::Fresh) => Ok(None),
        Some(claim) => answer_of(claim, &request.key).map(Some),
    }
}

fn answer_of(claim: Claim, key: &str) -> Result<Response, ApiError> {
    match claim {
        Claim::Replay { status, response } => {
            metrics::counter!("idempotent_replays_total").increment(1);
            let status =
                StatusCode::from_u16(status).map_err(|_| ApiError::internal("stored answer has an invalid status"))?;
            let mut reply =
                (status, [(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], response)
                    .into_response();
            reply.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
            Ok(reply)
        }
        Claim::Conflict | Claim::Fresh => Err(ApiError::conflict(
            "idempotency_key_reused",
            format!("Idempotency-Key {key:?} was already used for a different request; use a new key for a new action"),
        )),
    }
}

impl IdempotentTx {
    /// Stores the answer with the work and commits both, or rolls everything back on error (the
    /// key stays unclaimed, so a corrected request may reuse it).
    pub async fn complete<B: Serialize>(
        mut self,
        outcome: Result<(StatusCode, B), ApiError>,
    ) -> Result<Response, ApiError> {
        match outcome {
            Ok((status, body)) => {
                let text = serde_json::to_string(&body)
                    .map_err(|e| ApiError::internal(format!("answer could not be encoded: {e}")))?;
                idempotency::store(&mut self.tx, &self.scope, &self.key, status.as_u16(), &text).await?;
                self.tx.commit().await?;
                Ok((status, [(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], text)
                    .into_response())
            }
            Err(error) => {
                self.tx.rollback().await?;
                Err(error)
            }
        }
    }
}
