//! Field 48: brand data as `TAG=VALUE` pairs joined by `;` (PROTOCOLS.md §1): `BR` the brand
//! code, and for e-money `ID` the masked card id and `BAL` the balance after the payment.

use std::collections::BTreeMap;

use pos_core::{Brand, Yen};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BrandData {
    pub brand: Option<Brand>,
    /// The e-money card's masked id, as the terminal reports it.
    pub card_id: Option<String>,
    pub balance: Option<Yen>,
    /// Tags this system does not use, kept so a message can be forwarded unchanged.
    pub other: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrandDataError {
    #[error("field 48 pair {0:?} is not TAG=VALUE")]
    NotAPair(String),
    #[error("field 48: {0}")]
    Brand(#[from] pos_core::brand::UnknownBrand),
    #[error("field 48 balance {0:?} is not a whole number of yen")]
    Balance(String),
    #[error("field 48 tag {0} appears twice")]
    Repeated(String),
    #[error("field 48 card id {0:?} shows more than a masked id may")]
    CardIdNotMasked(String),
}

/// The most digits an e-money card id may show; the rest must be `*`.
pub const CARD_ID_DIGITS_SHOWN_MAX: usize = 8;

impl BrandData {
    pub fn parse(text: &str) -> Result<BrandData, BrandDataError> {
        let mut data = BrandData::default();
        let mut seen = std::collections::HashSet::new();
        for pair in text.split(';').filter(|p| !p.is_empty()) {
            let (tag, value) = pair.split_once('=').ok_or_else(|| BrandDataError::NotAPair(pair.to_string()))?;
            if !seen.insert(tag.to_string()) {
                return Err(BrandDataError::Repeated(tag.to_string()));
            }
            match tag {
                "BR" => data.brand = Some(value.parse()?),
                "ID" => {
                    if value.chars().filter(char::is_ascii_digit).count() > CARD_ID_DIGITS_SHOWN_MAX {
                        return Err(BrandDataError::CardIdNotMasked(value.chars().map(|_| '?').collect()));
                    }
                    data.card_id = Some(value.to_string());
                }
                "BAL" => {
                    let balance = value
                        .parse::<i64>()
                        .ok()
                        .and_then(|v| Yen::new(v).ok())
                        .ok_or_else(|| BrandDataError::Balance(value.to_string()))?;
                    data.balance = Some(balance);
                }
                _ => {
                    data.other.insert(tag.to_string(), value.to_string());
                }
            }
        }
        Ok(data)
    }

    pub fn format(&self) -> String {
        let mut pairs = Vec::new();
        if let Some(brand) = self.brand {
            pairs.push(format!("BR={}", brand.code()));
        }
        if let Some(id) = &self.card_id {
            pairs.push(format!("ID={id}"));
        }
        if let Some(balance) = self.balance {
            pairs.push(format!("BAL={}", balance.get()));
        }
        for (tag, value) in &self.other {
            pairs.push(format!("{tag}={value}"));
        }
        pairs.join(";")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_brand_data() {
        let data = BrandData::parse("BR=WAON;ID=6900****0001;BAL=1200").unwrap();
        assert_eq!(data.brand, Some(Brand::Waon));
        assert_eq!(data.card_id.as_deref(), Some("6900****0001"));
        assert_eq!(data.balance.map(Yen::get), Some(1200));
        assert_eq!(data.format(), "BR=WAON;ID=6900****0001;BAL=1200");
        assert_eq!(BrandData::parse("BR=VISA").unwrap().format(), "BR=VISA");
    }

    #[test]
    fn refuses_bad_brand_data() {
        assert!(matches!(BrandData::parse("BR=CHEQUE"), Err(BrandDataError::Brand(_))));
        assert!(matches!(BrandData::parse("BRVISA"), Err(BrandDataError::NotAPair(_))));
        assert!(matches!(BrandData::parse("BR=VISA;BR=JCB"), Err(BrandDataError::Repeated(_))));
        let error = BrandData::parse("BR=WAON;ID=6900123456780001").unwrap_err();
        assert!(!error.to_string().contains("6900123456780001"));
    }
}
