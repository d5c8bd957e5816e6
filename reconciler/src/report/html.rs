//! The printable daily report: one self-contained HTML page (inline CSS, no scripts, no
//! external assets), Japanese headings with English beside them, A4 print styles.

use std::fmt::Write;

use pos_core::Yen;

use super::{DayReport, ExceptionsReport};
use crate::describe;

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
    format!("<td class=\"amount\">{}</td>", escape(&describe::yen_ja(value)))
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

/// The exceptions as a table: kind, records, amount at stake, what was found and what to do,
/// each in Japanese with the English beneath.
pub fn exceptions_table(exceptions: &ExceptionsReport) -> String {
    if exceptions.rows.is_empty() {
        return "<p class=\"none\">例外なし / No exceptions.</p>".to_string();
    }
    let mut table = String::from("<table>");
    table.push_str(&header(&["種別 / kind", "対象 / records", "金額 / at stake", "内容 / detail", "対応 / action"]));
    for row in &exceptions.rows {
        let _ = write!(
            table,
            "<tr><td>{}<br><small>{}</small></td>{}{}<td>{}<br><small>{}</small></td><td>{}<br><small>{}</small></td></tr>",
            escape(&row.name_ja),
            escape(&row.name_en),
            text(&row.records.join("、")),
            amount(row.amount_at_stake),
            escape(&row.detail_ja),
            escape(&row.detail_en),
            escape(&row.action_ja),
            escape(&row.action_en)
        );
    }
    let _ = write!(
        table,
        "<tr class=\"total\"><td colspan=\"2\">合計 / Total</td>{}<td colspan=\"2\"></td></tr></table>",
        amount(exceptions.amount_at_stake_total)
    );
    table
}

/// A shift as the register's clerks know it: by when it was opened.
fn shift_name(shift: &super::ShiftRow) -> String {
    shift.opened_at.clone().unwrap_or_else(|| shift.shift.clone())
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
        "シフト（開始） / shift (opened)",
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
            text(&shift_name(shift)),
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
    let deposit = match &cash.deposit_bank_line {
        Some(line) => format!("入金確認済（{line}） / found in the bank statement"),
        None => "未確認 / not yet seen".to_string(),
    };
    let _ = write!(page, "<p>預入期限 / deposit due on {}: {}</p>", cash.deposit_due_on, escape(&deposit));

    let _ = write!(page, "<h2>返金 / Refunds</h2>");
    if report.refunds.rows.is_empty() {
        page.push_str("<p class=\"none\">返金なし / No refunds.</p>");
    } else {
        page.push_str("<table>");
        page.push_str(&header(&["返金 / refund", "会計処理 / booking", "歳入科目 / account", "金額 / amount"]));
        for row in &report.refunds.rows {
            for allocation in &row.allocations {
                let account = allocation.revenue_account.clone().unwrap_or_else(|| "未特定 / unknown".to_string());
                let _ = write!(
                    page,
                    "<tr><td>{}<br><small>{}</small></td>{}{}{}</tr>",
                    escape(&row.description_ja),
                    escape(&row.description_en),
                    text(&format!("{}（{} 年度分）", row.book_name_ja, row.original_fiscal_year)),
                    text(&account),
                    amount(allocation.amount)
                );
            }
        }
        let _ = write!(
            page,
            "<tr class=\"total\"><td colspan=\"3\">合計 / Total</td>{}</tr></table>",
            amount(report.refunds.amount_total)
        );
    }

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
        "うち照合中 / in suspense",
        "うち手数料仮払 / fee held",
        "未収金 / receivable",
    ]));
    for row in &cashless.payouts {
        let payout = row.payout_id.clone().unwrap_or_default();
        let closing = if row.in_closing_period { " (出納整理期間)" } else { "" };
        let _ = write!(
            page,
            "<tr>{}{}{}<td class=\"amount\">{}</td>{}{}{}{}{}{}</tr>",
            text(&row.acquirer_name),
            text(&payout),
            text(&format!("{}{closing}", row.payout_date)),
            row.lines_count,
            amount(row.gross),
            amount(row.fee),
            amount(row.net),
            amount(row.differences),
            amount(row.fee_held),
            amount(row.receivable)
        );
    }
    for row in &cashless.unpaid {
        let _ = write!(
            page,
            "<tr>{}{}<td colspan=\"7\" class=\"none\">未入金（期日待ち・未精算） / in no payout yet</td>{}</tr>",
            text(&row.acquirer_name),
            text(""),
            amount(row.net)
        );
    }
    let _ = write!(
        page,
        "<tr class=\"total\"><td colspan=\"4\">合計 / Total</td>{}{}{}<td colspan=\"2\"></td>{}</tr></table>",
        amount(cashless.gross_total),
        amount(cashless.fee_total),
        amount(cashless.net_total),
        amount(cashless.receivable_total)
    );
    let _ = write!(
        page,
        "<p>契約手数料 / contracted fees {}</p>",
        escape(&describe::yen_ja(cashless.fee_contracted_total))
    );

    let _ = write!(page, "<h2>期日未到来 / Due, not late ({} 件)</h2>", report.due.count);
    if report.due.rows.is_empty() {
        page.push_str("<p class=\"none\">なし / None.</p>");
    } else {
        page.push_str("<table>");
        page.push_str(&header(&["期日 / due on", "内容 / what", "金額 / amount"]));
        for row in &report.due.rows {
            let _ = write!(
                page,
                "<tr>{}<td>{}<br><small>{}</small></td>{}</tr>",
                text(&row.due_on.to_string()),
                escape(&row.description_ja),
                escape(&row.description_en),
                amount(row.amount)
            );
        }
        page.push_str("</table>");
    }

    let difference = &report.difference;
    let _ = write!(page, "<h2>差額 / Net difference</h2><table>");
    page.push_str(&header(&["項目 / item", "金額 / amount"]));
    for (label, value) in [
        ("精算額（売上・返金・取消） / settled gross", difference.settled_gross),
        ("記録上の額（期日到来分） / the journal's, due", difference.journal_cashless.checked_neg()),
        ("契約手数料 / fees contracted", difference.fee_contracted),
        ("請求手数料 / fees charged", difference.fee_charged.checked_neg()),
        ("チャージバック・調整 / chargebacks and adjustments", difference.other_lines_net),
        ("現金過不足 / cash over-short", difference.cash_over_short),
        ("現金預入の差 / cash deposit", difference.cash_deposit_difference),
        ("照合先のない入金 / unmatched credits", difference.bank_unmatched),
    ] {
        let _ = write!(page, "<tr>{}{}</tr>", text(label), amount(value));
    }
    let _ = write!(
        page,
        "<tr class=\"total\"><td>差額（例外の合計） / net difference (the exceptions' sum)</td>{}</tr></table>",
        amount(difference.net_difference)
    );

    let exceptions = &report.exceptions;
    let _ = write!(page, "<h2>例外 / Exceptions ({} 件)</h2>", exceptions.count);
    page.push_str(&exceptions_table(exceptions));
    page.push_str("</body></html>\n");
    page
}
