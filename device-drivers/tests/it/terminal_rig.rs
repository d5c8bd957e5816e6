//! A counter's payment path in one test: the ECR driver and the terminal simulator on a pty pair
//! (or TCP), and a tiny ISO 8583/TLS responder playing the gateway's terminal host.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use device_drivers::terminal_sim::{CardSource, Fault, Faults, SimulatorEvent, SimulatorOptions, TerminalSimulator};
use device_drivers::zvt::commands::fields::{Password, TerminalNumber};
use device_drivers::zvt::ecr::{EcrDriver, EcrSettings};
use device_drivers::zvt::transport::fd::pty_pair;
use device_drivers::zvt::transport::{LinkRole, ZvtLink};
use futures::{SinkExt, StreamExt};
use iso8583::client::{Client, ClientSettings};
use iso8583::{fields, FrameCodec, Message, Mti, Spec};
use pos_tls::{ClientAuth, DevPki};
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;

pub const TERMINAL_ID: u32 = 10_010_001;
/// The bound on one ECR command in these tests.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(10);
/// The bound on waiting for a simulator event.
pub const EVENT_WAIT: Duration = Duration::from_secs(5);
/// How long the ECR lets the terminal be silent in these tests, so a dead terminal is found fast.
pub const SILENCE_TIMEOUT_MS: u64 = 1_500;

/// The gateway's terminal host, reduced to answering every 0200 with one response code.
pub struct HostResponder {
    pub address: SocketAddr,
    pub requests: Arc<Mutex<Vec<Message>>>,
    pub ca_pem: String,
}

