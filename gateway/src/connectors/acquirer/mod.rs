//! The ISO 8583 link to a card acquirer or the e-money centre (PROTOCOLS.md §1): one persistent,
//! multiplexed TLS client per acquirer, its own trace numbers (reserved in blocks from the
//! journal, so several gateway nodes never share one) and transmission times, the messages in
//! [`messages`], e-money's own ways in [`emoney`].

pub mod emoney;
pub mod messages;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use iso8583::client::{Client, ClientError, ClientSettings};
use iso8583::Message;

pub use messages::{AuthorizationOutcome, ReversalAnswer};

use crate::journal::reversals::OriginalRequest;
use crate::journal::{Journal, JournalError};

/// How long one connection attempt to an acquirer may take.
pub const CONNECT_TIMEOUT_MS: u64 = 3_000;
/// Trace numbers a node reserves from the journal at a time.
pub const STAN_BLOCK_SIZE: u32 = 64;

#[derive(Debug, thiserror::Error)]
#[error("acquirer {acquirer}: {source}")]
pub struct LinkError {
    pub acquirer: String,
    pub source: pos_tls::TlsError,
}

/// What the payments module asks of an acquirer that authorizes cards or e-money.
pub trait CardAcquirer: Send + Sync {
    fn id(&self) -> &str;
    /// Our institution id at the acquirer (field 90 of reversals).
    fn institution_id(&self) -> u64;
    /// How long a request may wait for its answer.
    fn request_timeout_ms(&self) -> u64;
    /// How often a reversal is sent before the payment is left to treasury, and the first wait
    /// between tries (doubled each time).
    fn reversal_tries_max(&self) -> u32;
    fn reversal_backoff_ms(&self) -> u64;
    /// A trace number for the next request (journaled with it before it is sent).
    fn next_stan(&self) -> BoxFuture<'_, Result<String, JournalError>>;
    /// The transmission time of a request sent now.
    fn transmission_time(&self, now: DateTime<Utc>) -> String {
        messages::transmission_time(now)
    }
    /// Sends a purchase (the terminal's request, re-addressed) and reads the answer.
    fn authorize<'a>(&'a self, outbound: &'a Message) -> BoxFuture<'a, AuthorizationOutcome>;
    /// Sends a refund against an earlier payment.
    fn refund<'a>(&'a self, outbound: &'a Message) -> BoxFuture<'a, AuthorizationOutcome>;
    /// Sends the reversal of `original` with a fresh trace number; `repeat` makes it a 0401.
    fn reverse<'a>(
        &'a self,
        original: &'a OriginalRequest,
        repeat: bool,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, ReversalAnswer>;
    /// The endpoint (`host:port`) the link is connected to now, `None` while it is down.
    fn endpoint(&self) -> Option<String>;
    /// Whether the link is up now (readiness, metrics).
    fn is_connected(&self) -> bool {
        self.endpoint().is_some()
    }
    /// Waits until the link is up, or the deadline passes.
    fn wait_connected(&self, deadline: Duration) -> BoxFuture<'_, bool>;
    /// Answers that came for no request any more (late, duplicated), since the link started.
    fn late_answers(&self) -> u64;
    fn shutdown(&self);
}

/// A block of trace numbers reserved for this node.
struct StanBlock {
    next: u32,
    end: u32,
}

/// The ISO 8583 connector of one acquirer.
pub struct Iso8583Acquirer {
    id: String,
    link: pos_config::AcquirerLink,
    client: Client,
    journal: Journal,
    stans: tokio::sync::Mutex<StanBlock>,
    late: Mutex<u64>,
}

