//! The durable journal: one schema, two backends (SQLite embedded by default, PostgreSQL for
//! several gateway nodes), reached through sqlx's `Any` driver so that every query is written once.
//!
//! The journal holds append-only events and, beside them, the current state of every shift, sale
//! and payment. Every state change is committed — event and state together, in one transaction —
//! before the side effect it allows (handing back change, printing a receipt, sending an
//! authorization): write-ahead, so a crash at any point is recovered from what is on disk.
//!
//! SQLite allows one writer at a time; a deferred transaction that reads and then writes can fail
//! with `SQLITE_BUSY` when two of them race. On SQLite every write transaction therefore first
//! takes an in-process gate, which serializes writers without ever upgrading a lock. PostgreSQL
//! takes row locks (`FOR UPDATE`) instead and needs no gate.

pub mod audit;
pub mod columns;
pub mod devices;
pub mod events;
pub mod filter;
pub mod idempotency;
pub mod lifecycle;
pub mod payments;
pub mod qr;
pub mod raised;
pub mod refunds;
pub mod reversals;
pub mod sales;
pub mod sessions;
pub mod shifts;
pub mod treasury;

use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use pos_config::Backend;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Row, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// How long a connection may wait for a lock held by another writer before failing.
pub const DATABASE_BUSY_TIMEOUT_MS: u64 = 5_000;
/// How long to wait for a free connection from the pool.
pub const POOL_ACQUIRE_TIMEOUT_MS: u64 = 10_000;

/// The migrations this binary knows, per backend. They tolerate migrations they do not know
/// (`ignore_missing`): during a rolling upgrade a newer node may already have applied the next
/// ones, and an older node must keep starting beside it. sqlx's default refuses that
/// (`VersionMissing`); what makes it safe is the rule that every migration is additive (see
/// `deploy/README.md`, "Upgrades", and the test `upgrades`). A migration this binary knows is
/// still checked: applied with another checksum (an edited file) is refused.
static SQLITE_MIGRATIONS: LazyLock<Migrator> = LazyLock::new(|| tolerant(sqlx::migrate!("./migrations/sqlite")));
static POSTGRES_MIGRATIONS: LazyLock<Migrator> = LazyLock::new(|| tolerant(sqlx::migrate!("./migrations/postgres")));

fn tolerant(mut migrator: Migrator) -> Migrator {
    migrator.set_ignore_missing(true);
    migrator
}

/// The migrations a backend's schema is built from, as this binary knows them.
pub fn known_migrations(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    }
}

/// Where the journal's schema stands against the migrations this binary knows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SchemaState {
    /// The highest migration this binary knows.
    pub known_latest: i64,
    /// The highest migration applied to the journal (by this node or a newer one).
    pub applied_latest: Option<i64>,
    /// Migrations this binary knows that are not applied: the node cannot serve.
    pub missing: Vec<i64>,
    /// Migrations applied that this binary does not know: a newer node ran them (a rolling
    /// upgrade in progress); this node serves on, since migrations are additive.
    pub newer: Vec<i64>,
    /// Migrations recorded as failed (a partial migration sqlx calls "dirty").
    pub failed: Vec<i64>,
}

impl SchemaState {
    /// The schema holds everything this binary needs.
    pub fn is_usable(&self) -> bool {
        self.missing.is_empty() && self.failed.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database folder {path}: {source}")]
    Folder { path: String, source: std::io::Error },
    #[error("journal record {table}.{column} of {id} holds an unreadable value {value:?}")]
    Corrupt { table: &'static str, column: &'static str, id: String, value: String },
    #[error("backup: {0}")]
    Backup(String),
}

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub path: std::path::PathBuf,
    pub bytes: u64,
}

#[derive(Clone)]
pub struct Journal {
    pool: AnyPool,
    backend: Backend,
    write_gate: Option<Arc<Mutex<()>>>,
}

/// A write transaction; on SQLite it also holds the writer gate until commit or rollback.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    _gate: Option<OwnedMutexGuard<()>>,
    backend: Backend,
}

impl WriteTx {
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// `FOR UPDATE` where the backend has row locks.
    pub fn for_update(&self) -> &'static str {
        for_update(self.backend)
    }

    pub async fn commit(self) -> Result<(), JournalError> {
        self.tx.commit().await?;
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), JournalError> {
        self.tx.rollback().await?;
        Ok(())
    }
}

pub fn for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}

impl Journal {
    /// Connects, creating the SQLite file if needed, and runs the migrations.
    pub async fn connect(database: &pos_config::Database) -> Result<Journal, JournalError> {
        Journal::open(database, true).await
    }

    /// Connects to a journal that must already exist, without creating or migrating anything
    /// (tools such as the audit verification).
    pub async fn connect_existing(database: &pos_config::Database) -> Result<Journal, JournalError> {
        Journal::open(database, false).await
    }

