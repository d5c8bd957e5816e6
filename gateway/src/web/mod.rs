//! The pages people use — the register, treasury's day board, daily report and exceptions, and
//! the analytics — served by the gateway as plain HTML with a little script and no external
//! assets, so they load on a counter with no internet. Every figure a page shows comes from the
//! HTTP API the page calls with its session cookie; the pages bypass nothing.
//!
//! A page is refused on the server too: the route checks the caller's role (and register)
//! before any HTML goes out, so a clerk cannot even load a treasury page. Japanese by default,
//! English by a switch that the browser remembers.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use pos_config::Role;
use pos_core::RegisterId;
use serde::Deserialize;

use crate::access::Caller;
use crate::AppState;

mod monthly;
pub mod open_data;

const COMMON_CSS: &str = include_str!("assets/common.css");
const COMMON_JS: &str = include_str!("assets/common.js");
const REGISTER_JS: &str = include_str!("assets/register.js");
const TREASURY_JS: &str = include_str!("assets/treasury.js");
const ANALYTICS_JS: &str = include_str!("assets/analytics.js");
const SIGN_IN_JS: &str = include_str!("assets/sign_in.js");
const APPROVALS_JS: &str = include_str!("assets/approvals.js");

const REGISTER_HTML: &str = include_str!("assets/register.html");
const TREASURY_HTML: &str = include_str!("assets/treasury.html");
const REPORT_HTML: &str = include_str!("assets/report.html");
const EXCEPTIONS_HTML: &str = include_str!("assets/exceptions.html");
const ANALYTICS_HTML: &str = include_str!("assets/analytics.html");
const SIGN_IN_HTML: &str = include_str!("assets/sign_in.html");
const APPROVALS_HTML: &str = include_str!("assets/approvals.html");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in))
        .route("/register", get(register))
        .route("/treasury", get(treasury))
        .route("/treasury/report", get(report))
        .route("/treasury/exceptions", get(exceptions))
        .route("/analytics", get(analytics))
        .route("/approvals", get(approvals))
        .route("/reports/monthly", get(monthly::page))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Which page a nav link is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nav {
    Register,
    Approvals,
    Treasury,
    Exceptions,
    Analytics,
    Reports,
    None,
}

