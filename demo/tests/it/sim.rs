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

/// Regression (found by `pos-sim` on PostgreSQL): a listing read each sale's payments in a
/// statement of its own, so a void committing in between showed a paid sale whose payment was
/// voided. Sales are voided while treasury lists them; every listing must be one moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_listing_is_one_snapshot_while_sales_are_voided_on_postgres() {
    use pos_core::api::SaleList;
    use std::sync::Arc;
    const SALES: usize = 40;
    let database = demo::rig::FreshDatabase::new(Backend::Postgres, 8).await.expect("PostgreSQL");
    let mut config = pos_config::load(&options(Backend::Postgres).config).expect("the example city");
    config.database = database.config.clone();
    for acquirer in &mut config.acquirers {
        acquirer.link = None;
    }
    config.terminal_host = None;
    let tls = tempfile::tempdir().expect("temp dir");
    let rig = demo::rig::Rig::start(demo::rig::RigOptions::gateway_only(
        config,
        Arc::new(pos_core::SystemClock),
        tls.path().to_path_buf(),
    ))
    .await
    .expect("the rig starts");
    let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build().expect("client");
    let (client, base) = (http.clone(), rig.base.clone());
    let post = move |path: String, body: serde_json::Value| {
        let (http, base) = (client.clone(), base.clone());
        async move {
            let response = http
                .post(format!("{base}{path}"))
                .bearer_auth("demo-clerk-r0101")
                .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                .json(&body)
                .send()
                .await
                .expect("answered");
            assert!(response.status().is_success(), "{path}: {}", response.status());
            response.json::<serde_json::Value>().await.expect("JSON")
        }
    };
    post("/v1/shifts".into(), serde_json::json!({ "register_id": "R0101", "opening_float": 10000 })).await;
    let mut sale_ids = Vec::new();
    for _ in 0..SALES {
        let sale = post(
            "/v1/sales".into(),
            serde_json::json!({ "register_id": "R0101", "lines": [{ "fee_item": "JUMINHYO", "quantity": 1 }] }),
        )
        .await;
        let id = sale["id"].as_str().expect("id").to_string();
        post(format!("/v1/sales/{id}/payments"), serde_json::json!({ "method": "cash", "tendered": 1000 })).await;
        sale_ids.push(id);
    }
    let voids = {
        let post = post.clone();
        tokio::spawn(async move {
            for id in sale_ids {
                post(format!("/v1/sales/{id}/void"), serde_json::json!({ "reason": "keyed the wrong item" })).await;
            }
        })
    };
    let mut listings = 0;
    while !voids.is_finished() {
        let list: SaleList = http
            .get(format!("{}/v1/sales?register_id=R0101&limit=1000", rig.base))
            .bearer_auth("demo-treasury")
            .send()
            .await
            .expect("answered")
            .json()
            .await
            .expect("a sale list");
        for sale in &list.sales {
            let held: i64 = sale.payments.iter().filter(|p| p.state.holds_money()).map(|p| p.amount.get()).sum();
            let paid = sale.state == pos_core::SaleState::Paid;
            assert_eq!(
                paid,
                held == sale.amount_total.get(),
                "listing {listings}: sale {} is {} holding {held}: {:?}",
                sale.id,
                sale.state,
                sale.payments.iter().map(|p| p.state).collect::<Vec<_>>()
            );
        }
        listings += 1;
    }
    voids.await.expect("the voids");
    assert!(listings > 0, "treasury listed the sales while they were voided");
}
