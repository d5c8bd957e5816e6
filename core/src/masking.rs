//! Card data never stored or shown whole.
//!
//! A [`MaskedPan`] keeps at most the first six and last four digits of a card number (the PCI DSS
//! display limit); its constructor is the only way to make one, so a value of this type cannot
//! carry a full PAN into the journal, a log line or an error message.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The mask character used in the middle of a card number.
pub const MASK_CHAR: char = '*';

/// A card number with everything but the first 6 and last 4 digits replaced by `*`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct MaskedPan(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaskError {
    #[error("card number has {0} digits; expected 12 to 19")]
    Length(usize),
    #[error("card number contains a character that is not a digit at position {0}")]
    NotDigit(usize),
    #[error("masked card number reveals more than the first 6 and last 4 digits")]
    RevealsTooMuch,
}

/// Masks a full card number to first 6 / last 4. The error never repeats the input.
pub fn mask_pan(pan: &str) -> Result<MaskedPan, MaskError> {
    if let Some(position) = pan.bytes().position(|b| !b.is_ascii_digit()) {
        return Err(MaskError::NotDigit(position));
    }
    let length = pan.len();
    if !(12..=19).contains(&length) {
        return Err(MaskError::Length(length));
    }
    let mut masked = String::with_capacity(length);
    masked.push_str(&pan[..6]);
    masked.extend(std::iter::repeat_n(MASK_CHAR, length - 10));
    masked.push_str(&pan[length - 4..]);
    Ok(MaskedPan(masked))
}

impl MaskedPan {
    /// Accepts an already-masked number (from a settlement file or a terminal), checking that it
    /// shows no more than first 6 / last 4 digits.
    pub fn parse_masked(text: &str) -> Result<MaskedPan, MaskError> {
        let length = text.chars().count();
        if !(12..=19).contains(&length) {
            return Err(MaskError::Length(length));
        }
        let digits_shown = text.chars().filter(char::is_ascii_digit).count();
        for (position, character) in text.chars().enumerate() {
            let in_middle = position >= 6 && position < length - 4;
            if in_middle && character != MASK_CHAR {
                return Err(MaskError::RevealsTooMuch);
            }
            if !in_middle && !character.is_ascii_digit() && character != MASK_CHAR {
                return Err(MaskError::NotDigit(position));
            }
        }
        debug_assert!(digits_shown <= 10);
        Ok(MaskedPan(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn last_four(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

impl fmt::Debug for MaskedPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaskedPan({})", self.0)
    }
}

impl fmt::Display for MaskedPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for MaskedPan {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        MaskedPan::parse_masked(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn masks_first_six_last_four() {
        assert_eq!(mask_pan("4111111111111111").unwrap().as_str(), "411111******1111");
        assert_eq!(mask_pan("378282246310005").unwrap().as_str(), "378282*****0005");
        assert!(matches!(mask_pan("4111-1111"), Err(MaskError::NotDigit(4))));
        let error = mask_pan("12345").unwrap_err().to_string();
        assert!(!error.contains("12345"));
    }

    #[test]
    fn parse_masked_refuses_full_numbers() {
        assert!(MaskedPan::parse_masked("411111******1111").is_ok());
        assert_eq!(MaskedPan::parse_masked("4111111111111111"), Err(MaskError::RevealsTooMuch));
    }

    proptest! {
        #[test]
        fn masked_output_never_contains_the_middle_digits(pan in "[0-9]{12,19}") {
            let masked = mask_pan(&pan).unwrap();
            prop_assert_eq!(masked.as_str().len(), pan.len());
            prop_assert_eq!(&masked.as_str()[..6], &pan[..6]);
            prop_assert!(masked.as_str()[6..pan.len() - 4].chars().all(|c| c == MASK_CHAR));
            prop_assert!(MaskedPan::parse_masked(masked.as_str()).is_ok());
        }
    }
}

/// The shortest and longest customer-presented payment code (a QR app's barcode) accepted.
pub const CUSTOMER_CODE_DIGITS_MIN: usize = 12;
pub const CUSTOMER_CODE_DIGITS_MAX: usize = 24;
/// Digits of a customer code kept in the clear at each end when it is masked.
pub const CUSTOMER_CODE_CLEAR_DIGITS: usize = 4;

/// A barcode a customer's payment app shows, scanned at the counter: digits only,
/// [`CUSTOMER_CODE_DIGITS_MIN`] to [`CUSTOMER_CODE_DIGITS_MAX`] long. It is a bearer credential
/// for the next minutes, so `Debug` prints it masked and only [`CustomerCode::masked`] is ever
/// stored, logged or answered.
#[derive(Clone, PartialEq, Eq)]
pub struct CustomerCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomerCodeError {
    #[error("a customer code is digits only")]
    NotDigits,
    #[error(
        "a customer code is {CUSTOMER_CODE_DIGITS_MIN} to {CUSTOMER_CODE_DIGITS_MAX} digits long, this one has {0}"
    )]
    Length(usize),
}

impl CustomerCode {
    pub fn parse(text: &str) -> Result<CustomerCode, CustomerCodeError> {
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CustomerCodeError::NotDigits);
        }
        if !(CUSTOMER_CODE_DIGITS_MIN..=CUSTOMER_CODE_DIGITS_MAX).contains(&text.len()) {
            return Err(CustomerCodeError::Length(text.len()));
        }
        Ok(CustomerCode(text.to_string()))
    }

