//! What a payment is made with: every brand the city takes, grouped by method.
//!
//! Brand codes are the wire codes of PROTOCOLS.md §1 (field 48 `BR`), so a brand read from a
//! terminal, a settlement file or the configuration is the same value everywhere.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How the citizen pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Cash,
    Card,
    Emoney,
    Qr,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::Cash, Method::Card, Method::Emoney, Method::Qr];

    pub fn code(self) -> &'static str {
        match self {
            Method::Cash => "cash",
            Method::Card => "card",
            Method::Emoney => "emoney",
            Method::Qr => "qr",
        }
    }

    pub fn name_ja(self) -> &'static str {
        match self {
            Method::Cash => "現金",
            Method::Card => "クレジット・デビット",
            Method::Emoney => "電子マネー",
            Method::Qr => "QRコード",
        }
    }

    pub fn is_cashless(self) -> bool {
        self != Method::Cash
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Method {
    type Err = UnknownBrand;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL.into_iter().find(|method| method.code() == s).ok_or_else(|| UnknownBrand(s.to_string()))
    }
}

/// A payment brand. Cash is a brand of its own so that every payment has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Brand {
    Cash,
    // Credit and debit cards.
    Visa,
    Mastercard,
    Jcb,
    Amex,
    UnionPay,
    // E-money (FeliCa tap).
    TransitIc,
    Id,
    QuicPay,
    Waon,
    Nanaco,
    Edy,
    // QR and barcode.
    PayPay,
    LinePay,
    DBarai,
    AuPay,
    MerPay,
    YuchoPay,
    Alipay,
    WeChatPay,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown brand {0:?} (expected one of CASH, VISA, MC, JCB, AMEX, UPI, TRANSIT, ID, QUICPAY, WAON, NANACO, EDY, PAYPAY, LINEPAY, DBARAI, AUPAY, MERPAY, YUCHO, ALIPAY, WECHAT)")]
pub struct UnknownBrand(pub String);

impl Brand {
    pub const ALL: [Brand; 20] = [
        Brand::Cash,
        Brand::Visa,
        Brand::Mastercard,
        Brand::Jcb,
        Brand::Amex,
        Brand::UnionPay,
        Brand::TransitIc,
        Brand::Id,
        Brand::QuicPay,
        Brand::Waon,
        Brand::Nanaco,
        Brand::Edy,
        Brand::PayPay,
        Brand::LinePay,
        Brand::DBarai,
        Brand::AuPay,
        Brand::MerPay,
        Brand::YuchoPay,
        Brand::Alipay,
        Brand::WeChatPay,
    ];

    pub fn method(self) -> Method {
        match self {
            Brand::Cash => Method::Cash,
            Brand::Visa | Brand::Mastercard | Brand::Jcb | Brand::Amex | Brand::UnionPay => Method::Card,
            Brand::TransitIc | Brand::Id | Brand::QuicPay | Brand::Waon | Brand::Nanaco | Brand::Edy => Method::Emoney,
            Brand::PayPay
            | Brand::LinePay
            | Brand::DBarai
            | Brand::AuPay
            | Brand::MerPay
            | Brand::YuchoPay
            | Brand::Alipay
            | Brand::WeChatPay => Method::Qr,
        }
    }

    /// The wire code (PROTOCOLS.md §1, field 48 `BR`).
    pub fn code(self) -> &'static str {
        match self {
            Brand::Cash => "CASH",
            Brand::Visa => "VISA",
            Brand::Mastercard => "MC",
            Brand::Jcb => "JCB",
            Brand::Amex => "AMEX",
            Brand::UnionPay => "UPI",
            Brand::TransitIc => "TRANSIT",
            Brand::Id => "ID",
            Brand::QuicPay => "QUICPAY",
            Brand::Waon => "WAON",
            Brand::Nanaco => "NANACO",
            Brand::Edy => "EDY",
            Brand::PayPay => "PAYPAY",
            Brand::LinePay => "LINEPAY",
            Brand::DBarai => "DBARAI",
            Brand::AuPay => "AUPAY",
            Brand::MerPay => "MERPAY",
            Brand::YuchoPay => "YUCHO",
            Brand::Alipay => "ALIPAY",
            Brand::WeChatPay => "WECHAT",
        }
    }

    /// The name a citizen sees on the receipt and a clerk on the register.
    pub fn display_name(self) -> &'static str {
        match self {
            Brand::Cash => "現金",
            Brand::Visa => "VISA",
            Brand::Mastercard => "Mastercard",
            Brand::Jcb => "JCB",
            Brand::Amex => "American Express",
            Brand::UnionPay => "銀聯",
            Brand::TransitIc => "交通系IC",
            Brand::Id => "iD",
            Brand::QuicPay => "QUICPay+",
            Brand::Waon => "WAON",
            Brand::Nanaco => "nanaco",
            Brand::Edy => "楽天Edy",
            Brand::PayPay => "PayPay",
            Brand::LinePay => "LINE Pay",
            Brand::DBarai => "d払い",
            Brand::AuPay => "au PAY",
            Brand::MerPay => "メルペイ",
            Brand::YuchoPay => "ゆうちょPay",
            Brand::Alipay => "Alipay",
            Brand::WeChatPay => "WeChat Pay",
        }
    }
}

impl fmt::Display for Brand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Brand {
    type Err = UnknownBrand;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Brand::ALL.into_iter().find(|brand| brand.code() == s).ok_or_else(|| UnknownBrand(s.to_string()))
    }
}

impl Serialize for Brand {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Brand {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        code.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for brand in Brand::ALL {
            assert!(seen.insert(brand.code()), "duplicate code {}", brand.code());
            assert_eq!(brand.code().parse::<Brand>().unwrap(), brand);
        }
        assert!("VISA ".parse::<Brand>().is_err());
        assert!("visa".parse::<Brand>().is_err());
    }

    #[test]
    fn brief_brands_are_grouped_by_method() {
        let count = |method| Brand::ALL.iter().filter(|b| b.method() == method).count();
        assert_eq!(count(Method::Cash), 1);
        assert_eq!(count(Method::Card), 5);
        assert_eq!(count(Method::Emoney), 6);
        assert_eq!(count(Method::Qr), 8);
    }
}
