//! The serial link: APDUs in frames, each acknowledged, resent on `NAK` or silence.
//!
//! The framing, the resend rule and what to do when frames cross are the pure
//! [`crate::zvt::serial::LinkEnd`]; this file owns the stream and the clock. A task per link reads
//! the line all the time, so a frame is acknowledged within the 1 s bound whatever the
//! application is doing (sleeping between intermediate statuses, waiting for the host, or waiting
//! for the `ACK` of its own frame). [`SerialLink::send`] hands an APDU to the task and returns
//! once the peer acknowledged it (or after [`SEND_TRIES_MAX`](super::SEND_TRIES_MAX) tries);
//! [`SerialLink::receive`] takes the next APDU the task received. Dropping the link stops the
//! task and closes the stream.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{millis, write_bounded, ByteStream, LinkError, LinkFault, READ_CHUNK_BYTES};
use crate::zvt::apdu::Apdu;
use crate::zvt::serial::link::RECEIVED_QUEUE_MAX;
use crate::zvt::serial::{LinkEnd, LinkOutput, LinkRole, OwnFault};

/// What the application asks the link task.
struct SendRequest {
    apdu: Vec<u8>,
    done: oneshot::Sender<Result<(), LinkError>>,
}

/// Shared between the link and its task: armed faults and counters.
#[derive(Default)]
struct Shared {
    corrupt_next_send: AtomicBool,
    withhold_next_ack: AtomicBool,
    resends: AtomicU64,
    copies_dropped: AtomicU64,
    noise_bytes_skipped: AtomicUsize,
}

