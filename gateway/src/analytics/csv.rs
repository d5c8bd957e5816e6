//! A chart's figures as CSV, written with the reconciler's writer (UTF-8 with BOM, CRLF, cells
//! Excel would take for formulas guarded) so treasury's downloads all open the same way: a
//! header row in the language asked for, one line per row, and a last `合計 / Total` line.

use reconciler::report::csv::Table;

use super::request::Lang;
use super::table::ChartTable;

/// The first cell of the totals line.
pub const TOTAL_LABEL: &str = "合計 / Total";

pub fn render(table: &ChartTable, lang: Lang) -> Vec<u8> {
    let header: Vec<&str> = table.columns.iter().map(|column| column.label(lang)).collect();
    let mut csv = Table::new(&header);
    for row in &table.rows {
        csv.row(row.iter().map(|value| value.text()).collect());
    }
    // Totals go under their own columns; the first column carries the label unless it holds a
    // total itself.
    let mut totals: Vec<String> = table
        .columns
        .iter()
        .map(|column| {
            table
                .totals
                .iter()
                .find(|(total, _)| total.key == column.key)
                .map(|(_, value)| value.text())
                .unwrap_or_default()
        })
        .collect();
    if let Some(first) = totals.first_mut().filter(|first| first.is_empty()) {
        *first = TOTAL_LABEL.to_string();
    }
    csv.row(totals);
    csv.to_bytes()
}
