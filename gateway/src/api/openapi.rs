//! The API's OpenAPI 3.1 document, served at `/v1/openapi.json`, and a page that shows it
//! (`/v1/docs`, no external assets: it works inside the municipal network).
//!
//! The document is built from the code: request and answer bodies are the types the handlers use
//! (their schemas derived in `pos_core::api`, the domain types' written in `pos_core::schema`), and
//! the operations are listed here, one line each, beside the router rather than as attributes on
//! every handler. The test `openapi::every_route_of_the_router_is_documented` reads the router's
//! source and fails when a route is missing here (or documented and gone); every answer the
//! gateway's integration tests receive is validated against this document (`support.rs`).
//!
//! The pages (`/register`, `/treasury`, …) are HTML for people, not API, and are left out.

use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse};
use pos_core::api::*;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathsBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ComponentsBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Required, ResponseBuilder};
use utoipa::ToSchema;

use super::devices::CommandList;
use crate::health::{ReadinessReport, ReadinessSummary};
use crate::journal::audit::Verification;

/// The docs page: HTML and script in one file, reading `/v1/openapi.json`.
const DOCS_HTML: &str = include_str!("openapi_docs.html");

/// `GET /v1/openapi.json`.
pub async fn document_json() -> impl IntoResponse {
    let text = document().to_pretty_json().unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    ([(CONTENT_TYPE, "application/json")], text)
}

/// `GET /v1/docs`.
pub async fn docs_page() -> Html<&'static str> {
    Html(DOCS_HTML)
}

/// A body: JSON of a named schema, JSON of any shape, or another media type.
#[derive(Clone)]
enum Body {
    Json {
        name: String,
        schemas: Vec<(String, RefOr<Schema>)>,
    },
    /// One of several named schemas (an answer whose shape depends on the caller).
    OneOf {
        names: Vec<String>,
        schemas: Vec<(String, RefOr<Schema>)>,
    },
    AnyJson,
    Media(&'static [&'static str]),
}

fn json<T: ToSchema>() -> Body {
    let mut schemas = Vec::new();
    T::schemas(&mut schemas);
    schemas.push((T::name().into_owned(), T::schema()));
    Body::Json { name: T::name().into_owned(), schemas }
}

fn one_of(bodies: Vec<Body>) -> Body {
    let mut names = Vec::new();
    let mut schemas = Vec::new();
    for body in bodies {
        if let Body::Json { name, schemas: more } = body {
            names.push(name);
            schemas.extend(more);
        }
    }
    Body::OneOf { names, schemas }
}

/// Who may call: with a token (bearer or the pages' session cookie), or anyone.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Token,
    Anyone,
}

struct Operation {
    method: HttpMethod,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    request: Option<Body>,
    responses: Vec<(&'static str, Body)>,
    query: &'static [&'static str],
    access: Access,
}

fn op(method: HttpMethod, path: &'static str, tag: &'static str, summary: &'static str) -> Operation {
    Operation { method, path, tag, summary, request: None, responses: Vec::new(), query: &[], access: Access::Token }
}

impl Operation {
    fn body(mut self, body: Body) -> Operation {
        self.request = Some(body);
        self
    }

    fn answer(mut self, status: &'static str, body: Body) -> Operation {
        self.responses.push((status, body));
        self
    }

    fn query(mut self, names: &'static [&'static str]) -> Operation {
        self.query = names;
        self
    }

    fn anyone(mut self) -> Operation {
        self.access = Access::Anyone;
        self
    }
}

const GET: HttpMethod = HttpMethod::Get;
const POST: HttpMethod = HttpMethod::Post;

