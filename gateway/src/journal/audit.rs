//! The audit log: who did what, when, from where, with what outcome — hash-chained.
//!
//! Each record's hash covers its fields and the previous record's hash; the head (last sequence
//! number and hash) is kept in its own row. Altering any record breaks its hash, deleting one
//! breaks the chain or the sequence, and truncating the tail disagrees with the head. The tables
//! also refuse UPDATE and DELETE by trigger; the chain catches what a trigger cannot (someone who
//! drops the trigger or edits the file). Appends serialize on the head row.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{for_update, instant_text, Journal, JournalError};

/// The hash before the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// How many records verification reads at a time.
pub const VERIFY_PAGE_RECORDS: i64 = 5_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub user_name: String,
    pub role: String,
    /// Method and route template, e.g. `POST /v1/sales/{id}/void`.
    pub action: String,
    /// The concrete path acted on.
    pub target: String,
    pub remote: String,
    pub status: u16,
    /// `ok`, `denied` (401/403), `rejected` (other 4xx) or `error` (5xx).
    pub outcome: String,
    /// What the request did beyond its route (ids, amounts, approver); empty when nothing more.
    pub detail: String,
    /// The request's id (`X-Request-Id`); absent in records written before ids were kept.
    pub request_id: Option<String>,
}

/// The fields a record's hash covers after the chain position: the request id and the detail
/// only when there are, so records written before they existed still verify.
fn hashed_fields<'a>(fields: &'a [&'a str], request_id: Option<&'a str>, detail: &'a str) -> Vec<&'a str> {
    let mut all = fields.to_vec();
    all.extend(request_id);
    if !detail.is_empty() {
        all.push(detail);
    }
    all
}

/// The hash of a record. A record with a request id hashes it after the other fields; one without
/// (written before ids were kept) hashes exactly as it did then, so old chains still verify.
fn record_hash(prev_hash: &str, seq: i64, at: &str, entry: &[&str]) -> String {
    let mut hasher = Sha256::new();
    // Length-prefixed fields, so no choice of field contents can make two records hash alike.
    for field in [prev_hash, &seq.to_string(), at].into_iter().chain(entry.iter().copied()) {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

pub async fn append(journal: &Journal, entry: &AuditEntry) -> Result<i64, JournalError> {
    let mut tx = journal.begin_write().await?;
    let head = sqlx::query(&format!("SELECT seq, hash FROM audit_head WHERE id = 1{}", for_update(tx.backend())))
        .fetch_one(tx.conn())
        .await?;
    let prev_seq: i64 = head.try_get("seq")?;
    let prev_hash: String = head.try_get("hash")?;
    let seq = prev_seq + 1;
    let at = instant_text(entry.at);
    let status = entry.status.to_string();
    let fields =
        [entry.user_name.as_str(), &entry.role, &entry.action, &entry.target, &entry.remote, &status, &entry.outcome];
    let hash = record_hash(&prev_hash, seq, &at, &hashed_fields(&fields, entry.request_id.as_deref(), &entry.detail));
    sqlx::query(
        "INSERT INTO audit_log (seq, at, user_name, role, action, target, remote, status, outcome, prev_hash, hash, detail, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(seq)
    .bind(&at)
    .bind(&entry.user_name)
    .bind(&entry.role)
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(&entry.remote)
    .bind(i64::from(entry.status))
    .bind(&entry.outcome)
    .bind(&prev_hash)
    .bind(&hash)
    .bind(&entry.detail)
    .bind(entry.request_id.as_deref())
    .execute(tx.conn())
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&hash)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(seq)
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Verification {
    pub records: i64,
    /// The first problem found, if any, naming the record.
    pub problem: Option<String>,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.problem.is_none()
    }
}

/// Walks the chain up to the head as it stood when verification began, checking every link and
/// the head itself. Records appended meanwhile by a live gateway are left for the next run.
pub async fn verify(journal: &Journal) -> Result<Verification, JournalError> {
    let mut conn = journal.read().await?;
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *conn).await?;
    let head_seq: i64 = head.try_get("seq")?;
    let head_hash: String = head.try_get("hash")?;
    let mut expected_seq = 1i64;
    let mut prev_hash = GENESIS_HASH.to_string();
    while expected_seq <= head_seq {
        let rows = sqlx::query("SELECT seq, at, user_name, role, action, target, remote, status, outcome, prev_hash, hash, detail, request_id FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3")
            .bind(expected_seq)
            .bind(head_seq)
            .bind(VERIFY_PAGE_RECORDS)
            .fetch_all(&mut *conn)
            .await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let seq: i64 = row.try_get("seq")?;
            let fail = |problem: String| Ok(Verification { records: expected_seq - 1, problem: Some(problem) });
            if seq != expected_seq {
                return fail(format!("record {expected_seq} is missing (next present is {seq})"));
            }
            let stored_prev: String = row.try_get("prev_hash")?;
            if stored_prev != prev_hash {
                return fail(format!("record {seq} does not follow record {}: its previous hash differs", seq - 1));
            }
            let status: i64 = row.try_get("status")?;
            let fields: Vec<String> = ["user_name", "role", "action", "target", "remote"]
                .iter()
                .map(|column| row.try_get::<String, _>(*column))
                .chain([Ok(status.to_string()), row.try_get::<String, _>("outcome")])
                .collect::<Result<_, _>>()?;
            let request_id: Option<String> = row.try_get("request_id")?;
            let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
            let detail: String = row.try_get("detail")?;
            let at: String = row.try_get("at")?;
            let hash = record_hash(&prev_hash, seq, &at, &hashed_fields(&field_refs, request_id.as_deref(), &detail));
            let stored_hash: String = row.try_get("hash")?;
            if hash != stored_hash {
                return fail(format!("record {seq} was altered: its content does not match its hash"));
            }
            prev_hash = stored_hash;
            expected_seq += 1;
        }
    }
    let records = expected_seq - 1;
    if records != head_seq || prev_hash != head_hash {
        return Ok(Verification {
            records,
            problem: Some(format!(
                "the log ends at record {records} but its head says {head_seq}: records were removed from the end"
            )),
        });
    }
    Ok(Verification { records, problem: None })
}
