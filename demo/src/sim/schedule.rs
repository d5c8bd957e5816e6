//! What one seed plays: the counters' sales and what follows them, the faults the simulators are
//! told to make and the moments the gateway is killed — all drawn from the seed up front, so the
//! same seed replays the same schedule (the interleaving of the counters' requests is the
//! machine's; the schedule is not).

use std::fmt;

use pos_config::{Config, Price};
use pos_core::api::SaleLineRequest;
use pos_core::{Brand, Method, RegisterId, Yen};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How the citizen pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tender {
    Cash,
    /// Card or e-money on the register's terminal (ISO 8583 to the terminal host).
    Terminal(Brand),
    /// The register's QR code, paid by the citizen at the provider.
    Qr(Brand),
    /// Part in cash, the rest on the terminal.
    Split(Brand),
}

/// What the clerk does once the sale is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Nothing,
    /// Void the sale (a keying mistake).
    Void,
    /// Treasury refunds this many tenths of the payment (10: all of it).
    Refund {
        tenths: i64,
    },
}

/// One sale at one counter.
#[derive(Debug, Clone)]
pub struct Op {
    pub lines: Vec<SaleLineRequest>,
    pub tender: Tender,
    pub then: Then,
    /// The clerk clicks "pay" twice: the same request, the same idempotency key.
    pub double_submit: bool,
}

/// One counter's day.
#[derive(Debug, Clone)]
pub struct CounterPlan {
    pub register: RegisterId,
    pub terminal: Option<String>,
    pub clerk: String,
    pub ops: Vec<Op>,
}

/// A fault one simulator is told to make, for the next matching requests.
#[derive(Debug, Clone, Copy)]
pub enum Injection {
    Card(acquirer_sim::FaultPlan),
    Emoney(acquirer_sim::FaultPlan),
    Qr(qr_sim::FaultPlan),
}

impl Injection {
    /// The kind, for the run's fault counts.
    pub fn kind(&self) -> String {
        match self {
            Injection::Card(plan) => format!("card {} {}", plan.fault.name(), plan.applies_to.name()),
            Injection::Emoney(plan) => format!("e-money {} {}", fault_name(plan), plan.applies_to.name()),
            Injection::Qr(plan) => format!("qr {}", qr_fault_name(plan.fault)),
        }
    }

    /// How many requests it applies to.
    pub fn times(&self) -> u32 {
        match self {
            Injection::Card(plan) | Injection::Emoney(plan) => plan.times.unwrap_or(1),
            Injection::Qr(plan) => plan.times,
        }
    }
}

fn fault_name(plan: &acquirer_sim::FaultPlan) -> String {
    match plan.fault {
        acquirer_sim::Fault::AnswerCode { code } => format!("answer:{}", String::from_utf8_lossy(&code)),
        other => other.name().to_string(),
    }
}

fn qr_fault_name(fault: qr_sim::Fault) -> &'static str {
    match fault {
        qr_sim::Fault::Delay { .. } => "delay",
        qr_sim::Fault::ServerError { processed: true, .. } => "5xx-after-processing",
        qr_sim::Fault::ServerError { processed: false, .. } => "5xx",
        qr_sim::Fault::NoAnswer => "no-answer",
        qr_sim::Fault::Refuse => "refuse",
        qr_sim::Fault::PaidAfterCancel => "paid-after-cancel",
        qr_sim::Fault::MisreportAmount { .. } => "misreport-amount",
    }
}

impl fmt::Display for Injection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ×{}", self.kind(), self.times())
    }
}

/// The gateway killed once `after_ops` sales have finished (over all counters), `delay_ms` later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kill {
    pub after_ops: usize,
    pub delay_ms: u64,
}

/// A fault installed once `after_ops` sales have finished.
#[derive(Debug, Clone, Copy)]
pub struct Planted {
    pub after_ops: usize,
    pub injection: Injection,
}

/// What one seed plays.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub seed: u64,
    pub counters: Vec<CounterPlan>,
    pub kills: Vec<Kill>,
    pub faults: Vec<Planted>,
}

