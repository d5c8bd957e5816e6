//! CSV for Excel: UTF-8 with a byte-order mark (so Excel reads the Japanese headings as UTF-8),
//! CRLF line ends, one file per section of a report. Each file has one header row (Japanese /
//! English), its lines, and a last row `合計 / Total` with the section's totals.
//!
//! A day report is seven files: `<facility>-<date>-revenue.csv`, `-refunds.csv`, `-cash.csv`,
//! `-cashless.csv`, `-due.csv`, `-difference.csv` and `-exceptions.csv` ([`day_report_files`]);
//! a run's bank statement two: `<stem>-bank-lines.csv` and `<stem>-city-exceptions.csv`. Separate files rather than one sectioned file,
//! because each then opens in Excel as one table that sorts and filters without care.
//! Text that Excel would take as a formula (starting with `=`, `+`, `@`) is prefixed with `'`.

use pos_core::Yen;

use super::accounting::JournalEntry;
use super::bank::BankReport;
use super::summary::{CitySummary, OperatorSummary};
use super::{DayReport, ExceptionsReport};

pub const UTF8_BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// One table, rendered as a CSV file.
#[derive(Debug, Clone, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table { rows: vec![header.iter().map(|cell| cell.to_string()).collect()] }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The file's bytes: BOM, then each row ended by CRLF.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut text = String::new();
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|cell| quoted(cell)).collect();
            text.push_str(&cells.join(","));
            text.push_str("\r\n");
        }
        let mut bytes = UTF8_BYTE_ORDER_MARK.to_vec();
        bytes.extend_from_slice(text.as_bytes());
        bytes
    }
}

/// Whether a cell is a plain number (`-300`, `12.5`), which Excel must keep reading as one.
fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit()) && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// The first characters with which a spreadsheet may take a cell for a formula (OWASP's list):
/// such a cell is written with a leading `'`, unless it is a plain (negative) number.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn quoted(cell: &str) -> String {
    let guarded =
        if cell.starts_with(FORMULA_STARTS) && !is_plain_number(cell) { format!("'{cell}") } else { cell.to_string() };
    if guarded.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// An amount as a plain number, which Excel sums.
pub fn amount(value: Yen) -> String {
    value.get().to_string()
}

fn optional_amount(value: Option<Yen>) -> String {
    value.map(amount).unwrap_or_default()
}

const TOTAL: &str = "合計 / Total";

/// The sections of a day report, by the name its file and the API use.
pub const DAY_REPORT_SECTIONS: [&str; 7] =
    ["revenue", "refunds", "cash", "cashless", "due", "difference", "exceptions"];

/// One section of a day report, by its name in [`DAY_REPORT_SECTIONS`].
pub fn day_report_section(report: &DayReport, section: &str) -> Option<Table> {
    match section {
        "revenue" => Some(revenue(report)),
        "refunds" => Some(refunds(report)),
        "cash" => Some(cash(report)),
        "cashless" => Some(cashless(report)),
        "due" => Some(due(report)),
        "difference" => Some(difference(report)),
        "exceptions" => Some(exceptions(report)),
        _ => None,
    }
}

/// The files of a day report: (file name, bytes).
pub fn day_report_files(report: &DayReport) -> Vec<(String, Vec<u8>)> {
    let stem = format!("{}-{}", report.facility, report.business_date);
    DAY_REPORT_SECTIONS
        .iter()
        .filter_map(|section| {
            day_report_section(report, section).map(|table| (format!("{stem}-{section}.csv"), table.to_bytes()))
        })
        .collect()
}

pub fn revenue(report: &DayReport) -> Table {
    let mut table = Table::new(&[
        "歳入科目 / revenue account",
        "帰属 / owner",
        "支払方法 / method",
        "ブランド / brand",
        "件数 / lines",
        "金額 / amount",
    ]);
    for row in &report.revenue.rows {
        table.row(vec![
            row.revenue_account.clone(),
            row.owner.clone(),
            row.method.map_or("未決済 / unsettled", |method| method.name_ja()).to_string(),
            row.brand.map(|brand| brand.display_name().to_string()).unwrap_or_default(),
            row.lines_count.to_string(),
            amount(row.amount),
        ]);
    }
    let section = &report.revenue;
    table.row(vec![
        TOTAL.into(),
        String::new(),
        String::new(),
        String::new(),
        section.lines_count_total.to_string(),
        amount(section.amount_total),
    ]);
    table
}

