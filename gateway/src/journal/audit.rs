//! The audit log: who did what, when, from where, with what outcome — in a keyed, anchored chain.
//!
//! Each record of `audit_record` carries an HMAC-SHA-256 over its fields, its position (chain,
//! sequence) and the previous record's MAC, under a key the gateway reads from a file or the
//! environment and never writes to the database ([`AuditSettings`]). Whoever can write the
//! database but does not hold the key cannot edit a record or rebuild the chain without
//! verification noticing. The committed head of every chain (sequence, MAC) is anchored outside the
//! database at an interval — appended to an anchor file and written to the log — so removing the
//! last records is noticed too: the chain no longer reaches an anchored head.
//!
//! Positions are assigned by the node's writer (see [`super::writer`]) in order, in the same
//! transaction as the change a record describes, so no head row is locked by every request. Each
//! node writing to one PostgreSQL database holds a chain of its own (claimed with an advisory
//! lock), and every chain is anchored. A request's final record (its status and what it did) is
//! queued and written with the next group commit, so reads and refusals cost no write transaction
//! of their own; every change a request commits carries, in its own transaction, a `change`
//! record naming who made it and through which route.
//!
//! The older unkeyed chain (`audit_log`, `audit_head`, written before this) is still verified as it
//! was; new records go to `audit_record` only.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use pos_config::Backend;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::{instant_text, Journal, JournalError};

/// The hash before the first record of the unkeyed chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The MAC before the first record of a keyed chain.
pub const GENESIS_MAC: &str = GENESIS_HASH;
/// How many records verification reads at a time.
pub const VERIFY_PAGE_RECORDS: i64 = 5_000;
/// A key holds at least this many bytes (HMAC-SHA-256's block is 64, its output 32).
pub const AUDIT_KEY_BYTES_MIN: usize = 32;
/// How often the chain heads are anchored, unless configured.
pub const ANCHOR_INTERVAL_MS_DEFAULT: u64 = 60_000;
/// The most chains (writing nodes) one PostgreSQL journal may have at once.
pub const AUDIT_CHAINS_MAX: i64 = 64;
/// Advisory lock keys `AUDIT_CHAIN_LOCK_BASE + chain` mark a chain as held by a live node.
pub const AUDIT_CHAIN_LOCK_BASE: i64 = 0x4155_4449_5400;

/// The audit key, hex in a file: `GATEWAY_AUDIT_KEY_FILE`.
pub const KEY_FILE_ENV: &str = "GATEWAY_AUDIT_KEY_FILE";
/// The audit key itself, hex: `GATEWAY_AUDIT_KEY` (when no file is named).
pub const KEY_ENV: &str = "GATEWAY_AUDIT_KEY";
/// Earlier keys, for verifying records written before a rotation: files, `:`-separated.
pub const PREVIOUS_KEY_FILES_ENV: &str = "GATEWAY_AUDIT_PREVIOUS_KEY_FILES";
/// Where anchors are appended.
pub const ANCHOR_FILE_ENV: &str = "GATEWAY_AUDIT_ANCHOR_FILE";
/// How often, in milliseconds.
pub const ANCHOR_INTERVAL_ENV: &str = "GATEWAY_AUDIT_ANCHOR_INTERVAL_MS";

type HmacSha256 = Hmac<Sha256>;

/// A secret MAC key; never printed.
#[derive(Clone)]
pub struct AuditKey {
    bytes: Vec<u8>,
    id: String,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({}, ****)", self.id)
    }
}

impl AuditKey {
    pub fn new(bytes: Vec<u8>) -> Result<AuditKey, JournalError> {
        if bytes.len() < AUDIT_KEY_BYTES_MIN {
            return Err(JournalError::Audit(format!("an audit key needs at least {AUDIT_KEY_BYTES_MIN} bytes")));
        }
        let mut hasher = Sha256::new();
        hasher.update(b"pos-gateway audit key id\0");
        hasher.update(&bytes);
        let id = hex::encode(&hasher.finalize()[..8]);
        Ok(AuditKey { bytes, id })
    }

