//! The customer display of a register: the amount and the QR code of its current QR payment,
//! then the result. Server-rendered HTML that refreshes itself, so the display needs no script.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use pos_config::Role;
use pos_core::{PaymentState, RegisterId};
use qrcode::{Color, QrCode};

use super::error::ApiError;
use crate::access::Caller;
use crate::journal::{payments, qr};
use crate::AppState;

/// How often the page reloads itself, in seconds.
pub const DISPLAY_REFRESH_SECONDS: u32 = 2;
/// Blank modules around the code, as the QR standard asks.
const QUIET_ZONE: usize = 4;

/// The QR code of `text` as SVG: one unit per module, dark modules as `<rect>`s.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 2 * QUIET_ZONE;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" width="320" height="320" shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="white"/>"#
    );
    for (index, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (x, y) = (index % width + QUIET_ZONE, index / width + QUIET_ZONE);
            svg.push_str(&format!(r#"<rect x="{x}" y="{y}" width="1" height="1" fill="black"/>"#));
        }
    }
    svg.push_str("</svg>");
    Some(svg)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub async fn page(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(register_id): Path<String>,
) -> Result<Response, ApiError> {
    let register = RegisterId::parse(&register_id).map_err(|_| ApiError::not_found("register", &register_id))?;
    let (facility, _) = app.config.register(&register).ok_or_else(|| ApiError::not_found("register", &register_id))?;
    if caller.role != Role::Admin {
        caller.require_register(facility, &register)?;
    }
    let mut conn = app.journal.read().await?;
    let body = match qr::latest_of_register(&mut conn, register.as_str()).await? {
        None => "<p class=\"big\">いらっしゃいませ<br><small>Welcome</small></p>".to_string(),
        Some(id) => {
            let payment =
                payments::load(&mut conn, &id, "").await?.ok_or_else(|| ApiError::not_found("payment", &id))?;
            let shown = qr::state_of(&mut conn, &id).await?;
            let amount =
                format!("<p class=\"amount\">お支払い金額 / Amount: {}</p>", escape(&payment.view.amount.to_string()));
            let brand = payment.view.brand.map(|b| b.code().to_string()).unwrap_or_default();
            let status = match payment.view.state {
                PaymentState::Authorizing => match &shown.code {
                    Some(code) => format!(
                        "<p>{} のアプリでスキャンしてください / Scan with your {} app</p><div id=\"qr\" data-url=\"{}\">{}</div>",
                        escape(&brand),
                        escape(&brand),
                        escape(&code.url),
                        qr_svg(&code.url).unwrap_or_default()
                    ),
                    None => "<p>QRコードを準備中… / Preparing the QR code…</p>".to_string(),
                },
                PaymentState::Completed => "<p class=\"big ok\">お支払いが完了しました<br><small>Paid — thank you</small></p>".to_string(),
                PaymentState::InDoubt => "<p class=\"big\">確認中です。しばらくお待ちください<br><small>Checking — please wait</small></p>".to_string(),
                PaymentState::Cancelled | PaymentState::Reversed => "<p class=\"big\">お支払いは取り消されました<br><small>Payment cancelled — nothing was charged</small></p>".to_string(),
                _ => "<p class=\"big\">お支払いできませんでした<br><small>Payment failed — nothing was charged</small></p>".to_string(),
            };
            format!("{amount}{status}<p class=\"state\" data-state=\"{}\"></p>", payment.view.state)
        }
    };
    let html = format!(
        "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"{DISPLAY_REFRESH_SECONDS}\"><title>お客様表示 / Customer display</title><style>body{{font-family:sans-serif;text-align:center}}.amount{{font-size:2em}}.big{{font-size:2.5em}}.ok{{color:#070}}</style></head><body>{body}</body></html>"
    );
    Ok(Html(html).into_response())
}
