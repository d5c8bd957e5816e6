//! One client connection: TLS, frames in, requests handled in order of arrival, answers out.
//!
//! Requests are booked in the order they arrive (so a reversal that follows its original on the
//! same connection always finds it), and each is answered as soon as it is ready: at once, or,
//! under a delay fault, from a task of its own while later requests are answered meanwhile.
//! The connection task owns the socket; delayed answers come back to it through a channel.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use iso8583::{decode, encode, fields, FrameCodec, Message, Spec};
use rand::{Rng, SeedableRng};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use super::{
    Shared, CONNECTION_IDLE_MS_MAX, IN_FLIGHT_PER_CONNECTION_MAX, REQUEST_FRAME_BYTES_MAX, TLS_HANDSHAKE_TIMEOUT_MS,
};
use crate::fault::{Fault, MessageKind, FAULT_DELAY_MS_MAX};
use crate::ledger::Received;
use crate::requests;

/// Length of a garbage frame.
const GARBAGE_BYTES: usize = 32;

/// Seeds the garbage frames, so a run's garbage is the same each time it is replayed.
static GARBAGE_SEQUENCE: AtomicU64 = AtomicU64::new(0);

type Frames = Framed<TlsStream<TcpStream>, FrameCodec>;

/// What the loop does after a frame.
enum Next {
    Continue,
    Close(&'static str),
}

pub(super) async fn serve(shared: Arc<Shared>, acceptor: TlsAcceptor, tcp: TcpStream, peer: SocketAddr) {
    // Answers are small and latency matters more than packet count.
    let _ = tcp.set_nodelay(true);
    let handshake = tokio::time::timeout(Duration::from_millis(TLS_HANDSHAKE_TIMEOUT_MS), acceptor.accept(tcp));
    let stream = tokio::select! {
        _ = shared.shutdown.cancelled() => return,
        handshake = handshake => match handshake {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::info!(%peer, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::warn!(%peer, "TLS handshake timed out");
                return;
            }
        },
    };
    let mut accepting = shared.accepting.subscribe();
    if !*accepting.borrow_and_update() {
        return;
    }
    tracing::info!(%peer, "connection open");
    // Cancelled when this connection ends (the guard drops) or the simulator shuts down: the
    // answers still held back for this connection are then dropped.
    let closing = shared.shutdown.child_token();
    let _closing_guard = closing.clone().drop_guard();
    let mut frames = Framed::new(stream, FrameCodec::with_max(REQUEST_FRAME_BYTES_MAX));
    let (delayed_tx, mut delayed_rx) = mpsc::channel::<Vec<u8>>(IN_FLIGHT_PER_CONNECTION_MAX);
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT_PER_CONNECTION_MAX));
    let idle = Duration::from_millis(CONNECTION_IDLE_MS_MAX);

    let reason = loop {
        tokio::select! {
            _ = closing.cancelled() => break "simulator shutting down",
            changed = accepting.changed() => {
                if changed.is_err() || !*accepting.borrow_and_update() {
                    break "no longer accepting";
                }
            }
            Some(answer) = delayed_rx.recv() => {
                if frames.send(answer).await.is_err() {
                    break "write failed";
                }
            }
            frame = tokio::time::timeout(idle, frames.next()) => {
                let frame = match frame {
                    Err(_) => break "idle too long",
                    Ok(None) => break "peer closed the connection",
                    Ok(Some(Err(iso8583::FrameError::Io(error))))
                        if error.kind() == std::io::ErrorKind::UnexpectedEof =>
                    {
                        break "peer closed the connection (without close_notify)";
                    }
                    Ok(Some(Err(error))) => {
                        tracing::warn!(%peer, %error, "framing error");
                        break "framing error";
                    }
                    Ok(Some(Ok(frame))) => frame,
                };
                let answers = Answers { shared: &shared, closing: &closing, delayed: &delayed_tx, in_flight: &in_flight };
                match on_frame(&shared, &mut frames, &answers, peer, frame).await {
                    Next::Continue => {}
                    Next::Close(reason) => break reason,
                }
            }
        }
    };
    tracing::info!(%peer, reason, "connection closed");
}

/// What a delayed answer needs from its connection.
struct Answers<'a> {
    shared: &'a Arc<Shared>,
    closing: &'a CancellationToken,
    delayed: &'a mpsc::Sender<Vec<u8>>,
    in_flight: &'a Arc<Semaphore>,
}

