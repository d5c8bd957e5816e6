//! The end-of-day totals in BMP `60`, as this system's terminal writes them.
//!
//! PROTOCOLS.md §3 says only that an end of day's status information carries totals in BMP `60`
//! (LLLVAR). The ZVT specification's own layout counts per card-type number, which cannot name
//! this city's brands (transit IC, nanaco …), so our terminal writes one entry per brand as
//! printable ASCII: `BRAND,COUNT,AMOUNT` joined by `;`, brand codes of PROTOCOLS.md §1, count
//! and amount (yen, net of refunds and reversals, may be negative) in decimal, brands in code
//! order, for example `JCB,1,470;VISA,2,2080`. No payments give an empty value.

use std::fmt;

use pos_core::{Brand, Yen};

/// One brand's line of the totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrandTotal {
    pub brand: Brand,
    pub count: u32,
    pub amount: Yen,
}

/// The totals of one end of day, one entry per brand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndOfDayTotals {
    pub brands: Vec<BrandTotal>,
}

/// Why BMP 60 bytes are not totals in our format. Offsets count from the first byte of the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotalsError {
    #[error("totals are not ASCII")]
    NotAscii,
    #[error("totals entry at byte {offset} is not BRAND,COUNT,AMOUNT")]
    Malformed { offset: usize },
    #[error("totals entry at byte {offset} names an unknown brand")]
    UnknownBrand { offset: usize },
    #[error("totals entry at byte {offset} has a count or amount that is not a number in range")]
    BadNumber { offset: usize },
}

impl EndOfDayTotals {
    /// The total of one brand, if it had payments.
    pub fn of(&self, brand: Brand) -> Option<&BrandTotal> {
        self.brands.iter().find(|total| total.brand == brand)
    }

    /// The sum over all brands.
    pub fn amount_total(&self) -> Option<Yen> {
        Yen::checked_sum(self.brands.iter().map(|total| total.amount)).ok()
    }

    pub fn encode(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    pub fn parse(bytes: &[u8]) -> Result<EndOfDayTotals, TotalsError> {
        let text = std::str::from_utf8(bytes).map_err(|_| TotalsError::NotAscii)?;
        let mut brands = Vec::new();
        let mut offset = 0;
        for entry in text.split(';') {
            if !entry.is_empty() {
                brands.push(parse_entry(entry, offset)?);
            }
            offset += entry.len() + 1;
        }
        Ok(EndOfDayTotals { brands })
    }
}

fn parse_entry(entry: &str, offset: usize) -> Result<BrandTotal, TotalsError> {
    let mut parts = entry.split(',');
    let (Some(brand), Some(count), Some(amount), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TotalsError::Malformed { offset });
    };
    let brand = brand.parse::<Brand>().map_err(|_| TotalsError::UnknownBrand { offset })?;
    let count = count.parse::<u32>().map_err(|_| TotalsError::BadNumber { offset })?;
    let amount =
        amount.parse::<i64>().ok().and_then(|value| Yen::new(value).ok()).ok_or(TotalsError::BadNumber { offset })?;
    Ok(BrandTotal { brand, count, amount })
}

impl fmt::Display for EndOfDayTotals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, total) in self.brands.iter().enumerate() {
            if index > 0 {
                f.write_str(";")?;
            }
            write!(f, "{},{},{}", total.brand.code(), total.count, total.amount.get())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let totals = EndOfDayTotals {
            brands: vec![
                BrandTotal { brand: Brand::Jcb, count: 1, amount: Yen::new(470).unwrap() },
                BrandTotal { brand: Brand::Visa, count: 2, amount: Yen::new(2_080).unwrap() },
            ],
        };
        assert_eq!(totals.encode(), b"JCB,1,470;VISA,2,2080".to_vec());
        assert_eq!(EndOfDayTotals::parse(&totals.encode()).unwrap(), totals);
        assert_eq!(EndOfDayTotals::parse(b"").unwrap(), EndOfDayTotals::default());
        assert_eq!(EndOfDayTotals::parse(b"JCB,1,470;XX,1,1"), Err(TotalsError::UnknownBrand { offset: 10 }));
        assert_eq!(EndOfDayTotals::parse(b"JCB,1"), Err(TotalsError::Malformed { offset: 0 }));
    }
}
