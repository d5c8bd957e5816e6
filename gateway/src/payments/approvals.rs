//! A clerk's refund needs a supervisor — the facility's designated manager or treasury — and the
//! supervisor approves from their own session; nobody types another person's token.
//!
//! Two ways, both bound to one payment and one amount:
//! - **A request.** The clerk asks ([`request`]); the supervisor's page lists it and approves or
//!   rejects it ([`decide`]). Approving makes the refund at once, in the clerk's name, approved by
//!   the supervisor. A request not decided within [`REFUND_REQUEST_VALID_MINUTES`] expires.
//! - **A one-time code.** The supervisor issues a code for a payment and amount ([`issue_code`]),
//!   valid [`APPROVAL_CODE_VALID_SECONDS`], single use, and tells it to the clerk, who sends it
//!   with the refund. Only its SHA-256 is kept. After [`APPROVAL_CODE_TRIES_MAX`] wrong codes for a
//!   payment, its codes lock. A wrong, expired, used or locked code — or none at all — gets the
//!   same answer, so an answer never says whether a code exists.
//!
//! The approver is a column of the refund and is named in the event and the audit record.

use chrono::{DateTime, Duration, Utc};
use pos_config::{Role, Scope};
use pos_core::api::{ApprovalCodeView, ApprovalState, RefundApprovalView, RefundView};
use pos_core::{FacilityId, RegisterId, UserName, Yen};
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::load_locked;
use crate::access::Caller;
use crate::journal::columns::{instant_column, parse_column, yen_column};
use crate::journal::events::{self, EventKind, NewEvent};
use crate::journal::{instant_text, payments, refunds, WriteTx};
use crate::refusal::Refusal;
use crate::AppState;

/// How long a clerk's refund request waits for a supervisor.
pub const REFUND_REQUEST_VALID_MINUTES: i64 = 30;
/// How long a one-time approval code may be used.
pub const APPROVAL_CODE_VALID_SECONDS: i64 = 300;
/// Wrong codes tried for one payment before its codes lock.
pub const APPROVAL_CODE_TRIES_MAX: i64 = 3;
/// Digits of a one-time approval code.
pub const APPROVAL_CODE_DIGITS: u32 = 8;
/// The most requests one list returns.
pub const APPROVAL_LIST_MAX: i64 = 200;

/// The one answer to a code that does not approve this refund, whatever the reason.
const CODE_NOT_VALID: &str = "the approval code is not valid for this payment and amount";

const APPROVAL_COLUMNS: &str = "id, kind, payment_id, facility_id, register_id, amount, reason, state, code_sha256, tries, requested_by, approver, decided_at, decision_note, refund_id, created_at, expires_at";

struct ApprovalRow {
    view: RefundApprovalView,
    refund_id: Option<String>,
}

fn decode(row: &AnyRow) -> Result<ApprovalRow, crate::journal::JournalError> {
    let id: String = row.try_get("id")?;
    let table = "refund_approvals";
    let optional_user = |column: &'static str| -> Result<Option<UserName>, crate::journal::JournalError> {
        row.try_get::<Option<String>, _>(column)?.map(|v| parse_column(table, column, &id, &v)).transpose()
    };
    let decided_at: Option<String> = row.try_get("decided_at")?;
    Ok(ApprovalRow {
        refund_id: row.try_get("refund_id")?,
        view: RefundApprovalView {
            payment_id: row.try_get("payment_id")?,
            facility_id: parse_column(table, "facility_id", &id, &row.try_get::<String, _>("facility_id")?)?,
            register_id: parse_column(table, "register_id", &id, &row.try_get::<String, _>("register_id")?)?,
            amount: yen_column(table, "amount", &id, row.try_get("amount")?)?,
            reason: row.try_get("reason")?,
            state: parse_column(table, "state", &id, &row.try_get::<String, _>("state")?)?,
            requested_by: optional_user("requested_by")?,
            approver: optional_user("approver")?,
            decision_note: row.try_get("decision_note")?,
            decided_at: decided_at.map(|t| instant_column(table, "decided_at", &id, &t)).transpose()?,
            refund: None,
            created_at: instant_column(table, "created_at", &id, &row.try_get::<String, _>("created_at")?)?,
            expires_at: instant_column(table, "expires_at", &id, &row.try_get::<String, _>("expires_at")?)?,
            payment: None,
            id,
        },
    })
}

