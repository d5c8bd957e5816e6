//! 0800 network management → 0810: sign-on (`001`), sign-off (`002`) and echo (`301`) are
//! answered `00` with field 70 echoed; any other code is a format error.

use iso8583::{fields, Message, ResponseCode};

use super::{answer_with, format_error, Exchange};
use crate::ledger::Handling;

pub(super) fn handle(message: &Message) -> Exchange {
    let known = matches!(
        message.text(fields::NETWORK_MANAGEMENT_CODE),
        Some(fields::NETWORK_SIGN_ON | fields::NETWORK_SIGN_OFF | fields::NETWORK_ECHO)
    );
    let response_code = if known { ResponseCode::Approved } else { format_error() };
    Exchange {
        answer: Some(answer_with(message.response_skeleton(), &response_code)),
        handling: Handling::Network { response_code },
    }
}
