//! What a simulator is: the QR brand it acts as, its API keys and merchants, code expiry, fee
//! terms and payout lag for the settlement file.
//!
//! One simulator plays one QR brand (PayPay, LINE Pay, …): run one per brand. The configuration
//! is plain data (the binary reads it from TOML with unknown keys refused); [`QrSimConfig::validate`]
//! reports every problem with its key path.

use std::collections::HashSet;

use pos_core::{Brand, Method, Rate, Rounding};
use qr_protocol::{ApiKey, ApiSecret};
use serde::Deserialize;

/// Where the control endpoints live: outside the provider's `/v2`.
pub const CONTROL_PREFIX: &str = "/_sim";

/// The longest code lifetime accepted.
pub const CODE_EXPIRY_SECONDS_MAX: u32 = 86_400;
/// The longest payout lag accepted, in bank business days.
pub const PAYOUT_LAG_DAYS_MAX: u32 = 30;
/// The most API keys and the most merchants a simulator holds.
pub const KEYS_MAX: usize = 256;
pub const MERCHANTS_MAX: usize = 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QrSimConfig {
    /// The QR brand this simulator acts as (`PAYPAY`, `LINEPAY`, …).
    pub brand: Brand,
    pub keys: Vec<KeyConfig>,
    pub merchants: Vec<MerchantConfig>,
    /// How long a created code can be paid.
    pub code_expiry_seconds: u32,
    /// Codes' `url` is `{payment_url_base}/{codeId}`; this is what the displayed QR code encodes.
    pub payment_url_base: String,
    /// Fee terms per QR brand; the simulator uses its own brand's.
    pub fees: Vec<FeeTerm>,
    /// Bank business days (Saturdays and Sundays skipped) from a transaction to its payout.
    pub payout_lag_days: u32,
}

/// An API key, its secret and the merchants it may act for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub api_key: ApiKey,
    pub api_secret: ApiSecret,
    pub merchants: Vec<String>,
}

/// A merchant (the city, or a designated manager) and its store and terminal at the provider,
/// as printed in the settlement file's 加盟店ID, 店舗ID and 端末ID.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantConfig {
    pub merchant_id: String,
    /// What the customer page shows as the merchant (the merchant id when absent).
    #[serde(default)]
    pub name: Option<String>,
    pub store_id: String,
    pub terminal_id: String,
}

