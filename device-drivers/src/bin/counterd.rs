//! counterd: bridges one counter's devices (payment terminal, printer and drawer, scanner) to the
//! gateway. See `device_drivers::counterd`.
//!
//! ```text
//! counterd --settings /etc/counterd/counterd.toml
//! ```
//!
//! The device token comes from the settings' `token_file`, else from `COUNTERD_TOKEN`; it is never
//! logged.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use device_drivers::counterd::{
    Counterd, DeviceToken, GatewayClient, Settings, SettingsFile, SystemDevices, TerminalAddress,
};
use device_drivers::zvt::commands::fields::Password;
use pos_core::RegisterId;

#[derive(Debug, Parser)]
#[command(name = "counterd", version = pos_build_info::VERSION, about = "The counter's device bridge to the gateway")]
struct Args {
    /// The settings file (TOML).
    #[arg(long)]
    settings: PathBuf,
    /// How log lines are written to standard error: `text`, or `json` (one object a line) for a
    /// log collector.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logs(args.log_format);
    let stop = stop_signal()?;
    let file = SettingsFile::load(&args.settings)?;
    let token = DeviceToken::new(&file.token(|name| std::env::var(name).ok())?)?;
    let register = RegisterId::parse(&file.register).with_context(|| format!("register {:?}", file.register))?;
    let tls = match &file.ca_file {
        Some(ca) => {
            let identity = file.client_cert_file.as_deref().zip(file.client_key_file.as_deref());
            Some(pos_tls::client_config(ca, identity).context("TLS settings")?)
        }
        None => None,
    };
    let client = GatewayClient::new(&file.gateway_url, register.clone(), token, tls)?;
    let terminal: TerminalAddress = file.terminal.parse()?;
    let devices = SystemDevices { terminal, printer: file.printer.clone(), scanner: file.scanner.clone() };
    let settings = Settings {
        register,
        terminal_password: Password::new(file.terminal_password).context("terminal_password")?,
        facility_name: file.facility_name.clone(),
        city_name: file.city_name.clone(),
        state_file: file.state_file.clone(),
        bounds: file.bounds.clone(),
        scanner_suffix: file.scanner_suffix.into(),
        customer_display: file.customer_display.into(),
    };
    let counterd = Counterd::new(settings, client, Arc::new(devices))?;
    tracing::info!(register = %file.register, gateway = %file.gateway_url, "counterd started");
    counterd.run(stop).await;
    tracing::info!("counterd stopped");
    Ok(())
}

/// Ctrl-C (SIGINT) or SIGTERM (`systemctl stop`): either stops counterd the same way, after the
/// command in progress has ended (see `Counterd::run`). The handlers are installed when this is
/// called, before counterd says it started, so no early signal kills it outright.
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("catching SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("catching SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Logs go to standard error (journald under systemd); `RUST_LOG` filters them, default `info`.
fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).init(),
    }
}
