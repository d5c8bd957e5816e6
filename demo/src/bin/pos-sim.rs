//! `pos-sim`: seeded whole-system simulation days (see `demo::sim`). Exits non-zero when any seed
//! breaks an invariant, after printing the seed, the invariant and the events that led to it.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "pos-sim", version = pos_build_info::VERSION, about = "Seeded business days under faults and gateway kills, with their invariants checked")]
struct Cli {
    #[command(flatten)]
    options: demo::sim::SimOptions,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| "off".into()))
        .with_writer(std::io::stderr)
        .init();
    let (total, failed) = demo::sim::run(&cli.options).await?;
    println!("{}", demo::sim::summary(&total, &failed));
    anyhow::ensure!(failed.is_empty(), "{} seed(s) broke an invariant: {failed:?}", failed.len());
    Ok(())
}
