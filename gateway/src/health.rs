//! Liveness and readiness, as load balancers and service managers ask for them.
//!
//! Liveness (`/healthz`) is the process answering HTTP: nothing is checked, nothing is read.
//! Readiness (`/readyz`) checks what a node needs to serve: the journal answers and holds every
//! migration this binary knows (newer ones, from a newer node in a rolling upgrade, are fine); each
//! acquirer link is connected; each QR provider's address accepts a TCP connection.
//!
//! Only the journal decides whether a node is *ready*: without it nothing can be served, and the
//! balancer should send the counters elsewhere (`503`). A link down makes the node *degraded*,
//! still `200`: cash, shifts and treasury go on, every node usually shares the same acquirer, and
//! taking all nodes out of the balancer because an acquirer is down would stop the counters
//! altogether. Links down are for the alerts (`deploy/prometheus/alerts.yml`) and the operators.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::journal::SchemaState;
use crate::AppState;

/// How long one check may take before it counts as failed (a journal that does not answer, a QR
/// provider whose address does not accept a connection).
pub const CHECK_TIMEOUT_MS: u64 = 2_000;

/// A node's readiness, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// The journal is unreachable or lacks migrations this binary needs: send no traffic here.
    Unready,
    /// Serving, but an acquirer or QR provider cannot be reached.
    Degraded,
    Ready,
}

/// What anyone may read: the verdict alone (nothing else, which its schema says).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadinessSummary {
    pub status: Readiness,
}

/// What admin, treasury and metrics users read: the verdict and every check behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReadinessReport {
    pub status: Readiness,
    /// The binary's version and commit (`--version`).
    pub version: String,
    pub journal: JournalCheck,
    pub acquirer_links: Vec<LinkCheck>,
    pub qr_links: Vec<QrCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JournalCheck {
    /// `sqlite` or `postgres`.
    pub backend: String,
    pub reachable: bool,
    /// Absent when the journal could not be read.
    pub schema: Option<SchemaState>,
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LinkCheck {
    pub acquirer: String,
    pub connected: bool,
    /// The endpoint in use (`host:port`), when connected.
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QrCheck {
    pub acquirer: String,
    pub base_url: String,
    pub reachable: bool,
    pub problem: Option<String>,
}

/// Runs every check (the QR providers concurrently, each bounded by [`CHECK_TIMEOUT_MS`]).
pub async fn readiness(app: &AppState) -> ReadinessReport {
    let journal = check_journal(app).await;
    let acquirer_links: Vec<LinkCheck> = app
        .config
        .acquirers
        .iter()
        .filter(|acquirer| acquirer.link.is_some())
        .map(|acquirer| {
            let endpoint = app.connectors.acquirer(&acquirer.id).and_then(|link| link.endpoint());
            LinkCheck { acquirer: acquirer.id.clone(), connected: endpoint.is_some(), endpoint }
        })
        .collect();
    let qr_links = futures::future::join_all(app.config.acquirers.iter().filter_map(|acquirer| {
        let link = acquirer.qr_link.as_ref()?;
        Some(check_qr(acquirer.id.clone(), link.base_url.clone()))
    }))
    .await;
    let journal_usable = journal.reachable && journal.schema.as_ref().is_some_and(SchemaState::is_usable);
    let links_up = acquirer_links.iter().all(|l| l.connected) && qr_links.iter().all(|l| l.reachable);
    let status = match (journal_usable, links_up) {
        (false, _) => Readiness::Unready,
        (true, false) => Readiness::Degraded,
        (true, true) => Readiness::Ready,
    };
    ReadinessReport { status, version: pos_build_info::VERSION.to_string(), journal, acquirer_links, qr_links }
}

async fn check_journal(app: &AppState) -> JournalCheck {
    let backend = match app.journal.backend() {
        pos_config::Backend::Sqlite => "sqlite",
        pos_config::Backend::Postgres => "postgres",
    }
    .to_string();
    let bounded = tokio::time::timeout(Duration::from_millis(CHECK_TIMEOUT_MS), async {
        app.journal.ping().await?;
        app.journal.schema_state().await
    })
    .await;
    match bounded {
        Ok(Ok(schema)) => {
            let problem = (!schema.is_usable()).then(|| {
                format!(
                    "the journal lacks migrations this binary needs (missing {:?}, failed {:?})",
                    schema.missing, schema.failed
                )
            });
            JournalCheck { backend, reachable: true, schema: Some(schema), problem }
        }
        Ok(Err(error)) => JournalCheck { backend, reachable: false, schema: None, problem: Some(error.to_string()) },
        Err(_) => JournalCheck {
            backend,
            reachable: false,
            schema: None,
            problem: Some(format!("no answer within {CHECK_TIMEOUT_MS} ms")),
        },
    }
}

/// Whether the provider's host accepts a TCP connection. No request is sent: the provider's API has
/// no free call, and a signed one would spend a nonce and show in its logs every few seconds.
async fn check_qr(acquirer: String, base_url: String) -> QrCheck {
    let target = reqwest::Url::parse(&base_url)
        .ok()
        .and_then(|url| Some((url.host_str()?.to_string(), url.port_or_known_default()?)));
    let problem = match target {
        None => Some(format!("base_url {base_url:?} names no host and port")),
        Some((host, port)) => {
            let connect = tokio::net::TcpStream::connect((host.as_str(), port));
            match tokio::time::timeout(Duration::from_millis(CHECK_TIMEOUT_MS), connect).await {
                Ok(Ok(_)) => None,
                Ok(Err(error)) => Some(format!("{host}:{port}: {error}")),
                Err(_) => Some(format!("{host}:{port}: no connection within {CHECK_TIMEOUT_MS} ms")),
            }
        }
    };
    QrCheck { acquirer, base_url, reachable: problem.is_none(), problem }
}
