//! The `gateway` binary: serve the API and the terminal host, verify the audit log, hash tokens,
//! write development TLS material. (The demo day and the benchmark are the `demo` crate's.)

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pos_core::SystemClock;

#[derive(Parser)]
#[command(name = "gateway", version = pos_build_info::VERSION, about = "Cashless payment gateway for public counters")]
struct Cli {
    /// How log lines are written to standard error: `text` for people, `json` (one object a line,
    /// with the request's id and the fields of its span) for a log collector.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Logs go to standard error (standard output carries the lines scripts read, e.g. the address).
/// `RUST_LOG` filters them; the default is the gateway at info and everything else at warn.
fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "gateway=info,warn".into());
    // Colours only on a terminal: journald and log files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).init(),
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        #[arg(long, default_value = "config/examples/city.toml")]
        config: PathBuf,
        /// Overrides server.listen (e.g. 127.0.0.1:0 to pick a free port; the chosen address is
        /// printed on the first line of standard output).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Check the audit log's keyed chains with the audit key and against the anchors.
    AuditVerify {
        #[arg(long, default_value = "config/examples/city.toml")]
        config: PathBuf,
    },
    /// Publish a month's open data (CSV, JSON, table schemas, datapackage.json) under
    /// [open_data].dir; `--due` publishes the previous month once its day has come (the timer).
    Opendata(gateway::opendata::publish::OpendataOptions),
    /// Write a consistent copy of the SQLite journal to a new file while the gateway serves
    /// (`VACUUM INTO`, checked with `PRAGMA integrity_check`). PostgreSQL: use pg_dump.
    Backup {
        #[arg(long, default_value = "config/examples/city.toml")]
        config: PathBuf,
        /// The backup file to create (never overwritten).
        #[arg(long)]
        to: PathBuf,
    },
    /// Print the SHA-256 of a bearer token, for a user's token_sha256 in the configuration.
    TokenHash { token: String },
    /// Write a development CA, a server certificate (for 127.0.0.1 and localhost) for the terminal
    /// host and the acquirer simulators, and one client certificate per payment terminal of the
    /// configuration (`terminal-<id>.crt`, naming `urn:pos:terminal:<id>`). Never for production.
    DevTls {
        #[arg(long, default_value = "demo-data/tls")]
        out: PathBuf,
        #[arg(long, default_value = "config/examples/city.toml")]
        config: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    match cli.command {
        Command::Serve { config, listen } => serve(config, listen).await,
        Command::AuditVerify { config } => audit_verify(config).await,
        Command::Opendata(options) => gateway::opendata::publish::run(options).await,
        Command::Backup { config, to } => backup(config, to).await,
        Command::TokenHash { token } => {
            println!("{}", pos_config::token_sha256(&token));
            Ok(())
        }
        Command::DevTls { out, config } => dev_tls(&out, &config),
    }
}

fn dev_tls(out: &std::path::Path, config_path: &std::path::Path) -> anyhow::Result<()> {
    let config = pos_config::load(config_path)?;
    let pki = pos_tls::DevPki::new("pos development CA")?;
    pki.write_server(out, "gateway", &["localhost", "127.0.0.1"])?;
    let terminals: Vec<String> = config
        .facilities
        .iter()
        .flat_map(|facility| facility.registers.iter())
        .filter_map(|register| register.terminal.as_ref().map(|t| t.as_str().to_string()))
        .collect();
    for terminal in &terminals {
        pki.write_terminal(out, terminal)?;
    }
    println!(
        "wrote ca.crt, gateway.crt and gateway.key, and terminal-<id>.crt/.key for {} terminals, to {}",
        terminals.len(),
        out.display()
    );
    Ok(())
}

async fn serve(config_path: PathBuf, listen: Option<String>) -> anyhow::Result<()> {
    let config = pos_config::load(&config_path)?;
    let address = listen.unwrap_or_else(|| config.server.listen.to_string());
    let terminals = match &config.terminal_host {
        Some(host) => {
            let client_auth = match host.client_auth {
                pos_config::ClientAuthMode::LabWithoutCertificates => pos_tls::ClientAuth::Optional,
                pos_config::ClientAuthMode::Required => pos_tls::ClientAuth::Required,
            };
            let tls = pos_tls::server_config_files(
                &host.cert_file,
                &host.key_file,
                host.client_ca_file.as_deref(),
                &host.client_crl_files,
                client_auth,
            )
            .context("terminal host TLS (for local runs, `gateway dev-tls` writes development certificates)")?;
            let listener = tokio::net::TcpListener::bind(host.listen)
                .await
                .with_context(|| format!("cannot listen for terminals on {}", host.listen))?;
            Some((listener, tls))
        }
        None => None,
    };
    let app = gateway::AppState::start(config, Arc::new(SystemClock)).await?;
    let listener =
        tokio::net::TcpListener::bind(&address).await.with_context(|| format!("cannot listen on {address}"))?;
    // Tests and scripts read these two lines to find the ports (port 0 picks free ones).
    println!("listening on {}", listener.local_addr()?);
    if let Some((terminal_listener, _)) = &terminals {
        println!("terminal host on {}", terminal_listener.local_addr()?);
    }
    gateway::run_with_terminals(listener, terminals, app, shutdown_signal()).await?;
    Ok(())
}

async fn audit_verify(config_path: PathBuf) -> anyhow::Result<()> {
    let config = pos_config::load(&config_path)?;
    let journal = gateway::journal::Journal::connect_existing(&config.database)
        .await
        .context("the journal must already exist")?;
    let verification = gateway::journal::audit::verify(&journal).await?;
    match verification.problem {
        None => {
            println!(
                "audit log intact: {} records in {} keyed chain(s), checked against {} anchor(s) in {}",
                verification.records,
                verification.chains,
                verification.anchors,
                journal.audit_settings().anchor_file.display()
            );
            Ok(())
        }
        Some(problem) => anyhow::bail!("audit log broken after {} good records: {problem}", verification.records),
    }
}

async fn backup(config_path: PathBuf, to: PathBuf) -> anyhow::Result<()> {
    let config = pos_config::load(&config_path)?;
    let journal = gateway::journal::Journal::connect_existing(&config.database)
        .await
        .context("the journal must already exist")?;
    let report = journal.backup_to(&to).await?;
    journal.close().await;
    println!("backup written: {} ({} bytes, integrity ok)", report.path.display(), report.bytes);
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
