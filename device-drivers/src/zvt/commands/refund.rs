//! Refund `06 31`: pay an amount back to a card.

use pos_core::Yen;

use super::fields::{amount_to_bcd, Password};
use super::reader::DataReader;
use super::{apdu_with, expect_control, CommandError, ControlField};
use crate::zvt::apdu::Apdu;
use crate::zvt::bmp::{self, BmpField, BmpValue};
use crate::zvt::EncodeError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub password: Password,
    pub amount: Yen,
}

impl Refund {
    const MESSAGE: &'static str = "refund 06 31";
    const ALLOWED_FIELDS: [u8; 1] = [bmp::tag::AMOUNT];

    pub fn to_apdu(&self) -> Result<Apdu, EncodeError> {
        let mut data = self.password.to_bcd();
        BmpField::new(bmp::tag::AMOUNT, BmpValue::Bcd(amount_to_bcd(self.amount)?))?.encode_into(&mut data)?;
        apdu_with(ControlField::REFUND, data)
    }

    pub fn decode(apdu: &Apdu) -> Result<Refund, CommandError> {
        expect_control(apdu, ControlField::REFUND, "a refund 06 31")?;
        let mut reader = DataReader::new(apdu, Refund::MESSAGE);
        let password = reader.password()?;
        let mut fields = reader.fields(&Refund::ALLOWED_FIELDS)?;
        let amount =
            fields.amount()?.ok_or(CommandError::MissingField { message: Refund::MESSAGE, tag: bmp::tag::AMOUNT })?;
        Ok(Refund { password, amount })
    }
}
