//! The counters' side: counterd takes its register's commands by long poll, answers each once, and
//! reports its devices' health; clerks queue commands (reprint, open the drawer, end of day) and
//! see how they ended.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use pos_config::{Role, Scope};
use pos_core::api::{
    CommandKind, CommandOutput, CommandResult, CommandState, DeviceCommand, DeviceHealth, DeviceStatus, NextCommand,
    COMMAND_WAIT_MS_MAX, QR_PAYLOAD_CHARS_MAX, SCAN_WAIT_MS_MAX,
};
use pos_core::RegisterId;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Idempotent, JsonBody, QueryParams};
use super::idempotency::{begin, Begun};
use crate::access::Caller;
use crate::journal::devices;
use crate::journal::events::{self, EventKind, NewEvent};
use crate::AppState;

/// How long a waiting long poll goes without looking again when no notification wakes it (a
/// notification listener that is reconnecting must not leave a counter waiting long).
pub const COMMAND_RECHECK_MS: u64 = 2_000;
/// The most commands one list returns.
pub const COMMAND_LIST_MAX: i64 = 200;

fn register_of(app: &AppState, register: &str) -> Result<(pos_config::Facility, RegisterId), ApiError> {
    let id = RegisterId::parse(register).map_err(|e| ApiError::bad_request("invalid_register", e.to_string()))?;
    let (facility, _) = app.config.register(&id).ok_or_else(|| ApiError::not_found("register", register))?;
    Ok((facility.clone(), id))
}

/// Only the register's own device may take or answer its commands.
fn require_device(caller: &Caller, register: &RegisterId) -> Result<(), ApiError> {
    match (&caller.role, &caller.scope) {
        (Role::Device, Scope::Register { register: own, .. }) if own == register => Ok(()),
        _ => Err(ApiError::forbidden(format!("only register {register}'s counter device takes its commands"))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    pub wait_ms: Option<u64>,
}

pub async fn next(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(register): Path<String>,
    QueryParams(query): QueryParams<WaitQuery>,
) -> Result<Json<NextCommand>, ApiError> {
    let (facility, register) = register_of(&app, &register)?;
    require_device(&caller, &register)?;
    counter_seen(&app, &facility.id, &register);
    // The wait ends well inside the server's own request timeout, which would otherwise cut it.
    let wait_max = COMMAND_WAIT_MS_MAX.min(app.config.server.request_timeout_ms / 4 * 3);
    let wait = Duration::from_millis(query.wait_ms.unwrap_or(0).min(wait_max));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Watch first, then look: a command queued in between still wakes the wait.
        let mut queued = app.journal.watch(&devices::commands_topic(register.as_str()));
        let pending = {
            let mut conn = app.journal.read().await?;
            devices::has_pending(&mut conn, register.as_str()).await?
        };
        if pending {
            let mut tx = app.journal.begin_write().await?;
            let command = devices::take_next(&mut tx, register.as_str(), app.clock.now()).await?;
            tx.commit().await?;
            if command.is_some() {
                return Ok(Json(NextCommand { command }));
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(Json(NextCommand { command: None }));
        }
        // Woken by the commit that queues a command (here or, through PostgreSQL's NOTIFY, on
        // another node); the re-check bound only covers a listener that is reconnecting.
        let recheck = tokio::time::Instant::now() + Duration::from_millis(COMMAND_RECHECK_MS);
        let _ = tokio::time::timeout_at(deadline.min(recheck), queued.changed()).await;
    }
}

pub async fn result(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((register, command_id)): Path<(String, String)>,
    JsonBody(result): JsonBody<CommandResult>,
) -> Result<Json<DeviceCommand>, ApiError> {
    let (facility, register) = register_of(&app, &register)?;
    require_device(&caller, &register)?;
    if matches!(result.state, CommandState::Queued | CommandState::Delivered) {
        return Err(ApiError::unprocessable("invalid_result", "a result is done, failed or unknown").at("state"));
    }
    let mut tx = app.journal.begin_write().await?;
    let lock = tx.for_update();
    let command = devices::load(tx.conn(), &command_id, lock)
        .await?
        .filter(|c| c.register_id == register)
        .ok_or_else(|| ApiError::not_found("command", &command_id))?;
    match &command.result {
        // A repeat of the same answer is answered again; a different one is refused.
        Some(stored) if stored == &result => {
            tx.rollback().await?;
            return Ok(Json(command));
        }
        Some(_) => {
            tx.rollback().await?;
            return Err(ApiError::conflict(
                "command_answered",
                format!("command {command_id} already has a different result"),
            ));
        }
        None => {}
    }
    let now = app.clock.now();
    // A scanned customer payment code is a bearer credential: it is kept masked, like a card.
    let result = masked_result(result, &command.command);
    devices::complete(&mut tx, &command_id, &result, now).await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: caller.user.as_str(),
            kind: EventKind::DeviceCommandResult,
            entity_id: &command_id,
            facility_id: facility.id.as_str(),
            data: serde_json::json!({ "command": command.command, "result": result }),
        },
    )
    .await?;
    if let (CommandKind::Charge { payment_id, .. }, CommandState::Unknown) = (&command.command, result.state) {
        // The counter lost sight of the charge; the payment's own path (the terminal host's
        // journal, the sweeps, the reversal) decides it. The clerk is told to wait.
        crate::journal::payments::set_note(
            &mut tx,
            payment_id,
            "the counter lost the terminal mid-charge: checking — do not retry",
            now,
        )
        .await?;
        metrics::counter!("device_charges_unknown_total", "facility" => facility.id.to_string()).increment(1);
    }
    if let (CommandKind::Charge { payment_id, .. }, CommandState::Failed) = (&command.command, result.state) {
        crate::payments::resolve::charge_failed(&app, &mut tx, payment_id, &result.detail, caller.user.as_str())
            .await?;
    }
    tx.commit().await?;
    Ok(Json(DeviceCommand { state: result.state, result: Some(result), ..command }))
}

