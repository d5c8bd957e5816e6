//! A whole switch for tests: the gateway with its terminal host, a card acquirer (primary and
//! secondary endpoint) and an e-money centre as simulators over TLS, and a scripted terminal.

use std::sync::Arc;
use std::time::Duration;

use acquirer_sim::{Centre, FeeTerm, SimulatorConfig, SimulatorHandle, StartOptions};
use demo::terminals::TerminalFleet;
use iso8583::{fields, BrandData, Message, Mti};
use pos_config::{AcquirerLink, Backend, Config};
use pos_core::api::{PaymentResult, PaymentView, SaleView, ShiftView};
use pos_core::{Brand, Yen};
use serde_json::json;

use crate::support::{key, token, TestApp, TestPki};

/// Short deadlines, so timeouts and reversals happen within a test.
pub const REQUEST_TIMEOUT_MS: u64 = 800;
pub const REVERSAL_BACKOFF_MS: u64 = 50;
pub const REVERSAL_TRIES_MAX: u32 = 6;
/// The bound on waiting for the switch to settle a payment.
pub const SETTLE_WAIT_MS: u64 = 15_000;

pub struct Rig {
    pub app: TestApp,
    pub card: SimulatorHandle,
    pub card_secondary: SimulatorHandle,
    pub emoney: SimulatorHandle,
    pub pki: TestPki,
}

/// Starts a simulator; `rrn_node` keeps a primary's and a secondary's RRNs apart.
pub async fn simulator(pki: &TestPki, centre: Centre, config: &Config, rrn_node: u8) -> SimulatorHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind simulator");
    let fees = config
        .acquirers
        .iter()
        .flat_map(|a| a.fees.iter())
        .map(|fee| FeeTerm { brand: fee.brand, rate: fee.rate, rounding: fee.rounding })
        .collect();
    let config = SimulatorConfig { centre, tls: pki.server_tls(), fees, payout_lag_days: 2, name: "test".to_string() };
    acquirer_sim::start_with(listener, config, StartOptions::new(centre).with_rrn_node(rrn_node)).await
}

/// The tests' link timing: short deadlines, so timeouts and reversals happen within a test.
pub const TIMING: demo::rig::LinkTiming = demo::rig::LinkTiming {
    request_timeout_ms: REQUEST_TIMEOUT_MS,
    reversal_tries_max: REVERSAL_TRIES_MAX,
    reversal_backoff_ms: REVERSAL_BACKOFF_MS,
};

/// A link to an acquirer at `endpoints`, trusting the test CA at `ca_file`.
pub fn link(ca_file: &std::path::Path, institution_id: u64, endpoints: Vec<String>) -> AcquirerLink {
    demo::rig::link(ca_file, institution_id, endpoints, TIMING)
}

pub async fn rig(backend: Backend) -> Rig {
    rig_with_clock(backend, Arc::new(pos_core::SystemClock)).await
}

/// The one rig with a card acquirer (primary and secondary endpoint), an e-money centre and the
/// terminal host, the tests' short link timing.
pub async fn rig_with_clock(backend: Backend, clock: Arc<dyn pos_core::Clock>) -> Rig {
    rig_with(backend, clock, |_| {}).await
}

/// [`rig_with_clock`] with the configuration adjusted first.
pub async fn rig_with(
    backend: Backend,
    clock: Arc<dyn pos_core::Clock>,
    adjust: impl FnOnce(&mut pos_config::Config),
) -> Rig {
    let mut app = crate::support::spawn_rig(backend, clock, adjust, |options| demo::rig::RigOptions {
        card: true,
        card_secondary: true,
        emoney: true,
        terminal_host: true,
        link_timing: Some(TIMING),
        ..options
    })
    .await;
    let pki = app.pki();
    let started = app.rig.as_mut().expect("the rig");
    let card = started.card.take().expect("card simulator");
    let card_secondary = started.card_secondary.take().expect("secondary card simulator");
    let emoney = started.emoney.take().expect("e-money simulator");
    Rig { app, card, card_secondary, emoney, pki }
}

impl Rig {
    /// Scripted payment terminals connected to the terminal host over TLS, each with its own
    /// certificate (a request goes out on the connection of the terminal its field 41 names).
    pub async fn terminal(&self) -> TerminalFleet {
        terminal(&self.app, &self.pki).await
    }