    pub fn from_hex(text: &str) -> Result<AuditKey, JournalError> {
        let bytes =
            hex::decode(text.trim()).map_err(|_| JournalError::Audit("an audit key is hex text".to_string()))?;
        AuditKey::new(bytes)
    }

    /// A fresh random key.
    pub fn generate() -> AuditKey {
        use rand::RngCore;
        let mut bytes = vec![0u8; AUDIT_KEY_BYTES_MIN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        AuditKey::new(bytes).expect("long enough")
    }

    /// Which key signed a record (a digest of the key, not the key).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn to_hex(&self) -> String {
        hex::encode(&self.bytes)
    }

    fn mac(&self, fields: &[&str]) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.bytes).expect("HMAC takes any key length");
        // Length-prefixed fields, so no choice of field contents can make two records alike.
        for field in fields {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The key, the earlier keys and where the anchors go.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    pub key: AuditKey,
    /// Keys used before a rotation, to verify the records they signed.
    pub previous_keys: Vec<AuditKey>,
    pub anchor_file: PathBuf,
    pub anchor_interval: Duration,
}

impl AuditSettings {
    /// The settings for a journal: the key from `GATEWAY_AUDIT_KEY_FILE` or `GATEWAY_AUDIT_KEY`,
    /// else from `audit.key` beside a SQLite journal (for PostgreSQL, in the system's temporary
    /// folder: configure a file in production), made with a fresh random key when `create` and it
    /// does not exist. Anchors go to `GATEWAY_AUDIT_ANCHOR_FILE`, else `audit-anchors.log` beside
    /// the key's default place.
    pub fn for_database(database: &pos_config::Database, create: bool) -> Result<AuditSettings, JournalError> {
        let default_base = default_base(database);
        let key = match (std::env::var(KEY_FILE_ENV), std::env::var(KEY_ENV)) {
            (Ok(file), _) => read_key(Path::new(&file))?,
            (Err(_), Ok(hex)) => AuditKey::from_hex(&hex)?,
            _ => {
                let file = default_base.with_extension("key");
                if !file.exists() && create {
                    tracing::warn!(file = %file.display(), "no audit key configured: a new one is made (set {KEY_FILE_ENV} in production)");
                    write_new_key(&file)?;
                }
                read_key(&file)?
            }
        };
        let previous_keys = match std::env::var(PREVIOUS_KEY_FILES_ENV) {
            Ok(files) => {
                files.split(':').filter(|f| !f.is_empty()).map(|f| read_key(Path::new(f))).collect::<Result<_, _>>()?
            }
            Err(_) => Vec::new(),
        };
        let anchor_file =
            std::env::var(ANCHOR_FILE_ENV).map_or_else(|_| default_base.with_extension("anchors"), PathBuf::from);
        let anchor_interval = Duration::from_millis(
            std::env::var(ANCHOR_INTERVAL_ENV).ok().and_then(|v| v.parse().ok()).unwrap_or(ANCHOR_INTERVAL_MS_DEFAULT),
        );
        Ok(AuditSettings { key, previous_keys, anchor_file, anchor_interval })
    }

    fn key_by_id(&self, id: &str) -> Option<&AuditKey> {
        std::iter::once(&self.key).chain(&self.previous_keys).find(|key| key.id() == id)
    }
}

/// `<folder of the SQLite journal>/audit`, or for PostgreSQL a name made of host, port and
/// database (never the password) in the temporary folder.
fn default_base(database: &pos_config::Database) -> PathBuf {
    match database.backend {
        Backend::Sqlite => {
            let rest = database.url.strip_prefix("sqlite://").unwrap_or(&database.url);
            let file = rest.split_once('?').map_or(rest, |(f, _)| f);
            Path::new(file).parent().map_or_else(|| PathBuf::from("audit"), |dir| dir.join("audit"))
        }
        Backend::Postgres => {
            let rest = database.url.split_once("://").map_or(database.url.as_str(), |(_, r)| r);
            let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
            let name: String = rest.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
            std::env::temp_dir().join("pos-gateway-audit").join(name)
        }
    }
}

