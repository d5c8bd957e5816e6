//! Publishing a month: `gateway opendata --month YYYY-MM`, and `--due` for the daily timer.
//!
//! A month is published once it is over: its files are written to `<dir>/.<month>.partial`
//! and renamed to `<dir>/<month>` in one step, so the public page never serves half a month.
//! Publishing a month again needs `--replace` (a late correction); the publication history
//! (`<dir>/history.json`, shown on the public page) keeps every publication with its files'
//! SHA-256, so a replaced month is visible as such.
//!
//! Scheduling is a systemd timer (`deploy/systemd/pos-opendata.timer`) that runs
//! `gateway opendata --due` every morning: the command publishes the previous month from
//! `[open_data].publish_day_of_month` on, once. A timer rather than a task inside the gateway,
//! because several gateway nodes share one database and each would race to publish, because a
//! failed run then shows as a failed unit with its log in the journal where the operators
//! already look, and because a missed morning is caught up by the next (`Persistent=true`, and
//! `--due` publishes whatever is due and not yet published).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Utc};
use pos_config::{Config, OpenData};
use pos_core::BusinessDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::files::{self, PackageInfo, PACKAGE_FILE};
use super::{datasets, OpenDataError};
use crate::analytics::month::Month;
use crate::journal::Journal;

/// The publication history, in `<dir>/history.json`.
pub const HISTORY_FILE: &str = "history.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedFile {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// One publication of one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    pub month: Month,
    /// RFC 3339.
    pub published_at: String,
    /// Whether it replaced an earlier publication of the month.
    pub replaced: bool,
    pub files: Vec<PublishedFile>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub publications: Vec<Publication>,
}

impl History {
    /// The months published, newest first, each once.
    pub fn months(&self) -> Vec<Month> {
        let mut months: Vec<Month> = self.publications.iter().map(|publication| publication.month).collect();
        months.sort_unstable_by(|a, b| b.cmp(a));
        months.dedup();
        months
    }
}

#[derive(Debug, clap::Args)]
pub struct OpendataOptions {
    #[arg(long, default_value = "config/examples/city.toml")]
    pub config: PathBuf,
    /// The month to publish, YYYY-MM (it must be over).
    #[arg(long, required_unless_present = "due", conflicts_with = "due")]
    pub month: Option<Month>,
    /// Publish the previous month if today is on or after [open_data].publish_day_of_month and it
    /// is not published yet; otherwise do nothing. For the daily timer.
    #[arg(long)]
    pub due: bool,
    /// Publish a month again that is already published (the history keeps both).
    #[arg(long)]
    pub replace: bool,
}

fn open_data(config: &Config) -> Result<&OpenData, OpenDataError> {
    config.open_data.as_ref().ok_or(OpenDataError::NotConfigured)
}

pub fn month_dir(open: &OpenData, month: Month) -> PathBuf {
    open.dir.join(month.to_string())
}

/// The month `--due` would publish at `now`, if any.
pub fn due(config: &Config, now: DateTime<Utc>) -> Result<Option<Month>, OpenDataError> {
    let open = open_data(config)?;
    let today = BusinessDate::of_instant(now);
    if today.date().day() < open.publish_day_of_month {
        return Ok(None);
    }
    let month = Month::of(today).previous();
    Ok((!month_dir(open, month).exists()).then_some(month))
}

