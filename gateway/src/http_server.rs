//! The HTTP server: hyper's HTTP/1.1 connections over the gateway's own accept loop, so that the
//! limits of `[server]` hold (`axum::serve` has no timer, hence no header-read timeout, and no
//! connection caps).
//!
//! - A request's head must arrive within `header_read_timeout_ms` of the connection opening or of
//!   the previous response (hyper's header-read timeout, which also bounds idle keep-alive).
//! - A connection on which no byte moved either way for `idle_timeout_ms` is shut down gracefully
//!   (a request in flight is answered first; the request timeout bounds that).
//! - At most `connections_max` connections at once, and `connections_per_source_max` from one
//!   source address: a connection beyond either is answered `503` and closed at once, before any
//!   byte of it is read, so one address cannot take the server's connections from the others.
//! - With TLS, the handshake is done inside the connection's task and bounded by the header-read
//!   timeout too; the certificate in use can be replaced while serving ([`ReloadableTls`]),
//!   connections already open keep theirs.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use pos_config::HttpLimits;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

/// How long the accept loop pauses after a failed accept (e.g. out of file descriptors), so a
/// persistent failure does not spin a core.
pub const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// What a connection beyond a cap is answered before it is closed.
const REFUSAL: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\nretry-after: 1\r\n\r\n";

/// How the request reached the gateway: put on every request beside axum's `ConnectInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport {
    pub remote: SocketAddr,
    /// The connection is TLS terminated by the gateway itself.
    pub tls: bool,
}

/// The server certificate in use, replaceable while serving (`SIGHUP` reloads it from its files).
pub struct ReloadableTls {
    current: RwLock<Arc<rustls::ServerConfig>>,
}

impl ReloadableTls {
    pub fn new(config: Arc<rustls::ServerConfig>) -> ReloadableTls {
        ReloadableTls { current: RwLock::new(config) }
    }

    /// New connections use `config` from now on; open ones keep what they shook hands with.
    pub fn replace(&self, config: Arc<rustls::ServerConfig>) {
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = config;
    }

    pub fn current(&self) -> Arc<rustls::ServerConfig> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// Connections held per source address.
#[derive(Default)]
struct Sources {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in its source's count, given back when the connection ends.
struct SourceSlot {
    sources: Arc<Sources>,
    ip: IpAddr,
}

impl Sources {
    fn claim(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<SourceSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = counts.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(SourceSlot { sources: self.clone(), ip })
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut counts = self.sources.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// Answers `503` if the socket takes it without waiting, and closes the connection.
fn refuse(stream: TcpStream, remote: SocketAddr, reason: &'static str) {
    metrics::counter!("http_connections_refused_total", "reason" => reason).increment(1);
    tracing::debug!(%remote, reason, "connection refused");
    let _ = stream.try_write(REFUSAL);
}

/// Serves `router` on `listener` under `limits` (over TLS when `tls` is given) until `shutdown`
/// completes; then stops accepting, shuts every connection down gracefully and waits for them.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    tls: Option<Arc<ReloadableTls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.connections_max));
    let sources = Arc::new(Sources::default());
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            refuse(stream, remote, "connections_max");
            continue;
        };
        let Some(slot) = sources.claim(remote.ip(), limits.connections_per_source_max) else {
            refuse(stream, remote, "connections_per_source_max");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let held = Held { _permit: permit, _slot: slot };
        let router = router.clone();
        let limits = limits.clone();
        let stopped = stopped.clone();
        match &tls {
            None => {
                let transport = Transport { remote, tls: false };
                tasks.spawn(serve_connection(stream, transport, router, limits, stopped, held));
            }
            Some(tls) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
                tasks.spawn(async move {
                    let bound = Duration::from_millis(limits.header_read_timeout_ms);
                    match tokio::time::timeout(bound, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let transport = Transport { remote, tls: true };
                            serve_connection(stream, transport, router, limits, stopped, held).await;
                        }
                        Ok(Err(error)) => {
                            metrics::counter!("http_tls_handshake_failures_total").increment(1);
                            tracing::debug!(%remote, %error, "TLS handshake failed");
                        }
                        Err(_) => {
                            metrics::counter!("http_tls_handshake_failures_total").increment(1);
                            tracing::debug!(%remote, "TLS handshake timed out");
                        }
                    }
                });
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// What a connection holds of the caps while it lives.
struct Held {
    _permit: OwnedSemaphorePermit,
    _slot: SourceSlot,
}

async fn serve_connection<S>(
    io: S,
    transport: Transport,
    router: Router,
    limits: HttpLimits,
    mut stopped: watch::Receiver<bool>,
    _held: Held,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked { inner: io, activity: activity.clone() });
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(transport.remote));
        request.extensions_mut().insert(transport);
        router.clone().oneshot(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms))
        .keep_alive(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let idle = Duration::from_millis(limits.idle_timeout_ms);
    let mut closing = false;
    loop {
        let deadline = activity.last() + idle;
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    if error.is_timeout() {
                        metrics::counter!("http_connections_timed_out_total", "phase" => "header_read").increment(1);
                    }
                    tracing::debug!(remote = %transport.remote, %error, "connection ended with an error");
                }
                return;
            }
            _ = stopped.changed(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            () = tokio::time::sleep_until(deadline), if !closing => {
                if activity.last() + idle <= Instant::now() {
                    metrics::counter!("http_connections_timed_out_total", "phase" => "idle").increment(1);
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// When a byte last moved on a connection.
struct Activity {
    origin: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity { origin: Instant::now(), last_ms: AtomicU64::new(0) }
    }

    fn touch(&self) {
        let elapsed = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(elapsed, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.origin + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// A connection's stream that notes when bytes move.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_holds_at_most_its_cap_and_gets_slots_back() {
        let sources = Arc::new(Sources::default());
        let ip: IpAddr = "127.0.0.2".parse().expect("ip");
        let held: Vec<SourceSlot> = (0..3).map(|_| sources.claim(ip, 3).expect("under the cap")).collect();
        assert!(sources.claim(ip, 3).is_none(), "a fourth connection is over the cap");
        assert!(sources.claim("127.0.0.3".parse().expect("ip"), 3).is_some(), "another source is not affected");
        drop(held);
        assert!(sources.claim(ip, 3).is_some(), "closed connections give their slots back");
    }
}
