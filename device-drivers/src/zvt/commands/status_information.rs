//! Status information `04 0F`: the details of a transaction (or an end of day's totals), sent by
//! the terminal before the completion.
//!
//! Any BMP of the table may appear, each at most once. The ones PROTOCOLS.md §3 names become typed
//! fields; any other known BMP is kept in [`StatusInformation::other_fields`], so nothing the
//! terminal said is dropped. The brand comes from the card name (BMP 8B) when it is one of the
//! brand codes of PROTOCOLS.md §1.
//!
//! The card number (BMP 22) is a [`MaskedPan`]. A terminal that sends more than the first 6 and
//! last 4 digits breaks the contract; the BMP decoder masks the extra digits before they reach
//! this struct and [`StatusInformation::pan_masked_by_decoder`] says so. We mask rather than
//! refuse because refusing would drop the details of a payment the terminal has already taken.

use pos_core::{Brand, MaskedPan, Yen};

use super::fields::{
    amount_to_bcd, CurrencyCode, ExpiryDate, MonthDay, ReceiptNumber, ResultCode, TerminalNumber, TimeOfDay,
    TraceNumber, TurnoverNumber,
};
use super::reader::{invalid, DataReader};
use super::{apdu_with, expect_control, CommandError, ControlField};
use crate::zvt::apdu::Apdu;
use crate::zvt::bmp::{tag, BmpField, BmpValue};
use crate::zvt::tlv::TlvContainer;
use crate::zvt::EncodeError;

/// The length of BMP 3B.
pub const AUTHORIZATION_ATTRIBUTE_BYTES: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusInformation {
    /// BMP 27; `00` is success.
    pub result_code: Option<ResultCode>,
    /// BMP 04.
    pub amount: Option<Yen>,
    /// BMP 49.
    pub currency: Option<CurrencyCode>,
    /// BMP 0B.
    pub trace_number: Option<TraceNumber>,
    /// BMP 37: the trace number of the payment a reversal cancels.
    pub original_trace_number: Option<TraceNumber>,
    /// BMP 87.
    pub receipt_number: Option<ReceiptNumber>,
    /// BMP 88.
    pub turnover_number: Option<TurnoverNumber>,
    /// BMP 29.
    pub terminal_id: Option<TerminalNumber>,
    /// BMP 0C, terminal local time.
    pub time: Option<TimeOfDay>,
    /// BMP 0D, terminal local date without the year.
    pub date: Option<MonthDay>,
    /// BMP 0E.
    pub expiry_date: Option<ExpiryDate>,
    /// BMP 17, four digits.
    pub card_sequence_number: Option<u16>,
    /// BMP 19.
    pub payment_type: Option<u8>,
    /// BMP 8A.
    pub card_type: Option<u8>,
    /// BMP 22, never more than first 6 / last 4 digits.
    pub pan: Option<MaskedPan>,
    /// True when the terminal sent a PAN showing more digits and the decoder masked them.
    pub pan_masked_by_decoder: bool,
    /// BMP 8B, without the NUL bytes some terminals end it with.
    pub card_name: Option<String>,
    /// BMP 3B, which PROTOCOLS.md calls the AID: in ZVT the authorisation attribute, i.e. the
    /// approval code the card issuer gave (ASCII, NUL-padded).
    pub authorization_attribute: Option<[u8; AUTHORIZATION_ATTRIBUTE_BYTES]>,
    /// BMP 3C, as the terminal sent it.
    pub additional_text: Option<Vec<u8>>,
    /// BMP 60, the end-of-day totals, as the terminal sent them.
    pub totals: Option<Vec<u8>>,
    /// BMP 06.
    pub tlv: Option<TlvContainer>,
    /// Every other BMP of the table the terminal sent, in the order it sent them.
    pub other_fields: Vec<BmpField>,
}

impl StatusInformation {
    const MESSAGE: &'static str = "status information 04 0F";

    /// The brand, when the card name is one of the brand codes (`VISA`, `JCB`, `NANACO` …).
    pub fn brand(&self) -> Option<Brand> {
        self.card_name.as_deref().and_then(|name| name.trim().parse().ok())
    }

    /// The approval code from BMP 3B: its text up to the first NUL, trimmed.
    pub fn approval_code(&self) -> Option<String> {
        let bytes = self.authorization_attribute.as_ref()?;
        let end = bytes.iter().position(|&byte| byte == 0).unwrap_or(bytes.len());
        let text = String::from_utf8_lossy(&bytes[..end]).trim().to_string();
        (!text.is_empty()).then_some(text)
    }

    /// Whether the terminal reported success (BMP 27 is `00`).
    pub fn is_success(&self) -> bool {
        self.result_code.is_some_and(ResultCode::is_success)
    }

