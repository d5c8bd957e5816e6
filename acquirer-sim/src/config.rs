//! What a simulator plays: which centre, its TLS identity, its fee contract and its payout lag,
//! and the start options (clock, RRN node) that tests and the demo inject.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use pos_core::{Brand, Clock, Method, Rate, Rounding, SystemClock};
use rust_decimal::Decimal;

use crate::error::SimError;

/// Which centre the simulator plays. The card acquirer takes card brands only, the e-money
/// centre e-money brands only (and can answer `Y1`, outcome unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Centre {
    Card,
    Emoney,
}

impl Centre {
    /// The payment method whose brands this centre accepts.
    pub fn method(self) -> Method {
        match self {
            Centre::Card => Method::Card,
            Centre::Emoney => Method::Emoney,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Centre::Card => "card",
            Centre::Emoney => "emoney",
        }
    }

    /// The RRN node digits used unless the start options say otherwise (the card example in
    /// PROTOCOLS.md §4.1 has `10` there).
    pub fn rrn_node_default(self) -> u8 {
        match self {
            Centre::Card => 10,
            Centre::Emoney => 20,
        }
    }
}

impl fmt::Display for Centre {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Centre {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Centre, SimError> {
        match s {
            "card" => Ok(Centre::Card),
            "emoney" => Ok(Centre::Emoney),
            other => Err(SimError::UnknownCentre(other.to_string())),
        }
    }
}

/// The merchant discount contracted for one brand: `fee = rate × gross`, rounded as the
/// contract says ([`Rate::fee`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeTerm {
    pub brand: Brand,
    pub rate: Rate,
    pub rounding: Rounding,
}

impl FeeTerm {
    pub fn new(brand: Brand, rate: Rate, rounding: Rounding) -> FeeTerm {
        FeeTerm { brand, rate, rounding }
    }
}

/// Card brands at 3.24 %, e-money brands at 3 %, both truncated below one yen: the rates that
/// reproduce the example rows of PROTOCOLS.md §4.1 (1,500 → 48) and §4.3 (470 → 14).
pub fn default_fees(centre: Centre) -> Vec<FeeTerm> {
    let basis_points = match centre {
        Centre::Card => 324,
        Centre::Emoney => 300,
    };
    // A constant fraction below 1 is always a valid rate; the fallback is never taken.
    let rate = Rate::from_fraction(Decimal::new(basis_points, 4)).unwrap_or_else(|_| unreachable!("constant rate"));
    Brand::ALL
        .into_iter()
        .filter(|brand| brand.method() == centre.method())
        .map(|brand| FeeTerm::new(brand, rate, Rounding::JPY_FEE_DEFAULT))
        .collect()
}

/// The most days a payout may lag its settlement date; a guard against a typo of 3000.
pub const PAYOUT_LAG_DAYS_MAX: u32 = 60;

/// A simulator's configuration.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    pub centre: Centre,
    /// The server side of the TLS link (the gateway's connectors are the clients).
    pub tls: Arc<rustls::ServerConfig>,
    /// One term per brand that settles; a brand without a term makes the settlement file fail.
    pub fees: Vec<FeeTerm>,
    /// Bank business days (Saturdays and Sundays skipped) from the settlement date to the payout.
    pub payout_lag_days: u32,
    /// Shown in logs, to tell a primary from a secondary.
    pub name: String,
}

/// What a test, the demo or a benchmark injects besides the configuration.
#[derive(Clone)]
pub struct StartOptions {
    /// Where booking times come from (JST is derived from it).
    pub clock: Arc<dyn Clock>,
    /// Two digits placed in every RRN after the date (0–99; larger values are taken modulo 100),
    /// so that two simulators of one run (a primary and its failover secondary) never issue the
    /// same RRN.
    pub rrn_node: u8,
}

impl StartOptions {
    /// The system clock and the centre's default RRN node.
    pub fn new(centre: Centre) -> StartOptions {
        StartOptions { clock: Arc::new(SystemClock), rrn_node: centre.rrn_node_default() }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> StartOptions {
        self.clock = clock;
        self
    }

    pub fn with_rrn_node(mut self, rrn_node: u8) -> StartOptions {
        self.rrn_node = rrn_node;
        self
    }
}

impl fmt::Debug for StartOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartOptions").field("rrn_node", &self.rrn_node).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pos_core::Yen;

    #[test]
    fn default_fees_reproduce_the_protocol_examples() {
        let card = default_fees(Centre::Card);
        assert_eq!(card.len(), 5);
        let visa = card.iter().find(|t| t.brand == Brand::Visa).unwrap();
        assert_eq!(visa.rate.fee(Yen::new(1500).unwrap(), visa.rounding).unwrap().get(), 48);
        let emoney = default_fees(Centre::Emoney);
        assert_eq!(emoney.len(), 6);
        let transit = emoney.iter().find(|t| t.brand == Brand::TransitIc).unwrap();
        assert_eq!(transit.rate.fee(Yen::new(470).unwrap(), transit.rounding).unwrap().get(), 14);
    }

    #[test]
    fn centres_parse_by_code() {
        assert_eq!("card".parse::<Centre>().unwrap(), Centre::Card);
        assert_eq!("emoney".parse::<Centre>().unwrap(), Centre::Emoney);
        assert!("qr".parse::<Centre>().is_err());
    }
}