/// Publishes `month` from the journal at `now`.
pub async fn publish(
    journal: &Journal,
    config: &Config,
    month: Month,
    now: DateTime<Utc>,
    replace: bool,
) -> Result<Publication, OpenDataError> {
    let open = open_data(config)?;
    let today = BusinessDate::of_instant(now);
    if month.last_day() >= today {
        return Err(OpenDataError::MonthNotOver { month, last: month.last_day() });
    }
    let target = month_dir(open, month);
    let existed = target.exists();
    if existed && !replace {
        return Err(OpenDataError::AlreadyPublished { month, path: target });
    }
    let facts = datasets::gather(journal, config, open, month).await?;
    let tables = datasets::build(config, open, month, &facts)?;
    let info = PackageInfo {
        city_ja: &config.city.name_ja,
        city_en: &config.city.name_en,
        publisher_ja: &open.publisher_ja,
        publisher_en: &open.publisher_en,
        threshold_payments: open.suppression_threshold_payments,
        created: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let month_files = files::month_files(&tables, month, &info);

    tokio::fs::create_dir_all(&open.dir).await.map_err(OpenDataError::io("creating", &open.dir))?;
    let partial = open.dir.join(format!(".{month}.partial"));
    if partial.exists() {
        tokio::fs::remove_dir_all(&partial).await.map_err(OpenDataError::io("removing", &partial))?;
    }
    tokio::fs::create_dir(&partial).await.map_err(OpenDataError::io("creating", &partial))?;
    for file in &month_files {
        let path = partial.join(&file.name);
        tokio::fs::write(&path, &file.bytes).await.map_err(OpenDataError::io("writing", &path))?;
    }
    if existed {
        let old = open.dir.join(format!(".{month}.replaced"));
        if old.exists() {
            tokio::fs::remove_dir_all(&old).await.map_err(OpenDataError::io("removing", &old))?;
        }
        tokio::fs::rename(&target, &old).await.map_err(OpenDataError::io("moving aside", &target))?;
        tokio::fs::rename(&partial, &target).await.map_err(OpenDataError::io("publishing", &target))?;
        tokio::fs::remove_dir_all(&old).await.map_err(OpenDataError::io("removing", &old))?;
    } else {
        tokio::fs::rename(&partial, &target).await.map_err(OpenDataError::io("publishing", &target))?;
    }

    let publication = Publication {
        month,
        published_at: info.created.clone(),
        replaced: existed,
        files: month_files
            .iter()
            .map(|file| PublishedFile {
                name: file.name.clone(),
                bytes: file.bytes.len() as u64,
                sha256: hex::encode(Sha256::digest(&file.bytes)),
            })
            .collect(),
    };
    let mut history = read_history(open).await?;
    history.publications.push(publication.clone());
    write_history(open, &history).await?;
    Ok(publication)
}

/// The publication history; empty before the first publication.
pub async fn read_history(open: &OpenData) -> Result<History, OpenDataError> {
    let path = open.dir.join(HISTORY_FILE);
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|error| OpenDataError::History { path, message: error.to_string() })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(History::default()),
        Err(error) => Err(OpenDataError::Io { action: "reading", path, source: error }),
    }
}

async fn write_history(open: &OpenData, history: &History) -> Result<(), OpenDataError> {
    let path = open.dir.join(HISTORY_FILE);
    let partial = open.dir.join(format!(".{HISTORY_FILE}.partial"));
    let mut bytes = serde_json::to_vec_pretty(history).unwrap_or_default();
    bytes.push(b'\n');
    tokio::fs::write(&partial, bytes).await.map_err(OpenDataError::io("writing", &partial))?;
    tokio::fs::rename(&partial, &path).await.map_err(OpenDataError::io("writing", &path))
}

/// The names a month's folder may serve: the files its `datapackage.json` lists, their schemas
/// and the package itself. Anything else — another path, a dot file — is not served.
pub async fn published_file(open: &OpenData, month: Month, name: &str) -> Result<Option<Vec<u8>>, OpenDataError> {
    let dir = month_dir(open, month);
    let package_path = dir.join(PACKAGE_FILE);
    let package = match tokio::fs::read(&package_path).await {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(OpenDataError::Io { action: "reading", path: package_path, source: error }),
    };
    if name == PACKAGE_FILE {
        return Ok(Some(package));
    }
    let listed: serde_json::Value = serde_json::from_slice(&package)
        .map_err(|error| OpenDataError::History { path: package_path.clone(), message: error.to_string() })?;
    let known = listed["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|resource| resource["path"].as_str() == Some(name) || resource["schema"].as_str() == Some(name));
    if !known || name.contains(['/', '\\']) || name.starts_with('.') {
        return Ok(None);
    }
    let path = dir.join(Path::new(name));
    tokio::fs::read(&path).await.map(Some).map_err(OpenDataError::io("reading", path))
}

/// The `gateway opendata` command.
pub async fn run(options: OpendataOptions) -> anyhow::Result<()> {
    let config = pos_config::load(&options.config)?;
    let now = Utc::now();
    let month = match (options.month, options.due) {
        (Some(month), _) => month,
        (None, _) => match due(&config, now)? {
            Some(month) => month,
            None => {
                println!("nothing is due: the previous month is published, or it is before the publishing day");
                return Ok(());
            }
        },
    };
    let journal = Journal::connect_existing(&config.database)
        .await
        .map_err(|error| anyhow::anyhow!("the journal must already exist: {error}"))?;
    let publication = publish(&journal, &config, month, now, options.replace).await;
    journal.close().await;
    let publication = publication?;
    let dir = config.open_data.as_ref().map(|open| month_dir(open, month)).unwrap_or_default();
    println!("published {} ({} files) in {}", publication.month, publication.files.len(), dir.display());
    Ok(())
}