pub fn cash(report: &DayReport) -> Table {
    let mut table = Table::new(&[
        "レジ / register",
        "シフト（開始） / shift (opened)",
        "釣銭準備金 / float",
        "現金収納 / taken",
        "現金返金 / refunded",
        "あるべき現金 / expected",
        "実査額 / counted",
        "過不足 / over-short",
        "預入額 / to deposit",
    ]);
    for shift in &report.cash.shifts {
        table.row(vec![
            shift.register.clone(),
            shift.opened_at.clone().unwrap_or_else(|| shift.shift.clone()),
            amount(shift.float_opening),
            amount(shift.cash_taken),
            amount(shift.cash_refunded),
            amount(shift.expected),
            optional_amount(shift.counted),
            optional_amount(shift.over_short),
            optional_amount(shift.to_deposit),
        ]);
    }
    let cash = &report.cash;
    table.row(vec![
        TOTAL.into(),
        String::new(),
        amount(cash.float_total),
        amount(cash.taken_total),
        amount(cash.refunded_total),
        amount(cash.expected_total),
        amount(cash.counted_total),
        amount(cash.over_short_total),
        amount(cash.to_deposit_total),
    ]);
    table
}

pub fn cashless(report: &DayReport) -> Table {
    let mut table = Table::new(&[
        "精算会社 / acquirer",
        "入金番号 / payout",
        "入金予定日 / payout date",
        "件数 / lines",
        "売上総額 / gross",
        "手数料 / fee",
        "入金額 / net",
        "収納（記録）/ takings",
        "返金（記録）/ refunds",
        "照合中差額 / differences",
        "手数料 費用 / fee expensed",
        "手数料 仮払 / fee held",
        "入金確認 / bank line",
        "未収金 / receivable",
        "出納整理期間 / closing period",
    ]);
    for row in &report.cashless.payouts {
        table.row(vec![
            row.acquirer_name.clone(),
            row.payout_id.clone().unwrap_or_default(),
            row.payout_date.to_string(),
            row.lines_count.to_string(),
            amount(row.gross),
            amount(row.fee),
            amount(row.net),
            amount(row.takings),
            amount(row.refunds),
            amount(row.differences),
            amount(row.fee_clean),
            amount(row.fee_held),
            row.bank_line.clone().unwrap_or_default(),
            amount(row.receivable),
            if row.in_closing_period { "出納整理期間 / yes" } else { "" }.to_string(),
        ]);
    }
    for row in &report.cashless.unpaid {
        let mut cells = vec![row.acquirer_name.clone(), "未入金 / in no payout yet".to_string()];
        cells.extend(std::iter::repeat_n(String::new(), 5));
        cells.extend([amount(row.takings), amount(row.refunds)]);
        cells.extend(std::iter::repeat_n(String::new(), 4));
        cells.extend([amount(row.net), String::new()]);
        table.row(cells);
    }
    let section = &report.cashless;
    let lines: u64 = section.payouts.iter().map(|row| row.lines_count).sum();
    let mut total = vec![TOTAL.into(), String::new(), String::new(), lines.to_string()];
    total.extend([amount(section.gross_total), amount(section.fee_total), amount(section.net_total)]);
    total.extend(std::iter::repeat_n(String::new(), 6));
    total.extend([amount(section.receivable_total), String::new()]);
    table.row(total);
    table
}

