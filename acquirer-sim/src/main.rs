//! `acquirer-sim`: one simulated card acquirer or e-money centre, until Ctrl-C (or SIGTERM).
//!
//! Thin glue over the library: parse the arguments, build the TLS configuration, bind, print
//! `listening on ADDR` as the first line on stdout (scripts read the port from it), serve, and
//! on the way out write today's settlement file when asked to.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use acquirer_sim::{default_fees, Centre, FaultPlan, FeeTerm, SimulatorConfig, StartOptions};
use anyhow::{bail, Context};
use clap::Parser;
use pos_core::{Brand, BusinessDate, Clock, Rate, Rounding, SystemClock};

/// The file stem of the server certificate and key written by `--dev-tls`.
const DEV_TLS_STEM: &str = "acquirer-sim";
/// The names the development server certificate is valid for.
const DEV_TLS_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

#[derive(Debug, Parser)]
#[command(name = "acquirer-sim", version = pos_build_info::VERSION, about = "Simulated card acquirer or e-money centre (ISO 8583 over TLS)")]
struct Args {
    /// Which centre to play.
    #[arg(long, value_name = "card|emoney")]
    centre: Centre,
    /// Address to listen on; port 0 picks a free port (printed on the first line).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: String,
    /// Server certificate chain (PEM).
    #[arg(long, value_name = "PEM", requires = "key", conflicts_with = "dev_tls")]
    cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, value_name = "PEM", requires = "cert")]
    key: Option<PathBuf>,
    /// Generate a development CA and a server certificate for 127.0.0.1 and localhost into DIR
    /// (ca.crt, acquirer-sim.crt, acquirer-sim.key), and serve with it.
    #[arg(long, value_name = "DIR")]
    dev_tls: Option<PathBuf>,
    /// A fault to inject: delay:MS, late:MS, no-answer, drop, garbage or duplicate, optionally
    /// followed by :purchase|refund|reversal|network|any and :TIMES. Repeatable; first match wins.
    #[arg(long = "fault", value_name = "KIND[:ms][:kind][:times]")]
    faults: Vec<FaultPlan>,
    /// A brand's fee, replacing the default (cards 3.24 %, e-money 3 %, truncated), e.g.
    /// VISA=3.24% or WAON=2.5%:half_up. Repeatable.
    #[arg(long = "fee", value_name = "BRAND=RATE[:ROUNDING]")]
    fees: Vec<String>,
    /// Business days from the transaction date to the payout (default: card 2, e-money 3).
    #[arg(long, value_name = "DAYS")]
    payout_lag_days: Option<u32>,
    /// Name shown in the logs.
    #[arg(long)]
    name: Option<String>,
    /// Two digits in every RRN, to tell two simulators of one run apart (default: card 10,
    /// e-money 20).
    #[arg(long, value_name = "NN", value_parser = clap::value_parser!(u8).range(0..=99))]
    rrn_node: Option<u8>,
    /// On Ctrl-C, write today's (JST) settlement file into DIR before stopping.
    #[arg(long, value_name = "DIR")]
    settlement_dir: Option<PathBuf>,
}

fn fee_terms(centre: Centre, overrides: &[String]) -> anyhow::Result<Vec<FeeTerm>> {
    let mut fees = default_fees(centre);
    for text in overrides {
        let (brand, term) = text.split_once('=').with_context(|| format!("--fee {text:?}: expected BRAND=RATE"))?;
        let brand: Brand = brand.parse().with_context(|| format!("--fee {text:?}"))?;
        let (rate, rounding) = match term.split_once(':') {
            Some((rate, rounding)) => (rate, rounding.parse::<Rounding>().with_context(|| format!("--fee {text:?}"))?),
            None => (term, Rounding::JPY_FEE_DEFAULT),
        };
        let rate = Rate::parse_percent(rate).with_context(|| format!("--fee {text:?}"))?;
        fees.retain(|fee| fee.brand != brand);
        fees.push(FeeTerm::new(brand, rate, rounding));
    }
    Ok(fees)
}

fn tls_config(args: &Args) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    match (&args.cert, &args.key, &args.dev_tls) {
        (Some(cert), Some(key), None) => pos_tls::server_config(cert, key, None, pos_tls::ClientAuth::None)
            .with_context(|| format!("loading {} and {}", cert.display(), key.display())),
        (None, None, Some(dir)) => {
            let pki = pos_tls::DevPki::new("acquirer-sim development CA").context("generating the development CA")?;
            pki.write_server(dir, DEV_TLS_STEM, &DEV_TLS_NAMES)
                .with_context(|| format!("writing development certificates into {}", dir.display()))?;
            let (cert, key) = dev_tls_files(dir);
            pos_tls::server_config(&cert, &key, None, pos_tls::ClientAuth::None)
                .context("loading the development certificate")
        }
        _ => bail!("give --cert PEM and --key PEM, or --dev-tls DIR"),
    }
}

fn dev_tls_files(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join(format!("{DEV_TLS_STEM}.crt")), dir.join(format!("{DEV_TLS_STEM}.key")))
}

/// Ctrl-C, or SIGTERM where there is one (a supervisor's stop).
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let centre = args.centre;
    let config = SimulatorConfig {
        centre,
        tls: tls_config(&args)?,
        fees: fee_terms(centre, &args.fees)?,
        payout_lag_days: args.payout_lag_days.unwrap_or(match centre {
            Centre::Card => 2,
            Centre::Emoney => 3,
        }),
        name: args.name.clone().unwrap_or_else(|| format!("{centre}-sim")),
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let options = StartOptions::new(centre).with_rrn_node(args.rrn_node.unwrap_or(centre.rrn_node_default()));
    let handle = acquirer_sim::start_with(listener, config, options).await;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {}", handle.address())?;
    if let Some(dir) = &args.dev_tls {
        let (cert, key) = dev_tls_files(dir);
        writeln!(
            stdout,
            "development TLS: CA {}, server certificate {} and key {} for {}",
            dir.join("ca.crt").display(),
            cert.display(),
            key.display(),
            DEV_TLS_NAMES.join(", ")
        )?;
    }
    stdout.flush()?;
    if !args.faults.is_empty() {
        handle.set_faults(args.faults.clone());
    }

    stop_signal().await;
    if let Some(dir) = &args.settlement_dir {
        let today = BusinessDate::of_instant(SystemClock.now()).date();
        let path = handle.write_settlement(today, dir).with_context(|| format!("settlement file for {today}"))?;
        writeln!(stdout, "settlement file written: {}", path.display())?;
    }
    handle.shutdown().await;
    Ok(())
}
