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
pub mod shifts;
pub mod treasury;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use pos_config::Backend;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// How long a connection may wait for a lock held by another writer before failing.
pub const DATABASE_BUSY_TIMEOUT_MS: u64 = 5_000;
/// How long to wait for a free connection from the pool.
pub const POOL_ACQUIRE_TIMEOUT_MS: u64 = 10_000;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

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
        match (backend, create) {
            (_, false) => {}
            (Backend::Sqlite, true) => SQLITE_MIGRATIONS.run(&pool).await?,
            (Backend::Postgres, true) => POSTGRES_MIGRATIONS.run(&pool).await?,
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