/// The merchant discount of one QR brand: `fee = rate × signed gross`, rounded as contracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeTerm {
    pub brand: Brand,
    pub rate: Rate,
    pub rounding: Rounding,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid simulator configuration:\n{}", .problems.join("\n"))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl QrSimConfig {
    /// A PayPay simulator with key `sample_key` / `sample_secret` acting for merchant `M0001`
    /// (store `S0010001`, terminal `R0010001`), codes valid 5 minutes, fee 2 % truncated,
    /// payout 4 business days later: the shape of the §4.2 example.
    pub fn example() -> QrSimConfig {
        QrSimConfig {
            brand: Brand::PayPay,
            keys: vec![KeyConfig {
                api_key: ApiKey::new("sample_key"),
                api_secret: ApiSecret::new("sample_secret"),
                merchants: vec!["M0001".into()],
            }],
            merchants: vec![MerchantConfig {
                merchant_id: "M0001".into(),
                name: Some("見本市 市民課 / Mihon City, Citizens' Division".into()),
                store_id: "S0010001".into(),
                terminal_id: "R0010001".into(),
            }],
            code_expiry_seconds: 300,
            payment_url_base: "https://qr.sim.invalid/pay".into(),
            fees: Brand::ALL
                .into_iter()
                .filter(|brand| brand.method() == Method::Qr)
                .map(|brand| FeeTerm {
                    brand,
                    rate: Rate::parse_percent("2").unwrap_or_else(|_| unreachable!("constant rate")),
                    rounding: Rounding::JPY_FEE_DEFAULT,
                })
                .collect(),
            payout_lag_days: 4,
        }
    }

    /// Every problem, each with its key path.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.brand.method() != Method::Qr {
            problems.push(format!("brand: {} is not a QR brand", self.brand.code()));
        }
        if self.keys.is_empty() || self.keys.len() > KEYS_MAX {
            problems.push(format!("keys: between 1 and {KEYS_MAX} keys are needed"));
        }
        if self.merchants.is_empty() || self.merchants.len() > MERCHANTS_MAX {
            problems.push(format!("merchants: between 1 and {MERCHANTS_MAX} merchants are needed"));
        }
        let mut merchant_ids = HashSet::new();
        for (index, merchant) in self.merchants.iter().enumerate() {
            if merchant.merchant_id.is_empty() || !merchant_ids.insert(merchant.merchant_id.as_str()) {
                problems.push(format!("merchants[{index}].merchant_id: empty or repeated"));
            }
        }
        let mut keys = HashSet::new();
        for (index, key) in self.keys.iter().enumerate() {
            if key.api_key.as_str().is_empty() || key.api_key.as_str().contains(':') || !keys.insert(&key.api_key) {
                problems.push(format!("keys[{index}].api_key: empty, contains ':', or repeated"));
            }
            if key.api_secret.expose().is_empty() {
                problems.push(format!("keys[{index}].api_secret: empty"));
            }
            if key.merchants.is_empty() {
                problems.push(format!("keys[{index}].merchants: a key needs at least one merchant"));
            }
            for (position, merchant) in key.merchants.iter().enumerate() {
                if !merchant_ids.contains(merchant.as_str()) {
                    problems.push(format!("keys[{index}].merchants[{position}]: unknown merchant {merchant:?}"));
                }
            }
        }
        if self.code_expiry_seconds == 0 || self.code_expiry_seconds > CODE_EXPIRY_SECONDS_MAX {
            problems.push(format!("code_expiry_seconds: must be 1..={CODE_EXPIRY_SECONDS_MAX}"));
        }
        if self.payout_lag_days > PAYOUT_LAG_DAYS_MAX {
            problems.push(format!("payout_lag_days: at most {PAYOUT_LAG_DAYS_MAX}"));
        }
        if self.fee_term().is_none() {
            problems.push(format!("fees: no term for the simulator's brand {}", self.brand.code()));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }

    /// The path of `payment_url_base`, where the customer page is served when the simulator runs
    /// with its controls: `http://192.168.1.20:8091/pay` → `/pay` (empty for the root). The URL
    /// must be `http://` or `https://`, and its path may not shadow the API (`/v2`) or the
    /// control endpoints (`/_sim`).
    pub fn payment_page_path(&self) -> Result<String, ConfigError> {
        let problem = |text: &str| ConfigError { problems: vec![format!("payment_url_base: {text}")] };
        let base = self.payment_url_base.as_str();
        let rest = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .ok_or_else(|| problem("the customer page needs an http:// or https:// URL pointing at this simulator"))?;
        let path = rest.find('/').map_or("", |start| &rest[start..]).trim_end_matches('/');
        if path.contains(['?', '#', '{', '}']) {
            return Err(problem("the URL's path may hold no query, fragment or braces"));
        }
        for reserved in ["/v2", CONTROL_PREFIX] {
            if path == reserved || path.starts_with(&format!("{reserved}/")) {
                return Err(problem(&format!("the path may not be under {reserved}")));
            }
        }
        Ok(path.to_string())
    }

    /// The fee term of the simulator's own brand.
    pub fn fee_term(&self) -> Option<FeeTerm> {
        self.fees.iter().copied().find(|term| term.brand == self.brand)
    }

    pub fn merchant(&self, merchant_id: &str) -> Option<&MerchantConfig> {
        self.merchants.iter().find(|merchant| merchant.merchant_id == merchant_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_customer_page_path_comes_from_payment_url_base() {
        let mut config = QrSimConfig::example();
        assert_eq!(config.payment_page_path().unwrap(), "/pay");
        config.payment_url_base = "http://192.168.1.20:8091".into();
        assert_eq!(config.payment_page_path().unwrap(), "");
        config.payment_url_base = "http://127.0.0.1:8091/customer/pay/".into();
        assert_eq!(config.payment_page_path().unwrap(), "/customer/pay");
        for bad in ["qrsim://pay", "http://127.0.0.1:8091/v2/pay", "http://127.0.0.1:8091/_sim", "http://h/p?x=1"] {
            config.payment_url_base = bad.into();
            assert!(config.payment_page_path().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_example_is_valid_and_problems_are_all_reported() {
        QrSimConfig::example().validate().unwrap();
        let mut config = QrSimConfig::example();
        config.brand = Brand::Visa;
        config.code_expiry_seconds = 0;
        config.keys[0].merchants.push("M9".into());
        let problems = config.validate().unwrap_err().problems;
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("keys[0].merchants[1]")));
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;

    #[test]
    fn the_example_file_parses_and_is_valid() {
        let text = include_str!("../qr-sim.example.toml");
        let config: QrSimConfig = toml::from_str(text).unwrap();
        config.validate().unwrap();
        assert_eq!(config.fee_term(), QrSimConfig::example().fee_term());
        assert!(toml::from_str::<QrSimConfig>(&format!("{text}\nunknown = 1\n")).is_err());
    }
}
