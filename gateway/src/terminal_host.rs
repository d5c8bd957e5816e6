//! The terminal host: payment terminals connect over TLS and speak ISO 8583 (PROTOCOLS.md §1).
//!
//! A terminal proves who it is with its client certificate, whose subject alternative name is
//! `urn:pos:terminal:<id>`; every message on that connection must carry that id in field 41.
//! A message speaking for another terminal is answered `63` (security violation), counted,
//! written to the audit log, and changes nothing. A connection without such a certificate is
//! refused at once — unless the configuration says `lab-without-certificates`, a loudly logged
//! setting for labs with simulated terminals, where field 41 is taken as it comes.
//!
//! Each connection is read frame by frame; each request is handled on its own task so a slow
//! authorization does not hold up an echo, and answers go back through one writer. A frame that
//! does not decode is logged and counted, and the connection is closed (its framing can no longer
//! be trusted to match answers to requests). What a request means for the money is decided in
//! [`crate::payments::terminal`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use iso8583::{decode, encode, fields, FrameCodec, Message, ResponseCode, Spec};
use pos_config::ClientAuthMode;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_util::codec::{FramedRead, FramedWrite};
use tracing::Instrument;

use crate::journal::audit::{self, AuditEntry};
use crate::AppState;

/// Terminals connected at once, at most.
pub const TERMINAL_CONNECTIONS_MAX: usize = 1_024;
/// Requests one terminal connection may have in flight.
pub const TERMINAL_IN_FLIGHT_MAX: usize = 8;
/// A connection silent this long (no request, no echo) is closed.
pub const TERMINAL_IDLE_MS: u64 = 300_000;
/// How long a TLS handshake may take.
pub const TLS_HANDSHAKE_MS: u64 = 10_000;

/// Who is on a connection.
#[derive(Debug, Clone)]
enum Identity {
    /// The terminal its certificate names.
    Certified(String),
    /// A lab connection without a certificate: field 41 is taken as it comes.
    Lab,
}

/// What a connection has been refused, for its audit record.
struct Refusals {
    identity: Identity,
    peer: SocketAddr,
    count: AtomicU64,
}

/// Serves terminals on `listener` until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: AppState,
    mut stop: watch::Receiver<bool>,
) {
    let mode = app.config.terminal_host.as_ref().map_or(ClientAuthMode::Required, |host| host.client_auth);
    if mode == ClientAuthMode::LabWithoutCertificates {
        tracing::warn!(
            "TERMINAL HOST IN LAB MODE: terminals connect without certificates and field 41 is believed as sent. \
             Never take real payments like this: set terminal_host.client_auth = \"required\"."
        );
    }
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
            let stream = match tokio::time::timeout(Duration::from_millis(TLS_HANDSHAKE_MS), acceptor.accept(tcp)).await
            {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    metrics::counter!("terminal_connections_refused_total", "reason" => "handshake").increment(1);
                    tracing::warn!(%peer, %error, "terminal TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::warn!(%peer, "terminal TLS handshake timed out");
                    return;
                }
            };
            let certified =
                stream.get_ref().1.peer_certificates().and_then(|chain| chain.first()).map(pos_tls::terminal_id_of);
            let identity = match (certified, mode) {
                (Some(Ok(terminal)), _) => Identity::Certified(terminal),
                (None, ClientAuthMode::LabWithoutCertificates) => Identity::Lab,
                (Some(Err(error)), _) => {
                    refuse_connection(&app, peer, &error.to_string()).await;
                    return;
                }
                (None, ClientAuthMode::Required) => {
                    refuse_connection(&app, peer, "no client certificate").await;
                    return;
                }
            };
            tracing::info!(%peer, ?identity, "terminal connected");
            serve_connection(stream, app, stop, peer, identity).await;
        });
    }
}

async fn refuse_connection(app: &AppState, peer: SocketAddr, why: &str) {
    metrics::counter!("terminal_connections_refused_total", "reason" => "identity").increment(1);
    tracing::warn!(%peer, %why, "terminal connection refused: it does not prove a terminal identity");
    record(app, "-", peer, "terminal connection", "-", &format!("refused: {why}")).await;
}

