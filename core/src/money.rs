//! Money: whole yen, decimal rates, and named rounding.
//!
//! JPY has no minor unit, so an amount is an integer number of yen. Fees are a [`Rate`] times an
//! amount, computed in `rust_decimal` and brought back to whole yen by a named [`Rounding`]
//! policy; the city's default is truncation (円未満切り捨て). No floating point is used anywhere.

use std::fmt;
use std::iter::Sum;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// The largest amount the system accepts anywhere: one trillion yen. Far beyond any fee, and far
/// enough below `i64::MAX` that sums of millions of amounts cannot overflow.
pub const YEN_ABS_MAX: i64 = 1_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount overflow: {0}")]
    Overflow(&'static str),
    #[error("amount {0} is outside the accepted range (±{YEN_ABS_MAX} yen)")]
    OutOfRange(i128),
    #[error("invalid rate {0:?}: {1}")]
    InvalidRate(String, &'static str),
    #[error("unknown rounding policy {0:?} (expected truncate, floor, ceiling, half_up or half_even)")]
    UnknownRounding(String),
}

/// An amount of Japanese yen. Signed: refunds and reversals are negative in reports.
///
/// All arithmetic is checked; an amount never leaves ±[`YEN_ABS_MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct Yen(i64);

impl Yen {
    pub const ZERO: Yen = Yen(0);

    /// An amount, if it is within the accepted range.
    pub fn new(value: i64) -> Result<Yen, MoneyError> {
        if value.unsigned_abs() > YEN_ABS_MAX as u64 {
            return Err(MoneyError::OutOfRange(i128::from(value)));
        }
        Ok(Yen(value))
    }

    pub fn get(self) -> i64 {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn checked_add(self, other: Yen) -> Result<Yen, MoneyError> {
        let sum = self.0.checked_add(other.0).ok_or(MoneyError::Overflow("addition"))?;
        Yen::new(sum)
    }

    pub fn checked_sub(self, other: Yen) -> Result<Yen, MoneyError> {
        let difference = self.0.checked_sub(other.0).ok_or(MoneyError::Overflow("subtraction"))?;
        Yen::new(difference)
    }

    pub fn checked_mul(self, factor: i64) -> Result<Yen, MoneyError> {
        let product = self.0.checked_mul(factor).ok_or(MoneyError::Overflow("multiplication"))?;
        Yen::new(product)
    }

    pub fn checked_neg(self) -> Yen {
        // Within the range, negation cannot overflow.
        Yen(-self.0)
    }

    /// Sum of many amounts, failing on the first overflow.
    pub fn checked_sum<I: IntoIterator<Item = Yen>>(items: I) -> Result<Yen, MoneyError> {
        items.into_iter().try_fold(Yen::ZERO, Yen::checked_add)
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::from(self.0)
    }
}

impl<'de> Deserialize<'de> for Yen {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = i64::deserialize(deserializer)?;
        Yen::new(value).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Yen {
    /// `¥1,500`, `-¥300`: the form printed on reports and receipts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.unsigned_abs().to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (index, digit) in digits.chars().enumerate() {
            if index > 0 && (digits.len() - index).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}¥{grouped}")
    }
}

impl Sum<Yen> for Option<Yen> {
    fn sum<I: Iterator<Item = Yen>>(iter: I) -> Self {
        Yen::checked_sum(iter).ok()
    }
}

/// How a decimal amount becomes whole yen. Named, because treasury and the acquirers' contracts
/// name it (円未満切り捨て, 四捨五入 …); there is no implicit default in arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Toward zero (円未満切り捨て). The city's default for fees.
    Truncate,
    /// Toward negative infinity.
    Floor,
    /// Away from zero (円未満切り上げ).
    Ceiling,
    /// Half away from zero (四捨五入).
    HalfUp,
    /// Half to even (banker's rounding).
    HalfEven,
}

impl Rounding {
    /// The default for JPY fees: truncate below one yen.
    pub const JPY_FEE_DEFAULT: Rounding = Rounding::Truncate;

    pub fn apply(self, value: Decimal) -> Decimal {
        let strategy = match self {
            Rounding::Truncate => RoundingStrategy::ToZero,
            Rounding::Floor => RoundingStrategy::ToNegativeInfinity,
            Rounding::Ceiling => RoundingStrategy::AwayFromZero,
            Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
        };
        value.round_dp_with_strategy(0, strategy)
    }

    /// Whole yen from a decimal amount under this policy.
    pub fn to_yen(self, value: Decimal) -> Result<Yen, MoneyError> {
        let rounded = self.apply(value);
        let whole = rounded.to_i64().ok_or(MoneyError::Overflow("rounding"))?;
        Yen::new(whole)
    }

