//! counterd, the bridge between one counter's devices and the gateway (ARCHITECTURE.md, "the
//! picture"; issue 7 item 5).
//!
//! It connects *out* to the gateway over HTTP(S) as the register's device and long-polls
//! `GET /v1/devices/{register}/commands/next`. Each command is journaled as started in the local
//! state file ([`journal`]) before any device is touched, run on the devices, journaled with its
//! result, then answered with `POST …/commands/{id}/result`. A command already in the journal is
//! never run again: with a result, the result is posted again; started without a result (counterd
//! died in it), it is answered [`CommandState::Unknown`] — for a charge exactly "the outcome was
//! not seen", which the gateway resolves from the terminal host's own journal.
//!
//! - Charge → ZVT authorization on the terminal: approved → `Done` with the terminal's report
//!   (masked card, brand, trace and receipt numbers); aborted or declined → `Failed` with the
//!   result code, except "host not responding" (`A1`: the authorization went out and no answer
//!   came), which is `Unknown` like [`Outcome::Unknown`]; after an unknown the link is reopened.
//! - PrintReceipt → the sale read from the gateway, [`Receipt::from_sale`], printed; no printer →
//!   `Failed` "no printer"; a printer that cannot print → `Failed` saying why ("paper out").
//!   OpenDrawer → the drawer kick. EndOfDay → the terminal's end of day: its BMP 60 totals (per
//!   ZVT card slot, with the receipt range and the grand total) as the result's
//!   [`CommandOutput::EndOfDay`].
//! - ScanCode and ShowQr: see [`scan`].
//! - Health (`POST …/health`) every [`Bounds::health_interval_ms`].
//! - The gateway unreachable or failing (5xx): retried with exponential backoff up to
//!   [`Bounds::backoff_ms_max`]. The terminal link lost: reopened with backoff, reported
//!   `disconnected` meanwhile.

pub mod client;
pub mod devices;
pub mod journal;
pub mod scan;
pub mod settings;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pos_core::api::{
    CommandKind, CommandOutput, CommandResult, CommandState, DeviceCommand, DeviceHealth, DeviceStatus, TerminalReport,
};
use pos_core::{RegisterId, Yen};
use tokio::sync::watch;
use tokio::time::Instant;

pub use client::{ClientError, DeviceToken, GatewayClient};
pub use devices::{DeviceError, DeviceOpener, SystemDevices, TerminalAddress};
pub use journal::{CommandJournal, JournalEntry, JournalError};
pub use settings::{Bounds, SettingsError, SettingsFile};

use crate::printer::driver::{Printer, PrinterSettings};
use crate::printer::receipt::{Issue, Receipt};
use crate::scanner::Suffix;
use crate::terminal_sim::host::result_code::HOST_NOT_RESPONDING;
use crate::zvt::commands::fields::Password;
use crate::zvt::ecr::{EcrDriver, EcrSettings, Outcome};

/// What a counterd runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub register: RegisterId,
    /// The terminal's password (ZVT, six digits).
    pub terminal_password: Password,
    /// Printed on receipts.
    pub facility_name: String,
    pub city_name: String,
    pub state_file: std::path::PathBuf,
    pub bounds: Bounds,
    /// What ends a code from the barcode scanner.
    pub scanner_suffix: Suffix,
    pub customer_display: CustomerDisplay,
}

/// What the customer looks at while paying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CustomerDisplay {
    /// Nothing: a show-QR command is answered "not supported".
    #[default]
    None,
    /// The gateway's display page of the register (`/v1/registers/{id}/display`), on a screen
    /// facing the customer; it renders the register's QR payment code itself.
    DisplayPage,
}

#[derive(Debug, thiserror::Error)]
pub enum CounterdError {
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Exponential backoff between `min` and `max` milliseconds.
#[derive(Debug, Clone)]
pub struct Backoff {
    min_ms: u64,
    max_ms: u64,
    next_ms: u64,
}

impl Backoff {
    pub fn new(min_ms: u64, max_ms: u64) -> Backoff {
        let min_ms = min_ms.max(1);
        Backoff { min_ms, max_ms: max_ms.max(min_ms), next_ms: min_ms }
    }