fn read_key(file: &Path) -> Result<AuditKey, JournalError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| JournalError::Audit(format!("cannot read the audit key {}: {e}", file.display())))?;
    AuditKey::from_hex(&text)
}

/// Writes a fresh key readable by its owner only.
pub fn write_new_key(file: &Path) -> Result<AuditKey, JournalError> {
    use std::os::unix::fs::OpenOptionsExt;
    let key = AuditKey::generate();
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| JournalError::Audit(format!("{}: {e}", dir.display())))?;
    }
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| JournalError::Audit(format!("cannot create the audit key {}: {e}", file.display())))?;
    writeln!(out, "{}", key.to_hex()).and_then(|()| out.sync_all()).map_err(|e| JournalError::Audit(e.to_string()))?;
    Ok(key)
}

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A request, with its status and what it did: written with the next group commit.
    Request,
    /// A change a request committed, in the change's own transaction.
    Change,
    /// A key rotation, signed by the old key and the new.
    Rotation,
}

impl RecordKind {
    pub fn code(self) -> &'static str {
        match self {
            RecordKind::Request => "request",
            RecordKind::Change => "change",
            RecordKind::Rotation => "rotation",
        }
    }

    /// The kind a stored code names, the inverse of [`RecordKind::code`].
    pub fn from_code(code: &str) -> Option<RecordKind> {
        [RecordKind::Request, RecordKind::Change, RecordKind::Rotation].into_iter().find(|kind| kind.code() == code)
    }
}

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
    /// `ok`, `denied` (401/403), `rejected` (other 4xx), `error` (5xx); `committed` for a change.
    pub outcome: String,
    /// What the request did beyond its route (ids, amounts, approver); empty when nothing more.
    pub detail: String,
    /// The request's id (`X-Request-Id`).
    pub request_id: Option<String>,
    pub kind: RecordKind,
}

/// Who is acting in the request a task serves: every write transaction it commits carries a
/// `change` record made from this.
#[derive(Debug, Clone)]
pub struct AuditScope {
    pub at: DateTime<Utc>,
    pub user_name: String,
    pub role: String,
    pub action: String,
    pub target: String,
    pub remote: String,
    pub request_id: Option<String>,
}

tokio::task_local! {
    static SCOPE: AuditScope;
}

impl AuditScope {
    /// Runs `work` (a request's handler) with this scope.
    pub async fn run<F: std::future::Future>(self, work: F) -> F::Output {
        SCOPE.scope(self, work).await
    }

    pub(crate) fn current() -> Option<AuditScope> {
        SCOPE.try_with(Clone::clone).ok()
    }

    pub(crate) fn change_entry(&self) -> AuditEntry {
        AuditEntry {
            at: self.at,
            user_name: self.user_name.clone(),
            role: self.role.clone(),
            action: self.action.clone(),
            target: self.target.clone(),
            remote: self.remote.clone(),
            status: 0,
            outcome: "committed".to_string(),
            detail: String::new(),
            request_id: self.request_id.clone(),
            kind: RecordKind::Change,
        }
    }
}

/// Where a node's chain stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub chain: i64,
    pub seq: i64,
    pub mac: String,
    pub key_id: Option<String>,
}

fn record_mac(key: &AuditKey, chain: i64, seq: i64, prev_mac: &str, at: &str, entry: &AuditEntry) -> String {
    let status = entry.status.to_string();
    key.mac(&[
        &chain.to_string(),
        &seq.to_string(),
        prev_mac,
        at,
        entry.kind.code(),
        &entry.user_name,
        &entry.role,
        &entry.action,
        &entry.target,
        &entry.remote,
        &status,
        &entry.outcome,
        &entry.detail,
        entry.request_id.as_deref().unwrap_or(""),
        key.id(),
    ])
}

