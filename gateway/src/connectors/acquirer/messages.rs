//! ISO 8583 messages toward an acquirer (PROTOCOLS.md §1), built from our records and read back
//! into what they mean — the connector's translation table, with no I/O.

use chrono::{DateTime, Utc};
use iso8583::client::ClientError;
use iso8583::{fields, BrandData, Message, Mti, ResponseCode};
use pos_core::{Brand, Yen};

use super::emoney;
use crate::journal::reversals::{OriginalRequest, ReversalReason};

/// Field 7 (transmission date and time, MMDDhhmmss in UTC as ISO 8583 has it).
pub fn transmission_time(now: DateTime<Utc>) -> String {
    now.format("%m%d%H%M%S").to_string()
}

/// The terminal's purchase as it goes on to the acquirer: our STAN and time, the facility's
/// merchant id, JPY. Card data passes through untouched and is never kept.
pub fn purchase(terminal_request: &Message, stan: &str, transmitted_at: &str, merchant_id: &str) -> Message {
    let mut outbound = terminal_request.clone();
    outbound.set(fields::STAN, stan.to_string());
    outbound.set(fields::TRANSMISSION_DATE_TIME, transmitted_at.to_string());
    outbound.set(fields::MERCHANT_ID, merchant_id.to_string());
    outbound.set(fields::CURRENCY, fields::CURRENCY_JPY);
    outbound
}

/// What a reversal of a purchase must name of it (no card data).
pub fn original_of_purchase(
    outbound: &Message,
    amount: Yen,
    merchant_id: &str,
    stan: &str,
    transmitted_at: &str,
    brand: Brand,
) -> OriginalRequest {
    OriginalRequest {
        mti: outbound.mti.as_str().to_string(),
        processing_code: fields::PROCESSING_PURCHASE.to_string(),
        amount: amount.get(),
        terminal_id: outbound.text(fields::TERMINAL_ID).unwrap_or("").to_string(),
        merchant_id: merchant_id.to_string(),
        stan: stan.to_string(),
        transmitted_at: transmitted_at.to_string(),
        brand_data: BrandData { brand: Some(brand), ..BrandData::default() }.format(),
    }
}

/// A refund against an earlier payment: 0200 with processing code 20, the payment's RRN in field
/// 48 `ORRN`.
pub fn refund(original: &OriginalRequest, brand: Option<Brand>, original_rrn: Option<&str>) -> Message {
    let brand_data = BrandData {
        brand,
        other: original_rrn.iter().map(|rrn| ("ORRN".to_string(), rrn.to_string())).collect(),
        ..BrandData::default()
    };
    let mut message = Message::new(Mti::FINANCIAL_REQUEST)
        .with(fields::PROCESSING_CODE, fields::PROCESSING_REFUND)
        .with(fields::TRANSMISSION_DATE_TIME, original.transmitted_at.clone())
        .with(fields::STAN, original.stan.clone())
        .with(fields::TERMINAL_ID, original.terminal_id.clone())
        .with(fields::MERCHANT_ID, original.merchant_id.clone())
        .with(fields::BRAND_DATA, brand_data.format())
        .with(fields::CURRENCY, fields::CURRENCY_JPY);
    if let Some(amount) = Yen::new(original.amount).ok().and_then(iso8583::amount_field) {
        message.set(fields::AMOUNT, amount);
    }
    message
}

