//! The terminal simulator: the payment terminal's (PT's) side of ZVT, for tests, the demo and
//! interop checks with other ECR libraries.
//!
//! It serves one ECR over a [`ZvtLink`] (serial on a real port or a pty, or TCP) and answers
//! every command of PROTOCOLS.md §3 as a real terminal would: registration (with or without
//! currency), authorization (with or without BMP 49, with an empty TLV; a foreign currency is
//! acknowledged and aborted with `6F`), reversal by receipt number, refund, end of day (ZVT's
//! individual totals in BMP 60, see [`crate::zvt::totals`], and the per-brand detail printed), status enquiry (software version and status
//! `00`), abort and log-off (acknowledged only). The password is not checked.
//!
//! For a payment it shows "insert card" (intermediate status, repeated every
//! [`SimulatorOptions::status_interval_ms`] until the card is presented after
//! [`SimulatorOptions::card_presentation_ms`]), reads a card from its [`CardSource`], authorizes
//! with the gateway's terminal host over ISO 8583/TLS ([`host`]) while showing "please wait",
//! and reports status information (amount, trace, time and date, masked PAN, result code,
//! terminal id, receipt number, card name = brand code, card type), print lines, and completion —
//! or an abort with a result code when declined. Trace and receipt counters, the payments a
//! reversal may name and the totals persist in a state file ([`state`]).
//!
//! After every ending — a completion, an abort from either side, a negative acknowledgement — the
//! terminal is idle at once (PROTOCOLS.md §3): a command that comes instead of the ECR's
//! `80 00 00` to the ending is the next command and gets its own dialogue, and an `80 00 00` that
//! comes late (it crossed the terminal's abort) is not a command and gets no answer. While the
//! terminal is master it takes the ECR's abort `06 B0` at any time during the card wait (not only
//! in answer to an intermediate status), ignores a copy of the command it runs, and refuses any
//! other command with `84 83 00` and nothing after it.
//!
//! Faults on demand ([`Faults::arm`], each used once): the card is removed, the customer
//! cancels, the host is unreachable, link noise (a frame with a bad CRC, a dropped ACK), and power
//! loss after the host approved (the terminal stops answering; the ECR must call it unknown).

pub mod card;
pub mod host;
pub mod state;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Datelike, Timelike};
use pos_core::{mask_pan, Brand, Clock, Yen};
use tokio::sync::broadcast;
use tokio::time::Instant;

pub use card::{CardSource, SimulatedCard};
use host::{result_code, HostVerdict, Purpose};
use state::{StateError, StoredPayment, TerminalState};

use crate::zvt::apdu::Apdu;
use crate::zvt::commands::fields::{
    CurrencyCode, MonthDay, ReceiptNumber, ResultCode, TerminalNumber, TimeOfDay, TraceNumber,
};
use crate::zvt::commands::{
    Acknowledgement, Completion, ControlField, EcrCommand, IntermediateStatus, PrintLine, StatusEnquiryCompletion,
    StatusInformation, TerminalAbort, TerminalMessage,
};
use crate::zvt::totals::{self, IndividualTotals};
use crate::zvt::transport::{LinkError, LinkFault, ZvtLink};
use pos_core::api::TotalsSlot;

/// How long the idle terminal waits for a command before checking for shutdown again.
pub const IDLE_RECEIVE_MS: u64 = 500;
pub const CARD_PRESENTATION_MS_DEFAULT: u64 = 300;
pub const STATUS_INTERVAL_MS_DEFAULT: u64 = 1_000;
pub const HOST_TIMEOUT_MS_DEFAULT: u64 = 20_000;
/// How long the terminal, as master, waits for the ECR's `80 00 00`.
pub const ECR_ANSWER_TIMEOUT_MS_DEFAULT: u64 = 5_000;
/// The version the status enquiry reports.
pub const SOFTWARE_VERSION: &str = "POS-SIM 0.1";

