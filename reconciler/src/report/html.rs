//! The printable daily report: one self-contained HTML page (inline CSS, no scripts, no
//! external assets), Japanese headings with English beside them, A4 print styles.

use std::fmt::Write;

use pos_core::Yen;

use super::DayReport;

const STYLE: &str =
    "body{font-family:'Hiragino Kaku Gothic ProN','Yu Gothic','Noto Sans JP',sans-serif;margin:2em;color:#111}\
h1{font-size:1.4em;margin-bottom:0}h2{font-size:1.1em;border-bottom:2px solid #333;margin-top:1.6em}\
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border:1px solid #999;padding:.25em .5em}\
th{background:#eee;text-align:left}td.amount{text-align:right;font-variant-numeric:tabular-nums}\
tr.total td{font-weight:bold;border-top:2px solid #333}.meta{color:#444}.none{color:#666}\
@media print{@page{size:A4;margin:15mm}body{margin:0}h2{break-after:avoid}tr{break-inside:avoid}}";

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn amount(value: Yen) -> String {
    format!("<td class=\"amount\">{}</td>", escape(&value.to_string()))
}

fn optional_amount(value: Option<Yen>) -> String {
    value.map_or_else(|| "<td class=\"amount none\">—</td>".to_string(), amount)
}

fn text(value: &str) -> String {
    format!("<td>{}</td>", escape(value))
}

fn header(cells: &[&str]) -> String {
    let cells: String = cells.iter().map(|cell| format!("<th>{}</th>", escape(cell))).collect();
    format!("<tr>{cells}</tr>")
}

/// The page of one day report.
pub fn day_report_page(report: &DayReport) -> String {
    let mut page = String::new();
    let title = format!("日計表 / Daily report — {} {}", report.facility_name_ja, report.business_date);
    // Writing to a String cannot fail, so the results of write! are ignored throughout.
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
        escape(&title)
    );
    let _ = write!(
        page,
        "<h1>{}</h1><p class=\"meta\">{} ({}) · 施設 / facility {} · 帰属 / owner {} · 年度 / fiscal year FY{} · 基準日 / as of {}</p>",
        escape(&title),
        escape(&report.facility_name_ja),
        escape(&report.facility_name_en),
        escape(report.facility.as_str()),
        escape(&report.owner),
        report.fiscal_year,
        report.as_of
    );

    let _ = write!(page, "<h2>歳入 / Revenue by account, method and brand</h2><table>");
    page.push_str(&header(&[
        "歳入科目 / account",
        "帰属 / owner",
        "支払方法 / method",
        "ブランド / brand",
        "件数 / lines",
        "金額 / amount",
    ]));
    for row in &report.revenue.rows {
        let method = row.method.map_or("未決済 / unsettled", |method| method.name_ja());
        let brand = row.brand.map_or("", |brand| brand.display_name());
        let _ = write!(
            page,
            "<tr>{}{}{}{}<td class=\"amount\">{}</td>{}</tr>",
            text(&row.revenue_account),
            text(&row.owner),
            text(method),
            text(brand),
            row.lines_count,
            amount(row.amount)
        );
    }
    let _ = write!(
        page,
        "<tr class=\"total\"><td colspan=\"4\">合計 / Total</td><td class=\"amount\">{}</td>{}</tr></table>",
        report.revenue.lines_count_total,
        amount(report.revenue.amount_total)
    );

    let cash = &report.cash;
    let _ = write!(page, "<h2>現金 / Cash</h2><table>");
    page.push_str(&header(&[
        "レジ / register",
        "シフト / shift",
        "釣銭準備金 / float",
        "現金収納 / taken",
        "返金 / refunded",
        "あるべき現金 / expected",
        "実査額 / counted",
        "過不足 / over-short",
        "預入額 / to deposit",
    ]));
    for shift in &cash.shifts {
        let _ = write!(
            page,
            "<tr>{}{}{}{}{}{}{}{}{}</tr>",
            text(&shift.register),
            text(&shift.shift),
            amount(shift.float_opening),
            amount(shift.cash_taken),
            amount(shift.cash_refunded),
            amount(shift.expected),
            optional_amount(shift.counted),
            optional_amount(shift.over_short),
            optional_amount(shift.to_deposit)
        );
    }
    let _ = write!(
        page,
        "<tr class=\"total\"><td colspan=\"2\">合計 / Total</td>{}{}{}{}{}{}{}</tr></table>",
        amount(cash.float_total),
        amount(cash.taken_total),
        amount(cash.refunded_total),
        amount(cash.expected_total),
        amount(cash.counted_total),
        amount(cash.over_short_total),
        amount(cash.to_deposit_total)
    );
    let deposit =
        if cash.deposit_found { "入金確認済 / found in the bank statement" } else { "未確認 / not yet seen" };
    let _ = write!(page, "<p>預入期限 / deposit due on {}: {}</p>", cash.deposit_due_on, escape(deposit));

    let cashless = &report.cashless;
    let _ = write!(page, "<h2>キャッシュレス / Cashless</h2><table>");
    page.push_str(&header(&[
        "精算会社 / acquirer",
        "入金番号 / payout",
        "入金予定日 / payout date",
        "件数 / lines",
        "売上総額 / gross",
        "手数料 / fee",
        "入金額 / net",
        "未収金 / receivable",
    ]));
    for row in &cashless.payouts {
        let payout = row.payout_id.clone().unwrap_or_default();
        let closing = if row.in_closing_period { " (出納整理期間)" } else { "" };
        let _ = write!(
            page,
            "<tr>{}{}{}<td class=\"amount\">{}</td>{}{}{}{}</tr>",
            text(&row.acquirer_name),
            text(&payout),
            text(&format!("{}{closing}", row.payout_date)),
            row.lines_count,
            amount(row.gross),
            amount(row.fee),
            amount(row.net),
            amount(row.receivable)
        );
    }
    let _ = write!(
        page,
        "<tr class=\"total\"><td colspan=\"4\">合計 / Total</td>{}{}{}{}</tr></table>",
        amount(cashless.gross_total),
        amount(cashless.fee_total),
        amount(cashless.net_total),
        amount(cashless.receivable_total)
    );
    let _ = write!(
        page,
        "<p>契約手数料 / contracted fees {} · 未精算(期限内) / not yet settled, within due date: {} 件 {}</p>",
        escape(&cashless.fee_contracted_total.to_string()),
        cashless.timing_differences_count,
        escape(&cashless.timing_differences_amount.to_string())
    );

    let exceptions = &report.exceptions;
    let _ = write!(page, "<h2>例外 / Exceptions ({} 件)</h2>", exceptions.count);
    if exceptions.rows.is_empty() {
        page.push_str("<p class=\"none\">例外なし / No exceptions.</p>");
    } else {
        page.push_str("<table>");
        page.push_str(&header(&[
            "種別 / kind",
            "対象 / records",
            "金額 / at stake",
            "内容 / detail",
            "対応 / suggested action",
        ]));
        for row in &exceptions.rows {
            let _ = write!(
                page,
                "<tr><td>{}<br><small>{}</small></td>{}{}{}{}</tr>",
                escape(&row.name_ja),
                escape(&row.kind),
                text(&row.records.join("; ")),
                amount(row.amount_at_stake),
                text(&row.detail),
                text(&row.suggested_action)
            );
        }
        let _ = write!(
            page,
            "<tr class=\"total\"><td colspan=\"2\">合計 / Total</td>{}<td colspan=\"2\"></td></tr></table>",
            amount(exceptions.amount_at_stake_total)
        );
    }
    page.push_str("</body></html>\n");
    page
}