/// The result with any scanned customer payment code masked (first and last four digits).
fn masked_result(mut result: CommandResult, command: &CommandKind) -> CommandResult {
    let paying = matches!(command, CommandKind::ScanCode { sale_id: Some(_), .. });
    if let Some(CommandOutput::Scanned { code }) = &mut result.output {
        *code = pos_core::mask_scanned(code, paying);
    }
    result
}

pub async fn health(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(register): Path<String>,
    JsonBody(health): JsonBody<DeviceHealth>,
) -> Result<StatusCode, ApiError> {
    let (facility, register) = register_of(&app, &register)?;
    require_device(&caller, &register)?;
    counter_seen(&app, &facility.id, &register);
    for (device, status) in [("terminal", health.terminal), ("printer", health.printer), ("scanner", health.scanner)] {
        let ready = i8::from(status == DeviceStatus::Ready);
        metrics::gauge!("device_ready", "facility" => facility.id.to_string(), "register" => register.to_string(), "device" => device).set(ready);
    }
    if !health.detail.is_empty() {
        tracing::info!(register = %register, detail = %health.detail, "counter device health");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The "counter offline" alert's gauge: when this register's counterd was last heard from.
fn counter_seen(app: &AppState, facility: &pos_core::FacilityId, register: &RegisterId) {
    let now = app.clock.now().timestamp() as f64;
    metrics::gauge!("counter_last_seen_timestamp_seconds", "facility" => facility.to_string(), "register" => register.to_string())
        .set(now);
}

/// A clerk (or the register's operator) asks the counter for something: a reprint, the drawer,
/// the terminal's end of day. Charges are queued by the payment itself, never by hand.
pub async fn queue(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(register): Path<String>,
    request: Idempotent<CommandKind>,
) -> Result<Response, ApiError> {
    let (facility, register) = register_of(&app, &register)?;
    caller.require_register(&facility, &register)?;
    if matches!(request.body, CommandKind::Charge { .. }) {
        return Err(ApiError::unprocessable(
            "charge_by_payment",
            "a charge is queued by starting a card payment, not by hand",
        )
        .at("kind"));
    }
    check_command(&request.body)?;
    let mut itx = match begin(&app, &caller, &request).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(itx) => itx,
    };
    let now = app.clock.now();
    let outcome =
        devices::enqueue(&mut itx.tx, register.as_str(), &request.body, now).await.map_err(ApiError::from).map(|id| {
            (
                StatusCode::CREATED,
                DeviceCommand {
                    id,
                    register_id: register.clone(),
                    command: request.body.clone(),
                    state: CommandState::Queued,
                    created_at: now,
                    result: None,
                },
            )
        });
    itx.complete(outcome).await
}

/// The bounds of a scan or show-QR command, checked before it is queued.
fn check_command(command: &CommandKind) -> Result<(), ApiError> {
    match command {
        CommandKind::ShowQr { payload } if payload.is_empty() || payload.chars().count() > QR_PAYLOAD_CHARS_MAX => {
            Err(ApiError::unprocessable(
                "invalid_payload",
                format!("a QR payload has 1 to {QR_PAYLOAD_CHARS_MAX} characters"),
            )
            .at("payload"))
        }
        CommandKind::ScanCode { wait_ms: Some(wait), .. } if *wait == 0 || *wait > SCAN_WAIT_MS_MAX => {
            Err(ApiError::unprocessable("invalid_wait", format!("wait_ms is 1 to {SCAN_WAIT_MS_MAX}")).at("wait_ms"))
        }
        CommandKind::ScanCode { sale_id, brand, .. } if sale_id.is_some() != brand.is_some() => {
            Err(ApiError::unprocessable("sale_and_brand", "a scan that pays names both the sale and the QR brand")
                .at(if sale_id.is_some() { "brand" } else { "sale_id" }))
        }
        CommandKind::ScanCode { brand: Some(brand), .. } if brand.method() != pos_core::Method::Qr => {
            Err(ApiError::unprocessable("brand_not_qr", format!("{brand} is not a QR brand")).at("brand"))
        }
        _ => Ok(()),
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CommandList {
    pub commands: Vec<DeviceCommand>,
}

pub async fn list(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(register): Path<String>,
) -> Result<Json<CommandList>, ApiError> {
    let (facility, register) = register_of(&app, &register)?;
    if caller.role != Role::Device {
        caller.require_read(&app.config, &facility.id)?;
    } else {
        require_device(&caller, &register)?;
    }
    let mut conn = app.journal.read().await?;
    Ok(Json(CommandList { commands: devices::of_register(&mut conn, register.as_str(), COMMAND_LIST_MAX).await? }))
}
