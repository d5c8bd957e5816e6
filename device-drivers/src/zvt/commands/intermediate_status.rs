//! Intermediate status `04 FF`: what the terminal is doing ("insert card", "PIN entry"), sent
//! while a transaction runs; the ECR shows it and acknowledges.
//!
//! Data: the status byte, then optionally a timeout byte and optionally a TLV container (BMP 06).
//! The two optional parts are told apart by shape: the rest is read as a lone TLV container first,
//! and otherwise as a timeout byte followed by at most a TLV container.

use super::reader::DataReader;
use super::{apdu_with, expect_control, CommandError, ControlField};
use crate::zvt::apdu::Apdu;
use crate::zvt::bmp::{self, BmpField};
use crate::zvt::tlv::TlvContainer;
use crate::zvt::EncodeError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntermediateStatus {
    /// The terminal's status code; its meaning is the terminal's display text.
    pub status: u8,
    pub timeout_seconds: Option<u8>,
    pub tlv: Option<TlvContainer>,
}

impl IntermediateStatus {
    const MESSAGE: &'static str = "intermediate status 04 FF";
    const ALLOWED_FIELDS: [u8; 1] = [bmp::tag::TLV_CONTAINER];

    pub fn to_apdu(&self) -> Result<Apdu, EncodeError> {
        let mut data = vec![self.status];
        data.extend(self.timeout_seconds);
        if let Some(tlv) = &self.tlv {
            BmpField::tlv(tlv.clone()).encode_into(&mut data)?;
        }
        apdu_with(ControlField::INTERMEDIATE_STATUS, data)
    }

    pub fn decode(apdu: &Apdu) -> Result<IntermediateStatus, CommandError> {
        expect_control(apdu, ControlField::INTERMEDIATE_STATUS, "an intermediate status 04 FF")?;
        let mut reader = DataReader::new(apdu, IntermediateStatus::MESSAGE);
        let status = reader.byte("the status byte")?;
        if reader.remaining() == 0 {
            return Ok(IntermediateStatus { status, timeout_seconds: None, tlv: None });
        }
        if let Ok(mut fields) = reader.clone().fields(&IntermediateStatus::ALLOWED_FIELDS) {
            return Ok(IntermediateStatus { status, timeout_seconds: None, tlv: fields.tlv()? });
        }
        let timeout_seconds = Some(reader.byte("the timeout byte")?);
        let tlv = reader.fields(&IntermediateStatus::ALLOWED_FIELDS)?.tlv()?;
        Ok(IntermediateStatus { status, timeout_seconds, tlv })
    }
}
