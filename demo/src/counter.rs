//! One real counter in the demo: counterd and the terminal simulator over a pseudo-terminal pair,
//! and a simulated receipt printer on another, for one register (issue 7, "the main job").
//!
//! For that register the demo's card and e-money payments take the whole path: the register asks
//! the gateway for the payment; the gateway queues the charge; counterd takes it by long poll and
//! runs a ZVT authorization over the pty on the terminal simulator, which reads the card (the
//! brands the day's plan has for that register, in order) and authorizes over ISO 8583/TLS with
//! the gateway's terminal host, on to the simulated acquirer. When the sale is paid the gateway
//! queues its receipt, counterd prints it in ESC/POS with Shift_JIS on the simulated printer, and
//! the demo writes the text of what was printed to `<data-dir>/receipts/`.
//!
//! The counter is the register with the most card and e-money sales in the day's plan among
//! those with a terminal and a counter-device user, so a shortened day still shows some.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use device_drivers::counterd::{
    Bounds, Counterd, CustomerDisplay, DeviceToken, GatewayClient, Settings, SystemDevices, TerminalAddress,
};
use device_drivers::printer::simulator::{PrinterOutput, PrinterSimulator};
use device_drivers::scanner::Suffix;
use device_drivers::terminal_sim::{CardSource, SimulatorOptions, TerminalSimulator};
use device_drivers::zvt::commands::fields::{Password, TerminalNumber};
use device_drivers::zvt::transport::fd::pty_stream;
use device_drivers::zvt::transport::{LinkRole, ZvtLink};
use pos_config::{Config, Role, Scope};
use pos_core::api::{PaymentRequest, PaymentResult, PaymentView, SaleView};
use pos_core::{Brand, Clock, Method, PaymentState, RegisterId, SaleState};
use tokio::sync::{oneshot, watch};

/// How long one payment at the counter may take, card presentation and authorization included.
pub const COUNTER_PAYMENT_WAIT_MS: u64 = 30_000;
/// How long the printed receipt may take to appear after the sale is paid.
pub const RECEIPT_WAIT_MS: u64 = 10_000;
/// How long the simulated customer takes to present the card.
const CARD_PRESENTATION_MS: u64 = 50;
/// The folder (under the demo's data folder) the receipts are written to.
pub const RECEIPTS_DIR: &str = "receipts";

/// What the demo needs to run its counter.
pub struct CounterSetup<'a> {
    pub config: &'a Config,
    /// The register and the card and e-money brands the day's plan pays there, in order.
    pub register: RegisterId,
    pub brands: Vec<Brand>,
    /// The gateway's API (`http://…`) and terminal host (`host:port`, TLS).
    pub api_base: String,
    pub terminal_host: String,
    /// The development PKI the terminal's certificate comes from.
    pub pki: Arc<pos_tls::DevPki>,
    pub clock: Arc<dyn Clock>,
    pub data_dir: &'a Path,
}

/// Picks the demo's counter: among registers with a terminal and a counter-device user, the one
/// with the most planned card and e-money payments (the first such register on a tie), with those
/// brands in order. `None` when no such register has any.
pub fn pick_register(config: &Config, planned: &[(RegisterId, Brand)]) -> Option<(RegisterId, Vec<Brand>)> {
    let with_device = |register: &RegisterId| {
        config.users.iter().any(|user| {
            user.role == Role::Device && matches!(&user.scope, Scope::Register { register: own, .. } if own == register)
        }) && config.register(register).is_some_and(|(_, r)| r.terminal.is_some())
    };
    let mut best: Option<(RegisterId, Vec<Brand>)> = None;
    for facility in &config.facilities {
        for register in facility.registers.iter().filter(|r| with_device(&r.id)) {
            let brands: Vec<Brand> = planned
                .iter()
                .filter(|(r, brand)| *r == register.id && matches!(brand.method(), Method::Card | Method::Emoney))
                .map(|(_, brand)| *brand)
                .collect();
            if !brands.is_empty() && best.as_ref().is_none_or(|(_, most)| brands.len() > most.len()) {
                best = Some((register.id.clone(), brands));
            }
        }
    }
    best
}

