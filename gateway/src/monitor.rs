//! The gauges the operators' alerts need, sampled in the background (`deploy/prometheus/alerts.yml`).
//!
//! Counters that the request paths increment (`reversals_total`, `audit_write_failures_total`, …)
//! say what happened in this process; what the journal and the links *are* is sampled here every
//! [`SAMPLE_INTERVAL_MS`]: payments in doubt and how long the oldest has been, reversals pending and
//! given up, each acquirer link up or down, the expiry of every certificate the configuration names,
//! and — every [`AUDIT_VERIFY_INTERVAL_MS`] — whether the audit chain still verifies. With several
//! nodes on one PostgreSQL journal every node reports the same journal figures; the alert rules
//! take the maximum (or minimum) over nodes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::Row;
use tokio::sync::watch;

use crate::journal::{audit, parse_instant, JournalError};
use crate::AppState;

/// How often the gauges are sampled.
pub const SAMPLE_INTERVAL_MS: u64 = 15_000;
/// How often the whole audit chain is verified (it reads every record).
pub const AUDIT_VERIFY_INTERVAL_MS: u64 = 60 * 60 * 1_000;

/// Samples until `stopped` turns true.
pub async fn run(app: AppState, mut stopped: watch::Receiver<bool>) {
    let mut audit_due = tokio::time::Instant::now();
    loop {
        if let Err(error) = sample_journal(&app).await {
            tracing::warn!(%error, "monitor: the journal could not be sampled");
        }
        sample_links(&app);
        sample_certificates(&app);
        if tokio::time::Instant::now() >= audit_due {
            verify_audit(&app).await;
            audit_due = tokio::time::Instant::now() + Duration::from_millis(AUDIT_VERIFY_INTERVAL_MS);
        }
        tokio::select! {
            _ = stopped.changed() => return,
            () = tokio::time::sleep(Duration::from_millis(SAMPLE_INTERVAL_MS)) => {}
        }
        if *stopped.borrow() {
            return;
        }
    }
}

/// Seconds since the Unix epoch as a gauge's value.
fn seconds(instant: chrono::DateTime<chrono::Utc>) -> f64 {
    instant.timestamp() as f64
}

async fn sample_journal(app: &AppState) -> Result<(), JournalError> {
    let now = app.clock.now();
    let mut conn = app.journal.read().await?;
    let in_doubt = sqlx::query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n, MIN(updated_at) AS oldest FROM payments WHERE state = 'in_doubt'",
    )
    .fetch_one(&mut *conn)
    .await?;
    let count: i64 = in_doubt.try_get("n")?;
    let oldest = in_doubt.try_get::<Option<String>, _>("oldest")?.as_deref().and_then(parse_instant);
    metrics::gauge!("payments_in_doubt").set(count as f64);
    let age = oldest.map_or(0, |oldest| (now - oldest).num_seconds().max(0));
    metrics::gauge!("payments_in_doubt_oldest_age_seconds").set(age as f64);
    for state in ["pending", "gave_up"] {
        let row = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM reversals WHERE state = $1")
            .bind(state)
            .fetch_one(&mut *conn)
            .await?;
        metrics::gauge!("reversals_in_journal", "state" => state).set(row.try_get::<i64, _>("n")? as f64);
    }
    Ok(())
}

fn sample_links(app: &AppState) {
    for acquirer in app.config.acquirers.iter().filter(|a| a.link.is_some()) {
        let up = app.connectors.acquirer(&acquirer.id).is_some_and(|link| link.is_connected());
        metrics::gauge!("acquirer_link_up", "acquirer" => acquirer.id.clone()).set(if up { 1.0 } else { 0.0 });
    }
}

/// Every certificate file the configuration names: the terminal host's certificate and the CA of
/// terminal certificates, each acquirer link's CA and client certificate, each QR link's CA.
fn certificate_files(app: &AppState) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(host) = &app.config.terminal_host {
        files.push(host.cert_file.clone());
        files.extend(host.client_ca_file.clone());
    }
    for acquirer in &app.config.acquirers {
        if let Some(link) = &acquirer.link {
            files.push(link.ca_file.clone());
            files.extend(link.client_identity.as_ref().map(|(cert, _)| cert.clone()));
        }
        files.extend(acquirer.qr_link.as_ref().and_then(|link| link.ca_file.clone()));
    }
    files.sort();
    files.dedup();
    files
}

fn sample_certificates(app: &AppState) {
    for file in certificate_files(app) {
        match pos_tls::certificate_expiries(&file) {
            Ok(certificates) => {
                for certificate in certificates {
                    metrics::gauge!(
                        "tls_certificate_expiry_timestamp_seconds",
                        "file" => display(&file),
                        "subject" => certificate.subject,
                    )
                    .set(certificate.not_after_unix as f64);
                }
            }
            Err(error) => tracing::warn!(%error, file = %file.display(), "monitor: a certificate could not be read"),
        }
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

async fn verify_audit(app: &AppState) {
    match audit::verify(&app.journal).await {
        Ok(verification) => {
            metrics::gauge!("audit_chain_intact").set(if verification.is_intact() { 1.0 } else { 0.0 });
            metrics::gauge!("audit_chain_records").set(verification.records as f64);
            metrics::gauge!("audit_chain_verified_timestamp_seconds").set(seconds(app.clock.now()));
            if let Some(problem) = verification.problem {
                tracing::error!(%problem, "monitor: the audit chain does not verify");
            }
        }
        Err(error) => tracing::warn!(%error, "monitor: the audit chain could not be read"),
    }
}