async fn on_frame(shared: &Shared, frames: &mut Frames, answers: &Answers<'_>, peer: SocketAddr, frame: Bytes) -> Next {
    let message = match decode(&frame, Spec::default_1987()) {
        Ok(message) => message,
        Err(error) => {
            // The error names a field and offset, never the content.
            tracing::warn!(%peer, %error, "frame does not decode: closing the connection");
            return Next::Close("undecodable frame");
        }
    };
    let now = shared.now();
    let (answer, fault) = {
        let mut state = shared.state();
        // A message that gets no answer (a stray response) has nothing a fault could act on.
        let fault = if message.mti.is_response() { None } else { state.faults.take(MessageKind::of(&message)) };
        let exchange = match fault {
            // Refused before anything is done: the books do not change.
            Some(Fault::AnswerCode { code }) => requests::refuse(&message, &String::from_utf8_lossy(&code)),
            _ => requests::handle(&mut state.ledger, shared.centre, &message, now),
        };
        state.ledger.record(received(&message, now, exchange.handling, fault));
        (exchange.answer, fault)
    };
    let Some(answer) = answer else { return Next::Continue };
    let bytes = match encode(&answer, Spec::default_1987()) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(%error, %answer, "answer does not encode: not sent");
            return Next::Continue;
        }
    };
    if let Some(fault) = fault {
        tracing::info!(%peer, %fault, request = %message, "fault injected");
    }
    let sent = match fault {
        None | Some(Fault::AnswerCode { .. }) => frames.send(bytes).await,
        Some(Fault::DuplicateAnswer) => match frames.send(bytes.clone()).await {
            Ok(()) => frames.send(bytes).await,
            Err(error) => Err(error),
        },
        Some(Fault::NoAnswer) => Ok(()),
        Some(Fault::DropConnection) => return Next::Close("fault: drop the connection"),
        Some(Fault::Garbage) => frames.send(garbage()).await,
        Some(Fault::Delay { ms } | Fault::LateAnswer { ms }) => {
            return match hold_back(answers, bytes, ms).await {
                true => Next::Continue,
                false => Next::Close("simulator shutting down"),
            }
        }
    };
    match sent {
        Ok(()) => Next::Continue,
        Err(_) => Next::Close("write failed"),
    }
}

/// Sends `bytes` after `ms` from a task of its own. Waits for a slot when
/// [`IN_FLIGHT_PER_CONNECTION_MAX`] answers are already held back; false if the connection
/// closes meanwhile.
async fn hold_back(answers: &Answers<'_>, bytes: Vec<u8>, ms: u64) -> bool {
    let permit = tokio::select! {
        _ = answers.closing.cancelled() => return false,
        permit = answers.in_flight.clone().acquire_owned() => match permit {
            Ok(permit) => permit,
            Err(_) => return false,
        },
    };
    let delay = Duration::from_millis(ms.min(FAULT_DELAY_MS_MAX));
    let closing = answers.closing.clone();
    let delayed = answers.delayed.clone();
    answers.shared.tracker.spawn(async move {
        tokio::select! {
            _ = closing.cancelled() => {}
            _ = tokio::time::sleep(delay) => {
                // The channel holds as many answers as there are permits, so this never waits
                // long; it fails only when the connection has gone, and then the answer is lost
                // as it would be on the wire.
                let _ = delayed.send(bytes).await;
            }
        }
        drop(permit);
    });
    true
}

/// A frame that is not an ISO 8583 message: its first byte is not an ASCII digit, so the MTI
/// cannot decode, and the rest is random.
fn garbage() -> Vec<u8> {
    let seed = GARBAGE_SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let mut random = rand::rngs::StdRng::seed_from_u64(seed);
    let mut bytes = vec![0u8; GARBAGE_BYTES];
    random.fill(&mut bytes[..]);
    bytes[0] = 0xFF;
    bytes
}

fn received(
    message: &Message,
    at: chrono::DateTime<chrono::FixedOffset>,
    handling: crate::ledger::Handling,
    fault: Option<Fault>,
) -> Received {
    let text = |field| message.text(field).map(str::to_string);
    Received {
        mti: message.mti,
        stan: text(fields::STAN),
        terminal_id: text(fields::TERMINAL_ID),
        processing_code: text(fields::PROCESSING_CODE),
        at,
        handling,
        fault,
    }
}
