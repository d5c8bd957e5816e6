//! `qr-sim`: runs one QR provider simulator from a TOML configuration until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use qr_sim::QrSimConfig;

/// A simulated QR payment provider (PayPay Open Payment API v2) for tests and the demo.
#[derive(Debug, Parser)]
struct Arguments {
    /// TOML configuration (see `QrSimConfig`).
    #[arg(long)]
    config: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8091")]
    listen: SocketAddr,
    /// On shutdown, write today's (JST) settlement file into this directory.
    #[arg(long)]
    settlement_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let arguments = Arguments::parse();
    let text = std::fs::read_to_string(&arguments.config)
        .with_context(|| format!("reading {}", arguments.config.display()))?;
    let config: QrSimConfig =
        toml::from_str(&text).with_context(|| format!("parsing {}", arguments.config.display()))?;
    let listener = tokio::net::TcpListener::bind(arguments.listen)
        .await
        .with_context(|| format!("binding {}", arguments.listen))?;
    let handle = qr_sim::start(listener, config).await?;
    tracing::info!(address = %handle.address(), "qr-sim listening");
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    if let Some(dir) = &arguments.settlement_dir {
        let today = chrono::Utc::now().with_timezone(&pos_core::time::jst()).date_naive();
        let path = handle.write_settlement(today, dir)?;
        tracing::info!(path = %path.display(), "settlement written");
    }
    handle.shutdown().await;
    Ok(())
}
