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
#[command(name = "counterd", about = "The counter's device bridge to the gateway")]
struct Args {
    /// The settings file (TOML).
    #[arg(long)]
    settings: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber_init();
    let args = Args::parse();
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
    counterd
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    tracing::info!("counterd stopped");
    Ok(())
}

fn tracing_subscriber_init() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}
