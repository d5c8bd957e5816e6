//! `terminal-sim`: a simulated ZVT payment terminal on a serial device (or pty) or TCP, which
//! authorizes with the gateway's terminal host over ISO 8583/TLS. Thin glue over
//! `device_drivers::terminal_sim`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Parser;
use device_drivers::terminal_sim::{CardSource, Fault, SimulatorOptions, TerminalSimulator};
use device_drivers::zvt::commands::fields::TerminalNumber;
use device_drivers::zvt::transport::fd::open_serial_port;
use device_drivers::zvt::transport::{LinkRole, ZvtLink};
use iso8583::client::{Client, ClientSettings};
use pos_core::Brand;

#[derive(Debug, Parser)]
#[command(name = "terminal-sim", version = pos_build_info::VERSION, about = "A simulated ZVT payment terminal")]
struct Arguments {
    /// Serial device or pty to serve the ECR on (9,600 baud 8N2).
    #[arg(long, conflicts_with = "tcp_listen")]
    serial: Option<PathBuf>,
    /// Address to accept ZVT over TCP on (bare APDUs), e.g. 127.0.0.1:20007.
    #[arg(long)]
    tcp_listen: Option<String>,
    /// The terminal id: eight digits (BMP 29, ISO 8583 field 41).
    #[arg(long)]
    terminal_id: u32,
    /// Where trace and receipt counters and totals are kept across restarts.
    #[arg(long)]
    state_file: PathBuf,
    /// The gateway's terminal host, host:port (repeat for secondaries).
    #[arg(long = "host")]
    hosts: Vec<String>,
    /// The name the terminal host's certificate carries.
    #[arg(long, default_value = "localhost")]
    host_name: String,
    /// The CA that signs the terminal host's certificate (PEM).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// This terminal's own certificate (PEM; `gateway dev-tls` writes `terminal-<id>.crt`), whose
    /// `urn:pos:terminal:<id>` the terminal host checks against field 41.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// The key of `--cert` (PEM).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Present this brand every time (VISA, JCB, NANACO …).
    #[arg(long, conflicts_with_all = ["script", "seed"])]
    brand: Option<String>,
    /// Present these brands in turn, comma-separated.
    #[arg(long, value_delimiter = ',', conflicts_with = "seed")]
    script: Vec<String>,
    /// Draw brands from the city's brand mix with this seed (the default, seed 1).
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, default_value_t = device_drivers::terminal_sim::CARD_PRESENTATION_MS_DEFAULT)]
    card_presentation_ms: u64,
    #[arg(long, default_value_t = device_drivers::terminal_sim::HOST_TIMEOUT_MS_DEFAULT)]
    host_timeout_ms: u64,
    /// Faults to play once each: card-removed, customer-cancels, host-unreachable, bad-crc,
    /// drop-ack, power-loss.
    #[arg(long = "fault", value_delimiter = ',')]
    faults: Vec<String>,
}

/// How long the TLS client may take to connect to the terminal host.
const HOST_CONNECT_TIMEOUT_MS: u64 = 5_000;
const HOST_ECHO_INTERVAL_MS: u64 = 60_000;
const HOST_RECONNECT_BACKOFF_MS_MAX: u64 = 5_000;
const HOST_IN_FLIGHT_MAX: usize = 4;

fn fault(name: &str) -> anyhow::Result<Fault> {
    Ok(match name {
        "card-removed" => Fault::CardRemoved,
        "customer-cancels" => Fault::CustomerCancels,
        "host-unreachable" => Fault::HostUnreachable,
        "bad-crc" => Fault::BadCrcOnce,
        "drop-ack" => Fault::DropAckOnce,
        "power-loss" => Fault::PowerLoss,
        other => bail!("unknown fault {other:?}"),
    })
}

fn card_source(arguments: &Arguments) -> anyhow::Result<CardSource> {
    if let Some(brand) = &arguments.brand {
        return Ok(CardSource::fixed(brand.parse::<Brand>()?)?);
    }
    if !arguments.script.is_empty() {
        let brands = arguments.script.iter().map(|code| code.parse::<Brand>()).collect::<Result<Vec<_>, _>>()?;
        return Ok(CardSource::scripted(brands)?);
    }
    Ok(CardSource::random(arguments.seed.unwrap_or(1)))
}

fn host_client(arguments: &Arguments) -> anyhow::Result<Option<Client>> {
    if arguments.hosts.is_empty() {
        return Ok(None);
    }
    let ca = arguments.ca.as_ref().context("--ca is needed to reach the terminal host over TLS")?;
    let identity = arguments.cert.as_deref().zip(arguments.key.as_deref());
    let tls = pos_tls::client_config(ca, identity)?;
    Ok(Some(Client::start(ClientSettings {
        endpoints: arguments.hosts.clone(),
        server_name: arguments.host_name.clone(),
        tls,
        in_flight_max: HOST_IN_FLIGHT_MAX,
        connect_timeout_ms: HOST_CONNECT_TIMEOUT_MS,
        echo_interval_ms: HOST_ECHO_INTERVAL_MS,
        reconnect_backoff_ms_max: HOST_RECONNECT_BACKOFF_MS_MAX,
    })))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    let terminal_id = TerminalNumber::new(arguments.terminal_id)?;
    let mut options = SimulatorOptions::new(terminal_id, arguments.state_file.clone());
    options.card_presentation_ms = arguments.card_presentation_ms;
    options.host_timeout_ms = arguments.host_timeout_ms;
    let mut simulator = TerminalSimulator::new(
        options,
        card_source(&arguments)?,
        host_client(&arguments)?,
        Arc::new(pos_core::SystemClock),
    )?;
    for name in &arguments.faults {
        simulator.faults().arm(fault(name)?);
    }
    let shutdown = async {
        // If the signal cannot be watched, run until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    match (&arguments.serial, &arguments.tcp_listen) {
        (Some(path), _) => {
            let port = open_serial_port(path)?;
            simulator.serve(ZvtLink::serial(port, LinkRole::Terminal), shutdown).await?;
        }
        (None, Some(address)) => {
            let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("bind {address}"))?;
            tokio::pin!(shutdown);
            loop {
                let (stream, peer) = tokio::select! {
                    () = &mut shutdown => break,
                    accepted = listener.accept() => accepted?,
                };
                eprintln!("terminal-sim: ECR connected from {peer}");
                simulator.serve(ZvtLink::tcp(stream), &mut shutdown).await?;
            }
        }
        (None, None) => bail!("give --serial PATH or --tcp-listen ADDRESS"),
    }
    Ok(())
}
