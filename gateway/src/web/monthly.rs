//! `/reports/monthly`: the cashless programme's monthly report as a page that prints as a
//! document (A4, the header and buttons left out, sections kept whole). Rendered on the server
//! from [`crate::api::reports::monthly_view`] — the very report `/v1/reports/monthly` answers —
//! with the charts drawn by the analytics' SVG module, so it prints without script.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use serde_json::Value as Json;

use super::{escape, forbidden, layout, Nav};
use crate::access::Caller;
use crate::analytics::svg;
use crate::api::extract::QueryParams;
use crate::api::reports::monthly_view;
use crate::AppState;

const PRINT_CSS: &str = "<style>
.report section { margin: 1.2rem 0; }
.report .chart svg { max-width: 100%; height: auto; }
.report tr.flag td { background: #fdecea; }
.report .lead { font-size: 1.1rem; }
@media print {
  @page { size: A4; margin: 12mm; }
  .report section { break-inside: avoid; }
  .report h1 { font-size: 16pt; }
  .report table { font-size: 9pt; }
}
</style>";

const PRINT_JS: &str = r#""use strict";
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print");
  if (button) button.addEventListener("click", () => window.print());
});"#;

fn text(value: &Json) -> String {
    match value {
        Json::Null => "—".to_string(),
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn percent(value: &Json) -> String {
    match value {
        Json::Null => "—".to_string(),
        other => format!("{} %", text(other)),
    }
}

fn points(value: &Json) -> String {
    match value.as_str() {
        None => "—".to_string(),
        Some(points) if points.starts_with('-') => format!("{points} pt"),
        Some(points) => format!("+{points} pt"),
    }
}

fn split_row(label: &str, split: &Json) -> String {
    format!(
        "<tr><th>{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        escape(label),
        text(&split["count_total"]),
        text(&split["count_cashless"]),
        percent(&split["share_count_percent"]),
        text(&split["amount_total"]),
        text(&split["amount_cashless"]),
        percent(&split["share_amount_percent"]),
    )
}

fn body(report: &Json, charts: [String; 3]) -> String {
    let month = text(&report["month"]);
    let city = &report["city"];
    let [trend_svg, facilities_svg, fees_svg] = charts;
    let scope = if report["scope"]["whole_city"].as_bool().unwrap_or(false) {
        "キャッシュレス比率（全市） / City-wide cashless share".to_string()
    } else {
        let ids: Vec<String> = report["scope"]["facilities"].as_array().into_iter().flatten().map(text).collect();
        escape(&format!(
            "キャッシュレス比率（対象施設: {}） / Cashless share of the facilities covered",
            ids.join(", ")
        ))
    };
    let mut html = format!(
        r#"<div class="report"><h1>キャッシュレス推進 月次報告 {month} <span class="muted">Cashless programme, monthly report</span></h1>
<form class="panel row noprint" method="get" action="/reports/monthly"><label>対象月 <input type="month" name="month" value="{month}"></label>
<button type="submit" class="primary">表示</button><button type="button" id="print">印刷 / Print</button>
<a class="button" href="/v1/reports/monthly?month={month}">JSON</a></form>
<section id="city"><h2>{scope}</h2>
<table><thead><tr><th></th><th class="num">総件数</th><th class="num">キャッシュレス件数</th><th class="num">比率（件数）</th><th class="num">総額（円）</th><th class="num">キャッシュレス金額（円）</th><th class="num">比率（金額）</th></tr></thead><tbody>
{}{}{}</tbody></table>
<p class="lead">前月比 {} （件数 {}）、前年同月比 {} （件数 {}）</p>
<table><thead><tr><th>国の目標 / National target</th><th class="num">目標</th><th class="num">目標との差（金額比率）</th></tr></thead><tbody>"#,
        split_row("当月 / This month", &city["month"]),
        split_row("前月 / Month before", &city["previous_month"]),
        split_row("前年同月 / Year before", &city["year_before"]),
        points(&city["month_over_month"]["share_amount_points"]),
        points(&city["month_over_month"]["share_count_points"]),
        points(&city["year_over_year"]["share_amount_points"]),
        points(&city["year_over_year"]["share_count_points"]),
    );
    for target in report["targets"].as_array().into_iter().flatten() {
        html.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\">{} %</td><td class=\"num\">{}</td></tr>",
            escape(&text(&target["name"])),
            escape(&text(&target["percent"])),
            points(&target["gap_share_amount_points"]).replace('+', ""),
        ));
    }
    html.push_str(&format!("</tbody></table><div class=\"chart\" id=\"trend-chart\">{trend_svg}</div></section>"));

    let cash = &report["cash_handling"];
    html.push_str(&format!(
        r#"<section id="cash-handling"><h2>現金取扱いの削減 / Cash handling avoided</h2>
<p class="lead"><strong id="hours">{} 時間</strong>（キャッシュレス決済のあった施設・日 {} × {} 分）。キャッシュレスに置き換わった決済 {} 件。</p>
<p class="muted">{}</p></section>"#,
        escape(&text(&cash["hours"])),
        escape(&text(&cash["facility_days_with_cashless"])),
        escape(&text(&cash["minutes_per_facility_day"])),
        escape(&text(&cash["cash_payments_replaced"])),
        escape(&text(&cash["formula"])),
    ));

    html.push_str(
        r#"<section id="facilities"><h2>施設別 / Facilities</h2><table><thead><tr><th>施設</th><th>運営</th><th class="num">総件数</th><th class="num">比率（件数）</th><th class="num">比率（金額）</th><th class="num">前月比</th><th class="num">前年同月比</th><th class="num">キャッシュレスのあった日</th><th>遅れ</th></tr></thead><tbody>"#,
    );
    for facility in report["facilities"].as_array().into_iter().flatten() {
        let lagging = facility["lagging"].as_bool().unwrap_or(false);
        html.push_str(&format!(
            "<tr{} data-facility=\"{}\"><td>{} {}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            if lagging { " class=\"flag\"" } else { "" },
            escape(&text(&facility["facility_id"])),
            escape(&text(&facility["facility_id"])),
            escape(&text(&facility["name"])),
            escape(&text(&facility["owner"])),
            text(&facility["month"]["count_total"]),
            percent(&facility["month"]["share_count_percent"]),
            percent(&facility["month"]["share_amount_percent"]),
            points(&facility["month_over_month"]["share_amount_points"]),
            points(&facility["year_over_year"]["share_amount_points"]),
            text(&facility["cashless_days"]),
            if lagging { "遅れ / lagging" } else { "" },
        ));
    }
    html.push_str(&format!("</tbody></table><div class=\"chart\">{facilities_svg}</div>"));
    let lagging: Vec<String> = report["lagging"].as_array().into_iter().flatten().map(|id| escape(&text(id))).collect();
    html.push_str(&format!(
        "<p id=\"lagging\">全市の比率（金額）より {} ポイント以上低い施設: {}</p></section>",
        escape(&text(&report["lagging_below_city_points"])),
        if lagging.is_empty() { "なし / none".to_string() } else { lagging.join(", ") },
    ));

    html.push_str(&format!(
        r#"<section id="fees"><h2>決済手数料 / Fees</h2><div class="chart">{fees_svg}</div>
<h3>手数料項目別 / Per fee item（1件あたり手数料が {} 円以上を強調）</h3>
<table><thead><tr><th>手数料項目</th><th class="num">件数</th><th class="num">金額（円）</th><th class="num">キャッシュレス件数</th><th class="num">手数料（円）</th><th class="num">1件あたり（円）</th><th></th></tr></thead><tbody>"#,
        escape(&text(&report["fee_per_payment_high_yen"])),
    ));
    for item in report["fees_by_item"].as_array().into_iter().flatten() {
        let high = item["high_fee_per_payment"].as_bool().unwrap_or(false);
        html.push_str(&format!(
            "<tr{} data-fee-item=\"{}\"><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            if high { " class=\"flag\"" } else { "" },
            escape(&text(&item["fee_item"])),
            escape(&text(&item["name"])),
            text(&item["count"]),
            text(&item["amount"]),
            text(&item["cashless_payments"]),
            text(&item["fee"]),
            text(&item["fee_per_payment"]),
            if high { "高額 / high" } else { "" },
        ));
    }
    html.push_str(&format!(
        "</tbody></table></section><p class=\"muted\">比率は小数第1位に四捨五入（{}）。件数・金額は完了した決済（返金は差し引かない）。出典：本システムの決済記録。</p></div>",
        escape(&text(&report["percent_rounding"])),
    ));
    html
}

pub(super) async fn page(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    QueryParams(params): QueryParams<BTreeMap<String, String>>,
) -> Response {
    let view = match monthly_view(&app, &caller, &params).await {
        Ok(view) => view,
        Err(error) if error.status == axum::http::StatusCode::FORBIDDEN => {
            return forbidden(&app, &caller, &error.message)
        }
        Err(error) => return error.into_response(),
    };
    let charts = [
        svg::render(&view.trend.0, &view.trend.1),
        svg::render(&view.facilities.0, &view.facilities.1),
        svg::render(&view.fees_by_brand.0, &view.fees_by_brand.1),
    ];
    let body = format!("{PRINT_CSS}{}", body(&view.report, charts));
    let title = format!("月次報告 {}", view.month);
    Html(layout(&app, Some(&caller), Nav::Reports, &title, &body, PRINT_JS)).into_response()
}