/// Writes one audit record of the terminal host (the API's records come from its middleware).
async fn record(app: &AppState, who: &str, peer: SocketAddr, action: &str, target: &str, detail: &str) {
    let entry = AuditEntry {
        at: app.clock.now(),
        user_name: who.to_string(),
        role: "terminal".to_string(),
        action: action.to_string(),
        target: target.to_string(),
        remote: peer.to_string(),
        status: 403,
        outcome: "denied".to_string(),
        detail: detail.to_string(),
        request_id: None,
        kind: audit::RecordKind::Request,
    };
    // Queued: a flood of refused connections costs no write transaction each.
    audit::record(&app.journal, entry);
}

async fn serve_connection(
    stream: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    app: AppState,
    mut stop: watch::Receiver<bool>,
    peer: SocketAddr,
    identity: Identity,
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
    let refusals = Arc::new(Refusals { identity, peer, count: AtomicU64::new(0) });
    loop {
        let frame = tokio::select! {
            frame = tokio::time::timeout(Duration::from_millis(TERMINAL_IDLE_MS), frames.next()) => frame,
            _ = stop.changed() => break,
        };
        let frame = match frame {
            Ok(Some(Ok(frame))) => frame,
            // A terminal that goes away without TLS's close_notify (power, network, a client that
            // just drops the socket) ends its connection like one that says goodbye.
            Ok(Some(Err(iso8583::FrameError::Io(error)))) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
                tracing::info!(%peer, "terminal closed the connection");
                break;
            }
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
        let (app, answers, refusals) = (app.clone(), answers_tx.clone(), refusals.clone());
        // Each message is served in a span naming the terminal and trace number; the payments
        // module adds the payment and sale once it has bound them.
        let span = tracing::info_span!(
            "terminal_message",
            terminal_id = %request.text(fields::TERMINAL_ID).unwrap_or(""),
            stan = %request.text(fields::STAN).unwrap_or(""),
            mti = %request.mti,
            payment_id = tracing::field::Empty,
            sale_id = tracing::field::Empty,
        );
        tokio::spawn(
            async move {
                let _permit = permit;
                if let Some(response) = handle(&app, &refusals, request).await {
                    match encode(&response, Spec::default_1987()) {
                        Ok(bytes) => {
                            let _ = answers.send(bytes).await;
                        }
                        Err(error) => tracing::error!(%error, "answer to a terminal could not be encoded"),
                    }
                }
            }
            .instrument(span),
        );
    }
    drop(answers_tx);
    let _ = writer_task.await;
    let refused = refusals.count.load(Ordering::Relaxed);
    if refused > 1 {
        // The first refusal was recorded when it happened; the rest are summed up here, so a
        // flood costs one audit write per connection, not one per message.
        let who = match &refusals.identity {
            Identity::Certified(terminal) => terminal.as_str(),
            Identity::Lab => "-",
        };
        let detail = format!("{refused} messages in all spoke for another terminal on this connection");
        record(&app, who, peer, "ISO 8583 identity", "-", &detail).await;
    }
}

/// Answers one request, after checking that it speaks for the terminal on the connection.
async fn handle(app: &AppState, refusals: &Refusals, request: Message) -> Option<Message> {
    let claimed = request.text(fields::TERMINAL_ID).unwrap_or("").to_string();
    if let Identity::Certified(terminal) = &refusals.identity {
        if *terminal != claimed {
            let first = refusals.count.fetch_add(1, Ordering::Relaxed) == 0;
            metrics::counter!("terminal_identity_refusals_total", "mti" => request.mti.as_str().to_string())
                .increment(1);
            tracing::warn!(peer = %refusals.peer, certified = %terminal, %claimed, mti = %request.mti, "message for another terminal refused (63)");
            if first {
                let detail = format!("certificate names {terminal}; field 41 said {claimed:?}");
                record(app, terminal, refusals.peer, &format!("ISO 8583 {}", request.mti), &claimed, &detail).await;
            }
            return (!request.mti.is_response()).then(|| {
                request.response_skeleton().with(fields::RESPONSE_CODE, ResponseCode::SecurityViolation.code())
            });
        }
    }
    match request.mti.as_str() {
        "0800" => Some(request.response_skeleton().with(fields::RESPONSE_CODE, "00")),
        "0200" => Some(crate::payments::terminal::purchase(app, &claimed, &request).await),
        "0400" | "0401" => Some(crate::payments::terminal::reversal(app, &claimed, &request).await),
        other => {
            tracing::warn!(mti = other, "terminal sent a message type this host does not take");
            None
        }
    }
}
