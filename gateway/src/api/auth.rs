//! Who is calling, what they may reach, and the audit record of every call.
//!
//! Every route sits behind [`authenticate_and_audit`]: a bearer token is hashed and looked up
//! among the configured users (only hashes are stored); the request runs with the resulting
//! [`Caller`]; afterwards one hash-chained audit record says who did what, from where, and how it
//! ended — including refusals (403), which are also counted in the metrics. Credentials that do
//! not verify (401 at a route, or at sign-in) are throttled and audited in aggregate, one record
//! per source address and interval ([`super::throttle`]), so a flood of wrong tokens costs the
//! journal next to nothing.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use pos_config::Config;

use super::error::ApiError;
use super::request_id::RequestId;
use super::throttle::ThrottleKey;
use crate::journal::audit::{self, AuditEntry, AuditScope, RecordKind};
use crate::AppState;

/// The pages' session cookie: it carries a random session id (see [`super::session`]),
/// `HttpOnly`, `SameSite=Strict`, and `Secure` when the gateway is reached over https.
pub const SESSION_COOKIE: &str = "pos_session";

/// The longest bearer token accepted.
pub const TOKEN_CHARS_MAX: usize = 256;

use crate::access::Caller;

/// What a handler adds to its request's audit record (ids made, amounts, the approver), carried
/// on the response.
#[derive(Debug, Clone)]
pub struct AuditDetail(pub String);

/// Attaches an audit detail to a response.
pub fn with_audit_detail(mut response: Response, detail: String) -> Response {
    response.extensions_mut().insert(AuditDetail(detail));
    response
}

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Bearer,
    /// The pages' session cookie (see [`super::session`]).
    Cookie,
}

/// The session cookie's value, if the request carries one.
fn session_cookie(request: &Request) -> Option<&str> {
    request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
}

/// The caller a token belongs to.
pub fn caller_of_token(config: &Config, token: &str) -> Result<Caller, ApiError> {
    if token.is_empty() || token.len() > TOKEN_CHARS_MAX {
        return Err(ApiError::unauthenticated("token is empty or too long"));
    }
    let user = config
        .user_by_token_sha256(&pos_config::token_sha256(token))
        .ok_or_else(|| ApiError::unauthenticated("unknown token"))?;
    Ok(Caller { user: user.name.clone(), role: user.role, scope: user.scope.clone() })
}

/// The session a request was authenticated by (the SHA-256 of its id), for sign-out.
#[derive(Debug, Clone)]
pub struct SessionHash(pub String);

/// What a request presents to prove who it is, copied out of it (a request is not `Sync`, so it
/// cannot be held across the session lookup).
struct Presented {
    authorization: Option<axum::http::HeaderValue>,
    cookie: Option<String>,
    safe_method: bool,
    csrf_header: bool,
}

impl Presented {
    fn of(request: &Request) -> Presented {
        Presented {
            authorization: request.headers().get(AUTHORIZATION).cloned(),
            cookie: session_cookie(request).map(str::to_string),
            safe_method: matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD),
            csrf_header: request.headers().contains_key(CSRF_HEADER),
        }
    }

    fn any(&self) -> bool {
        self.authorization.is_some() || self.cookie.is_some()
    }
}

async fn authenticate(
    app: &AppState,
    presented: &Presented,
) -> Result<(Caller, Credential, Option<SessionHash>), ApiError> {
    let Some(header) = &presented.authorization else {
        return match &presented.cookie {
            Some(id) => {
                let (caller, hash) = super::session::caller_of_session(app, id).await?;
                Ok((caller, Credential::Cookie, Some(hash)))
            }
            None => Err(ApiError::unauthenticated(
                "missing Authorization header: send `Authorization: Bearer <token>` (or sign in on /sign-in)",
            )),
        };
    };
    let value = header.to_str().map_err(|_| ApiError::unauthenticated("Authorization header is not ASCII"))?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::unauthenticated("Authorization header must be `Bearer <token>`"))?
        .trim();
    Ok((caller_of_token(&app.config, token)?, Credential::Bearer, None))
}

/// A request authenticated by the session cookie that changes something must also carry this
/// header, which a form on another site cannot send (defence in depth beside `SameSite=Strict`).
pub const CSRF_HEADER: &str = "x-pos-csrf";

/// Routes anyone may reach: the sign-in page and the sign-in itself, and the API's description
/// (integrators read it before they have a token). They are audited all the same.
const PUBLIC_ROUTES: &[&str] = &["/sign-in", "/v1/session", "/v1/openapi.json", "/v1/docs"];

/// The probes of load balancers and service managers: reachable without credentials, and not
/// audited then (a probe every few seconds would bury the log, and they read nothing). A probe
/// that carries credentials asks for detail: it is authenticated and audited like any call.
pub const PROBE_ROUTES: &[&str] = &["/healthz", "/readyz"];

/// Pages (not the API) answer an unauthenticated browser with the sign-in page.
fn is_page(route: &str) -> bool {
    !route.starts_with("/v1/") && route != "/metrics" && route != "unmatched" && !PROBE_ROUTES.contains(&route)
}

fn has_credentials(request: &Request) -> bool {
    request.headers().contains_key(AUTHORIZATION) || session_cookie(request).is_some()
}