    async fn open(database: &pos_config::Database, create: bool) -> Result<Journal, JournalError> {
        sqlx::any::install_default_drivers();
        let url = match (database.backend, create) {
            (Backend::Sqlite, true) => sqlite_url_creating_folder(&database.url)?,
            (Backend::Sqlite, false) => existing_sqlite_url(&database.url),
            (Backend::Postgres, _) => database.url.clone(),
        };
        let options: AnyConnectOptions = url.parse()?;
        let backend = database.backend;
        let pool = AnyPoolOptions::new()
            .max_connections(database.connections_max)
            .acquire_timeout(Duration::from_millis(POOL_ACQUIRE_TIMEOUT_MS))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; FULL makes each commit durable
                        // on power loss, which a money journal needs.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute(format!("PRAGMA busy_timeout = {DATABASE_BUSY_TIMEOUT_MS}").as_str()).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        if create {
            known_migrations(backend).run(&pool).await?;
        }
        let write_gate = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Journal { pool, backend, write_gate })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn begin_write(&self) -> Result<WriteTx, JournalError> {
        let gate = match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        };
        let tx = self.pool.begin().await?;
        Ok(WriteTx { tx, _gate: gate, backend: self.backend })
    }

    /// A connection for reads (they never need the writer gate).
    pub async fn read(&self) -> Result<sqlx::pool::PoolConnection<Any>, JournalError> {
        Ok(self.pool.acquire().await?)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Checks that the database answers; used at start-up and by readiness checks.
    pub async fn ping(&self) -> Result<(), JournalError> {
        let mut conn = self.pool.acquire().await?;
        conn.ping().await?;
        Ok(())
    }

    /// Writes a consistent copy of the whole journal to `target` while the gateway keeps serving:
    /// SQLite's `VACUUM INTO` reads one snapshot (a read transaction, so writers go on in WAL mode)
    /// and writes a compact, self-contained database file, which is then checked with
    /// `PRAGMA integrity_check`. Restoring is putting that file in place as `journal.db` (with no
    /// `-wal` or `-shm` beside it) and starting the gateway. An existing `target` is never
    /// overwritten. PostgreSQL journals are backed up with PostgreSQL's own tools (`pg_dump`,
    /// base backups): see `deploy/README.md`.
    pub async fn backup_to(&self, target: &std::path::Path) -> Result<BackupReport, JournalError> {
        if self.backend != Backend::Sqlite {
            return Err(JournalError::Backup(
                "a PostgreSQL journal is backed up with pg_dump -Fc (or base backups with WAL archiving); see deploy/README.md".to_string(),
            ));
        }
        if target.exists() {
            return Err(JournalError::Backup(format!("{} exists; a backup never overwrites a file", target.display())));
        }
        let text =
            target.to_str().ok_or_else(|| JournalError::Backup(format!("{} is not a UTF-8 path", target.display())))?;
        let mut conn = self.read().await?;
        // The path is a string literal of the statement: quotes doubled, as SQL escapes them.
        sqlx::query(&format!("VACUUM INTO '{}'", text.replace('\'', "''"))).execute(&mut *conn).await?;
        drop(conn);
        let copy = sqlx::any::AnyConnectOptions::from_str(&format!("sqlite://{text}?mode=ro"))?;
        let mut check = sqlx::AnyConnection::connect_with(&copy).await?;
        let verdict: String = sqlx::query("PRAGMA integrity_check").fetch_one(&mut check).await?.try_get(0)?;
        check.close().await?;
        if verdict != "ok" {
            return Err(JournalError::Backup(format!("the copy at {text} fails its integrity check: {verdict}")));
        }
        let bytes = std::fs::metadata(target).map_err(|e| JournalError::Backup(format!("{text}: {e}")))?.len();
        Ok(BackupReport { path: target.to_path_buf(), bytes })
    }

    /// Reads which migrations the journal has, against the ones this binary knows.
    pub async fn schema_state(&self) -> Result<SchemaState, JournalError> {
        let mut conn = self.read().await?;
        // `success` is a BOOLEAN, which the Any driver cannot read from SQLite: read it as a number.
        let rows = sqlx::query(
            "SELECT version, CAST(CASE WHEN success THEN 1 ELSE 0 END AS BIGINT) AS succeeded FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut applied = Vec::new();
        let mut failed = Vec::new();
        for row in &rows {
            let version: i64 = row.try_get("version")?;
            if row.try_get::<i64, _>("succeeded")? == 1 {
                applied.push(version);
            } else {
                failed.push(version);
            }
        }
        let known: Vec<i64> = known_migrations(self.backend)
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| m.version)
            .collect();
        Ok(SchemaState {
            known_latest: known.iter().copied().max().unwrap_or(0),
            applied_latest: applied.iter().copied().max(),
            missing: known.iter().copied().filter(|v| !applied.contains(v)).collect(),
            newer: applied.iter().copied().filter(|v| !known.contains(v)).collect(),
            failed,
        })
    }
}

fn sqlite_url_creating_folder(url: &str) -> Result<String, JournalError> {
    let rest = url.strip_prefix("sqlite://").unwrap_or(url);
    let (file, query) = rest.split_once('?').map_or((rest, None), |(f, q)| (f, Some(q)));
    if let Some(parent) = std::path::Path::new(file).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .map_err(|source| JournalError::Folder { path: parent.display().to_string(), source })?;
        }
    }
    Ok(match query {
        Some(query) if query.contains("mode=") => format!("sqlite://{file}?{query}"),
        Some(query) => format!("sqlite://{file}?{query}&mode=rwc"),
        None => format!("sqlite://{file}?mode=rwc"),
    })
}

fn existing_sqlite_url(url: &str) -> String {
    let rest = url.strip_prefix("sqlite://").unwrap_or(url);
    let file = rest.split_once('?').map_or(rest, |(f, _)| f);
    format!("sqlite://{file}?mode=rw")
}

/// Instants are stored as fixed-width RFC 3339 UTC text, so text order is time order.
pub fn instant_text(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}
