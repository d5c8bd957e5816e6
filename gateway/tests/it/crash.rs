//! Nothing lost, nothing twice: SIGKILL the real gateway in the middle of a burst of cash sales,
//! restart it on the same journal, and check every acknowledged sale is there exactly once and
//! every register's receipt numbers run without a gap or a repeat.

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pos_config::Backend;
use pos_core::api::{PaymentResult, SaleView, ShiftView};
use serde_json::json;
use sqlx::Row;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::{key, token, until, write_config, TestDatabase, TestPki};

/// Registers worked concurrently during the burst, with their clerks.
const REGISTERS: [(&str, &str, &str); 6] = [
    ("R0101", "clerk-r0101", "JUMINHYO"),
    ("R0102", "clerk-r0102", "INKAN"),
    ("R0103", "clerk-r0103", "KOSEKI-ZENBU"),
    ("R0301", "clerk-r0301", "JUMINHYO"),
    ("R0201", "clerk-r0201", "HYOKA"),
    ("R2101", "clerk-r2101", "GYM-IPPAN"),
];
/// Acknowledged payments after which the gateway is killed.
const KILL_AFTER_ACKS: usize = 60;
/// The bound on any wait for the gateway.
const WAIT_MS_MAX: u64 = 30_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_nothing_and_doubles_nothing_on_sqlite() {
    sigkill_mid_burst(Backend::Sqlite, Kill::AfterAcks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_nothing_and_doubles_nothing_on_postgres() {
    sigkill_mid_burst(Backend::Postgres, Kill::AfterAcks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn death_between_group_commit_and_answers_loses_nothing_on_sqlite() {
    sigkill_mid_burst(Backend::Sqlite, Kill::AfterGroupCommit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn death_between_group_commit_and_answers_loses_nothing_on_postgres() {
    sigkill_mid_burst(Backend::Postgres, Kill::AfterGroupCommit).await;
}

/// Group commits holding requests after which the gateway dies by itself, between the fsync of
/// the last one and its answers (`GATEWAY_TEST_ABORT_AFTER_GROUP_COMMITS`).
const DIE_AFTER_GROUP_COMMITS: usize = 60;

/// How the burst ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kill {
    /// SIGKILL from outside once enough payments were acknowledged.
    AfterAcks,
    /// The gateway aborts itself right after a group commit, before answering any of its members.
    AfterGroupCommit,
}

pub struct Gateway {
    pub child: Child,
    pub base: String,
    pub terminal_host: String,
}

/// Starts the real `gateway` binary on `config` (see `support::write_config`) and the test's
/// database, and reads the addresses it announces.
pub async fn start_gateway_with(config: &std::path::Path, database: &TestDatabase) -> Gateway {
    start_gateway_logging(config, database, "error", None).await
}

/// As [`start_gateway_with`], logging at `level`; with `log`, everything the gateway writes to
/// standard error (its log) is collected there.
pub async fn start_gateway_logging(
    config: &std::path::Path,
    database: &TestDatabase,
    level: &str,
    log: Option<Arc<std::sync::Mutex<Vec<u8>>>>,
) -> Gateway {
    start_gateway_env(config, database, level, log, &[]).await
}

/// As [`start_gateway_logging`], with more environment for the gateway.
pub async fn start_gateway_env(
    config: &std::path::Path,
    database: &TestDatabase,
    level: &str,
    log: Option<Arc<std::sync::Mutex<Vec<u8>>>>,
    env: &[(&str, String)],
) -> Gateway {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["serve", "--config"])
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .env("POS_DATABASE_URL", &database.url)
        .env("RUST_LOG", level)
        .stdout(Stdio::piped())
        .stderr(if log.is_some() { Stdio::piped() } else { Stdio::inherit() })
        .kill_on_drop(true)
        .spawn()
        .expect("gateway binary starts");
    if let (Some(log), Some(mut stderr)) = (log, child.stderr.take()) {
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut buffer = [0u8; 8192];
            while let Ok(read) = stderr.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
                log.lock().expect("log buffer").extend_from_slice(&buffer[..read]);
            }
        });
    }
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_millis(WAIT_MS_MAX), lines.next_line())
        .await
        .expect("gateway announces its address in time")
        .expect("read")
        .expect("a line");
    let address =
        first.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {first:?}")).to_string();
    let second = tokio::time::timeout(Duration::from_millis(WAIT_MS_MAX), lines.next_line())
        .await
        .expect("terminal host announced in time")
        .expect("read")
        .expect("a line");
    let terminal_host = second
        .strip_prefix("terminal host on ")
        .unwrap_or_else(|| panic!("unexpected second line {second:?}"))
        .to_string();
    Gateway { child, base: format!("http://{address}"), terminal_host }
}