/// A reversal of `original` (0400 the first time, 0401 for every repeat) with field 90 naming it.
pub fn reversal(
    original: &OriginalRequest,
    stan: &str,
    transmitted_at: &str,
    institution: u64,
    repeat: bool,
) -> Message {
    let original_message = Message::new(Mti::parse(&original.mti).unwrap_or(Mti::FINANCIAL_REQUEST))
        .with(fields::STAN, original.stan.clone())
        .with(fields::TRANSMISSION_DATE_TIME, original.transmitted_at.clone());
    let mti = if repeat { Mti::REVERSAL_REPEAT } else { Mti::REVERSAL_REQUEST };
    let mut message = Message::new(mti)
        .with(fields::PROCESSING_CODE, original.processing_code.clone())
        .with(fields::TRANSMISSION_DATE_TIME, transmitted_at.to_string())
        .with(fields::STAN, stan.to_string())
        .with(fields::TERMINAL_ID, original.terminal_id.clone())
        .with(fields::MERCHANT_ID, original.merchant_id.clone())
        .with(fields::CURRENCY, fields::CURRENCY_JPY);
    if let Some(amount) = Yen::new(original.amount).ok().and_then(iso8583::amount_field) {
        message.set(fields::AMOUNT, amount);
    }
    if !original.brand_data.is_empty() {
        message.set(fields::BRAND_DATA, original.brand_data.clone());
    }
    if let Some(data) = iso8583::original_data_elements(&original_message, institution) {
        message.set(fields::ORIGINAL_DATA, data);
    }
    message
}

/// What the acquirer said to an authorization or a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizationOutcome {
    Approved {
        rrn: Option<String>,
        auth_code: Option<String>,
    },
    Declined {
        code: ResponseCode,
        rrn: Option<String>,
    },
    /// The e-money centre does not know either (`Y1`, 処理未了).
    OutcomeUnknown {
        rrn: Option<String>,
    },
    /// Nothing left this process: nothing can have been charged.
    NotSent(String),
    /// The request went out and no answer we can trust came back: it may have been charged.
    InDoubt {
        reason: ReversalReason,
        detail: String,
    },
}

impl AuthorizationOutcome {
    /// The field 39 the acquirer sent, if it answered.
    pub fn response_code(&self) -> Option<String> {
        match self {
            AuthorizationOutcome::Approved { .. } => Some(ResponseCode::Approved.code().to_string()),
            AuthorizationOutcome::Declined { code, .. } => Some(code.code().to_string()),
            AuthorizationOutcome::OutcomeUnknown { .. } => Some(ResponseCode::OutcomeUnknown.code().to_string()),
            AuthorizationOutcome::NotSent(_) | AuthorizationOutcome::InDoubt { .. } => None,
        }
    }
}

/// Reads the answer to a 0200 (purchase or refund).
pub fn read_financial_answer(result: Result<Message, ClientError>) -> AuthorizationOutcome {
    match result {
        Ok(answer) if answer.mti == Mti::FINANCIAL_RESPONSE => {
            let rrn = answer.text(fields::RETRIEVAL_REFERENCE).map(str::to_string);
            // An answer without field 39 is not an answer we can act on: treat it as garbage.
            let Some(code) = answer.text(fields::RESPONSE_CODE).map(ResponseCode::parse) else {
                return AuthorizationOutcome::InDoubt {
                    reason: ReversalReason::LinkLost,
                    detail: "the acquirer's answer has no response code".to_string(),
                };
            };
            match code {
                ResponseCode::Approved => AuthorizationOutcome::Approved {
                    rrn,
                    auth_code: answer.text(fields::AUTHORIZATION_CODE).map(str::to_string),
                },
                code if emoney::is_outcome_unknown(&code) => AuthorizationOutcome::OutcomeUnknown { rrn },
                code => AuthorizationOutcome::Declined { code, rrn },
            }
        }
        Ok(answer) => AuthorizationOutcome::InDoubt {
            reason: ReversalReason::LinkLost,
            detail: format!("the acquirer answered with the wrong message type {}", answer.mti),
        },
        Err(ClientError::NotSent(reason)) => AuthorizationOutcome::NotSent(reason),
        Err(error @ ClientError::Timeout(_)) => {
            AuthorizationOutcome::InDoubt { reason: ReversalReason::Timeout, detail: error.to_string() }
        }
        Err(error) => AuthorizationOutcome::InDoubt { reason: ReversalReason::LinkLost, detail: error.to_string() },
    }
}

