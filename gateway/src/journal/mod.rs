//! The durable journal: one schema, two backends (SQLite embedded by default, PostgreSQL for
//! several gateway nodes), reached through sqlx's `Any` driver so that every query is written once.
//!
//! The journal holds append-only events and, beside them, the current state of every shift, sale
//! and payment. Every state change is committed — event and state together, in one transaction —
//! before the side effect it allows (handing back change, printing a receipt, sending an
//! authorization): write-ahead, so a crash at any point is recovered from what is on disk.
//!
//! Every write transaction of a node goes through its one writer ([`writer`]), which gathers the
//! transactions of concurrent requests into one database transaction and one fsync (group
//! commit) and answers each only after that commit. The writer also assigns audit records their
//! place in the node's keyed chain ([`audit`]).

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
pub mod writer;

pub use writer::WriteTx;

use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use pos_config::Backend;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Row};

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
    /// The group commit this transaction was part of failed: nothing of it is durable.
    #[error("the journal's group commit failed: {0}")]
    Group(String),
    #[error("audit: {0}")]
    Audit(String),
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
    writer: Arc<writer::Writer>,
}

/// `FOR UPDATE` where the backend has row locks.
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
        let audit = audit::AuditSettings::for_database(database, create)?;
        Journal::open_with(database, create, audit).await
    }

    /// Connects with the audit key and anchors given (tests, tools), creating and migrating.
    pub async fn connect_with_audit(
        database: &pos_config::Database,
        audit: audit::AuditSettings,
    ) -> Result<Journal, JournalError> {
        Journal::open_with(database, true, audit).await
    }

    async fn open_with(
        database: &pos_config::Database,
        create: bool,
        audit: audit::AuditSettings,
    ) -> Result<Journal, JournalError> {
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
            .after_connect(move |conn, _meta| Box::pin(async move { prepare_connection(conn, backend).await }))
            .connect_with(options.clone())
            .await?;
        if create {
            known_migrations(backend).run(&pool).await?;
        }
        let writer = writer::Writer::new(backend, options, audit);
        writer.listen(database.url.clone());
        Ok(Journal { pool, backend, writer })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction in the writer's next group commit.
    pub async fn begin_write(&self) -> Result<WriteTx, JournalError> {
        self.writer.begin().await
    }

    /// Waits until a transaction that notifies `topic` commits (on this node, or on another node
    /// of a PostgreSQL journal), or until `deadline`. Subscribe-then-check: call [`Journal::watch`]
    /// before reading the state, then wait on what it returns, so no commit is missed between.
    pub fn watch(&self, topic: &str) -> tokio::sync::watch::Receiver<u64> {
        self.writer.subscribe(topic)
    }

    /// Group commits so far: each is one `COMMIT`, so one fsync of the journal.
    pub fn group_commits(&self) -> u64 {
        self.writer.group_commits()
    }

    /// Writes every queued audit record durably now (a group commit of its own if need be).
    pub async fn flush_audit(&self) -> Result<(), JournalError> {
        self.writer.flush().await
    }

    /// Anchors the committed audit heads now (besides the writer's interval).
    pub fn anchor_audit(&self) -> Result<(), JournalError> {
        self.writer.anchor(&mut std::collections::BTreeMap::new())
    }

    /// The audit key and anchors this journal writes with.
    pub fn audit_settings(&self) -> &audit::AuditSettings {
        &self.writer.audit
    }

    /// A connection for reads (they never need the writer gate).
    pub async fn read(&self) -> Result<sqlx::pool::PoolConnection<Any>, JournalError> {
        Ok(self.pool.acquire().await?)
    }

    /// Writes the queued audit records, anchors the heads and closes every connection.
    pub async fn close(&self) {
        self.writer.close(&mut std::collections::BTreeMap::new()).await;
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

/// What every connection runs first. SQLite: WAL lets readers run beside the writer; FULL makes
/// each commit durable on power loss, which a money journal needs.
pub(crate) async fn prepare_connection(conn: &mut AnyConnection, backend: Backend) -> Result<(), sqlx::Error> {
    if backend == Backend::Sqlite {
        conn.execute("PRAGMA journal_mode = WAL").await?;
        conn.execute("PRAGMA synchronous = FULL").await?;
        conn.execute("PRAGMA foreign_keys = ON").await?;
        conn.execute(format!("PRAGMA busy_timeout = {DATABASE_BUSY_TIMEOUT_MS}").as_str()).await?;
    }
    Ok(())
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
