//! Status enquiry `05 01`: is the terminal there and ready? The answer is a completion carrying
//! the software version and a terminal-status byte ([`super::StatusEnquiryCompletion`]).

use super::fields::Password;
use super::reader::DataReader;
use super::{apdu_with, expect_control, CommandError, ControlField};
use crate::zvt::apdu::Apdu;
use crate::zvt::EncodeError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEnquiry {
    pub password: Password,
}

impl StatusEnquiry {
    pub fn to_apdu(&self) -> Result<Apdu, EncodeError> {
        apdu_with(ControlField::STATUS_ENQUIRY, self.password.to_bcd())
    }

    pub fn decode(apdu: &Apdu) -> Result<StatusEnquiry, CommandError> {
        expect_control(apdu, ControlField::STATUS_ENQUIRY, "a status enquiry 05 01")?;
        let mut reader = DataReader::new(apdu, "status enquiry 05 01");
        let password = reader.password()?;
        reader.finish()?;
        Ok(StatusEnquiry { password })
    }
}
