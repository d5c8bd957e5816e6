//! Authorization `06 01`: take a payment of an amount.
//!
//! BMP `04` carries the amount in the currency's minor unit, which for yen is the yen itself.
//! BMP `49` (currency) and an empty TLV container `06 00` may follow; a terminal accepts both
//! and also an authorization without BMP `49`. Refusing a foreign currency is the terminal's
//! decision (it acknowledges, then aborts with result code `6F`), so decoding keeps the currency.

use pos_core::Yen;

use super::fields::{amount_to_bcd, CurrencyCode};
use super::reader::DataReader;
use super::{apdu_with, expect_control, CommandError, ControlField};
use crate::zvt::apdu::Apdu;
use crate::zvt::bmp::{self, BmpField, BmpValue};
use crate::zvt::tlv::TlvContainer;
use crate::zvt::EncodeError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub amount: Yen,
    pub currency: Option<CurrencyCode>,
    pub tlv: Option<TlvContainer>,
}

impl Authorization {
    const MESSAGE: &'static str = "authorization 06 01";
    const ALLOWED_FIELDS: [u8; 3] = [bmp::tag::AMOUNT, bmp::tag::CURRENCY, bmp::tag::TLV_CONTAINER];

    /// An authorization of `amount` with BMP 04 alone, as in the protocol's test vectors.
    pub fn new(amount: Yen) -> Authorization {
        Authorization { amount, currency: None, tlv: None }
    }

    pub fn to_apdu(&self) -> Result<Apdu, EncodeError> {
        let mut data = Vec::new();
        BmpField::new(bmp::tag::AMOUNT, BmpValue::Bcd(amount_to_bcd(self.amount)?))?.encode_into(&mut data)?;
        if let Some(currency) = self.currency {
            BmpField::new(bmp::tag::CURRENCY, BmpValue::Bcd(currency.to_bcd()))?.encode_into(&mut data)?;
        }
        if let Some(tlv) = &self.tlv {
            BmpField::tlv(tlv.clone()).encode_into(&mut data)?;
        }
        apdu_with(ControlField::AUTHORIZATION, data)
    }

    pub fn decode(apdu: &Apdu) -> Result<Authorization, CommandError> {
        expect_control(apdu, ControlField::AUTHORIZATION, "an authorization 06 01")?;
        let mut fields = DataReader::new(apdu, Authorization::MESSAGE).fields(&Authorization::ALLOWED_FIELDS)?;
        let amount =
            fields.amount()?.ok_or(CommandError::MissingField { message: fields.message(), tag: bmp::tag::AMOUNT })?;
        let currency = fields.currency()?;
        let tlv = fields.tlv()?;
        Ok(Authorization { amount, currency, tlv })
    }
}
