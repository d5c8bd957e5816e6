//! One counter's devices for the end-to-end tests: the terminal simulator on the master side of
//! a pseudo-terminal (counterd opens the slave by its path, as it opens a real serial port),
//! counterd run in-process as a task, and waits on what the gateway shows of their commands.
//!
//! The test keeps one more descriptor of each slave open, so the device's side stays up while
//! counterd is killed and restarted.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use device_drivers::counterd::{
    Bounds, Counterd, DeviceToken, GatewayClient, Settings, SystemDevices, TerminalAddress,
};
use device_drivers::terminal_sim::{CardSource, SimulatorEvent, SimulatorOptions, TerminalSimulator};
use device_drivers::zvt::commands::fields::{Password, TerminalNumber};
use device_drivers::zvt::transport::fd::pty_stream;
use device_drivers::zvt::transport::{LinkRole, ZvtLink};
use pos_core::api::{CommandKind, CommandState, DeviceCommand, PaymentResult, SaleView};
use pos_core::RegisterId;
use serde_json::json;

use crate::Counter;

/// The longest any condition of a test is waited for.
pub const WAIT_MAX: Duration = Duration::from_secs(30);
/// Waits until `look` returns a value, at most [`WAIT_MAX`] ([`demo::rig::until`]).
pub async fn until<T, F, Fut>(what: &str, look: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    demo::rig::until(what, WAIT_MAX, look).await
}

