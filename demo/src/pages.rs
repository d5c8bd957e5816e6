//! After the demo's day: the gateway keeps serving its journal so that the day can be seen in the
//! pages — treasury's board already reconciled through the API (the day's settlement files and
//! bank statement loaded as treasury would load them), the reports, the exceptions, the
//! analytics — with the URLs and a sign-in token for each role printed.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use chrono::NaiveDate;
use pos_config::Config;
use pos_core::Clock;

/// Where the pages are served after the day, unless `--listen` says otherwise.
pub const PAGES_LISTEN_DEFAULT: &str = "127.0.0.1:8080";

#[derive(Debug, Clone, clap::Args)]
pub struct PagesOptions {
    /// After the day, keep serving the pages of the day's journal until Ctrl-C.
    #[arg(long)]
    pub serve: bool,
    /// Where `--serve` listens.
    #[arg(long, default_value = PAGES_LISTEN_DEFAULT)]
    pub listen: SocketAddr,
}

/// The kind (and QR brand) of a settlement or bank file, by the name its writer gives it.
fn kind_of(path: &Path) -> (&'static str, Option<&'static str>) {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if name.starts_with("card-") {
        ("card", None)
    } else if name.starts_with("emoney-") {
        ("emoney", None)
    } else if name.starts_with("qr-") {
        ("qr", Some("PAYPAY"))
    } else {
        ("bank", None)
    }
}

/// Loads the day's files through treasury's API and reconciles the day there, as treasury would.
async fn reconcile_through_the_api(
    base: &str,
    date: NaiveDate,
    inputs: &[String],
    as_of: &str,
) -> anyhow::Result<pos_core::api::ReconcileResult> {
    let http = crate::rig::http_client();
    let token = "demo-treasury";
    for input in inputs {
        let path = Path::new(input);
        let (kind, brand) = kind_of(path);
        let name = path.file_name().and_then(|n| n.to_str()).context("a settlement file without a name")?;
        let mut url = format!("{base}/v1/treasury/files?kind={kind}&name={name}");
        if let Some(brand) = brand {
            url.push_str(&format!("&brand={brand}"));
        }
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {input}"))?;
        let response = http
            .post(url)
            .bearer_auth(token)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .body(bytes)
            .send()
            .await?;
        if !response.status().is_success() && response.status() != reqwest::StatusCode::CONFLICT {
            bail!("loading {input}: {}", response.text().await.unwrap_or_default());
        }
    }
    let response = http
        .post(format!("{base}/v1/treasury/days/{date}/reconcile"))
        .bearer_auth(token)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&serde_json::json!({ "as_of": as_of }))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("reconciling {date} through the API: {}", response.text().await.unwrap_or_default());
    }
    // The run goes on in the background: follow it to its end.
    let run: pos_core::api::TreasuryRunView = response.json().await?;
    let url = format!("{base}/v1/treasury/runs/{}", run.run_id);
    let ended = crate::rig::within("the reconciliation run through the API", RUN_BOUND, || async {
        let run: pos_core::api::TreasuryRunView =
            http.get(&url).bearer_auth(token).send().await?.error_for_status()?.json().await?;
        Ok((run.state != pos_core::api::RunState::Running).then_some(run))
    })
    .await?;
    match ended.result {
        Some(result) if ended.state == pos_core::api::RunState::Succeeded => Ok(result),
        _ => bail!("reconciling {date} through the API failed: {}", ended.error.unwrap_or_default()),
    }
}

/// The longest the demo waits for its day's reconciliation run through the API.
const RUN_BOUND: std::time::Duration = std::time::Duration::from_secs(120);

/// The gateway serving the day's journal for the pages.
pub struct PagesServer {
    pub base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), gateway::GatewayError>>,
}

impl PagesServer {
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await.context("pages server")??;
        Ok(())
    }
}

/// Starts serving the day's journal on `listen` and, when the day was reconciled, loads its
/// files and reconciles it through treasury's API.
pub async fn start(
    config: &Config,
    listen: SocketAddr,
    clock: Arc<dyn Clock>,
    date: NaiveDate,
    reconciliation: Option<&crate::reconcile::DemoReconciliation>,
) -> anyhow::Result<(PagesServer, Option<pos_core::api::ReconcileResult>)> {
    let mut config = config.clone();
    // The acquirers are gone with the day; the pages only read, and treasury works the day.
    for acquirer in &mut config.acquirers {
        acquirer.link = None;
        acquirer.qr_link = None;
    }
    config.terminal_host = None;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (give --listen another address)"))?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = gateway::AppState::start(config, clock).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gateway::run(listener, app, async move {
        let _ = stopped.await;
    }));
    let pages = PagesServer { base, stop, server };
    let result = match reconciliation {
        Some(day) => Some(reconcile_through_the_api(&pages.base, date, &day.inputs, &day.as_of).await?),
        None => None,
    };
    Ok((pages, result))
}

/// Serves the day's journal until Ctrl-C, with treasury's reconciliation loaded.
pub async fn serve(
    config: &Config,
    options: &PagesOptions,
    clock: Arc<dyn Clock>,
    date: NaiveDate,
    reconciliation: Option<&crate::reconcile::DemoReconciliation>,
) -> anyhow::Result<()> {
    let (pages, result) = start(config, options.listen, clock, date, reconciliation).await?;
    let base = pages.base.clone();
    if let Some(result) = result {
        let exceptions: u64 = result.facilities.iter().map(|f| f.exceptions).sum();
        println!();
        println!(
            "Treasury's reconciliation through the API: {} facilities, {exceptions} exceptions, stored for the pages.",
            result.facilities.len()
        );
    }
    println!();
    println!("The day's pages, at {base} (sign in with the token):");
    println!("  register (clerk)      {base}/register                                  demo-clerk-r0101");
    println!("  register (operator)   {base}/register                                  demo-op-sports");
    println!("  treasury board        {base}/treasury?date={date}                 demo-treasury");
    println!("  exceptions            {base}/treasury/exceptions?date={date}      demo-treasury");
    println!("  analytics             {base}/analytics?from={date}&to={date}   demo-admin (or demo-treasury)");
    println!("  customer display      {base}/v1/registers/R0101/display                 demo-clerk-r0101");
    println!("Ctrl-C stops.");
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    pages.stop().await
}

#[cfg(test)]
mod tests {
    use super::kind_of;
    use std::path::Path;

    #[test]
    fn files_are_known_by_the_names_their_writers_give_them() {
        assert_eq!(kind_of(Path::new("x/card-settlement-20261125.csv")), ("card", None));
        assert_eq!(kind_of(Path::new("emoney-settlement-20261125.csv")), ("emoney", None));
        assert_eq!(kind_of(Path::new("qr-settlement-20261125.csv")), ("qr", Some("PAYPAY")));
        assert_eq!(kind_of(Path::new("zengin-20261127.txt")), ("bank", None));
    }
}
