//! What a customer and a script can do to the simulator, outside the provider's API (`/v2`):
//! served only when the simulator is started with its controls ([`crate::start_with_control`],
//! `qr-sim --control`).
//!
//! - **The customer page** at the code's own URL (`{payment_url_base}/{codeId}`, so the QR code
//!   the register's customer display shows opens it on a phone): the amount, the merchant, the
//!   order, the state, and the buttons 支払う / Pay and 支払わない / Decline, in Japanese with
//!   English. Plain HTML forms, no script and no external assets, so any phone browser on the
//!   same network works. A button posts to the same URL and is answered with a redirect back
//!   to the page (`303`), which then shows the outcome.
//! - **The control endpoints** for tests and demos, answered in JSON:
//!   `GET /_sim/codes/{codeId}` (the code and its payment), `POST /_sim/codes/{codeId}/pay` (the
//!   customer pays: the payment reads `COMPLETED`), `POST /_sim/codes/{codeId}/decline` (the
//!   customer declines: `FAILED`, nothing charged). An unknown code is `404`, a code that can no
//!   longer be paid (paid, declined, withdrawn, expired) `409`, each with
//!   `{"error": {"code", "message"}}`.
//!
//! Neither needs the API's signature: the customer's phone has no key. They exist only in the
//! simulator.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::api::{lock, AppState};
use crate::ledger::{PayRefusal, PaymentRecord};

pub use crate::config::CONTROL_PREFIX;

/// The routes of the customer page (under `page_path`, the path of `payment_url_base`) and of
/// the control endpoints.
pub fn routes(page_path: &str) -> Router<Arc<AppState>> {
    let page = format!("{}/{{code_id}}", page_path.trim_end_matches('/'));
    Router::new()
        .route(&page, get(page_view).post(page_action))
        .route(&format!("{CONTROL_PREFIX}/codes/{{code_id}}"), get(code_view))
        .route(&format!("{CONTROL_PREFIX}/codes/{{code_id}}/pay"), post(pay))
        .route(&format!("{CONTROL_PREFIX}/codes/{{code_id}}/decline"), post(decline))
}

/// A code and its payment as the control endpoints show them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeView {
    pub code_id: String,
    pub merchant_payment_id: String,
    pub merchant_id: String,
    /// The merchant's name from the configuration, else its id.
    pub merchant: String,
    pub amount: i64,
    pub currency: &'static str,
    pub status: String,
    pub order_description: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub payment_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Pay,
    Decline,
}

/// Why a control request did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    UnknownCode,
    NotPayable(String),
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::UnknownCode => StatusCode::NOT_FOUND,
            Refusal::NotPayable(_) => StatusCode::CONFLICT,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Refusal::UnknownCode => "UNKNOWN_CODE",
            Refusal::NotPayable(_) => "NOT_PAYABLE",
        }
    }

    fn message(&self, code_id: &str) -> String {
        match self {
            Refusal::UnknownCode => format!("no code {code_id}"),
            Refusal::NotPayable(status) => format!("code {code_id} can no longer be paid: it is {status}"),
        }
    }
}

fn view(state: &AppState, record: &PaymentRecord) -> CodeView {
    let merchant = state
        .config
        .merchant(&record.merchant_id)
        .and_then(|merchant| merchant.name.clone())
        .unwrap_or_else(|| record.merchant_id.clone());
    CodeView {
        code_id: record.code_id().unwrap_or_default().to_string(),
        merchant_payment_id: record.merchant_payment_id.as_str().to_string(),
        merchant_id: record.merchant_id.clone(),
        merchant,
        amount: record.amount.get(),
        currency: "JPY",
        status: record.status.as_str().to_string(),
        order_description: record.order_description.clone(),
        expires_at: record.expires_at,
        payment_id: record.payment_id.clone(),
    }
}

fn find(state: &AppState, code_id: &str) -> Result<CodeView, Refusal> {
    let now = state.clock.now();
    let mut ledger = lock(&state.ledger);
    let index = ledger.index_of_code(code_id).ok_or(Refusal::UnknownCode)?;
    let record = ledger.record(index, now).ok_or(Refusal::UnknownCode)?;
    Ok(view(state, &record))
}

fn act(state: &AppState, code_id: &str, action: Action) -> Result<CodeView, Refusal> {
    let now = state.clock.now();
    let mut ledger = lock(&state.ledger);
    let index = ledger.index_of_code(code_id).ok_or(Refusal::UnknownCode)?;
    let done = match action {
        Action::Pay => ledger.pay(index, now),
        Action::Decline => ledger.decline(index, now),
    };
    let record = done.map_err(|refusal| match refusal {
        PayRefusal::Unknown => Refusal::UnknownCode,
        PayRefusal::NotPayable(status) => Refusal::NotPayable(status.to_string()),
    })?;
    tracing::info!(code_id, ?action, status = %record.status, "qr-sim: the customer acted on a code");
    Ok(view(state, &record))
}