/// A terminal simulator on the master side of a pty; counterd opens the slave by its path.
pub struct Terminal {
    pub path: PathBuf,
    pub events: tokio::sync::broadcast::Receiver<SimulatorEvent>,
    _keep_open: OwnedFd,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Terminal {
    /// Waits (at most [`WAIT_MAX`]) for the first event that `pick` accepts.
    pub async fn event(&mut self, what: &str, pick: impl Fn(&SimulatorEvent) -> bool) -> SimulatorEvent {
        let seen = tokio::time::timeout(WAIT_MAX, async {
            loop {
                match self.events.recv().await {
                    Ok(event) if pick(&event) => return Some(event),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .await;
        match seen {
            Ok(Some(event)) => event,
            Ok(None) => panic!("the terminal simulator stopped before {what}"),
            Err(_) => panic!("timed out waiting for the terminal: {what}"),
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A terminal simulator with id `terminal_id` reading `cards`, its state in `state`, the customer
/// taking `card_ms` to present the card.
pub async fn terminal(counter: &Counter, terminal_id: u32, cards: CardSource, state: &Path, card_ms: u64) -> Terminal {
    let mut options =
        SimulatorOptions::new(TerminalNumber::new(terminal_id).expect("terminal id"), state.join("terminal.json"));
    options.card_presentation_ms = card_ms;
    terminal_with(counter, options, cards).await
}

/// As [`terminal`], with every option given.
pub async fn terminal_with(counter: &Counter, options: SimulatorOptions, cards: CardSource) -> Terminal {
    let host = counter.terminal_host_client(&options.terminal_id.to_string()).await;
    let mut simulator =
        TerminalSimulator::new(options, cards, Some(host), Arc::new(pos_core::SystemClock)).expect("simulator");
    let events = simulator.subscribe();
    let pair = nix::pty::openpty(None, None).expect("pty");
    let path = nix::unistd::ttyname(&pair.slave).expect("pty name");
    let terminal_side = pty_stream(pair.master).expect("pty stream");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = simulator
            .serve(ZvtLink::serial(terminal_side, LinkRole::Terminal), async {
                let _ = stopped.await;
            })
            .await;
    });
    Terminal { path, _keep_open: pair.slave, events, stop: Some(stop) }
}

/// The bounds of counterd in the tests: short polls and backoffs, so a test waits little.
pub fn test_bounds() -> Bounds {
    Bounds {
        poll_wait_ms: 500,
        backoff_ms_min: 50,
        backoff_ms_max: 500,
        health_interval_ms: 1_000,
        charge_deadline_ms: 20_000,
        end_of_day_deadline_ms: 20_000,
    }
}

/// The demo token of register `register`'s counter device.
pub fn device_token(register: &RegisterId) -> DeviceToken {
    DeviceToken::new(&Counter::token_of(&format!("counter-{}", register.as_str().to_lowercase()))).expect("token")
}

/// counterd for `register` with only a terminal at `terminal`.
pub fn counterd(counter: &Counter, register: &str, terminal: &Path, state_file: &Path) -> tokio::task::JoinHandle<()> {
    let devices =
        SystemDevices { terminal: TerminalAddress::Serial(terminal.to_path_buf()), printer: None, scanner: None };
    counterd_with(counter, register, devices, state_file)
}

/// counterd for `register` with `devices`, over plain HTTP to the gateway.
pub fn counterd_with(
    counter: &Counter,
    register: &str,
    devices: SystemDevices,
    state_file: &Path,
) -> tokio::task::JoinHandle<()> {
    counterd_via(&counter.base, None, register, devices, state_file)
}

/// counterd for `register` with `devices`, reaching the gateway at `base` (`https://…` with
/// `tls`: the CA, and the client certificate for mutual TLS).
pub fn counterd_via(
    base: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
    register: &str,
    devices: SystemDevices,
    state_file: &Path,
) -> tokio::task::JoinHandle<()> {
    counterd_until(base, tls, register, devices, state_file, std::future::pending())
}

/// As [`counterd_via`], stopping as its binary does on Ctrl-C or SIGTERM when `stop` completes.
pub fn counterd_until(
    base: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
    register: &str,
    devices: SystemDevices,
    state_file: &Path,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let register = RegisterId::parse(register).expect("register");
    let client = GatewayClient::new(base, register.clone(), device_token(&register), tls).expect("client");
    let settings = Settings {
        register,
        terminal_password: Password::new(0).expect("password"),
        facility_name: "市民課".to_string(),
        city_name: "見本市".to_string(),
        state_file: state_file.to_path_buf(),
        bounds: test_bounds(),
        scanner_suffix: device_drivers::scanner::Suffix::CrLf,
        customer_display: device_drivers::counterd::CustomerDisplay::None,
    };
    let counterd = Counterd::new(settings, client, Arc::new(devices)).expect("counterd");
    tokio::spawn(counterd.run(stop))
}

#[derive(serde::Deserialize)]
struct CommandList {
    commands: Vec<DeviceCommand>,
}

/// The register's commands as treasury reads them, newest first.
pub async fn commands(counter: &Counter, register: &str) -> Vec<DeviceCommand> {
    let list: CommandList = counter.get("treasury", &format!("/v1/registers/{register}/commands")).await;
    list.commands
}

/// The register's command matching `pick`, once it has ended.
pub async fn ended(counter: &Counter, register: &str, pick: impl Fn(&CommandKind) -> bool) -> DeviceCommand {
    until("the command to end", || async {
        commands(counter, register).await.into_iter().find(|c| {
            pick(&c.command) && matches!(c.state, CommandState::Done | CommandState::Failed | CommandState::Unknown)
        })
    })
    .await
}

/// Opens a shift at `register`, rings up `line` and starts paying it by `method`.
pub async fn start_sale(
    counter: &Counter,
    clerk: &str,
    register: &str,
    line: serde_json::Value,
    method: &str,
) -> PaymentResult {
    counter.open_shift(clerk, register).await;
    let sale: SaleView = counter.post(clerk, "/v1/sales", &json!({ "register_id": register, "lines": [line] })).await;
    counter.post(clerk, &format!("/v1/sales/{}/payments", sale.id), &json!({ "method": method })).await
}

/// Picks the charge command of payment `payment_id`.
pub fn is_charge_of(payment_id: &str) -> impl Fn(&CommandKind) -> bool + '_ {
    move |kind| matches!(kind, CommandKind::Charge { payment_id: id, .. } if id == payment_id)
}

/// A simulated receipt printer on the master side of a pty; counterd opens the slave by path.
pub struct SimulatedPrinter {
    pub path: PathBuf,
    pub panel: device_drivers::printer::simulator::PrinterPanel,
    pub output: tokio::sync::watch::Receiver<device_drivers::printer::simulator::PrinterOutput>,
    _keep_open: OwnedFd,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for SimulatedPrinter {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn printer() -> SimulatedPrinter {
    let simulator = device_drivers::printer::simulator::PrinterSimulator::new();
    let (panel, output) = (simulator.panel(), simulator.output());
    let pair = nix::pty::openpty(None, None).expect("pty");
    let path = nix::unistd::ttyname(&pair.slave).expect("pty name");
    let printer_side = pty_stream(pair.master).expect("pty stream");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = simulator
            .serve(printer_side, async {
                let _ = stopped.await;
            })
            .await;
    });
    SimulatedPrinter { path, panel, output, _keep_open: pair.slave, stop: Some(stop) }
}

/// A barcode scanner on the master side of a pty: what the test writes is what it scanned.
pub struct SimulatedScanner {
    pub path: PathBuf,
    line: device_drivers::zvt::transport::fd::FdStream<std::fs::File>,
    _keep_open: OwnedFd,
}

impl SimulatedScanner {
    /// Scans `code`: its bytes and the CR LF suffix.
    pub async fn scan(&mut self, code: &str) {
        use tokio::io::AsyncWriteExt;
        self.line.write_all(format!("{code}\r\n").as_bytes()).await.expect("scan");
        self.line.flush().await.expect("scan");
    }
}

pub fn scanner() -> SimulatedScanner {
    let pair = nix::pty::openpty(None, None).expect("pty");
    let path = nix::unistd::ttyname(&pair.slave).expect("pty name");
    let line = pty_stream(pair.master).expect("pty stream");
    SimulatedScanner { path, line, _keep_open: pair.slave }
}

/// The command `id` of `register`, once it has ended.
pub async fn ended_id(counter: &Counter, register: &str, id: &str) -> DeviceCommand {
    until("the command to end", || async {
        commands(counter, register).await.into_iter().find(|c| {
            c.id == id && matches!(c.state, CommandState::Done | CommandState::Failed | CommandState::Unknown)
        })
    })
    .await
}

/// Queues `command` (JSON, as a clerk sends it) for `register` and waits for it to end.
pub async fn run_command(counter: &Counter, clerk: &str, register: &str, command: serde_json::Value) -> DeviceCommand {
    let queued: DeviceCommand = counter.post(clerk, &format!("/v1/registers/{register}/commands"), &command).await;
    ended_id(counter, register, &queued.id).await
}
