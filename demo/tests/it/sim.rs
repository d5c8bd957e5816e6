//! `pos-sim` bounded for CI: a few seeded days per backend, each under the faults its seed plants
//! and the gateway killed and restarted at its seed's points, every invariant checked after each
//! restart and at the end of the day. The long runs are in RELIABILITY.md.

use demo::sim::{run_seed, SimOptions};
use pos_config::Backend;

/// Seeds per backend in CI, and what each plays.
const CI_SEEDS: [u64; 3] = [1, 2, 3];
const CI_KILLS_PER_SEED: usize = 3;

fn options(backend: Backend) -> SimOptions {
    SimOptions {
        config: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/city.toml"),
        backend,
        seed: CI_SEEDS[0],
        seeds: CI_SEEDS.len() as u64,
        kills: CI_KILLS_PER_SEED * CI_SEEDS.len(),
        counters: 3,
        sales: 6,
        faults: 8,
        verbose: false,
    }
}

async fn seeded_days(backend: Backend) {
    let options = options(backend);
    let config = pos_config::load(&options.config).expect("the example city");
    for (index, seed) in CI_SEEDS.into_iter().enumerate() {
        let shape = options.shape(options.kills_of(index as u64));
        let outcome = run_seed(&config, backend, seed, shape, false).await;
        if let Some((violation, events)) = &outcome.violation {
            panic!("seed {seed} on {backend:?}: {violation}\n{}", events.join("\n"));
        }
        let tally = &outcome.tally;
        assert_eq!(tally.kills, CI_KILLS_PER_SEED as u64, "seed {seed}: every planned kill happened");
        assert_eq!(tally.sales, 18, "seed {seed}: every sale was rung up");
        assert!(tally.acknowledged > 0 && tally.checks > CI_KILLS_PER_SEED as u64, "seed {seed}: {tally:?}");
        assert!(!tally.faults.is_empty(), "seed {seed}: faults were planted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_days_under_faults_and_kills_keep_every_invariant_on_sqlite() {
    seeded_days(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_days_under_faults_and_kills_keep_every_invariant_on_postgres() {
    seeded_days(Backend::Postgres).await;
}
