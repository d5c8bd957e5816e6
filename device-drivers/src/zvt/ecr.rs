//! The ECR driver: counterd's side of the ZVT dialogue (PROTOCOLS.md §3), as master.
//!
//! Each command runs the same dialogue: send the command; the terminal acknowledges `80 00 00`
//! (or refuses `84 xx 00`, which ends it); then, for commands that complete later, the terminal is
//! master and sends intermediate status `04 FF`, status information `04 0F` and print lines
//! `06 D1` / text blocks `06 D3`, each answered `80 00 00`, until completion `06 0F` or abort
//! `06 1E`. Abort `06 B0` and log-off `06 02` end at the acknowledgement.
//!
//! Every wait is bounded: the terminal has [`EcrSettings::acknowledgement_timeout_ms`] to
//! acknowledge, may stay silent at most [`EcrSettings::terminal_silence_timeout_ms`] while it is
//! master, and the caller's deadline bounds the whole command. When the dialogue breaks after the
//! command may have reached the terminal (the link fails, the terminal falls silent, the deadline
//! passes, the terminal sends something unreadable) the answer is [`Outcome::Unknown`]: the
//! terminal may have charged the card, so counterd reports the charge as unknown and the gateway
//! resolves it. It never guesses.
//!
//! The register aborts a payment in progress through an [`AbortHandle`]: the driver then answers
//! the terminal's next intermediate status with `06 B0` instead of `80 00 00`, and the terminal
//! ends with an abort `06 1E`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pos_core::{Brand, Yen};
use tokio::time::Instant;

use super::commands::fields::{Password, ReceiptNumber, ResultCode};
use super::commands::{
    Acknowledgement, Authorization, Completion, EcrCommand, EndOfDay, IntermediateStatus, PrintLine, Refund,
    Registration, RegistrationConfig, Reversal, StatusEnquiry, StatusEnquiryCompletion, StatusInformation,
    TerminalMessage, TextBlock,
};
use super::totals::{IndividualTotals, TotalsError};
use super::transport::ZvtLink;
use super::EncodeError;

/// The ZVT default for how long a terminal may take to acknowledge a command.
pub const ACKNOWLEDGEMENT_TIMEOUT_MS_DEFAULT: u64 = 5_000;
/// How long the terminal may stay silent while it is master. Terminals repeat their intermediate
/// status while they wait for the card or the host, so a long silence means the terminal is gone.
pub const TERMINAL_SILENCE_TIMEOUT_MS_DEFAULT: u64 = 60_000;

#[derive(Debug, Clone)]
pub struct EcrSettings {
    /// The terminal's password, sent with registration, reversal, refund, end of day and status
    /// enquiry.
    pub password: Password,
    /// The config byte of the registration.
    pub config: RegistrationConfig,
    pub acknowledgement_timeout_ms: u64,
    pub terminal_silence_timeout_ms: u64,
}

impl EcrSettings {
    /// counterd's settings: config byte `BA` and the default bounds.
    pub fn new(password: Password) -> EcrSettings {
        EcrSettings {
            password,
            config: RegistrationConfig::COUNTERD,
            acknowledgement_timeout_ms: ACKNOWLEDGEMENT_TIMEOUT_MS_DEFAULT,
            terminal_silence_timeout_ms: TERMINAL_SILENCE_TIMEOUT_MS_DEFAULT,
        }
    }
}

/// Asks the driver to abort the payment in progress. Cheap to clone and to send to another task.
#[derive(Debug, Clone, Default)]
pub struct AbortHandle(Arc<AtomicBool>);

impl AbortHandle {
    /// The next intermediate status of the running payment is answered with abort `06 B0`.
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn take(&self) -> bool {
        self.0.swap(false, Ordering::SeqCst)
    }

    fn clear(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Everything the terminal said while it was master.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub intermediate_statuses: Vec<IntermediateStatus>,
    pub status_information: Vec<StatusInformation>,
    pub print_lines: Vec<PrintLine>,
    pub text_blocks: Vec<TextBlock>,
    /// The completion of a transaction, end of day or registration.
    pub completion: Option<Completion>,
    /// The completion of a status enquiry.
    pub status_enquiry: Option<StatusEnquiryCompletion>,
}

impl Report {
    /// The transaction's details: the last status information the terminal sent.
    pub fn status(&self) -> Option<&StatusInformation> {
        self.status_information.last()
    }

