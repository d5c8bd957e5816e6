//! A simulator on a free port with a throw-away PKI and a manual clock, and a minimal client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use acquirer_sim::{default_fees, Centre, FeeTerm, SimulatorConfig, SimulatorHandle, StartOptions};
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use futures::{SinkExt, StreamExt};
use iso8583::{amount_field, decode, encode, fields, FrameCodec, Message, Mti, Spec};
use pos_core::{ManualClock, Yen};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_util::codec::Framed;

/// The bound on every wait for something that should happen.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// How long a test waits to be sure that something does not happen.
pub const QUIET: Duration = Duration::from_millis(300);

pub const TERMINAL: &str = "T0010001";
pub const MERCHANT: &str = "000000000010001";
pub const PAN_VISA: &str = "4111111111111111";

pub struct Sim {
    pub handle: SimulatorHandle,
    pub client_tls: Arc<rustls::ClientConfig>,
    pub clock: Arc<ManualClock>,
}

/// 2026-11-24 (a Tuesday) at this JST time.
pub fn jst(day: u32, hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    pos_core::time::jst().with_ymd_and_hms(2026, 11, day, hour, minute, second).unwrap().with_timezone(&Utc)
}

pub async fn start_sim(centre: Centre) -> Sim {
    start_sim_with(centre, default_fees(centre), 2).await
}