    pub fn name(self) -> &'static str {
        match self {
            Rounding::Truncate => "truncate",
            Rounding::Floor => "floor",
            Rounding::Ceiling => "ceiling",
            Rounding::HalfUp => "half_up",
            Rounding::HalfEven => "half_even",
        }
    }
}

impl FromStr for Rounding {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "truncate" => Ok(Rounding::Truncate),
            "floor" => Ok(Rounding::Floor),
            "ceiling" => Ok(Rounding::Ceiling),
            "half_up" => Ok(Rounding::HalfUp),
            "half_even" => Ok(Rounding::HalfEven),
            other => Err(MoneyError::UnknownRounding(other.to_string())),
        }
    }
}

/// A rate such as a merchant discount rate, held as a fraction (3.24 % is `0.0324`).
///
/// Written in configuration as a percent string (`"3.24%"`), never as a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(Decimal);

impl Rate {
    /// The largest rate accepted: 100 %.
    pub const MAX_PERCENT: u32 = 100;

    pub fn from_fraction(fraction: Decimal) -> Result<Rate, MoneyError> {
        if fraction.is_sign_negative() || fraction > Decimal::ONE {
            return Err(MoneyError::InvalidRate(fraction.to_string(), "must be between 0 % and 100 %"));
        }
        Ok(Rate(fraction.normalize()))
    }

    /// Parses `"3.24%"` or `"3.24"` (percent) into a rate.
    pub fn parse_percent(text: &str) -> Result<Rate, MoneyError> {
        let trimmed = text.trim();
        let number = trimmed.strip_suffix('%').unwrap_or(trimmed).trim();
        let percent =
            Decimal::from_str(number).map_err(|_| MoneyError::InvalidRate(text.to_string(), "not a decimal number"))?;
        if percent.is_sign_negative() || percent > Decimal::from(Rate::MAX_PERCENT) {
            return Err(MoneyError::InvalidRate(text.to_string(), "must be between 0 % and 100 %"));
        }
        Ok(Rate((percent / Decimal::ONE_HUNDRED).normalize()))
    }

    pub fn fraction(self) -> Decimal {
        self.0
    }

    pub fn percent(self) -> Decimal {
        (self.0 * Decimal::ONE_HUNDRED).normalize()
    }

    /// The fee on an amount, before rounding, as an exact decimal.
    pub fn fee_exact(self, amount: Yen) -> Decimal {
        amount.to_decimal() * self.0
    }

