//! A chart as one self-contained SVG document: no fonts, scripts or styles from outside, so the
//! page shows it without internet. Bar charts, the cashless-share line with the national target,
//! and the weekday × hour grid.
//!
//! Every data mark (`class="mark"`) carries the figures of its row as `data-<column>` attributes
//! and the figure it draws as `data-value`, exactly as the JSON and CSV give them, so a test or a
//! screen reader reads the numbers off the picture rather than from pixel lengths. Geometry is
//! computed in decimals like everything else; only coordinates are rounded, to one decimal.

use std::fmt::Write;

use reconciler::report::html::escape;
use rust_decimal::Decimal;

use super::request::{ChartRequest, Lang};
use super::table::{ChartTable, Plot, Value};

pub const WIDTH_PX: i64 = 960;
const MARGIN_PX: i64 = 20;
const TITLE_HEIGHT_PX: i64 = 56;
const BAR_LABEL_WIDTH_PX: i64 = 280;
const BAR_VALUE_WIDTH_PX: i64 = 140;
const BAR_ROW_HEIGHT_PX: i64 = 24;
const BAR_HEIGHT_PX: i64 = 16;
const LINE_PLOT_HEIGHT_PX: i64 = 320;
const LINE_AXIS_WIDTH_PX: i64 = 48;
const LINE_X_LABELS_MAX: usize = 12;
/// Room right of the line for the last period's label, which is centred on its point.
const LINE_RIGHT_PAD_PX: i64 = 36;
const GRID_LABEL_WIDTH_PX: i64 = 48;
const GRID_CELL_HEIGHT_PX: i64 = 28;
const COLOUR_BAR: &str = "#2f6db5";
const COLOUR_LINE: &str = "#2f6db5";
const COLOUR_TARGET: &str = "#c0392b";
const COLOUR_GRID: &str = "#1f5f9f";
const COLOUR_TEXT: &str = "#222222";
const COLOUR_AXIS: &str = "#999999";

/// A coordinate, rounded to one decimal.
fn px(value: Decimal) -> String {
    value.round_dp(1).normalize().to_string()
}

fn data_attributes(table: &ChartTable, row: &[Value], plotted: &str) -> String {
    let mut attributes = String::new();
    for (column, value) in table.columns.iter().zip(row) {
        let _ = write!(attributes, " data-{}=\"{}\"", column.key, escape(&value.text()));
        if column.key == plotted {
            let _ = write!(attributes, " data-value=\"{}\"", escape(&value.text()));
        }
    }
    attributes
}

fn cell<'a>(table: &ChartTable, row: &'a [Value], key: &str) -> Option<&'a Value> {
    table.column_index(key).and_then(|index| row.get(index))
}

fn header(out: &mut String, table: &ChartTable, request: &ChartRequest, height: i64) {
    let lang = request.lang;
    let title = table.chart.title(lang);
    let range = format!("{} – {}", request.from, request.to);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox=\"0 0 {WIDTH_PX} {height}\" \
         width=\"{WIDTH_PX}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\" fill=\"{COLOUR_TEXT}\" \
         data-chart=\"{}\">",
        table.chart.code()
    );
    let _ = write!(out, "<title>{} {}</title>", escape(title), escape(&range));
    let description =
        lang.pick("データはCSV・JSONでも取得できます。", "The same figures are available as CSV and JSON.");
    let _ = write!(out, "<desc>{}</desc>", escape(description));
    let _ = write!(out, "<rect x=\"0\" y=\"0\" width=\"{WIDTH_PX}\" height=\"{height}\" fill=\"#ffffff\"/>");
    let _ = write!(
        out,
        "<text x=\"{MARGIN_PX}\" y=\"26\" font-size=\"18\" font-weight=\"bold\">{}</text>\
         <text x=\"{MARGIN_PX}\" y=\"46\">{}</text>",
        escape(title),
        escape(&range)
    );
}

pub fn render(table: &ChartTable, request: &ChartRequest) -> String {
    match table.plot {
        Plot::Bars { label, value } => bars(table, request, label, value),
        Plot::Line { label, value, target_percent } => line(table, request, label, value, target_percent),
        Plot::Grid { rows, columns, value } => grid(table, request, rows, columns, value),
    }
}

