//! Typed values of the fixed fields and BMPs the commands carry.
//!
//! Each is checked when made, so a command holding one can always be encoded: a password has six
//! digits, a receipt number four, and so on, as PROTOCOLS.md §3 gives their BCD widths.

use std::fmt;

use pos_core::{IdError, TerminalId, Yen};

use crate::zvt::bcd;
use crate::zvt::EncodeError;

/// The largest amount BMP 04 carries: twelve BCD digits.
pub const AMOUNT_YEN_MAX: i64 = 999_999_999_999;

/// Declares a number sent as a fixed count of BCD bytes, with a checked constructor.
macro_rules! bcd_number {
    ($(#[$doc:meta])* $name:ident, $inner:ty, $bytes:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name($inner);

        impl $name {
            /// How many BCD bytes the value takes on the wire.
            pub const BCD_BYTES: usize = $bytes;

            pub fn new(value: $inner) -> Result<$name, EncodeError> {
                let wide = u64::from(value);
                if wide >= 10u64.pow(2 * $bytes) {
                    return Err(EncodeError::NumberTooLarge { what: $what, value: wide, digits: 2 * $bytes });
                }
                Ok($name(value))
            }

            pub fn get(self) -> $inner {
                self.0
            }

            /// The BCD bytes as sent.
            pub fn to_bcd(self) -> Vec<u8> {
                // `new` keeps the value within the digits, so encoding cannot fail; an empty
                // vector would only appear if that check were removed.
                bcd::encode_number(u64::from(self.0), $bytes).unwrap_or_default()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:0width$}", self.0, width = 2 * $bytes)
            }
        }
    };
}

bcd_number!(
    /// A currency as its ISO 4217 numeric code, sent as 2 BCD bytes (`03 92` is JPY).
    CurrencyCode, u16, 2, "currency code"
);
bcd_number!(
    /// The terminal's trace number (BMP 0B), one per transaction; it survives a power loss.
    TraceNumber, u32, 3, "trace number"
);
bcd_number!(
    /// The terminal's receipt number (BMP 87), the key of a reversal.
    ReceiptNumber, u16, 2, "receipt number"
);
bcd_number!(
    /// The turnover record number (BMP 88).
    TurnoverNumber, u32, 3, "turnover number"
);
bcd_number!(
    /// The terminal id (BMP 29): eight digits.
    TerminalNumber, u32, 4, "terminal id"
);

impl CurrencyCode {
    /// Japanese yen, the terminal's currency.
    pub const JPY: CurrencyCode = CurrencyCode(392);
    /// Euro: a currency the terminal refuses (result code `6F`).
    pub const EUR: CurrencyCode = CurrencyCode(978);
}

impl TerminalNumber {
    /// The same eight digits as the system-wide terminal id (ISO 8583 field 41).
    pub fn to_terminal_id(self) -> Result<TerminalId, IdError> {
        TerminalId::parse(&self.to_string())
    }
}

/// The terminal's password, six digits. `Debug` and `Display` never show it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Password(u32);

impl Password {
    pub const BCD_BYTES: usize = 3;

    pub fn new(value: u32) -> Result<Password, EncodeError> {
        if value > 999_999 {
            // The error does not repeat the value: it may be the real password mistyped.
            return Err(EncodeError::PasswordTooLong);
        }
        Ok(Password(value))
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn to_bcd(self) -> Vec<u8> {
        bcd::encode_number(u64::from(self.0), Password::BCD_BYTES).unwrap_or_default()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(******)")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("******")
    }
}

/// The result code of BMP 27 and of an abort `06 1E`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResultCode(pub u8);

impl ResultCode {
    /// `00`: the transaction succeeded.
    pub const SUCCESS: ResultCode = ResultCode(0x00);
    /// `6F`: the currency is not the terminal's (PROTOCOLS.md §3, authorization).
    pub const WRONG_CURRENCY: ResultCode = ResultCode(0x6F);

    pub fn is_success(self) -> bool {
        self == ResultCode::SUCCESS
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X}", self.0)
    }
}

/// A time of day from BMP 0C (`hhmmss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay {
    hour: u8,
    minute: u8,
    second: u8,
}

impl TimeOfDay {
    pub fn new(hour: u8, minute: u8, second: u8) -> Option<TimeOfDay> {
        (hour < 24 && minute < 60 && second < 60).then_some(TimeOfDay { hour, minute, second })
    }

    pub fn hour(self) -> u8 {
        self.hour
    }

    pub fn minute(self) -> u8 {
        self.minute
    }

    pub fn second(self) -> u8 {
        self.second
    }