/// What a worker saw for one sale.
#[derive(Debug, Clone)]
struct Attempt {
    register: &'static str,
    sale_key: String,
    pay_key: String,
    sale_body: serde_json::Value,
    sale_id: Option<String>,
    /// The receipt number the gateway acknowledged with 2xx, if it did.
    acknowledged_receipt: Option<i64>,
}

pub async fn post(
    http: &reqwest::Client,
    url: String,
    user: &str,
    idempotency_key: &str,
    body: &serde_json::Value,
) -> Result<(u16, String), reqwest::Error> {
    let response =
        http.post(url).bearer_auth(token(user)).header("Idempotency-Key", idempotency_key).json(body).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

async fn sigkill_mid_burst(backend: Backend, kill: Kill) {
    let database = TestDatabase::new(backend).await;
    let pki = TestPki::new();
    let config_dir = tempfile::tempdir().expect("temp dir");
    // No acquirer runs here: the links keep retrying quietly while cash is taken.
    let config = write_config(config_dir.path(), &pki, &["127.0.0.1:9".to_string()], &["127.0.0.1:9".to_string()]);
    let env = match kill {
        Kill::AfterAcks => Vec::new(),
        Kill::AfterGroupCommit => vec![(
            gateway::journal::writer::ABORT_AFTER_GROUP_COMMITS_ENV,
            (DIE_AFTER_GROUP_COMMITS + REGISTERS.len()).to_string(),
        )],
    };
    let mut gateway = start_gateway_env(&config, &database, "error", None, &env).await;
    let http = reqwest::Client::builder().timeout(Duration::from_millis(WAIT_MS_MAX)).build().expect("client");
    for (register, clerk, _) in REGISTERS {
        let (status, text) = post(
            &http,
            format!("{}/v1/shifts", gateway.base),
            clerk,
            &key(),
            &json!({ "register_id": register, "opening_float": 10_000 }),
        )
        .await
        .expect("open shift");
        assert_eq!(status, 201, "{text}");
        let _: ShiftView = serde_json::from_str(&text).expect("shift");
    }

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for (register, clerk, item) in REGISTERS {
        let (http, base, acknowledged) = (http.clone(), gateway.base.clone(), acknowledged.clone());
        workers.push(tokio::spawn(async move {
            let mut attempts = Vec::new();
            loop {
                let mut attempt = Attempt {
                    register,
                    sale_key: key(),
                    pay_key: key(),
                    sale_body: json!({ "register_id": register, "lines": [{ "fee_item": item, "quantity": 1 }] }),
                    sale_id: None,
                    acknowledged_receipt: None,
                };
                let created =
                    post(&http, format!("{base}/v1/sales"), clerk, &attempt.sale_key, &attempt.sale_body).await;
                let Ok((201, text)) = created else {
                    attempts.push(attempt);
                    break;
                };
                let sale: SaleView = serde_json::from_str(&text).expect("sale");
                attempt.sale_id = Some(sale.id.clone());
                let paid = post(
                    &http,
                    format!("{base}/v1/sales/{}/payments", sale.id),
                    clerk,
                    &attempt.pay_key,
                    &json!({ "method": "cash", "tendered": 1_000 }),
                )
                .await;
                match paid {
                    Ok((201, text)) => {
                        let result: PaymentResult = serde_json::from_str(&text).expect("payment");
                        attempt.acknowledged_receipt = result.sale.receipt.map(|r| r.number);
                        acknowledged.fetch_add(1, Ordering::SeqCst);
                        attempts.push(attempt);
                    }
                    _ => {
                        attempts.push(attempt);
                        break;
                    }
                }
            }
            attempts
        }));
    }

    match kill {
        Kill::AfterAcks => {
            until("the burst to reach its payments before the kill", Duration::from_millis(WAIT_MS_MAX), || async {
                (acknowledged.load(Ordering::SeqCst) >= KILL_AFTER_ACKS).then_some(())
            })
            .await;
            let pid = nix::unistd::Pid::from_raw(i32::try_from(gateway.child.id().expect("running")).expect("pid"));
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
            gateway.child.wait().await.expect("reaped");
        }
        Kill::AfterGroupCommit => {
            let status = tokio::time::timeout(Duration::from_millis(WAIT_MS_MAX), gateway.child.wait())
                .await
                .expect("the gateway dies after its group commits")
                .expect("reaped");
            assert!(!status.success(), "the gateway aborted: {status:?}");
        }
    }

    let mut attempts = Vec::new();
    for worker in workers {
        attempts.extend(worker.await.expect("worker"));
    }
    let acked: Vec<&Attempt> = attempts.iter().filter(|a| a.acknowledged_receipt.is_some()).collect();
    assert!(acked.len() >= if kill == Kill::AfterAcks { KILL_AFTER_ACKS } else { 1 });
    let unknown: Vec<Attempt> = attempts.iter().filter(|a| a.acknowledged_receipt.is_none()).cloned().collect();
    assert!(!unknown.is_empty(), "the kill must interrupt requests in flight");

    // Restart on the same journal; the clerks retry what they did not see answered, with the same keys.
    let gateway = start_gateway_with(&config, &database).await;
    let mut retried_receipts = Vec::new();
    let mut replayed = 0;
    for attempt in &unknown {
        let clerk = REGISTERS.iter().find(|(r, _, _)| *r == attempt.register).map(|(_, c, _)| *c).expect("clerk");
        let response = http
            .post(format!("{}/v1/sales", gateway.base))
            .bearer_auth(token(clerk))
            .header("Idempotency-Key", &attempt.sale_key)
            .json(&attempt.sale_body)
            .send()
            .await
            .expect("retry sale");
        replayed += usize::from(response.headers().contains_key(gateway::api::idempotency::REPLAYED_HEADER));
        let (status, text) = (response.status().as_u16(), response.text().await.expect("body"));
        assert_eq!(status, 201, "{text}");
        let sale: SaleView = serde_json::from_str(&text).expect("sale");
        if let Some(seen) = &attempt.sale_id {
            assert_eq!(seen, &sale.id, "a retried sale must be the same sale");
        }
        let response = http
            .post(format!("{}/v1/sales/{}/payments", gateway.base, sale.id))
            .bearer_auth(token(clerk))
            .header("Idempotency-Key", &attempt.pay_key)
            .json(&json!({ "method": "cash", "tendered": 1_000 }))
            .send()
            .await
            .expect("retry payment");
        replayed += usize::from(response.headers().contains_key(gateway::api::idempotency::REPLAYED_HEADER));
        let (status, text) = (response.status().as_u16(), response.text().await.expect("body"));
        assert_eq!(status, 201, "{text}");
        let result: PaymentResult = serde_json::from_str(&text).expect("payment");
        retried_receipts.push((attempt.register, result.sale.receipt.expect("receipt").number));
    }
    if kill == Kill::AfterGroupCommit {
        // The last group was durable and nobody heard of it: its requests come back as replays.
        assert!(replayed >= 1, "the requests of the last group commit are replayed by their keys");
    }

    // The journal, read directly.
    let journal = gateway::journal::Journal::connect(&database.database_config()).await.expect("journal");
    let mut conn = journal.read().await.expect("conn");
    let rows = sqlx::query("SELECT s.id, s.register_id, s.receipt_number, (SELECT CAST(COUNT(*) AS BIGINT) FROM payments p WHERE p.sale_id = s.id) AS payments FROM sales s WHERE s.state = 'paid'")
        .fetch_all(&mut *conn)
        .await
        .expect("sales");
    let mut by_id: HashMap<String, (String, i64, i64)> = HashMap::new();
    for row in &rows {
        by_id.insert(row.get("id"), (row.get("register_id"), row.get("receipt_number"), row.get("payments")));
    }
    for attempt in &acked {
        let (register, number, payments) =
            by_id.get(attempt.sale_id.as_ref().expect("id")).expect("an acknowledged sale is in the journal");
        assert_eq!(register, attempt.register);
        assert_eq!(Some(*number), attempt.acknowledged_receipt, "the journal's receipt number is the one acknowledged");
        assert_eq!(*payments, 1, "exactly one payment per sale");
    }
    assert_eq!(
        rows.len(),
        acked.len() + unknown.len(),
        "every sale paid exactly once: acknowledged ones plus retried ones"
    );
    let mut numbers: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (register, number, _) in by_id.values() {
        numbers.entry(register.clone()).or_default().push(*number);
    }
    for (register, mut series) in numbers {
        series.sort_unstable();
        let expected: Vec<i64> = (1..=i64::try_from(series.len()).expect("len")).collect();
        assert_eq!(series, expected, "receipt numbers of {register} must run 1..n without gaps or repeats");
    }
    drop(conn);
    // The audit chain survived the death: every change's record was in the change's transaction.
    let verification = gateway::journal::audit::verify(&journal).await.expect("verify");
    assert!(verification.is_intact(), "{verification:?}");
    journal.close().await;
    drop(gateway);
}

/// Registers with terminals worked concurrently in the authorization crash test.
const CARD_REGISTERS: [(&str, &str, &str, &str); 6] = [
    ("R0101", "clerk-r0101", "10010101", "JUMINHYO"),
    ("R0102", "clerk-r0102", "10010102", "INKAN"),
    ("R0103", "clerk-r0103", "10010103", "KOSEKI-ZENBU"),
    ("R0301", "clerk-r0301", "10010301", "JUMINHYO"),
    ("R0201", "clerk-r0201", "10010201", "HYOKA"),
    ("R2101", "clerk-r2101", "10012101", "GYM-IPPAN"),
];
/// Approvals after which the gateway is killed.
const KILL_AFTER_APPROVALS: usize = 12;
/// How long the simulated acquirer sits on each purchase, so the kill lands mid-authorization.
const ACQUIRER_DELAY_MS: u64 = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_authorizations_leaves_journal_and_acquirer_agreeing_on_sqlite() {
    sigkill_during_authorizations(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_authorizations_leaves_journal_and_acquirer_agreeing_on_postgres() {
    sigkill_during_authorizations(Backend::Postgres).await;
}

pub fn terminal_client(address: &str, pki: &TestPki) -> demo::terminals::TerminalFleet {
    pki.terminals(address)
}

pub async fn treasury_payments(http: &reqwest::Client, base: &str, state: &str) -> Vec<pos_core::api::PaymentView> {
    let response = http
        .get(format!("{base}/v1/payments?state={state}"))
        .bearer_auth(token("treasury"))
        .send()
        .await
        .expect("list payments");
    let list: pos_core::api::PaymentList = response.json().await.expect("payment list");
    list.payments
}

async fn sigkill_during_authorizations(backend: Backend) {
    use acquirer_sim::{Centre, EntryState, Fault, FaultPlan, MessageKind};
    let database = TestDatabase::new(backend).await;
    let pki = TestPki::new();
    let base_config = crate::support::offline_config();
    let card = crate::switch_rig::simulator(&pki, Centre::Card, &base_config, 10).await;
    let emoney = crate::switch_rig::simulator(&pki, Centre::Emoney, &base_config, 20).await;
    card.set_faults(vec![FaultPlan {
        fault: Fault::Delay { ms: ACQUIRER_DELAY_MS },
        applies_to: MessageKind::Purchase,
        times: None,
    }]);
    let config_dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(config_dir.path(), &pki, &[card.address().to_string()], &[emoney.address().to_string()]);
    let mut gateway = start_gateway_with(&config, &database).await;
    let http = reqwest::Client::builder().timeout(Duration::from_millis(WAIT_MS_MAX)).build().expect("client");
    for (register, clerk, _, _) in CARD_REGISTERS {
        let (status, text) = post(
            &http,
            format!("{}/v1/shifts", gateway.base),
            clerk,
            &key(),
            &json!({ "register_id": register, "opening_float": 0 }),
        )
        .await
        .expect("open shift");
        assert_eq!(status, 201, "{text}");
    }
    let terminal = Arc::new(terminal_client(&gateway.terminal_host, &pki));
    for (_, _, terminal_id, _) in CARD_REGISTERS {
        assert!(terminal.wait_connected(terminal_id, Duration::from_secs(5)).await, "terminal {terminal_id} connects");
    }

    let approvals = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for (index, (register, clerk, terminal_id, item)) in CARD_REGISTERS.into_iter().enumerate() {
        let (http, base, terminal, approvals, answered) =
            (http.clone(), gateway.base.clone(), terminal.clone(), approvals.clone(), answered.clone());
        workers.push(tokio::spawn(async move {
            // (payment id, what the terminal was told: Some(code) or None when it heard nothing)
            let mut seen: Vec<(String, Option<String>)> = Vec::new();
            for round in 0u32.. {
                let sale_body = json!({ "register_id": register, "lines": [{ "fee_item": item, "quantity": 1 }] });
                let Ok((201, text)) = post(&http, format!("{base}/v1/sales"), clerk, &key(), &sale_body).await else {
                    break;
                };
                let sale: SaleView = serde_json::from_str(&text).expect("sale");
                let Ok((201, text)) = post(
                    &http,
                    format!("{base}/v1/sales/{}/payments", sale.id),
                    clerk,
                    &key(),
                    &json!({ "method": "card" }),
                )
                .await
                else {
                    break;
                };
                let started: PaymentResult = serde_json::from_str(&text).expect("payment");
                let stan = u32::try_from(index).expect("index") * 10_000 + round + 1;
                let request =
                    crate::switch_rig::purchase(terminal_id, stan, sale.amount_total.get(), pos_core::Brand::Visa);
                match terminal.request(&request, Duration::from_secs(10)).await {
                    Ok(answer) => {
                        let code = answer.text(iso8583::fields::RESPONSE_CODE).unwrap_or("").to_string();
                        if code == "00" {
                            approvals.fetch_add(1, Ordering::SeqCst);
                        }
                        answered.fetch_add(1, Ordering::SeqCst);
                        seen.push((started.payment.id, Some(code)));
                    }
                    Err(_) => {
                        seen.push((started.payment.id, None));
                        break;
                    }
                }
            }
            seen
        }));
    }
    // Kill once enough approvals went through and, at that moment, an authorization sits at the
    // acquirer unanswered (it holds each one ACQUIRER_DELAY_MS).
    until("approvals and an authorization in flight before the kill", Duration::from_millis(WAIT_MS_MAX), || async {
        let purchases_at_acquirer = card.received().iter().filter(|r| r.mti == iso8583::Mti::FINANCIAL_REQUEST).count();
        (approvals.load(Ordering::SeqCst) >= KILL_AFTER_APPROVALS
            && purchases_at_acquirer > answered.load(Ordering::SeqCst))
        .then_some(())
    })
    .await;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(gateway.child.id().expect("running")).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
    gateway.child.wait().await.expect("reaped");
    let mut seen = Vec::new();
    for worker in workers {
        seen.extend(worker.await.expect("worker"));
    }
    terminal.shutdown();
    assert!(seen.iter().any(|(_, told)| told.is_none()), "the kill must interrupt authorizations in flight: {seen:?}");

    // Restart; the gateway finds what was left authorizing and reverses it.
    let gateway = start_gateway_with(&config, &database).await;
    until("nothing authorizing or in doubt after the restart", Duration::from_millis(WAIT_MS_MAX * 2), || async {
        let authorizing = treasury_payments(&http, &gateway.base, "authorizing").await;
        let in_doubt = treasury_payments(&http, &gateway.base, "in_doubt").await;
        (authorizing.is_empty() && in_doubt.is_empty()).then_some(())
    })
    .await;

    let completed = treasury_payments(&http, &gateway.base, "completed").await;
    let reversed = treasury_payments(&http, &gateway.base, "reversed").await;
    // What the terminals were told approved is completed in the journal.
    for (payment, told) in &seen {
        if told.as_deref() == Some("00") {
            assert!(
                completed.iter().any(|p| &p.id == payment),
                "payment {payment} was approved at the terminal but is not completed"
            );
        }
    }
    // The acquirer's ledger and the journal agree: every approval standing at the acquirer is a
    // completed payment (same RRN), every in-doubt one was reversed there, nothing twice.
    let ledger = card.ledger();
    let standing: std::collections::BTreeSet<String> =
        ledger.iter().filter(|e| e.state == EntryState::Approved).map(|e| e.rrn.clone()).collect();
    let journal_rrns: std::collections::BTreeSet<String> = completed.iter().filter_map(|p| p.rrn.clone()).collect();
    assert_eq!(completed.len(), journal_rrns.len(), "every completed card payment has its own RRN");
    assert_eq!(standing, journal_rrns, "approved at the acquirer exactly when completed in the journal");
    let standing_amount: i64 = ledger.iter().filter(|e| e.state == EntryState::Approved).map(|e| e.amount.get()).sum();
    let journal_amount: i64 = completed.iter().map(|p| p.amount.get()).sum();
    assert_eq!(standing_amount, journal_amount);
    assert!(!reversed.is_empty(), "the interrupted authorizations were reversed");
    // A request journaled as authorizing may have died before it reached the acquirer; its
    // reversal then finds nothing there. So the acquirer reversed at most what the journal did.
    let reversed_there = ledger.iter().filter(|e| e.state == EntryState::Reversed).count();
    assert!(
        reversed_there <= reversed.len(),
        "{reversed_there} reversed at the acquirer, {} in the journal",
        reversed.len()
    );
    let mut sales_paid = std::collections::HashMap::new();
    for payment in &completed {
        *sales_paid.entry(payment.sale_id.clone()).or_insert(0) += 1;
    }
    assert!(sales_paid.values().all(|n| *n == 1), "no sale is charged twice");
    drop(gateway);
    card.shutdown().await;
    emoney.shutdown().await;
}
