//! A persistent, multiplexed ISO 8583 client over TLS: many requests in flight on one
//! connection, answers matched to requests by STAN (field 11) and terminal id (field 41).
//!
//! One task owns the connection. It connects to the first endpoint that answers (primary first,
//! then the secondaries: failover), reconnects with exponential backoff when the link drops,
//! and sends an echo (0800/301) when the link has been idle, reconnecting if the echo goes
//! unanswered. The number of requests in flight is bounded. A request learns precisely how it
//! ended, because the caller's recovery depends on it: [`ClientError::NotSent`] means the
//! acquirer cannot have seen it; every other failure means it may have, and the outcome is in
//! doubt. Answers nobody waits for any more (late or duplicated) are counted and dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio_rustls::TlsConnector;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::framing::FrameCodec;
use crate::message::{Message, Mti};
use crate::{decode, encode, fields, Spec};

/// How a request ended without an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// Nothing reached the peer: safe to treat as not attempted.
    #[error("not sent: {0}")]
    NotSent(String),
    /// Sent, and no answer came by the deadline.
    #[error("no answer within {0} ms")]
    Timeout(u64),
    /// Sent, and the connection dropped (or the peer sent garbage) before the answer.
    #[error("connection lost after the request was sent: {0}")]
    Disconnected(String),
}

impl ClientError {
    /// Whether the peer may have acted on the request.
    pub fn is_in_doubt(&self) -> bool {
        !matches!(self, ClientError::NotSent(_))
    }
}

#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// `host:port`, primary first.
    pub endpoints: Vec<String>,
    /// The name the peer's certificate must carry.
    pub server_name: String,
    pub tls: Arc<rustls::ClientConfig>,
    pub in_flight_max: usize,
    pub connect_timeout_ms: u64,
    pub echo_interval_ms: u64,
    pub reconnect_backoff_ms_max: u64,
}

/// First wait before a reconnect; doubled on each failure up to the configured maximum.
pub const RECONNECT_BACKOFF_MS_MIN: u64 = 50;
/// Queue of frames waiting for the connection's writer.
const OUTBOUND_QUEUE_DEPTH: usize = 256;

type Key = (String, String);

struct Outbound {
    bytes: Vec<u8>,
    written: oneshot::Sender<bool>,
}

struct Shared {
    pending: Mutex<HashMap<Key, oneshot::Sender<Result<Message, ClientError>>>>,
    link: watch::Sender<Option<mpsc::Sender<Outbound>>>,
    permits: Semaphore,
    endpoint_in_use: Mutex<Option<String>>,
    late_answers: AtomicU64,
    echo_stan: AtomicU32,
}

/// The client. Cheap to clone; dropping the last clone does not stop the connection task, call
/// [`Client::shutdown`].
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

fn key_of(message: &Message) -> Key {
    (message.text(fields::STAN).unwrap_or("").to_string(), message.text(fields::TERMINAL_ID).unwrap_or("").to_string())
}

