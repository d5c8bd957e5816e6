//! Field 39 response codes (PROTOCOLS.md §1).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResponseCode {
    Approved,
    DoNotHonour,
    InvalidCardNumber,
    InsufficientFunds,
    ExpiredCard,
    IncorrectPin,
    IssuerUnavailable,
    DuplicateTransmission,
    SystemMalfunction,
    /// E-money: the centre does not know the outcome (処理未了).
    OutcomeUnknown,
    /// `12`: the request makes no sense in its context (e.g. nothing waits at the terminal).
    InvalidTransaction,
    /// `13`: the amount is not the one expected.
    InvalidAmount,
    /// `25`: the original of a reversal was never booked (so nothing was charged).
    OriginalNotFound,
    /// `58`: the transaction is not permitted to this terminal.
    NotPermittedToTerminal,
    /// `63`: security violation (a terminal speaking for another terminal).
    SecurityViolation,
    Other(String),
}

impl ResponseCode {
    pub fn parse(code: &str) -> ResponseCode {
        match code {
            "00" => ResponseCode::Approved,
            "05" => ResponseCode::DoNotHonour,
            "14" => ResponseCode::InvalidCardNumber,
            "51" => ResponseCode::InsufficientFunds,
            "54" => ResponseCode::ExpiredCard,
            "55" => ResponseCode::IncorrectPin,
            "91" => ResponseCode::IssuerUnavailable,
            "94" => ResponseCode::DuplicateTransmission,
            "96" => ResponseCode::SystemMalfunction,
            "Y1" => ResponseCode::OutcomeUnknown,
            "12" => ResponseCode::InvalidTransaction,
            "13" => ResponseCode::InvalidAmount,
            "25" => ResponseCode::OriginalNotFound,
            "58" => ResponseCode::NotPermittedToTerminal,
            "63" => ResponseCode::SecurityViolation,
            other => ResponseCode::Other(other.to_string()),
        }
    }

    pub fn code(&self) -> &str {
        match self {
            ResponseCode::Approved => "00",
            ResponseCode::DoNotHonour => "05",
            ResponseCode::InvalidCardNumber => "14",
            ResponseCode::InsufficientFunds => "51",
            ResponseCode::ExpiredCard => "54",
            ResponseCode::IncorrectPin => "55",
            ResponseCode::IssuerUnavailable => "91",
            ResponseCode::DuplicateTransmission => "94",
            ResponseCode::SystemMalfunction => "96",
            ResponseCode::OutcomeUnknown => "Y1",
            ResponseCode::InvalidTransaction => "12",
            ResponseCode::InvalidAmount => "13",
            ResponseCode::OriginalNotFound => "25",
            ResponseCode::NotPermittedToTerminal => "58",
            ResponseCode::SecurityViolation => "63",
            ResponseCode::Other(code) => code,
        }
    }

    /// What a clerk is told.
    pub fn meaning(&self) -> &'static str {
        match self {
            ResponseCode::Approved => "approved",
            ResponseCode::DoNotHonour => "declined by the issuer (do not honour)",
            ResponseCode::InvalidCardNumber => "invalid card number",
            ResponseCode::InsufficientFunds => "insufficient funds",
            ResponseCode::ExpiredCard => "expired card",
            ResponseCode::IncorrectPin => "incorrect PIN",
            ResponseCode::IssuerUnavailable => "issuer or switch unavailable",
            ResponseCode::DuplicateTransmission => "duplicate transmission",
            ResponseCode::SystemMalfunction => "system malfunction",
            ResponseCode::OutcomeUnknown => "outcome unknown at the e-money centre (処理未了)",
            ResponseCode::InvalidTransaction => "invalid transaction",
            ResponseCode::InvalidAmount => "invalid amount",
            ResponseCode::OriginalNotFound => "original not found (never booked)",
            ResponseCode::NotPermittedToTerminal => "not permitted to this terminal",
            ResponseCode::SecurityViolation => "security violation",
            ResponseCode::Other(_) => "declined (unlisted response code)",
        }
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_code_round_trips() {
        for code in ["00", "05", "12", "13", "14", "25", "51", "54", "55", "58", "63", "91", "94", "96", "Y1", "77"] {
            assert_eq!(ResponseCode::parse(code).code(), code);
        }
        assert_eq!(ResponseCode::parse("25"), ResponseCode::OriginalNotFound);
    }
}
