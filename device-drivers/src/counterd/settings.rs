//! counterd's settings file (TOML) and its bounds.
//!
//! ```toml
//! gateway_url = "https://gateway.city.example:8443"
//! register = "R0101"
//! token_file = "/etc/counterd/token"        # or the COUNTERD_TOKEN environment variable
//! ca_file = "/etc/counterd/ca.crt"          # optional: HTTPS with this CA
//! client_cert_file = "/etc/counterd/r0101.crt"   # optional: mutual TLS
//! client_key_file = "/etc/counterd/r0101.key"
//! terminal = "/dev/ttyUSB0"                 # or "tcp:10.1.1.20:20007"
//! terminal_password = 0
//! printer = "/dev/ttyUSB1"                  # optional
//! scanner = "/dev/ttyACM0"                  # optional
//! scanner_suffix = "crlf"                   # optional: "cr", "lf" or "crlf" (the default)
//! customer_display = "display_page"         # optional: "none" (the default) or "display_page"
//! state_file = "/var/lib/counterd/state.json"
//! facility_name = "市民課"
//! city_name = "見本市"
//!
//! [bounds]                                  # optional, each field optional
//! poll_wait_ms = 25000
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The long poll's wait; the gateway caps it at `COMMAND_WAIT_MS_MAX`.
pub const POLL_WAIT_MS_DEFAULT: u64 = 25_000;
/// The first retry after a failure.
pub const BACKOFF_MS_MIN_DEFAULT: u64 = 250;
/// The longest wait between retries.
pub const BACKOFF_MS_MAX_DEFAULT: u64 = 30_000;
pub const HEALTH_INTERVAL_MS_DEFAULT: u64 = 30_000;
/// A charge: the customer finds the card, the terminal asks the host.
pub const CHARGE_DEADLINE_MS_DEFAULT: u64 = 180_000;
pub const END_OF_DAY_DEADLINE_MS_DEFAULT: u64 = 120_000;
/// The environment variable the token may come from.
pub const TOKEN_ENV: &str = "COUNTERD_TOKEN";

/// Every bound counterd waits within.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bounds {
    pub poll_wait_ms: u64,
    pub backoff_ms_min: u64,
    pub backoff_ms_max: u64,
    pub health_interval_ms: u64,
    pub charge_deadline_ms: u64,
    pub end_of_day_deadline_ms: u64,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds {
            poll_wait_ms: POLL_WAIT_MS_DEFAULT,
            backoff_ms_min: BACKOFF_MS_MIN_DEFAULT,
            backoff_ms_max: BACKOFF_MS_MAX_DEFAULT,
            health_interval_ms: HEALTH_INTERVAL_MS_DEFAULT,
            charge_deadline_ms: CHARGE_DEADLINE_MS_DEFAULT,
            end_of_day_deadline_ms: END_OF_DAY_DEADLINE_MS_DEFAULT,
        }
    }
}

/// The settings file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsFile {
    pub gateway_url: String,
    pub register: String,
    pub token_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    pub terminal: String,
    #[serde(default)]
    pub terminal_password: u32,
    pub printer: Option<PathBuf>,
    pub scanner: Option<PathBuf>,
    #[serde(default)]
    pub scanner_suffix: SuffixSetting,
    #[serde(default)]
    pub customer_display: DisplaySetting,
    pub state_file: PathBuf,
    pub facility_name: String,
    pub city_name: String,
    #[serde(default)]
    pub bounds: Bounds,
}

/// `scanner_suffix`: what ends a scanned code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuffixSetting {
    Cr,
    Lf,
    #[default]
    Crlf,
}

impl From<SuffixSetting> for crate::scanner::Suffix {
    fn from(setting: SuffixSetting) -> crate::scanner::Suffix {
        match setting {
            SuffixSetting::Cr => crate::scanner::Suffix::Cr,
            SuffixSetting::Lf => crate::scanner::Suffix::Lf,
            SuffixSetting::Crlf => crate::scanner::Suffix::CrLf,
        }
    }
}

/// `customer_display`: what the customer looks at (see [`super::CustomerDisplay`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisplaySetting {
    #[default]
    None,
    DisplayPage,
}

impl From<DisplaySetting> for super::CustomerDisplay {
    fn from(setting: DisplaySetting) -> super::CustomerDisplay {
        match setting {
            DisplaySetting::None => super::CustomerDisplay::None,
            DisplaySetting::DisplayPage => super::CustomerDisplay::DisplayPage,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not valid counterd settings: {source}")]
    Parse { path: String, source: toml::de::Error },
    #[error("{0}")]
    Invalid(String),
}

impl SettingsFile {
    pub fn load(path: &Path) -> Result<SettingsFile, SettingsError> {
        let name = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| SettingsError::Read { path: name.clone(), source })?;
        let file: SettingsFile = toml::from_str(&text).map_err(|source| SettingsError::Parse { path: name, source })?;
        file.validate()?;
        Ok(file)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if !(self.gateway_url.starts_with("http://") || self.gateway_url.starts_with("https://")) {
            return Err(SettingsError::Invalid(format!("gateway_url {:?} is not http(s)://…", self.gateway_url)));
        }
        if self.client_cert_file.is_some() != self.client_key_file.is_some() {
            return Err(SettingsError::Invalid("client_cert_file and client_key_file go together".to_string()));
        }
        if self.client_cert_file.is_some() && self.ca_file.is_none() {
            return Err(SettingsError::Invalid("a client certificate needs ca_file (HTTPS)".to_string()));
        }
        let b = &self.bounds;
        if b.backoff_ms_min == 0 || b.backoff_ms_max < b.backoff_ms_min || b.health_interval_ms == 0 {
            return Err(SettingsError::Invalid("bounds: backoff and health interval must be positive".to_string()));
        }
        Ok(())
    }

    /// The device token: from `token_file`, else from [`TOKEN_ENV`] as `env` reads it.
    pub fn token(&self, env: impl Fn(&str) -> Option<String>) -> Result<String, SettingsError> {
        match &self.token_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|source| SettingsError::Read { path: path.display().to_string(), source }),
            None => env(TOKEN_ENV)
                .ok_or_else(|| SettingsError::Invalid(format!("no token_file and no {TOKEN_ENV} in the environment"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settings_file_loads_with_default_bounds() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("counterd.toml");
        std::fs::write(
            &path,
            "gateway_url = \"http://127.0.0.1:8080\"\nregister = \"R0101\"\nterminal = \"tcp:127.0.0.1:20007\"\n\
             state_file = \"/tmp/s.json\"\nfacility_name = \"市民課\"\ncity_name = \"見本市\"\n[bounds]\npoll_wait_ms = 1000\n",
        )
        .expect("write");
        let file = SettingsFile::load(&path).expect("loads");
        assert_eq!(file.bounds.poll_wait_ms, 1_000);
        assert_eq!(file.bounds.backoff_ms_max, BACKOFF_MS_MAX_DEFAULT);
        assert_eq!(file.token(|_| Some("demo-x".to_string())).expect("token"), "demo-x");
        assert!(file.token(|_| None).is_err());
    }
}
