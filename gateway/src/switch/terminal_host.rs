//! The terminal host: payment terminals connect over TLS and speak ISO 8583 (PROTOCOLS.md §1).
//!
//! Each connection is read frame by frame; each request is handled on its own task so a slow
//! authorization does not hold up an echo, and answers go back through one writer. A frame that
//! does not decode is logged and counted, and the connection is closed (its framing can no
//! longer be trusted to match answers to requests).

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use iso8583::{decode, encode, FrameCodec, Spec};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::AppState;

/// Terminals connected at once, at most.
pub const TERMINAL_CONNECTIONS_MAX: usize = 1_024;
/// Requests one terminal connection may have in flight.
pub const TERMINAL_IN_FLIGHT_MAX: usize = 8;
/// A connection silent this long (no request, no echo) is closed.
pub const TERMINAL_IDLE_MS: u64 = 300_000;
/// How long a TLS handshake may take.
pub const TLS_HANDSHAKE_MS: u64 = 10_000;

/// Serves terminals on `listener` until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: AppState,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let connections = Arc::new(Semaphore::new(TERMINAL_CONNECTIONS_MAX));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "terminal host accept failed");
                continue;
            }
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "terminal connection refused: too many connections");
            continue;
        };
        let (acceptor, app, stop) = (acceptor.clone(), app.clone(), stop.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tcp.set_nodelay(true);
            match tokio::time::timeout(Duration::from_millis(TLS_HANDSHAKE_MS), acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => serve_connection(stream, app, stop, peer).await,
                Ok(Err(error)) => tracing::warn!(%peer, %error, "terminal TLS handshake failed"),
                Err(_) => tracing::warn!(%peer, "terminal TLS handshake timed out"),
            }
        });
    }
}

async fn serve_connection(
    stream: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    app: AppState,
    mut stop: watch::Receiver<bool>,
    peer: std::net::SocketAddr,
) {
    let (reader, writer) = tokio::io::split(stream);
    let mut frames = FramedRead::new(reader, FrameCodec::new());
    let (answers_tx, mut answers_rx) = mpsc::channel::<Vec<u8>>(TERMINAL_IN_FLIGHT_MAX);
    let writer_task = tokio::spawn(async move {
        let mut sink = FramedWrite::new(writer, FrameCodec::new());
        while let Some(bytes) = answers_rx.recv().await {
            if sink.send(bytes.as_slice()).await.is_err() {
                break;
            }
        }
    });
    let in_flight = Arc::new(Semaphore::new(TERMINAL_IN_FLIGHT_MAX));
    loop {
        let frame = tokio::select! {
            frame = tokio::time::timeout(Duration::from_millis(TERMINAL_IDLE_MS), frames.next()) => frame,
            _ = stop.changed() => break,
        };
        let frame = match frame {
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(error))) => {
                tracing::warn!(%peer, %error, "terminal framing error: closing");
                break;
            }
            Ok(None) => break,
            Err(_) => {
                tracing::info!(%peer, "terminal idle: closing");
                break;
            }
        };
        let request = match decode(&frame, Spec::default_1987()) {
            Ok(request) => request,
            Err(error) => {
                metrics::counter!("terminal_garbage_frames_total").increment(1);
                tracing::warn!(%peer, %error, "terminal sent a frame that is not ISO 8583: closing");
                break;
            }
        };
        tracing::debug!(%peer, message = %request, "terminal request");
        let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
        let (app, answers) = (app.clone(), answers_tx.clone());
        tokio::spawn(async move {
            let _permit = permit;
            if let Some(response) = super::authorize::handle_terminal_request(&app, request).await {
                match encode(&response, Spec::default_1987()) {
                    Ok(bytes) => {
                        let _ = answers.send(bytes).await;
                    }
                    Err(error) => tracing::error!(%error, "answer to a terminal could not be encoded"),
                }
            }
        });
    }
    drop(answers_tx);
    let _ = writer_task.await;
}
