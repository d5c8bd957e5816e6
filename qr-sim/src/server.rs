//! Sockets and tasks: [`start`] serves the router on a bound listener (plain HTTP, or HTTPS with
//! a rustls `ServerConfig`) and returns the [`QrSimHandle`] that tests and the demo drive.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use pos_core::{Clock, SystemClock};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::api::{self, lock, AppState, Received};
use crate::config::QrSimConfig;
use crate::error::QrSimError;
use crate::fault::{FaultPlan, FAULT_PLANS_MAX};
use crate::ledger::{PayRefusal, PaymentRecord, RefundRecord};
use crate::settlement;

/// How long a TLS handshake may take before the connection is dropped.
pub const TLS_HANDSHAKE_MS_MAX: u64 = 5_000;

/// How the simulator is started besides its configuration.
pub struct StartOptions {
    /// Where "now" comes from: code expiry, the cancel window, epoch checks, settlement dates.
    pub clock: Arc<dyn Clock>,
    /// Serve HTTPS with this configuration instead of plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for StartOptions {
    fn default() -> StartOptions {
        StartOptions { clock: Arc::new(SystemClock), tls: None }
    }
}

/// Starts a simulator on `listener` with the system clock and plain HTTP.
pub async fn start(listener: TcpListener, config: QrSimConfig) -> Result<QrSimHandle, QrSimError> {
    start_with(listener, config, StartOptions::default()).await
}

/// Starts a simulator serving the provider's API only.
pub async fn start_with(
    listener: TcpListener,
    config: QrSimConfig,
    options: StartOptions,
) -> Result<QrSimHandle, QrSimError> {
    serve(listener, config, options, false).await
}

/// Starts a simulator serving, besides the provider's API, its controls ([`crate::control`]):
/// the customer page at each code's URL — so `payment_url_base` must point at this simulator —
/// and the control endpoints under [`crate::control::CONTROL_PREFIX`].
pub async fn start_with_control(
    listener: TcpListener,
    config: QrSimConfig,
    options: StartOptions,
) -> Result<QrSimHandle, QrSimError> {
    serve(listener, config, options, true).await
}

async fn serve(
    listener: TcpListener,
    config: QrSimConfig,
    options: StartOptions,
    control: bool,
) -> Result<QrSimHandle, QrSimError> {
    config.validate()?;
    let page_path = if control { Some(config.payment_page_path()?) } else { None };
    let address = listener.local_addr().map_err(QrSimError::Listener)?;
    let shutdown = CancellationToken::new();
    let state = Arc::new(AppState::new(config, options.clock, shutdown.clone()));
    let mut routes = api::routes();
    if let Some(page_path) = &page_path {
        routes = routes.merge(crate::control::routes(page_path));
    }
    let app = api::with_fallbacks(routes).with_state(state.clone());
    let stop = shutdown.clone();
    let task = match options.tls {
        None => tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()).await;
            if let Err(error) = served {
                tracing::error!(%error, "qr-sim stopped");
            }
        }),
        Some(tls) => tokio::spawn(async move {
            let listener = TlsListener { listener, acceptor: TlsAcceptor::from(tls) };
            let served = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()).await;
            if let Err(error) = served {
                tracing::error!(%error, "qr-sim stopped");
            }
        }),
    };
    Ok(QrSimHandle { inner: Arc::new(Inner { address, state, shutdown, task: Mutex::new(Some(task)) }) })
}

