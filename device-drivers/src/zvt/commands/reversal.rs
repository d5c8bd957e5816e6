//! Reversal `06 30`: cancel an earlier payment, named by the terminal's receipt number.
//!
//! The receipt number (BMP `87`) is the terminal's own counter, which survives a power loss, so
//! a reversal after a restart still finds its payment.

use super::fields::{Password, ReceiptNumber};
use super::reader::DataReader;
use super::{apdu_with, expect_control, CommandError, ControlField};
use crate::zvt::apdu::Apdu;
use crate::zvt::bmp::{self, BmpField, BmpValue};
use crate::zvt::EncodeError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reversal {
    pub password: Password,
    pub receipt_number: ReceiptNumber,
}

impl Reversal {
    const MESSAGE: &'static str = "reversal 06 30";
    const ALLOWED_FIELDS: [u8; 1] = [bmp::tag::RECEIPT_NUMBER];

    pub fn to_apdu(&self) -> Result<Apdu, EncodeError> {
        let mut data = self.password.to_bcd();
        BmpField::new(bmp::tag::RECEIPT_NUMBER, BmpValue::Bcd(self.receipt_number.to_bcd()))?.encode_into(&mut data)?;
        apdu_with(ControlField::REVERSAL, data)
    }

    pub fn decode(apdu: &Apdu) -> Result<Reversal, CommandError> {
        expect_control(apdu, ControlField::REVERSAL, "a reversal 06 30")?;
        let mut reader = DataReader::new(apdu, Reversal::MESSAGE);
        let password = reader.password()?;
        let mut fields = reader.fields(&Reversal::ALLOWED_FIELDS)?;
        let receipt_number = fields
            .receipt_number()?
            .ok_or(CommandError::MissingField { message: Reversal::MESSAGE, tag: bmp::tag::RECEIPT_NUMBER })?;
        Ok(Reversal { password, receipt_number })
    }
}