    pub async fn open_shift(&self, user: &str, register: &str) -> ShiftView {
        self.app
            .post("/v1/shifts", &token(user), &key(), &json!({ "register_id": register, "opening_float": 0 }))
            .await
            .ok()
    }

    pub async fn sell(&self, user: &str, register: &str, lines: serde_json::Value) -> SaleView {
        self.app.post("/v1/sales", &token(user), &key(), &json!({ "register_id": register, "lines": lines })).await.ok()
    }

    /// Starts a card or e-money payment of the whole sale at the register.
    pub async fn start_payment(&self, user: &str, sale: &str, method: &str) -> PaymentView {
        let result: PaymentResult = self
            .app
            .post(&format!("/v1/sales/{sale}/payments"), &token(user), &key(), &json!({ "method": method }))
            .await
            .ok();
        result.payment
    }

    pub async fn payment(&self, id: &str) -> PaymentView {
        self.app.get(&format!("/v1/payments/{id}"), &token("treasury")).await.ok()
    }

    /// Waits until the payment is in `state`, or fails after the bound.
    pub async fn wait_for(&self, id: &str, state: pos_core::PaymentState) -> PaymentView {
        self.app.payment_until(id, Duration::from_millis(SETTLE_WAIT_MS), |payment| payment.state == state).await
    }

    pub async fn stop(self) {
        self.app.stop().await;
        self.card.shutdown().await;
        self.card_secondary.shutdown().await;
        self.emoney.shutdown().await;
    }
}

/// Scripted payment terminals connected to `app`'s terminal host over TLS, each presenting its
/// own certificate of `pki`.
pub async fn terminal(app: &TestApp, pki: &TestPki) -> TerminalFleet {
    pki.terminals(&app.terminal_host.expect("terminal host").to_string())
}

pub const TEST_PAN: &str = "4111111111111111";
pub const TEST_TRACK_2: &str = "4111111111111111=28121010000012345678";
pub const TEST_ICC: [u8; 11] = [0x9F, 0x26, 0x08, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6, 0x07, 0x18];

/// A terminal's purchase request (PROTOCOLS.md §1), with card data the gateway must never keep.
pub fn purchase(terminal: &str, stan: u32, amount: i64, brand: Brand) -> Message {
    let mut message = Message::new(Mti::FINANCIAL_REQUEST)
        .with(fields::PROCESSING_CODE, fields::PROCESSING_PURCHASE)
        .with(fields::AMOUNT, iso8583::amount_field(Yen::new(amount).expect("yen")).expect("amount"))
        .with(fields::TRANSMISSION_DATE_TIME, "1124101502")
        .with(fields::STAN, format!("{stan:06}"))
        .with(fields::LOCAL_TIME, "101502")
        .with(fields::LOCAL_DATE, "1124")
        .with(fields::TERMINAL_ID, terminal.to_string())
        .with(fields::CURRENCY, fields::CURRENCY_JPY);
    if brand.method() == pos_core::Method::Card {
        message.set(fields::POS_ENTRY_MODE, "051");
        message.set(fields::PAN, TEST_PAN);
        message.set(fields::TRACK_2, TEST_TRACK_2);
        message.set(fields::ICC_DATA, TEST_ICC.to_vec());
        message.set(fields::BRAND_DATA, BrandData { brand: Some(brand), ..BrandData::default() }.format());
    } else {
        message.set(fields::POS_ENTRY_MODE, "071");
        message.set(
            fields::BRAND_DATA,
            BrandData { brand: Some(brand), card_id: Some("JE80****5678".to_string()), ..BrandData::default() }
                .format(),
        );
    }
    message
}

/// Sends a request from the terminal and returns field 39 of the answer.
pub async fn authorize(terminal: &TerminalFleet, request: &Message) -> String {
    let answer = terminal.request(request, Duration::from_secs(10)).await.expect("the terminal host answers");
    assert_eq!(answer.mti, Mti::FINANCIAL_RESPONSE);
    assert_eq!(answer.text(fields::STAN), request.text(fields::STAN), "the answer carries the terminal's own STAN");
    answer.text(fields::RESPONSE_CODE).expect("field 39").to_string()
}