pub fn refunds(report: &DayReport) -> Table {
    let mut table = Table::new(&[
        "返金 / refund",
        "方法 / channel",
        "ブランド / brand",
        "会計処理 / booking",
        "元の年度 / fiscal year of the revenue",
        "歳入科目 / revenue account",
        "金額 / amount",
    ]);
    for row in &report.refunds.rows {
        for allocation in &row.allocations {
            table.row(vec![
                row.description_ja.clone(),
                if row.channel == "cash" { "現金 / cash" } else { "ブランド経由 / through the brand" }.to_string(),
                row.brand.display_name().to_string(),
                row.book_name_ja.clone(),
                row.original_fiscal_year.to_string(),
                allocation.revenue_account.clone().unwrap_or_else(|| "未特定 / unknown".to_string()),
                amount(allocation.amount),
            ]);
        }
    }
    let mut total = vec![TOTAL.into()];
    total.extend(std::iter::repeat_n(String::new(), 5));
    total.push(amount(report.refunds.amount_total));
    table.row(total);
    table
}

pub fn due(report: &DayReport) -> Table {
    let mut table = Table::new(&["期日 / due on", "理由 / reason", "内容 / what", "金額 / amount"]);
    for row in &report.due.rows {
        let reason = if row.reason == "outcome_unknown" {
            "処理未了 / outcome unknown"
        } else {
            "精算待ち / settlement"
        };
        table.row(vec![row.due_on.to_string(), reason.to_string(), row.description_ja.clone(), amount(row.amount)]);
    }
    table.row(vec![TOTAL.into(), report.due.count.to_string(), String::new(), amount(report.due.amount_total)]);
    table
}

pub fn difference(report: &DayReport) -> Table {
    let difference = &report.difference;
    let mut table = Table::new(&["項目 / item", "金額 / amount"]);
    for (label, value) in [
        ("精算額（売上・返金・取消） / settled gross", difference.settled_gross),
        ("記録上の額（期日到来分） / the journal's, due", difference.journal_cashless.checked_neg()),
        ("契約手数料 / fees contracted", difference.fee_contracted),
        ("請求手数料 / fees charged", difference.fee_charged.checked_neg()),
        ("チャージバック・調整 / chargebacks and adjustments (net)", difference.other_lines_net),
        ("現金過不足 / cash over-short", difference.cash_over_short),
        ("現金預入の差 / cash deposit difference", difference.cash_deposit_difference),
        ("照合先のない入金 / unmatched credits", difference.bank_unmatched),
    ] {
        table.row(vec![label.to_string(), amount(value)]);
    }
    table.row(vec![
        format!("{TOTAL}（差額 = 例外の合計 / net difference = the exceptions' sum）"),
        amount(difference.net_difference),
    ]);
    table
}

fn exceptions_table(exceptions: &ExceptionsReport) -> Table {
    let mut table = Table::new(&[
        "種別 / kind",
        "名称 / name",
        "対象 / records",
        "金額 / amount at stake",
        "内容 / detail",
        "Detail (English)",
        "対応 / action",
        "Action (English)",
        "キー / key",
    ]);
    for row in &exceptions.rows {
        table.row(vec![
            row.kind.clone(),
            row.name_ja.clone(),
            row.records.join("、"),
            amount(row.amount_at_stake),
            row.detail_ja.clone(),
            row.detail_en.clone(),
            row.action_ja.clone(),
            row.action_en.clone(),
            row.key.clone(),
        ]);
    }
    let mut total =
        vec![TOTAL.into(), exceptions.count.to_string(), String::new(), amount(exceptions.amount_at_stake_total)];
    total.extend(std::iter::repeat_n(String::new(), 5));
    table.row(total);
    table
}

pub fn exceptions(report: &DayReport) -> Table {
    exceptions_table(&report.exceptions)
}

/// The city's list of a run.
pub fn city_exceptions(report: &BankReport) -> Table {
    exceptions_table(&report.exceptions)
}

/// Every line of the bank statement, with what it is.
pub fn bank_lines(report: &BankReport) -> Table {
    let mut table = Table::new(&[
        "ファイル / file",
        "照会番号 / reference",
        "勘定日 / booking date",
        "入払 / direction",
        "取引区分 / kind",
        "金額 / amount",
        "振込依頼人 / payer",
        "区分 / disposition",
        "内容 / what it is",
        "施設 / facility",
    ]);
    for line in &report.lines {
        table.row(vec![
            line.file.clone(),
            line.reference.clone(),
            line.booking_date.to_string(),
            if line.direction == "credit" { "入金 / credit" } else { "出金 / debit" }.to_string(),
            format!("{} {}", line.kind_code, line.kind_name_ja),
            amount(line.amount_signed),
            line.payer_name.clone(),
            line.disposition.clone(),
            line.description_ja.clone(),
            line.facility.as_ref().map(ToString::to_string).unwrap_or_default(),
        ]);
    }
    let mut total = vec![TOTAL.into(), report.lines_count.to_string()];
    total.extend(std::iter::repeat_n(String::new(), 3));
    total.push(amount(report.credits_total.checked_sub(report.debits_total).unwrap_or(Yen::ZERO)));
    total.extend(std::iter::repeat_n(String::new(), 4));
    table.row(total);
    table
}