/// Claims a chain for this node's writer: on PostgreSQL the first one no live node holds (an
/// advisory lock for the life of the connection), on SQLite the one chain.
pub(crate) async fn claim_chain(
    conn: &mut AnyConnection,
    backend: Backend,
    settings: &AuditSettings,
) -> Result<ChainHead, JournalError> {
    let chain = match backend {
        Backend::Sqlite => 0,
        Backend::Postgres => {
            let mut claimed = None;
            for chain in 0..AUDIT_CHAINS_MAX {
                let got: i64 =
                    sqlx::query("SELECT CAST(CASE WHEN pg_try_advisory_lock($1) THEN 1 ELSE 0 END AS BIGINT) AS got")
                        .bind(AUDIT_CHAIN_LOCK_BASE + chain)
                        .fetch_one(&mut *conn)
                        .await?
                        .try_get("got")?;
                if got == 1 {
                    claimed = Some(chain);
                    break;
                }
            }
            claimed.ok_or_else(|| {
                JournalError::Audit(format!("all {AUDIT_CHAINS_MAX} audit chains are held by live nodes"))
            })?
        }
    };
    let row = sqlx::query("SELECT seq, mac, key_id FROM audit_record WHERE chain = $1 ORDER BY seq DESC LIMIT 1")
        .bind(chain)
        .fetch_optional(&mut *conn)
        .await?;
    let mut head = match row {
        Some(row) => ChainHead {
            chain,
            seq: row.try_get("seq")?,
            mac: row.try_get("mac")?,
            key_id: Some(row.try_get("key_id")?),
        },
        None => ChainHead { chain, seq: 0, mac: GENESIS_MAC.to_string(), key_id: None },
    };
    if let Some(old_id) = head.key_id.clone().filter(|id| id != settings.key.id()) {
        rotate(conn, &mut head, settings, &old_id).await?;
    }
    Ok(head)
}

/// The statement both keys sign when the chain passes from one to the other.
fn rotation_statement(chain: i64, seq: i64, head_mac: &str, old_id: &str, new_id: &str) -> Vec<String> {
    [
        RecordKind::Rotation.code().to_string(),
        chain.to_string(),
        seq.to_string(),
        head_mac.to_string(),
        old_id.to_string(),
        new_id.to_string(),
    ]
    .to_vec()
}

/// Continues a chain signed by an earlier key under the current one: a `rotation` record, MAC'd
/// by the new key like every record, whose detail carries the old key's MAC over the same
/// statement. Needs the old key among the previous keys: a chain is never continued by a key that
/// cannot prove it follows the one before.
async fn rotate(
    conn: &mut AnyConnection,
    head: &mut ChainHead,
    settings: &AuditSettings,
    old_id: &str,
) -> Result<(), JournalError> {
    let old = settings.key_by_id(old_id).ok_or_else(|| {
        JournalError::Audit(format!(
            "audit chain {} was signed by key {old_id}, which is not among the previous keys ({PREVIOUS_KEY_FILES_ENV}): it cannot be continued under key {}",
            head.chain,
            settings.key.id()
        ))
    })?;
    let statement = rotation_statement(head.chain, head.seq, &head.mac, old_id, settings.key.id());
    let refs: Vec<&str> = statement.iter().map(String::as_str).collect();
    let entry = AuditEntry {
        at: Utc::now(),
        user_name: "-".to_string(),
        role: "-".to_string(),
        action: "ROTATE audit key".to_string(),
        target: String::new(),
        remote: "-".to_string(),
        status: 0,
        outcome: "ok".to_string(),
        detail: format!("from {old_id} to {} old-key-mac {}", settings.key.id(), old.mac(&refs)),
        request_id: None,
        kind: RecordKind::Rotation,
    };
    sqlx::query("BEGIN").execute(&mut *conn).await?;
    insert(conn, head, settings, &entry).await?;
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    Ok(())
}

