//! One request in, its answer and its effect on the books out. No I/O and no clock: the time of
//! receipt is handed in, and the server decides when (and, under a fault, whether) the answer is
//! sent. One module per message type, each with the same steps: read the fields into a request
//! (refusing what is malformed), apply it to the ledger, build the answer.

mod financial;
mod network;
mod reversal;

use chrono::{DateTime, FixedOffset};
use iso8583::{fields, Message, Mti, ResponseCode};

use crate::config::Centre;
use crate::ledger::{Handling, Ledger};

/// ISO 8583's "format error": not among PROTOCOLS.md §1's codes, which are all about the card or
/// the issuer; a malformed request is the sender's bug and must not read like a decline.
pub const FORMAT_ERROR: &str = "30";

pub(crate) fn format_error() -> ResponseCode {
    ResponseCode::Other(FORMAT_ERROR.to_string())
}

/// What to answer (if anything) and what happened.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub answer: Option<Message>,
    pub handling: Handling,
}

pub(crate) fn handle(ledger: &mut Ledger, centre: Centre, message: &Message, now: DateTime<FixedOffset>) -> Exchange {
    match message.mti {
        Mti::FINANCIAL_REQUEST => financial::handle(ledger, centre, message, now),
        Mti::REVERSAL_REQUEST | Mti::REVERSAL_REPEAT => reversal::handle(ledger, message, now),
        Mti::NETWORK_REQUEST => network::handle(message),
        other => {
            // Only requests (third digit 0) are answered; a stray response or advice is dropped,
            // as an acquirer would not answer an answer.
            let is_request = other.as_bytes()[2] == b'0';
            tracing::warn!(mti = %other, answered = is_request, "message type not served by the simulator");
            let answer = is_request.then(|| answer_with(message.response_skeleton(), &format_error()));
            Exchange { answer, handling: Handling::Unsupported }
        }
    }
}

/// A request refused without acting on it (a fault), answered with `code`; a reversal's answer
/// echoes its field 90.
pub(crate) fn refuse(message: &Message, code: &str) -> Exchange {
    let mut answer = message.response_skeleton();
    if let Some(original) = message.get(fields::ORIGINAL_DATA) {
        answer.set(fields::ORIGINAL_DATA, original.to_vec());
    }
    let response_code = ResponseCode::parse(code);
    Exchange { answer: Some(answer_with(answer, &response_code)), handling: Handling::Refused { response_code } }
}

fn answer_with(mut answer: Message, code: &ResponseCode) -> Message {
    answer.set(fields::RESPONSE_CODE, code.code());
    answer
}
