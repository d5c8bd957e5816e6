//! The public open-data page: `/open-data` lists the published months with their tables, the
//! licence, each table's schema and the publication history; `/open-data/{month}/{file}` serves
//! the files. Both exist only when `[open_data].public_page = true`, need no sign-in, and link
//! to nothing of the gateway but themselves: the page is its own small document, without the
//! staff pages' header, navigation or script.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::escape;
use crate::analytics::month::Month;
use crate::opendata::files::{LICENCE_TITLE, LICENCE_URL, PACKAGE_FILE};
use crate::opendata::publish::{self, History};
use crate::AppState;

/// The public routes, as the authentication layer lists them among the routes anyone may reach.
pub const PUBLIC_ROUTES: [&str; 2] = ["/open-data", "/open-data/{month}/{file}"];

/// The public routes when the configuration turns the page on; none otherwise.
pub fn routes(app: &AppState) -> Router<AppState> {
    let enabled = app.config.open_data.as_ref().is_some_and(|open| open.public_page);
    if !enabled {
        return Router::new();
    }
    Router::new().route(PUBLIC_ROUTES[0], get(index)).route(PUBLIC_ROUTES[1], get(file))
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such file").into_response()
}

fn failed(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "the open-data page could not read its files");
    (StatusCode::INTERNAL_SERVER_ERROR, "the published files could not be read").into_response()
}

async fn file(State(app): State<AppState>, Path((month, name)): Path<(String, String)>) -> Response {
    let (Some(open), Ok(month)) = (app.config.open_data.as_ref(), month.parse::<Month>()) else { return not_found() };
    match publish::published_file(open, month, &name).await {
        Ok(Some(bytes)) => {
            let media_type = if name.ends_with(".csv") { "text/csv; charset=utf-8" } else { "application/json" };
            ([(CONTENT_TYPE, media_type)], bytes).into_response()
        }
        Ok(None) => not_found(),
        Err(error) => failed(error),
    }
}

async fn index(State(app): State<AppState>) -> Response {
    let Some(open) = app.config.open_data.as_ref() else { return not_found() };
    let history = match publish::read_history(open).await {
        Ok(history) => history,
        Err(error) => return failed(error),
    };
    let mut months = String::new();
    for month in history.months() {
        let package = match publish::published_file(open, month, PACKAGE_FILE).await {
            Ok(Some(bytes)) => serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default(),
            Ok(None) => continue,
            Err(error) => return failed(error),
        };
        months.push_str(&month_section(month, &package));
    }
    if months.is_empty() {
        months.push_str("<p>まだ公開されたデータはありません。 / Nothing is published yet.</p>");
    }
    let city = &app.config.city;
    let html = format!(
        r#"<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>オープンデータ — {city_ja}</title>
<style>body {{ font-family: sans-serif; margin: 1.5rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }} th, td {{ border-bottom: 1px solid #ccc; padding: .3rem .5rem; text-align: left; }}</style></head>
<body><main>
<h1>{city_ja} 窓口キャッシュレス決済 オープンデータ <small>{city_en} counter payments, open data</small></h1>
<p>公開者 / Publisher: {publisher_ja}（{publisher_en}）</p>
<p>ライセンス / Licence: <a href="{LICENCE_URL}" rel="license">{LICENCE_TITLE} (CC BY 4.0)</a>。出典を明記のうえ、自由に利用できます。</p>
<p>個人や個々の決済がわかる情報は含みません。{threshold} 件未満の区分は秘匿し、合計から逆算できないよう他の区分もあわせて秘匿しています（suppressed = true）。
 No personal data: a cell of fewer than {threshold} payments is withheld, with the cells that would give it away.</p>
{months}
<h2>公開履歴 / Publication history</h2>
{history}
</main></body></html>"#,
        city_ja = escape(&city.name_ja),
        city_en = escape(&city.name_en),
        publisher_ja = escape(&open.publisher_ja),
        publisher_en = escape(&open.publisher_en),
        threshold = open.suppression_threshold_payments,
        history = history_table(&history),
    );
    Html(html).into_response()
}

fn month_section(month: Month, package: &serde_json::Value) -> String {
    let mut rows = String::new();
    for resource in package["resources"].as_array().into_iter().flatten() {
        if resource["format"].as_str() != Some("csv") {
            continue;
        }
        let path = resource["path"].as_str().unwrap_or_default();
        let json_path = path.replace(".csv", ".json");
        let schema = resource["schema"].as_str().unwrap_or_default();
        rows.push_str(&format!(
            "<tr><td>{title}</td><td><a href=\"/open-data/{month}/{path}\">CSV</a> · <a href=\"/open-data/{month}/{json}\">JSON</a></td><td><a href=\"/open-data/{month}/{schema}\">{schema}</a></td><td>{bytes}</td></tr>",
            title = escape(resource["title"].as_str().unwrap_or_default()),
            path = escape(path),
            json = escape(&json_path),
            schema = escape(schema),
            bytes = resource["bytes"].as_u64().unwrap_or(0),
        ));
    }
    format!(
        "<section data-month=\"{month}\"><h2>{month}</h2><p>メタデータ / Metadata: <a href=\"/open-data/{month}/{PACKAGE_FILE}\">{PACKAGE_FILE}</a></p>\
         <table><thead><tr><th>データセット</th><th>ファイル</th><th>スキーマ（Frictionless Table Schema）</th><th>CSV bytes</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )
}

fn history_table(history: &History) -> String {
    let mut rows = String::new();
    for publication in history.publications.iter().rev() {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            publication.month,
            escape(&publication.published_at),
            if publication.replaced { "再公開 / replaced" } else { "初回 / first" },
            publication.files.len(),
        ));
    }
    format!("<table><thead><tr><th>対象月</th><th>公開日時</th><th>種別</th><th>ファイル数</th></tr></thead><tbody>{rows}</tbody></table>")
}