    /// The first and last four digits, the rest as `*` (like a masked card number).
    pub fn masked(&self) -> String {
        let digits = self.0.len();
        let first = &self.0[..CUSTOMER_CODE_CLEAR_DIGITS];
        let last = &self.0[digits - CUSTOMER_CODE_CLEAR_DIGITS..];
        let middle = MASK_CHAR.to_string().repeat(digits - 2 * CUSTOMER_CODE_CLEAR_DIGITS);
        format!("{first}{middle}{last}")
    }

    /// The code itself, for the one request that charges it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CustomerCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomerCode({})", self.masked())
    }
}

/// Masks `text` when it is a customer payment code; anything else is returned as it is.
pub fn mask_if_customer_code(text: &str) -> String {
    CustomerCode::parse(text).map_or_else(|_| text.to_string(), |code| code.masked())
}

/// The shortest all-digit code a scan that pays nothing still takes for a payment app's code
/// (product barcodes — JAN/EAN-13, UPC-A, ITF-14 — are 14 digits at most; payment apps' are longer).
pub const PAYMENT_APP_CODE_DIGITS_MIN: usize = 16;

/// What may be kept of a scanned code: masked when the scan paid a sale with it, or when it has
/// the shape of a payment app's code; a product barcode as it is.
pub fn mask_scanned(text: &str, paying: bool) -> String {
    let digits = text.len() >= PAYMENT_APP_CODE_DIGITS_MIN && text.bytes().all(|b| b.is_ascii_digit());
    if paying || digits {
        mask_if_customer_code(text)
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod customer_code_tests {
    use super::*;

    #[test]
    fn customer_codes_are_masked_first_and_last_four() {
        let code = CustomerCode::parse("281234567890123456").unwrap();
        assert_eq!(code.masked(), "2812**********3456");
        assert_eq!(format!("{code:?}"), "CustomerCode(2812**********3456)");
        assert_eq!(mask_if_customer_code("281234567890123456"), "2812**********3456");
        assert_eq!(mask_if_customer_code("ISBN-978"), "ISBN-978");
        assert_eq!(CustomerCode::parse("12345").unwrap_err(), CustomerCodeError::Length(5));
        assert_eq!(CustomerCode::parse("1234567890ab").unwrap_err(), CustomerCodeError::NotDigits);
        assert_eq!(mask_scanned("4901234567894", false), "4901234567894", "a product barcode stays");
        assert_eq!(mask_scanned("4901234567894", true), "4901*****7894", "a code that paid is masked");
        assert_eq!(mask_scanned("281234567890123456", false), "2812**********3456");
    }
}

/// Query parameters of a connection URL whose values are secrets.
const SECRET_URL_PARAMETERS: [&str; 4] = ["password", "sslpassword", "pass", "passwd"];

/// A URL as it may be printed: without user information (`user:password@`) and with the values of
/// secret query parameters replaced by `****`. Database URLs pass through this before any log
/// line, error message or answer shows them.
pub fn url_for_display(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if SECRET_URL_PARAMETERS.contains(&name.to_ascii_lowercase().as_str()) => {
                        format!("{name}=****")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{host}{tail}"),
        None => format!("{host}{tail}"),
    }
}

#[cfg(test)]
mod url_tests {
    use super::url_for_display;

    #[test]
    fn urls_lose_their_user_information_and_secret_parameters() {
        assert_eq!(
            url_for_display("postgres://pos:S3cret@db.city.example:5432/pos?sslmode=verify-full&password=X2"),
            "postgres://db.city.example:5432/pos?sslmode=verify-full&password=****"
        );
        assert_eq!(url_for_display("postgres://pos@db/pos"), "postgres://db/pos");
        assert_eq!(url_for_display("sqlite:///var/lib/pos/journal.db"), "sqlite:///var/lib/pos/journal.db");
        assert_eq!(url_for_display("postgres://a:b@c@host/db"), "postgres://host/db");
    }
}