    /// The fee on an amount in whole yen under a named rounding policy.
    pub fn fee(self, amount: Yen, rounding: Rounding) -> Result<Yen, MoneyError> {
        rounding.to_yen(self.fee_exact(amount))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.percent())
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Rate::parse_percent(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_groups_thousands() {
        assert_eq!(Yen::new(0).unwrap().to_string(), "¥0");
        assert_eq!(Yen::new(300).unwrap().to_string(), "¥300");
        assert_eq!(Yen::new(1500).unwrap().to_string(), "¥1,500");
        assert_eq!(Yen::new(-219_131_385).unwrap().to_string(), "-¥219,131,385");
    }

    #[test]
    fn rate_parses_percent_strings() {
        let rate = Rate::parse_percent("3.24%").unwrap();
        assert_eq!(rate.fraction(), Decimal::new(324, 4));
        assert_eq!(rate.to_string(), "3.24%");
        assert!(Rate::parse_percent("-1%").is_err());
        assert!(Rate::parse_percent("101").is_err());
        assert!(Rate::parse_percent("three").is_err());
    }

    #[test]
    fn fee_rounding_is_named_and_exact() {
        let rate = Rate::parse_percent("3.24%").unwrap();
        let amount = Yen::new(470).unwrap(); // 15.228 yen
        assert_eq!(rate.fee(amount, Rounding::Truncate).unwrap().get(), 15);
        assert_eq!(rate.fee(amount, Rounding::Ceiling).unwrap().get(), 16);
        assert_eq!(rate.fee(amount, Rounding::HalfUp).unwrap().get(), 15);
        // A refund's fee truncates toward zero, mirroring the sale's.
        assert_eq!(rate.fee(amount.checked_neg(), Rounding::Truncate).unwrap().get(), -15);
        assert_eq!(rate.fee(amount.checked_neg(), Rounding::Floor).unwrap().get(), -16);
        // 2.5 % of 100 = 2.5: the midpoint policies differ.
        let half = Rate::parse_percent("2.5").unwrap();
        let hundred = Yen::new(100).unwrap();
        assert_eq!(half.fee(hundred, Rounding::HalfUp).unwrap().get(), 3);
        assert_eq!(half.fee(hundred, Rounding::HalfEven).unwrap().get(), 2);
    }

    #[test]
    fn out_of_range_amounts_are_refused() {
        assert!(Yen::new(YEN_ABS_MAX).is_ok());
        assert!(Yen::new(YEN_ABS_MAX + 1).is_err());
        assert!(Yen::new(i64::MIN).is_err());
        let max = Yen::new(YEN_ABS_MAX).unwrap();
        assert!(max.checked_add(Yen::new(1).unwrap()).is_err());
        assert!(max.checked_mul(2).is_err());
        assert!(serde_json::from_str::<Yen>("1000000000001").is_err());
        assert!(serde_json::from_str::<Yen>("9223372036854775808").is_err());
        assert!(serde_json::from_str::<Yen>("1.5").is_err());
    }

    fn any_yen() -> impl Strategy<Value = Yen> {
        (-YEN_ABS_MAX..=YEN_ABS_MAX).prop_map(|v| Yen::new(v).unwrap())
    }

    fn any_rounding() -> impl Strategy<Value = Rounding> {
        prop_oneof![
            Just(Rounding::Truncate),
            Just(Rounding::Floor),
            Just(Rounding::Ceiling),
            Just(Rounding::HalfUp),
            Just(Rounding::HalfEven),
        ]
    }

    proptest! {
        #[test]
        fn addition_matches_wide_integers(a in any_yen(), b in any_yen()) {
            let wide = i128::from(a.get()) + i128::from(b.get());
            match a.checked_add(b) {
                Ok(sum) => prop_assert_eq!(i128::from(sum.get()), wide),
                Err(_) => prop_assert!(wide.unsigned_abs() > YEN_ABS_MAX as u128),
            }
        }

        #[test]
        fn subtraction_inverts_addition(a in any_yen(), b in any_yen()) {
            if let Ok(sum) = a.checked_add(b) {
                prop_assert_eq!(sum.checked_sub(b).unwrap(), a);
            }
        }

        #[test]
        fn multiplication_matches_wide_integers(a in any_yen(), k in -1_000_000i64..1_000_000) {
            let wide = i128::from(a.get()) * i128::from(k);
            match a.checked_mul(k) {
                Ok(product) => prop_assert_eq!(i128::from(product.get()), wide),
                Err(_) => prop_assert!(wide.unsigned_abs() > YEN_ABS_MAX as u128),
            }
        }

        #[test]
        fn sums_never_wrap(values in proptest::collection::vec(any_yen(), 0..50)) {
            let wide: i128 = values.iter().map(|v| i128::from(v.get())).sum();
            let prefix_overflows = values.iter().scan(0i128, |acc, v| { *acc += i128::from(v.get()); Some(*acc) })
                .any(|partial| partial.unsigned_abs() > YEN_ABS_MAX as u128);
            match Yen::checked_sum(values.iter().copied()) {
                Ok(sum) => prop_assert_eq!(i128::from(sum.get()), wide),
                Err(_) => prop_assert!(prefix_overflows),
            }
        }

        #[test]
        fn rounding_stays_within_one_yen(amount in -10_000_000i64..10_000_000, basis_points in 0u32..=10_000, rounding in any_rounding()) {
            let rate = Rate::from_fraction(Decimal::new(i64::from(basis_points), 4)).unwrap();
            let exact = rate.fee_exact(Yen::new(amount).unwrap());
            let fee = rate.fee(Yen::new(amount).unwrap(), rounding).unwrap().to_decimal();
            prop_assert!((fee - exact).abs() < Decimal::ONE);
            match rounding {
                Rounding::Truncate => prop_assert!(fee.abs() <= exact.abs()),
                Rounding::Floor => prop_assert!(fee <= exact),
                Rounding::Ceiling => prop_assert!(fee.abs() >= exact.abs()),
                Rounding::HalfUp | Rounding::HalfEven => prop_assert!((fee - exact).abs() <= Decimal::new(5, 1)),
            }
            // Rounding is symmetric around zero for every policy except floor.
            if rounding != Rounding::Floor {
                let negated = rate.fee(Yen::new(-amount).unwrap(), rounding).unwrap().to_decimal();
                prop_assert_eq!(negated, -fee);
            }
        }

        #[test]
        fn whole_amounts_are_not_changed_by_rounding(amount in -YEN_ABS_MAX..=YEN_ABS_MAX, rounding in any_rounding()) {
            prop_assert_eq!(rounding.to_yen(Decimal::from(amount)).unwrap().get(), amount);
        }
    }
}