/// The error code of `84 xx 00` when the terminal cannot carry out a command (unreadable, or sent
/// while it is busy with another).
pub const REFUSED_NOT_POSSIBLE: u8 = 0x83;

/// Intermediate status codes (ZVT): what the terminal's display says.
pub const STATUS_INSERT_CARD: u8 = 0x0A;
pub const STATUS_PLEASE_WAIT: u8 = 0x17;

#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    /// BMP 29 and ISO 8583 field 41 (eight digits).
    pub terminal_id: TerminalNumber,
    /// Where trace and receipt counters and totals survive a restart.
    pub state_file: PathBuf,
    pub card_presentation_ms: u64,
    pub status_interval_ms: u64,
    pub host_timeout_ms: u64,
    pub ecr_answer_timeout_ms: u64,
}

impl SimulatorOptions {
    pub fn new(terminal_id: TerminalNumber, state_file: PathBuf) -> SimulatorOptions {
        SimulatorOptions {
            terminal_id,
            state_file,
            card_presentation_ms: CARD_PRESENTATION_MS_DEFAULT,
            status_interval_ms: STATUS_INTERVAL_MS_DEFAULT,
            host_timeout_ms: HOST_TIMEOUT_MS_DEFAULT,
            ecr_answer_timeout_ms: ECR_ANSWER_TIMEOUT_MS_DEFAULT,
        }
    }
}

/// A fault the simulator plays once, at its point in the next dialogue that reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The card is pulled out before it is read: abort `64`, nothing sent to the host.
    CardRemoved,
    /// The customer presses cancel while asked for the card: abort `6C`.
    CustomerCancels,
    /// The host cannot be reached: abort `A3`, nothing sent.
    HostUnreachable,
    /// The terminal's next frame goes out once with a bad CRC.
    BadCrcOnce,
    /// The ACK of the next frame from the ECR is lost (and the frame with it).
    DropAckOnce,
    /// After the host approves, the terminal loses power: it answers nothing more.
    PowerLoss,
}

/// The faults armed on a simulator; cheap to clone, usable from another task.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<Vec<Fault>>>);

impl Faults {
    pub fn arm(&self, fault: Fault) {
        self.lock().push(fault);
    }

