//! Exceptions raised by the gateway itself (source `switch`) onto treasury's list, beside those a
//! reconciliation run stores (see [`super::treasury`]). Keyed like those, by kind and records, so
//! raising one twice adds nothing; a reconciliation run never clears them.

use chrono::{DateTime, Utc};
use pos_core::Yen;
use sha2::{Digest, Sha256};

use super::{instant_text, JournalError, WriteTx};

pub struct Raised<'a> {
    pub facility_id: &'a str,
    pub business_date: &'a str,
    pub kind: &'a str,
    pub name_ja: &'a str,
    pub records: &'a [String],
    pub amount_at_stake: Yen,
    pub detail: &'a str,
    pub suggested_action: &'a str,
}

/// The exception's key: the same as a reconciliation's for the same kind and records.
pub fn key(kind: &str, records: &[String]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    for record in records {
        hasher.update([0u8]);
        hasher.update(record.as_bytes());
    }
    hex::encode(hasher.finalize())
}

pub async fn insert(tx: &mut WriteTx, raised: &Raised<'_>, at: DateTime<Utc>) -> Result<(), JournalError> {
    sqlx::query(
        "INSERT INTO treasury_exceptions (id, facility_id, business_date, exception_key, kind, name_ja, records, amount_at_stake, detail, suggested_action, state, found_at, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, 'switch') ON CONFLICT (facility_id, business_date, exception_key) DO NOTHING",
    )
    .bind(format!("exc_{}", uuid::Uuid::new_v4().simple()))
    .bind(raised.facility_id)
    .bind(raised.business_date)
    .bind(key(raised.kind, raised.records))
    .bind(raised.kind)
    .bind(raised.name_ja)
    .bind(serde_json::to_string(raised.records).unwrap_or_default())
    .bind(raised.amount_at_stake.get())
    .bind(raised.detail)
    .bind(raised.suggested_action)
    .bind(instant_text(at))
    .execute(tx.conn())
    .await?;
    Ok(())
}
