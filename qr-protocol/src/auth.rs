//! The `hmac OPA-Auth` request signature (PROTOCOLS.md §2): signer, header codec and verifier.
//!
//! ```text
//! hash    = base64(MD5(content_type_bytes ‖ body_bytes))     or "empty" when the body is empty
//! content = the request's Content-Type header, byte for byte  or "empty" when the body is empty
//! mac     = base64(HMAC-SHA256(api_secret, path_without_query "\n" METHOD "\n" nonce "\n"
//!                               epoch_seconds "\n" content "\n" hash))
//! Authorization: hmac OPA-Auth:{api_key}:{mac}:{nonce}:{epoch_seconds}:{hash}
//! ```
//!
//! "Empty" is judged by the body's length, never by the presence of a Content-Type (the SDK sends
//! one on bodiless GETs too). Everything is computed over bytes as they travel — the raw body,
//! the Content-Type and the path as received — never over re-serialised JSON.
//!
//! The [`Verifier`] checks, in this order: a header is present and well formed, the key is
//! known, the epoch is within [`EPOCH_WINDOW_SECONDS`] of the injected clock, the hash matches
//! the body, the mac matches, and the nonce was not seen from that key within the window. A nonce
//! is remembered only once the request is authentic, so forged requests cannot fill the memory.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use pos_core::Clock;
use sha2::Sha256;

/// The scheme that opens the header value.
pub const AUTH_SCHEME: &str = "hmac OPA-Auth";
/// What stands for the content type and the hash of a request without a body.
pub const EMPTY: &str = "empty";
/// How far a request's epoch may be from the verifier's clock, either way.
pub const EPOCH_WINDOW_SECONDS: i64 = 120;
/// How long a nonce is remembered after it was accepted. A replay carries the same epoch, which
/// was at most one window ahead of the clock and stays acceptable one window after that.
pub const NONCE_MEMORY_SECONDS: i64 = 2 * EPOCH_WINDOW_SECONDS;
/// The most nonces remembered per API key; beyond it (after forgetting expired ones) requests are
/// refused rather than let a replay through.
pub const NONCES_PER_KEY_MAX: usize = 50_000;
/// The longest `Authorization` header value accepted (it bounds the nonce's length too).
pub const AUTH_HEADER_BYTES_MAX: usize = 1024;

type HmacSha256 = Hmac<Sha256>;

/// A public API key, as it appears in the header.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An API secret. `Debug` and `Display` print a mask, so a log line cannot leak it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct ApiSecret(String);

impl ApiSecret {
    pub fn new(secret: impl Into<String>) -> ApiSecret {
        ApiSecret(secret.into())
    }

    /// The secret itself, for signing and for nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiSecret(****)")
    }
}

impl fmt::Display for ApiSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// A key and its secret: what a client signs with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Credentials {
    pub api_key: ApiKey,
    pub api_secret: ApiSecret,
}

/// What the signature covers, as bytes on the wire.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// `GET`, `POST`, `DELETE` … exactly as sent.
    pub method: &'a str,
    /// The request target; anything from `?` on is ignored.
    pub path: &'a str,
    /// The Content-Type header value as sent, if any.
    pub content_type: Option<&'a [u8]>,
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    fn path_without_query(&self) -> &str {
        self.path.split_once('?').map_or(self.path, |(path, _)| path)
    }

    /// The `content` line: the Content-Type (empty if none was sent), or `empty` without a body.
    fn content(&self) -> &[u8] {
        if self.body.is_empty() {
            EMPTY.as_bytes()
        } else {
            self.content_type.unwrap_or_default()
        }
    }
}

/// `base64(MD5(content_type ‖ body))`, or `empty` when the body is empty.
pub fn body_hash(content_type: &[u8], body: &[u8]) -> String {
    if body.is_empty() {
        return EMPTY.to_string();
    }
    let mut digest = Md5::new();
    digest.update(content_type);
    digest.update(body);
    BASE64.encode(digest.finalize())
}

