//! Abort `06 1E`: the terminal ends the dialogue without success.
//!
//! Data: the result code alone, or followed by BMPs (any in the table, none twice). A currency
//! that is not the terminal's ends this way with result code `6F`.

use super::fields::ResultCode;
use super::reader::DataReader;
use super::{apdu_with, expect_control, CommandError, ControlField};
use crate::zvt::apdu::Apdu;
use crate::zvt::bmp::{self, BmpField};
use crate::zvt::EncodeError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalAbort {
    pub result_code: ResultCode,
    pub fields: Vec<BmpField>,
}

impl TerminalAbort {
    pub fn new(result_code: ResultCode) -> TerminalAbort {
        TerminalAbort { result_code, fields: Vec::new() }
    }

    pub fn to_apdu(&self) -> Result<Apdu, EncodeError> {
        let mut data = vec![self.result_code.0];
        for field in &self.fields {
            field.encode_into(&mut data)?;
        }
        apdu_with(ControlField::ABORT, data)
    }

    pub fn decode(apdu: &Apdu) -> Result<TerminalAbort, CommandError> {
        expect_control(apdu, ControlField::ABORT, "an abort 06 1E")?;
        let mut reader = DataReader::new(apdu, "abort 06 1E");
        let result_code = ResultCode(reader.byte("the result code")?);
        let fields = reader.any_fields()?.into_remaining();
        Ok(TerminalAbort { result_code, fields })
    }

    /// The additional text (BMP 3C), if the terminal sent one, with bytes that are not UTF-8 replaced.
    pub fn additional_text_lossy(&self) -> Option<String> {
        self.fields
            .iter()
            .find(|field| field.tag() == bmp::tag::ADDITIONAL_TEXT)
            .and_then(BmpField::as_bytes)
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
    }
}
