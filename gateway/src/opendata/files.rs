//! A month's tables as files: `<table>.csv`, `<table>.json` and `<table>.schema.json` per table,
//! and `datapackage.json` (a Frictionless tabular data package) with the metadata, the licence
//! and each file's size and SHA-256.
//!
//! The CSV is UTF-8 without a byte-order mark, CRLF line ends (RFC 4180), one header row of the
//! plain column names, and an empty cell where a value is suppressed — the form the government's
//! open-data guidelines and schema validators read as is. (The analysts' export, meant for
//! Excel, keeps the BOM.) Months are `YYYY-MM`, the schema's `yearmonth`.

use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

use super::datasets::Dataset;
use crate::analytics::month::Month;

/// The licence every file is published under.
pub const LICENCE_NAME: &str = "CC-BY-4.0";
pub const LICENCE_TITLE: &str = "Creative Commons Attribution 4.0 International";
pub const LICENCE_URL: &str = "https://creativecommons.org/licenses/by/4.0/";
/// The metadata file of a month.
pub const PACKAGE_FILE: &str = "datapackage.json";

/// One file to write: its name within the month's folder and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub bytes: Vec<u8>,
}

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

pub fn to_csv(dataset: &Dataset) -> Vec<u8> {
    let mut text = String::new();
    let header: Vec<String> = dataset.fields.iter().map(|field| csv_cell(field.name)).collect();
    text.push_str(&header.join(","));
    text.push_str("\r\n");
    for row in &dataset.rows {
        let cells: Vec<String> = row.iter().map(|datum| csv_cell(&datum.text())).collect();
        text.push_str(&cells.join(","));
        text.push_str("\r\n");
    }
    text.into_bytes()
}

pub fn to_json(dataset: &Dataset, month: Month) -> Json {
    let rows: Vec<Json> = dataset
        .rows
        .iter()
        .map(|row| {
            let cells: serde_json::Map<String, Json> =
                dataset.fields.iter().zip(row).map(|(field, datum)| (field.name.to_string(), datum.json())).collect();
            Json::Object(cells)
        })
        .collect();
    json!({
        "name": dataset.name,
        "title": dataset.title_ja,
        "title_en": dataset.title_en,
        "month": month,
        "license": LICENCE_NAME,
        "schema": format!("{}.schema.json", dataset.name),
        "rows": rows,
    })
}

/// The Frictionless table schema of a table.
pub fn table_schema(dataset: &Dataset) -> Json {
    let fields: Vec<Json> = dataset
        .fields
        .iter()
        .map(|field| {
            let mut constraints = serde_json::Map::new();
            if field.required {
                constraints.insert("required".to_string(), Json::Bool(true));
            }
            if field.kind == super::datasets::FieldType::Integer {
                constraints.insert("minimum".to_string(), json!(0));
            }
            if let Some(values) = &field.values {
                constraints.insert("enum".to_string(), json!(values));
            }
            let mut described = json!({
                "name": field.name,
                "title": field.title_ja,
                "description": field.description,
                "type": field.kind.code(),
                "format": "default",
            });
            if let Some(object) = described.as_object_mut() {
                if !constraints.is_empty() {
                    object.insert("constraints".to_string(), Json::Object(constraints));
                }
                if field.kind == super::datasets::FieldType::Boolean {
                    object.insert("trueValues".to_string(), json!(["true"]));
                    object.insert("falseValues".to_string(), json!(["false"]));
                }
            }
            described
        })
        .collect();
    json!({
        "fields": fields,
        "missingValues": [""],
        "primaryKey": dataset.primary_key,
    })
}

fn pretty(value: &Json) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What the package says about who published it and how small cells were withheld.
#[derive(Debug, Clone)]
pub struct PackageInfo<'a> {
    pub city_ja: &'a str,
    pub city_en: &'a str,
    pub publisher_ja: &'a str,
    pub publisher_en: &'a str,
    pub threshold_payments: u64,
    /// RFC 3339, when the files were made.
    pub created: String,
}

/// Every file of a month: per table CSV, JSON and schema, then `datapackage.json`.
pub fn month_files(datasets: &[Dataset], month: Month, info: &PackageInfo<'_>) -> Vec<File> {
    let mut files = Vec::new();
    let mut resources = Vec::new();
    for dataset in datasets {
        let schema_name = format!("{}.schema.json", dataset.name);
        let csv = File { name: format!("{}.csv", dataset.name), bytes: to_csv(dataset) };
        let json = File { name: format!("{}.json", dataset.name), bytes: pretty(&to_json(dataset, month)) };
        for (file, format, media_type) in [(&csv, "csv", "text/csv"), (&json, "json", "application/json")] {
            resources.push(json!({
                "name": file.name.replace('.', "-"),
                "path": file.name,
                "title": dataset.title_ja,
                "description": dataset.description,
                "format": format,
                "mediatype": media_type,
                "encoding": "utf-8",
                "profile": if format == "csv" { "tabular-data-resource" } else { "data-resource" },
                "schema": schema_name,
                "bytes": file.bytes.len(),
                "hash": format!("sha256:{}", sha256(&file.bytes)),
                "licenses": [{ "name": LICENCE_NAME, "path": LICENCE_URL, "title": LICENCE_TITLE }],
            }));
        }
        files.push(csv);
        files.push(json);
        files.push(File { name: schema_name, bytes: pretty(&table_schema(dataset)) });
    }
    let package = json!({
        "profile": "tabular-data-package",
        "name": format!("counter-payments-{month}"),
        "title": format!("{} 窓口キャッシュレス決済 {month}", info.city_ja),
        "description": format!(
            "Payments taken at the counters of {} in {month}: per facility and method, per brand, per fee item category. \
             No personal data: a cell of fewer than {} payments is withheld, and so are the cells that would let it be worked out from the totals.",
            info.city_en, info.threshold_payments
        ),
        "temporalCoverage": { "start": month.first_day().to_string(), "end": month.last_day().to_string() },
        "created": info.created,
        "language": ["ja", "en"],
        "keywords": ["cashless", "キャッシュレス", "payments", "open data", "オープンデータ"],
        "publisher": { "title": info.publisher_ja, "title_en": info.publisher_en },
        "licenses": [{ "name": LICENCE_NAME, "path": LICENCE_URL, "title": LICENCE_TITLE }],
        "attribution": format!("出典：{}（{}）", info.publisher_ja, LICENCE_TITLE),
        "suppression": {
            "threshold_payments": info.threshold_payments,
            "primary": "a cell counting at least 1 and fewer than threshold_payments payments",
            "complementary": "further cells, chosen so that no withheld cell follows from the published cells and totals by linear arithmetic",
            "marker": "count and amount empty, suppressed = true",
        },
        "resources": resources,
    });
    files.push(File { name: PACKAGE_FILE.to_string(), bytes: pretty(&package) });
    files
}
