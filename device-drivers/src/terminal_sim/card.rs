//! The simulated card or tap the customer presents: from the command line (one brand), a script
//! (a list, used in turn), or a seeded random draw from the city's brand mix.

use pos_core::{Brand, Method};
use rand::distributions::WeightedIndex;
use rand::prelude::Distribution;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// One card or e-money card as the reader sees it.
#[derive(Clone, PartialEq, Eq)]
pub struct SimulatedCard {
    pub brand: Brand,
    /// A card's number (test numbers only); `None` for e-money.
    pub pan: Option<String>,
    /// An e-money card's masked id, as sent in field 48 `ID`.
    pub card_id: Option<String>,
    /// The card's expiry as `YYMM`, for the track 2 equivalent.
    pub expiry: &'static str,
}

impl std::fmt::Debug for SimulatedCard {
    /// Never prints the card number, even a test one: the habit is what matters.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedCard").field("brand", &self.brand).field("card_id", &self.card_id).finish()
    }
}

/// Why a brand cannot be presented at a payment terminal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("brand {0} is not a card or e-money brand; a payment terminal cannot read it")]
pub struct NotATerminalBrand(pub Brand);

impl SimulatedCard {
    /// The test card of a card brand, or an e-money card whose id ends in `serial`.
    pub fn of_brand(brand: Brand, serial: u32) -> Result<SimulatedCard, NotATerminalBrand> {
        match brand.method() {
            Method::Card => {
                Ok(SimulatedCard { brand, pan: Some(test_pan(brand).to_string()), card_id: None, expiry: "2812" })
            }
            Method::Emoney => Ok(SimulatedCard {
                brand,
                pan: None,
                card_id: Some(format!("JE80****{:04}", serial % 10_000)),
                expiry: "2812",
            }),
            Method::Cash | Method::Qr => Err(NotATerminalBrand(brand)),
        }
    }
}

/// Well-known test numbers that pass the Luhn check and belong to no real account.
fn test_pan(brand: Brand) -> &'static str {
    match brand {
        Brand::Mastercard => "5555555555554444",
        Brand::Jcb => "3530111333300000",
        Brand::Amex => "378282246310005",
        Brand::UnionPay => "6200000000000005",
        _ => "4111111111111111",
    }
}

/// The share of cashless amount per brand in BRIEF.md (VISA 29 %, JCB 17 %, nanaco 11 %,
/// Mastercard 7 %), restricted to what a terminal reads; every other card and e-money brand is
/// "used a little", here 2 % each. (PayPay's 11 % is a QR brand and not read by a terminal.)
pub const BRAND_MIX_PERCENT: [(Brand, u32); 11] = [
    (Brand::Visa, 29),
    (Brand::Jcb, 17),
    (Brand::Nanaco, 11),
    (Brand::Mastercard, 7),
    (Brand::Amex, 2),
    (Brand::UnionPay, 2),
    (Brand::TransitIc, 2),
    (Brand::Id, 2),
    (Brand::QuicPay, 2),
    (Brand::Waon, 2),
    (Brand::Edy, 2),
];

/// Where the next card comes from.
pub enum CardSource {
    /// The same brand every time.
    Fixed(Brand),
    /// The listed brands in turn, starting again after the last.
    Scripted { brands: Vec<Brand>, next: usize },
    /// A seeded draw from [`BRAND_MIX_PERCENT`], so a run replays from its seed.
    // Boxed: the generator's state is ten times the size of the other variants.
    Random { rng: Box<StdRng>, weights: WeightedIndex<u32> },
}

impl CardSource {
    pub fn fixed(brand: Brand) -> Result<CardSource, NotATerminalBrand> {
        SimulatedCard::of_brand(brand, 0)?;
        Ok(CardSource::Fixed(brand))
    }

    pub fn scripted(brands: Vec<Brand>) -> Result<CardSource, NotATerminalBrand> {
        for brand in &brands {
            SimulatedCard::of_brand(*brand, 0)?;
        }
        Ok(CardSource::Scripted { brands, next: 0 })
    }

    pub fn random(seed: u64) -> CardSource {
        let weights = BRAND_MIX_PERCENT.iter().map(|(_, weight)| *weight);
        // The weights are constants, all positive, so the index always builds.
        match WeightedIndex::new(weights) {
            Ok(weights) => CardSource::Random { rng: Box::new(StdRng::seed_from_u64(seed)), weights },
            Err(_) => CardSource::Fixed(Brand::Visa),
        }
    }

    /// The brand of the next card presented.
    pub fn next_brand(&mut self) -> Brand {
        match self {
            CardSource::Fixed(brand) => *brand,
            CardSource::Scripted { brands, next } => {
                let brand = brands.get(*next % brands.len().max(1)).copied().unwrap_or(Brand::Visa);
                *next = next.wrapping_add(1);
                brand
            }
            CardSource::Random { rng, weights } => {
                BRAND_MIX_PERCENT.get(weights.sample(rng.as_mut())).map_or(Brand::Visa, |(brand, _)| *brand)
            }
        }
    }

    /// The next card, with `serial` making e-money card ids differ between payments.
    pub fn next_card(&mut self, serial: u32) -> SimulatedCard {
        let brand = self.next_brand();
        // Every brand a source can hold was checked when it was made.
        SimulatedCard::of_brand(brand, serial).unwrap_or(SimulatedCard {
            brand: Brand::Visa,
            pan: Some(test_pan(Brand::Visa).to_string()),
            card_id: None,
            expiry: "2812",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_draw_replays_from_its_seed_and_keeps_to_terminal_brands() {
        let draw = |seed| {
            let mut source = CardSource::random(seed);
            (0..50).map(|_| source.next_brand()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert!(draw(7).iter().all(|brand| matches!(brand.method(), Method::Card | Method::Emoney)));
        assert!(CardSource::fixed(Brand::PayPay).is_err());
        let mut script = CardSource::scripted(vec![Brand::Jcb, Brand::Nanaco]).unwrap();
        assert_eq!(
            [script.next_brand(), script.next_brand(), script.next_brand()],
            [Brand::Jcb, Brand::Nanaco, Brand::Jcb]
        );
    }
}
