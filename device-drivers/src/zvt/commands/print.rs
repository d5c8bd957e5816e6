//! What the terminal asks the ECR to print: a print line `06 D1` or a text block `06 D3`.
//!
//! A print line is an attribute byte and the line's text; a text block is a TLV container
//! (BMP 06) holding the lines. Text stays bytes here: the terminal's character set is the
//! printer driver's concern.

use super::reader::DataReader;
use super::{apdu_with, expect_control, CommandError, ControlField};
use crate::zvt::apdu::Apdu;
use crate::zvt::bmp::{self, BmpField};
use crate::zvt::tlv::TlvContainer;
use crate::zvt::EncodeError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintLine {
    /// Formatting of the line (double width, last line of the receipt …) as the terminal sends it.
    pub attribute: u8,
    pub text: Vec<u8>,
}

impl PrintLine {
    pub fn to_apdu(&self) -> Result<Apdu, EncodeError> {
        let mut data = vec![self.attribute];
        data.extend_from_slice(&self.text);
        apdu_with(ControlField::PRINT_LINE, data)
    }

    pub fn decode(apdu: &Apdu) -> Result<PrintLine, CommandError> {
        expect_control(apdu, ControlField::PRINT_LINE, "a print line 06 D1")?;
        let mut reader = DataReader::new(apdu, "print line 06 D1");
        let attribute = reader.byte("the attribute byte")?;
        let text = reader.take(reader.remaining(), "the text")?.to_vec();
        Ok(PrintLine { attribute, text })
    }

    /// The text for logs and tests, with bytes that are not UTF-8 replaced.
    pub fn text_lossy(&self) -> String {
        String::from_utf8_lossy(&self.text).into_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextBlock {
    pub tlv: TlvContainer,
}

impl TextBlock {
    const MESSAGE: &'static str = "text block 06 D3";
    const ALLOWED_FIELDS: [u8; 1] = [bmp::tag::TLV_CONTAINER];

    pub fn to_apdu(&self) -> Result<Apdu, EncodeError> {
        let mut data = Vec::new();
        BmpField::tlv(self.tlv.clone()).encode_into(&mut data)?;
        apdu_with(ControlField::TEXT_BLOCK, data)
    }

    pub fn decode(apdu: &Apdu) -> Result<TextBlock, CommandError> {
        expect_control(apdu, ControlField::TEXT_BLOCK, "a text block 06 D3")?;
        let mut fields = DataReader::new(apdu, TextBlock::MESSAGE).fields(&TextBlock::ALLOWED_FIELDS)?;
        let tlv = fields
            .tlv()?
            .ok_or(CommandError::MissingField { message: TextBlock::MESSAGE, tag: bmp::tag::TLV_CONTAINER })?;
        Ok(TextBlock { tlv })
    }
}