impl Client {
    /// Starts the connection task; requests wait for the first connection up to their deadline.
    pub fn start(settings: ClientSettings) -> Client {
        let (link, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            pending: Mutex::new(HashMap::new()),
            link,
            permits: Semaphore::new(settings.in_flight_max.max(1)),
            endpoint_in_use: Mutex::new(None),
            late_answers: AtomicU64::new(0),
            echo_stan: AtomicU32::new(0),
        });
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(run_connection(shared.clone(), settings, stopped));
        Client { shared, stop }
    }

    /// Sends a request and waits for its answer until `deadline` has passed.
    pub async fn request(&self, message: &Message, deadline: Duration) -> Result<Message, ClientError> {
        let deadline_ms = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX);
        let started = tokio::time::Instant::now();
        let until = started + deadline;
        let bytes =
            encode(message, Spec::default_1987()).map_err(|e| ClientError::NotSent(format!("cannot encode: {e}")))?;
        let _permit = tokio::time::timeout_at(until, self.shared.permits.acquire())
            .await
            .map_err(|_| ClientError::NotSent("too many requests in flight".to_string()))?
            .map_err(|_| ClientError::NotSent("client stopped".to_string()))?;
        let mut link_watch = self.shared.link.subscribe();
        let sender = match tokio::time::timeout_at(until, link_watch.wait_for(Option::is_some)).await {
            Ok(Ok(link)) => link.clone(),
            _ => None,
        };
        let sender = sender.ok_or_else(|| ClientError::NotSent("no connection to any endpoint".to_string()))?;

        let key = key_of(message);
        let (answer_tx, answer_rx) = oneshot::channel();
        {
            let mut pending = lock(&self.shared.pending);
            if pending.contains_key(&key) {
                return Err(ClientError::NotSent(format!(
                    "a request with STAN {} for terminal {:?} is already in flight",
                    key.0, key.1
                )));
            }
            pending.insert(key.clone(), answer_tx);
        }
        let (written_tx, written_rx) = oneshot::channel();
        // Handing the frame to the writer and its writing are bounded by the same deadline: a
        // writer stuck on a peer that stopped reading must not hold the caller past it.
        let handed = tokio::time::timeout_at(until, sender.send(Outbound { bytes, written: written_tx })).await;
        if !matches!(handed, Ok(Ok(()))) {
            lock(&self.shared.pending).remove(&key);
            return Err(ClientError::NotSent("connection closed or blocked before sending".to_string()));
        }
        match tokio::time::timeout_at(until, written_rx).await {
            Ok(Ok(true)) => {}
            // The writer refused or died before writing: nothing left this process.
            Ok(_) => {
                lock(&self.shared.pending).remove(&key);
                return Err(ClientError::NotSent("connection closed before sending".to_string()));
            }
            // Still queued at the writer when the deadline passed: whether it leaves later is not
            // known, so the caller must treat it as possibly sent.
            Err(_) => {
                lock(&self.shared.pending).remove(&key);
                return Err(ClientError::Timeout(deadline_ms));
            }
        }
        match tokio::time::timeout_at(until, answer_rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(ClientError::Disconnected("client stopped".to_string())),
            Err(_) => {
                lock(&self.shared.pending).remove(&key);
                Err(ClientError::Timeout(deadline_ms))
            }
        }
    }

    /// The endpoint currently connected, if any.
    pub fn endpoint(&self) -> Option<String> {
        lock(&self.shared.endpoint_in_use).clone()
    }

    /// Waits until a connection is up (or the deadline passes).
    pub async fn wait_connected(&self, deadline: Duration) -> bool {
        let mut link_watch = self.shared.link.subscribe();
        let connected =
            tokio::time::timeout(deadline, link_watch.wait_for(Option::is_some)).await.is_ok_and(|r| r.is_ok());
        connected
    }

    /// Answers that arrived for nobody (late, duplicated, or unknown).
    pub fn late_answers(&self) -> u64 {
        self.shared.late_answers.load(Ordering::Relaxed)
    }

    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned map only means a task panicked while holding it; the map itself is intact.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn fail_all(shared: &Shared, reason: &str) {
    let pending: Vec<_> = lock(&shared.pending).drain().collect();
    for (_, waiter) in pending {
        let _ = waiter.send(Err(ClientError::Disconnected(reason.to_string())));
    }
}

async fn connect(
    settings: &ClientSettings,
    endpoint: &str,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let timeout = Duration::from_millis(settings.connect_timeout_ms);
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(endpoint))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let name = rustls::pki_types::ServerName::try_from(settings.server_name.clone()).map_err(|e| e.to_string())?;
    tokio::time::timeout(timeout, TlsConnector::from(settings.tls.clone()).connect(name, tcp))
        .await
        .map_err(|_| "TLS handshake timed out".to_string())?
        .map_err(|e| e.to_string())
}