    /// Whether `fault` was armed; disarms it.
    pub fn take(&self, fault: Fault) -> bool {
        let mut armed = self.lock();
        match armed.iter().position(|candidate| *candidate == fault) {
            Some(index) => {
                armed.remove(index);
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        // A poisoned list only means a task panicked while holding it; the list is intact.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What the simulator is doing, for tests and logs to wait on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimulatorEvent {
    CommandReceived(ControlField),
    AwaitingCard,
    HostRequestSent { trace_number: u32 },
    HostAnswered,
    PowerLost,
    CommandFinished(ControlField),
}

/// How many events a slow subscriber may fall behind before it misses some.
const EVENT_QUEUE_DEPTH: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error(transparent)]
    State(#[from] StateError),
}

/// Why a dialogue stopped before its end.
#[derive(Debug, thiserror::Error)]
enum DialogueError {
    #[error("link: {0}")]
    Link(#[from] LinkError),
    #[error("a message could not be encoded: {0}")]
    Encode(#[from] crate::zvt::EncodeError),
}

/// How the ECR answered a message the terminal sent as master.
enum EcrAnswer {
    Acknowledged,
    AbortRequested,
}

enum Handled {
    Done,
    PowerLost,
}

pub struct TerminalSimulator {
    options: SimulatorOptions,
    /// The APDU of the command being run, to recognise a copy of it.
    running: Option<Apdu>,
    /// A command the ECR sent while the last dialogue was ending.
    next_command: Option<Apdu>,
    state: TerminalState,
    cards: CardSource,
    host: Option<iso8583::client::Client>,
    clock: Arc<dyn Clock>,
    faults: Faults,
    events: broadcast::Sender<SimulatorEvent>,
}

impl TerminalSimulator {
    /// A simulator reading its state file; `host` is the terminal host client (`None`: every
    /// authorization finds the host unreachable).
    pub fn new(
        options: SimulatorOptions,
        cards: CardSource,
        host: Option<iso8583::client::Client>,
        clock: Arc<dyn Clock>,
    ) -> Result<TerminalSimulator, SimulatorError> {
        let state = TerminalState::load(&options.state_file)?;
        let (events, _) = broadcast::channel(EVENT_QUEUE_DEPTH);
        Ok(TerminalSimulator {
            options,
            running: None,
            next_command: None,
            state,
            cards,
            host,
            clock,
            faults: Faults::default(),
            events,
        })
    }

    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SimulatorEvent> {
        self.events.subscribe()
    }

    pub fn state(&self) -> &TerminalState {
        &self.state
    }

    /// Serves the ECR on `link` until `shutdown` resolves or the ECR closes the link. After a
    /// power-loss fault it answers nothing more and only waits for `shutdown`.
    pub async fn serve(
        &mut self,
        mut link: ZvtLink,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), SimulatorError> {
        tokio::pin!(shutdown);
        loop {
            if self.faults.take(Fault::DropAckOnce) {
                link.inject(LinkFault::DropAckOnce);
            }
            // A command that arrived while the last dialogue was ending goes first.
            let received = match self.next_command.take() {
                Some(apdu) => Ok(apdu),
                None => tokio::select! {
                    () = &mut shutdown => return Ok(()),
                    received = link.receive(Duration::from_millis(IDLE_RECEIVE_MS)) => received,
                },
            };
            let apdu = match received {
                Ok(apdu) => apdu,
                Err(LinkError::ReceiveTimeout { .. }) => continue,
                Err(LinkError::Closed) => return Ok(()),
                Err(error) => {
                    tracing::warn!(%error, "terminal simulator: unreadable input from the ECR");
                    continue;
                }
            };
            if apdu == Acknowledgement::Positive.to_apdu() {
                // The ECR's acknowledgement of a message of a dialogue that has ended (it crossed
                // our abort, or came after we stopped waiting for it): not a command, no answer.
                tracing::debug!("terminal simulator: a late 80 00 00 while idle; nothing to answer");
                continue;
            }
            let command = match EcrCommand::decode(&apdu) {
                Ok(command) => command,
                Err(error) => {
                    tracing::warn!(%error, "terminal simulator: refusing a command it cannot read");
                    // 84 83 00: the terminal cannot carry out the command — and nothing follows.
                    let _ = link.send(&Acknowledgement::Negative { code: REFUSED_NOT_POSSIBLE }.to_apdu()).await;
                    continue;
                }
            };
            let control = command.control_field();
            self.emit(SimulatorEvent::CommandReceived(control));
            if self.faults.take(Fault::BadCrcOnce) {
                link.inject(LinkFault::BadCrcOnce);
            }
            self.running = Some(apdu);
            let handled = self.handle(&mut link, command).await;
            self.running = None;
            match handled {
                Ok(Handled::Done) => {}
                Ok(Handled::PowerLost) => {
                    self.emit(SimulatorEvent::PowerLost);
                    shutdown.await;
                    return Ok(());
                }
                Err(error) => tracing::warn!(%error, %control, "terminal simulator: dialogue broke"),
            }
            self.emit(SimulatorEvent::CommandFinished(control));
        }
    }

    fn emit(&self, event: SimulatorEvent) {
        // Nobody listening is fine: events are for observers only.
        let _ = self.events.send(event);
    }

    async fn handle(&mut self, link: &mut ZvtLink, command: EcrCommand) -> Result<Handled, DialogueError> {
        acknowledge(link).await?;
        match command {
            EcrCommand::Registration(_) => {
                let completion = Completion {
                    terminal_id: Some(self.options.terminal_id),
                    currency: Some(CurrencyCode::JPY),
                    ..Completion::default()
                };
                self.send_last(link, TerminalMessage::Completion(completion)).await
            }
            EcrCommand::Authorization(authorization) => match authorization.currency {
                Some(currency) if currency != CurrencyCode::JPY => {
                    self.send_abort(link, ResultCode::WRONG_CURRENCY).await
                }
                _ => self.payment(link, Purpose::Purchase, authorization.amount).await,
            },
            EcrCommand::Refund(refund) => self.payment(link, Purpose::Refund, refund.amount).await,
            EcrCommand::Reversal(reversal) => self.reversal(link, reversal.receipt_number).await,
            EcrCommand::EndOfDay(_) => self.end_of_day(link).await,
            EcrCommand::StatusEnquiry(_) => {
                let completion = StatusEnquiryCompletion {
                    software_version: SOFTWARE_VERSION.to_string(),
                    terminal_status: StatusEnquiryCompletion::TERMINAL_READY,
                    tlv: None,
                };
                self.send_last(link, TerminalMessage::StatusEnquiryCompletion(completion)).await
            }
            // Nothing runs while the ECR is master, so there is nothing to abort; log-off ends at
            // the acknowledgement too.
            EcrCommand::Abort | EcrCommand::LogOff => Ok(Handled::Done),
        }
    }

    async fn payment(&mut self, link: &mut ZvtLink, purpose: Purpose, amount: Yen) -> Result<Handled, DialogueError> {
        self.emit(SimulatorEvent::AwaitingCard);
        let presented_at = Instant::now() + Duration::from_millis(self.options.card_presentation_ms);
        loop {
            let insert_card = IntermediateStatus { status: STATUS_INSERT_CARD, timeout_seconds: None, tlv: None };
            if let EcrAnswer::AbortRequested =
                self.send_as_master(link, TerminalMessage::IntermediateStatus(insert_card)).await?
            {
                return self.send_abort(link, result_code::ABORTED).await;
            }
            if self.faults.take(Fault::CustomerCancels) {
                return self.send_abort(link, result_code::ABORTED).await;
            }
            let now = Instant::now();
            if now >= presented_at {
                break;
            }
            let pause = Duration::from_millis(self.options.status_interval_ms).min(presented_at - now);
            // The ECR may abort at any time while the terminal waits for the card, not only in
            // answer to an intermediate status: listen rather than sleep.
            if let EcrAnswer::AbortRequested = self.listen(link, pause).await? {
                return self.send_abort(link, result_code::ABORTED).await;
            }
        }
        if self.faults.take(Fault::CardRemoved) {
            return self.send_abort(link, result_code::CARD_NOT_READABLE).await;
        }
        let card = self.cards.next_card(self.state.trace_number.wrapping_add(1));
        let trace = self.state.next_trace_number();
        if let Err(error) = self.state.save(&self.options.state_file) {
            tracing::error!(%error, "terminal simulator: cannot persist the trace number");
            return self.send_abort(link, result_code::SYSTEM_ERROR).await;
        }
        let verdict = self.authorize(link, purpose, trace, amount, &card).await?;
        self.emit(SimulatorEvent::HostAnswered);
        match verdict {
            HostVerdict::Approved { authorization_code, .. } => {
                self.approved(link, purpose, trace, amount, &card, authorization_code).await
            }
            HostVerdict::Declined { result_code, response_code } => {
                tracing::info!(%response_code, "terminal simulator: host declined");
                self.send_abort(link, result_code).await
            }
            HostVerdict::Unreachable { result_code, reason } => {
                tracing::warn!(%reason, "terminal simulator: host unreachable");
                self.send_abort(link, result_code).await
            }
        }
    }

    /// Sends the 0200 and shows "please wait" until the answer comes.
    async fn authorize(
        &mut self,
        link: &mut ZvtLink,
        purpose: Purpose,
        trace: u32,
        amount: Yen,
        card: &SimulatedCard,
    ) -> Result<HostVerdict, DialogueError> {
        let unreachable = |reason: &str| HostVerdict::Unreachable {
            result_code: result_code::NO_HOST_CONNECTION,
            reason: reason.to_string(),
        };
        if self.faults.take(Fault::HostUnreachable) {
            return Ok(unreachable("fault: host unreachable"));
        }
        let Some(client) = self.host.clone() else { return Ok(unreachable("no terminal host configured")) };
        let terminal_id = self.options.terminal_id.to_string();
        let Some(message) = host::request(purpose, &terminal_id, trace, amount, card, self.clock.now()) else {
            return Ok(unreachable("the amount cannot be sent in field 4"));
        };
        self.emit(SimulatorEvent::HostRequestSent { trace_number: trace });
        let deadline = Duration::from_millis(self.options.host_timeout_ms);
        let mut request = tokio::spawn(async move { client.request(&message, deadline).await });
        loop {
            let interval = tokio::time::sleep(Duration::from_millis(self.options.status_interval_ms));
            tokio::select! {
                answer = &mut request => {
                    return Ok(match answer {
                        Ok(answer) => host::verdict(answer),
                        Err(error) => HostVerdict::Unreachable {
                            result_code: result_code::HOST_NOT_RESPONDING,
                            reason: format!("the host request task failed: {error}"),
                        },
                    });
                }
                () = interval => {
                    let wait = IntermediateStatus { status: STATUS_PLEASE_WAIT, timeout_seconds: None, tlv: None };
                    // Once the request is out, an abort from the ECR is too late: the host decides.
                    self.send_as_master(link, TerminalMessage::IntermediateStatus(wait)).await?;
                }
            }
        }
    }

    async fn approved(
        &mut self,
        link: &mut ZvtLink,
        purpose: Purpose,
        trace: u32,
        amount: Yen,
        card: &SimulatedCard,
        authorization_code: Option<String>,
    ) -> Result<Handled, DialogueError> {
        let receipt = self.state.next_receipt_number();
        match purpose {
            Purpose::Purchase => self.state.add_payment(card.brand.code(), amount.get()),
            Purpose::Refund => self.state.add_refund(card.brand.code(), amount.get()),
        }
        if purpose == Purpose::Purchase {
            let payment = StoredPayment {
                brand: card.brand.code().to_string(),
                amount_yen: amount.get(),
                trace_number: trace,
                reversed: false,
            };
            self.state.remember_payment(receipt, payment);
        }
        if let Err(error) = self.state.save(&self.options.state_file) {
            tracing::error!(%error, "terminal simulator: cannot persist the payment");
        }
        if self.faults.take(Fault::PowerLoss) {
            return Ok(Handled::PowerLost);
        }
        let mut status = self.status_information(trace, receipt, card.brand);
        status.amount = Some(amount);
        status.pan = card.pan.as_deref().and_then(|pan| mask_pan(pan).ok());
        status.authorization_attribute = authorization_code.as_deref().map(authorization_attribute);
        if let Some(card_id) = &card.card_id {
            status.additional_text = Some(format!("ID {card_id}").into_bytes());
        }
        let card_shown = status
            .pan
            .as_ref()
            .map(|pan| pan.as_str().to_string())
            .or_else(|| card.card_id.clone())
            .unwrap_or_default();
        self.send_as_master(link, TerminalMessage::StatusInformation(Box::new(status))).await?;
        let heading = match purpose {
            Purpose::Purchase => "SALE",
            Purpose::Refund => "REFUND",
        };
        let lines = [
            format!("{heading} / TERMINAL {}", self.options.terminal_id),
            format!("{} {card_shown}", card.brand.code()),
            format!("AMOUNT JPY {}", amount.get()),
            format!("TRACE {trace:06} RECEIPT {receipt:04}"),
            format!("AUTH {}", authorization_code.as_deref().unwrap_or("-")),
            "APPROVED".to_string(),
        ];
        self.print(link, &lines).await?;
        self.send_last(link, TerminalMessage::Completion(self.completion())).await
    }

    async fn reversal(&mut self, link: &mut ZvtLink, receipt: ReceiptNumber) -> Result<Handled, DialogueError> {
        let original = self.state.payments.get(&receipt.get()).filter(|payment| !payment.reversed).cloned();
        let Some(original) = original else {
            return self.send_abort(link, result_code::REVERSAL_NOT_POSSIBLE).await;
        };
        let brand = original.brand.parse::<Brand>().unwrap_or(Brand::Visa);
        let trace = self.state.next_trace_number();
        let receipt_new = self.state.next_receipt_number();
        if let Some(payment) = self.state.payments.get_mut(&receipt.get()) {
            payment.reversed = true;
        }
        self.state.remove_reversed(&original.brand, original.amount_yen);
        if let Err(error) = self.state.save(&self.options.state_file) {
            tracing::error!(%error, "terminal simulator: cannot persist the reversal");
        }
        let mut status = self.status_information(trace, receipt_new, brand);
        status.amount = Yen::new(original.amount_yen).ok();
        status.original_trace_number = TraceNumber::new(original.trace_number).ok();
        self.send_as_master(link, TerminalMessage::StatusInformation(Box::new(status))).await?;
        let lines = [
            format!("REVERSAL / TERMINAL {}", self.options.terminal_id),
            format!("{} AMOUNT JPY {}", original.brand, original.amount_yen),
            format!("ORIGINAL RECEIPT {:04}", receipt.get()),
        ];
        self.print(link, &lines).await?;
        self.send_last(link, TerminalMessage::Completion(self.completion())).await
    }

    async fn end_of_day(&mut self, link: &mut ZvtLink) -> Result<Handled, DialogueError> {
        let Some((totals, grand_total)) = self.individual_totals() else {
            tracing::error!("terminal simulator: the period's totals in the state file are out of range");
            return self.send_abort(link, result_code::SYSTEM_ERROR).await;
        };
        let trace = self.state.next_trace_number();
        let mut status = self.status_information(trace, self.state.receipt_number, Brand::Visa);
        status.card_name = None;
        status.card_type = None;
        status.receipt_number = None;
        status.amount = Some(grand_total);
        status.totals = Some(totals.encode()?);
        self.send_as_master(link, TerminalMessage::StatusInformation(Box::new(status))).await?;
        self.print(link, &self.end_of_day_lines(&totals, grand_total)).await?;
        // The batch is closed once the ECR has the totals; a new period starts from zero.
        self.state.close_period();
        if let Err(error) = self.state.save(&self.options.state_file) {
            tracing::error!(%error, "terminal simulator: cannot persist the end of day");
        }
        self.send_last(link, TerminalMessage::Completion(self.completion())).await
    }

    /// The open period's payments as BMP 60 — per ZVT slot the count (at most
    /// [`totals::SLOT_COUNT_MAX`]) and the turnover net of reversals — and their sum (BMP 04).
    /// `None` when a stored amount is negative or the sum overflows (a damaged state file).
    fn individual_totals(&self) -> Option<(IndividualTotals, Yen)> {
        let (first, last) = match self.state.period_first_receipt {
            Some(first) => (first, self.state.receipt_number),
            None => (0, 0),
        };
        let mut totals = IndividualTotals {
            receipt_first: ReceiptNumber::new(first).ok()?,
            receipt_last: ReceiptNumber::new(last).ok()?,
            ..IndividualTotals::default()
        };
        let mut counts = [0u32; 7];
        for (code, total) in &self.state.totals {
            let Ok(brand) = code.parse::<Brand>() else { continue };
            let slot = totals::slot_of(brand);
            let index = TotalsSlot::ALL.iter().position(|candidate| *candidate == slot)?;
            counts[index] = counts[index].saturating_add(total.count);
            let amount = Yen::new(total.amount_yen).ok().filter(|amount| !amount.is_negative())?;
            let entry = totals.slot_mut(slot);
            entry.turnover = entry.turnover.checked_add(amount).ok()?;
        }
        for (slot, count) in totals.slots.iter_mut().zip(counts) {
            // ZVT's count is one byte; the exact count is on the print-out.
            slot.count = u8::try_from(count.min(totals::SLOT_COUNT_MAX)).unwrap_or(u8::MAX);
        }
        let grand_total = totals.turnover_total().ok()?;
        Some((totals, grand_total))
    }

    /// The end of day's print-out: per brand (more than BMP 60's slots say), refunds, the total.
    fn end_of_day_lines(&self, totals: &IndividualTotals, grand_total: Yen) -> Vec<String> {
        let mut lines = vec![format!("END OF DAY / TERMINAL {}", self.options.terminal_id)];
        lines.push(format!("RECEIPTS {:04}-{:04}", totals.receipt_first.get(), totals.receipt_last.get()));
        lines.extend(
            self.state
                .totals
                .iter()
                .map(|(brand, total)| format!("{brand} {} x JPY {}", total.count, total.amount_yen)),
        );
        lines.extend(
            self.state
                .refund_totals
                .iter()
                .map(|(brand, total)| format!("REFUND {brand} {} x JPY {}", total.count, total.amount_yen)),
        );
        lines.push(format!("TOTAL JPY {}", grand_total.get()));
        lines
    }

    fn status_information(&self, trace: u32, receipt: u16, brand: Brand) -> StatusInformation {
        let local = self.clock.now().with_timezone(&pos_core::time::jst());
        let two_digits = |value: u32| u8::try_from(value).unwrap_or(0);
        StatusInformation {
            result_code: Some(ResultCode::SUCCESS),
            currency: Some(CurrencyCode::JPY),
            trace_number: TraceNumber::new(trace).ok(),
            receipt_number: ReceiptNumber::new(receipt).ok(),
            terminal_id: Some(self.options.terminal_id),
            time: TimeOfDay::new(two_digits(local.hour()), two_digits(local.minute()), two_digits(local.second())),
            date: MonthDay::new(two_digits(local.month()), two_digits(local.day())),
            card_name: Some(brand.code().to_string()),
            card_type: Some(card_type(brand)),
            ..StatusInformation::default()
        }
    }

    fn completion(&self) -> Completion {
        Completion { terminal_id: Some(self.options.terminal_id), ..Completion::default() }
    }

    async fn print(&mut self, link: &mut ZvtLink, lines: &[String]) -> Result<(), DialogueError> {
        for line in lines {
            let line = PrintLine { attribute: 0x00, text: line.clone().into_bytes() };
            self.send_as_master(link, TerminalMessage::PrintLine(line)).await?;
        }
        Ok(())
    }

    /// Sends a message as master and reads the ECR's answer.
    async fn send_as_master(
        &mut self,
        link: &mut ZvtLink,
        message: TerminalMessage,
    ) -> Result<EcrAnswer, DialogueError> {
        link.send(&message.to_apdu()?).await?;
        let until = Instant::now() + Duration::from_millis(self.options.ecr_answer_timeout_ms);
        loop {
            let wait = until.saturating_duration_since(Instant::now());
            let answer = link.receive(wait).await?;
            if let Some(answer) = self.answer_while_master(link, answer).await? {
                return Ok(answer);
            }
        }
    }

    /// Waits up to `pause` for something from the ECR while the terminal is master and has
    /// nothing outstanding (between intermediate statuses): an abort ends the wait.
    async fn listen(&mut self, link: &mut ZvtLink, pause: Duration) -> Result<EcrAnswer, DialogueError> {
        let until = Instant::now() + pause;
        loop {
            let wait = until.saturating_duration_since(Instant::now());
            let received = match link.receive(wait).await {
                Err(LinkError::ReceiveTimeout { .. }) => return Ok(EcrAnswer::Acknowledged),
                received => received?,
            };
            match self.answer_while_master(link, received).await? {
                Some(EcrAnswer::AbortRequested) => return Ok(EcrAnswer::AbortRequested),
                // An acknowledgement nobody asked for: its message's answer came already.
                Some(EcrAnswer::Acknowledged) | None => {}
            }
        }
    }

    /// What an APDU from the ECR means while the terminal is master: the answer `80 00 00`, an
    /// abort `06 B0`, or nothing for the dialogue (`None`): the command being run once more (a
    /// copy), or another command, which the terminal cannot take now and refuses `84 83 00` —
    /// and sends nothing more for it.
    async fn answer_while_master(&self, link: &mut ZvtLink, apdu: Apdu) -> Result<Option<EcrAnswer>, DialogueError> {
        if apdu == Acknowledgement::Positive.to_apdu() {
            return Ok(Some(EcrAnswer::Acknowledged));
        }
        if ControlField::of(&apdu) == ControlField::ABORT_COMMAND {
            return Ok(Some(EcrAnswer::AbortRequested));
        }
        if self.running.as_ref() == Some(&apdu) {
            tracing::debug!("terminal simulator: the running command came again; ignored");
            return Ok(None);
        }
        tracing::warn!(control = %ControlField::of(&apdu), "terminal simulator: a command while busy; refused");
        link.send(&Acknowledgement::Negative { code: REFUSED_NOT_POSSIBLE }.to_apdu()).await?;
        Ok(None)
    }

    /// Sends the completion or abort that ends the dialogue. The terminal is idle from here: it
    /// waits a bounded time for the ECR's `80 00 00`, and a command that comes instead is the
    /// ECR's next one, run as soon as this returns.
    async fn send_last(&mut self, link: &mut ZvtLink, message: TerminalMessage) -> Result<Handled, DialogueError> {
        link.send(&message.to_apdu()?).await?;
        let until = Instant::now() + Duration::from_millis(self.options.ecr_answer_timeout_ms);
        loop {
            let wait = until.saturating_duration_since(Instant::now());
            let answer = match link.receive(wait).await {
                Ok(answer) => answer,
                Err(LinkError::ReceiveTimeout { .. }) => {
                    tracing::debug!("terminal simulator: the ECR did not acknowledge the end of the dialogue");
                    return Ok(Handled::Done);
                }
                Err(error) => return Err(error.into()),
            };
            if answer == Acknowledgement::Positive.to_apdu() {
                return Ok(Handled::Done);
            }
            if self.running.as_ref() == Some(&answer) {
                // A copy of the command that has just ended; nothing to do.
                continue;
            }
            self.next_command = Some(answer);
            return Ok(Handled::Done);
        }
    }

    async fn send_abort(&mut self, link: &mut ZvtLink, code: ResultCode) -> Result<Handled, DialogueError> {
        self.send_last(link, TerminalMessage::Abort(TerminalAbort::new(code))).await
    }
}

async fn acknowledge(link: &mut ZvtLink) -> Result<(), LinkError> {
    link.send(&Acknowledgement::Positive.to_apdu()).await
}

/// BMP 3B: the approval code, ASCII, padded with NUL to 8 bytes.
fn authorization_attribute(code: &str) -> [u8; 8] {
    let mut bytes = [0u8; 8];
    for (slot, byte) in bytes.iter_mut().zip(code.bytes().filter(u8::is_ascii_graphic)) {
        *slot = byte;
    }
    bytes
}

/// BMP 8A, the card type. Brands in the ZVT card-type list keep their number there (Mastercard
/// 6, American Express 8, Visa 10, JCB 14); the others, which ZVT does not list, take numbers
/// from `C0` up in this system's own range. The brand itself travels as the card name (BMP 8B).
pub fn card_type(brand: Brand) -> u8 {
    match brand {
        Brand::Mastercard => 6,
        Brand::Amex => 8,
        Brand::Visa => 10,
        Brand::Jcb => 14,
        Brand::UnionPay => 0xC0,
        Brand::TransitIc => 0xC1,
        Brand::Id => 0xC2,
        Brand::QuicPay => 0xC3,
        Brand::Waon => 0xC4,
        Brand::Nanaco => 0xC5,
        Brand::Edy => 0xC6,
        _ => 0xCF,
    }
}