const SUMMARY_HEADER: [&str; 13] = [
    "施設 / facility",
    "名称 / name",
    "帰属 / owner",
    "日付 / date",
    "歳入 / revenue",
    "現金あるべき額 / cash expected",
    "現金実査額 / cash counted",
    "過不足 / over-short",
    "キャッシュレス売上 / cashless gross",
    "手数料 / fees",
    "入金額 / net",
    "例外件数 / exceptions",
    "差額 / net difference",
];

fn summary_cells(row: &super::summary::FacilityRow) -> Vec<String> {
    vec![
        row.facility.clone(),
        row.name_ja.clone(),
        row.owner.clone(),
        row.business_date.clone(),
        amount(row.revenue),
        amount(row.cash_expected),
        amount(row.cash_counted),
        amount(row.over_short),
        amount(row.cashless_gross),
        amount(row.fees),
        amount(row.net),
        row.exceptions_count.to_string(),
        amount(row.net_difference),
    ]
}

pub fn city_summary(summary: &CitySummary) -> Table {
    let mut table = Table::new(&SUMMARY_HEADER);
    for row in &summary.rows {
        table.row(summary_cells(row));
    }
    let mut total = summary_cells(&summary.total);
    total[0] = TOTAL.into();
    table.row(total);
    let mut city = vec!["市全体の例外 / the city's list".to_string()];
    city.extend(std::iter::repeat_n(String::new(), 10));
    city.extend([summary.city_exceptions_count.to_string(), amount(summary.city_exceptions_amount)]);
    table.row(city);
    table
}

/// Every owner's facilities, each owner closed by its subtotal, the whole by the total.
pub fn operator_summary(summary: &OperatorSummary) -> Table {
    let mut table = Table::new(&SUMMARY_HEADER);
    for group in &summary.groups {
        for row in &group.rows {
            table.row(summary_cells(row));
        }
        let mut subtotal = summary_cells(&group.subtotal);
        subtotal[0] = format!("小計 / Subtotal {}", group.owner);
        table.row(subtotal);
    }
    let mut total = summary_cells(&summary.total);
    total[0] = TOTAL.into();
    table.row(total);
    table
}

pub fn journal_entries(entries: &[JournalEntry]) -> Table {
    let mut table =
        Table::new(&["date", "account_code", "debit", "credit", "amount", "facility", "payout", "description"]);
    for entry in entries {
        table.row(vec![
            entry.date.to_string(),
            entry.account_code.clone(),
            amount(entry.debit),
            amount(entry.credit),
            amount(entry.amount),
            entry.facility.as_ref().map(ToString::to_string).unwrap_or_default(),
            entry.payout.clone().unwrap_or_default(),
            entry.description.clone(),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_guarded() {
        assert_eq!(quoted("a,b"), "\"a,b\"");
        assert_eq!(quoted("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quoted("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(quoted("-300"), "-300");
        assert_eq!(quoted("-12.5"), "-12.5");
        assert_eq!(quoted("-2+3+cmd|' /C calc'!A0"), "'-2+3+cmd|' /C calc'!A0");
        assert_eq!(quoted("\t=1"), "'\t=1");
        assert_eq!(quoted("\r=1"), "\"'\r=1\"");
        assert_eq!(quoted("-"), "'-");
        let mut table = Table::new(&["a", "b"]);
        table.row(vec!["1".into(), "2".into()]);
        assert_eq!(table.to_bytes(), b"\xEF\xBB\xBFa,b\r\n1,2\r\n");
    }
}
