//! Throttling of failed authentication, and the aggregated audit of refused requests.
//!
//! A failure is a credential that does not verify: a wrong bearer token (users' and devices'), a
//! session cookie that names no live session, a wrong token at sign-in (`/v1/session`), a wrong
//! supervisor approval code. Failures are counted per key — the source address, the register a
//! device route names, the clerk trying codes — in windows of a minute. Past
//! `auth_failures_per_minute`, the key is blocked: failures are answered `429` with `Retry-After`
//! for `auth_block_seconds`, doubled with each further block up to `auth_block_seconds_max`.
//!
//! Credentials that verify are never slowed, whatever their source: a clerk behind the same
//! address translation as an attacker keeps working. (Tokens and session ids are random 128-bit or
//! more, so guessing one is hopeless; the throttle is what keeps a flood of wrong ones from costing
//! the service, and what slows the guessing of short approval codes beside their own lock.)
//!
//! A refused anonymous request is not one audit write: refusals are gathered per source address
//! and written by [`run`] as one record per source per `auth_audit_interval_seconds` (how many
//! were refused, how many throttled, which routes, first and last time).

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::header::RETRY_AFTER;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::error::ApiError;
use crate::journal::audit::{self, AuditEntry, RecordKind};
use crate::AppState;

/// The window failures are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Keys tracked at most; past it, keys neither blocked nor failing in the current window are
/// forgotten first.
pub const TRACKED_KEYS_MAX: usize = 100_000;
/// Source addresses gathered for the audit at most between two writes; the rest are summed
/// under the unspecified address.
pub const PENDING_SOURCES_MAX: usize = 10_000;
/// Routes named in one aggregated audit record at most.
pub const ROUTES_NAMED_MAX: usize = 8;
/// The action of an aggregated audit record.
pub const REFUSALS_ACTION: &str = "authentication refused";

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    Source(IpAddr),
    /// The register a device route names (`/v1/devices/{register}/…`).
    Register(String),
    /// An authenticated user's failures (approval codes).
    User(String),
}

#[derive(Debug)]
struct Entry {
    window_start: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
    /// Blocks imposed so far: each doubles the next.
    strikes: u32,
    last_failure: Instant,
}

/// Refusals from one source not yet written to the audit log.
#[derive(Debug, Clone)]
struct Pending {
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
    refused: u64,
    throttled: u64,
    routes: BTreeSet<String>,
}

pub struct AuthThrottle {
    settings: pos_config::AuthThrottle,
    entries: Mutex<HashMap<ThrottleKey, Entry>>,
    pending: Mutex<HashMap<IpAddr, Pending>>,
}

impl AuthThrottle {
    pub fn new(settings: pos_config::AuthThrottle) -> AuthThrottle {
        AuthThrottle { settings, entries: Mutex::default(), pending: Mutex::default() }
    }

    fn block_for(&self, strikes: u32) -> Duration {
        let seconds = self.settings.block_seconds.saturating_mul(1u64 << strikes.min(20));
        Duration::from_secs(seconds.min(self.settings.block_seconds_max))
    }

    /// How long `key` stays blocked, if it is.
    pub fn blocked(&self, key: &ThrottleKey, now: Instant) -> Option<Duration> {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.get(key).and_then(|entry| entry.blocked_until).and_then(|until| until.checked_duration_since(now))
    }

    /// Records one failure against each key; returns the longest block now in force among them.
    pub fn failed(&self, keys: &[ThrottleKey], now: Instant) -> Option<Duration> {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() + keys.len() > TRACKED_KEYS_MAX {
            entries.retain(|_, entry| {
                entry.blocked_until.is_some_and(|until| until > now)
                    || now.duration_since(entry.window_start) < FAILURE_WINDOW
            });
        }
        let forgive_after = Duration::from_secs(self.settings.block_seconds_max.saturating_mul(2));
        let mut longest: Option<Duration> = None;
        for key in keys {
            if entries.len() >= TRACKED_KEYS_MAX && !entries.contains_key(key) {
                continue;
            }
            let entry = entries.entry(key.clone()).or_insert(Entry {
                window_start: now,
                failures: 0,
                blocked_until: None,
                strikes: 0,
                last_failure: now,
            });
            if now.duration_since(entry.last_failure) > forgive_after {
                entry.strikes = 0;
            }
            entry.last_failure = now;
            let remaining = match entry.blocked_until.and_then(|until| until.checked_duration_since(now)) {
                Some(remaining) => Some(remaining),
                None => {
                    entry.blocked_until = None;
                    if now.duration_since(entry.window_start) >= FAILURE_WINDOW {
                        entry.window_start = now;
                        entry.failures = 0;
                    }
                    entry.failures += 1;
                    if entry.failures > self.settings.failures_per_minute {
                        let block = self.block_for(entry.strikes);
                        entry.strikes += 1;
                        entry.blocked_until = Some(now + block);
                        entry.window_start = now;
                        entry.failures = 0;
                        Some(block)
                    } else {
                        None
                    }
                }
            };
            longest = longest.max(remaining);
        }
        longest
    }