    pub fn to_apdu(&self) -> Result<Apdu, EncodeError> {
        let mut fields = Vec::new();
        // The result code first, as terminals send it; then the rest in tag order; TLV last.
        if let Some(code) = self.result_code {
            fields.push(BmpField::byte(tag::RESULT_CODE, code.0)?);
        }
        if let Some(amount) = self.amount {
            fields.push(BmpField::new(tag::AMOUNT, BmpValue::Bcd(amount_to_bcd(amount)?))?);
        }
        push_bcd(&mut fields, tag::TRACE_NUMBER, self.trace_number.map(TraceNumber::to_bcd))?;
        push_bcd(&mut fields, tag::TIME, self.time.map(TimeOfDay::to_bcd))?;
        push_bcd(&mut fields, tag::DATE, self.date.map(MonthDay::to_bcd))?;
        push_bcd(&mut fields, tag::EXPIRY_DATE, self.expiry_date.map(ExpiryDate::to_bcd))?;
        if let Some(number) = self.card_sequence_number {
            fields.push(BmpField::number(tag::CARD_SEQUENCE_NUMBER, u64::from(number))?);
        }
        if let Some(payment_type) = self.payment_type {
            fields.push(BmpField::byte(tag::PAYMENT_TYPE, payment_type)?);
        }
        if let Some(pan) = &self.pan {
            fields.push(BmpField::pan(pan.clone()));
        }
        push_bcd(&mut fields, tag::TERMINAL_ID, self.terminal_id.map(TerminalNumber::to_bcd))?;
        push_bcd(&mut fields, tag::ORIGINAL_TRACE_NUMBER, self.original_trace_number.map(TraceNumber::to_bcd))?;
        if let Some(attribute) = self.authorization_attribute {
            fields.push(BmpField::new(tag::AUTHORIZATION_ATTRIBUTE, BmpValue::Binary(attribute.to_vec()))?);
        }
        if let Some(text) = &self.additional_text {
            fields.push(BmpField::new(tag::ADDITIONAL_TEXT, BmpValue::Variable(text.clone()))?);
        }
        push_bcd(&mut fields, tag::CURRENCY, self.currency.map(CurrencyCode::to_bcd))?;
        if let Some(totals) = &self.totals {
            fields.push(BmpField::new(tag::TOTALS, BmpValue::Variable(totals.clone()))?);
        }
        push_bcd(&mut fields, tag::RECEIPT_NUMBER, self.receipt_number.map(ReceiptNumber::to_bcd))?;
        push_bcd(&mut fields, tag::TURNOVER_NUMBER, self.turnover_number.map(TurnoverNumber::to_bcd))?;
        if let Some(card_type) = self.card_type {
            fields.push(BmpField::byte(tag::CARD_TYPE, card_type)?);
        }
        if let Some(name) = &self.card_name {
            fields.push(BmpField::new(tag::CARD_NAME, BmpValue::Variable(name.as_bytes().to_vec()))?);
        }
        fields.extend(self.other_fields.iter().cloned());
        if let Some(tlv) = &self.tlv {
            fields.push(BmpField::tlv(tlv.clone()));
        }
        let mut data = Vec::new();
        for (index, field) in fields.iter().enumerate() {
            if fields[..index].iter().any(|earlier| earlier.tag() == field.tag()) {
                return Err(EncodeError::DuplicateBmp { tag: field.tag() });
            }
            field.encode_into(&mut data)?;
        }
        apdu_with(ControlField::STATUS_INFORMATION, data)
    }

    pub fn decode(apdu: &Apdu) -> Result<StatusInformation, CommandError> {
        expect_control(apdu, ControlField::STATUS_INFORMATION, "a status information 04 0F")?;
        let mut fields = DataReader::new(apdu, StatusInformation::MESSAGE).any_fields()?;
        let (pan, pan_masked_by_decoder) = match fields.take(tag::PAN) {
            Some(located) => match located.field.value() {
                BmpValue::Pan(value) => (Some(value.pan.clone()), value.masked_by_decoder),
                _ => return Err(invalid(StatusInformation::MESSAGE, "PAN", located.offset, "not a PAN")),
            },
            None => (None, false),
        };
        let authorization_attribute = match fields.take(tag::AUTHORIZATION_ATTRIBUTE) {
            Some(located) => {
                let bytes = located
                    .field
                    .as_bytes()
                    .and_then(|bytes| <[u8; AUTHORIZATION_ATTRIBUTE_BYTES]>::try_from(bytes).ok());
                Some(bytes.ok_or_else(|| invalid(StatusInformation::MESSAGE, "AID", located.offset, "not 8 bytes"))?)
            }
            None => None,
        };
        let card_name = fields.bytes(tag::CARD_NAME)?.map(|bytes| {
            let end = bytes.iter().rposition(|&byte| byte != 0).map_or(0, |last| last + 1);
            String::from_utf8_lossy(&bytes[..end]).into_owned()
        });
        Ok(StatusInformation {
            result_code: fields.byte(tag::RESULT_CODE)?.map(ResultCode),
            amount: fields.amount()?,
            currency: fields.currency()?,
            trace_number: fields.trace_number(tag::TRACE_NUMBER)?,
            original_trace_number: fields.trace_number(tag::ORIGINAL_TRACE_NUMBER)?,
            receipt_number: fields.receipt_number()?,
            turnover_number: fields.turnover_number()?,
            terminal_id: fields.terminal_number()?,
            time: fields.time()?,
            date: fields.date()?,
            expiry_date: fields.expiry_date()?,
            card_sequence_number: fields.card_sequence_number()?,
            payment_type: fields.byte(tag::PAYMENT_TYPE)?,
            card_type: fields.byte(tag::CARD_TYPE)?,
            pan,
            pan_masked_by_decoder,
            card_name,
            authorization_attribute,
            additional_text: fields.bytes(tag::ADDITIONAL_TEXT)?,
            totals: fields.bytes(tag::TOTALS)?,
            tlv: fields.tlv()?,
            other_fields: fields.into_remaining(),
        })
    }
}

