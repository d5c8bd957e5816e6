//! Several gateway nodes on one PostgreSQL: two real `gateway` processes on one database, the
//! terminals connected to node A and the clerks working on node B. Each payment is taken once,
//! receipt numbers run without a gap across the nodes, each node writes its own audit chain, and
//! when node A dies in the middle of an authorization node B's worker resolves it.

use std::collections::BTreeMap;
use std::time::Duration;

use pos_config::Backend;
use pos_core::api::{PaymentResult, SaleView};
use serde_json::json;
use sqlx::{Connection, Row};

use crate::crash::{post, start_gateway_with, terminal_client, treasury_payments};
use crate::support::{key, write_config, TestDatabase, TestPki};

/// Registers worked, with their clerks, terminals and what they sell.
const REGISTERS: [(&str, &str, &str, &str); 2] =
    [("R0101", "clerk-r0101", "10010101", "JUMINHYO"), ("R0102", "clerk-r0102", "10010102", "INKAN")];
/// Payments per register in the first part.
const ROUNDS: u32 = 4;
/// How long the acquirer sits on a purchase in the second part, so node A dies mid-authorization.
const ACQUIRER_DELAY_MS: u64 = 1_500;
/// The bound on any wait.
const WAIT_MS_MAX: u64 = 30_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_take_each_payment_once_and_resolve_each_others_crash() {
    use acquirer_sim::{Centre, EntryState, Fault, FaultPlan, MessageKind};
    let database = TestDatabase::new(Backend::Postgres).await;
    let pki = TestPki::new();
    let base_config = crate::support::offline_config();
    let card = crate::switch_rig::simulator(&pki, Centre::Card, &base_config, 10).await;
    let emoney = crate::switch_rig::simulator(&pki, Centre::Emoney, &base_config, 20).await;
    let config_dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(config_dir.path(), &pki, &[card.address().to_string()], &[emoney.address().to_string()]);
    let mut node_a = start_gateway_with(&config, &database).await;
    let node_b = start_gateway_with(&config, &database).await;
    let http = reqwest::Client::builder().timeout(Duration::from_millis(WAIT_MS_MAX)).build().expect("client");
    for (register, clerk, _, _) in REGISTERS {
        let opened = post(
            &http,
            format!("{}/v1/shifts", node_b.base),
            clerk,
            &key(),
            &json!({ "register_id": register, "opening_float": 0 }),
        )
        .await
        .expect("open shift");
        assert_eq!(opened.0, 201, "{}", opened.1);
    }
    let terminal = terminal_client(&node_a.terminal_host, &pki);
    for (_, _, terminal_id, _) in REGISTERS {
        assert!(
            terminal.wait_connected(terminal_id, Duration::from_secs(5)).await,
            "terminal {terminal_id} connects to node A"
        );
    }

    // Sales rung up on either node, every payment started on node B, every card read by a
    // terminal on node A.
    let mut stan = 0u32;
    let mut paid = Vec::new();
    for round in 0..ROUNDS {
        for (register, clerk, terminal_id, item) in REGISTERS {
            let sale_node = if round % 2 == 0 { &node_a.base } else { &node_b.base };
            let sale_body = json!({ "register_id": register, "lines": [{ "fee_item": item, "quantity": 1 }] });
            let (status, text) =
                post(&http, format!("{sale_node}/v1/sales"), clerk, &key(), &sale_body).await.expect("sale");
            assert_eq!(status, 201, "{text}");
            let sale: SaleView = serde_json::from_str(&text).expect("sale");
            let (status, text) = post(
                &http,
                format!("{}/v1/sales/{}/payments", node_b.base, sale.id),
                clerk,
                &key(),
                &json!({ "method": "card" }),
            )
            .await
            .expect("payment");
            assert_eq!(status, 201, "{text}");
            let started: PaymentResult = serde_json::from_str(&text).expect("payment");
            stan += 1;
            let request =
                crate::switch_rig::purchase(terminal_id, stan, sale.amount_total.get(), pos_core::Brand::Visa);
            let answer =
                terminal.request(&request, Duration::from_secs(10)).await.expect("node A answers the terminal");
            assert_eq!(answer.text(iso8583::fields::RESPONSE_CODE), Some("00"));
            paid.push(started.payment.id);
        }
    }
    let completed_a = treasury_payments(&http, &node_a.base, "completed").await;
    let completed_b = treasury_payments(&http, &node_b.base, "completed").await;
    let ids = |list: &[pos_core::api::PaymentView]| {
        let mut ids: Vec<String> = list.iter().map(|p| p.id.clone()).collect();
        ids.sort();
        ids
    };
    paid.sort();
    assert_eq!(ids(&completed_a), paid, "node A sees every payment completed once");
    assert_eq!(ids(&completed_b), paid, "node B sees the same");
    let approved = card.ledger().iter().filter(|e| e.state == EntryState::Approved).count();
    assert_eq!(approved, paid.len(), "the acquirer approved each payment once");

    // Receipt numbers: gapless per register although the sales were paid through both nodes.
    let mut conn = sqlx::PgConnection::connect(&database.url).await.expect("connect");
    let mut numbers: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for row in sqlx::query("SELECT register_id, receipt_number FROM sales WHERE state = 'paid'")
        .fetch_all(&mut conn)
        .await
        .expect("sales")
    {
        numbers.entry(row.get("register_id")).or_default().push(row.get("receipt_number"));
    }
    for (register, mut series) in numbers {
        series.sort_unstable();
        let expected: Vec<i64> = (1..=i64::from(ROUNDS)).collect();
        assert_eq!(series, expected, "receipt numbers of {register} run 1..n across the nodes");
    }

    // Node A dies while the acquirer sits on an authorization it forwarded; node B's worker finds
    // it abandoned and resolves it (in doubt, reversed), once.
    card.set_faults(vec![FaultPlan {
        fault: Fault::Delay { ms: ACQUIRER_DELAY_MS },
        applies_to: MessageKind::Purchase,
        times: None,
    }]);
    let (register, clerk, terminal_id, item) = REGISTERS[0];
    let sale_body = json!({ "register_id": register, "lines": [{ "fee_item": item, "quantity": 1 }] });
    let (_, text) = post(&http, format!("{}/v1/sales", node_b.base), clerk, &key(), &sale_body).await.expect("sale");
    let sale: SaleView = serde_json::from_str(&text).expect("sale");
    let (_, text) = post(
        &http,
        format!("{}/v1/sales/{}/payments", node_b.base, sale.id),
        clerk,
        &key(),
        &json!({ "method": "card" }),
    )
    .await
    .expect("payment");
    let interrupted: PaymentResult = serde_json::from_str(&text).expect("payment");
    let purchases_before = card.received().iter().filter(|r| r.mti == iso8583::Mti::FINANCIAL_REQUEST).count();
    let request = crate::switch_rig::purchase(terminal_id, stan + 1, sale.amount_total.get(), pos_core::Brand::Visa);
    let in_flight = tokio::spawn(async move { terminal.request(&request, Duration::from_secs(10)).await.is_ok() });
    crate::support::until(
        "node A's authorization to reach the acquirer",
        Duration::from_millis(WAIT_MS_MAX),
        || async {
            (card.received().iter().filter(|r| r.mti == iso8583::Mti::FINANCIAL_REQUEST).count() > purchases_before)
                .then_some(())
        },
    )
    .await;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(node_a.child.id().expect("running")).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
    node_a.child.wait().await.expect("reaped");
    assert!(!in_flight.await.expect("terminal task"), "the terminal heard nothing from the dead node");

    let resolved = crate::support::until(
        "node B resolves node A's abandoned authorization",
        Duration::from_millis(WAIT_MS_MAX * 2),
        || async {
            let reversed = treasury_payments(&http, &node_b.base, "reversed").await;
            reversed.into_iter().find(|p| p.id == interrupted.payment.id)
        },
    )
    .await;
    assert_eq!(resolved.sale_id, sale.id);
    let completed = treasury_payments(&http, &node_b.base, "completed").await;
    assert!(completed.iter().all(|p| p.id != interrupted.payment.id), "never both reversed and completed");
    let ledger = card.ledger();
    assert!(
        ledger.iter().filter(|e| e.state == EntryState::Reversed).count() <= 1,
        "reversed at most once at the acquirer"
    );
    assert_eq!(
        ledger.iter().filter(|e| e.state == EntryState::Approved).count(),
        paid.len(),
        "no other approval disturbed"
    );

    // Each node wrote its own audit chain; both verify with the key and against the anchors.
    let journal = gateway::journal::Journal::connect(&database.database_config()).await.expect("journal");
    let verification = gateway::journal::audit::verify(&journal).await.expect("verify");
    assert!(verification.is_intact(), "{verification:?}");
    assert!(verification.chains >= 2, "one chain per node: {verification:?}");
    journal.close().await;
    drop(conn);
    drop(node_b);
    card.shutdown().await;
    emoney.shutdown().await;
}
