//! What a chart request asks for, parsed from the query string: each value becomes a domain type
//! or is refused with the name of its parameter.

use std::collections::BTreeMap;

use pos_core::{BusinessDate, FacilityId, Method, OperatorId};
use serde::Serialize;

/// The longest range one chart covers, in days between `from` and `to`: a fiscal year and a
/// month either side, enough to compare a year with the months around it.
pub const RANGE_DAYS_MAX: i64 = 400;
/// How many fee items `top-fee-items` lists when `limit` is not given, and at most.
pub const TOP_ITEMS_DEFAULT: usize = 10;
pub const TOP_ITEMS_MAX: usize = 100;
/// The most facilities one `facility_id` list may name (the city has 35).
pub const FACILITY_FILTER_MAX: usize = 200;
/// The owner code of the city's own facilities in `operator_id`, as the reconciler writes owners.
pub const CITY_OWNER: &str = "city";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChartKind {
    CashlessShare,
    ByBrand,
    ByMethod,
    Heatmap,
    TopFeeItems,
    FeesByBrand,
    Facilities,
}

impl ChartKind {
    pub const ALL: [ChartKind; 7] = [
        ChartKind::CashlessShare,
        ChartKind::ByBrand,
        ChartKind::ByMethod,
        ChartKind::Heatmap,
        ChartKind::TopFeeItems,
        ChartKind::FeesByBrand,
        ChartKind::Facilities,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ChartKind::CashlessShare => "cashless-share",
            ChartKind::ByBrand => "by-brand",
            ChartKind::ByMethod => "by-method",
            ChartKind::Heatmap => "heatmap",
            ChartKind::TopFeeItems => "top-fee-items",
            ChartKind::FeesByBrand => "fees-by-brand",
            ChartKind::Facilities => "facilities",
        }
    }

    pub fn parse(code: &str) -> Option<ChartKind> {
        ChartKind::ALL.into_iter().find(|chart| chart.code() == code)
    }

    pub fn title(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (ChartKind::CashlessShare, Lang::Ja) => "キャッシュレス決済比率",
            (ChartKind::CashlessShare, Lang::En) => "Cashless share",
            (ChartKind::ByBrand, Lang::Ja) => "ブランド別決済額",
            (ChartKind::ByBrand, Lang::En) => "Payments by brand",
            (ChartKind::ByMethod, Lang::Ja) => "決済手段別決済額",
            (ChartKind::ByMethod, Lang::En) => "Payments by method",
            (ChartKind::Heatmap, Lang::Ja) => "曜日・時間帯別決済件数",
            (ChartKind::Heatmap, Lang::En) => "Payments by weekday and hour",
            (ChartKind::TopFeeItems, Lang::Ja) => "手数料項目別（決済手段別）上位",
            (ChartKind::TopFeeItems, Lang::En) => "Top fee items by method",
            (ChartKind::FeesByBrand, Lang::Ja) => "ブランド別決済手数料",
            (ChartKind::FeesByBrand, Lang::En) => "Card and QR fees by brand",
            (ChartKind::Facilities, Lang::Ja) => "施設別比較",
            (ChartKind::Facilities, Lang::En) => "Facilities compared",
        }
    }
}

/// The period `cashless-share` adds up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Day,
    Month,
    FiscalYear,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Json,
    Csv,
    Svg,
}

/// The language of labels (CSV headers, SVG text, row names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    pub fn pick<'a>(self, ja: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }
}

/// Whose facilities `operator_id` asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum OwnerFilter {
    Operator(OperatorId),
    /// `city`: the facilities the city runs itself.
    City(&'static str),
}

/// A chart request, every value checked.
#[derive(Debug, Clone, Serialize)]
pub struct ChartRequest {
    #[serde(skip)]
    pub chart: ChartKind,
    pub from: BusinessDate,
    pub to: BusinessDate,
    /// The facilities asked for; `None` for all the caller may see.
    pub facility_id: Option<Vec<FacilityId>>,
    pub operator_id: Option<OwnerFilter>,
    pub method: Option<Method>,
    pub granularity: Granularity,
    pub format: Format,
    pub lang: Lang,
    pub limit: usize,
}

/// A parameter that is missing, unknown or does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    pub field: String,
    pub message: String,
}

fn refuse(field: &str, message: impl Into<String>) -> RequestError {
    RequestError { field: field.to_string(), message: message.into() }
}

const PARAMETERS: [&str; 9] =
    ["from", "to", "facility_id", "operator_id", "method", "granularity", "format", "lang", "limit"];

fn date(params: &BTreeMap<String, String>, field: &str) -> Result<BusinessDate, RequestError> {
    let text = params.get(field).ok_or_else(|| refuse(field, "is required (a business date, YYYY-MM-DD)"))?;
    text.parse::<BusinessDate>().map_err(|_| refuse(field, format!("{text:?} is not a date of the form YYYY-MM-DD")))
}

fn choice<T: Copy>(
    params: &BTreeMap<String, String>,
    field: &str,
    default: T,
    options: &[(&str, T)],
) -> Result<T, RequestError> {
    let Some(text) = params.get(field) else { return Ok(default) };
    options.iter().find(|(code, _)| code == text).map(|(_, value)| *value).ok_or_else(|| {
        let names: Vec<&str> = options.iter().map(|(code, _)| *code).collect();
        refuse(field, format!("{text:?} is not one of {}", names.join(", ")))
    })
}