fn mac_over(secret: &ApiSecret, request: &SignedRequest<'_>, nonce: &str, epoch: i64, hash: &str) -> HmacSha256 {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    let epoch = epoch.to_string();
    let lines: [&[u8]; 6] = [
        request.path_without_query().as_bytes(),
        request.method.as_bytes(),
        nonce.as_bytes(),
        epoch.as_bytes(),
        request.content(),
        hash.as_bytes(),
    ];
    for (index, line) in lines.iter().enumerate() {
        if index > 0 {
            mac.update(b"\n");
        }
        mac.update(line);
    }
    mac
}

/// The mac of a request, base64.
pub fn mac(secret: &ApiSecret, request: &SignedRequest<'_>, nonce: &str, epoch: i64) -> String {
    let hash = body_hash(request.content_type.unwrap_or_default(), request.body);
    BASE64.encode(mac_over(secret, request, nonce, epoch, &hash).finalize().into_bytes())
}

/// Signs a request. The nonce (any string without `:`; the SDK uses 8 hex characters) and the
/// epoch (seconds) are the caller's: this crate has no randomness and no clock.
pub fn sign(credentials: &Credentials, request: &SignedRequest<'_>, nonce: &str, epoch: i64) -> AuthHeader {
    AuthHeader {
        api_key: credentials.api_key.clone(),
        mac: mac(&credentials.api_secret, request, nonce, epoch),
        nonce: nonce.to_string(),
        epoch,
        hash: body_hash(request.content_type.unwrap_or_default(), request.body),
    }
}

/// The parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    pub api_key: ApiKey,
    pub mac: String,
    pub nonce: String,
    pub epoch: i64,
    pub hash: String,
}

impl AuthHeader {
    /// Parses `hmac OPA-Auth:{api_key}:{mac}:{nonce}:{epoch}:{hash}`.
    pub fn parse(value: &[u8]) -> Result<AuthHeader, AuthError> {
        if value.len() > AUTH_HEADER_BYTES_MAX {
            return Err(AuthError::Malformed { reason: "header longer than 1024 bytes" });
        }
        let text = std::str::from_utf8(value).map_err(|_| AuthError::Malformed { reason: "not UTF-8" })?;
        let rest = text
            .strip_prefix(AUTH_SCHEME)
            .and_then(|rest| rest.strip_prefix(':'))
            .ok_or(AuthError::Malformed { reason: "does not start with \"hmac OPA-Auth:\"" })?;
        let parts: Vec<&str> = rest.split(':').collect();
        let [api_key, mac, nonce, epoch, hash] = parts.as_slice() else {
            return Err(AuthError::Malformed { reason: "expected five ':'-separated fields" });
        };
        if [api_key, mac, nonce, epoch, hash].iter().any(|part| part.is_empty()) {
            return Err(AuthError::Malformed { reason: "an empty field" });
        }
        if !epoch.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AuthError::Malformed { reason: "epoch is not decimal seconds" });
        }
        let epoch = epoch.parse::<i64>().map_err(|_| AuthError::Malformed { reason: "epoch out of range" })?;
        Ok(AuthHeader {
            api_key: ApiKey::new(*api_key),
            mac: (*mac).to_string(),
            nonce: (*nonce).to_string(),
            epoch,
            hash: (*hash).to_string(),
        })
    }

    pub fn to_header_value(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for AuthHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{AUTH_SCHEME}:{}:{}:{}:{}:{}", self.api_key, self.mac, self.nonce, self.epoch, self.hash)
    }
}

/// Why a request was not authenticated. Every variant is answered 401 `UNAUTHORIZED`; the
/// message says which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing Authorization header")]
    MissingHeader,
    #[error("malformed Authorization header: {reason}")]
    Malformed { reason: &'static str },
    #[error("unknown API key {api_key:?}")]
    UnknownKey { api_key: String },
    #[error("epoch {epoch} is more than {EPOCH_WINDOW_SECONDS} s from the server's clock ({now})")]
    StaleEpoch { epoch: i64, now: i64 },
    #[error("body hash {received:?} does not match the body (expected {expected:?})")]
    BodyHashMismatch { received: String, expected: String },
    #[error("signature does not match")]
    BadMac,
    #[error("nonce {nonce:?} was already used with this key")]
    ReplayedNonce { nonce: String },
    #[error("too many recent nonces for this key (at most {NONCES_PER_KEY_MAX}); retry later")]
    NonceMemoryFull,
}

