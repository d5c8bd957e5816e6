//! 0200 purchase (field 3 `000000`) or refund (`200000`) → 0210.
//!
//! The order of the checks is the order an acquirer would apply them: a request it cannot read
//! is a format error (`30`) and is not booked; a terminal id and STAN it has already booked is a
//! duplicate transmission (`94`) and is not booked again; a brand of the other centre is not
//! honoured (`05`); a card number that cannot be read is `14`. Everything else is booked: a
//! purchase with the outcome its amount asks for ([`crate::magic`]), a refund approved. The answer carries the RRN (37) of every
//! booked transaction, the authorization code (38) of an approved sale, and field 39.

use chrono::{DateTime, FixedOffset};
use iso8583::{amount_of, fields, BrandData, Message, ResponseCode};
use pos_core::{mask_pan, Brand};

use super::{answer_with, format_error, Exchange};
use crate::config::Centre;
use crate::ledger::{EntryKind, Handling, Ledger, LedgerFull, NewEntry};
use crate::magic;

/// An e-money card id longer than this is not an id (the reconciler reads at most 20).
const CARD_ID_CHARACTERS_MAX: usize = 20;
/// An RRN is 12 digits (field 37).
const RRN_LENGTH: usize = 12;

/// Why a request is answered without being booked.
enum Refusal {
    Format(String),
    WrongCentre(Brand),
    Card(String),
}

impl Refusal {
    fn response_code(&self) -> ResponseCode {
        match self {
            Refusal::Format(_) => format_error(),
            Refusal::WrongCentre(_) => ResponseCode::DoNotHonour,
            Refusal::Card(_) => ResponseCode::InvalidCardNumber,
        }
    }

    fn reason(&self) -> String {
        match self {
            Refusal::Format(reason) | Refusal::Card(reason) => reason.clone(),
            Refusal::WrongCentre(brand) => format!("brand {brand} is not served by this centre"),
        }
    }
}

pub(super) fn handle(ledger: &mut Ledger, centre: Centre, message: &Message, now: DateTime<FixedOffset>) -> Exchange {
    let skeleton = message.response_skeleton();
    let request = match key_of(message).and_then(|key| {
        if let Some(known) = ledger.find(&key.0, &key.1) {
            return Ok(Err(known.rrn.clone()));
        }
        parse(message, centre, key, ledger).map(Ok)
    }) {
        Ok(Ok(request)) => request,
        Ok(Err(rrn)) => {
            tracing::warn!(%message, %rrn, "duplicate transmission: already booked");
            let answer = answer_with(skeleton, &ResponseCode::DuplicateTransmission);
            return Exchange { answer: Some(answer), handling: Handling::Duplicate { rrn } };
        }
        Err(refusal) => return refuse(skeleton, message, &refusal),
    };
    // Magic amounts decide purchases only: a refund is the acquirer paying back, and is approved.
    let response_code = match request.kind {
        EntryKind::Sale => magic::response_for(request.amount, centre),
        EntryKind::Refund => ResponseCode::Approved,
    };
    match ledger.book(request, response_code.clone(), now) {
        Ok(entry) => {
            let mut answer = skeleton;
            answer.set(fields::RETRIEVAL_REFERENCE, entry.rrn.as_str());
            if let Some(code) = &entry.auth_code {
                answer.set(fields::AUTHORIZATION_CODE, code.as_str());
            }
            tracing::info!(rrn = %entry.rrn, terminal = %entry.terminal_id, stan = %entry.stan, brand = %entry.brand, card = %entry.masked_pan_or_card_id, amount = entry.amount.get(), code = %response_code, "booked");
            let handling = Handling::Booked { rrn: entry.rrn.clone(), response_code: response_code.clone() };
            Exchange { answer: Some(answer_with(answer, &response_code)), handling }
        }
        Err(LedgerFull) => {
            tracing::error!("ledger full: request refused with 96");
            let response_code = ResponseCode::SystemMalfunction;
            let reason = "the simulator's ledger is full".to_string();
            Exchange {
                answer: Some(answer_with(skeleton, &response_code)),
                handling: Handling::Rejected { response_code, reason },
            }
        }
    }
}

fn refuse(skeleton: Message, message: &Message, refusal: &Refusal) -> Exchange {
    let response_code = refusal.response_code();
    let reason = refusal.reason();
    tracing::warn!(%message, code = %response_code, %reason, "request refused");
    Exchange {
        answer: Some(answer_with(skeleton, &response_code)),
        handling: Handling::Rejected { response_code, reason },
    }
}

/// Terminal and merchant ids go into the settlement files as they are, and the reconciler
/// reads them as letters and digits only (no padding, no separators).
fn identifier(field: u8, value: &str) -> Result<(), Refusal> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Refusal::Format(format!("field {field} is not letters and digits")));
    }
    Ok(())
}

