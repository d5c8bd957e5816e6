//! The payment gateway: the one source of truth the counters, devices and treasury talk to.
//!
//! It serves the HTTP API under `/v1` (shifts, sales, payments, voids; authenticated, scoped by
//! role, every call audited in a hash-chained log) and `/metrics`, and keeps the durable journal
//! ([`journal`]) on SQLite or PostgreSQL. Every state change is committed before the side effect
//! it allows, and every money-moving request carries an idempotency key, so a crash or a repeated
//! request never loses or doubles a payment. [`run`] serves a listener until a shutdown future
//! completes; the `gateway` binary is thin glue around it. (The demo day, the benchmark
//! and the simulators live in crates of their own: the gateway a city deploys links none of them.)

pub mod access;
pub mod analytics;
pub mod api;
pub mod connectors;
pub mod health;
pub mod http_server;
pub mod journal;
pub mod metrics;
pub mod monitor;
pub mod opendata;
pub mod payments;
pub mod refusal;
pub mod terminal_host;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use pos_config::Config;
use pos_core::Clock;
use tokio::net::TcpListener;

use crate::journal::{Journal, JournalError};

/// Everything a request handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub journal: Journal,
    pub clock: Arc<dyn Clock>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// The outside parties: acquirer links and QR providers.
    pub connectors: Arc<connectors::Connectors>,
    /// What the payments module is busy with in this process.
    pub work: Arc<payments::Work>,
    /// Failed authentication per source, register and user (see [`api::throttle`]).
    pub throttle: Arc<api::throttle::AuthThrottle>,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error("cannot serve HTTP: {0}")]
    Serve(#[from] std::io::Error),
    #[error("connector: {0}")]
    Connector(#[from] connectors::ConnectorError),
}

impl AppState {
    /// Connects the journal (running migrations) and prepares the state.
    pub async fn start(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, GatewayError> {
        let journal = Journal::connect(&config.database).await?;
        let connectors = Arc::new(connectors::Connectors::start(&config, &journal)?);
        Ok(AppState {
            throttle: Arc::new(api::throttle::AuthThrottle::new(config.server.auth_throttle.clone())),
            config: Arc::new(config),
            journal,
            clock,
            metrics: crate::metrics::handle(),
            connectors,
            work: Arc::new(payments::Work::default()),
        })
    }
}

/// Serves the API on `listener` until `shutdown` completes, then lets requests in flight finish.
/// The payments worker (reversals, sweeps) runs for as long.
pub async fn run(
    listener: TcpListener,
    app: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    run_with_terminals(listener, None, app, shutdown).await
}

/// The API's own TLS of `[server.tls]`, if configured, reloaded from its files on `SIGHUP`.
fn api_tls(config: &Config) -> std::io::Result<Option<Arc<http_server::ReloadableTls>>> {
    let Some(settings) = config.server.tls.clone() else { return Ok(None) };
    let tls = Arc::new(http_server::ReloadableTls::new(load_api_tls(&settings)?));
    #[cfg(unix)]
    {
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let reloaded = Arc::downgrade(&tls);
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let Some(tls) = reloaded.upgrade() else { break };
                match load_api_tls(&settings) {
                    Ok(config) => {
                        tls.replace(config);
                        tracing::info!("API certificate reloaded");
                    }
                    Err(error) => tracing::error!(%error, "API certificate not reloaded: the previous one stays"),
                }
            }
        });
    }
    Ok(Some(tls))
}

fn load_api_tls(settings: &pos_config::ServerTls) -> std::io::Result<Arc<rustls::ServerConfig>> {
    pos_tls::server_config_files(
        &settings.cert_file,
        &settings.key_file,
        settings.client_ca_file.as_deref(),
        &[],
        pos_tls::ClientAuth::Optional,
    )
    .map_err(|error| std::io::Error::other(format!("API TLS ([server.tls]): {error}")))
}

/// As [`run`], with a terminal host listener and its TLS configuration.
pub async fn run_with_terminals(
    listener: TcpListener,
    terminals: Option<(TcpListener, Arc<rustls::ServerConfig>)>,
    app: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let router = api::router(app.clone());
    // No reconciliation run survives the process that ran it: one left running is failed now,
    // and can be started again.
    if let Err(error) = api::treasury::fail_unfinished_runs(&app).await {
        tracing::error!(error = %error.message, "cannot mark unfinished reconciliation runs failed");
    }
    tracing::info!(address = %listener.local_addr()?, backend = ?app.journal.backend(), "gateway serving");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(payments::recovery::run(app.clone(), stopped.clone()));
    let monitor = tokio::spawn(monitor::run(app.clone(), stopped.clone()));
    let refusals = tokio::spawn(api::throttle::run(app.clone(), stopped.clone()));
    let host = terminals
        .map(|(listener, tls)| tokio::spawn(terminal_host::serve(listener, tls, app.clone(), stopped.clone())));
    let served = match api_tls(&app.config) {
        Ok(tls) => http_server::serve(listener, router, app.config.server.limits.clone(), tls, shutdown).await,
        Err(error) => Err(error),
    };
    let _ = stop.send(true);
    let _ = worker.await;
    let _ = monitor.await;
    let _ = refusals.await;
    if let Some(host) = host {
        let _ = host.await;
    }
    app.connectors.shutdown();
    app.journal.close().await;
    served?;
    Ok(())
}