    pub fn amount(&self) -> Option<Yen> {
        self.status().and_then(|status| status.amount)
    }

    /// The brand, from the card name (BMP 8B).
    pub fn brand(&self) -> Option<Brand> {
        self.status().and_then(StatusInformation::brand)
    }

    pub fn receipt_number(&self) -> Option<ReceiptNumber> {
        self.status().and_then(|status| status.receipt_number)
    }

    /// The end-of-day totals (BMP 60, ZVT's individual totals), if the terminal sent them, checked
    /// against the grand total (BMP 04) of the same status information.
    pub fn totals(&self) -> Option<Result<IndividualTotals, TotalsError>> {
        let status = self.status_information.iter().rev().find(|status| status.totals.is_some())?;
        let value = status.totals.as_deref().unwrap_or_default();
        Some(IndividualTotals::decode(value).and_then(|totals| {
            totals.check_grand_total(status.amount)?;
            Ok(totals)
        }))
    }

    /// The receipt text the terminal asked the ECR to print, one string per line.
    pub fn receipt_lines(&self) -> Vec<String> {
        self.print_lines.iter().map(PrintLine::text_lossy).collect()
    }
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The terminal completed `06 0F`. For a payment, the status information's result code says
    /// whether it was approved: see [`Outcome::is_approved`].
    Completed(Report),
    /// The terminal aborted `06 1E` with a result code: declined, cancelled, wrong currency …
    Aborted { result_code: ResultCode, report: Report },
    /// The dialogue broke after the command may have reached the terminal: the charge may or may
    /// not have happened. Never to be shown as success or failure.
    Unknown { reason: String, report: Report },
}

impl Outcome {
    /// Completed, and the status information (when sent) reports success.
    pub fn is_approved(&self) -> bool {
        match self {
            Outcome::Completed(report) => report.status().is_none_or(StatusInformation::is_success),
            _ => false,
        }
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Outcome::Unknown { .. })
    }

    pub fn report(&self) -> &Report {
        match self {
            Outcome::Completed(report) | Outcome::Aborted { report, .. } | Outcome::Unknown { report, .. } => report,
        }
    }

    /// The result code: from the abort, else from the status information.
    pub fn result_code(&self) -> Option<ResultCode> {
        match self {
            Outcome::Aborted { result_code, .. } => Some(*result_code),
            other => other.report().status().and_then(|status| status.result_code),
        }
    }
}

/// Why a command was not run. Everything here is certain: the terminal did not act on it.
#[derive(Debug, thiserror::Error)]
pub enum EcrError {
    #[error("the command cannot be encoded: {0}")]
    Encode(#[from] EncodeError),
    #[error("the terminal refused the command with 84 {code:02X} 00")]
    Refused { code: u8 },
}

/// Whether a command's dialogue goes on after the acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    AcknowledgementOnly,
    TerminalBecomesMaster,
}

/// The ECR side of one ZVT link.
pub struct EcrDriver {
    link: ZvtLink,
    settings: EcrSettings,
    abort: AbortHandle,
}

impl EcrDriver {
    pub fn new(link: ZvtLink, settings: EcrSettings) -> EcrDriver {
        EcrDriver { link, settings, abort: AbortHandle::default() }
    }

    /// A handle to abort the payment in progress from another task.
    pub fn abort_handle(&self) -> AbortHandle {
        self.abort.clone()
    }

    pub fn link(&self) -> &ZvtLink {
        &self.link
    }

    /// The link itself, to speak raw APDUs on it (tests and diagnostics).
    pub fn link_mut(&mut self) -> &mut ZvtLink {
        &mut self.link
    }

    /// Registration `06 00` with the config byte of the settings and currency JPY.
    pub async fn registration(&mut self, deadline: Duration) -> Result<Outcome, EcrError> {
        let registration = Registration {
            currency: Some(super::commands::fields::CurrencyCode::JPY),
            ..Registration::new(self.settings.password, self.settings.config)
        };
        self.run(EcrCommand::Registration(registration), Shape::TerminalBecomesMaster, deadline).await
    }

