//! A counter's devices for end-to-end tests: the terminal simulator on the master side of a
//! pseudo-terminal pair (counterd opens the slave by its path, as it opens a real serial port),
//! and counterd itself run as a task against the gateway.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use device_drivers::counterd::{
    Bounds, Counterd, DeviceToken, GatewayClient, Settings, SystemDevices, TerminalAddress,
};
use device_drivers::terminal_sim::{CardSource, SimulatorEvent, SimulatorOptions, TerminalSimulator};
use device_drivers::zvt::commands::fields::{Password, TerminalNumber};
use device_drivers::zvt::transport::fd::pty_stream;
use device_drivers::zvt::transport::ZvtLink;
use pos_core::RegisterId;

use crate::Counter;

/// A terminal simulator behind a pty; the test keeps one more descriptor of the slave side open,
/// so the terminal stays up while counterd is killed and restarted. Stops when dropped.
pub struct Terminal {
    pub path: PathBuf,
    _keep_open: OwnedFd,
    pub events: tokio::sync::broadcast::Receiver<SimulatorEvent>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a terminal simulator for `terminal_id` that reads cards from `cards`, presenting each
/// after `card_ms`, and authorizes with the counter's terminal host.
pub async fn terminal(counter: &Counter, terminal_id: u32, cards: CardSource, state: &Path, card_ms: u64) -> Terminal {
    let host = counter.terminal_host_client().await;
    let mut options =
        SimulatorOptions::new(TerminalNumber::new(terminal_id).expect("terminal id"), state.join("terminal.json"));
    options.card_presentation_ms = card_ms;
    let mut simulator =
        TerminalSimulator::new(options, cards, Some(host), Arc::new(pos_core::SystemClock)).expect("simulator");
    let events = simulator.subscribe();
    let pair = nix::pty::openpty(None, None).expect("pty");
    let path = nix::unistd::ttyname(&pair.slave).expect("pty name");
    let terminal_side = pty_stream(pair.master).expect("pty stream");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = simulator
            .serve(ZvtLink::serial(terminal_side), async {
                let _ = stopped.await;
            })
            .await;
    });
    Terminal { path, _keep_open: pair.slave, events, stop: Some(stop) }
}

/// Short bounds, so tests see reconnects and results quickly.
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

/// Runs counterd for `register` (signed in as its device user) with the terminal at `terminal`.
pub fn counterd(counter: &Counter, register: &str, terminal: &Path, state_file: &Path) -> tokio::task::JoinHandle<()> {
    let register = RegisterId::parse(register).expect("register");
    let token =
        DeviceToken::new(&Counter::token_of(&format!("counter-{}", register.as_str().to_lowercase()))).expect("token");
    let client = GatewayClient::new(&counter.base, register.clone(), token, None).expect("client");
    let settings = Settings {
        register,
        terminal_password: Password::new(0).expect("password"),
        facility_name: "市民課".to_string(),
        city_name: "見本市".to_string(),
        state_file: state_file.to_path_buf(),
        bounds: test_bounds(),
    };
    let devices =
        SystemDevices { terminal: TerminalAddress::Serial(terminal.to_path_buf()), printer: None, scanner: None };
    let counterd = Counterd::new(settings, client, Arc::new(devices)).expect("counterd");
    tokio::spawn(counterd.run(std::future::pending()))
}