/// What the acquirer said to a reversal (PROTOCOLS.md §1: only `00` confirms; `25` says the
/// original was never booked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReversalAnswer {
    Confirmed,
    OriginalNotFound,
    /// Any other code: the original still stands.
    Refused(String),
    /// No answer, garbage, the wrong message type: try again.
    NoAnswer(String),
}

impl ReversalAnswer {
    /// What the journal keeps of it (field 39, or a description of what came instead).
    pub fn recorded(&self) -> String {
        match self {
            ReversalAnswer::Confirmed => "00".to_string(),
            ReversalAnswer::OriginalNotFound => "25".to_string(),
            ReversalAnswer::Refused(code) => code.clone(),
            ReversalAnswer::NoAnswer(what) => format!("no answer: {what}"),
        }
    }
}

/// Reads the answer to a 0400/0401.
pub fn read_reversal_answer(result: Result<Message, ClientError>) -> ReversalAnswer {
    match result {
        Ok(answer) if answer.mti == Mti::REVERSAL_RESPONSE => match answer.text(fields::RESPONSE_CODE) {
            Some("00") => ReversalAnswer::Confirmed,
            Some("25") => ReversalAnswer::OriginalNotFound,
            Some(code) => ReversalAnswer::Refused(code.to_string()),
            None => ReversalAnswer::NoAnswer("a 0410 without field 39".to_string()),
        },
        Ok(answer) => ReversalAnswer::NoAnswer(format!("unexpected answer {}", answer.mti)),
        Err(error) => ReversalAnswer::NoAnswer(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(mti: Mti, code: Option<&str>) -> Result<Message, ClientError> {
        let mut message = Message::new(mti);
        if let Some(code) = code {
            message.set(fields::RESPONSE_CODE, code);
        }
        Ok(message)
    }

    #[test]
    fn only_00_confirms_a_reversal_and_25_says_never_booked() {
        assert_eq!(read_reversal_answer(answer(Mti::REVERSAL_RESPONSE, Some("00"))), ReversalAnswer::Confirmed);
        assert_eq!(read_reversal_answer(answer(Mti::REVERSAL_RESPONSE, Some("25"))), ReversalAnswer::OriginalNotFound);
        for code in ["12", "91", "96", "05", "Y1"] {
            assert_eq!(
                read_reversal_answer(answer(Mti::REVERSAL_RESPONSE, Some(code))),
                ReversalAnswer::Refused(code.to_string())
            );
        }
        assert!(matches!(read_reversal_answer(answer(Mti::REVERSAL_RESPONSE, None)), ReversalAnswer::NoAnswer(_)));
        assert!(matches!(
            read_reversal_answer(answer(Mti::FINANCIAL_RESPONSE, Some("00"))),
            ReversalAnswer::NoAnswer(_)
        ));
        assert!(matches!(read_reversal_answer(Err(ClientError::Timeout(800))), ReversalAnswer::NoAnswer(_)));
    }

    #[test]
    fn financial_answers_read_as_outcomes() {
        assert!(matches!(
            read_financial_answer(answer(Mti::FINANCIAL_RESPONSE, Some("00"))),
            AuthorizationOutcome::Approved { .. }
        ));
        assert!(matches!(
            read_financial_answer(answer(Mti::FINANCIAL_RESPONSE, Some("Y1"))),
            AuthorizationOutcome::OutcomeUnknown { .. }
        ));
        assert!(matches!(
            read_financial_answer(answer(Mti::FINANCIAL_RESPONSE, Some("51"))),
            AuthorizationOutcome::Declined { code: ResponseCode::InsufficientFunds, .. }
        ));
        assert!(matches!(
            read_financial_answer(answer(Mti::FINANCIAL_RESPONSE, None)),
            AuthorizationOutcome::InDoubt { .. }
        ));
        assert!(matches!(
            read_financial_answer(answer(Mti::REVERSAL_RESPONSE, Some("00"))),
            AuthorizationOutcome::InDoubt { .. }
        ));
        assert!(matches!(
            read_financial_answer(Err(ClientError::NotSent("down".into()))),
            AuthorizationOutcome::NotSent(_)
        ));
    }
}