async fn load(
    conn: &mut AnyConnection,
    id: &str,
    lock: &str,
) -> Result<Option<ApprovalRow>, crate::journal::JournalError> {
    let row = sqlx::query(&format!(
        "SELECT {APPROVAL_COLUMNS} FROM refund_approvals WHERE id = $1 AND kind = 'request'{lock}"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|row| decode(&row)).transpose()
}

/// The view with its refund and payment filled in.
async fn complete_view(
    conn: &mut AnyConnection,
    row: ApprovalRow,
) -> Result<RefundApprovalView, crate::journal::JournalError> {
    let mut view = row.view;
    if let Some(refund_id) = &row.refund_id {
        view.refund = refunds::load(conn, refund_id, "").await?.map(|r| r.view);
    }
    view.payment = payments::load(conn, &view.payment_id, "").await?.map(|p| p.view);
    Ok(view)
}

/// A supervisor of this facility, or a refusal that names no one else's role.
fn require_supervisor(app: &AppState, caller: &Caller, facility: &FacilityId) -> Result<(), Refusal> {
    let facility = app.config.facility(facility).ok_or_else(|| Refusal::internal("facility no longer configured"))?;
    if caller.supervises(facility) {
        Ok(())
    } else {
        Err(Refusal::forbidden(format!("{} may not approve refunds at facility {}", caller.user, facility.id)))
    }
}

/// A clerk asks a supervisor to approve a refund of `amount` of a payment.
pub async fn request(
    app: &AppState,
    tx: &mut WriteTx,
    caller: &Caller,
    payment_id: &str,
    amount: Yen,
    reason: &str,
) -> Result<RefundApprovalView, Refusal> {
    let payment = load_locked(tx, payment_id).await?;
    let facility = super::facility_of(app, &payment)?;
    let register = RegisterId::parse(&payment.register_id).map_err(|_| Refusal::internal("malformed register id"))?;
    caller.require_register(facility, &register)?;
    if !payment.view.state.holds_money() {
        return Err(Refusal::conflict(
            "not_refundable",
            format!("payment {payment_id} is {}: there is nothing to refund", payment.view.state),
        ));
    }
    let remaining = payment.view.amount.checked_sub(payment.view.refunded).unwrap_or_default();
    if amount > remaining {
        return Err(Refusal::unprocessable(
            "refund_exceeds_payment",
            format!("at most {remaining} of this payment can still be refunded"),
        )
        .at("amount"));
    }
    let now = app.clock.now();
    super::refunds::check_brand_rule(app, &payment, amount, pos_core::BusinessDate::of_instant(now))?;
    let id = format!("apr_{}", uuid::Uuid::new_v4().simple());
    let expires_at = now + Duration::minutes(REFUND_REQUEST_VALID_MINUTES);
    sqlx::query(
        "INSERT INTO refund_approvals (id, kind, payment_id, facility_id, register_id, amount, reason, state, requested_by, created_at, expires_at) VALUES ($1, 'request', $2, $3, $4, $5, $6, 'pending', $7, $8, $9)",
    )
    .bind(&id)
    .bind(payment_id)
    .bind(&payment.facility_id)
    .bind(&payment.register_id)
    .bind(amount.get())
    .bind(reason)
    .bind(caller.user.as_str())
    .bind(instant_text(now))
    .bind(instant_text(expires_at))
    .execute(tx.conn())
    .await
    .map_err(crate::journal::JournalError::from)?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: caller.user.as_str(),
            kind: EventKind::RefundRequested,
            entity_id: &id,
            facility_id: &payment.facility_id,
            data: serde_json::json!({ "payment_id": payment_id, "amount": amount, "reason": reason }),
        },
    )
    .await?;
    let row = load(tx.conn(), &id, "").await?.ok_or_else(|| Refusal::internal("request vanished"))?;
    Ok(complete_view(tx.conn(), row).await?)
}