/// Appends a record at the chain's head (inside the caller's transaction) and advances the head.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    head: &mut ChainHead,
    settings: &AuditSettings,
    entry: &AuditEntry,
) -> Result<(), JournalError> {
    let seq = head.seq + 1;
    let at = instant_text(entry.at);
    let mac = record_mac(&settings.key, head.chain, seq, &head.mac, &at, entry);
    sqlx::query(
        "INSERT INTO audit_record (chain, seq, at, kind, user_name, role, action, target, remote, status, outcome, detail, request_id, key_id, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(head.chain)
    .bind(seq)
    .bind(&at)
    .bind(entry.kind.code())
    .bind(&entry.user_name)
    .bind(&entry.role)
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(&entry.remote)
    .bind(i64::from(entry.status))
    .bind(&entry.outcome)
    .bind(&entry.detail)
    .bind(entry.request_id.as_deref())
    .bind(settings.key.id())
    .bind(&mac)
    .execute(conn)
    .await?;
    head.seq = seq;
    head.mac = mac;
    head.key_id = Some(settings.key.id().to_string());
    Ok(())
}

/// Records a request: queued, and written durably with the next group commit (within
/// [`super::writer::AUDIT_FLUSH_MS`] when nothing else is written).
pub fn record(journal: &Journal, entry: AuditEntry) {
    journal.writer.queue(entry);
}

/// Appends the heads to the anchor file (flushed to disk) and the log.
pub(crate) fn write_anchors(file: &Path, heads: &[(i64, i64, String)]) -> Result<(), JournalError> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| JournalError::Audit(format!("{}: {e}", dir.display())))?;
    }
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .map_err(|e| JournalError::Audit(format!("cannot open the anchor file {}: {e}", file.display())))?;
    let at = instant_text(Utc::now());
    let mut text = String::new();
    for (chain, seq, mac) in heads {
        tracing::info!(chain, seq, mac = %mac, "audit anchor");
        text.push_str(&format!("{at} chain={chain} seq={seq} mac={mac}\n"));
    }
    out.write_all(text.as_bytes()).and_then(|()| out.sync_data()).map_err(|e| JournalError::Audit(e.to_string()))?;
    Ok(())
}

/// The anchors in a file, by chain and sequence. A missing file holds none.
pub fn read_anchors(file: &Path) -> Result<HashMap<(i64, i64), String>, JournalError> {
    let mut anchors = HashMap::new();
    let input = match std::fs::File::open(file) {
        Ok(input) => input,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(anchors),
        Err(e) => return Err(JournalError::Audit(format!("cannot read the anchor file {}: {e}", file.display()))),
    };
    for (number, line) in std::io::BufReader::new(input).lines().enumerate() {
        let line = line.map_err(|e| JournalError::Audit(e.to_string()))?;
        let mut chain = None;
        let mut seq = None;
        let mut mac = None;
        for word in line.split_whitespace() {
            match word.split_once('=') {
                Some(("chain", v)) => chain = v.parse::<i64>().ok(),
                Some(("seq", v)) => seq = v.parse::<i64>().ok(),
                Some(("mac", v)) => mac = Some(v.to_string()),
                _ => {}
            }
        }
        match (chain, seq, mac) {
            (Some(chain), Some(seq), Some(mac)) => {
                anchors.insert((chain, seq), mac);
            }
            _ => return Err(JournalError::Audit(format!("{} line {}: not an anchor", file.display(), number + 1))),
        }
    }
    Ok(anchors)
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Verification {
    /// Records checked (both the keyed chains and the older unkeyed one).
    pub records: i64,
    /// Keyed chains (one per node that has written).
    pub chains: i64,
    /// Anchored heads the chains were checked against.
    pub anchors: i64,
    /// The first problem found, if any, naming the record.
    pub problem: Option<String>,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.problem.is_none()
    }
}

