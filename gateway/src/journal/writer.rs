//! The journal's one writer: group commit.
//!
//! Every write transaction of a gateway node runs on one connection, as a savepoint inside a
//! database transaction that the writer shares among the requests that arrive while it is busy.
//! A request's [`WriteTx::commit`] releases its savepoint and then waits until the shared
//! transaction is committed (one `COMMIT`, one fsync for all of them) before it returns: nothing
//! is answered, and no side effect follows, before its commit is durable.
//!
//! Who commits: the request that finishes its savepoint while no other request is waiting to
//! begin commits at once; otherwise it hands the connection on and queues again behind the
//! requests that were waiting, so the last of a burst commits the group for all of them. A group
//! also closes once it holds [`GROUP_MEMBERS_MAX`] requests. A failed `COMMIT` fails every member
//! of the group (none of them is answered as done) and the connection is opened afresh.
//!
//! The writer also owns the node's audit chain (see [`super::audit`]): it assigns each record's
//! position in order, in the transaction of the change it records, so no head row is locked by
//! every request. Records of requests that changed nothing (reads, refusals) are queued and written
//! in the next group, or by the flusher within [`AUDIT_FLUSH_MS`]; the committed heads are anchored
//! outside the database every `anchor_interval`.
//!
//! Only one writer connection per node means no two requests of one node ever wait on each other's
//! row locks inside the database (they would deadlock across groups that hold their locks until
//! the group commits); several nodes on one PostgreSQL each have their own writer and chain.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use pos_config::Backend;
use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, Connection, Executor};
use tokio::sync::{watch, Mutex, OwnedMutexGuard};

use super::audit::{self, AuditEntry, AuditScope, AuditSettings, ChainHead};
use super::JournalError;

/// The most requests one group commit holds before it commits even though more are waiting.
pub const GROUP_MEMBERS_MAX: usize = 512;
/// How often queued audit records (reads, refusals) are written when no write comes along.
pub const AUDIT_FLUSH_MS: u64 = 50;
/// A test-only fault: abort the process right after this many group commits that hold a request,
/// before answering any member of the last one (the crash test between fsync and answers).
pub const ABORT_AFTER_GROUP_COMMITS_ENV: &str = "GATEWAY_TEST_ABORT_AFTER_GROUP_COMMITS";

type GroupOutcome = Option<Result<(), String>>;

/// The database transaction the writer has open and the requests in it.
struct Group {
    members: usize,
    /// Members that serve a request (not the flusher's empty transactions).
    requests: usize,
    done: watch::Sender<GroupOutcome>,
}

pub(crate) struct WriterState {
    conn: Option<AnyConnection>,
    group: Option<Group>,
    chain: Option<ChainHead>,
}

pub(crate) struct Writer {
    backend: Backend,
    options: AnyConnectOptions,
    state: Arc<Mutex<WriterState>>,
    /// Requests waiting to begin a transaction.
    waiting: AtomicUsize,
    pub(crate) audit: AuditSettings,
    /// Audit records of requests that wrote nothing, written in the next group.
    queued: std::sync::Mutex<Vec<AuditEntry>>,
    /// The committed head of this node's chain, for the anchors.
    committed_heads: std::sync::Mutex<BTreeMap<i64, (i64, String)>>,
    group_commits: AtomicU64,
    fsyncs: AtomicU64,
    abort_after: Option<u64>,
    /// Long polls waiting on a topic, woken after a commit that notifies it (here, or on another
    /// node through PostgreSQL's `NOTIFY`).
    wakers: std::sync::Mutex<std::collections::HashMap<String, watch::Sender<u64>>>,
}

struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(counter: &'a AtomicUsize) -> Waiting<'a> {
        counter.fetch_add(1, Ordering::SeqCst);
        Waiting(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A write transaction: a savepoint in the writer's group. Commit or roll back; dropped without
/// either, it is rolled back.
pub struct WriteTx {
    guard: Option<OwnedMutexGuard<WriterState>>,
    writer: Arc<Writer>,
    scope: Option<AuditScope>,
    /// The chain head when the savepoint began, restored if it is rolled back.
    head_at_start: Option<ChainHead>,
    /// Topics to wake once the transaction is committed.
    topics: Vec<String>,
}

const SAVEPOINT: &str = "SAVEPOINT w";
const RELEASE: &str = "RELEASE SAVEPOINT w";
const ROLLBACK_TO: &str = "ROLLBACK TO SAVEPOINT w";

impl WriteTx {
    pub fn conn(&mut self) -> &mut AnyConnection {
        self.guard.as_mut().and_then(|g| g.conn.as_mut()).expect("a write transaction holds the writer's connection")
    }

    pub fn backend(&self) -> Backend {
        self.writer.backend
    }

    /// `FOR UPDATE` where the backend has row locks.
    pub fn for_update(&self) -> &'static str {
        super::for_update(self.writer.backend)
    }

    /// Wakes the long polls waiting on `topic` once this transaction is committed: on this node
    /// at once, on other nodes of a PostgreSQL journal through `NOTIFY` (sent on commit only).
    pub fn notify(&mut self, topic: impl Into<String>) {
        self.topics.push(topic.into());
    }

    /// Makes the transaction's changes durable (with its group) and returns once they are.
    pub async fn commit(mut self) -> Result<(), JournalError> {
        let topics = std::mem::take(&mut self.topics);
        let writer = self.writer.clone();
        let committed = self.commit_savepoint(&topics).await;
        if committed.is_ok() {
            writer.wake(&topics);
        }
        committed
    }

    async fn commit_savepoint(mut self, topics: &[String]) -> Result<(), JournalError> {
        let mut guard = self.guard.take().expect("a write transaction is committed once");
        let writer = self.writer.clone();
        let released = async {
            if let Some(scope) = &self.scope {
                let entry = scope.change_entry();
                let (conn, chain) = conn_and_chain(&mut guard)?;
                audit::insert(conn, chain, &writer.audit, &entry).await?;
            }
            if writer.backend == Backend::Postgres {
                for topic in topics {
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(NOTIFY_CHANNEL)
                        .bind(topic)
                        .execute(guard.conn.as_mut().ok_or_else(lost)?)
                        .await?;
                }
            }
            guard.conn.as_mut().ok_or_else(lost)?.execute(RELEASE).await?;
            Ok::<(), JournalError>(())
        }
        .await;
        if let Err(error) = released {
            writer.roll_back_savepoint(&mut guard, self.head_at_start.take()).await;
            writer.after_member(guard).await;
            return Err(error);
        }
        let group = guard.group.as_mut().expect("a savepoint sits in an open group");
        group.members += 1;
        group.requests += usize::from(self.scope.is_some());
        let mut outcome = group.done.subscribe();
        if writer.waiting.load(Ordering::SeqCst) == 0 || group.members >= GROUP_MEMBERS_MAX {
            return writer.commit_group(&mut guard).await;
        }
        // Others are about to join: hand the connection on and queue behind them; the group is
        // committed by whoever finds it still open, or has been by the time this gets the lock.
        drop(guard);
        let mut guard = writer.state.clone().lock_owned().await;
        if let Some(result) = outcome.borrow_and_update().clone() {
            return result.map_err(JournalError::Group);
        }
        writer.commit_group(&mut guard).await
    }

    pub async fn rollback(mut self) -> Result<(), JournalError> {
        let mut guard = self.guard.take().expect("a write transaction is rolled back once");
        let writer = self.writer.clone();
        writer.roll_back_savepoint(&mut guard, self.head_at_start.take()).await;
        writer.after_member(guard).await;
        Ok(())
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let Some(mut guard) = self.guard.take() else { return };
        let writer = self.writer.clone();
        let head = self.head_at_start.take();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    writer.roll_back_savepoint(&mut guard, head).await;
                    writer.after_member(guard).await;
                });
            }
            Err(_) => writer.fail_group(&mut guard, "the writer was dropped outside a runtime".to_string()),
        }
    }
}

fn lost() -> JournalError {
    JournalError::Group("the writer's connection was lost".to_string())
}

fn conn_and_chain(state: &mut WriterState) -> Result<(&mut AnyConnection, &mut ChainHead), JournalError> {
    match (state.conn.as_mut(), state.chain.as_mut()) {
        (Some(conn), Some(chain)) => Ok((conn, chain)),
        _ => Err(lost()),
    }
}

impl Writer {
    pub(crate) fn new(backend: Backend, options: AnyConnectOptions, audit: AuditSettings) -> Arc<Writer> {
        let abort_after = std::env::var(ABORT_AFTER_GROUP_COMMITS_ENV).ok().and_then(|v| v.parse().ok());
        let writer = Arc::new(Writer {
            backend,
            options,
            state: Arc::new(Mutex::new(WriterState { conn: None, group: None, chain: None })),
            waiting: AtomicUsize::new(0),
            audit,
            queued: std::sync::Mutex::new(Vec::new()),
            committed_heads: std::sync::Mutex::new(BTreeMap::new()),
            group_commits: AtomicU64::new(0),
            fsyncs: AtomicU64::new(0),
            abort_after,
            wakers: std::sync::Mutex::new(std::collections::HashMap::new()),
        });
        tokio::spawn(flusher(Arc::downgrade(&writer)));
        writer
    }

    /// Starts listening to the other nodes' notifications (PostgreSQL).
    pub(crate) fn listen(self: &Arc<Writer>, url: String) {
        if self.backend == Backend::Postgres {
            tokio::spawn(listener(Arc::downgrade(self), url));
        }
    }