/// Every operation of the API router (`super::router`), as `(method, path)` pairs once built.
fn operations() -> Vec<Operation> {
    let csv = Body::Media(&["text/csv"]);
    vec![
        op(GET, "/v1/me", "system", "Who the token belongs to and what it may see").answer("200", json::<WhoAmI>()),
        op(POST, "/v1/shifts", "shifts", "Open a shift at a register with the opening float")
            .body(json::<OpenShiftRequest>())
            .answer("201", json::<ShiftView>()),
        op(GET, "/v1/shifts", "shifts", "Shifts within the caller's scope")
            .query(&["facility_id", "register_id", "business_date", "state"])
            .answer("200", json::<ShiftList>()),
        op(GET, "/v1/shifts/{id}", "shifts", "One shift").answer("200", json::<ShiftView>()),
        op(
            POST,
            "/v1/shifts/{id}/close",
            "shifts",
            "Close a shift with the drawer count: expected, counted, over/short",
        )
        .body(json::<CloseShiftRequest>())
        .answer("200", json::<ShiftView>()),
        op(POST, "/v1/sales", "sales", "Ring up fee items")
            .body(json::<CreateSaleRequest>())
            .answer("201", json::<SaleView>()),
        op(GET, "/v1/sales", "sales", "Sales with lines and payments")
            .query(&["facility_id", "register_id", "shift_id", "business_date", "limit"])
            .answer("200", json::<SaleList>()),
        op(GET, "/v1/sales/{id}", "sales", "One sale").answer("200", json::<SaleView>()),
        op(POST, "/v1/sales/{id}/payments", "sales", "Pay a sale: cash, card, e-money or QR")
            .body(json::<PaymentRequest>())
            .answer("201", json::<PaymentResult>()),
        op(POST, "/v1/sales/{id}/void", "sales", "Void a sale of the open shift")
            .body(json::<VoidSaleRequest>())
            .answer("200", json::<SaleView>()),
        op(GET, "/v1/payments", "payments", "Payments (e.g. those in doubt)")
            .query(&["state", "facility_id"])
            .answer("200", json::<PaymentList>()),
        op(GET, "/v1/payments/{id}", "payments", "A payment's live status").answer("200", json::<PaymentView>()),
        op(POST, "/v1/payments/{id}/cancel", "payments", "Cancel a payment still waiting for the card")
            .answer("200", json::<PaymentView>()),
        op(POST, "/v1/payments/{id}/resolve", "payments", "Settle a payment left in doubt (treasury)")
            .body(json::<ResolveRequest>())
            .answer("200", json::<PaymentView>()),
        op(POST, "/v1/payments/{id}/refunds", "payments", "Refund through the acquirer or record a cash refund")
            .body(json::<RefundRequest>())
            .answer("201", json::<RefundView>())
            .answer("202", json::<RefundView>()),
        op(POST, "/v1/payments/{id}/refund-requests", "payments", "A clerk asks a supervisor to approve a refund")
            .body(json::<RefundApprovalRequest>())
            .answer("201", json::<RefundApprovalView>()),
        op(
            POST,
            "/v1/payments/{id}/approval-codes",
            "payments",
            "A supervisor issues a one-time code for one refund of one payment",
        )
        .body(json::<ApprovalCodeRequest>())
        .answer("201", json::<ApprovalCodeView>()),
        op(GET, "/v1/refund-requests", "payments", "Refund requests: a supervisor's to decide, a clerk's own")
            .query(&["state"])
            .answer("200", json::<RefundApprovalList>()),
        op(GET, "/v1/refund-requests/{id}", "payments", "One refund request and its refund once decided")
            .answer("200", json::<RefundApprovalView>()),
        op(POST, "/v1/refund-requests/{id}/approve", "payments", "A supervisor approves: the refund is sent")
            .body(json::<ApprovalDecision>())
            .answer("200", json::<RefundApprovalView>()),
        op(POST, "/v1/refund-requests/{id}/reject", "payments", "A supervisor rejects the request")
            .body(json::<ApprovalDecision>())
            .answer("200", json::<RefundApprovalView>()),
        op(GET, "/v1/registers/{id}/display", "devices", "The customer display (HTML with the QR code as SVG)")
            .answer("200", Body::Media(&["text/html"])),
        op(
            POST,
            "/v1/registers/{id}/commands",
            "devices",
            "Ask the counter for a reprint, the drawer, end of day, a scan",
        )
        .body(json::<CommandKind>())
        .answer("201", json::<DeviceCommand>()),
        op(GET, "/v1/registers/{id}/commands", "devices", "The register's commands, newest first")
            .answer("200", json::<CommandList>()),
        op(GET, "/v1/devices/{register}/commands/next", "devices", "counterd's long poll for its next command")
            .query(&["wait_ms"])
            .answer("200", json::<NextCommand>()),
        op(POST, "/v1/devices/{register}/commands/{id}/result", "devices", "counterd's answer to a command (once)")
            .body(json::<CommandResult>())
            .answer("200", json::<DeviceCommand>()),
        op(POST, "/v1/devices/{register}/health", "devices", "counterd's devices' health")
            .body(json::<DeviceHealth>())
            .answer("204", Body::Media(&[])),
        op(GET, "/v1/facilities", "facilities", "Facilities with registers, fee items, brands and policy")
            .answer("200", json::<FacilityList>()),
        op(GET, "/v1/facilities/{id}", "facilities", "One facility").answer("200", json::<FacilityView>()),
        op(POST, "/v1/session", "session", "Sign in to the pages: a token for a session cookie")
            .anyone()
            .body(Body::AnyJson)
            .answer("200", json::<WhoAmI>()),
        op(POST, "/v1/session/sign-out", "session", "Sign out of the pages").answer("200", Body::AnyJson),
        op(
            POST,
            "/v1/users/{name}/sessions/revoke",
            "session",
            "An administrator ends every session of a user at once",
        )
        .answer("200", Body::AnyJson),
        op(POST, "/v1/treasury/files", "treasury", "Load a settlement file or bank statement (the body)")
            .query(&["kind", "brand", "name"])
            .body(Body::Media(&["application/octet-stream"]))
            .answer("201", json::<TreasuryFileView>()),
        op(GET, "/v1/treasury/files", "treasury", "The files loaded").answer("200", json::<TreasuryFileList>()),
        op(GET, "/v1/treasury/days/{date}", "treasury", "The day's board, per facility")
            .answer("200", json::<DayBoard>()),
        op(POST, "/v1/treasury/days/{date}/reconcile", "treasury", "Start (or join) the day's reconciliation run")
            .body(json::<ReconcileRequest>())
            .answer("202", json::<TreasuryRunView>()),
        op(GET, "/v1/treasury/days/{date}/run", "treasury", "The day's latest reconciliation run")
            .answer("200", json::<TreasuryRunView>()),
        op(GET, "/v1/treasury/runs/{id}", "treasury", "A reconciliation run: state, progress, exceptions, end")
            .answer("200", json::<TreasuryRunView>()),
        op(GET, "/v1/treasury/days/{date}/accounting-export", "treasury", "Journal entries for the accounting system")
            .answer("200", csv.clone()),
        op(
            GET,
            "/v1/treasury/days/{date}/facilities/{id}/report",
            "treasury",
            "A facility's stored daily report (日計表)",
        )
        .query(&["format", "section"])
        .answer("200", Body::Media(&["application/json", "text/html", "text/csv"])),
        op(POST, "/v1/treasury/days/{date}/facilities/{id}/close", "treasury", "Close a facility's day for good")
            .answer("200", json::<ClosedDayView>()),
        op(
            GET,
            "/v1/treasury/days/{date}/bank",
            "treasury",
            "The bank statement as the day's latest run read it, and the city's list",
        )
        .query(&["format", "section"])
        .answer("200", Body::Media(&["application/json", "text/csv"])),
        op(GET, "/v1/treasury/exceptions", "treasury", "Exceptions with their resolution")
            .query(&["business_date", "facility_id", "kind", "state", "level"])
            .answer("200", json::<ExceptionList>()),
        op(POST, "/v1/treasury/exceptions/{id}/resolve", "treasury", "Resolve an exception (action, note)")
            .body(json::<ResolveExceptionRequest>())
            .answer("200", json::<ExceptionView>()),
        op(GET, "/v1/analytics/{chart}", "analytics", "A chart's figures as JSON, CSV or SVG")
            .query(&["from", "to", "facility_id", "operator_id", "method", "granularity", "format", "lang", "limit"])
            .answer("200", Body::Media(&["application/json", "text/csv", "image/svg+xml"])),
        op(GET, "/v1/exports/tidy", "analytics", "The analysts' long table of paid sale lines (CSV or Parquet)")
            .query(&["from", "to", "facility_id", "operator_id", "method", "format"])
            .answer("200", Body::Media(&["text/csv", "application/vnd.apache.parquet"])),
        op(GET, "/v1/reports/monthly", "analytics", "The DX office's monthly report")
            .query(&["month", "facility_id", "operator_id", "lang"])
            .answer("200", Body::AnyJson),
        op(GET, "/v1/audit/verify", "system", "Check the audit log's hash chain").answer("200", json::<Verification>()),
        op(GET, "/v1/openapi.json", "system", "This document").anyone().answer("200", Body::AnyJson),
        op(GET, "/v1/docs", "system", "This document as a page").anyone().answer("200", Body::Media(&["text/html"])),
        op(GET, "/metrics", "operations", "Prometheus exposition (admin, treasury, metrics)")
            .answer("200", Body::Media(&["text/plain"])),
        op(GET, "/healthz", "operations", "Liveness: the process answers").anyone().answer("200", Body::AnyJson),
        op(GET, "/readyz", "operations", "Readiness: the verdict to anyone, the detail to monitoring roles")
            .anyone()
            .answer("200", one_of(vec![json::<ReadinessSummary>(), json::<ReadinessReport>()]))
            .answer("503", one_of(vec![json::<ReadinessSummary>(), json::<ReadinessReport>()])),
    ]
}

