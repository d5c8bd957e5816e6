//! The merchant's own references: `merchantPaymentId` and `merchantRefundId`.
//!
//! Both are at most [`REFERENCE_CHARS_MAX`] characters of `A-Za-z0-9_-` (PROTOCOLS.md §2). Since
//! they appear in URL paths unescaped, a value that passed [`MerchantPaymentId::parse`] is also
//! safe to put in a path.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest merchant reference the provider accepts.
pub const REFERENCE_CHARS_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} has {length} characters (at most {max})", max = REFERENCE_CHARS_MAX)]
    TooLong { what: &'static str, length: usize },
    #[error("{what} has {character:?} at character {position} (only A-Z a-z 0-9 _ - are allowed)")]
    BadCharacter { what: &'static str, character: char, position: usize },
}

fn check(what: &'static str, text: &str) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty { what });
    }
    if let Some((position, character)) =
        text.chars().enumerate().find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(IdError::BadCharacter { what, character, position });
    }
    // Only ASCII is left, so the byte length is the character count.
    if text.len() > REFERENCE_CHARS_MAX {
        return Err(IdError::TooLong { what, length: text.len() });
    }
    Ok(())
}

macro_rules! reference {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<$name, IdError> {
                check($what, text)?;
                Ok($name(text.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<$name, IdError> {
                check($what, &text)?;
                Ok($name(text))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<$name, IdError> {
                $name::parse(text)
            }
        }
    };
}

reference!(
    /// The merchant's id of a payment (our payment id), unique per merchant at the provider.
    MerchantPaymentId,
    "merchantPaymentId"
);
reference!(
    /// The merchant's id of a refund; a repeated one returns the earlier refund.
    MerchantRefundId,
    "merchantRefundId"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet_up_to_64() {
        assert!(MerchantPaymentId::parse("TEST_QR_Payment-01").is_ok());
        assert!(MerchantPaymentId::parse(&"a".repeat(64)).is_ok());
        assert_eq!(
            MerchantPaymentId::parse(&"a".repeat(65)),
            Err(IdError::TooLong { what: "merchantPaymentId", length: 65 })
        );
    }

    #[test]
    fn refuses_other_characters() {
        assert_eq!(MerchantPaymentId::parse(""), Err(IdError::Empty { what: "merchantPaymentId" }));
        assert!(matches!(
            MerchantPaymentId::parse("a/b"),
            Err(IdError::BadCharacter { character: '/', position: 1, .. })
        ));
        assert!(MerchantRefundId::parse("R 1").is_err());
        assert!(MerchantRefundId::parse("支払い").is_err());
        assert!(serde_json::from_str::<MerchantPaymentId>("\"a.b\"").is_err());
        assert_eq!(serde_json::from_str::<MerchantPaymentId>("\"a-b\"").unwrap().as_str(), "a-b");
    }
}