/// Terminal id (41) and STAN (11): what identifies the transaction.
fn key_of(message: &Message) -> Result<(String, String), Refusal> {
    let terminal_id = message
        .text(fields::TERMINAL_ID)
        .ok_or_else(|| Refusal::Format("field 41 (terminal id) is missing".to_string()))?;
    identifier(fields::TERMINAL_ID, terminal_id)?;
    let stan = message
        .text(fields::STAN)
        .filter(|stan| stan.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| Refusal::Format("field 11 (STAN) is missing or not digits".to_string()))?;
    Ok((terminal_id.to_string(), stan.to_string()))
}

fn parse(
    message: &Message,
    centre: Centre,
    (terminal_id, stan): (String, String),
    ledger: &Ledger,
) -> Result<NewEntry, Refusal> {
    let kind = match message.text(fields::PROCESSING_CODE) {
        Some(fields::PROCESSING_PURCHASE) => EntryKind::Sale,
        Some(fields::PROCESSING_REFUND) => EntryKind::Refund,
        _ => return Err(Refusal::Format("field 3 is neither 000000 (purchase) nor 200000 (refund)".to_string())),
    };
    let amount = amount_of(message)
        .filter(|amount| amount.get() > 0)
        .ok_or_else(|| Refusal::Format("field 4 is missing or not a positive amount".to_string()))?;
    if message.text(fields::CURRENCY).is_some_and(|currency| currency != fields::CURRENCY_JPY) {
        return Err(Refusal::Format("field 49 is not 392 (JPY)".to_string()));
    }
    let merchant_id = message
        .text(fields::MERCHANT_ID)
        .ok_or_else(|| Refusal::Format("field 42 (merchant id) is missing".to_string()))?;
    identifier(fields::MERCHANT_ID, merchant_id)?;
    let brand_data = message
        .text(fields::BRAND_DATA)
        .ok_or_else(|| Refusal::Format("field 48 (brand data) is missing".to_string()))
        .and_then(|text| BrandData::parse(text).map_err(|error| Refusal::Format(error.to_string())))?;
    let brand = brand_data.brand.ok_or_else(|| Refusal::Format("field 48 has no BR tag".to_string()))?;
    if brand.method() != centre.method() {
        return Err(Refusal::WrongCentre(brand));
    }
    let original_rrn = match kind {
        EntryKind::Refund => Some(original_rrn(&brand_data)?),
        EntryKind::Sale => None,
    };
    // A refund without the card present (the gateway keeps no card numbers) names its original
    // by RRN; the card is the original's.
    let original_card = original_rrn
        .as_deref()
        .and_then(|rrn| ledger.find_by_rrn(rrn))
        .map(|entry| entry.masked_pan_or_card_id.clone());
    let card_present = match centre {
        Centre::Card => message.has(fields::PAN) || message.has(fields::TRACK_2),
        Centre::Emoney => brand_data.card_id.is_some(),
    };
    let masked_pan_or_card_id = match (centre, card_present, original_card) {
        (_, false, Some(card)) => card,
        (Centre::Card, _, _) => masked_pan(message)?,
        (Centre::Emoney, _, _) => card_id(&brand_data)?,
    };
    Ok(NewEntry {
        terminal_id,
        merchant_id: merchant_id.to_string(),
        stan,
        brand,
        masked_pan_or_card_id,
        amount,
        kind,
        original_rrn,
    })
}

/// The card number from field 2, or else from track 2 (field 35, the digits before the
/// separator), masked at once: the full number goes no further than this function.
fn masked_pan(message: &Message) -> Result<String, Refusal> {
    let (field, pan) = if let Some(pan) = message.text(fields::PAN) {
        (fields::PAN, pan)
    } else if let Some(track) = message.text(fields::TRACK_2) {
        let end = track.find(['=', 'D']).unwrap_or(track.len());
        (fields::TRACK_2, &track[..end])
    } else {
        return Err(Refusal::Card("no card number: neither field 2 nor field 35 is present".to_string()));
    };
    // The mask error never repeats the number it refused.
    mask_pan(pan).map(|masked| masked.to_string()).map_err(|error| Refusal::Card(format!("field {field}: {error}")))
}

fn card_id(brand_data: &BrandData) -> Result<String, Refusal> {
    let id = brand_data.card_id.as_deref().ok_or_else(|| Refusal::Format("field 48 has no ID tag".to_string()))?;
    let well_formed = !id.is_empty()
        && id.chars().count() <= CARD_ID_CHARACTERS_MAX
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '*');
    if !well_formed {
        return Err(Refusal::Format("field 48 ID is not a masked card id".to_string()));
    }
    Ok(id.to_string())
}

fn original_rrn(brand_data: &BrandData) -> Result<String, Refusal> {
    brand_data
        .other
        .get("ORRN")
        .filter(|rrn| rrn.len() == RRN_LENGTH && rrn.bytes().all(|b| b.is_ascii_digit()))
        .cloned()
        .ok_or_else(|| Refusal::Format("a refund needs ORRN (the original's 12-digit RRN) in field 48".to_string()))
}