    pub fn to_bcd(self) -> Vec<u8> {
        vec![pack_two_digits(self.hour), pack_two_digits(self.minute), pack_two_digits(self.second)]
    }
}

/// A day of the year without the year, from BMP 0D (`MMDD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonthDay {
    month: u8,
    day: u8,
}

impl MonthDay {
    /// A month 1–12 and a day 1–31. The year is not sent, so February 29 is accepted.
    pub fn new(month: u8, day: u8) -> Option<MonthDay> {
        let days_max = match month {
            2 => 29,
            4 | 6 | 9 | 11 => 30,
            1..=12 => 31,
            _ => return None,
        };
        (1..=days_max).contains(&day).then_some(MonthDay { month, day })
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn day(self) -> u8 {
        self.day
    }

    pub fn to_bcd(self) -> Vec<u8> {
        vec![pack_two_digits(self.month), pack_two_digits(self.day)]
    }
}

/// A card's expiry from BMP 0E (`YYMM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExpiryDate {
    year: u8,
    month: u8,
}

impl ExpiryDate {
    /// The last two digits of the year (0–99) and a month 1–12.
    pub fn new(year: u8, month: u8) -> Option<ExpiryDate> {
        (year < 100 && (1..=12).contains(&month)).then_some(ExpiryDate { year, month })
    }

    pub fn year(self) -> u8 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn to_bcd(self) -> Vec<u8> {
        vec![pack_two_digits(self.year), pack_two_digits(self.month)]
    }
}

/// The BCD bytes of an amount for BMP 04.
pub fn amount_to_bcd(amount: Yen) -> Result<Vec<u8>, EncodeError> {
    let value = u64::try_from(amount.get()).map_err(|_| EncodeError::AmountOutOfRange { amount })?;
    if amount.get() > AMOUNT_YEN_MAX {
        return Err(EncodeError::AmountOutOfRange { amount });
    }
    bcd::encode_number(value, 6).map_err(|_| EncodeError::AmountOutOfRange { amount })
}

/// Two decimal digits (0–99) as one BCD byte.
fn pack_two_digits(value: u8) -> u8 {
    ((value / 10) << 4) | (value % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_checked() {
        assert!(ReceiptNumber::new(9_999).is_ok());
        assert!(ReceiptNumber::new(10_000).is_err());
        assert!(TraceNumber::new(1_000_000).is_err());
        assert!(TerminalNumber::new(99_999_999).is_ok());
        assert!(TerminalNumber::new(100_000_000).is_err());
        assert_eq!(CurrencyCode::JPY.to_bcd(), vec![0x03, 0x92]);
        assert_eq!(CurrencyCode::JPY.to_string(), "0392");
    }

    #[test]
    fn terminal_number_becomes_a_terminal_id() {
        let number = TerminalNumber::new(10_010_001).unwrap();
        assert_eq!(number.to_bcd(), vec![0x10, 0x01, 0x00, 0x01]);
        assert_eq!(number.to_terminal_id().unwrap().as_str(), "10010001");
        assert_eq!(TerminalNumber::new(42).unwrap().to_terminal_id().unwrap().as_str(), "00000042");
    }

    #[test]
    fn password_is_never_shown() {
        let password = Password::new(123_456).unwrap();
        assert_eq!(password.to_bcd(), vec![0x12, 0x34, 0x56]);
        assert!(!format!("{password:?} {password}").contains("123456"));
        let error = Password::new(1_234_567).unwrap_err().to_string();
        assert!(!error.contains("1234567"));
    }

    #[test]
    fn amounts() {
        assert_eq!(amount_to_bcd(Yen::new(470).unwrap()).unwrap(), vec![0, 0, 0, 0, 0x04, 0x70]);
        assert!(amount_to_bcd(Yen::new(-1).unwrap()).is_err());
        assert!(amount_to_bcd(Yen::new(AMOUNT_YEN_MAX).unwrap()).is_ok());
        assert!(amount_to_bcd(Yen::new(AMOUNT_YEN_MAX + 1).unwrap()).is_err());
    }

    #[test]
    fn dates_and_times_are_checked() {
        assert!(TimeOfDay::new(23, 59, 59).is_some());
        assert!(TimeOfDay::new(24, 0, 0).is_none());
        assert!(MonthDay::new(2, 29).is_some());
        assert!(MonthDay::new(4, 31).is_none());
        assert!(MonthDay::new(13, 1).is_none());
        assert_eq!(MonthDay::new(12, 24).unwrap().to_bcd(), vec![0x12, 0x24]);
        assert!(ExpiryDate::new(30, 0).is_none());
    }
}