/// Verifies every chain with the journal's own key and anchors.
pub async fn verify(journal: &Journal) -> Result<Verification, JournalError> {
    verify_with(journal, &journal.writer.audit).await
}

/// Walks the older unkeyed chain and every keyed chain, checking each record's MAC with the key
/// that signed it, the sequence, the links, rotations, and that every anchored head is in its
/// chain with the MAC anchored. Records appended meanwhile by a live gateway are checked as far as
/// they were read.
pub async fn verify_with(journal: &Journal, settings: &AuditSettings) -> Result<Verification, JournalError> {
    let legacy = verify_unkeyed(journal).await?;
    if !legacy.is_intact() {
        return Ok(legacy);
    }
    let mut anchors = read_anchors(&settings.anchor_file)?;
    let anchor_count = i64::try_from(anchors.len()).unwrap_or(i64::MAX);
    let mut conn = journal.read().await?;
    let chains: Vec<i64> = sqlx::query("SELECT DISTINCT chain FROM audit_record ORDER BY chain")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| row.try_get("chain"))
        .collect::<Result<_, _>>()?;
    let mut records = legacy.records;
    let chain_count = i64::try_from(chains.len()).unwrap_or(i64::MAX);
    let result = |records: i64, problem: Option<String>| {
        Ok(Verification { records, chains: chain_count, anchors: anchor_count, problem })
    };
    for chain in chains {
        let mut expected_seq = 1i64;
        let mut prev_mac = GENESIS_MAC.to_string();
        loop {
            let rows = sqlx::query("SELECT seq, at, kind, user_name, role, action, target, remote, status, outcome, detail, request_id, key_id, mac FROM audit_record WHERE chain = $1 AND seq >= $2 ORDER BY seq LIMIT $3")
                .bind(chain)
                .bind(expected_seq)
                .bind(VERIFY_PAGE_RECORDS)
                .fetch_all(&mut *conn)
                .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let seq: i64 = row.try_get("seq")?;
                if seq != expected_seq {
                    return result(
                        records,
                        Some(format!("chain {chain}: record {expected_seq} is missing (next present is {seq})")),
                    );
                }
                let code: String = row.try_get("kind")?;
                let Some(kind) = RecordKind::from_code(&code) else {
                    return result(records, Some(format!("chain {chain}: record {seq} has an unknown kind {code:?}")));
                };
                let status: i64 = row.try_get("status")?;
                let entry = AuditEntry {
                    at: Utc::now(),
                    user_name: row.try_get("user_name")?,
                    role: row.try_get("role")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    remote: row.try_get("remote")?,
                    status: u16::try_from(status).unwrap_or(u16::MAX),
                    outcome: row.try_get("outcome")?,
                    detail: row.try_get("detail")?,
                    request_id: row.try_get("request_id")?,
                    kind,
                };
                let at: String = row.try_get("at")?;
                let key_id: String = row.try_get("key_id")?;
                let stored: String = row.try_get("mac")?;
                let Some(key) = settings.key_by_id(&key_id) else {
                    return result(
                        records,
                        Some(format!(
                            "chain {chain}: record {seq} was signed by key {key_id}, which verification does not hold"
                        )),
                    );
                };
                if record_mac(key, chain, seq, &prev_mac, &at, &entry) != stored {
                    return result(
                        records,
                        Some(format!("chain {chain}: record {seq} was altered or written without the key: its MAC does not match")),
                    );
                }
                if kind == RecordKind::Rotation {
                    if let Some(problem) = check_rotation(settings, chain, seq - 1, &prev_mac, &entry.detail) {
                        return result(records, Some(format!("chain {chain}: rotation record {seq}: {problem}")));
                    }
                }
                if let Some(anchored) = anchors.remove(&(chain, seq)) {
                    if anchored != stored {
                        return result(
                            records,
                            Some(format!("chain {chain}: record {seq} differs from its anchored MAC")),
                        );
                    }
                }
                prev_mac = stored;
                expected_seq += 1;
                records += 1;
            }
        }
    }
    // An anchor the walk never reached: its records are gone.
    if let Some(((chain, seq), _)) = anchors.iter().min_by_key(|((chain, seq), _)| (*chain, *seq)) {
        return result(
            records,
            Some(format!(
                "chain {chain}: record {seq} was anchored but the chain no longer reaches it: records were removed from the end"
            )),
        );
    }
    result(records, None)
}

