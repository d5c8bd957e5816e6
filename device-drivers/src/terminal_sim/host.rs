//! The terminal's side of PROTOCOLS.md §1: the 0200 it sends to the gateway's terminal host, and
//! what the 0210 (or its absence) means for the ECR.
//!
//! Fields as the gateway's tests build them (`switch_rig.rs` `purchase()`): 3, 4, 7, 11 (the
//! terminal's own trace number), 12, 13, 22, 41, 49, and for a card 2, 35 and 55 with test data,
//! field 48 `BR=<brand>` and for e-money `ID=<masked card id>`.

use chrono::{DateTime, Utc};
use iso8583::client::ClientError;
use iso8583::{fields, BrandData, Message, Mti};
use pos_core::{Method, Yen};

use super::card::SimulatedCard;
use crate::zvt::commands::fields::ResultCode;

/// A fixed chip cryptogram (tag 9F26), enough for the host to see chip data arrive.
pub const TEST_ICC: [u8; 11] = [0x9F, 0x26, 0x08, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6, 0x07, 0x18];

/// Result codes this terminal reports in BMP 27 and abort `06 1E`, from the ZVT list.
pub mod result_code {
    use super::ResultCode;
    /// The card was pulled out before it was read.
    pub const CARD_NOT_READABLE: ResultCode = ResultCode(0x64);
    /// The customer pressed the abort key, or the ECR sent abort `06 B0`.
    pub const ABORTED: ResultCode = ResultCode(0x6C);
    /// The host did not answer after the request was sent (the gateway resolves the payment).
    pub const HOST_NOT_RESPONDING: ResultCode = ResultCode(0xA1);
    /// No connection to the host: nothing was sent.
    pub const NO_HOST_CONNECTION: ResultCode = ResultCode(0xA3);
    /// The receipt number names no payment, or one already reversed.
    pub const REVERSAL_NOT_POSSIBLE: ResultCode = ResultCode(0xB5);
    /// The host answered with a code that is not a number.
    pub const PROCESSING_ERROR: ResultCode = ResultCode(0x66);
    /// A command that is not possible now (e.g. an end of day with a broken state file).
    pub const SYSTEM_ERROR: ResultCode = ResultCode(0xFF);
}

/// What the 0200 was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Purchase,
    Refund,
}

/// The request the terminal sends for `card` and `amount` with trace number `trace`.
pub fn request(
    purpose: Purpose,
    terminal_id: &str,
    trace: u32,
    amount: Yen,
    card: &SimulatedCard,
    now: DateTime<Utc>,
) -> Option<Message> {
    let local = now.with_timezone(&pos_core::time::jst());
    let processing = match purpose {
        Purpose::Purchase => fields::PROCESSING_PURCHASE,
        Purpose::Refund => fields::PROCESSING_REFUND,
    };
    let mut message = Message::new(Mti::FINANCIAL_REQUEST)
        .with(fields::PROCESSING_CODE, processing)
        .with(fields::AMOUNT, iso8583::amount_field(amount)?)
        .with(fields::TRANSMISSION_DATE_TIME, now.format("%m%d%H%M%S").to_string())
        .with(fields::STAN, format!("{trace:06}"))
        .with(fields::LOCAL_TIME, local.format("%H%M%S").to_string())
        .with(fields::LOCAL_DATE, local.format("%m%d").to_string())
        .with(fields::TERMINAL_ID, terminal_id.to_string())
        .with(fields::CURRENCY, fields::CURRENCY_JPY);
    match (card.brand.method(), &card.pan) {
        (Method::Card, Some(pan)) => {
            message.set(fields::POS_ENTRY_MODE, "051");
            message.set(fields::PAN, pan.clone());
            message.set(fields::TRACK_2, format!("{pan}={}1010000012345678", card.expiry));
            message.set(fields::ICC_DATA, TEST_ICC.to_vec());
            message.set(fields::BRAND_DATA, BrandData { brand: Some(card.brand), ..BrandData::default() }.format());
        }
        _ => {
            message.set(fields::POS_ENTRY_MODE, "071");
            let data = BrandData { brand: Some(card.brand), card_id: card.card_id.clone(), ..BrandData::default() };
            message.set(fields::BRAND_DATA, data.format());
        }
    }
    Some(message)
}

/// What the host said, for the ECR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostVerdict {
    Approved {
        authorization_code: Option<String>,
        retrieval_reference: Option<String>,
    },
    Declined {
        response_code: String,
        result_code: ResultCode,
    },
    /// No answer: nothing sent (`NotSent`) or sent and unanswered (in doubt).
    Unreachable {
        result_code: ResultCode,
        reason: String,
    },
}

/// Reads the 0210 (or the client's failure).
pub fn verdict(answer: Result<Message, ClientError>) -> HostVerdict {
    match answer {
        Ok(message) => {
            let code = message.text(fields::RESPONSE_CODE).unwrap_or("").to_string();
            if code == "00" {
                HostVerdict::Approved {
                    authorization_code: message.text(fields::AUTHORIZATION_CODE).map(str::to_string),
                    retrieval_reference: message.text(fields::RETRIEVAL_REFERENCE).map(str::to_string),
                }
            } else {
                let result_code = result_code_of(&code);
                HostVerdict::Declined { response_code: code, result_code }
            }
        }
        Err(error) if !error.is_in_doubt() => {
            HostVerdict::Unreachable { result_code: result_code::NO_HOST_CONNECTION, reason: error.to_string() }
        }
        Err(error) => {
            HostVerdict::Unreachable { result_code: result_code::HOST_NOT_RESPONDING, reason: error.to_string() }
        }
    }
}

/// ZVT result codes 01–63 (hex) are "error codes from the authorisation system": the host's
/// two-digit decimal response code is passed on as that number (`51` → `0x33`, `05` → `0x05`).
/// A code that is not a number (`Y1`) becomes processing error `66`.
pub fn result_code_of(response_code: &str) -> ResultCode {
    match response_code.parse::<u8>() {
        Ok(number) if (1..=0x63).contains(&number) => ResultCode(number),
        _ => result_code::PROCESSING_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_response_codes_become_zvt_numbers() {
        assert_eq!(result_code_of("51"), ResultCode(0x33));
        assert_eq!(result_code_of("05"), ResultCode(0x05));
        assert_eq!(result_code_of("Y1"), result_code::PROCESSING_ERROR);
    }
}