fn empty_note(out: &mut String, lang: Lang, y: i64) {
    let text = lang.pick("該当する決済はありません", "No payments match");
    let _ = write!(out, "<text x=\"{MARGIN_PX}\" y=\"{y}\">{}</text>", escape(text));
}

fn bars(table: &ChartTable, request: &ChartRequest, label: &str, value: &str) -> String {
    let rows = table.rows.len().max(1) as i64;
    let height = TITLE_HEIGHT_PX + rows * BAR_ROW_HEIGHT_PX + 2 * MARGIN_PX;
    let mut out = String::new();
    header(&mut out, table, request, height);
    let magnitudes: Vec<Decimal> = table
        .rows
        .iter()
        .map(|row| cell(table, row, value).and_then(Value::magnitude).unwrap_or(Decimal::ZERO))
        .collect();
    let largest = magnitudes.iter().copied().max().unwrap_or(Decimal::ZERO);
    let bar_area = Decimal::from(WIDTH_PX - 2 * MARGIN_PX - BAR_LABEL_WIDTH_PX - BAR_VALUE_WIDTH_PX);
    if table.rows.is_empty() {
        empty_note(&mut out, request.lang, TITLE_HEIGHT_PX + MARGIN_PX);
    }
    for (index, (row, magnitude)) in table.rows.iter().zip(&magnitudes).enumerate() {
        let top = TITLE_HEIGHT_PX + MARGIN_PX + index as i64 * BAR_ROW_HEIGHT_PX;
        let name = cell(table, row, label).map(Value::text).unwrap_or_default();
        let length = if largest.is_zero() { Decimal::ZERO } else { *magnitude * bar_area / largest };
        let bar_x = MARGIN_PX + BAR_LABEL_WIDTH_PX;
        let text_y = top + BAR_HEIGHT_PX - 3;
        let _ = write!(out, "<text x=\"{}\" y=\"{text_y}\" text-anchor=\"end\">{}</text>", bar_x - 8, escape(&name));
        let _ = write!(
            out,
            "<rect class=\"mark\" x=\"{bar_x}\" y=\"{top}\" width=\"{}\" height=\"{BAR_HEIGHT_PX}\" fill=\"{COLOUR_BAR}\"{}>\
             <title>{}: {}</title></rect>",
            px(length),
            data_attributes(table, row, value),
            escape(&name),
            escape(&cell(table, row, value).map(Value::text).unwrap_or_default())
        );
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{text_y}\">{}</text>",
            px(Decimal::from(bar_x) + length + Decimal::from(6)),
            escape(&cell(table, row, value).map(Value::text).unwrap_or_default())
        );
    }
    out.push_str("</svg>");
    out
}