/// The running counter.
pub struct DemoCounter {
    pub register: RegisterId,
    http: reqwest::Client,
    api_base: String,
    printed: watch::Receiver<PrinterOutput>,
    receipts_dir: PathBuf,
    /// The receipts written, in order.
    pub receipts: Vec<PathBuf>,
    /// The first receipt's text, for the demo's summary.
    pub first_receipt: Option<String>,
    stops: Vec<oneshot::Sender<()>>,
    counterd: tokio::task::JoinHandle<()>,
    terminal_host_link: iso8583::client::Client,
    _device_ends: Vec<OwnedFd>,
}

impl DemoCounter {
    pub async fn start(setup: CounterSetup<'_>) -> anyhow::Result<DemoCounter> {
        let (facility, register) = setup.config.register(&setup.register).context("the counter's register")?;
        let terminal_name = register
            .terminal
            .as_ref()
            .map(|id| id.as_str().to_string())
            .context("the counter's register has no terminal")?;
        let terminal_id: u32 = terminal_name.parse().context("the counter's register has no numeric terminal id")?;
        let state_dir = setup.data_dir.join("counter");
        let receipts_dir = setup.data_dir.join(RECEIPTS_DIR);
        for dir in [&state_dir, &receipts_dir] {
            if dir.exists() {
                std::fs::remove_dir_all(dir).with_context(|| format!("cannot replace {}", dir.display()))?;
            }
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut stops = Vec::new();
        let mut device_ends = Vec::new();

        // The terminal on the master side of a pty, with its own link to the terminal host.
        let host = iso8583::client::Client::start(iso8583::client::ClientSettings {
            endpoints: vec![setup.terminal_host.clone()],
            server_name: "localhost".to_string(),
            tls: setup.pki.terminal_client(&terminal_name)?,
            in_flight_max: 4,
            connect_timeout_ms: 3_000,
            echo_interval_ms: 60_000,
            reconnect_backoff_ms_max: 1_000,
        });
        let mut options =
            SimulatorOptions::new(TerminalNumber::new(terminal_id)?, state_dir.join("terminal-state.json"));
        options.card_presentation_ms = CARD_PRESENTATION_MS;
        let cards = CardSource::scripted(setup.brands.clone())?;
        let mut terminal = TerminalSimulator::new(options, cards, Some(host.clone()), setup.clock.clone())?;
        let (terminal_path, terminal_side, keep) = pty_device()?;
        device_ends.push(keep);
        let (stop, stopped) = oneshot::channel::<()>();
        stops.push(stop);
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(error) = terminal.serve(ZvtLink::serial(terminal_side, LinkRole::Terminal), shutdown).await {
                tracing::error!(%error, "demo terminal stopped");
            }
        });

