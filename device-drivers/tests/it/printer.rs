//! The printer driver over a pty pair, against a simulated printer that answers status queries
//! and keeps every byte it receives.

use std::time::Duration;

use device_drivers::printer::driver::{Printer, PrinterError, PrinterSettings};
use device_drivers::printer::escpos::{self, DrawerPin, DLE, EOT};
use device_drivers::printer::receipt;
use device_drivers::zvt::transport::fd::pty_pair;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::receipt::original_receipt;
use crate::status::ALL_CLEAR;

/// The bound on waiting for the simulated printer to have received something.
const RECEIVE_WAIT: Duration = Duration::from_secs(5);
/// The four status queries, as the driver sends them before printing.
const STATUS_QUERIES: [u8; 12] = [DLE, EOT, 1, DLE, EOT, 2, DLE, EOT, 3, DLE, EOT, 4];

/// A printer on the far side of a pty: answers `DLE EOT n` with `answers[n - 1]` (or never,
/// when `answers` is `None`) and publishes every byte received.
struct SimulatedPrinter {
    received: watch::Receiver<Vec<u8>>,
}

impl SimulatedPrinter {
    fn start(
        answers: Option<[u8; 4]>,
    ) -> (Printer<impl tokio::io::AsyncRead + tokio::io::AsyncWrite>, SimulatedPrinter) {
        let (driver_side, mut printer_side) = pty_pair().expect("pty pair");
        let (publish, received) = watch::channel(Vec::new());
        tokio::spawn(async move {
            let mut all = Vec::new();
            let mut scanned = 0;
            let mut buffer = [0_u8; 1_024];
            while let Ok(count @ 1..) = printer_side.read(&mut buffer).await {
                all.extend_from_slice(&buffer[..count]);
                while scanned + 3 <= all.len() {
                    if all[scanned] == DLE && all[scanned + 1] == EOT {
                        let query = usize::from(all[scanned + 2]);
                        if let Some(answer) =
                            answers.zip(query.checked_sub(1)).and_then(|(answers, index)| answers.get(index).copied())
                        {
                            printer_side.write_all(&[answer]).await.expect("answer");
                        }
                        scanned += 3;
                    } else {
                        scanned += 1;
                    }
                }
                publish.send_replace(all.clone());
            }
        });
        (Printer::new(driver_side, PrinterSettings::default()), SimulatedPrinter { received })
    }

    /// Waits, within [`RECEIVE_WAIT`], until the received bytes satisfy `done`; returns them.
    async fn received_when(&mut self, done: impl FnMut(&Vec<u8>) -> bool) -> Vec<u8> {
        let bytes = tokio::time::timeout(RECEIVE_WAIT, self.received.wait_for(done))
            .await
            .expect("the printer received the bytes in time")
            .expect("the simulated printer is running");
        bytes.clone()
    }
}

#[tokio::test]
async fn a_ready_printer_prints_the_receipt_and_kicks_the_drawer() {
    let (mut printer, mut simulated) = SimulatedPrinter::start(Some(ALL_CLEAR));
    let receipt = original_receipt();
    let status = printer.print_receipt(&receipt).await.expect("printed");
    assert!(status.can_print());
    let expected = [STATUS_QUERIES.as_slice(), &receipt::encode(&receipt)].concat();
    let received = simulated.received_when(|bytes| bytes.len() >= expected.len()).await;
    assert_eq!(received, expected);
    assert_eq!(crate::receipt::printed_text(&received[STATUS_QUERIES.len()..]), receipt::render_text(&receipt));

    printer.open_drawer().await.expect("drawer kick sent");
    let kick = escpos::drawer_kick(DrawerPin::Pin2, 50, 500);
    let received = simulated.received_when(|bytes| bytes.ends_with(&kick)).await;
    assert_eq!(received.len(), expected.len() + kick.len());
}

#[tokio::test]
async fn paper_out_is_reported_and_nothing_is_printed() {
    let (mut printer, mut simulated) = SimulatedPrinter::start(Some([0x12, 0x32, 0x12, 0x72]));
    let error = printer.print_receipt(&original_receipt()).await.expect_err("no paper");
    let PrinterError::NotReady { status } = error else { panic!("expected NotReady, got {error:?}") };
    assert!(status.paper_end && !status.cover_open);
    let received = simulated.received_when(|bytes| bytes.len() >= STATUS_QUERIES.len()).await;
    assert_eq!(received, STATUS_QUERIES);
}

#[tokio::test]
async fn cover_open_is_reported_and_nothing_is_printed() {
    let (mut printer, mut simulated) = SimulatedPrinter::start(Some([0x1A, 0x16, 0x12, 0x12]));
    let status = printer.status().await.expect("status");
    assert!(status.cover_open && status.offline && !status.paper_end);
    let error = printer.print_receipt(&original_receipt()).await.expect_err("cover open");
    assert!(matches!(error, PrinterError::NotReady { status } if status.cover_open));
    let received = simulated.received_when(|bytes| bytes.len() >= 2 * STATUS_QUERIES.len()).await;
    assert_eq!(received, [STATUS_QUERIES, STATUS_QUERIES].concat());
}

#[tokio::test]
async fn a_silent_printer_times_out() {
    let (printer, _simulated) = SimulatedPrinter::start(None);
    let settings = PrinterSettings { status_answer_timeout_ms: 200, ..PrinterSettings::default() };
    let mut printer = Printer::new(printer.into_inner(), settings);
    let error = printer.status().await.expect_err("no answer");
    assert!(matches!(error, PrinterError::StatusTimeout { query: 1, waited_ms: 200 }), "{error:?}");
}
