//! Identifiers carried by settlement files, each checked once when the file is read.
//!
//! Matching joins on these (terminal id + STAN + date, RRN, merchant payment id, payout id), so
//! a malformed one is refused at the edge instead of quietly failing to match later. Each
//! constructor's error completes a message of the form `<field> "<value>" <problem>`.

use std::fmt;

/// Declares an identifier kept as the text the file carried, with a checking constructor.
macro_rules! text_identifier {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The identifier, if `text` has its form; otherwise what is wrong with it.
            pub fn parse(text: &str) -> Result<$name, &'static str> {
                let check: fn(&str) -> Result<(), &'static str> = $check;
                check(text)?;
                Ok($name(text.to_string()))
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
    };
}

/// Longest identifier accepted from a provider: PayPay's `merchantPaymentId` may have 64
/// characters, and no other identifier in these files comes near it.
pub const EXTERNAL_ID_CHARS_MAX: usize = 64;

fn digits(text: &str, count: usize) -> bool {
    text.len() == count && text.bytes().all(|byte| byte.is_ascii_digit())
}

fn alphanumerics(text: &str, count: usize) -> bool {
    text.len() == count && text.bytes().all(|byte| byte.is_ascii_alphanumeric())
}

/// Visible ASCII only: no spaces, no control characters, nothing that could hide a difference.
fn visible_ascii(text: &str) -> Result<(), &'static str> {
    if text.is_empty() {
        return Err("is empty");
    }
    if text.len() > EXTERNAL_ID_CHARS_MAX {
        return Err("is longer than 64 characters");
    }
    if !text.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err("may hold only visible ASCII characters (no spaces)");
    }
    Ok(())
}

text_identifier!(
    /// System trace audit number: ISO 8583 field 11, six digits, per terminal.
    Stan,
    |text| if digits(text, 6) { Ok(()) } else { Err("is not 6 digits") }
);

text_identifier!(
    /// Retrieval reference number: ISO 8583 field 37, twelve alphanumeric characters
    /// (acquirers in Japan send digits; the field's type allows letters).
    Rrn,
    |text| if alphanumerics(text, 12) { Ok(()) } else { Err("is not 12 letters or digits") }
);

text_identifier!(
    /// Authorization code: ISO 8583 field 38, six alphanumeric characters.
    AuthCode,
    |text| if alphanumerics(text, 6) { Ok(()) } else { Err("is not 6 letters or digits") }
);

text_identifier!(
    /// A facility's merchant id at the card acquirer or e-money centre: ISO 8583 field 42,
    /// fifteen alphanumeric characters.
    MerchantId,
    |text| if alphanumerics(text, 15) { Ok(()) } else { Err("is not 15 letters or digits") }
);

text_identifier!(
    /// The acquirer's id of one payout (入金番号): the key that ties settlement lines to the
    /// bank credit that pays them.
    PayoutId,
    visible_ascii
);

text_identifier!(
    /// Any other identifier a provider assigns (store, terminal, payment ids): visible ASCII,
    /// at most [`EXTERNAL_ID_CHARS_MAX`] characters.
    ExternalId,
    visible_ascii
);

/// An e-money card id with its middle masked (`JE80****5678`).
///
/// Its constructor refuses an unmasked id, and its errors never repeat the input, for the same
/// reason as card numbers: an id in full identifies a citizen's card.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MaskedCardId(String);

/// Longest e-money card id accepted; transit IC ids are 16 characters.
pub const CARD_ID_CHARS_MAX: usize = 20;

impl MaskedCardId {
    pub fn parse(text: &str) -> Result<MaskedCardId, &'static str> {
        if text.is_empty() || text.len() > CARD_ID_CHARS_MAX {
            return Err("is empty or longer than 20 characters");
        }
        if !text.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'*') {
            return Err("may hold only letters, digits and '*'");
        }
        let shown = text.bytes().filter(|&byte| byte != b'*').count();
        // Like a PAN's first six and last four, at most ten characters may stay visible, and
        // at least a third of the id must be masked.
        if shown > 10 || shown * 3 > text.len() * 2 {
            return Err("shows too much of the card id");
        }
        Ok(MaskedCardId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MaskedCardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaskedCardId({})", self.0)
    }
}

impl fmt::Display for MaskedCardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_have_their_exact_form() {
        assert!(Stan::parse("000123").is_ok());
        assert_eq!(Stan::parse("12345"), Err("is not 6 digits"));
        assert_eq!(Stan::parse("00012a"), Err("is not 6 digits"));
        assert!(Rrn::parse("632810000123").is_ok());
        assert!(Rrn::parse("63281000012").is_err());
        assert!(MerchantId::parse("000000000010001").is_ok());
        assert!(PayoutId::parse("P20261126-001").is_ok());
        assert_eq!(PayoutId::parse("P 1"), Err("may hold only visible ASCII characters (no spaces)"));
        assert!(ExternalId::parse("PAY-01HF...").is_ok());
        assert!(ExternalId::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn card_ids_must_be_masked() {
        assert_eq!(MaskedCardId::parse("JE80****5678").unwrap().as_str(), "JE80****5678");
        assert_eq!(MaskedCardId::parse("JE8012345678"), Err("shows too much of the card id"));
        assert_eq!(MaskedCardId::parse("JE8012345678****"), Err("shows too much of the card id"));
        assert!(MaskedCardId::parse("6900****0001").is_ok());
    }
}