        // The printer on the master side of another pty.
        let printer = PrinterSimulator::new();
        let printed = printer.output();
        let (printer_path, printer_side, keep) = pty_device()?;
        device_ends.push(keep);
        let (stop, stopped) = oneshot::channel::<()>();
        stops.push(stop);
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(error) = printer.serve(printer_side, shutdown).await {
                tracing::error!(%error, "demo printer stopped");
            }
        });

        // counterd, opening both devices by their paths as it opens serial ports.
        let token = DeviceToken::new(&format!("demo-counter-{}", setup.register.as_str().to_lowercase()))?;
        let client = GatewayClient::new(&setup.api_base, setup.register.clone(), token, None)?;
        let settings = Settings {
            register: setup.register.clone(),
            terminal_password: Password::new(0)?,
            facility_name: facility.name_ja.clone(),
            city_name: setup.config.city.name_ja.clone(),
            state_file: state_dir.join("counterd-state.json"),
            bounds: Bounds { poll_wait_ms: 1_000, backoff_ms_min: 50, backoff_ms_max: 1_000, ..Bounds::default() },
            scanner_suffix: Suffix::CrLf,
            customer_display: CustomerDisplay::DisplayPage,
        };
        let devices = SystemDevices {
            terminal: TerminalAddress::Serial(terminal_path),
            printer: Some(printer_path),
            scanner: None,
        };
        let counterd = Counterd::new(settings, client, Arc::new(devices))?;
        let (stop, stopped) = oneshot::channel::<()>();
        stops.push(stop);
        let counterd = tokio::spawn(counterd.run(async {
            let _ = stopped.await;
        }));
        Ok(DemoCounter {
            register: setup.register,
            http: crate::rig::http_client(),
            api_base: setup.api_base,
            printed,
            receipts_dir,
            receipts: Vec::new(),
            first_receipt: None,
            stops,
            counterd,
            terminal_host_link: host,
            _device_ends: device_ends,
        })
    }

    /// The clerk (`token`) takes a card or e-money payment of `sale` at the counter: it waits until
    /// counterd has charged it and printed the receipt, which it writes out; returns the paid sale.
    pub async fn pay(&mut self, token: &str, sale: &SaleView, brand: Brand) -> anyhow::Result<SaleView> {
        let request =
            PaymentRequest { method: brand.method(), tendered: None, amount: None, brand: None, customer_code: None };
        let response = self
            .http
            .post(format!("{}/v1/sales/{}/payments", self.api_base, sale.id))
            .bearer_auth(token)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(&request)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("the counter's payment of sale {} was refused: {}", sale.id, response.text().await?);
        }
        let started: PaymentResult = response.json().await?;
        let payment = self.settled(token, &started.payment.id).await?;
        if payment.state != PaymentState::Completed {
            bail!("the counter's {brand} payment {} ended {}: {:?}", payment.id, payment.state, payment.note);
        }
        let sale: SaleView = self.get(token, &format!("/v1/sales/{}", sale.id)).await?;
        if sale.state != SaleState::Paid {
            bail!("sale {} is {} after the counter's payment", sale.id, sale.state);
        }
        let number = sale
            .receipt
            .map(|r| format!("{}-{:06}", r.fiscal_year.start_year(), r.number))
            .context("a paid sale without a receipt number")?;
        // The counter prints every paid sale's receipt (cash ones too), in the order they were
        // paid: this sale's is the one with its number.
        let heading = format!("No. {number}");
        let receipt = tokio::time::timeout(
            Duration::from_millis(RECEIPT_WAIT_MS),
            self.printed.wait_for(|output| output.documents.iter().any(|d| d.contains(&heading))),
        )
        .await
        .context("the counter printed no receipt")??
        .documents
        .iter()
        .find(|d| d.contains(&heading))
        .cloned()
        .unwrap_or_default();
        let path = self.receipts_dir.join(format!("{}-{number}.txt", self.register));
        std::fs::write(&path, &receipt).with_context(|| format!("cannot write {}", path.display()))?;
        self.receipts.push(path);
        self.first_receipt.get_or_insert(receipt);
        Ok(sale)
    }

    /// The payment once it has left `awaiting_device` and `authorizing`.
    async fn settled(&self, token: &str, payment_id: &str) -> anyhow::Result<PaymentView> {
        let what = format!("the counter's payment {payment_id} to leave awaiting_device and authorizing");
        crate::rig::within(&what, Duration::from_millis(COUNTER_PAYMENT_WAIT_MS), || async {
            let payment: PaymentView = self.get(token, &format!("/v1/payments/{payment_id}")).await?;
            Ok((!matches!(payment.state, PaymentState::AwaitingDevice | PaymentState::Authorizing)).then_some(payment))
        })
        .await
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, token: &str, path: &str) -> anyhow::Result<T> {
        let response = self.http.get(format!("{}{path}", self.api_base)).bearer_auth(token).send().await?;
        if !response.status().is_success() {
            bail!("GET {path}: {}", response.status());
        }
        Ok(response.json().await?)
    }

    /// Stops counterd and the simulated devices.
    pub async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        let _ = self.counterd.await;
        self.terminal_host_link.shutdown();
    }
}

/// A pty pair as a device: the device's (master) side as a stream, the path counterd opens, and
/// the slave kept open so the device stays up between counterd's opens.
fn pty_device() -> anyhow::Result<(PathBuf, device_drivers::zvt::transport::fd::FdStream<std::fs::File>, OwnedFd)> {
    let pair = nix::pty::openpty(None, None).context("cannot open a pseudo-terminal")?;
    let path = nix::unistd::ttyname(&pair.slave).context("the pseudo-terminal has no name")?;
    let stream = pty_stream(pair.master).context("cannot set up the pseudo-terminal")?;
    Ok((path, stream, pair.slave))
}