/// Accepts TCP connections and completes their TLS handshake before handing them to axum.
struct TlsListener {
    listener: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let handshake = self.acceptor.accept(stream);
            match tokio::time::timeout(Duration::from_millis(TLS_HANDSHAKE_MS_MAX), handshake).await {
                Ok(Ok(stream)) => return (stream, peer),
                Ok(Err(error)) => tracing::debug!(%error, %peer, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

struct Inner {
    address: SocketAddr,
    state: Arc<AppState>,
    shutdown: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// Drives a running simulator. Cheap to clone; every method but [`QrSimHandle::shutdown`] is
/// synchronous (it only takes a lock), so it may be called from blocking test code.
#[derive(Clone)]
pub struct QrSimHandle {
    inner: Arc<Inner>,
}

impl QrSimHandle {
    pub fn address(&self) -> SocketAddr {
        self.inner.address
    }

    /// `http://127.0.0.1:PORT` (or `https://` when serving TLS is the caller's knowledge).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.address)
    }

    pub fn config(&self) -> &QrSimConfig {
        &self.inner.state.config
    }

    /// A customer scans the code of `merchant_payment_id` and pays. Fails if no merchant or
    /// several merchants have that id, or if the code is no longer `CREATED` (expired,
    /// withdrawn, already paid).
    pub fn pay(&self, merchant_payment_id: &str) -> Result<PaymentRecord, QrSimError> {
        let now = self.inner.state.clock.now();
        let mut ledger = lock(&self.inner.state.ledger);
        let index = match ledger.indexes_of(merchant_payment_id).as_slice() {
            [] => return Err(QrSimError::UnknownPayment(merchant_payment_id.to_string())),
            [only] => *only,
            _ => return Err(QrSimError::AmbiguousPayment(merchant_payment_id.to_string())),
        };
        ledger.pay(index, now).map_err(|refusal| refused(merchant_payment_id, refusal))
    }

    /// A customer declines the code `code_id`: the payment reads `FAILED`, nothing is charged.
    pub fn decline_code(&self, code_id: &str) -> Result<PaymentRecord, QrSimError> {
        let now = self.inner.state.clock.now();
        let mut ledger = lock(&self.inner.state.ledger);
        let index = ledger.index_of_code(code_id).ok_or_else(|| QrSimError::UnknownCode(code_id.to_string()))?;
        ledger.decline(index, now).map_err(|refusal| refused(code_id, refusal))
    }

    /// A customer pays the code `code_id` (what the displayed QR code's URL ends with).
    pub fn pay_code(&self, code_id: &str) -> Result<PaymentRecord, QrSimError> {
        let now = self.inner.state.clock.now();
        let mut ledger = lock(&self.inner.state.ledger);
        let index = ledger.index_of_code(code_id).ok_or_else(|| QrSimError::UnknownCode(code_id.to_string()))?;
        ledger.pay(index, now).map_err(|refusal| refused(code_id, refusal))
    }

    /// Replaces the fault plans (at most [`FAULT_PLANS_MAX`]; the rest are dropped).
    pub fn set_faults(&self, mut plans: Vec<FaultPlan>) {
        plans.truncate(FAULT_PLANS_MAX);
        *lock(&self.inner.state.faults) = plans;
    }

    /// The fault plans with their remaining counts.
    pub fn faults(&self) -> Vec<FaultPlan> {
        lock(&self.inner.state.faults).clone()
    }

    /// Every payment (both flows), expiry applied at the clock's now.
    pub fn payments(&self) -> Vec<PaymentRecord> {
        let now = self.inner.state.clock.now();
        lock(&self.inner.state.ledger).payments(now)
    }

    pub fn refunds(&self) -> Vec<RefundRecord> {
        lock(&self.inner.state.ledger).refunds()
    }

    /// The requests received (newest last), with the result code each got.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.inner.state.received).iter().cloned().collect()
    }

    /// The settlement file's bytes for a JST date, as the ledger stands.
    pub fn render_settlement(&self, date: NaiveDate) -> Result<Vec<u8>, QrSimError> {
        let payments = self.payments();
        settlement::render(&self.inner.state.config, &payments, &self.refunds(), date)
    }

    /// Writes `qr-settlement-YYYYMMDD.csv` for `date` into `dir`.
    pub fn write_settlement(&self, date: NaiveDate, dir: &Path) -> Result<PathBuf, QrSimError> {
        let payments = self.payments();
        settlement::write(&self.inner.state.config, &payments, &self.refunds(), date, dir)
    }

    /// Stops accepting, answers held-back requests with 503, and waits for the server task.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        let task = lock(&self.inner.task).take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::error!(%error, "qr-sim task failed");
            }
        }
    }
}

fn refused(what: &str, refusal: PayRefusal) -> QrSimError {
    match refusal {
        PayRefusal::Unknown => QrSimError::UnknownPayment(what.to_string()),
        PayRefusal::NotPayable(status) => {
            QrSimError::NotPayable { merchant_payment_id: what.to_string(), status: status.to_string() }
        }
    }
}