fn line(table: &ChartTable, request: &ChartRequest, label: &str, value: &str, target_percent: &str) -> String {
    let height = TITLE_HEIGHT_PX + LINE_PLOT_HEIGHT_PX + 3 * MARGIN_PX + 24;
    let mut out = String::new();
    header(&mut out, table, request, height);
    let left = Decimal::from(MARGIN_PX + LINE_AXIS_WIDTH_PX);
    let width = Decimal::from(WIDTH_PX - 2 * MARGIN_PX - LINE_AXIS_WIDTH_PX - LINE_RIGHT_PAD_PX);
    let top = Decimal::from(TITLE_HEIGHT_PX + MARGIN_PX);
    let plot_height = Decimal::from(LINE_PLOT_HEIGHT_PX);
    let bottom = top + plot_height;
    // Shares run from 0 to 100 %, always on the same scale, so charts can be compared.
    let y_of = |percent: Decimal| bottom - percent * plot_height / Decimal::ONE_HUNDRED;
    for tick in [0, 20, 40, 60, 80, 100] {
        let y = px(y_of(Decimal::from(tick)));
        let _ = write!(
            out,
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{COLOUR_AXIS}\" stroke-width=\"0.5\"/>\
             <text x=\"{}\" y=\"{y}\" text-anchor=\"end\" dy=\"4\">{tick}%</text>",
            px(left),
            px(left + width),
            px(left - Decimal::from(6))
        );
    }
    let target = target_percent.parse::<Decimal>().unwrap_or(Decimal::ZERO);
    let target_y = px(y_of(target));
    let target_label = format!("{} {target_percent}%", request.lang.pick("国の目標", "National target"));
    let _ = write!(
        out,
        "<line class=\"target\" data-value=\"{target_percent}\" x1=\"{}\" y1=\"{target_y}\" x2=\"{}\" y2=\"{target_y}\" \
         stroke=\"{COLOUR_TARGET}\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\
         <text x=\"{}\" y=\"{target_y}\" dy=\"-6\" text-anchor=\"end\" fill=\"{COLOUR_TARGET}\">{}</text>",
        px(left),
        px(left + width),
        px(left + width),
        escape(&target_label)
    );
    let count = table.rows.len();
    let step = if count > 1 { width / Decimal::from(count - 1) } else { Decimal::ZERO };
    let x_of = |index: usize| if count > 1 { left + step * Decimal::from(index) } else { left + width / Decimal::TWO };
    let points: Vec<String> = table
        .rows
        .iter()
        .enumerate()
        .map(|(index, row)| {
            let percent = cell(table, row, value).and_then(Value::magnitude).unwrap_or(Decimal::ZERO);
            format!("{},{}", px(x_of(index)), px(y_of(percent)))
        })
        .collect();
    if count > 1 {
        let _ = write!(
            out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{COLOUR_LINE}\" stroke-width=\"2\"/>",
            points.join(" ")
        );
    }
    let label_every = count.div_ceil(LINE_X_LABELS_MAX).max(1);
    for (index, row) in table.rows.iter().enumerate() {
        let percent = cell(table, row, value).and_then(Value::magnitude).unwrap_or(Decimal::ZERO);
        let name = cell(table, row, label).map(Value::text).unwrap_or_default();
        let shown = cell(table, row, value).map(Value::text).unwrap_or_default();
        let _ = write!(
            out,
            "<circle class=\"mark\" cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{COLOUR_LINE}\"{}><title>{}: {}%</title></circle>",
            px(x_of(index)),
            px(y_of(percent)),
            data_attributes(table, row, value),
            escape(&name),
            escape(&shown)
        );
        if index % label_every == 0 {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\">{}</text>",
                px(x_of(index)),
                px(bottom + Decimal::from(16)),
                escape(&name)
            );
        }
    }
    out.push_str("</svg>");
    out
}