/// Requests as the caller may see them: a clerk their register's, a supervisor those of the
/// facilities they supervise, newest first. Requests past their time read as expired.
pub async fn list(
    app: &AppState,
    caller: &Caller,
    state: Option<ApprovalState>,
) -> Result<Vec<RefundApprovalView>, Refusal> {
    let mut conn = app.journal.read().await?;
    let now = app.clock.now();
    let rows = sqlx::query(&format!(
        "SELECT {APPROVAL_COLUMNS} FROM refund_approvals WHERE kind = 'request' ORDER BY created_at DESC, id LIMIT {APPROVAL_LIST_MAX}"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(crate::journal::JournalError::from)?;
    let mut views = Vec::new();
    for row in &rows {
        let mut row = decode(row)?;
        if row.view.state == ApprovalState::Pending && row.view.expires_at <= now {
            row.view.state = ApprovalState::Expired;
        }
        let visible = match (&caller.role, &caller.scope) {
            (Role::Clerk, Scope::Register { register, .. }) => *register == row.view.register_id,
            (Role::Treasury | Role::Operator, _) => {
                app.config.facility(&row.view.facility_id).is_some_and(|facility| caller.supervises(facility))
            }
            _ => false,
        };
        if visible && state.is_none_or(|wanted| row.view.state == wanted) {
            views.push(complete_view(&mut conn, row).await?);
        }
    }
    Ok(views)
}

/// One request, for its clerk or a supervisor of its facility.
pub async fn get(app: &AppState, caller: &Caller, id: &str) -> Result<RefundApprovalView, Refusal> {
    let mut conn = app.journal.read().await?;
    let row = load(&mut conn, id, "").await?.ok_or_else(|| Refusal::not_found("refund request", id))?;
    let own = matches!((&caller.role, &caller.scope), (Role::Clerk, Scope::Register { register, .. }) if *register == row.view.register_id);
    if !own {
        require_supervisor(app, caller, &row.view.facility_id)?;
    }
    let mut view = complete_view(&mut conn, row).await?;
    if view.state == ApprovalState::Pending && view.expires_at <= app.clock.now() {
        view.state = ApprovalState::Expired;
    }
    Ok(view)
}

/// What a supervisor's decision made: the request, and the refund to send after the commit.
pub struct Decided {
    pub view: RefundApprovalView,
    pub refund_to_send: Option<String>,
}

/// A supervisor approves (making the refund, in the clerk's name) or rejects a pending request.
/// `stan` is a trace number reserved before the transaction ([`super::refunds::reserve_stan`]).
pub async fn decide(
    app: &AppState,
    tx: &mut WriteTx,
    supervisor: &Caller,
    id: &str,
    approve: bool,
    note: &str,
    stan: Option<String>,
) -> Result<Decided, Refusal> {
    let lock = tx.for_update();
    let row = load(tx.conn(), id, lock).await?.ok_or_else(|| Refusal::not_found("refund request", id))?;
    require_supervisor(app, supervisor, &row.view.facility_id)?;
    let now = app.clock.now();
    if row.view.state != ApprovalState::Pending {
        return Err(Refusal::conflict(
            "request_decided",
            format!("refund request {id} is already {}", row.view.state.code()),
        ));
    }
    if row.view.expires_at <= now {
        set_state(tx, id, ApprovalState::Expired, None, None, now).await?;
        return Err(Refusal::conflict("request_expired", format!("refund request {id} expired: the clerk asks again")));
    }
    let mut refund_to_send = None;
    let state = if approve {
        let clerk = Caller {
            user: row.view.requested_by.clone().ok_or_else(|| Refusal::internal("a request without its clerk"))?,
            role: Role::Clerk,
            scope: Scope::Register { facility: row.view.facility_id.clone(), register: row.view.register_id.clone() },
        };
        let request = pos_core::api::RefundRequest {
            amount: row.view.amount,
            method: pos_core::api::RefundMethod::Original,
            reason: row.view.reason.clone(),
            approval_code: None,
        };
        let refund: RefundView = super::refunds::refund(
            app,
            tx,
            &clerk,
            Some(supervisor.user.as_str()),
            &row.view.payment_id,
            &request,
            &row.view.reason,
            stan,
        )
        .await?;
        if refund.state == pos_core::RefundState::Authorizing {
            refund_to_send = Some(refund.id.clone());
        }
        set_state(tx, id, ApprovalState::Approved, Some(&supervisor.user), Some(&refund.id), now).await?;
        ApprovalState::Approved
    } else {
        set_state(tx, id, ApprovalState::Rejected, Some(&supervisor.user), None, now).await?;
        ApprovalState::Rejected
    };
    sqlx::query("UPDATE refund_approvals SET decision_note = $1 WHERE id = $2")
        .bind(note)
        .bind(id)
        .execute(tx.conn())
        .await
        .map_err(crate::journal::JournalError::from)?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: supervisor.user.as_str(),
            kind: EventKind::RefundRequestDecided,
            entity_id: id,
            facility_id: row.view.facility_id.as_str(),
            data: serde_json::json!({ "state": state, "note": note, "refund_id": refund_to_send, "payment_id": row.view.payment_id }),
        },
    )
    .await?;
    let row = load(tx.conn(), id, "").await?.ok_or_else(|| Refusal::internal("request vanished"))?;
    Ok(Decided { view: complete_view(tx.conn(), row).await?, refund_to_send })
}