pub struct SerialLink {
    requests: mpsc::Sender<SendRequest>,
    received: mpsc::Receiver<Result<Vec<u8>, LinkError>>,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for SerialLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SerialLink {
    /// Starts the link task on `stream` for the ECR's or the terminal's side. Must be called
    /// inside a tokio runtime.
    pub fn new(stream: Box<dyn ByteStream>, role: LinkRole) -> SerialLink {
        let (requests, request_queue) = mpsc::channel(1);
        let (received_queue, received) = mpsc::channel(RECEIVED_QUEUE_MAX);
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(run(stream, role, request_queue, received_queue, shared.clone()));
        SerialLink { requests, received, shared, task }
    }

    pub fn inject(&mut self, fault: LinkFault) {
        match fault {
            LinkFault::BadCrcOnce => self.shared.corrupt_next_send.store(true, Ordering::SeqCst),
            LinkFault::DropAckOnce => self.shared.withhold_next_ack.store(true, Ordering::SeqCst),
        }
    }

    /// Frames this side sent again after a `NAK`, a missing `ACK`, or before acknowledging a
    /// crossing frame, for diagnostics and tests.
    pub fn resends(&self) -> u64 {
        self.shared.resends.load(Ordering::SeqCst)
    }

    /// Frames the peer sent again that this side already had (their `ACK` was lost).
    pub fn copies_dropped(&self) -> u64 {
        self.shared.copies_dropped.load(Ordering::SeqCst)
    }

    /// Noise bytes the decoder skipped between frames.
    pub fn noise_bytes_skipped(&self) -> usize {
        self.shared.noise_bytes_skipped.load(Ordering::SeqCst)
    }

    pub async fn send(&mut self, apdu: &Apdu) -> Result<(), LinkError> {
        let (done, finished) = oneshot::channel();
        let request = SendRequest { apdu: apdu.encode(), done };
        self.requests.send(request).await.map_err(|_| LinkError::Closed)?;
        finished.await.unwrap_or(Err(LinkError::Closed))
    }

    pub async fn receive(&mut self, timeout: Duration) -> Result<Apdu, LinkError> {
        match tokio::time::timeout(timeout, self.received.recv()).await {
            Err(_) => Err(LinkError::ReceiveTimeout { waited_ms: millis(timeout) }),
            Ok(None) => Err(LinkError::Closed),
            Ok(Some(Err(error))) => Err(error),
            Ok(Some(Ok(bytes))) => Ok(Apdu::decode(&bytes)?),
        }
    }
}

/// The link task: reads the line, runs the timers, writes what [`LinkEnd`] says, until the
/// stream closes or fails or the link is dropped.
async fn run(
    mut stream: Box<dyn ByteStream>,
    role: LinkRole,
    mut requests: mpsc::Receiver<SendRequest>,
    received: mpsc::Sender<Result<Vec<u8>, LinkError>>,
    shared: Arc<Shared>,
) {
    let started = Instant::now();
    let now_ms = || millis(started.elapsed());
    let mut end = LinkEnd::new(role);
    let mut sending: Option<oneshot::Sender<Result<(), LinkError>>> = None;
    let mut buffer = vec![0u8; READ_CHUNK_BYTES];
    let ending = loop {
        let deadline = end.next_deadline_ms().map(|ms| started + Duration::from_millis(ms));
        let outputs = tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) => break LinkError::Closed,
                Ok(count) => {
                    arm_faults(&shared, &mut end);
                    end.on_bytes(&buffer[..count], now_ms())
                }
                Err(error) => break closed_or_io(error),
            },
            request = requests.recv(), if end.can_send() => match request {
                // The link was dropped.
                None => return,
                Some(request) => match arm_faults(&shared, &mut end).send(&request.apdu, now_ms()) {
                    Ok(outputs) => {
                        sending = Some(request.done);
                        outputs
                    }
                    Err(busy) => {
                        let _ = request.done.send(Err(LinkError::Io(std::io::Error::other(busy))));
                        Vec::new()
                    }
                },
            },
            () = sleep_until(deadline), if deadline.is_some() => end.on_tick(now_ms()),
            // What was received goes to the application as it makes room for it.
            permit = received.reserve(), if end.has_received() => {
                match permit {
                    Ok(permit) => {
                        if let Some(apdu) = end.pop_received() {
                            permit.send(Ok(apdu));
                        }
                    }
                    // The link was dropped.
                    Err(_) => return,
                }
                Vec::new()
            }
        };
        if let Err(error) = perform(&mut stream, outputs, &mut sending).await {
            break error;
        }
        let statistics = end.statistics();
        shared.resends.store(statistics.resends, Ordering::SeqCst);
        shared.copies_dropped.store(statistics.copies_dropped, Ordering::SeqCst);
        shared.noise_bytes_skipped.store(end.noise_bytes_skipped(), Ordering::SeqCst);
    };
    // The line is gone: what was received still goes to the application, then the reason.
    while let Some(apdu) = end.pop_received() {
        if received.send(Ok(apdu)).await.is_err() {
            return;
        }
    }
    if let Some(done) = sending.take() {
        let _ = done.send(Err(LinkError::Closed));
    }
    let _ = received.send(Err(ending)).await;
}

/// Moves the faults armed since the last look into the link end (they apply to what it does next).
fn arm_faults<'a>(shared: &Shared, end: &'a mut LinkEnd) -> &'a mut LinkEnd {
    if shared.corrupt_next_send.swap(false, Ordering::SeqCst) {
        end.inject(OwnFault::CorruptNextSend);
    }
    if shared.withhold_next_ack.swap(false, Ordering::SeqCst) {
        end.inject(OwnFault::WithholdNextAck);
    }
    end
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Writes and reports what the link end asked for, in order.
async fn perform(
    stream: &mut Box<dyn ByteStream>,
    outputs: Vec<LinkOutput>,
    sending: &mut Option<oneshot::Sender<Result<(), LinkError>>>,
) -> Result<(), LinkError> {
    for output in outputs {
        match output {
            LinkOutput::Write(bytes) => write_bounded(stream, &bytes).await?,
            LinkOutput::SendFinished(result) => {
                if let Some(done) = sending.take() {
                    let result = result.map_err(|failed| LinkError::NotAcknowledged { tries: failed.tries });
                    // The application may have stopped waiting (its deadline passed); fine.
                    let _ = done.send(result);
                }
            }
        }
    }
    Ok(())
}

/// A pty whose other side closed reads `EIO`; that is a closed link, not a broken machine.
pub(super) fn closed_or_io(error: std::io::Error) -> LinkError {
    if error.raw_os_error() == Some(nix::libc::EIO) {
        LinkError::Closed
    } else {
        LinkError::Io(error)
    }
}
