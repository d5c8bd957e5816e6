//! CSV for Excel: UTF-8 with a byte-order mark (so Excel reads the Japanese headings as UTF-8),
//! CRLF line ends, one file per section of a report. Each file has one header row (Japanese /
//! English), its lines, and a last row `合計 / Total` with the section's totals.
//!
//! A day report is four files: `<facility>-<date>-revenue.csv`, `-cash.csv`, `-cashless.csv` and
//! `-exceptions.csv` ([`day_report_files`]). Separate files rather than one sectioned file,
//! because each then opens in Excel as one table that sorts and filters without care.
//! Text that Excel would take as a formula (starting with `=`, `+`, `@`) is prefixed with `'`.

use pos_core::Yen;

use super::accounting::JournalEntry;
use super::summary::{CitySummary, OperatorSummary};
use super::DayReport;

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

fn quoted(cell: &str) -> String {
    let guarded = if cell.starts_with(['=', '+', '@']) { format!("'{cell}") } else { cell.to_string() };
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

/// The four files of a day report: (file name, bytes).
pub fn day_report_files(report: &DayReport) -> Vec<(String, Vec<u8>)> {
    let stem = format!("{}-{}", report.facility, report.business_date);
    vec![
        (format!("{stem}-revenue.csv"), revenue(report).to_bytes()),
        (format!("{stem}-cash.csv"), cash(report).to_bytes()),
        (format!("{stem}-cashless.csv"), cashless(report).to_bytes()),
        (format!("{stem}-exceptions.csv"), exceptions(report).to_bytes()),
    ]
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
            row.method.map_or("未決済 / unsettled", |method| method.code()).to_string(),
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
        "シフト / shift",
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
            shift.shift.clone(),
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
            amount(row.receivable),
            if row.in_closing_period { "yes" } else { "" }.to_string(),
        ]);
    }
    let section = &report.cashless;
    let lines: u64 = section.payouts.iter().map(|row| row.lines_count).sum();
    table.row(vec![
        TOTAL.into(),
        String::new(),
        String::new(),
        lines.to_string(),
        amount(section.gross_total),
        amount(section.fee_total),
        amount(section.net_total),
        amount(section.receivable_total),
        String::new(),
    ]);
    table
}

pub fn exceptions(report: &DayReport) -> Table {
    let mut table = Table::new(&[
        "種別 / kind",
        "名称 / name",
        "対象 / records",
        "金額 / amount at stake",
        "内容 / detail",
        "対応 / suggested action",
    ]);
    for row in &report.exceptions.rows {
        table.row(vec![
            row.kind.clone(),
            row.name_ja.clone(),
            row.records.join("; "),
            amount(row.amount_at_stake),
            row.detail.clone(),
            row.suggested_action.clone(),
        ]);
    }
    let section = &report.exceptions;
    table.row(vec![
        TOTAL.into(),
        section.count.to_string(),
        String::new(),
        amount(section.amount_at_stake_total),
        String::new(),
        String::new(),
    ]);
    table
}

const SUMMARY_HEADER: [&str; 12] = [
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
    let mut table = Table::new(&["date", "account_code", "debit", "credit", "amount", "facility", "description"]);
    for entry in entries {
        table.row(vec![
            entry.date.to_string(),
            entry.account_code.clone(),
            amount(entry.debit),
            amount(entry.credit),
            amount(entry.amount),
            entry.facility.to_string(),
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
        let mut table = Table::new(&["a", "b"]);
        table.row(vec!["1".into(), "2".into()]);
        assert_eq!(table.to_bytes(), b"\xEF\xBB\xBFa,b\r\n1,2\r\n");
    }
}