async fn set_state(
    tx: &mut WriteTx,
    id: &str,
    state: ApprovalState,
    approver: Option<&UserName>,
    refund_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    sqlx::query(
        "UPDATE refund_approvals SET state = $1, approver = COALESCE($2, approver), refund_id = COALESCE($3, refund_id), decided_at = $4 WHERE id = $5",
    )
    .bind(state.code())
    .bind(approver.map(UserName::as_str))
    .bind(refund_id)
    .bind(instant_text(now))
    .bind(id)
    .execute(tx.conn())
    .await
    .map_err(crate::journal::JournalError::from)?;
    Ok(())
}

fn code_digest(approval_id: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{approval_id}\n{code}").as_bytes()))
}

/// A supervisor issues a one-time code approving a refund of `amount` of a payment. Earlier
/// unused codes of the payment end with it.
pub async fn issue_code(
    app: &AppState,
    tx: &mut WriteTx,
    supervisor: &Caller,
    payment_id: &str,
    amount: Yen,
) -> Result<ApprovalCodeView, Refusal> {
    let payment = load_locked(tx, payment_id).await?;
    let facility =
        pos_core::FacilityId::parse(&payment.facility_id).map_err(|_| Refusal::internal("malformed facility id"))?;
    require_supervisor(app, supervisor, &facility)?;
    if !payment.view.state.holds_money() {
        return Err(Refusal::conflict(
            "not_refundable",
            format!("payment {payment_id} is {}: there is nothing to refund", payment.view.state),
        ));
    }
    if amount.get() <= 0 || amount > payment.view.amount.checked_sub(payment.view.refunded).unwrap_or_default() {
        return Err(Refusal::unprocessable(
            "invalid_amount",
            "the amount must be more than zero and no more than can still be refunded",
        )
        .at("amount"));
    }
    let now = app.clock.now();
    sqlx::query("UPDATE refund_approvals SET state = 'expired', decided_at = $1 WHERE payment_id = $2 AND kind = 'code' AND state = 'pending'")
        .bind(instant_text(now))
        .bind(payment_id)
        .execute(tx.conn())
        .await
        .map_err(crate::journal::JournalError::from)?;
    let id = format!("apc_{}", uuid::Uuid::new_v4().simple());
    let bound = 10u32.pow(APPROVAL_CODE_DIGITS);
    let code = format!("{:0width$}", rand::rngs::OsRng.gen_range(0..bound), width = APPROVAL_CODE_DIGITS as usize);
    let expires_at = now + Duration::seconds(APPROVAL_CODE_VALID_SECONDS);
    sqlx::query(
        "INSERT INTO refund_approvals (id, kind, payment_id, facility_id, register_id, amount, reason, state, code_sha256, approver, created_at, expires_at) VALUES ($1, 'code', $2, $3, $4, $5, '', 'pending', $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(payment_id)
    .bind(&payment.facility_id)
    .bind(&payment.register_id)
    .bind(amount.get())
    .bind(code_digest(&id, &code))
    .bind(supervisor.user.as_str())
    .bind(instant_text(now))
    .bind(instant_text(expires_at))
    .execute(tx.conn())
    .await
    .map_err(crate::journal::JournalError::from)?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: supervisor.user.as_str(),
            kind: EventKind::ApprovalCodeIssued,
            entity_id: &id,
            facility_id: &payment.facility_id,
            data: serde_json::json!({ "payment_id": payment_id, "amount": amount, "expires_at": expires_at }),
        },
    )
    .await?;
    Ok(ApprovalCodeView { code, payment_id: payment_id.to_string(), amount, expires_at })
}