fn json_answer(code_id: &str, result: Result<CodeView, Refusal>) -> Response {
    match result {
        Ok(view) => Json(view).into_response(),
        Err(refusal) => {
            let body = serde_json::json!({ "error": { "code": refusal.code(), "message": refusal.message(code_id) } });
            (refusal.status(), Json(body)).into_response()
        }
    }
}

async fn code_view(State(state): State<Arc<AppState>>, Path(code_id): Path<String>) -> Response {
    json_answer(&code_id, find(&state, &code_id))
}

async fn pay(State(state): State<Arc<AppState>>, Path(code_id): Path<String>) -> Response {
    json_answer(&code_id, act(&state, &code_id, Action::Pay))
}

async fn decline(State(state): State<Arc<AppState>>, Path(code_id): Path<String>) -> Response {
    json_answer(&code_id, act(&state, &code_id, Action::Decline))
}

async fn page_view(State(state): State<Arc<AppState>>, Path(code_id): Path<String>) -> Response {
    match find(&state, &code_id) {
        Ok(view) => Html(render_page(&view, None)).into_response(),
        Err(refusal) => (refusal.status(), Html(render_missing(&code_id))).into_response(),
    }
}

/// A button of the page: `action=pay` or `action=decline`, form-encoded; answered with a
/// redirect to the page (or the page itself with the refusal, when nothing was done).
async fn page_action(State(state): State<Arc<AppState>>, Path(code_id): Path<String>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    let action = text.split('&').find_map(|pair| match pair {
        "action=pay" => Some(Action::Pay),
        "action=decline" => Some(Action::Decline),
        _ => None,
    });
    let Some(action) = action else {
        return (StatusCode::BAD_REQUEST, Html(render_missing(&code_id))).into_response();
    };
    match act(&state, &code_id, action) {
        Ok(_) => (StatusCode::SEE_OTHER, [(header::LOCATION, code_id.clone())]).into_response(),
        Err(Refusal::UnknownCode) => (StatusCode::NOT_FOUND, Html(render_missing(&code_id))).into_response(),
        Err(refusal) => match find(&state, &code_id) {
            Ok(view) => (refusal.status(), Html(render_page(&view, Some(&refusal)))).into_response(),
            Err(_) => (StatusCode::NOT_FOUND, Html(render_missing(&code_id))).into_response(),
        },
    }
}