/// Who sent an authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub api_key: ApiKey,
    pub nonce: String,
    pub epoch: i64,
}

/// The nonces one key used recently, with the instant each was accepted.
#[derive(Debug, Default)]
struct NonceMemory {
    seen: HashMap<String, i64>,
    order: VecDeque<(i64, String)>,
}

impl NonceMemory {
    fn forget_before(&mut self, oldest_kept: i64) {
        while let Some((accepted_at, _)) = self.order.front() {
            if *accepted_at >= oldest_kept {
                break;
            }
            if let Some((_, nonce)) = self.order.pop_front() {
                self.seen.remove(&nonce);
            }
        }
    }
}

/// Verifies signed requests against an injected clock, remembering nonces per key.
pub struct Verifier {
    clock: Arc<dyn Clock>,
    nonces: Mutex<HashMap<ApiKey, NonceMemory>>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

impl Verifier {
    pub fn new(clock: Arc<dyn Clock>) -> Verifier {
        Verifier { clock, nonces: Mutex::new(HashMap::new()) }
    }

    /// Checks `authorization` (the raw header value, `None` if absent) against the request.
    /// `secret_of` finds the secret of a key; only keys it knows get nonce memory, so the memory
    /// is bounded by the number of configured keys times [`NONCES_PER_KEY_MAX`].
    pub fn verify<'s>(
        &self,
        request: &SignedRequest<'_>,
        authorization: Option<&[u8]>,
        secret_of: impl FnOnce(&ApiKey) -> Option<&'s ApiSecret>,
    ) -> Result<Verified, AuthError> {
        let header = AuthHeader::parse(authorization.ok_or(AuthError::MissingHeader)?)?;
        let secret = secret_of(&header.api_key)
            .ok_or_else(|| AuthError::UnknownKey { api_key: header.api_key.as_str().to_string() })?;
        let now = self.clock.now().timestamp();
        if header.epoch.abs_diff(now) > EPOCH_WINDOW_SECONDS.unsigned_abs() {
            return Err(AuthError::StaleEpoch { epoch: header.epoch, now });
        }
        let expected = body_hash(request.content_type.unwrap_or_default(), request.body);
        if header.hash != expected {
            return Err(AuthError::BodyHashMismatch { received: header.hash, expected });
        }
        let received_mac = BASE64.decode(header.mac.as_bytes()).map_err(|_| AuthError::BadMac)?;
        // `verify_slice` compares in constant time.
        mac_over(secret, request, &header.nonce, header.epoch, &header.hash)
            .verify_slice(&received_mac)
            .map_err(|_| AuthError::BadMac)?;
        self.remember_nonce(&header.api_key, &header.nonce, now)?;
        Ok(Verified { api_key: header.api_key, nonce: header.nonce, epoch: header.epoch })
    }

    fn remember_nonce(&self, api_key: &ApiKey, nonce: &str, now: i64) -> Result<(), AuthError> {
        // A poisoned lock only means another request panicked; the map itself stays consistent
        // because every change below is a single insert or remove.
        let mut keys = self.nonces.lock().unwrap_or_else(PoisonError::into_inner);
        let memory = keys.entry(api_key.clone()).or_default();
        memory.forget_before(now.saturating_sub(NONCE_MEMORY_SECONDS));
        if memory.seen.contains_key(nonce) {
            return Err(AuthError::ReplayedNonce { nonce: nonce.to_string() });
        }
        if memory.seen.len() >= NONCES_PER_KEY_MAX {
            return Err(AuthError::NonceMemoryFull);
        }
        memory.seen.insert(nonce.to_string(), now);
        memory.order.push_back((now, nonce.to_string()));
        Ok(())
    }
}