    /// Gathers one refused request from `source` for the next aggregated audit record.
    pub fn note_refusal(&self, source: IpAddr, at: DateTime<Utc>, action: &str, throttled: bool) {
        metrics::counter!("auth_refusals_total", "throttled" => if throttled { "yes" } else { "no" }).increment(1);
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let source =
            if pending.len() >= PENDING_SOURCES_MAX && !pending.contains_key(&source) { OTHER_SOURCES } else { source };
        let entry = pending.entry(source).or_insert_with(|| Pending {
            first_at: at,
            last_at: at,
            refused: 0,
            throttled: 0,
            routes: BTreeSet::new(),
        });
        entry.last_at = at;
        if throttled {
            entry.throttled += 1;
        } else {
            entry.refused += 1;
        }
        if entry.routes.len() < ROUTES_NAMED_MAX {
            entry.routes.insert(action.to_string());
        }
    }

    fn take_pending(&self) -> Vec<(IpAddr, Pending)> {
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut taken: Vec<(IpAddr, Pending)> = pending.drain().collect();
        taken.sort_by_key(|(source, _)| *source);
        taken
    }
}

/// Where refusals from sources past [`PENDING_SOURCES_MAX`] are summed.
const OTHER_SOURCES: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// The answer to a throttled request.
pub fn too_many(wait: Duration) -> Response {
    let seconds = wait.as_secs().max(1);
    let error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_failures",
        format!("too many failed sign-ins or credentials from here: try again in {seconds} s"),
    );
    let mut response = error.into_response();
    if let Ok(value) = seconds.to_string().parse() {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}

/// Writes the refusals gathered since the last call: one audit record per source address.
pub async fn flush(app: &AppState) {
    for (source, pending) in app.throttle.take_pending() {
        let status = if pending.throttled > 0 { 429 } else { 401 };
        let entry = AuditEntry {
            at: app.clock.now(),
            user_name: "-".to_string(),
            role: "-".to_string(),
            action: REFUSALS_ACTION.to_string(),
            target: pending.routes.iter().cloned().collect::<Vec<_>>().join(", "),
            remote: source.to_string(),
            status,
            outcome: "denied".to_string(),
            detail: format!(
                "refused={} throttled={} first={} last={}",
                pending.refused,
                pending.throttled,
                pending.first_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                pending.last_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
            request_id: None,
            kind: RecordKind::Request,
        };
        // Queued for the writer's next group commit, which logs and counts a failure to write.
        audit::record(&app.journal, entry);
    }
}

/// Writes the gathered refusals every `auth_audit_interval_seconds`, and once more on stopping.
pub async fn run(app: AppState, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let interval = Duration::from_secs(app.config.server.auth_throttle.audit_interval_seconds);
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => flush(&app).await,
            _ = stopped.changed() => break,
        }
    }
    flush(&app).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> AuthThrottle {
        AuthThrottle::new(pos_config::AuthThrottle {
            failures_per_minute: 3,
            block_seconds: 10,
            block_seconds_max: 25,
            audit_interval_seconds: 60,
        })
    }

    #[test]
    fn failures_past_the_allowance_block_for_growing_times() {
        let throttle = throttle();
        let key = ThrottleKey::Source("192.0.2.7".parse().expect("ip"));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(throttle.failed(std::slice::from_ref(&key), start), None);
        }
        assert_eq!(throttle.failed(std::slice::from_ref(&key), start), Some(Duration::from_secs(10)));
        assert_eq!(throttle.blocked(&key, start + Duration::from_secs(4)), Some(Duration::from_secs(6)));
        // Once the block ends, the allowance is back; the next block is twice as long, then capped.
        let later = start + Duration::from_secs(11);
        assert_eq!(throttle.blocked(&key, later), None);
        for _ in 0..3 {
            assert_eq!(throttle.failed(std::slice::from_ref(&key), later), None);
        }
        assert_eq!(throttle.failed(std::slice::from_ref(&key), later), Some(Duration::from_secs(20)));
        let latest = later + Duration::from_secs(21);
        for _ in 0..3 {
            throttle.failed(std::slice::from_ref(&key), latest);
        }
        assert_eq!(throttle.failed(std::slice::from_ref(&key), latest), Some(Duration::from_secs(25)));
        // Another key is untouched.
        let other = ThrottleKey::Source("192.0.2.8".parse().expect("ip"));
        assert_eq!(throttle.failed(&[other], latest), None);
    }

    #[test]
    fn refusals_are_gathered_per_source() {
        let throttle = throttle();
        let at = Utc::now();
        let source: IpAddr = "192.0.2.7".parse().expect("ip");
        for _ in 0..500 {
            throttle.note_refusal(source, at, "GET /v1/me", true);
        }
        throttle.note_refusal("192.0.2.9".parse().expect("ip"), at, "POST /v1/session", false);
        let pending = throttle.take_pending();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0].1.throttled, 500);
        assert!(throttle.take_pending().is_empty(), "taken once");
    }
}
