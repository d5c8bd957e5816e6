//! What the journal keeps of a QR payment besides the payment itself: the code shown to the
//! customer and whether the clerk asked to cancel.

use chrono::{DateTime, Utc};
use pos_core::PaymentState;
use sqlx::{AnyConnection, Row};

use super::{instant_text, JournalError, WriteTx};

/// The code a provider issued for a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownCode {
    pub code_id: String,
    pub url: String,
    pub deeplink: String,
    /// Epoch seconds after which the provider refuses payment.
    pub expires_at: i64,
}

/// The QR side of a payment row.
#[derive(Debug, Clone, Default)]
pub struct QrState {
    pub code: Option<ShownCode>,
    pub cancel_requested: bool,
}

pub async fn state_of(conn: &mut AnyConnection, payment_id: &str) -> Result<QrState, JournalError> {
    let row = sqlx::query(
        "SELECT qr_code_id, qr_url, qr_deeplink, qr_expires_at, qr_cancel_requested_at FROM payments WHERE id = $1",
    )
    .bind(payment_id)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(QrState::default()) };
    let code_id: Option<String> = row.try_get("qr_code_id")?;
    let url: Option<String> = row.try_get("qr_url")?;
    let deeplink: Option<String> = row.try_get("qr_deeplink")?;
    let expires_at: Option<i64> = row.try_get("qr_expires_at")?;
    let cancel: Option<String> = row.try_get("qr_cancel_requested_at")?;
    let code = match (code_id, url) {
        (Some(code_id), Some(url)) => Some(ShownCode {
            code_id,
            url,
            deeplink: deeplink.unwrap_or_default(),
            expires_at: expires_at.unwrap_or(0),
        }),
        _ => None,
    };
    Ok(QrState { code, cancel_requested: cancel.is_some() })
}

pub async fn set_code(
    tx: &mut WriteTx,
    payment_id: &str,
    code: &ShownCode,
    at: DateTime<Utc>,
) -> Result<(), JournalError> {
    sqlx::query("UPDATE payments SET qr_code_id = $1, qr_url = $2, qr_deeplink = $3, qr_expires_at = $4, updated_at = $5 WHERE id = $6")
        .bind(&code.code_id)
        .bind(&code.url)
        .bind(&code.deeplink)
        .bind(code.expires_at)
        .bind(instant_text(at))
        .bind(payment_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Records that the clerk asked to cancel (the payment's state changes through the lifecycle).
pub async fn mark_cancel_requested(tx: &mut WriteTx, payment_id: &str, at: DateTime<Utc>) -> Result<(), JournalError> {
    sqlx::query("UPDATE payments SET qr_cancel_requested_at = $1 WHERE id = $2")
        .bind(instant_text(at))
        .bind(payment_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// QR payments in a state, last changed before `before`.
pub async fn in_state_since(
    conn: &mut AnyConnection,
    state: PaymentState,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<String>, JournalError> {
    let rows = sqlx::query(
        "SELECT id FROM payments WHERE method = 'qr' AND state = $1 AND updated_at < $2 ORDER BY updated_at LIMIT $3",
    )
    .bind(state.code())
    .bind(instant_text(before))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| row.try_get::<String, _>("id").map_err(JournalError::from)).collect()
}

/// The newest QR payment of a register (what its customer display shows).
pub async fn latest_of_register(conn: &mut AnyConnection, register_id: &str) -> Result<Option<String>, JournalError> {
    let row = sqlx::query(
        "SELECT id FROM payments WHERE register_id = $1 AND method = 'qr' ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(register_id)
    .fetch_optional(conn)
    .await?;
    row.map(|row| row.try_get::<String, _>("id").map_err(JournalError::from)).transpose()
}