impl HostResponder {
    /// A host that leaves its first `unanswered` financial requests without an answer (the
    /// terminal's host timeout), then answers every one with `response_code`.
    pub async fn start_with(response_code: &'static str, unanswered: usize) -> HostResponder {
        let pki = DevPki::new("test CA").expect("CA");
        let leaf = pki.server(&["localhost"]).expect("server certificate");
        let tls =
            pos_tls::server_config_from_pem(leaf.chain_pem.as_bytes(), leaf.key_pem.as_bytes(), None, ClientAuth::None)
                .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let silent_left = Arc::new(Mutex::new(unanswered));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let seen = seen.clone();
                let silent_left = silent_left.clone();
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else { return };
                    let mut framed = Framed::new(stream, FrameCodec::new());
                    while let Some(Ok(frame)) = framed.next().await {
                        let request = iso8583::decode(&frame, Spec::default_1987()).expect("decodable request");
                        let mut answer = request.response_skeleton();
                        if request.mti == Mti::FINANCIAL_REQUEST {
                            let mut silent = silent_left.lock().expect("silent count");
                            if *silent > 0 {
                                *silent -= 1;
                                seen.lock().expect("requests").push(request);
                                continue;
                            }
                            drop(silent);
                            answer.set(fields::RETRIEVAL_REFERENCE, "632810000123");
                            if response_code == "00" {
                                answer.set(fields::AUTHORIZATION_CODE, "A1B2C3");
                            }
                            seen.lock().expect("requests").push(request);
                        }
                        answer.set(
                            fields::RESPONSE_CODE,
                            if answer.mti == Mti::FINANCIAL_RESPONSE { response_code } else { "00" },
                        );
                        let bytes = iso8583::encode(&answer, Spec::default_1987()).expect("encodable answer");
                        if framed.send(bytes).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        HostResponder { address, requests, ca_pem: pki.ca_pem() }
    }

    pub fn requests(&self) -> Vec<Message> {
        self.requests.lock().expect("requests").clone()
    }

    pub async fn client(&self) -> Client {
        let tls = pos_tls::client_config_from_pem(self.ca_pem.as_bytes(), None).expect("client config");
        let client = Client::start(ClientSettings {
            endpoints: vec![self.address.to_string()],
            server_name: "localhost".to_string(),
            tls,
            in_flight_max: 4,
            connect_timeout_ms: 3_000,
            echo_interval_ms: 60_000,
            reconnect_backoff_ms_max: 200,
        });
        assert!(client.wait_connected(EVENT_WAIT).await, "the terminal connects to the terminal host");
        client
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Serial,
    Tcp,
}

pub struct Setup {
    pub cards: CardSource,
    /// The response code of the terminal host; `None` starts no host.
    pub host_code: Option<&'static str>,
    /// How many authorizations the host leaves unanswered before it answers.
    pub host_unanswered: usize,
    pub transport: Transport,
    pub card_presentation_ms: u64,
    /// Reuse a state file (a terminal restarted).
    pub state_file: Option<PathBuf>,
    /// Faults armed before the simulator starts serving.
    pub faults: Vec<Fault>,
}

impl Setup {
    pub fn card(brand: pos_core::Brand, host_code: &'static str) -> Setup {
        Setup {
            cards: CardSource::fixed(brand).expect("terminal brand"),
            host_code: Some(host_code),
            host_unanswered: 0,
            transport: Transport::Serial,
            card_presentation_ms: 50,
            state_file: None,
            faults: Vec::new(),
        }
    }

    pub fn without_host() -> Setup {
        Setup { host_code: None, ..Setup::card(pos_core::Brand::Visa, "00") }
    }
}

pub struct Rig {
    pub driver: EcrDriver,
    pub faults: Faults,
    pub events: broadcast::Receiver<SimulatorEvent>,
    pub host: Option<HostResponder>,
    pub state_file: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    simulator: JoinHandle<TerminalSimulator>,
    _directory: Option<tempfile::TempDir>,
}

impl Rig {
    pub async fn start(setup: Setup) -> Rig {
        let (directory, state_file) = match setup.state_file {
            Some(path) => (None, path),
            None => {
                let directory = tempfile::tempdir().expect("temporary directory");
                let path = directory.path().join("terminal-state.json");
                (Some(directory), path)
            }
        };
        let host = match setup.host_code {
            Some(code) => Some(HostResponder::start_with(code, setup.host_unanswered).await),
            None => None,
        };
        let client = match &host {
            Some(host) => Some(host.client().await),
            None => None,
        };
        let mut options =
            SimulatorOptions::new(TerminalNumber::new(TERMINAL_ID).expect("terminal id"), state_file.clone());
        options.card_presentation_ms = setup.card_presentation_ms;
        options.status_interval_ms = 100;
        options.host_timeout_ms = 3_000;
        options.ecr_answer_timeout_ms = 3_000;
        let mut simulator =
            TerminalSimulator::new(options, setup.cards, client, Arc::new(pos_core::SystemClock)).expect("simulator");
        let faults = simulator.faults();
        for fault in setup.faults {
            faults.arm(fault);
        }
        let events = simulator.subscribe();
        let (ecr_link, terminal_link) = match setup.transport {
            Transport::Serial => {
                let (master, slave) = pty_pair().expect("pty pair");
                (ZvtLink::serial(master, LinkRole::Ecr), ZvtLink::serial(slave, LinkRole::Terminal))
            }
            Transport::Tcp => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let address = listener.local_addr().expect("address");
                let (connected, accepted) = tokio::join!(tokio::net::TcpStream::connect(address), listener.accept());
                (ZvtLink::tcp(connected.expect("connect")), ZvtLink::tcp(accepted.expect("accept").0))
            }
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let simulator = tokio::spawn(async move {
            simulator
                .serve(terminal_link, async {
                    let _ = stopped.await;
                })
                .await
                .expect("the simulator serves");
            simulator
        });
        let mut settings = EcrSettings::new(Password::new(123_456).expect("password"));
        settings.acknowledgement_timeout_ms = 3_000;
        settings.terminal_silence_timeout_ms = SILENCE_TIMEOUT_MS;
        let driver = EcrDriver::new(ecr_link, settings);
        Rig { driver, faults, events, host, state_file, stop: Some(stop), simulator, _directory: directory }
    }

    /// Waits for the simulator to report an event matching `wanted`.
    pub async fn wait_for(&mut self, wanted: impl Fn(&SimulatorEvent) -> bool) -> SimulatorEvent {
        wait_for_event(&mut self.events, wanted).await
    }

    /// Stops the simulator and returns it (its state is on disk).
    pub async fn stop(mut self) -> (TerminalSimulator, Option<tempfile::TempDir>) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let simulator = tokio::time::timeout(EVENT_WAIT, &mut self.simulator)
            .await
            .expect("the simulator stops within the bound")
            .expect("the simulator task ends cleanly");
        (simulator, self._directory.take())
    }
}

pub async fn wait_for_event(
    events: &mut broadcast::Receiver<SimulatorEvent>,
    wanted: impl Fn(&SimulatorEvent) -> bool,
) -> SimulatorEvent {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(event) if wanted(&event) => return event,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("the simulator's events ended"),
            }
        }
    };
    tokio::time::timeout(EVENT_WAIT, wait).await.expect("the simulator event comes within the bound")
}