    /// Authorization `06 01` of `amount` yen (BMP 04 alone).
    pub async fn authorization(&mut self, amount: Yen, deadline: Duration) -> Result<Outcome, EcrError> {
        self.authorization_with(Authorization::new(amount), deadline).await
    }

    /// Authorization with the currency or TLV fields set by the caller.
    pub async fn authorization_with(
        &mut self,
        authorization: Authorization,
        deadline: Duration,
    ) -> Result<Outcome, EcrError> {
        self.run(EcrCommand::Authorization(authorization), Shape::TerminalBecomesMaster, deadline).await
    }

    /// Reversal `06 30` of the payment with the terminal's `receipt` number.
    pub async fn reversal(&mut self, receipt: ReceiptNumber, deadline: Duration) -> Result<Outcome, EcrError> {
        let reversal = Reversal { password: self.settings.password, receipt_number: receipt };
        self.run(EcrCommand::Reversal(reversal), Shape::TerminalBecomesMaster, deadline).await
    }

    /// Refund `06 31` of `amount` yen.
    pub async fn refund(&mut self, amount: Yen, deadline: Duration) -> Result<Outcome, EcrError> {
        let refund = Refund { password: self.settings.password, amount };
        self.run(EcrCommand::Refund(refund), Shape::TerminalBecomesMaster, deadline).await
    }

    /// End of day `06 50`; the totals are in [`Report::totals`].
    pub async fn end_of_day(&mut self, deadline: Duration) -> Result<Outcome, EcrError> {
        let command = EcrCommand::EndOfDay(EndOfDay { password: self.settings.password });
        self.run(command, Shape::TerminalBecomesMaster, deadline).await
    }

    /// Status enquiry `05 01`; the answer is in [`Report::status_enquiry`].
    pub async fn status_enquiry(&mut self, deadline: Duration) -> Result<Outcome, EcrError> {
        let command = EcrCommand::StatusEnquiry(StatusEnquiry { password: self.settings.password });
        self.run(command, Shape::TerminalBecomesMaster, deadline).await
    }

    /// Abort `06 B0` sent while the ECR is master (no transaction runs): the terminal only
    /// acknowledges. To abort a payment in progress, use [`EcrDriver::abort_handle`].
    pub async fn abort(&mut self, deadline: Duration) -> Result<Outcome, EcrError> {
        self.run(EcrCommand::Abort, Shape::AcknowledgementOnly, deadline).await
    }

    /// Log-off `06 02`: the terminal only acknowledges.
    pub async fn log_off(&mut self, deadline: Duration) -> Result<Outcome, EcrError> {
        self.run(EcrCommand::LogOff, Shape::AcknowledgementOnly, deadline).await
    }

    async fn run(&mut self, command: EcrCommand, shape: Shape, deadline: Duration) -> Result<Outcome, EcrError> {
        let until = Instant::now() + deadline;
        let apdu = command.to_apdu()?;
        // Left over from a dialogue that ended (e.g. a terminal that went on after refusing):
        // never to be read as the answer to this command.
        self.link.discard_pending().await;
        let mut report = Report::default();
        let outcome = match self.command_and_acknowledgement(&apdu, until).await {
            Err(Broken::Refused { code }) => {
                self.abort.clear();
                return Err(EcrError::Refused { code });
            }
            Err(Broken::Unknown(reason)) => Outcome::Unknown { reason, report },
            Ok(()) if shape == Shape::AcknowledgementOnly => Outcome::Completed(report),
            Ok(()) => match self.while_terminal_is_master(&command, &mut report, until).await {
                Ok(Ending::Completed) => Outcome::Completed(report),
                Ok(Ending::Aborted(result_code)) => Outcome::Aborted { result_code, report },
                Err(reason) => Outcome::Unknown { reason, report },
            },
        };
        self.abort.clear();
        if let Outcome::Unknown { reason, .. } = &outcome {
            tracing::warn!(control = %command.control_field(), %reason, "ZVT dialogue broke; outcome unknown");
        }
        Ok(outcome)
    }