fn content_of(body: &Body) -> Vec<(String, utoipa::openapi::Content)> {
    match body {
        Body::Json { name, .. } => vec![(
            "application/json".to_string(),
            ContentBuilder::new().schema(Some(Ref::from_schema_name(name.clone()))).build(),
        )],
        Body::OneOf { names, .. } => vec![(
            "application/json".to_string(),
            ContentBuilder::new()
                .schema(Some(Schema::OneOf(
                    names
                        .iter()
                        .fold(utoipa::openapi::schema::OneOfBuilder::new(), |one_of, name| {
                            one_of.item(Ref::from_schema_name(name.clone()))
                        })
                        .build(),
                )))
                .build(),
        )],
        Body::AnyJson => vec![(
            "application/json".to_string(),
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Object))))
                .build(),
        )],
        // A JSON variant of a report or chart is an object whose shape the format chooses.
        Body::Media(types) => types
            .iter()
            .map(|t| {
                let content = match *t {
                    "application/json" => ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Object))))
                        .build(),
                    _ => ContentBuilder::new().build(),
                };
                (t.to_string(), content)
            })
            .collect(),
    }
}

fn parameter(name: &str, place: ParameterIn, required: bool, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(place)
        .required(if required { Required::True } else { Required::False })
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(SchemaType::Type(Type::String))))
        .build()
}