async fn run_connection(shared: Arc<Shared>, settings: ClientSettings, mut stopped: watch::Receiver<bool>) {
    let mut backoff_ms = RECONNECT_BACKOFF_MS_MIN;
    loop {
        if *stopped.borrow() {
            break;
        }
        let mut stream = None;
        for endpoint in &settings.endpoints {
            match connect(&settings, endpoint).await {
                Ok(connected) => {
                    stream = Some((endpoint.clone(), connected));
                    break;
                }
                Err(error) => tracing::warn!(%endpoint, %error, "ISO 8583 endpoint unreachable"),
            }
        }
        let Some((endpoint, stream)) = stream else {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(backoff_ms)) => {}
                _ = stopped.changed() => {}
            }
            backoff_ms = (backoff_ms * 2).min(settings.reconnect_backoff_ms_max.max(RECONNECT_BACKOFF_MS_MIN));
            continue;
        };
        backoff_ms = RECONNECT_BACKOFF_MS_MIN;
        tracing::info!(%endpoint, "ISO 8583 link up");
        *lock(&shared.endpoint_in_use) = Some(endpoint.clone());
        let reason = serve_link(&shared, &settings, stream, &mut stopped).await;
        *lock(&shared.endpoint_in_use) = None;
        shared.link.send_replace(None);
        fail_all(&shared, &reason);
        if *stopped.borrow() {
            tracing::info!(%endpoint, "ISO 8583 link closed: the client stopped");
        } else {
            tracing::warn!(%endpoint, %reason, "ISO 8583 link down");
        }
    }
    shared.link.send_replace(None);
    fail_all(&shared, "client stopped");
}

/// Runs one connection until it fails; returns why.
async fn serve_link(
    shared: &Arc<Shared>,
    settings: &ClientSettings,
    stream: tokio_rustls::client::TlsStream<TcpStream>,
    stopped: &mut watch::Receiver<bool>,
) -> String {
    let (reader, writer) = tokio::io::split(stream);
    let mut frames_in = FramedRead::new(reader, FrameCodec::new());
    let mut frames_out = FramedWrite::new(writer, FrameCodec::new());
    let (outbound_tx, mut outbound_rx) = mpsc::channel::<Outbound>(OUTBOUND_QUEUE_DEPTH);
    shared.link.send_replace(Some(outbound_tx.clone()));
    let echo_interval = Duration::from_millis(settings.echo_interval_ms.max(1));
    let mut idle = tokio::time::interval_at(tokio::time::Instant::now() + echo_interval, echo_interval);
    let mut echo_waiting: Option<(Key, tokio::time::Instant)> = None;
    loop {
        tokio::select! {
            _ = stopped.changed() => return "client stopped".to_string(),
            outbound = outbound_rx.recv() => {
                let Some(outbound) = outbound else { return "writer closed".to_string() };
                let ok = frames_out.send(outbound.bytes.as_slice()).await.is_ok();
                let _ = outbound.written.send(ok);
                if !ok {
                    return "write failed".to_string();
                }
                idle.reset();
            }
            frame = frames_in.next() => {
                let frame = match frame {
                    Some(Ok(frame)) => frame,
                    Some(Err(error)) => return format!("framing: {error}"),
                    None => return "peer closed the connection".to_string(),
                };
                idle.reset();
                let message = match decode(&frame, Spec::default_1987()) {
                    Ok(message) => message,
                    Err(error) => return format!("undecodable answer ({error})"),
                };
                let key = key_of(&message);
                if echo_waiting.as_ref().is_some_and(|(k, _)| *k == key) {
                    echo_waiting = None;
                    continue;
                }
                match lock(&shared.pending).remove(&key) {
                    Some(waiter) => {
                        let _ = waiter.send(Ok(message));
                    }
                    None => {
                        shared.late_answers.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(mti = %message.mti, stan = %key.0, terminal = %key.1, "answer for no waiting request (late or duplicate): dropped");
                    }
                }
            }
            _ = idle.tick() => {
                if let Some((_, since)) = &echo_waiting {
                    if since.elapsed() >= echo_interval {
                        return "echo unanswered".to_string();
                    }
                    continue;
                }
                let stan = format!("{:06}", shared.echo_stan.fetch_add(1, Ordering::Relaxed) % 999_999 + 1);
                let echo = Message::new(Mti::NETWORK_REQUEST).with(fields::STAN, stan.clone()).with(fields::NETWORK_MANAGEMENT_CODE, fields::NETWORK_ECHO);
                let Ok(bytes) = encode(&echo, Spec::default_1987()) else { continue };
                if frames_out.send(bytes.as_slice()).await.is_err() {
                    return "echo write failed".to_string();
                }
                echo_waiting = Some(((stan, String::new()), tokio::time::Instant::now()));
            }
        }
    }
}