/// A rotation record's detail: `from <old> to <new> old-key-mac <mac>`, the old key's MAC over
/// the statement; checked when verification holds the old key.
fn check_rotation(settings: &AuditSettings, chain: i64, seq: i64, head_mac: &str, detail: &str) -> Option<String> {
    let words: Vec<&str> = detail.split_whitespace().collect();
    let ["from", old_id, "to", new_id, "old-key-mac", old_mac] = words.as_slice() else {
        return Some("its detail is not a rotation statement".to_string());
    };
    let old = settings.key_by_id(old_id)?;
    let statement = rotation_statement(chain, seq, head_mac, old_id, new_id);
    let refs: Vec<&str> = statement.iter().map(String::as_str).collect();
    (old.mac(&refs) != *old_mac).then(|| "the old key did not sign it".to_string())
}

/// The older unkeyed hash chain (`audit_log` and its head row), as it was verified before.
async fn verify_unkeyed(journal: &Journal) -> Result<Verification, JournalError> {
    let mut conn = journal.read().await?;
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *conn).await?;
    let head_seq: i64 = head.try_get("seq")?;
    let head_hash: String = head.try_get("hash")?;
    let mut expected_seq = 1i64;
    let mut prev_hash = GENESIS_HASH.to_string();
    let fail =
        |records: i64, problem: String| Ok(Verification { records, chains: 0, anchors: 0, problem: Some(problem) });
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
            if seq != expected_seq {
                return fail(expected_seq - 1, format!("record {expected_seq} is missing (next present is {seq})"));
            }
            let stored_prev: String = row.try_get("prev_hash")?;
            if stored_prev != prev_hash {
                return fail(
                    expected_seq - 1,
                    format!("record {seq} does not follow record {}: its previous hash differs", seq - 1),
                );
            }
            let status: i64 = row.try_get("status")?;
            let mut fields: Vec<String> = ["user_name", "role", "action", "target", "remote"]
                .iter()
                .map(|column| row.try_get::<String, _>(*column))
                .chain([Ok(status.to_string()), row.try_get::<String, _>("outcome")])
                .collect::<Result<_, _>>()?;
            let request_id: Option<String> = row.try_get("request_id")?;
            fields.extend(request_id);
            let detail: String = row.try_get("detail")?;
            if !detail.is_empty() {
                fields.push(detail);
            }
            let at: String = row.try_get("at")?;
            let mut hasher = Sha256::new();
            let seq_text = seq.to_string();
            for field in [prev_hash.as_str(), &seq_text, &at].into_iter().chain(fields.iter().map(String::as_str)) {
                hasher.update((field.len() as u64).to_be_bytes());
                hasher.update(field.as_bytes());
            }
            let stored_hash: String = row.try_get("hash")?;
            if hex::encode(hasher.finalize()) != stored_hash {
                return fail(
                    expected_seq - 1,
                    format!("record {seq} was altered: its content does not match its hash"),
                );
            }
            prev_hash = stored_hash;
            expected_seq += 1;
        }
    }
    let records = expected_seq - 1;
    if records != head_seq || prev_hash != head_hash {
        return fail(
            records,
            format!("the log ends at record {records} but its head says {head_seq}: records were removed from the end"),
        );
    }
    Ok(Verification { records, chains: 0, anchors: 0, problem: None })
}
