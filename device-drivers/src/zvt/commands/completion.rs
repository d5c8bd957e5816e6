//! Completion `06 0F`: the terminal is done and the ECR is master again.
//!
//! Two forms share the control field (PROTOCOLS.md §3). After a transaction the completion carries
//! only BMPs `19` (payment type), `29` (terminal id), `49` (currency) and `06` (TLV); the details
//! went in the status information before it. After a status enquiry it carries the software
//! version as LLLVAR ASCII, then one terminal-status byte (`00` ready). The first data byte tells
//! them apart: an LLLVAR starts with a length digit `F0`–`F9`, which is none of the four BMP tags.

use super::fields::{CurrencyCode, TerminalNumber};
use super::reader::{invalid, DataReader};
use super::{apdu_with, expect_control, CommandError, ControlField};
use crate::zvt::apdu::Apdu;
use crate::zvt::bmp::{self, BmpField, BmpValue, LLLVAR_BYTES_MAX};
use crate::zvt::tlv::TlvContainer;
use crate::zvt::EncodeError;

/// The completion of a transaction, an end of day, a registration and the like.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    pub payment_type: Option<u8>,
    pub terminal_id: Option<TerminalNumber>,
    pub currency: Option<CurrencyCode>,
    pub tlv: Option<TlvContainer>,
}

impl Completion {
    const MESSAGE: &'static str = "completion 06 0F";
    const ALLOWED_FIELDS: [u8; 4] =
        [bmp::tag::PAYMENT_TYPE, bmp::tag::TERMINAL_ID, bmp::tag::CURRENCY, bmp::tag::TLV_CONTAINER];

    pub fn to_apdu(&self) -> Result<Apdu, EncodeError> {
        let mut data = Vec::new();
        if let Some(payment_type) = self.payment_type {
            BmpField::byte(bmp::tag::PAYMENT_TYPE, payment_type)?.encode_into(&mut data)?;
        }
        if let Some(terminal_id) = self.terminal_id {
            BmpField::new(bmp::tag::TERMINAL_ID, BmpValue::Bcd(terminal_id.to_bcd()))?.encode_into(&mut data)?;
        }
        if let Some(currency) = self.currency {
            BmpField::new(bmp::tag::CURRENCY, BmpValue::Bcd(currency.to_bcd()))?.encode_into(&mut data)?;
        }
        if let Some(tlv) = &self.tlv {
            BmpField::tlv(tlv.clone()).encode_into(&mut data)?;
        }
        apdu_with(ControlField::COMPLETION, data)
    }

    pub fn decode(apdu: &Apdu) -> Result<Completion, CommandError> {
        expect_control(apdu, ControlField::COMPLETION, "a completion 06 0F")?;
        let mut fields = DataReader::new(apdu, Completion::MESSAGE).fields(&Completion::ALLOWED_FIELDS)?;
        Ok(Completion {
            payment_type: fields.byte(bmp::tag::PAYMENT_TYPE)?,
            terminal_id: fields.terminal_number()?,
            currency: fields.currency()?,
            tlv: fields.tlv()?,
        })
    }
}

/// The completion that answers a status enquiry `05 01`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEnquiryCompletion {
    /// The terminal's software version, printable ASCII.
    pub software_version: String,
    /// `00` when the terminal is ready.
    pub terminal_status: u8,
    pub tlv: Option<TlvContainer>,
}

impl StatusEnquiryCompletion {
    /// The terminal-status byte of a ready terminal.
    pub const TERMINAL_READY: u8 = 0x00;
    const MESSAGE: &'static str = "status enquiry completion 06 0F";
    const ALLOWED_FIELDS: [u8; 1] = [bmp::tag::TLV_CONTAINER];

    /// Whether a completion APDU has this form: its data starts with an LLLVAR length digit.
    pub fn is_its_form(apdu: &Apdu) -> bool {
        apdu.data().first().is_some_and(|byte| (0xF0..=0xF9).contains(byte))
    }

    pub fn is_ready(&self) -> bool {
        self.terminal_status == StatusEnquiryCompletion::TERMINAL_READY
    }

    pub fn to_apdu(&self) -> Result<Apdu, EncodeError> {
        let version = self.software_version.as_bytes();
        if !version.iter().all(|byte| byte.is_ascii_graphic() || *byte == b' ') {
            return Err(EncodeError::NotAscii { what: "software version" });
        }
        if version.len() > LLLVAR_BYTES_MAX {
            return Err(EncodeError::TextTooLong {
                what: "software version",
                length: version.len(),
                length_max: LLLVAR_BYTES_MAX,
            });
        }
        let length = version.len();
        let mut data = vec![0xF0 | (length / 100) as u8, 0xF0 | (length / 10 % 10) as u8, 0xF0 | (length % 10) as u8];
        data.extend_from_slice(version);
        data.push(self.terminal_status);
        if let Some(tlv) = &self.tlv {
            BmpField::tlv(tlv.clone()).encode_into(&mut data)?;
        }
        apdu_with(ControlField::COMPLETION, data)
    }

    pub fn decode(apdu: &Apdu) -> Result<StatusEnquiryCompletion, CommandError> {
        expect_control(apdu, ControlField::COMPLETION, "a completion 06 0F")?;
        let mut reader = DataReader::new(apdu, StatusEnquiryCompletion::MESSAGE);
        let version_offset = reader.offset() + 3;
        let version = reader.lllvar("the software version (LLLVAR)")?;
        if !version.iter().all(|byte| byte.is_ascii_graphic() || *byte == b' ') {
            return Err(invalid(
                StatusEnquiryCompletion::MESSAGE,
                "software version",
                version_offset,
                "not printable ASCII",
            ));
        }
        let software_version = String::from_utf8_lossy(version).into_owned();
        let terminal_status = reader.byte("the terminal-status byte")?;
        let tlv = reader.fields(&StatusEnquiryCompletion::ALLOWED_FIELDS)?.tlv()?;
        Ok(StatusEnquiryCompletion { software_version, terminal_status, tlv })
    }
}
