//! Identifiers, parsed once at the edge so the rest of the code cannot hold a malformed one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {reason}")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
    pub reason: &'static str,
}

/// Declares a string identifier with a validating constructor and serde through it.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, IdError> {
                let check: fn(&str) -> Result<(), &'static str> = $check;
                check(value).map_err(|reason| IdError { kind: $kind, value: value.to_string(), reason })?;
                Ok(Self(value.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// The longest identifier accepted for facilities, registers, operators, fee items and users.
pub const ID_CHARS_MAX: usize = 32;

fn code_like(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        return Err("must not be empty");
    }
    if value.len() > ID_CHARS_MAX {
        return Err("longer than 32 characters");
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err("only ASCII letters, digits, '-' and '_' are allowed");
    }
    Ok(())
}

string_id!(
    /// A facility (施設): one counter location with its own register book.
    FacilityId, "facility id", code_like
);
string_id!(
    /// A register (レジ) at a facility; receipt numbers run per register.
    RegisterId, "register id", code_like
);
string_id!(
    /// A designated-manager operator (指定管理者).
    OperatorId, "operator id", code_like
);
string_id!(
    /// A fee item in the catalogue, e.g. `JUMINHYO` for 住民票の写し.
    FeeItemCode, "fee item code", code_like
);
string_id!(
    /// A user of the API (clerk, operator staff, treasury, admin).
    UserName, "user name", code_like
);
string_id!(
    /// A payment terminal's id: ISO 8583 field 41, exactly 8 characters.
    TerminalId, "terminal id", |value| {
        if value.len() != 8 {
            return Err("must be exactly 8 characters (ISO 8583 field 41)");
        }
        if !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("only ASCII letters and digits are allowed");
        }
        Ok(())
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        assert!(FacilityId::parse("F001").is_ok());
        assert!(FacilityId::parse("").is_err());
        assert!(FacilityId::parse("F 01").is_err());
        assert!(FacilityId::parse("施設").is_err());
        assert!(TerminalId::parse("T0010001").is_ok());
        assert!(TerminalId::parse("T001").is_err());
        let error = RegisterId::parse("R/1").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid register id \"R/1\": only ASCII letters, digits, '-' and '_' are allowed"
        );
    }

    #[test]
    fn ids_deserialize_through_the_check() {
        assert!(serde_json::from_str::<FacilityId>("\"F001\"").is_ok());
        assert!(serde_json::from_str::<FacilityId>("\"bad id\"").is_err());
    }
}
