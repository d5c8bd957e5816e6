//! The dialogue's messages: what the ECR sends and what the terminal answers, as typed values.
//!
//! Every message builds its APDU (`to_apdu`) and parses one (`decode`), so counterd (the ECR)
//! and the terminal simulator share one definition of each. The ECR's commands are
//! [`EcrCommand`]; everything the terminal sends is a [`TerminalMessage`]. The positive
//! acknowledgement `80 00 00` goes both ways and is an [`Acknowledgement`].
//!
//! The dialogue (PROTOCOLS.md §3): the ECR sends a command; the terminal acknowledges it; for a
//! command that completes later the terminal becomes master and sends intermediate status, status
//! information and print lines or text blocks, each acknowledged by the ECR, and at last a
//! completion or an abort, after which the ECR is master again.
//!
//! Decoding is strict where PROTOCOLS.md is: a command carries only the BMPs it may carry, none
//! twice, and a completion `06 0F` only BMPs 19, 29, 49 and 06. One file per message.

mod acknowledgement;
mod authorization;
mod completion;
mod end_of_day;
pub mod fields;
mod intermediate_status;
mod print;
mod reader;
mod refund;
mod registration;
mod reversal;
mod status_enquiry;
mod status_information;
mod terminal_abort;

pub use acknowledgement::Acknowledgement;
pub use authorization::Authorization;
pub use completion::{Completion, StatusEnquiryCompletion};
pub use end_of_day::EndOfDay;
pub use intermediate_status::IntermediateStatus;
pub use print::{PrintLine, TextBlock};
pub use refund::Refund;
pub use registration::{Registration, RegistrationConfig};
pub use reversal::Reversal;
pub use status_enquiry::StatusEnquiry;
pub use status_information::StatusInformation;
pub use terminal_abort::TerminalAbort;

use std::fmt;

use super::apdu::{Apdu, ApduError};
use super::bmp::{self, BmpError};
use super::EncodeError;

/// The class and instruction bytes that say what an APDU is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlField {
    pub class: u8,
    pub instruction: u8,
}

impl ControlField {
    pub const REGISTRATION: ControlField = ControlField::new(0x06, 0x00);
    pub const AUTHORIZATION: ControlField = ControlField::new(0x06, 0x01);
    pub const LOG_OFF: ControlField = ControlField::new(0x06, 0x02);
    pub const REVERSAL: ControlField = ControlField::new(0x06, 0x30);
    pub const REFUND: ControlField = ControlField::new(0x06, 0x31);
    pub const END_OF_DAY: ControlField = ControlField::new(0x06, 0x50);
    /// The ECR's abort command `06 B0`.
    pub const ABORT_COMMAND: ControlField = ControlField::new(0x06, 0xB0);
    pub const STATUS_ENQUIRY: ControlField = ControlField::new(0x05, 0x01);
    pub const POSITIVE_ACKNOWLEDGEMENT: ControlField = ControlField::new(0x80, 0x00);
    /// The class of a negative acknowledgement; its instruction byte is the error code.
    pub const NEGATIVE_ACKNOWLEDGEMENT_CLASS: u8 = 0x84;
    pub const INTERMEDIATE_STATUS: ControlField = ControlField::new(0x04, 0xFF);
    pub const STATUS_INFORMATION: ControlField = ControlField::new(0x04, 0x0F);
    pub const PRINT_LINE: ControlField = ControlField::new(0x06, 0xD1);
    pub const TEXT_BLOCK: ControlField = ControlField::new(0x06, 0xD3);
    pub const COMPLETION: ControlField = ControlField::new(0x06, 0x0F);
    /// The terminal's abort `06 1E`, which ends a dialogue with a result code.
    pub const ABORT: ControlField = ControlField::new(0x06, 0x1E);

    pub const fn new(class: u8, instruction: u8) -> ControlField {
        ControlField { class, instruction }
    }

    pub fn of(apdu: &Apdu) -> ControlField {
        ControlField::new(apdu.class(), apdu.instruction())
    }
}

impl fmt::Display for ControlField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X} {:02X}", self.class, self.instruction)
    }
}

