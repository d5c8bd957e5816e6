//! Magic amounts: field 4 values that make the simulator decline a purchase, deterministically, so a test
//! or the demo can ask for any outcome by its amount.

use iso8583::ResponseCode;
use pos_core::Yen;

use crate::config::Centre;

/// Amount (yen) → field 39, on both centres.
pub const MAGIC_DECLINES: [(i64, ResponseCode); 7] = [
    (9051, ResponseCode::InsufficientFunds),
    (9005, ResponseCode::DoNotHonour),
    (9054, ResponseCode::ExpiredCard),
    (9014, ResponseCode::InvalidCardNumber),
    (9055, ResponseCode::IncorrectPin),
    (9091, ResponseCode::IssuerUnavailable),
    (9096, ResponseCode::SystemMalfunction),
];

/// On the e-money centre only: outcome unknown (`Y1`, 処理未了). The card acquirer approves it.
pub const MAGIC_OUTCOME_UNKNOWN_YEN: i64 = 9099;

/// The acquirer's answer to a well-formed purchase of this amount (refunds are always approved).
pub fn response_for(amount: Yen, centre: Centre) -> ResponseCode {
    if centre == Centre::Emoney && amount.get() == MAGIC_OUTCOME_UNKNOWN_YEN {
        return ResponseCode::OutcomeUnknown;
    }
    MAGIC_DECLINES
        .iter()
        .find(|(magic, _)| *magic == amount.get())
        .map(|(_, code)| code.clone())
        .unwrap_or(ResponseCode::Approved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_amounts_decline_and_others_approve() {
        let yen = |v| Yen::new(v).unwrap();
        assert_eq!(response_for(yen(9051), Centre::Card).code(), "51");
        assert_eq!(response_for(yen(9096), Centre::Emoney).code(), "96");
        assert_eq!(response_for(yen(9099), Centre::Emoney).code(), "Y1");
        assert_eq!(response_for(yen(9099), Centre::Card).code(), "00");
        assert_eq!(response_for(yen(1500), Centre::Card).code(), "00");
    }
}
