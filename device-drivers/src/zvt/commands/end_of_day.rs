//! End of day `06 50`: the terminal settles its batch; the status information before the
//! completion carries the totals in BMP `60`.

use super::fields::Password;
use super::reader::DataReader;
use super::{apdu_with, expect_control, CommandError, ControlField};
use crate::zvt::apdu::Apdu;
use crate::zvt::EncodeError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndOfDay {
    pub password: Password,
}

impl EndOfDay {
    pub fn to_apdu(&self) -> Result<Apdu, EncodeError> {
        apdu_with(ControlField::END_OF_DAY, self.password.to_bcd())
    }

    pub fn decode(apdu: &Apdu) -> Result<EndOfDay, CommandError> {
        expect_control(apdu, ControlField::END_OF_DAY, "an end-of-day 06 50")?;
        let mut reader = DataReader::new(apdu, "end-of-day 06 50");
        let password = reader.password()?;
        reader.finish()?;
        Ok(EndOfDay { password })
    }
}