fn grid(table: &ChartTable, request: &ChartRequest, rows_key: &str, columns_key: &str, value: &str) -> String {
    let mut row_names: Vec<String> = Vec::new();
    let mut column_names: Vec<String> = Vec::new();
    for row in &table.rows {
        let row_name = cell(table, row, rows_key).map(Value::text).unwrap_or_default();
        let column_name = cell(table, row, columns_key).map(Value::text).unwrap_or_default();
        if !row_names.contains(&row_name) {
            row_names.push(row_name);
        }
        if !column_names.contains(&column_name) {
            column_names.push(column_name);
        }
    }
    let height = TITLE_HEIGHT_PX + 20 + row_names.len() as i64 * GRID_CELL_HEIGHT_PX + 2 * MARGIN_PX;
    let mut out = String::new();
    header(&mut out, table, request, height);
    let left = MARGIN_PX + GRID_LABEL_WIDTH_PX;
    let cell_width =
        Decimal::from(WIDTH_PX - 2 * MARGIN_PX - GRID_LABEL_WIDTH_PX) / Decimal::from(column_names.len().max(1));
    let top = TITLE_HEIGHT_PX + 20 + MARGIN_PX;
    for (index, name) in column_names.iter().enumerate() {
        let x = Decimal::from(left) + cell_width * Decimal::from(index) + cell_width / Decimal::TWO;
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\">{}</text>",
            px(x),
            top - 6,
            escape(name)
        );
    }
    for (index, name) in row_names.iter().enumerate() {
        let y = top + index as i64 * GRID_CELL_HEIGHT_PX + GRID_CELL_HEIGHT_PX / 2 + 4;
        let _ = write!(out, "<text x=\"{}\" y=\"{y}\" text-anchor=\"end\">{}</text>", left - 6, escape(name));
    }
    let largest = table
        .rows
        .iter()
        .filter_map(|row| cell(table, row, value).and_then(Value::magnitude))
        .max()
        .unwrap_or(Decimal::ZERO);
    for row in &table.rows {
        let row_name = cell(table, row, rows_key).map(Value::text).unwrap_or_default();
        let column_name = cell(table, row, columns_key).map(Value::text).unwrap_or_default();
        let row_index = row_names.iter().position(|name| *name == row_name).unwrap_or_default();
        let column_index = column_names.iter().position(|name| *name == column_name).unwrap_or_default();
        let magnitude = cell(table, row, value).and_then(Value::magnitude).unwrap_or(Decimal::ZERO);
        // An empty cell stays faintly visible so the grid reads as a grid.
        let opacity = if largest.is_zero() {
            Decimal::new(4, 2)
        } else {
            Decimal::new(4, 2) + magnitude * Decimal::new(96, 2) / largest
        };
        let x = Decimal::from(left) + cell_width * Decimal::from(column_index);
        let y = top + row_index as i64 * GRID_CELL_HEIGHT_PX;
        let _ = write!(
            out,
            "<rect class=\"mark\" x=\"{}\" y=\"{y}\" width=\"{}\" height=\"{}\" fill=\"{COLOUR_GRID}\" fill-opacity=\"{}\" \
             stroke=\"#ffffff\"{}><title>{} {}: {}</title></rect>",
            px(x),
            px(cell_width),
            GRID_CELL_HEIGHT_PX,
            opacity.round_dp(2).normalize(),
            data_attributes(table, row, value),
            escape(&row_name),
            escape(&column_name),
            escape(&cell(table, row, value).map(Value::text).unwrap_or_default())
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use pos_core::Yen;

    use super::*;
    use crate::analytics::request::ChartKind;
    use crate::analytics::table::Column;

    fn request(chart: ChartKind) -> ChartRequest {
        let params: BTreeMap<String, String> = [("from", "2026-11-01"), ("to", "2026-11-30")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ChartRequest::parse(chart, &params).expect("request")
    }

    #[test]
    fn bars_carry_their_figures_and_text_is_escaped() {
        let plot = Plot::Bars { label: "name", value: "amount" };
        let columns = vec![Column::new("name", "名前", "Name"), Column::new("amount", "金額", "Amount")];
        let mut table = ChartTable::new(ChartKind::ByBrand, columns, plot);
        table.push(vec![Value::Text("<A&B>".to_string()), Value::Amount(Yen::new(1500).expect("yen"))]);
        table.push(vec![Value::Text("C".to_string()), Value::Amount(Yen::new(500).expect("yen"))]);
        let svg = render(&table, &request(ChartKind::ByBrand));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox=\"0 0 960 "));
        assert!(svg.contains("<title>ブランド別決済額 2026-11-01 – 2026-11-30</title>"));
        assert!(svg.contains("data-name=\"&lt;A&amp;B&gt;\" data-amount=\"1500\" data-value=\"1500\""));
        assert!(!svg.contains("<A&B>"));
        // The largest bar spans the bar area; the others are in proportion.
        assert!(svg.contains("width=\"500\" height=\"16\""), "{svg}");
        assert!(svg.contains("width=\"166.7\" height=\"16\""), "{svg}");
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn the_share_line_has_its_target() {
        let plot = Plot::Line { label: "period", value: "share", target_percent: "40" };
        let columns = vec![Column::new("period", "期間", "Period"), Column::new("share", "比率", "Share")];
        let mut table = ChartTable::new(ChartKind::CashlessShare, columns, plot);
        for (period, share) in [("2026-11-01", 250), ("2026-11-02", 500)] {
            table.push(vec![
                Value::Text(period.to_string()),
                Value::percent(rust_decimal::Decimal::from(share), rust_decimal::Decimal::from(1000), 1),
            ]);
        }
        let svg = render(&table, &request(ChartKind::CashlessShare));
        assert!(svg.contains("<line class=\"target\" data-value=\"40\""));
        assert!(svg.contains("国の目標 40%"));
        assert_eq!(svg.matches("<circle class=\"mark\"").count(), 2);
        assert!(svg.contains("data-share=\"50.0\" data-value=\"50.0\""));
        assert!(svg.contains("<polyline"));
    }
}