    /// The wait before the next try; doubles up to the maximum.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next_ms;
        self.next_ms = self.next_ms.saturating_mul(2).min(self.max_ms);
        Duration::from_millis(delay)
    }

    pub fn reset(&mut self) {
        self.next_ms = self.min_ms;
    }
}

/// Why a command's outcome was not seen: the answer for a journaled start without a result.
pub const UNSEEN_OUTCOME: &str = "counterd stopped while the command ran; its outcome was not seen";

/// One counter's bridge.
pub struct Counterd {
    settings: Settings,
    client: GatewayClient,
    devices: Arc<dyn DeviceOpener>,
    journal: CommandJournal,
    terminal: Option<EcrDriver>,
    terminal_retry_at: Instant,
    terminal_backoff: Backoff,
    health: Arc<Mutex<DeviceHealth>>,
}

impl Counterd {
    /// Reads the journal; a journal that cannot be read stops counterd (it must not forget which
    /// commands it ran).
    pub fn new(
        settings: Settings,
        client: GatewayClient,
        devices: Arc<dyn DeviceOpener>,
    ) -> Result<Counterd, CounterdError> {
        let journal = CommandJournal::open(&settings.state_file)?;
        let printer = match devices.open_printer() {
            None => DeviceStatus::Absent,
            Some(Ok(_)) => DeviceStatus::Ready,
            Some(Err(_)) => DeviceStatus::Disconnected,
        };
        let health = DeviceHealth {
            terminal: DeviceStatus::Disconnected,
            printer,
            scanner: devices.scanner_status(),
            detail: String::new(),
        };
        let terminal_backoff = Backoff::new(settings.bounds.backoff_ms_min, settings.bounds.backoff_ms_max);
        Ok(Counterd {
            settings,
            client,
            devices,
            journal,
            terminal: None,
            terminal_retry_at: Instant::now(),
            terminal_backoff,
            health: Arc::new(Mutex::new(health)),
        })
    }