async fn authorize_request(
    app: &AppState,
    presented: &Presented,
    route: &str,
) -> Result<Option<(Caller, Option<SessionHash>)>, ApiError> {
    if PROBE_ROUTES.contains(&route) && !presented.any() {
        return Ok(None);
    }
    if PUBLIC_ROUTES.contains(&route) || crate::web::open_data::PUBLIC_ROUTES.contains(&route) {
        // A signed-in caller is still named in the audit record of a public route.
        return Ok(authenticate(app, presented).await.ok().map(|(caller, _, session)| (caller, session)));
    }
    let (caller, credential, session) = authenticate(app, presented).await?;
    if credential == Credential::Cookie && !presented.safe_method && !presented.csrf_header {
        return Err(ApiError::forbidden(format!("a signed-in page's request must carry the {CSRF_HEADER} header")));
    }
    Ok(Some((caller, session)))
}

fn outcome(status: u16) -> &'static str {
    match status {
        200..=399 => "ok",
        401 | 403 => "denied",
        400..=499 => "rejected",
        _ => "error",
    }
}

pub async fn authenticate_and_audit(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().to_string();
    let target = request.uri().path().to_string();
    let remote =
        request.extensions().get::<ConnectInfo<SocketAddr>>().map_or_else(|| "-".to_string(), |c| c.0.to_string());
    let request_id = request.extensions().get::<RequestId>().map(|id| id.as_str().to_string());
    let unaudited_probe = PROBE_ROUTES.contains(&route.as_str()) && !has_credentials(&request);

    let presented = Presented::of(&request);
    let caller = authorize_request(&app, &presented, &route).await;
    // Credentials that did not verify: throttled and audited in aggregate (below).
    let mut failed_authentication =
        matches!(&caller, Err(error) if error.status == StatusCode::UNAUTHORIZED) && presented.any();
    let (user_name, role) = match &caller {
        Ok(Some((caller, _))) => (caller.user.to_string(), caller.role.code().to_string()),
        _ => ("-".to_string(), "-".to_string()),
    };
    let at = app.clock.now();
    let response = match caller {
        Ok(caller) => {
            if let Some((caller, session)) = caller {
                request.extensions_mut().insert(caller);
                if let Some(session) = session {
                    request.extensions_mut().insert(session);
                }
            }
            // Every change the handler commits carries a record of who made it, in its own
            // transaction.
            let scope = AuditScope {
                at,
                user_name: user_name.clone(),
                role: role.clone(),
                action: format!("{method} {route}"),
                target: target.clone(),
                remote: remote.clone(),
                request_id: request_id.clone(),
            };
            scope.run(next.run(request)).await
        }
        Err(error) if error.status == StatusCode::UNAUTHORIZED && is_page(&route) => {
            let next_page = request.uri().path_and_query().map_or("/", |p| p.as_str());
            Redirect::to(&format!("/sign-in?next={}", url_encode(next_page))).into_response()
        }
        Err(error) => error.into_response(),
    };
    if route == SIGN_IN_ROUTE && response.status() == StatusCode::UNAUTHORIZED {
        failed_authentication = true;
    }
    let response = if failed_authentication {
        refused_authentication(&app, &request_source(&remote), &route, &target, &method, response)
    } else {
        response
    };

    let status = response.status().as_u16();
    let labels = [("route", route.clone()), ("method", method.clone()), ("status", status.to_string())];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route.clone()).record(started.elapsed());
    if status == 401 || status == 403 {
        metrics::counter!("http_requests_denied_total", "route" => route.clone()).increment(1);
    }

    if unaudited_probe || failed_authentication {
        return response;
    }
    let entry = AuditEntry {
        at,
        user_name,
        role,
        action: format!("{method} {route}"),
        target,
        remote,
        status,
        outcome: outcome(status).to_string(),
        detail: response.extensions().get::<AuditDetail>().map(|d| d.0.clone()).unwrap_or_default(),
        request_id,
        kind: RecordKind::Request,
    };
    // Queued for the writer's next group commit: a read or a refusal costs no write transaction
    // of its own. A failure to write it is logged and counted there.
    audit::record(&app.journal, entry);
    response
}

/// The sign-in route: a wrong token there is a failed authentication like a wrong bearer token.
pub const SIGN_IN_ROUTE: &str = "/v1/session";

/// The source address of a connection's `ip:port` text.
fn request_source(remote: &str) -> Option<std::net::IpAddr> {
    remote.parse::<SocketAddr>().ok().map(|address| address.ip())
}

/// A request whose credentials did not verify: counted against its source (and the register a
/// device route names), answered `429` once they are past their allowance, and gathered for the
/// aggregated audit record instead of one write of its own.
fn refused_authentication(
    app: &AppState,
    source: &Option<std::net::IpAddr>,
    route: &str,
    target: &str,
    method: &str,
    response: Response,
) -> Response {
    let mut keys = Vec::new();
    if let Some(source) = source {
        keys.push(ThrottleKey::Source(*source));
    }
    if route.starts_with("/v1/devices/{register}") {
        if let Some(register) = target.split('/').nth(3) {
            keys.push(ThrottleKey::Register(register.to_string()));
        }
    }
    let wait = app.throttle.failed(&keys, Instant::now());
    metrics::counter!("auth_failures_total", "route" => route.to_string()).increment(1);
    let source = source.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    app.throttle.note_refusal(source, app.clock.now(), &format!("{method} {route}"), wait.is_some());
    match wait {
        Some(wait) => super::throttle::too_many(wait),
        None => response,
    }
}

/// Percent-encodes a query value (the `next` page after signing in).
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::url_encode;

    #[test]
    fn url_encode_keeps_paths_and_escapes_the_rest() {
        assert_eq!(url_encode("/register?register=R0101"), "/register%3Fregister%3DR0101");
        assert_eq!(url_encode("/a b&c"), "/a%20b%26c");
    }
}