    /// A receiver that changes whenever `topic` is notified.
    pub(crate) fn subscribe(&self, topic: &str) -> watch::Receiver<u64> {
        let mut wakers = self.wakers.lock().expect("wakers");
        wakers.entry(topic.to_string()).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    pub(crate) fn wake(&self, topics: &[String]) {
        let mut wakers = self.wakers.lock().expect("wakers");
        for topic in topics {
            if let Some(sender) = wakers.get(topic) {
                sender.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
        // Topics nobody waits on any more are forgotten.
        wakers.retain(|_, sender| sender.receiver_count() > 0);
    }

    /// Group commits so far (each one `COMMIT`, so one fsync of the journal).
    pub(crate) fn group_commits(&self) -> u64 {
        self.fsyncs.load(Ordering::Relaxed)
    }

    pub(crate) async fn begin(self: &Arc<Writer>) -> Result<WriteTx, JournalError> {
        let mut guard = {
            let _waiting = Waiting::new(&self.waiting);
            self.state.clone().lock_owned().await
        };
        if let Err(error) = self.open_group(&mut guard).await {
            self.fail_group(&mut guard, error.to_string());
            return Err(error);
        }
        if let Err(error) = guard.conn.as_mut().ok_or_else(lost)?.execute(SAVEPOINT).await {
            self.fail_group(&mut guard, error.to_string());
            return Err(error.into());
        }
        let head_at_start = guard.chain.clone();
        Ok(WriteTx {
            guard: Some(guard),
            writer: self.clone(),
            scope: AuditScope::current(),
            head_at_start,
            topics: Vec::new(),
        })
    }

    async fn open_group(&self, state: &mut WriterState) -> Result<(), JournalError> {
        if state.group.is_some() {
            return Ok(());
        }
        if state.conn.is_none() {
            let mut conn = AnyConnection::connect_with(&self.options).await?;
            super::prepare_connection(&mut conn, self.backend).await?;
            let chain = audit::claim_chain(&mut conn, self.backend, &self.audit).await?;
            self.committed_heads.lock().expect("heads").insert(chain.chain, (chain.seq, chain.mac.clone()));
            state.chain = Some(chain);
            state.conn = Some(conn);
        }
        let begin = match self.backend {
            // IMMEDIATE takes the write lock at once: a deferred transaction that reads and then
            // writes could fail with SQLITE_BUSY against another process's writer.
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        state.conn.as_mut().ok_or_else(lost)?.execute(begin).await?;
        let (done, _) = watch::channel(None);
        state.group = Some(Group { members: 0, requests: 0, done });
        Ok(())
    }

    async fn roll_back_savepoint(&self, state: &mut WriterState, head: Option<ChainHead>) {
        let Some(conn) = state.conn.as_mut() else { return };
        let undone = async {
            conn.execute(ROLLBACK_TO).await?;
            conn.execute(RELEASE).await?;
            Ok::<(), sqlx::Error>(())
        }
        .await;
        match undone {
            Ok(()) => {
                if head.is_some() {
                    state.chain = head;
                }
            }
            Err(error) => self.fail_group(state, error.to_string()),
        }
    }

    /// After a member left without committing: commit the group if it has members and nobody
    /// else will; close an empty one nobody is about to join.
    async fn after_member(&self, mut guard: OwnedMutexGuard<WriterState>) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            return;
        }
        let Some(group) = guard.group.as_ref() else { return };
        if group.members > 0 {
            // Members are queued behind this one and will find the outcome.
            let _ = self.commit_group(&mut guard).await;
        } else if let Some(conn) = guard.conn.as_mut() {
            match conn.execute("ROLLBACK").await {
                Ok(_) => {
                    if let Some(group) = guard.group.take() {
                        let _ = group.done.send(Some(Ok(())));
                    }
                }
                Err(error) => self.fail_group(&mut guard, error.to_string()),
            }
        }
    }

    /// Writes the queued audit records, commits the group and tells its members.
    async fn commit_group(&self, state: &mut WriterState) -> Result<(), JournalError> {
        if state.group.is_none() {
            return Ok(());
        }
        let queued = std::mem::take(&mut *self.queued.lock().expect("audit queue"));
        let committed = async {
            let (conn, chain) = conn_and_chain(state)?;
            for entry in &queued {
                audit::insert(conn, chain, &self.audit, entry).await?;
            }
            conn.execute("COMMIT").await?;
            Ok::<(), JournalError>(())
        }
        .await;
        match committed {
            Ok(()) => {
                self.fsyncs.fetch_add(1, Ordering::Relaxed);
                if let Some(chain) = &state.chain {
                    self.committed_heads.lock().expect("heads").insert(chain.chain, (chain.seq, chain.mac.clone()));
                }
                let group = state.group.take().expect("checked above");
                if group.requests > 0 {
                    let commits = self.group_commits.fetch_add(1, Ordering::SeqCst) + 1;
                    if self.abort_after.is_some_and(|after| commits >= after) {
                        // The fault the crash test injects: durable, but nobody answered.
                        std::process::abort();
                    }
                }
                let _ = group.done.send(Some(Ok(())));
                Ok(())
            }
            Err(error) => {
                let message = error.to_string();
                tracing::error!(error = %message, records = queued.len(), "group commit failed");
                self.fail_group(state, message.clone());
                Err(JournalError::Group(message))
            }
        }
    }

    /// Ends the group with `message` for every member and drops the connection (the database
    /// rolls back whatever it had open); the next transaction connects afresh.
    fn fail_group(&self, state: &mut WriterState, message: String) {
        if let Some(group) = state.group.take() {
            let _ = group.done.send(Some(Err(message)));
        }
        state.conn = None;
        state.chain = None;
    }

    /// Queues an audit record for the next group.
    pub(crate) fn queue(&self, entry: AuditEntry) {
        self.queued.lock().expect("audit queue").push(entry);
    }

    /// Writes every queued audit record now, durably.
    pub(crate) async fn flush(self: &Arc<Writer>) -> Result<(), JournalError> {
        let tx = self.begin().await?;
        tx.commit_quietly().await
    }

    /// Appends the committed heads not yet anchored to the anchor file (and the log).
    pub(crate) fn anchor(&self, anchored: &mut BTreeMap<i64, i64>) -> Result<(), JournalError> {
        let heads = self.committed_heads.lock().expect("heads").clone();
        let fresh: Vec<(i64, i64, String)> = heads
            .into_iter()
            .filter(|(chain, (seq, _))| *seq > 0 && anchored.get(chain) != Some(seq))
            .map(|(chain, (seq, mac))| (chain, seq, mac))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        audit::write_anchors(&self.audit.anchor_file, &fresh)?;
        for (chain, seq, _) in fresh {
            anchored.insert(chain, seq);
        }
        Ok(())
    }

    pub(crate) async fn close(self: &Arc<Writer>, anchored: &mut BTreeMap<i64, i64>) {
        if let Err(error) = self.flush().await {
            tracing::error!(%error, "the last audit records could not be written");
        }
        if let Err(error) = self.anchor(anchored) {
            tracing::error!(%error, "the audit head could not be anchored");
        }
        let mut state = self.state.lock().await;
        if let Some(conn) = state.conn.take() {
            let _ = conn.close().await;
        }
        state.chain = None;
    }

    fn queue_len(&self) -> usize {
        self.queued.lock().expect("audit queue").len()
    }
}

impl WriteTx {
    /// Commits without writing a change record (the flusher's empty transaction).
    async fn commit_quietly(mut self) -> Result<(), JournalError> {
        self.scope = None;
        self.commit().await
    }
}

/// The PostgreSQL channel the nodes notify each other on; the payload is the topic.
pub const NOTIFY_CHANNEL: &str = "pos_gateway";
/// How long the listener waits before connecting again after losing its connection.
pub const LISTEN_RETRY_MS: u64 = 1_000;

/// Wakes this node's long polls on the other nodes' (and its own) notifications.
async fn listener(writer: Weak<Writer>, url: String) {
    loop {
        let connected = async {
            let mut listener = sqlx::postgres::PgListener::connect(&url).await?;
            listener.listen(NOTIFY_CHANNEL).await?;
            loop {
                let notification = listener.recv().await?;
                let Some(writer) = writer.upgrade() else { return Ok::<(), sqlx::Error>(()) };
                writer.wake(&[notification.payload().to_string()]);
            }
        }
        .await;
        if writer.strong_count() == 0 {
            return;
        }
        if let Err(error) = connected {
            tracing::warn!(%error, "the journal's notification listener lost its connection; long polls fall back to re-checking");
        }
        tokio::time::sleep(Duration::from_millis(LISTEN_RETRY_MS)).await;
    }
}

/// Writes queued audit records when no write carries them, and anchors the heads.
async fn flusher(writer: Weak<Writer>) {
    let mut anchored = BTreeMap::new();
    let mut anchor_due = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(AUDIT_FLUSH_MS)).await;
        let Some(writer) = writer.upgrade() else { return };
        if writer.queue_len() > 0 {
            if let Err(error) = writer.flush().await {
                tracing::error!(%error, "queued audit records could not be written");
                metrics::counter!("audit_write_failures_total").increment(1);
            }
        }
        if tokio::time::Instant::now() >= anchor_due {
            if let Err(error) = writer.anchor(&mut anchored) {
                tracing::error!(%error, "the audit head could not be anchored");
            }
            anchor_due = tokio::time::Instant::now() + writer.audit.anchor_interval;
        }
    }
}