/// `&`, `<`, `>`, `"` and `'` as entities, for text from the configuration and the request.
fn escape(text: &str) -> String {
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

/// What the page says about the payment's state, in Japanese and English.
fn state_words(status: &str) -> (&'static str, &'static str) {
    match status {
        "CREATED" => ("お支払いをお待ちしています", "Waiting for your payment"),
        "COMPLETED" => ("お支払いが完了しました", "Paid"),
        "FAILED" => ("お支払いは行われませんでした", "Not paid (declined or cancelled)"),
        "CANCELED" => ("このコードは取り消されました", "This code was withdrawn"),
        "EXPIRED" => ("このコードは有効期限が切れました", "This code has expired"),
        "REFUNDED" => ("返金されました", "Refunded"),
        _ => ("状態をご確認ください", "See the status"),
    }
}

const PAGE_STYLE: &str = "body{font-family:system-ui,'Hiragino Sans','Noto Sans CJK JP',sans-serif;margin:0;\
padding:1.2rem;background:#f6f8fa;color:#1b1f24}main{max-width:28rem;margin:0 auto;background:#fff;\
border:1px solid #d0d7de;border-radius:12px;padding:1.2rem}h1{font-size:1.1rem;margin:0 0 1rem}\
.en{display:block;color:#5b6570;font-size:.85em}.amount{font-size:2.4rem;font-weight:700;margin:.4rem 0}\
.state{font-weight:700;padding:.6rem;border-radius:8px;background:#e7f0fb}\
.state[data-status=COMPLETED]{background:#dafbe1}.state[data-status=FAILED],.state[data-status=EXPIRED],\
.state[data-status=CANCELED]{background:#ffebe9}form{display:flex;gap:.6rem;margin-top:1rem}\
button{flex:1;font:inherit;min-height:3.2rem;border-radius:10px;border:1px solid #d0d7de;background:#fff}\
button.pay{background:#cf222e;color:#fff;border-color:#cf222e;font-weight:700}button.pay .en{color:#fff}dl{margin:.6rem 0}\
dt{color:#5b6570;font-size:.85em}dd{margin:0 0 .5rem}.note{color:#5b6570;font-size:.8rem;margin-top:1rem}";

fn render_page(view: &CodeView, refusal: Option<&Refusal>) -> String {
    let (state_ja, state_en) = state_words(&view.status);
    let buttons = if view.status == "CREATED" {
        "<form method=\"post\"><button type=\"submit\" class=\"pay\" id=\"pay\" name=\"action\" value=\"pay\">\
         支払う<span class=\"en\">Pay</span></button><button type=\"submit\" id=\"decline\" name=\"action\" \
         value=\"decline\">支払わない<span class=\"en\">Decline</span></button></form>"
            .to_string()
    } else {
        String::new()
    };
    let order = view
        .order_description
        .as_deref()
        .map(|text| format!("<dt>ご注文 <span class=\"en\">Order</span></dt><dd>{}</dd>", escape(text)))
        .unwrap_or_default();
    let expiry = view
        .expires_at
        .map(|at| {
            let local = at.with_timezone(&pos_core::time::jst());
            format!(
                "<dt>有効期限 <span class=\"en\">Expires</span></dt><dd>{} JST</dd>",
                local.format("%Y-%m-%d %H:%M:%S")
            )
        })
        .unwrap_or_default();
    let refused = refusal
        .map(|refusal| {
            format!(
                "<p class=\"state\" data-status=\"FAILED\" role=\"alert\">この操作はできません<span class=\"en\">{}</span></p>",
                escape(&refusal.message(&view.code_id))
            )
        })
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>QR決済 / QR payment</title><style>{PAGE_STYLE}</style></head><body><main>\
         <h1>QR決済（シミュレーター）<span class=\"en\">QR payment (simulator)</span></h1>\
         <dl><dt>お支払い先 <span class=\"en\">Merchant</span></dt><dd id=\"merchant\">{merchant}</dd>{order}</dl>\
         <p class=\"amount\" id=\"amount\" data-amount=\"{amount}\">{amount_text}</p>\
         <p class=\"state\" id=\"state\" data-status=\"{status}\">{state_ja}<span class=\"en\">{state_en}</span></p>\
         {refused}{buttons}<dl>{expiry}<dt>コード <span class=\"en\">Code</span></dt><dd>{code_id}</dd></dl>\
         <p class=\"note\">これは試験用のシミュレーターです。実際のお金は動きません。\
         <span class=\"en\">This is a test simulator: no real money moves.</span></p></main></body></html>",
        merchant = escape(&view.merchant),
        amount = view.amount,
        amount_text = escape(&pos_core::Yen::new(view.amount).map(|yen| yen.to_string()).unwrap_or_default()),
        status = escape(&view.status),
        code_id = escape(&view.code_id),
    )
}

fn render_missing(code_id: &str) -> String {
    format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>QR決済 / QR payment</title>\
         <style>{PAGE_STYLE}</style></head><body><main><h1>QR決済（シミュレーター）<span class=\"en\">QR payment \
         (simulator)</span></h1><p class=\"state\" id=\"state\" data-status=\"UNKNOWN\">このコードは見つかりません\
         <span class=\"en\">No such code: {}</span></p></main></body></html>",
        escape(code_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("<b>\"&'</b>"), "&lt;b&gt;&quot;&amp;&#39;&lt;/b&gt;");
    }

    #[test]
    fn the_page_shows_amount_merchant_state_and_both_buttons_while_payable() {
        let view = CodeView {
            code_id: "04-0000000000000001".to_string(),
            merchant_payment_id: "PAY-1".to_string(),
            merchant_id: "M0001".to_string(),
            merchant: "見本市 <市民課>".to_string(),
            amount: 1_500,
            currency: "JPY",
            status: "CREATED".to_string(),
            order_description: None,
            expires_at: None,
            payment_id: None,
        };
        let page = render_page(&view, None);
        assert!(page.contains("¥1,500") && page.contains("見本市 &lt;市民課&gt;"), "{page}");
        assert!(page.contains("id=\"pay\"") && page.contains("id=\"decline\""));
        assert!(page.contains("支払う") && page.contains("Pay"));
        let paid = render_page(&CodeView { status: "COMPLETED".to_string(), ..view }, None);
        assert!(!paid.contains("id=\"pay\""), "no buttons once paid");
        assert!(paid.contains("お支払いが完了しました"));
    }
}
