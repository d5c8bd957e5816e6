//! Registration `06 00`: the ECR logs on to the terminal and sets how the dialogue runs.
//!
//! Layout (PROTOCOLS.md §3): password (3 BCD), config byte, then the currency code (2 BCD) *by
//! position* when at least two more bytes follow, then BMPs `03` (service byte) and `06` (TLV).
//! So a registration that sends a service byte or a TLV sends the currency too, and
//! `06 00 06 12 34 56 ba 03 92` is JPY, never "service byte 0x92". Without a currency the
//! terminal's own (JPY) applies.

use super::fields::{CurrencyCode, Password};
use super::reader::DataReader;
use super::{apdu_with, expect_control, CommandError, ControlField};
use crate::zvt::apdu::Apdu;
use crate::zvt::bmp::{self, BmpField};
use crate::zvt::tlv::TlvContainer;
use crate::zvt::EncodeError;

/// The config byte of a registration: which side prints and controls what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegistrationConfig(pub u8);

impl RegistrationConfig {
    /// The ECR prints payment receipts (the terminal sends them as print lines or text blocks).
    pub const ECR_PRINTS_PAYMENT_RECEIPTS: u8 = 0x02;
    /// The ECR prints administration receipts (end of day and the like).
    pub const ECR_PRINTS_ADMINISTRATION_RECEIPTS: u8 = 0x04;
    /// The terminal sends intermediate status `04 FF`.
    pub const INTERMEDIATE_STATUS: u8 = 0x08;
    /// The ECR controls payments: the amount cannot be typed on the terminal.
    pub const ECR_CONTROLS_PAYMENT: u8 = 0x10;
    /// The ECR controls administration functions.
    pub const ECR_CONTROLS_ADMINISTRATION: u8 = 0x20;
    /// The ECR print type (how receipts reach the ECR: print lines or text blocks).
    pub const ECR_PRINT_TYPE: u8 = 0x80;

    /// `BA`, the config of PROTOCOLS.md's test vector and counterd's: the ECR prints and
    /// controls everything and wants intermediate status.
    pub const COUNTERD: RegistrationConfig = RegistrationConfig(0xBA);

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit == bit
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub password: Password,
    pub config: RegistrationConfig,
    pub currency: Option<CurrencyCode>,
    pub service_byte: Option<u8>,
    pub tlv: Option<TlvContainer>,
}

impl Registration {
    const MESSAGE: &'static str = "registration 06 00";
    const ALLOWED_FIELDS: [u8; 2] = [bmp::tag::SERVICE_BYTE, bmp::tag::TLV_CONTAINER];

    /// A registration with only password and config byte, as in the protocol's test vector.
    pub fn new(password: Password, config: RegistrationConfig) -> Registration {
        Registration { password, config, currency: None, service_byte: None, tlv: None }
    }

    pub fn to_apdu(&self) -> Result<Apdu, EncodeError> {
        let mut data = self.password.to_bcd();
        data.push(self.config.0);
        match self.currency {
            Some(currency) => data.extend(currency.to_bcd()),
            // Without the currency, a BMP after the config byte would be read as a currency.
            None if self.service_byte.is_some() || self.tlv.is_some() => {
                return Err(EncodeError::RegistrationCurrencyRequired)
            }
            None => {}
        }
        if let Some(service_byte) = self.service_byte {
            BmpField::byte(bmp::tag::SERVICE_BYTE, service_byte)?.encode_into(&mut data)?;
        }
        if let Some(tlv) = &self.tlv {
            BmpField::tlv(tlv.clone()).encode_into(&mut data)?;
        }
        apdu_with(ControlField::REGISTRATION, data)
    }

    pub fn decode(apdu: &Apdu) -> Result<Registration, CommandError> {
        expect_control(apdu, ControlField::REGISTRATION, "a registration 06 00")?;
        let mut reader = DataReader::new(apdu, Registration::MESSAGE);
        let password = reader.password()?;
        let config = RegistrationConfig(reader.byte("the config byte")?);
        let currency = if reader.remaining() >= CurrencyCode::BCD_BYTES { Some(reader.currency()?) } else { None };
        let mut fields = reader.fields(&Registration::ALLOWED_FIELDS)?;
        let service_byte = fields.byte(bmp::tag::SERVICE_BYTE)?;
        let tlv = fields.tlv()?;
        Ok(Registration { password, config, currency, service_byte, tlv })
    }
}