/// Why an APDU is not the message expected. Offsets count from the APDU's class byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Apdu(#[from] ApduError),
    #[error(transparent)]
    Bmp(#[from] BmpError),
    #[error("{control} is not {expected}")]
    UnexpectedControlField { control: ControlField, expected: &'static str },
    #[error("{message} ends at byte {offset}: expected {expected}")]
    Truncated { message: &'static str, offset: usize, expected: &'static str },
    #[error("{message}: {what} byte {offset} is {byte:#04x}, which is not two BCD digits")]
    InvalidBcd { message: &'static str, what: &'static str, offset: usize, byte: u8 },
    #[error("{message}: {what} at byte {offset} is invalid: {reason}")]
    InvalidValue { message: &'static str, what: &'static str, offset: usize, reason: &'static str },
    #[error("{message}: {what} length at byte {offset} says {declared} bytes, but only {available} remain")]
    LongerThanData { message: &'static str, what: &'static str, offset: usize, declared: usize, available: usize },
    #[error("{message} may not carry BMP {tag:02X} ({name}), found at byte {offset}", name = bmp::name(*.tag))]
    FieldNotAllowed { message: &'static str, tag: u8, offset: usize },
    #[error("{message} carries BMP {tag:02X} ({name}) twice, again at byte {offset}", name = bmp::name(*.tag))]
    DuplicateField { message: &'static str, tag: u8, offset: usize },
    #[error("{message} lacks BMP {tag:02X} ({name})", name = bmp::name(*.tag))]
    MissingField { message: &'static str, tag: u8 },
    #[error("{message} carries no more data, but {count} bytes follow from byte {offset}")]
    UnexpectedData { message: &'static str, offset: usize, count: usize },
}

/// A command the ECR sends as master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcrCommand {
    Registration(Registration),
    Authorization(Authorization),
    Reversal(Reversal),
    Refund(Refund),
    EndOfDay(EndOfDay),
    StatusEnquiry(StatusEnquiry),
    /// `06 B0`: stop the transaction in progress.
    Abort,
    /// `06 02`: end the session started by a registration.
    LogOff,
}

impl EcrCommand {
    pub fn control_field(&self) -> ControlField {
        match self {
            EcrCommand::Registration(_) => ControlField::REGISTRATION,
            EcrCommand::Authorization(_) => ControlField::AUTHORIZATION,
            EcrCommand::Reversal(_) => ControlField::REVERSAL,
            EcrCommand::Refund(_) => ControlField::REFUND,
            EcrCommand::EndOfDay(_) => ControlField::END_OF_DAY,
            EcrCommand::StatusEnquiry(_) => ControlField::STATUS_ENQUIRY,
            EcrCommand::Abort => ControlField::ABORT_COMMAND,
            EcrCommand::LogOff => ControlField::LOG_OFF,
        }
    }

    pub fn to_apdu(&self) -> Result<Apdu, EncodeError> {
        match self {
            EcrCommand::Registration(command) => command.to_apdu(),
            EcrCommand::Authorization(command) => command.to_apdu(),
            EcrCommand::Reversal(command) => command.to_apdu(),
            EcrCommand::Refund(command) => command.to_apdu(),
            EcrCommand::EndOfDay(command) => command.to_apdu(),
            EcrCommand::StatusEnquiry(command) => command.to_apdu(),
            EcrCommand::Abort => Ok(Apdu::empty(0x06, 0xB0)),
            EcrCommand::LogOff => Ok(Apdu::empty(0x06, 0x02)),
        }
    }

    /// What the terminal reads: the command in an APDU from the ECR.
    pub fn decode(apdu: &Apdu) -> Result<EcrCommand, CommandError> {
        match ControlField::of(apdu) {
            ControlField::REGISTRATION => Registration::decode(apdu).map(EcrCommand::Registration),
            ControlField::AUTHORIZATION => Authorization::decode(apdu).map(EcrCommand::Authorization),
            ControlField::REVERSAL => Reversal::decode(apdu).map(EcrCommand::Reversal),
            ControlField::REFUND => Refund::decode(apdu).map(EcrCommand::Refund),
            ControlField::END_OF_DAY => EndOfDay::decode(apdu).map(EcrCommand::EndOfDay),
            ControlField::STATUS_ENQUIRY => StatusEnquiry::decode(apdu).map(EcrCommand::StatusEnquiry),
            ControlField::ABORT_COMMAND => expect_no_data(apdu, "abort command").map(|()| EcrCommand::Abort),
            ControlField::LOG_OFF => expect_no_data(apdu, "log-off").map(|()| EcrCommand::LogOff),
            control => Err(CommandError::UnexpectedControlField { control, expected: "an ECR command" }),
        }
    }
}

/// Something the terminal sends: an acknowledgement of the ECR's command, or (as master) a
/// message of the dialogue that the ECR acknowledges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalMessage {
    Acknowledgement(Acknowledgement),
    IntermediateStatus(IntermediateStatus),
    // Boxed: the status information is many times larger than every other message.
    StatusInformation(Box<StatusInformation>),
    PrintLine(PrintLine),
    TextBlock(TextBlock),
    Completion(Completion),
    StatusEnquiryCompletion(StatusEnquiryCompletion),
    Abort(TerminalAbort),
}

impl TerminalMessage {
    pub fn to_apdu(&self) -> Result<Apdu, EncodeError> {
        match self {
            TerminalMessage::Acknowledgement(message) => Ok(message.to_apdu()),
            TerminalMessage::IntermediateStatus(message) => message.to_apdu(),
            TerminalMessage::StatusInformation(message) => message.to_apdu(),
            TerminalMessage::PrintLine(message) => message.to_apdu(),
            TerminalMessage::TextBlock(message) => message.to_apdu(),
            TerminalMessage::Completion(message) => message.to_apdu(),
            TerminalMessage::StatusEnquiryCompletion(message) => message.to_apdu(),
            TerminalMessage::Abort(message) => message.to_apdu(),
        }
    }

    /// What the ECR reads: the terminal's message in an APDU.
    pub fn decode(apdu: &Apdu) -> Result<TerminalMessage, CommandError> {
        let control = ControlField::of(apdu);
        if control == ControlField::POSITIVE_ACKNOWLEDGEMENT
            || control.class == ControlField::NEGATIVE_ACKNOWLEDGEMENT_CLASS
        {
            return Acknowledgement::decode(apdu).map(TerminalMessage::Acknowledgement);
        }
        match control {
            ControlField::INTERMEDIATE_STATUS => {
                IntermediateStatus::decode(apdu).map(TerminalMessage::IntermediateStatus)
            }
            ControlField::STATUS_INFORMATION => {
                StatusInformation::decode(apdu).map(|message| TerminalMessage::StatusInformation(Box::new(message)))
            }
            ControlField::PRINT_LINE => PrintLine::decode(apdu).map(TerminalMessage::PrintLine),
            ControlField::TEXT_BLOCK => TextBlock::decode(apdu).map(TerminalMessage::TextBlock),
            ControlField::COMPLETION => {
                if StatusEnquiryCompletion::is_its_form(apdu) {
                    StatusEnquiryCompletion::decode(apdu).map(TerminalMessage::StatusEnquiryCompletion)
                } else {
                    Completion::decode(apdu).map(TerminalMessage::Completion)
                }
            }
            ControlField::ABORT => TerminalAbort::decode(apdu).map(TerminalMessage::Abort),
            control => Err(CommandError::UnexpectedControlField { control, expected: "a terminal message" }),
        }
    }
}

/// Decodes an ECR command from untrusted APDU bytes; an entry point for fuzzing. Never panics.
pub fn decode_ecr_command(bytes: &[u8]) -> Result<EcrCommand, CommandError> {
    EcrCommand::decode(&Apdu::decode(bytes)?)
}

/// Decodes a terminal message from untrusted APDU bytes; an entry point for fuzzing. Never panics.
pub fn decode_terminal_message(bytes: &[u8]) -> Result<TerminalMessage, CommandError> {
    TerminalMessage::decode(&Apdu::decode(bytes)?)
}

/// Refuses an APDU whose control field is not `expected`.
fn expect_control(apdu: &Apdu, expected: ControlField, message: &'static str) -> Result<(), CommandError> {
    let control = ControlField::of(apdu);
    if control != expected {
        return Err(CommandError::UnexpectedControlField { control, expected: message });
    }
    Ok(())
}

fn expect_no_data(apdu: &Apdu, message: &'static str) -> Result<(), CommandError> {
    if !apdu.data().is_empty() {
        return Err(CommandError::UnexpectedData { message, offset: apdu.data_offset(), count: apdu.data().len() });
    }
    Ok(())
}

/// Builds an APDU from a control field and BMP fields written in order.
fn apdu_with(control: ControlField, data: Vec<u8>) -> Result<Apdu, EncodeError> {
    Apdu::new(control.class, control.instruction, data)
}