impl Iso8583Acquirer {
    /// Starts the link's connection task (it connects and reconnects in the background).
    pub fn start(id: &str, link: &pos_config::AcquirerLink, journal: Journal) -> Result<Iso8583Acquirer, LinkError> {
        let identity = link.client_identity.as_ref().map(|(cert, key)| (cert.as_path(), key.as_path()));
        let tls = pos_tls::client_config(&link.ca_file, identity)
            .map_err(|source| LinkError { acquirer: id.to_string(), source })?;
        let client = Client::start(ClientSettings {
            endpoints: link.endpoints.clone(),
            server_name: link.server_name.clone(),
            tls,
            in_flight_max: link.in_flight_max,
            connect_timeout_ms: CONNECT_TIMEOUT_MS,
            echo_interval_ms: link.echo_interval_ms,
            reconnect_backoff_ms_max: link.reconnect_backoff_ms_max,
        });
        Ok(Iso8583Acquirer {
            id: id.to_string(),
            link: link.clone(),
            client,
            journal,
            stans: tokio::sync::Mutex::new(StanBlock { next: 0, end: 0 }),
            late: Mutex::new(0),
        })
    }

    /// The underlying client (tests watch its late answers and endpoint).
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn request(&self, outbound: &Message) -> Result<Message, ClientError> {
        let started = Instant::now();
        let result = self.client.request(outbound, Duration::from_millis(self.link.request_timeout_ms)).await;
        metrics::histogram!("acquirer_latency_seconds", "acquirer" => self.id.clone()).record(started.elapsed());
        let late = self.client.late_answers();
        let mut seen = self.late.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if late > *seen {
            metrics::counter!("acquirer_late_outcomes_total", "acquirer" => self.id.clone()).increment(late - *seen);
            *seen = late;
        }
        result
    }
}

impl CardAcquirer for Iso8583Acquirer {
    fn id(&self) -> &str {
        &self.id
    }

    fn institution_id(&self) -> u64 {
        self.link.institution_id
    }

    fn request_timeout_ms(&self) -> u64 {
        self.link.request_timeout_ms
    }

    fn reversal_tries_max(&self) -> u32 {
        self.link.reversal_tries_max
    }

    fn reversal_backoff_ms(&self) -> u64 {
        self.link.reversal_backoff_ms
    }

    fn next_stan(&self) -> BoxFuture<'_, Result<String, JournalError>> {
        Box::pin(async move {
            let mut block = self.stans.lock().await;
            if block.next >= block.end {
                let first = crate::journal::payments::reserve_stans(&self.journal, &self.id, STAN_BLOCK_SIZE).await?;
                *block = StanBlock { next: first, end: first + STAN_BLOCK_SIZE };
            }
            let stan = block.next;
            block.next += 1;
            Ok(format!("{stan:06}"))
        })
    }

    fn authorize<'a>(&'a self, outbound: &'a Message) -> BoxFuture<'a, AuthorizationOutcome> {
        Box::pin(async move { messages::read_financial_answer(self.request(outbound).await) })
    }

    fn refund<'a>(&'a self, outbound: &'a Message) -> BoxFuture<'a, AuthorizationOutcome> {
        Box::pin(async move { messages::read_financial_answer(self.request(outbound).await) })
    }

    fn reverse<'a>(
        &'a self,
        original: &'a OriginalRequest,
        repeat: bool,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, ReversalAnswer> {
        Box::pin(async move {
            let stan = match self.next_stan().await {
                Ok(stan) => stan,
                Err(error) => return ReversalAnswer::NoAnswer(format!("no trace number: {error}")),
            };
            let message =
                messages::reversal(original, &stan, &self.transmission_time(now), self.link.institution_id, repeat);
            messages::read_reversal_answer(self.request(&message).await)
        })
    }

    fn endpoint(&self) -> Option<String> {
        self.client.endpoint()
    }

    fn wait_connected(&self, deadline: Duration) -> BoxFuture<'_, bool> {
        Box::pin(self.client.wait_connected(deadline))
    }

    fn late_answers(&self) -> u64 {
        self.client.late_answers()
    }

    fn shutdown(&self) {
        self.client.shutdown();
    }
}