pub async fn start_sim_with(centre: Centre, fees: Vec<FeeTerm>, payout_lag_days: u32) -> Sim {
    let pki = pos_tls::DevPki::new("test CA").unwrap();
    let leaf = pki.server(&["localhost", "127.0.0.1"]).unwrap();
    let tls = pos_tls::server_config_from_pem(
        leaf.chain_pem.as_bytes(),
        leaf.key_pem.as_bytes(),
        None,
        pos_tls::ClientAuth::None,
    )
    .unwrap();
    let client_tls = pos_tls::client_config_from_pem(pki.ca_pem().as_bytes(), None).unwrap();
    let clock = Arc::new(ManualClock::new(jst(24, 10, 0, 0)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = SimulatorConfig { centre, tls, fees, payout_lag_days, name: format!("test-{centre}") };
    let options = StartOptions::new(centre).with_clock(clock.clone());
    let handle = acquirer_sim::start_with(listener, config, options).await;
    Sim { handle, client_tls, clock }
}

/// What came (or did not come) from the simulator.
#[derive(Debug)]
pub enum Incoming {
    Frame(Bytes),
    Closed,
    Nothing,
}

pub struct Client {
    frames: Framed<TlsStream<TcpStream>, FrameCodec>,
}

impl Client {
    pub async fn connect(sim: &Sim) -> Client {
        Client::try_connect(sim.handle.address(), &sim.client_tls).await.expect("connect to the simulator")
    }

    pub async fn try_connect(address: SocketAddr, tls: &Arc<rustls::ClientConfig>) -> Result<Client, String> {
        let connect = async {
            let tcp = TcpStream::connect(address).await.map_err(|e| e.to_string())?;
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let stream = TlsConnector::from(tls.clone()).connect(name, tcp).await.map_err(|e| e.to_string())?;
            Ok(Client { frames: Framed::new(stream, FrameCodec::new()) })
        };
        tokio::time::timeout(DEADLINE, connect).await.map_err(|_| "connect timed out".to_string())?
    }

    pub async fn send(&mut self, message: &Message) {
        let bytes = encode(message, Spec::default_1987()).unwrap();
        self.frames.send(bytes).await.unwrap();
    }

    pub async fn send_raw(&mut self, payload: &[u8]) {
        self.frames.send(payload).await.unwrap();
    }

    /// The next frame, or that the connection closed, or nothing within `within`.
    pub async fn incoming(&mut self, within: Duration) -> Incoming {
        match tokio::time::timeout(within, self.frames.next()).await {
            Err(_) => Incoming::Nothing,
            Ok(Some(Ok(frame))) => Incoming::Frame(frame),
            Ok(None | Some(Err(_))) => Incoming::Closed,
        }
    }

    /// The next answer, decoded; panics on anything else.
    pub async fn answer(&mut self) -> Message {
        match self.incoming(DEADLINE).await {
            Incoming::Frame(frame) => decode(&frame, Spec::default_1987()).unwrap(),
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    pub async fn request(&mut self, message: &Message) -> Message {
        self.send(message).await;
        self.answer().await
    }
}

pub fn financial(stan: &str, amount: i64, processing: &str, brand_data: &str) -> Message {
    Message::new(Mti::FINANCIAL_REQUEST)
        .with(fields::PROCESSING_CODE, processing)
        .with(fields::AMOUNT, amount_field(Yen::new(amount).unwrap()).unwrap())
        .with(fields::TRANSMISSION_DATE_TIME, "1124101502")
        .with(fields::STAN, stan)
        .with(fields::LOCAL_TIME, "101502")
        .with(fields::LOCAL_DATE, "1124")
        .with(fields::POS_ENTRY_MODE, "051")
        .with(fields::TERMINAL_ID, TERMINAL)
        .with(fields::MERCHANT_ID, MERCHANT)
        .with(fields::BRAND_DATA, brand_data)
        .with(fields::CURRENCY, fields::CURRENCY_JPY)
}

/// A card purchase with the PAN in field 2.
pub fn card_purchase(stan: &str, amount: i64, brand: &str, pan: &str) -> Message {
    financial(stan, amount, fields::PROCESSING_PURCHASE, &format!("BR={brand}")).with(fields::PAN, pan)
}

pub fn purchase(stan: &str, amount: i64) -> Message {
    card_purchase(stan, amount, "VISA", PAN_VISA)
}

pub fn card_refund(stan: &str, amount: i64, original_rrn: &str) -> Message {
    financial(stan, amount, fields::PROCESSING_REFUND, &format!("BR=VISA;ORRN={original_rrn}"))
        .with(fields::PAN, PAN_VISA)
}

pub fn emoney_purchase(stan: &str, amount: i64, brand: &str, card_id: &str) -> Message {
    financial(stan, amount, fields::PROCESSING_PURCHASE, &format!("BR={brand};ID={card_id}"))
}

pub fn emoney_refund(stan: &str, amount: i64, brand: &str, card_id: &str, original_rrn: &str) -> Message {
    financial(stan, amount, fields::PROCESSING_REFUND, &format!("BR={brand};ID={card_id};ORRN={original_rrn}"))
}

/// A reversal (0400, or the repeat 0401) of `original`, under its own STAN.
pub fn reversal(original: &Message, stan: &str, repeat: bool) -> Message {
    let mti = if repeat { Mti::REVERSAL_REPEAT } else { Mti::REVERSAL_REQUEST };
    let mut message = Message::new(mti);
    for field in [
        fields::PROCESSING_CODE,
        fields::AMOUNT,
        fields::TRANSMISSION_DATE_TIME,
        fields::TERMINAL_ID,
        fields::MERCHANT_ID,
        fields::CURRENCY,
    ] {
        if let Some(value) = original.get(field) {
            message.set(field, value.to_vec());
        }
    }
    message.set(fields::STAN, stan);
    message.set(fields::ORIGINAL_DATA, iso8583::original_data_elements(original, 9_001).unwrap());
    message
}

pub fn network(stan: &str, code: &str) -> Message {
    Message::new(Mti::NETWORK_REQUEST)
        .with(fields::TRANSMISSION_DATE_TIME, "1124100000")
        .with(fields::STAN, stan)
        .with(fields::NETWORK_MANAGEMENT_CODE, code)
}

pub fn code_of(answer: &Message) -> &str {
    answer.text(fields::RESPONSE_CODE).unwrap_or("")
}
