//! The `demo` binary: the simulated business day, and the benchmark.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "demo", version = pos_build_info::VERSION, about = "The example city's business day, and the benchmark")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Play a simulated business day across all facilities through the HTTP API.
    Demo(demo::day::DemoOptions),
    /// Measure card authorizations per second through HTTP API → terminal host → acquirer
    /// simulator, and the latency the gateway adds over the simulator alone.
    Bench(demo::bench::BenchOptions),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "gateway=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Demo(options) => demo::day::run(options).await.map(|_| ()),
        Command::Bench(options) => demo::bench::run(options).await.map(|_| ()),
    }
}
