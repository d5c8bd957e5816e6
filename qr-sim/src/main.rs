//! `qr-sim`: runs one QR provider simulator from a TOML configuration until Ctrl-C; with
//! `--control`, also the customer page a phone can pay on and the control endpoints.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use qr_sim::QrSimConfig;

/// A simulated QR payment provider (PayPay Open Payment API v2) for tests and the demo.
#[derive(Debug, Parser)]
#[command(name = "qr-sim", version = pos_build_info::VERSION)]
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
    /// Also serve the customer page at each code's URL (so a phone can pay a displayed code) and
    /// the control endpoints `/_sim/codes/{codeId}[/pay|/decline]` for scripts. The codes' URL
    /// base (`payment_url_base`, or `--payment-url-base`) must then point at this simulator.
    #[arg(long)]
    control: bool,
    /// Overrides the configuration's `payment_url_base`, e.g. `http://192.168.1.20:8091/pay`
    /// (an address a phone on the same network can reach).
    #[arg(long)]
    payment_url_base: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let arguments = Arguments::parse();
    let text = std::fs::read_to_string(&arguments.config)
        .with_context(|| format!("reading {}", arguments.config.display()))?;
    let mut config: QrSimConfig =
        toml::from_str(&text).with_context(|| format!("parsing {}", arguments.config.display()))?;
    if let Some(base) = arguments.payment_url_base {
        config.payment_url_base = base;
    }
    let listener = tokio::net::TcpListener::bind(arguments.listen)
        .await
        .with_context(|| format!("binding {}", arguments.listen))?;
    let handle = if arguments.control {
        qr_sim::start_with_control(listener, config, qr_sim::StartOptions::default()).await?
    } else {
        qr_sim::start(listener, config).await?
    };
    tracing::info!(address = %handle.address(), "qr-sim listening");
    if arguments.control {
        // Said on standard output too: the person setting up the demo needs it.
        println!(
            "qr-sim on {}: customer page at {}/<codeId>, controls at /_sim/codes/<codeId>/pay|decline",
            handle.address(),
            handle.config().payment_url_base.trim_end_matches('/')
        );
    }
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    if let Some(dir) = &arguments.settlement_dir {
        let today = chrono::Utc::now().with_timezone(&pos_core::time::jst()).date_naive();
        let path = handle.write_settlement(today, dir)?;
        tracing::info!(path = %path.display(), "settlement written");
    }
    handle.shutdown().await;
    Ok(())
}