fn nav_links(caller: Option<&Caller>, current: Nav) -> String {
    let Some(caller) = caller else { return String::new() };
    let mut links = Vec::new();
    if matches!(caller.role, Role::Clerk | Role::Operator) {
        links.push((Nav::Register, "/register", "nav.register", "レジ"));
    }
    if matches!(caller.role, Role::Operator | Role::Treasury) {
        links.push((Nav::Approvals, "/approvals", "nav.approvals", "承認"));
    }
    if caller.role == Role::Treasury {
        links.push((Nav::Treasury, "/treasury", "nav.treasury", "会計課"));
        links.push((Nav::Exceptions, "/treasury/exceptions", "nav.exceptions", "例外"));
    }
    if matches!(caller.role, Role::Treasury | Role::Admin | Role::Operator) {
        links.push((Nav::Analytics, "/analytics", "nav.analytics", "分析"));
        links.push((Nav::Reports, "/reports/monthly", "nav.reports", "月次報告"));
    }
    links
        .into_iter()
        .map(|(nav, href, key, text)| {
            let current = if nav == current { r#" aria-current="page""# } else { "" };
            format!(r#"<a href="{href}" data-i18n="{key}"{current}>{text}</a>"#)
        })
        .collect()
}

fn layout(app: &AppState, caller: Option<&Caller>, current: Nav, title: &str, body: &str, script: &str) -> String {
    let user = caller.map_or(String::new(), |c| {
        format!(
            r#"<span class="muted" id="who">{} ({})</span><button type="button" id="sign-out" data-i18n="nav.signout">サインアウト</button>"#,
            escape(c.user.as_str()),
            c.role.code()
        )
    });
    format!(
        r#"<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — {city}</title><style>{COMMON_CSS}</style></head>
<body><header><span class="city">{city}</span><nav>{nav}</nav>
<span class="row"><button type="button" data-lang="ja" aria-pressed="true">日本語</button><button type="button" data-lang="en" aria-pressed="false">English</button></span>
{user}</header>
<main id="main">{body}</main>
<script>{COMMON_JS}</script><script>{script}</script></body></html>"#,
        title = escape(title),
        city = escape(&app.config.city.name_ja),
        nav = nav_links(caller, current),
    )
}

fn forbidden(app: &AppState, caller: &Caller, why: &str) -> Response {
    let body = format!(
        r#"<h1 data-i18n="forbidden">このページを表示する権限がありません</h1><p class="error" id="forbidden">{}</p>"#,
        escape(why)
    );
    (StatusCode::FORBIDDEN, Html(layout(app, Some(caller), Nav::None, "403", &body, ""))).into_response()
}

async fn home(Extension(caller): Extension<Caller>) -> Redirect {
    Redirect::to(match caller.role {
        Role::Clerk | Role::Operator => "/register",
        Role::Treasury => "/treasury",
        Role::Admin | Role::Device | Role::Metrics => "/analytics",
    })
}

async fn sign_in(State(app): State<AppState>) -> Html<String> {
    Html(layout(&app, None, Nav::None, "サインイン", SIGN_IN_HTML, SIGN_IN_JS))
}

#[derive(Debug, Deserialize)]
pub struct RegisterQuery {
    #[serde(default)]
    register: Option<String>,
}

async fn register(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<RegisterQuery>,
) -> Response {
    if !matches!(caller.role, Role::Clerk | Role::Operator) {
        return forbidden(
            &app,
            &caller,
            &format!("the register is for clerks and operators; {} is {}", caller.user, caller.role.code()),
        );
    }
    if let Some(text) = query.register.as_deref() {
        let allowed = RegisterId::parse(text)
            .ok()
            .and_then(|id| app.config.register(&id).map(|(facility, _)| (facility.clone(), id)))
            .is_some_and(|(facility, id)| caller.require_register(&facility, &id).is_ok());
        if !allowed {
            return forbidden(&app, &caller, &format!("{} may not work register {text}", caller.user));
        }
    }
    Html(layout(&app, Some(&caller), Nav::Register, "レジ", REGISTER_HTML, REGISTER_JS)).into_response()
}

fn treasury_only(app: &AppState, caller: &Caller) -> Option<Response> {
    (caller.role != Role::Treasury).then(|| {
        forbidden(app, caller, &format!("treasury pages are for treasury; {} is {}", caller.user, caller.role.code()))
    })
}

async fn treasury(State(app): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    treasury_only(&app, &caller).unwrap_or_else(|| {
        Html(layout(&app, Some(&caller), Nav::Treasury, "会計課", TREASURY_HTML, TREASURY_JS)).into_response()
    })
}

async fn report(State(app): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    treasury_only(&app, &caller).unwrap_or_else(|| {
        Html(layout(&app, Some(&caller), Nav::Treasury, "日計表", REPORT_HTML, TREASURY_JS)).into_response()
    })
}

async fn exceptions(State(app): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    treasury_only(&app, &caller).unwrap_or_else(|| {
        Html(layout(&app, Some(&caller), Nav::Exceptions, "例外", EXCEPTIONS_HTML, TREASURY_JS)).into_response()
    })
}

async fn analytics(State(app): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    if !matches!(caller.role, Role::Treasury | Role::Admin | Role::Operator) {
        return forbidden(
            &app,
            &caller,
            &format!("analytics are for treasury, admin and operators; {} is {}", caller.user, caller.role.code()),
        );
    }
    Html(layout(&app, Some(&caller), Nav::Analytics, "分析", ANALYTICS_HTML, ANALYTICS_JS)).into_response()
}

/// The supervisors' page: refund requests to decide and one-time approval codes.
async fn approvals(State(app): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    if !matches!(caller.role, Role::Operator | Role::Treasury) {
        return forbidden(
            &app,
            &caller,
            &format!(
                "refund approvals are for supervisors (operators, treasury); {} is {}",
                caller.user,
                caller.role.code()
            ),
        );
    }
    Html(layout(&app, Some(&caller), Nav::Approvals, "返金の承認", APPROVALS_HTML, APPROVALS_JS)).into_response()
}