/// The shape of a run: how many counters, sales per counter, kills, fault plantings.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub counters: usize,
    pub ops_per_counter: usize,
    pub kills: usize,
    pub faults: usize,
    /// The acquirer links' request timeout, so late answers come after it.
    pub request_timeout_ms: u64,
}

/// The longest a kill waits after its trigger (so it lands inside requests, not between them).
pub const KILL_DELAY_MS_MAX: u64 = 400;

/// The cashless brands a counter may see; a facility takes only those it accepts.
const TERMINAL_BRANDS: [Brand; 6] =
    [Brand::Visa, Brand::Jcb, Brand::Mastercard, Brand::TransitIc, Brand::Nanaco, Brand::Waon];

impl Schedule {
    /// Draws the schedule of `seed` for the city `config`: counters at registers with a terminal
    /// (preferring facilities that take cards, e-money and QR), their sales, the faults and kills.
    pub fn draw(config: &Config, seed: u64, shape: Shape) -> Schedule {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut candidates: Vec<(RegisterId, String, Vec<Brand>, bool)> = Vec::new();
        for facility in &config.facilities {
            let brands: Vec<Brand> = TERMINAL_BRANDS.iter().copied().filter(|b| facility.accepts(*b)).collect();
            let qr = facility.accepts(Brand::PayPay);
            for register in &facility.registers {
                let Some(terminal) = &register.terminal else { continue };
                if brands.is_empty() || clerk_of(config, &register.id).is_none() {
                    continue;
                }
                candidates.push((register.id.clone(), terminal.as_str().to_string(), brands.clone(), qr));
            }
        }
        // QR-taking registers first, then by register.
        candidates.sort_by_key(|(register, _, _, qr)| (!qr, register.clone()));
        let mut counters = Vec::new();
        for (register, terminal, brands, qr) in candidates.into_iter().take(shape.counters) {
            let (facility, _) = match config.register(&register) {
                Some(found) => found,
                None => continue,
            };
            let clerk = clerk_of(config, &register).unwrap_or_default();
            let ops = (0..shape.ops_per_counter).map(|_| draw_op(config, facility, &brands, qr, &mut rng)).collect();
            counters.push(CounterPlan { register, terminal: Some(terminal), clerk, ops });
        }
        let total = counters.iter().map(|c| c.ops.len()).sum::<usize>().max(1);
        let mut kills: Vec<Kill> = (0..shape.kills)
            .map(|_| Kill { after_ops: rng.gen_range(0..total), delay_ms: rng.gen_range(0..=KILL_DELAY_MS_MAX) })
            .collect();
        kills.sort_by_key(|k| (k.after_ops, k.delay_ms));
        let mut faults: Vec<Planted> = (0..shape.faults)
            .map(|_| Planted { after_ops: rng.gen_range(0..total), injection: draw_injection(shape, &mut rng) })
            .collect();
        faults.sort_by_key(|f| f.after_ops);
        Schedule { seed, counters, kills, faults }
    }

    pub fn ops(&self) -> usize {
        self.counters.iter().map(|c| c.ops.len()).sum()
    }
}

/// The clerk user of a register.
pub fn clerk_of(config: &Config, register: &RegisterId) -> Option<String> {
    config.users.iter().find_map(|user| match &user.scope {
        pos_config::Scope::Register { register: r, .. } if r == register && user.role == pos_config::Role::Clerk => {
            Some(user.name.to_string())
        }
        _ => None,
    })
}

