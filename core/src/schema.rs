//! OpenAPI schemas of the domain types, for the gateway's API document (`/v1/openapi.json`).
//!
//! The API types in [`crate::api`] derive theirs; the domain types they hold are written by hand
//! here because each serialises in its own way (a `Yen` is a bare integer, a `Brand` its code, a
//! `CashCount` a map from face value to pieces), and the schema must say exactly what goes on the
//! wire. Enumerations list their codes from the same tables the code parses them with.

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;

use crate::brand::{Brand, Method};
use crate::cash::CashCount;
use crate::ids::{FacilityId, FeeItemCode, OperatorId, RegisterId, TerminalId, UserName};
use crate::money::Yen;
use crate::payment::PaymentState;
use crate::refund::RefundState;
use crate::sale::SaleState;
use crate::time::{BusinessDate, FiscalYear};

/// Implements the two schema traits for a type whose schema `schema` builds.
macro_rules! schema {
    ($type:ty, $name:literal, $schema:expr) => {
        impl utoipa::PartialSchema for $type {
            fn schema() -> RefOr<Schema> {
                RefOr::T(Schema::Object($schema))
            }
        }
        impl utoipa::ToSchema for $type {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)).description(Some(description))
}

fn code_list(description: &str, codes: impl IntoIterator<Item = &'static str>) -> utoipa::openapi::schema::Object {
    string(description).enum_values(Some(codes)).build()
}

schema!(
    Yen,
    "Yen",
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64)))
        .description(Some("Whole yen (JPY has no minor unit); checked, at most ±10¹²."))
        .build()
);
schema!(
    FacilityId,
    "FacilityId",
    string("A facility's id: 1–32 of A-Za-z0-9_-.").pattern(Some("^[A-Za-z0-9_-]{1,32}$")).build()
);
schema!(
    RegisterId,
    "RegisterId",
    string("A register's id: 1–32 of A-Za-z0-9_-.").pattern(Some("^[A-Za-z0-9_-]{1,32}$")).build()
);
schema!(OperatorId, "OperatorId", string("A designated manager's id.").pattern(Some("^[A-Za-z0-9_-]{1,32}$")).build());
schema!(
    FeeItemCode,
    "FeeItemCode",
    string("A fee item's code, e.g. JUMINHYO.").pattern(Some("^[A-Za-z0-9_-]{1,32}$")).build()
);
schema!(UserName, "UserName", string("A user of the API.").pattern(Some("^[A-Za-z0-9_-]{1,32}$")).build());
schema!(TerminalId, "TerminalId", string("A payment terminal's id: 8 digits (ISO 8583 field 41).").build());
schema!(
    BusinessDate,
    "BusinessDate",
    string("A business date in Asia/Tokyo, YYYY-MM-DD.")
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Date)))
        .build()
);
schema!(
    FiscalYear,
    "FiscalYear",
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .description(Some("A fiscal year, named by the calendar year of its April."))
        .build()
);
schema!(Brand, "Brand", code_list("A payment brand's code.", Brand::ALL.iter().map(|b| b.code())));
schema!(Method, "Method", code_list("How the citizen pays.", Method::ALL.iter().map(|m| m.code())));
schema!(PaymentState, "PaymentState", code_list("A payment's state.", PaymentState::ALL.iter().map(|s| s.code())));
schema!(SaleState, "SaleState", code_list("A sale's state.", SaleState::ALL.iter().map(|s| s.code())));
schema!(RefundState, "RefundState", code_list("A refund's state.", RefundState::ALL.iter().map(|s| s.code())));
schema!(
    CashCount,
    "CashCount",
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Object))
        .description(Some("A drawer count: pieces per face value in yen, keys as strings, e.g. {\"10000\": 3}."))
        .additional_properties(
            Some(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Integer)).minimum(Some(0)),)
        )
        .build()
);