/// A code that checked out: which approval it is and who issued it.
pub struct CheckedCode {
    pub approval_id: String,
    pub approver: UserName,
}

/// Checks a clerk's code for a refund of `amount` of a payment, in a transaction of its own so a
/// wrong try counts even though the refund is refused. Every failure reads the same.
pub async fn check_code(
    app: &AppState,
    clerk: &Caller,
    payment_id: &str,
    amount: Yen,
    code: &str,
) -> Result<CheckedCode, Refusal> {
    let refused = || Refusal::forbidden(CODE_NOT_VALID);
    let now = app.clock.now();
    let mut tx = app.journal.begin_write().await?;
    let lock = tx.for_update();
    let rows = sqlx::query(&format!(
        "SELECT {APPROVAL_COLUMNS} FROM refund_approvals WHERE payment_id = $1 AND kind = 'code' AND state = 'pending'{lock}"
    ))
    .bind(payment_id)
    .fetch_all(tx.conn())
    .await
    .map_err(crate::journal::JournalError::from)?;
    let mut matched = None;
    let mut live = Vec::new();
    for row in &rows {
        let id: String = row.try_get("id").map_err(crate::journal::JournalError::from)?;
        let digest: Option<String> = row.try_get("code_sha256").map_err(crate::journal::JournalError::from)?;
        let decoded = decode(row)?;
        if decoded.view.expires_at <= now {
            set_state(&mut tx, &id, ApprovalState::Expired, None, None, now).await?;
            continue;
        }
        let same = digest.is_some_and(|d| constant_time_eq(d.as_bytes(), code_digest(&id, code).as_bytes()));
        if same && decoded.view.amount == amount {
            matched = decoded.view.approver.clone().map(|approver| CheckedCode { approval_id: id.clone(), approver });
        }
        live.push((id, decoded.view.facility_id));
    }
    if matched.is_none() {
        for (id, facility) in &live {
            let tries: i64 = sqlx::query("UPDATE refund_approvals SET tries = tries + 1 WHERE id = $1 RETURNING tries")
                .bind(id)
                .fetch_one(tx.conn())
                .await
                .map_err(crate::journal::JournalError::from)?
                .try_get("tries")
                .map_err(crate::journal::JournalError::from)?;
            if tries >= APPROVAL_CODE_TRIES_MAX {
                set_state(&mut tx, id, ApprovalState::Locked, None, None, now).await?;
                events::append(
                    tx.conn(),
                    NewEvent {
                        at: now,
                        actor: clerk.user.as_str(),
                        kind: EventKind::ApprovalCodeLocked,
                        entity_id: id,
                        facility_id: facility.as_str(),
                        data: serde_json::json!({ "payment_id": payment_id, "tries": tries }),
                    },
                )
                .await?;
            }
        }
        metrics::counter!("approval_code_refusals_total").increment(1);
    }
    tx.commit().await?;
    matched.ok_or_else(refused)
}

/// Spends a checked code on the refund it approved, in the refund's transaction; refused when the
/// code was spent or locked meanwhile.
pub async fn consume_code(
    tx: &mut WriteTx,
    checked: &CheckedCode,
    clerk: &Caller,
    refund: &RefundView,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let used = sqlx::query(
        "UPDATE refund_approvals SET state = 'used', requested_by = $1, refund_id = $2, reason = $3, decided_at = $4 WHERE id = $5 AND state = 'pending'",
    )
    .bind(clerk.user.as_str())
    .bind(&refund.id)
    .bind(&refund.reason)
    .bind(instant_text(now))
    .bind(&checked.approval_id)
    .execute(tx.conn())
    .await
    .map_err(crate::journal::JournalError::from)?
    .rows_affected();
    if used != 1 {
        return Err(Refusal::forbidden(CODE_NOT_VALID));
    }
    let facility = crate::journal::payments::facility_of(tx.conn(), &refund.payment_id).await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: clerk.user.as_str(),
            kind: EventKind::ApprovalCodeUsed,
            entity_id: &checked.approval_id,
            facility_id: &facility,
            data: serde_json::json!({ "refund_id": refund.id, "approver": checked.approver }),
        },
    )
    .await?;
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