impl ChartRequest {
    /// Parses the query parameters of a chart request. `chart` is the path's chart name.
    pub fn parse(chart: ChartKind, params: &BTreeMap<String, String>) -> Result<ChartRequest, RequestError> {
        if let Some(unknown) = params.keys().find(|key| !PARAMETERS.contains(&key.as_str())) {
            return Err(refuse(
                unknown,
                format!("is not a parameter of the analytics API ({})", PARAMETERS.join(", ")),
            ));
        }
        let from = date(params, "from")?;
        let to = date(params, "to")?;
        let days = (to.date() - from.date()).num_days();
        if days < 0 {
            return Err(refuse("to", format!("{to} is before from ({from})")));
        }
        if days > RANGE_DAYS_MAX {
            return Err(refuse(
                "to",
                format!("the range is {days} days; at most {RANGE_DAYS_MAX} days between from and to"),
            ));
        }
        let facility_id = match params.get("facility_id") {
            None => None,
            Some(text) => {
                let ids = text
                    .split(',')
                    .map(|id| FacilityId::parse(id.trim()).map_err(|error| refuse("facility_id", error.to_string())))
                    .collect::<Result<Vec<_>, _>>()?;
                if ids.len() > FACILITY_FILTER_MAX {
                    return Err(refuse("facility_id", format!("names more than {FACILITY_FILTER_MAX} facilities")));
                }
                Some(ids)
            }
        };
        let operator_id = match params.get("operator_id").map(String::as_str) {
            None => None,
            Some(CITY_OWNER) => Some(OwnerFilter::City(CITY_OWNER)),
            Some(text) => Some(OwnerFilter::Operator(
                OperatorId::parse(text).map_err(|error| refuse("operator_id", error.to_string()))?,
            )),
        };
        let method = match params.get("method") {
            None => None,
            Some(text) => Some(
                text.parse::<Method>()
                    .map_err(|_| refuse("method", format!("{text:?} is not one of cash, card, emoney, qr")))?,
            ),
        };
        let granularity = choice(
            params,
            "granularity",
            Granularity::Day,
            &[("day", Granularity::Day), ("month", Granularity::Month), ("fiscal_year", Granularity::FiscalYear)],
        )?;
        let format = choice(
            params,
            "format",
            Format::Json,
            &[("json", Format::Json), ("csv", Format::Csv), ("svg", Format::Svg)],
        )?;
        let lang = choice(params, "lang", Lang::Ja, &[("ja", Lang::Ja), ("en", Lang::En)])?;
        let limit = match params.get("limit") {
            None => TOP_ITEMS_DEFAULT,
            Some(text) => match text.parse::<usize>() {
                Ok(limit) if (1..=TOP_ITEMS_MAX).contains(&limit) => limit,
                _ => return Err(refuse("limit", format!("{text:?} is not a whole number from 1 to {TOP_ITEMS_MAX}"))),
            },
        };
        Ok(ChartRequest { chart, from, to, facility_id, operator_id, method, granularity, format, lang, limit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
    }

    fn field_of(pairs: &[(&str, &str)]) -> String {
        ChartRequest::parse(ChartKind::ByMethod, &params(pairs)).expect_err("refused").field
    }

    #[test]
    fn defaults_and_lists_parse() {
        let request = ChartRequest::parse(
            ChartKind::CashlessShare,
            &params(&[("from", "2026-04-01"), ("to", "2027-03-31"), ("facility_id", "F01,F21"), ("method", "qr")]),
        )
        .expect("parses");
        assert_eq!(request.facility_id.as_ref().map(Vec::len), Some(2));
        assert_eq!(request.method, Some(Method::Qr));
        assert_eq!(
            (request.granularity, request.format, request.lang, request.limit),
            (Granularity::Day, Format::Json, Lang::Ja, 10)
        );
    }

    #[test]
    fn each_bad_value_names_its_field() {
        let range = [("from", "2026-11-01"), ("to", "2026-11-30")];
        let with = |extra: (&'static str, &'static str)| {
            let mut pairs = range.to_vec();
            pairs.push(extra);
            field_of(&pairs)
        };
        assert_eq!(field_of(&[("to", "2026-11-30")]), "from");
        assert_eq!(field_of(&[("from", "2026-11-01")]), "to");
        assert_eq!(field_of(&[("from", "2026-13-01"), ("to", "2026-11-30")]), "from");
        assert_eq!(field_of(&[("from", "2026-11-30"), ("to", "2026-11-01")]), "to");
        assert_eq!(field_of(&[("from", "2025-01-01"), ("to", "2026-11-30")]), "to");
        assert_eq!(with(("method", "cheque")), "method");
        assert_eq!(with(("granularity", "week")), "granularity");
        assert_eq!(with(("format", "pdf")), "format");
        assert_eq!(with(("lang", "fr")), "lang");
        assert_eq!(with(("limit", "0")), "limit");
        assert_eq!(with(("facility_id", "F01,F 2")), "facility_id");
        assert_eq!(with(("operator_id", "OP SPORTS")), "operator_id");
        assert_eq!(with(("colour", "red")), "colour");
    }

    #[test]
    fn the_longest_range_is_accepted_and_one_day_more_is_not() {
        let ok = ChartRequest::parse(ChartKind::ByBrand, &params(&[("from", "2026-01-01"), ("to", "2027-02-05")]));
        assert_eq!(ok.map(|request| (request.to.date() - request.from.date()).num_days()).ok(), Some(RANGE_DAYS_MAX));
        assert_eq!(field_of(&[("from", "2026-01-01"), ("to", "2027-02-06")]), "to");
    }
}