    async fn command_and_acknowledgement(&mut self, apdu: &super::apdu::Apdu, until: Instant) -> Result<(), Broken> {
        match tokio::time::timeout_at(until, self.link.send(apdu)).await {
            Err(_) => return Err(Broken::Unknown("the deadline passed while sending the command".to_string())),
            Ok(Err(error)) => return Err(Broken::Unknown(format!("sending the command failed: {error}"))),
            Ok(Ok(())) => {}
        }
        let wait = bounded_wait(until, self.settings.acknowledgement_timeout_ms);
        let answer = self
            .link
            .receive(wait)
            .await
            .map_err(|error| Broken::Unknown(format!("no acknowledgement of the command: {error}")))?;
        match TerminalMessage::decode(&answer) {
            Ok(TerminalMessage::Acknowledgement(Acknowledgement::Positive)) => Ok(()),
            Ok(TerminalMessage::Acknowledgement(Acknowledgement::Negative { code })) => Err(Broken::Refused { code }),
            Ok(other) => Err(Broken::Unknown(format!("the terminal answered the command with {other:?}"))),
            Err(error) => Err(Broken::Unknown(format!("the terminal's answer is unreadable: {error}"))),
        }
    }

    async fn while_terminal_is_master(
        &mut self,
        command: &EcrCommand,
        report: &mut Report,
        until: Instant,
    ) -> Result<Ending, String> {
        let abortable = matches!(command, EcrCommand::Authorization(_) | EcrCommand::Refund(_));
        loop {
            if Instant::now() >= until {
                return Err("the caller's deadline passed while the terminal was master".to_string());
            }
            let wait = bounded_wait(until, self.settings.terminal_silence_timeout_ms);
            let apdu = self.link.receive(wait).await.map_err(|error| format!("the terminal fell silent: {error}"))?;
            let message = TerminalMessage::decode(&apdu)
                .map_err(|error| format!("the terminal sent an unreadable message: {error}"))?;
            let ending = match message {
                TerminalMessage::IntermediateStatus(status) => {
                    report.intermediate_statuses.push(status);
                    if abortable && self.abort.take() {
                        self.answer(&EcrCommand::Abort.to_apdu().map_err(|error| error.to_string())?, until).await?;
                        continue;
                    }
                    None
                }
                TerminalMessage::StatusInformation(status) => {
                    report.status_information.push(*status);
                    None
                }
                TerminalMessage::PrintLine(line) => {
                    report.print_lines.push(line);
                    None
                }
                TerminalMessage::TextBlock(block) => {
                    report.text_blocks.push(block);
                    None
                }
                TerminalMessage::Completion(completion) => {
                    report.completion = Some(completion);
                    Some(Ending::Completed)
                }
                TerminalMessage::StatusEnquiryCompletion(completion) => {
                    report.status_enquiry = Some(completion);
                    Some(Ending::Completed)
                }
                TerminalMessage::Abort(abort) => Some(Ending::Aborted(abort.result_code)),
                // A terminal that acknowledges our abort 06 B0 before its own 06 1E; nothing to
                // answer, the abort follows.
                TerminalMessage::Acknowledgement(_) => continue,
            };
            let acknowledged = self.answer(&Acknowledgement::Positive.to_apdu(), until).await;
            match ending {
                // The outcome is known once the completion or abort is read, even if our
                // acknowledgement of it does not get through.
                Some(ending) => {
                    if let Err(reason) = acknowledged {
                        tracing::warn!(%reason, "could not acknowledge the terminal's last message");
                    }
                    return Ok(ending);
                }
                None => acknowledged?,
            }
        }
    }

    async fn answer(&mut self, apdu: &super::apdu::Apdu, until: Instant) -> Result<(), String> {
        match tokio::time::timeout_at(until, self.link.send(apdu)).await {
            Err(_) => Err("the caller's deadline passed while answering the terminal".to_string()),
            Ok(Err(error)) => Err(format!("answering the terminal failed: {error}")),
            Ok(Ok(())) => Ok(()),
        }
    }
}

enum Broken {
    Refused { code: u8 },
    Unknown(String),
}

enum Ending {
    Completed,
    Aborted(ResultCode),
}

/// The shorter of `bound_ms` and the time left until `until`.
fn bounded_wait(until: Instant, bound_ms: u64) -> Duration {
    let left = until.saturating_duration_since(Instant::now());
    left.min(Duration::from_millis(bound_ms))
}
