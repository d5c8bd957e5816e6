//! 0400 / 0401 reversal → 0410. The original is found by the terminal id (field 41) and the
//! original STAN inside field 90 (original MTI 4, STAN 6, transmission date and time 10,
//! acquiring id 11, forwarding id 11). A reversal is idempotent: a repeat, or a reversal of a
//! declined original, is answered `00` too; one of an original never booked is `25` (unable to
//! locate the original: nothing was charged), a malformed one `30`.
//! The answer echoes fields 11, 41 and 90. The amount in field 4 is not checked: a reversal
//! always undoes the whole original.

use chrono::{DateTime, FixedOffset};
use iso8583::{fields, Message, ResponseCode};

use super::{answer_with, format_error, Exchange};
use crate::ledger::{Handling, Ledger, ReversalOutcome};

/// Field 90's length: 4 + 6 + 10 + 11 + 11.
const ORIGINAL_DATA_LENGTH: usize = 42;

/// The original's STAN from field 90, and the terminal from field 41.
fn original_of(message: &Message) -> Result<(String, String), String> {
    let terminal_id = message.text(fields::TERMINAL_ID).ok_or("field 41 (terminal id) is missing")?;
    let original = message.text(fields::ORIGINAL_DATA).ok_or("field 90 (original data elements) is missing")?;
    if original.len() != ORIGINAL_DATA_LENGTH || !original.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("field 90 is not {ORIGINAL_DATA_LENGTH} digits"));
    }
    Ok((terminal_id.to_string(), original[4..10].to_string()))
}

pub(super) fn handle(ledger: &mut Ledger, message: &Message, now: DateTime<FixedOffset>) -> Exchange {
    let mut answer = message.response_skeleton();
    if let Some(original) = message.get(fields::ORIGINAL_DATA) {
        answer.set(fields::ORIGINAL_DATA, original.to_vec());
    }
    let (outcome, code) = match original_of(message) {
        Ok((terminal_id, stan)) => {
            let outcome = ledger.reverse(&terminal_id, &stan, now);
            let code = match outcome {
                ReversalOutcome::OriginalUnknown => ResponseCode::OriginalNotFound,
                _ => ResponseCode::Approved,
            };
            (outcome, code)
        }
        Err(reason) => (ReversalOutcome::Malformed { reason }, format_error()),
    };
    tracing::info!(mti = %message.mti, ?outcome, "reversal");
    Exchange { answer: Some(answer_with(answer, &code)), handling: Handling::Reversal(outcome) }
}
