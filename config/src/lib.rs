//! Loading and validating the configuration of the counter payment system.
//!
//! One TOML file describes the city: its facilities (who owns each, under which revenue rule,
//! which fee items and brands it takes, its registers and terminals and counter policies), the fee
//! catalogue with revenue account codes (歳入科目), the acquirers with their fee rates per brand, the
//! designated-manager operators, and the users with their roles. [`load`] reads the file, applies
//! environment overrides (`POS_DATABASE_URL`, `POS_SERVER_LISTEN`), and validates everything,
//! reporting every problem with its path (`facilities[3].fee_items[2]: unknown fee item "X"`), not
//! just the first. What comes out is a [`Config`] of domain types that the rest of the system can
//! trust.

mod model;
mod raw;
mod validate;

use std::path::{Path, PathBuf};

pub use model::*;

/// The largest configuration file accepted.
pub const CONFIG_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// One problem found in a configuration, with the path of the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("configuration {path} is {bytes} bytes; the limit is {CONFIG_BYTES_MAX}")]
    TooLarge { path: PathBuf, bytes: u64 },
    #[error("configuration {path} is not valid TOML for this schema: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("configuration {path} has {} problem(s):\n{}", issues.len(), issues.iter().map(|i| format!("  {i}")).collect::<Vec<_>>().join("\n"))]
    Invalid { path: PathBuf, issues: Vec<Issue> },
}

impl ConfigError {
    /// The individual problems, for tests and tools that list them.
    pub fn issues(&self) -> &[Issue] {
        match self {
            ConfigError::Invalid { issues, .. } => issues,
            _ => &[],
        }
    }
}

/// Reads, overrides from the process environment, and validates a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with_env(path, |key| std::env::var(key).ok())
}

/// As [`load`], with the environment given explicitly (tests, and callers that layer their own).
pub fn load_with_env(path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let metadata = std::fs::metadata(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    if metadata.len() > CONFIG_BYTES_MAX {
        return Err(ConfigError::TooLarge { path: path.to_path_buf(), bytes: metadata.len() });
    }
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse_with_env(&text, path, &base_dir, env)
}

/// Parses configuration text. `path` only names the source in errors; `base_dir` anchors
/// relative file paths in the configuration.
pub fn parse_with_env(
    text: &str,
    path: &Path,
    base_dir: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut raw: raw::RawConfig = toml::from_str(text)
        .map_err(|error| ConfigError::Syntax { path: path.to_path_buf(), message: error.to_string() })?;
    if let Some(url) = env("POS_DATABASE_URL") {
        raw.database.url = url;
    }
    if let Some(listen) = env("POS_SERVER_LISTEN") {
        raw.server.listen = listen;
    }
    // QR provider secrets are named, not written, in the file so none sits in git.
    for link in raw.acquirers.iter_mut().filter_map(|a| a.qr_link.as_mut()) {
        if let Some(name) = &link.api_secret_env {
            link.api_secret_from_env = env(name).filter(|value| !value.is_empty());
        }
    }
    validate::validate(raw, base_dir).map_err(|issues| ConfigError::Invalid { path: path.to_path_buf(), issues })
}

/// The SHA-256 of a bearer token, as stored in the configuration (`token_sha256`).
pub fn token_sha256(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}