/// The whole document.
pub fn document() -> OpenApi {
    let mut components = ComponentsBuilder::new()
        .security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()))
        .security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::auth::SESSION_COOKIE))),
        );
    let mut all_schemas = Vec::new();
    all_schemas.extend(match json::<ErrorBody>() {
        Body::Json { schemas, .. } => schemas,
        _ => Vec::new(),
    });
    let mut paths = PathsBuilder::new();
    for operation in operations() {
        let mut builder = OperationBuilder::new()
            .tag(operation.tag)
            .summary(Some(operation.summary))
            .operation_id(Some(format!("{}_{}", method_name(&operation.method), operation.path)));
        for segment in operation.path.split('/').filter(|s| s.starts_with('{')) {
            let name = segment.trim_matches(|c| c == '{' || c == '}');
            builder = builder.parameter(parameter(name, ParameterIn::Path, true, "from the path"));
        }
        for name in operation.query {
            builder = builder.parameter(parameter(name, ParameterIn::Query, false, "filter or option"));
        }
        builder = builder.parameter(parameter(
            "X-Request-Id",
            ParameterIn::Header,
            false,
            "the request's id (1–64 of A-Za-z0-9._-), echoed; one is made when absent",
        ));
        if operation.method == POST && operation.access == Access::Token && !operation.path.starts_with("/v1/session") {
            builder = builder.parameter(parameter(
                "Idempotency-Key",
                ParameterIn::Header,
                true,
                "makes the request safe to repeat: a repeat gets the first answer",
            ));
        }
        if let Some(body) = &operation.request {
            let mut request = RequestBodyBuilder::new().required(Some(Required::True));
            for (media, content) in content_of(body) {
                request = request.content(media, content);
            }
            builder = builder.request_body(Some(request.build()));
            if let Body::Json { schemas, .. } | Body::OneOf { schemas, .. } = body {
                all_schemas.extend(schemas.iter().cloned());
            }
        }
        for (status, body) in &operation.responses {
            let mut response = ResponseBuilder::new().description(format!("{} {}", status, operation.summary));
            for (media, content) in content_of(body) {
                response = response.content(media, content);
            }
            builder = builder.response(*status, response.build());
            if let Body::Json { schemas, .. } | Body::OneOf { schemas, .. } = body {
                all_schemas.extend(schemas.iter().cloned());
            }
        }
        if !matches!(operation.path, "/healthz" | "/readyz" | "/v1/openapi.json" | "/v1/docs") {
            let error = ResponseBuilder::new()
                .description("refused or failed: the error's code, message and the field at fault")
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build();
            builder = builder.response("4XX", error.clone()).response("5XX", error);
        }
        if operation.access == Access::Token {
            builder = builder
                .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                .security(SecurityRequirement::new("session", Vec::<String>::new()));
        }
        paths = paths.path(operation.path, PathItem::new(operation.method, builder.build()));
    }
    for (name, schema) in all_schemas {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Counter payment gateway API")
                .version(pos_build_info::PACKAGE_VERSION)
                .description(Some(
                    "The gateway's HTTP API. Every call but the probes and this document needs a token \
                     (Authorization: Bearer, or the pages' session cookie with the X-Pos-Csrf header on changes); \
                     every call is recorded in the audit log. Errors are {\"error\": {code, message, field}}.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components.build()))
        .build()
}

fn method_name(method: &HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Delete => "delete",
        HttpMethod::Options => "options",
        HttpMethod::Head => "head",
        HttpMethod::Patch => "patch",
        HttpMethod::Trace => "trace",
    }
}

/// The `(method, path)` of every documented operation, lower-case methods.
pub fn documented_routes() -> Vec<(String, String)> {
    operations().iter().map(|o| (method_name(&o.method).to_string(), o.path.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The router's routes as its source declares them: `.route("PATH", get(…).post(…))`.
    fn router_routes(source: &str) -> Vec<(String, String)> {
        let mut routes = Vec::new();
        for chunk in source.split(".route(").skip(1) {
            let Some(rest) = chunk.trim_start().strip_prefix('"') else { continue };
            let Some((path, handlers)) = rest.split_once('"') else { continue };
            // The handlers run to the next route, merge or layer of the router.
            let handlers = handlers.split(".route_layer(").next().unwrap_or(handlers);
            for method in ["get", "post", "put", "delete", "patch"] {
                let call = format!("{method}(");
                let called = handlers.match_indices(&call).any(|(at, _)| {
                    let before = handlers[..at].chars().last();
                    matches!(before, Some('.' | '(' | ' ' | '\n' | ','))
                });
                if called {
                    routes.push((method.to_string(), path.to_string()));
                }
            }
        }
        routes.sort();
        routes
    }

    #[test]
    fn every_route_of_the_router_is_documented() {
        let source = include_str!("mod.rs");
        let router = router_routes(source);
        assert!(router.len() > 30, "the router's source was not read: {router:?}");
        let mut documented = documented_routes();
        documented.sort();
        let missing: Vec<_> = router.iter().filter(|r| !documented.contains(r)).collect();
        assert!(missing.is_empty(), "routes of the router missing from the OpenAPI document: {missing:?}");
        let gone: Vec<_> = documented.iter().filter(|r| !router.contains(r)).collect();
        assert!(gone.is_empty(), "documented routes the router does not have: {gone:?}");
    }

    #[test]
    fn the_document_is_openapi_3_1_and_every_reference_resolves() {
        let document = serde_json::to_value(document()).expect("serialises");
        assert_eq!(document["openapi"], "3.1.0");
        let text = document.to_string();
        let schemas = document["components"]["schemas"].as_object().expect("schemas");
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            assert!(schemas.contains_key(name), "unresolved reference to {name}");
        }
        for name in ["SaleView", "PaymentView", "Yen", "Brand", "ErrorBody", "ReadinessReport", "CommandKind"] {
            assert!(schemas.contains_key(name), "{name} missing");
        }
    }
}