    /// Runs until `shutdown` completes. Never returns an error once started: every failure is
    /// retried with backoff.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        let health = self.health.clone();
        let client = self.client.clone();
        let interval = Duration::from_millis(self.settings.bounds.health_interval_ms.max(1));
        let reporter = async move {
            loop {
                let snapshot = lock(&health).clone();
                if let Err(error) = client.post_health(&snapshot).await {
                    tracing::debug!(%error, "counterd: health not reported");
                }
                tokio::time::sleep(interval).await;
            }
        };
        // Shutdown (Ctrl-C, SIGTERM) stops taking commands at once, but a command already started
        // runs to its end on the devices and is journaled: a charge is never cut off between the
        // terminal's approval and counterd's record of it. Its result is then posted once; if the
        // gateway cannot take it now, the journal answers the gateway's redelivery after restart.
        let (stop, stopping) = watch::channel(false);
        let signal = async move {
            shutdown.await;
            tracing::info!("counterd: stopping; a command in progress ends first");
            let _ = stop.send(true);
            std::future::pending::<()>().await
        };
        tokio::select! {
            () = signal => {}
            () = reporter => {}
            () = self.command_loop(stopping) => {}
        }
    }

    /// Takes commands until told to stop; returns between commands, never inside one.
    async fn command_loop(&mut self, mut stopping: watch::Receiver<bool>) {
        let bounds = self.settings.bounds.clone();
        let mut backoff = Backoff::new(bounds.backoff_ms_min, bounds.backoff_ms_max);
        loop {
            if *stopping.borrow() {
                return;
            }
            self.ensure_terminal();
            // Dropping a long poll is safe: a command the gateway handed out but nobody saw is
            // handed out again when this counter next asks.
            let next = tokio::select! {
                biased;
                _ = stopping.wait_for(|stop| *stop) => return,
                next = self.client.next_command(bounds.poll_wait_ms) => next,
            };
            match next {
                Ok(None) => backoff.reset(),
                Ok(Some(command)) => {
                    backoff.reset();
                    self.handle(command, &mut backoff, &stopping).await;
                }
                Err(error) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(%error, delay_ms = delay.as_millis() as u64, "counterd: no command from the gateway; retrying");
                    tokio::select! {
                        _ = stopping.wait_for(|stop| *stop) => return,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// Opens the terminal link if it is closed and its backoff has passed.
    fn ensure_terminal(&mut self) {
        if self.terminal.is_some() || Instant::now() < self.terminal_retry_at {
            return;
        }
        match self.devices.open_terminal() {
            Ok(link) => {
                self.terminal = Some(EcrDriver::new(link, EcrSettings::new(self.settings.terminal_password)));
                self.terminal_backoff.reset();
                self.set_health(|h| h.terminal = DeviceStatus::Ready);
                tracing::info!("counterd: terminal link open");
            }
            Err(error) => {
                self.terminal_retry_at = Instant::now() + self.terminal_backoff.next_delay();
                let detail = format!("terminal: {error}");
                self.set_health(|h| {
                    h.terminal = DeviceStatus::Disconnected;
                    h.detail = detail;
                });
                tracing::warn!(%error, "counterd: terminal link not open");
            }
        }
    }

    fn lose_terminal(&mut self, why: &str) {
        self.terminal = None;
        self.terminal_retry_at = Instant::now() + self.terminal_backoff.next_delay();
        let detail = format!("terminal: {why}");
        self.set_health(|h| {
            h.terminal = DeviceStatus::Disconnected;
            h.detail = detail;
        });
    }

    fn set_health(&self, change: impl FnOnce(&mut DeviceHealth)) {
        change(&mut lock(&self.health));
    }

    async fn handle(&mut self, command: DeviceCommand, backoff: &mut Backoff, stopping: &watch::Receiver<bool>) {
        let id = command.id.clone();
        let result = match self.journal.get(&id) {
            Some(JournalEntry { result: Some(result), .. }) => {
                tracing::info!(command = %id, "counterd: command seen before; answering from the journal");
                result.clone()
            }
            Some(JournalEntry { result: None, .. }) => {
                tracing::warn!(command = %id, "counterd: command started before a stop; answering unknown");
                let result = unknown(UNSEEN_OUTCOME.to_string(), None);
                if let Err(error) = self.journal.record_result(&id, &result) {
                    tracing::error!(%error, "counterd: the result could not be journaled; posting it anyway");
                }
                result
            }
            None => {
                if let Err(error) = self.journal.record_started(&id, &command.command, chrono::Utc::now()) {
                    // Not journaled, not run: the gateway delivers the command again.
                    let delay = backoff.next_delay();
                    tracing::error!(%error, command = %id, "counterd: cannot journal the start; not running it");
                    tokio::time::sleep(delay).await;
                    return;
                }
                let result = self.execute(&id, &command.command).await;
                if let Err(error) = self.journal.record_result(&id, &result) {
                    tracing::error!(%error, command = %id, "counterd: the result could not be journaled; posting it anyway");
                }
                result
            }
        };
        post_result(&self.client, &id, &result, backoff, stopping).await;
    }

    async fn execute(&mut self, id: &str, command: &CommandKind) -> CommandResult {
        match command {
            CommandKind::Charge { amount, .. } => self.charge(*amount).await,
            CommandKind::PrintReceipt { sale_id, reprint } => self.print_receipt(sale_id, *reprint).await,
            CommandKind::OpenDrawer => self.open_drawer().await,
            CommandKind::EndOfDay => self.end_of_day().await,
            CommandKind::ScanCode { sale_id, brand, wait_ms } => {
                self.scan_code(id, sale_id.as_deref(), *brand, *wait_ms).await
            }
            CommandKind::ShowQr { payload } => self.show_qr(payload),
        }
    }

    fn terminal(&mut self) -> Option<&mut EcrDriver> {
        if self.terminal.is_none() {
            // A command is waiting: try now rather than at the backoff's time.
            self.terminal_retry_at = Instant::now();
            self.ensure_terminal();
        }
        self.terminal.as_mut()
    }

    async fn charge(&mut self, amount: Yen) -> CommandResult {
        let deadline = Duration::from_millis(self.settings.bounds.charge_deadline_ms);
        let Some(terminal) = self.terminal() else {
            return failed("the payment terminal is not connected; nothing was sent to it".to_string(), None);
        };
        match terminal.authorization(amount, deadline).await {
            Ok(outcome) => self.charge_result(outcome),
            Err(error) => failed(format!("the terminal did not take the charge: {error}"), None),
        }
    }

    fn charge_result(&mut self, outcome: Outcome) -> CommandResult {
        let report = terminal_report(&outcome);
        match outcome {
            Outcome::Completed(_) if report.result_code.is_none_or(|code| code == 0) => {
                let card = report.masked_card.clone().unwrap_or_default();
                done(format!("approved {card}").trim().to_string(), Some(report))
            }
            // The terminal sent the authorization and its host never answered: the host (the
            // gateway) may have charged the card, so this is not a refusal but an open question.
            Outcome::Aborted { result_code, .. } if result_code == HOST_NOT_RESPONDING => unknown(
                format!(
                    "the terminal sent the authorization but its host did not answer (result code {:02X})",
                    result_code.0
                ),
                Some(report),
            ),
            Outcome::Completed(_) | Outcome::Aborted { .. } => {
                let code = report.result_code.map(|c| format!("{c:02X}")).unwrap_or_else(|| "none".to_string());
                failed(format!("the terminal did not approve: result code {code}"), Some(report))
            }
            Outcome::Unknown { reason, .. } => {
                self.lose_terminal(&reason);
                unknown(format!("the charge's outcome was not seen: {reason}"), Some(report))
            }
        }
    }

    async fn end_of_day(&mut self) -> CommandResult {
        let deadline = Duration::from_millis(self.settings.bounds.end_of_day_deadline_ms);
        let Some(terminal) = self.terminal() else {
            return failed("the payment terminal is not connected".to_string(), None);
        };
        match terminal.end_of_day(deadline).await {
            Ok(Outcome::Completed(report)) => match report.totals().map(|totals| totals.and_then(|t| t.to_api())) {
                Some(Ok(totals)) => {
                    let slots: Vec<String> = totals
                        .slots
                        .iter()
                        .filter(|slot| slot.count > 0 || slot.turnover != Yen::ZERO)
                        .map(|slot| format!("{} {} × {}", slot.slot.label(), slot.count, slot.turnover))
                        .collect();
                    let detail = format!(
                        "end of day done: receipts {:04}–{:04}; {}; total {}",
                        totals.receipt_first,
                        totals.receipt_last,
                        if slots.is_empty() { "no payments".to_string() } else { slots.join("; ") },
                        totals.total
                    );
                    CommandResult { output: Some(CommandOutput::EndOfDay { totals }), ..done(detail, None) }
                }
                // The batch is closed either way; the terminal's own print-out has the figures.
                Some(Err(error)) => done(format!("end of day done; the totals were unreadable: {error}"), None),
                None => done("end of day done; the terminal sent no totals".to_string(), None),
            },
            Ok(Outcome::Aborted { result_code, .. }) => {
                failed(format!("end of day refused: result code {:02X}", result_code.0), None)
            }
            Ok(Outcome::Unknown { reason, .. }) => {
                self.lose_terminal(&reason);
                unknown(format!("end of day's outcome was not seen: {reason}"), None)
            }
            Err(error) => failed(format!("the terminal did not take the end of day: {error}"), None),
        }
    }

    async fn print_receipt(&mut self, sale_id: &str, reprint: bool) -> CommandResult {
        let Some(stream) = self.devices.open_printer() else {
            return failed("no printer".to_string(), None);
        };
        let sale = match self.client.sale(sale_id).await {
            Ok(sale) => sale,
            Err(error) => return failed(format!("sale {sale_id} could not be read: {error}"), None),
        };
        let issue = if reprint { Issue::Reprint { printed_at: chrono::Utc::now() } } else { Issue::Original };
        let receipt = match Receipt::from_sale(&sale, &self.settings.facility_name, &self.settings.city_name, issue) {
            Ok(receipt) => receipt,
            Err(error) => return failed(error.to_string(), None),
        };
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                self.set_health(|h| h.printer = DeviceStatus::Disconnected);
                return failed(format!("printer: {error}"), None);
            }
        };
        let mut printer = Printer::new(stream, PrinterSettings::default());
        match printer.print_receipt(&receipt).await {
            Ok(status) => {
                let ready = if status.paper_near_end { DeviceStatus::NotReady } else { DeviceStatus::Ready };
                self.set_health(|h| h.printer = ready);
                done(format!("receipt {} printed", receipt.number_text()), None)
            }
            Err(error) => {
                let detail = format!("printer: {error}");
                self.set_health(|h| {
                    h.printer = DeviceStatus::NotReady;
                    h.detail = detail.clone();
                });
                failed(detail, None)
            }
        }
    }

    async fn open_drawer(&mut self) -> CommandResult {
        let stream = match self.devices.open_printer() {
            None => return failed("no printer (the drawer hangs on the printer)".to_string(), None),
            Some(Err(error)) => {
                self.set_health(|h| h.printer = DeviceStatus::Disconnected);
                return failed(format!("printer: {error}"), None);
            }
            Some(Ok(stream)) => stream,
        };
        let mut printer = Printer::new(stream, PrinterSettings::default());
        match printer.open_drawer().await {
            Ok(()) => done("drawer kicked".to_string(), None),
            Err(error) => failed(format!("drawer: {error}"), None),
        }
    }
}

/// Posts until the gateway takes the answer, or refuses it for good.
/// Posts a journaled result until the gateway has it; while stopping, one try only (the journal
/// keeps the result, and the gateway hands the command out again after the restart).
async fn post_result(
    client: &GatewayClient,
    id: &str,
    result: &CommandResult,
    backoff: &mut Backoff,
    stopping: &watch::Receiver<bool>,
) {
    let mut stopping = stopping.clone();
    loop {
        match client.post_result(id, result).await {
            Ok(_) => {
                backoff.reset();
                return;
            }
            Err(error) if error.is_transient() => {
                if *stopping.borrow() {
                    tracing::warn!(%error, command = %id, "counterd: stopping with the result journaled but not delivered; it is answered after the restart");
                    return;
                }
                let delay = backoff.next_delay();
                tracing::warn!(%error, command = %id, "counterd: result not delivered; retrying");
                tokio::select! {
                    _ = stopping.wait_for(|stop| *stop) => {}
                    () = tokio::time::sleep(delay) => {}
                }
            }
            Err(error) => {
                tracing::error!(%error, command = %id, "counterd: the gateway refused the result");
                return;
            }
        }
    }
}

fn lock(health: &Mutex<DeviceHealth>) -> std::sync::MutexGuard<'_, DeviceHealth> {
    // A poisoned lock only means a task panicked while holding it; the value is whole.
    health.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The charge's details as the terminal reported them (masked card only).
pub fn terminal_report(outcome: &Outcome) -> TerminalReport {
    let report = outcome.report();
    let status = report.status();
    TerminalReport {
        result_code: outcome.result_code().map(|code| code.0),
        trace_number: status.and_then(|s| s.trace_number).map(|t| t.get()),
        receipt_number: status.and_then(|s| s.receipt_number).map(|r| u32::from(r.get())),
        masked_card: status.and_then(|s| s.pan.as_ref()).map(|pan| pan.as_str().to_string()),
        brand: report.brand(),
        amount: report.amount(),
    }
}

fn done(detail: String, terminal: Option<TerminalReport>) -> CommandResult {
    CommandResult { state: CommandState::Done, detail, terminal, output: None }
}

fn failed(detail: String, terminal: Option<TerminalReport>) -> CommandResult {
    CommandResult { state: CommandState::Failed, detail, terminal, output: None }
}

fn unknown(detail: String, terminal: Option<TerminalReport>) -> CommandResult {
    CommandResult { state: CommandState::Unknown, detail, terminal, output: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_bound_and_resets() {
        let mut backoff = Backoff::new(100, 350);
        let delays: Vec<u64> = (0..4).map(|_| backoff.next_delay().as_millis() as u64).collect();
        assert_eq!(delays, [100, 200, 350, 350]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
    }
}
