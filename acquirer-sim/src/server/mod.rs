//! The server: the accept loop, the shared books, and the handle tests and the binary hold.
//!
//! Shutdown is a cancellation token that every task watches (accept loop, connections, delayed
//! answers), and a task tracker that [`SimulatorHandle::shutdown`] waits on, so when it returns
//! nothing of the simulator runs any more and the port is closed.

mod connection;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate};
use pos_core::Clock;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::config::{Centre, FeeTerm, SimulatorConfig, StartOptions};
use crate::error::SimError;
use crate::fault::{FaultBook, FaultPlan};
use crate::ledger::{Ledger, LedgerEntry, Received};
use crate::settlement;

/// Connections served at once; one more is closed as soon as it is accepted.
pub const CONNECTIONS_MAX: usize = 256;
/// The largest request frame accepted. Messages of PROTOCOLS.md §1 are a few hundred bytes; the
/// protocol's own ceiling (65,535) would let one client pin 64 KiB per frame for nothing.
pub const REQUEST_FRAME_BYTES_MAX: usize = 16_384;
/// Answers held back by a delay fault on one connection; when all are taken, the connection
/// reads no further request until one is sent.
pub const IN_FLIGHT_PER_CONNECTION_MAX: usize = 64;
/// A client that has not finished its TLS handshake by then is dropped.
pub const TLS_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
/// A connection with no traffic for this long is closed (clients send echoes well before).
pub const CONNECTION_IDLE_MS_MAX: u64 = 600_000;
/// Pause after a failed accept (out of file descriptors, say), so the loop does not spin.
pub const ACCEPT_ERROR_BACKOFF_MS: u64 = 100;

/// The books and the fault plans, behind one lock so a request is booked, its fault chosen and
/// its receipt recorded in one step.
pub(crate) struct State {
    pub ledger: Ledger,
    pub faults: FaultBook,
}

pub(crate) struct Shared {
    pub centre: Centre,
    pub name: String,
    pub fees: Vec<FeeTerm>,
    pub payout_lag_days: u32,
    pub clock: Arc<dyn Clock>,
    pub state: Mutex<State>,
    pub accepting: watch::Sender<bool>,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    pub address: SocketAddr,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a task panicked while holding it; the books stay usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn now(&self) -> DateTime<FixedOffset> {
        self.clock.now().with_timezone(&pos_core::time::jst())
    }
}

/// A running simulator. Cheap to clone: every clone controls the same simulator. Dropping the
/// handles does not stop it; [`SimulatorHandle::shutdown`] does.
#[derive(Clone)]
pub struct SimulatorHandle {
    shared: Arc<Shared>,
}

/// Starts a simulator on `listener` with the system clock and the centre's default RRN node.
pub async fn start(listener: TcpListener, config: SimulatorConfig) -> SimulatorHandle {
    let options = StartOptions::new(config.centre);
    start_with(listener, config, options).await
}

/// Starts a simulator with an injected clock and RRN node.
pub async fn start_with(listener: TcpListener, config: SimulatorConfig, options: StartOptions) -> SimulatorHandle {
    let address = listener.local_addr().unwrap_or_else(|error| {
        tracing::error!(%error, "listener has no local address");
        SocketAddr::from(([0, 0, 0, 0], 0))
    });
    let (accepting, _) = watch::channel(true);
    let shared = Arc::new(Shared {
        centre: config.centre,
        name: config.name,
        fees: config.fees,
        payout_lag_days: config.payout_lag_days,
        clock: options.clock,
        state: Mutex::new(State { ledger: Ledger::new(options.rrn_node), faults: FaultBook::default() }),
        accepting,
        shutdown: CancellationToken::new(),
        tracker: TaskTracker::new(),
        address,
    });
    let span = tracing::info_span!("acquirer_sim", name = %shared.name, centre = %shared.centre);
    let acceptor = TlsAcceptor::from(config.tls);
    shared.tracker.spawn(accept_loop(shared.clone(), listener, acceptor).instrument(span));
    tracing::info!(name = %shared.name, centre = %shared.centre, %address, "simulator listening");
    SimulatorHandle { shared }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, acceptor: TlsAcceptor) {
    let connections = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::select! {
                    _ = shared.shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_BACKOFF_MS)) => continue,
                }
            }
        };
        if !*shared.accepting.borrow() {
            // Closed before the TLS handshake: to the client, the endpoint is down.
            tracing::info!(%peer, "not accepting: connection closed");
            continue;
        }
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!(%peer, limit = CONNECTIONS_MAX, "too many connections: connection closed");
            continue;
        };
        let connection_shared = shared.clone();
        let acceptor = acceptor.clone();
        shared.tracker.spawn(
            async move {
                connection::serve(connection_shared, acceptor, tcp, peer).await;
                drop(permit);
            }
            .in_current_span(),
        );
    }
    tracing::info!("accept loop stopped");
}

impl SimulatorHandle {
    pub fn address(&self) -> SocketAddr {
        self.shared.address
    }

    pub fn centre(&self) -> Centre {
        self.shared.centre
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Replaces the fault plans (at most [`crate::fault::FAULT_PLANS_MAX`]; an empty list
    /// stops injecting faults).
    pub fn set_faults(&self, plans: Vec<FaultPlan>) {
        self.shared.state().faults.replace(plans);
    }

    /// Every financial transaction booked, in booking order, with its current state.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.shared.state().ledger.entries().to_vec()
    }

    /// Every message received (the most recent [`crate::ledger::RECEIVED_ENTRIES_MAX`]), in
    /// order of receipt, with what was done with it.
    pub fn received(&self) -> Vec<Received> {
        self.shared.state().ledger.received()
    }

    /// `false`: new connections are closed as soon as they are accepted (before TLS) and the
    /// open ones are closed; `true`: serving again.
    pub fn set_accepting(&self, accepting: bool) {
        self.shared.accepting.send_replace(accepting);
    }

    /// Stops accepting, closes every connection, drops answers still held back by faults, and
    /// returns once every task of the simulator has ended (the port is then closed).
    pub async fn shutdown(self) {
        self.shared.shutdown.cancel();
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
        tracing::info!(name = %self.shared.name, "simulator stopped");
    }

    /// Writes the settlement file of transaction date `date` (JST) into `dir`: §4.1 for the
    /// card acquirer, §4.3 for the e-money centre. Returns the file's path.
    pub fn write_settlement(&self, date: NaiveDate, dir: &Path) -> Result<PathBuf, SimError> {
        let entries = self.ledger();
        let shared = &self.shared;
        settlement::write(shared.centre, &entries, date, &shared.fees, shared.payout_lag_days, dir)
    }

    /// [`SimulatorHandle::write_settlement`] with planted mistakes: transactions left out, fees
    /// off the contract ([`settlement::SettlementFaults`]).
    pub fn write_settlement_with(
        &self,
        date: NaiveDate,
        dir: &Path,
        faults: &settlement::SettlementFaults,
    ) -> Result<PathBuf, SimError> {
        let entries = self.ledger();
        let shared = &self.shared;
        settlement::write_with(shared.centre, &entries, date, &shared.fees, shared.payout_lag_days, dir, faults)
    }
}