fn push_bcd(fields: &mut Vec<BmpField>, tag: u8, value: Option<Vec<u8>>) -> Result<(), EncodeError> {
    if let Some(bytes) = value {
        fields.push(BmpField::new(tag, BmpValue::Bcd(bytes))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_apdu(data: &[u8]) -> Apdu {
        Apdu::new(0x04, 0x0F, data.to_vec()).unwrap()
    }

    #[test]
    fn a_card_payment() {
        let data = [
            0x27, 0x00, // result code: success
            0x04, 0x00, 0x00, 0x00, 0x00, 0x04, 0x70, // amount 470
            0x0B, 0x00, 0x01, 0x23, // trace number 123
            0x0C, 0x14, 0x30, 0x05, // 14:30:05
            0x0D, 0x04, 0x01, // April 1
            0x22, 0xF0, 0xF8, 0x41, 0x11, 0x11, 0xEE, 0xEE, 0xEE, 0x11, 0x11, // PAN
            0x29, 0x10, 0x01, 0x00, 0x01, // terminal id
            0x3B, b'1', b'2', b'3', b'4', b'5', b'6', 0x00, 0x00, // approval code
            0x49, 0x03, 0x92, // JPY
            0x87, 0x00, 0x42, // receipt 42
            0x8B, 0xF0, 0xF5, b'V', b'I', b'S', b'A', 0x00, // card name, NUL-terminated
        ];
        let status = StatusInformation::decode(&status_apdu(&data)).unwrap();
        assert!(status.is_success());
        assert_eq!(status.amount, Some(Yen::new(470).unwrap()));
        assert_eq!(status.trace_number.map(TraceNumber::get), Some(123));
        assert_eq!(status.time, TimeOfDay::new(14, 30, 5));
        assert_eq!(status.date, MonthDay::new(4, 1));
        assert_eq!(status.pan.as_ref().map(MaskedPan::as_str), Some("411111******1111"));
        assert!(!status.pan_masked_by_decoder);
        assert_eq!(status.terminal_id.map(TerminalNumber::get), Some(10_010_001));
        assert_eq!(status.approval_code().as_deref(), Some("123456"));
        assert_eq!(status.currency, Some(CurrencyCode::JPY));
        assert_eq!(status.receipt_number.map(ReceiptNumber::get), Some(42));
        assert_eq!(status.card_name.as_deref(), Some("VISA"));
        assert_eq!(status.brand(), Some(Brand::Visa));
        assert!(status.other_fields.is_empty());
    }

    #[test]
    fn a_card_name_that_is_not_a_brand_code() {
        let status = StatusInformation::decode(&status_apdu(&[0x8B, 0xF0, 0xF4, b'G', b'i', b'r', b'o'])).unwrap();
        assert_eq!(status.card_name.as_deref(), Some("Giro"));
        assert_eq!(status.brand(), None);
    }

    #[test]
    fn duplicates_and_bad_dates_are_refused_with_offsets() {
        let duplicate = [0x27, 0x00, 0x27, 0x00];
        assert_eq!(
            StatusInformation::decode(&status_apdu(&duplicate)),
            Err(CommandError::DuplicateField { message: StatusInformation::MESSAGE, tag: 0x27, offset: 5 })
        );
        let bad_time = [0x0C, 0x25, 0x00, 0x00];
        assert!(matches!(
            StatusInformation::decode(&status_apdu(&bad_time)),
            Err(CommandError::InvalidValue { offset: 3, .. })
        ));
    }

    #[test]
    fn other_fields_are_kept_and_not_doubled() {
        let status = StatusInformation::decode(&status_apdu(&[0x8C, 0x05, 0xA0, 0x00])).unwrap();
        assert_eq!(status.other_fields.len(), 2);
        assert_eq!(StatusInformation::decode(&status.to_apdu().unwrap()).unwrap(), status);
        let doubled = StatusInformation {
            result_code: Some(ResultCode::SUCCESS),
            other_fields: vec![BmpField::byte(tag::RESULT_CODE, 0x00).unwrap()],
            ..StatusInformation::default()
        };
        assert_eq!(doubled.to_apdu(), Err(EncodeError::DuplicateBmp { tag: tag::RESULT_CODE }));
    }
}