fn draw_op(config: &Config, facility: &pos_config::Facility, brands: &[Brand], qr: bool, rng: &mut StdRng) -> Op {
    let code = &facility.fee_items[rng.gen_range(0..facility.fee_items.len())];
    let (quantity, amount) = match config.fee_item(code).map(|item| item.price) {
        Some(Price::Open { amount_max }) => {
            let hundreds = (amount_max.get() / 100).clamp(1, 50);
            (1, Yen::new(100 * rng.gen_range(1..=hundreds)).ok())
        }
        _ => (rng.gen_range(1..=3), None),
    };
    let lines = vec![SaleLineRequest { fee_item: code.clone(), quantity, amount }];
    let brand = brands[rng.gen_range(0..brands.len())];
    let tender = match rng.gen_range(0..100) {
        0..=34 => Tender::Cash,
        35..=69 => Tender::Terminal(brand),
        70..=84 if qr => Tender::Qr(Brand::PayPay),
        70..=84 => Tender::Terminal(brand),
        _ if facility.policy.split_tender => Tender::Split(brand),
        _ => Tender::Terminal(brand),
    };
    let then = match rng.gen_range(0..100) {
        // QR sales are not voided at the counter (the provider's cancel is a refund's business).
        0..=9 if !matches!(tender, Tender::Qr(_)) => Then::Void,
        10..=19 if tender != Tender::Cash && !matches!(tender, Tender::Split(_)) => {
            Then::Refund { tenths: if rng.gen_bool(0.5) { 10 } else { rng.gen_range(1..10) } }
        }
        _ => Then::Nothing,
    };
    Op { lines, tender, then, double_submit: rng.gen_ratio(1, 8) }
}

fn draw_injection(shape: Shape, rng: &mut StdRng) -> Injection {
    use acquirer_sim::{Fault, FaultPlan, MessageKind};
    let times = rng.gen_range(1..=2);
    let late = shape.request_timeout_ms + rng.gen_range(200..1_500);
    let acquirer = |rng: &mut StdRng, emoney: bool| -> FaultPlan {
        let (fault, kind) = match rng.gen_range(0..if emoney { 11 } else { 10 }) {
            0 => (Fault::Delay { ms: rng.gen_range(100..shape.request_timeout_ms / 2) }, MessageKind::Purchase),
            1 => (Fault::NoAnswer, MessageKind::Purchase),
            2 => (Fault::DropConnection, MessageKind::Purchase),
            3 => (Fault::Garbage, MessageKind::Purchase),
            4 => (Fault::DuplicateAnswer, MessageKind::Purchase),
            5 => (Fault::LateAnswer { ms: late }, MessageKind::Purchase),
            6 => (Fault::AnswerCode { code: *b"96" }, MessageKind::Reversal),
            7 => (Fault::NoAnswer, MessageKind::Reversal),
            8 => (Fault::NoAnswer, MessageKind::Refund),
            9 => (Fault::Garbage, MessageKind::Refund),
            _ => (Fault::AnswerCode { code: *b"Y1" }, MessageKind::Purchase),
        };
        FaultPlan::times(fault, kind, times)
    };
    match rng.gen_range(0..10) {
        0..=3 => Injection::Card(acquirer(rng, false)),
        4..=6 => Injection::Emoney(acquirer(rng, true)),
        _ => {
            use qr_sim::{Endpoint, Fault as QrFault};
            let endpoint =
                [Endpoint::CreateCode, Endpoint::GetCodePayment, Endpoint::CreateRefund, Endpoint::GetRefund]
                    [rng.gen_range(0..4)];
            let fault = match rng.gen_range(0..4) {
                0 => QrFault::ServerError { status: 503, processed: true },
                1 => QrFault::ServerError { status: 500, processed: false },
                2 => QrFault::Delay { ms: rng.gen_range(100..1_500) },
                _ => QrFault::ServerError { status: 502, processed: rng.gen_bool(0.5) },
            };
            Injection::Qr(qr_sim::FaultPlan::new(endpoint, fault, times))
        }
    }
}

/// The payment method of a tender's cashless part.
pub fn method_of(brand: Brand) -> Method {
    brand.method()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn city() -> Config {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/city.toml");
        pos_config::load(&path).expect("the example city")
    }

    fn shape() -> Shape {
        Shape { counters: 4, ops_per_counter: 12, kills: 5, faults: 6, request_timeout_ms: 1_500 }
    }

    #[test]
    fn the_same_seed_draws_the_same_schedule_and_another_seed_another() {
        let config = city();
        let a = Schedule::draw(&config, 7, shape());
        let b = Schedule::draw(&config, 7, shape());
        let c = Schedule::draw(&config, 8, shape());
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_ne!(format!("{a:?}"), format!("{c:?}"));
        assert_eq!(a.counters.len(), 4);
        assert_eq!(a.kills.len(), 5);
        assert!(a.counters.iter().any(|c| c.ops.iter().any(|op| matches!(op.tender, Tender::Qr(_)))));
    }
}
