//! A terminal's authorization: bind it to the pending payment, journal, forward, journal the
//! answer, answer the terminal.

use std::time::{Duration, Instant};

use iso8583::client::ClientError;
use iso8583::{amount_of, fields, BrandData, Message, Mti, ResponseCode};
use pos_config::{Acquirer, Facility};
use pos_core::{mask_pan, Brand, PaymentState, Yen};

use crate::booking::book_payment;
use crate::journal::events::{self, NewEvent};
use crate::journal::payments::{self, Answer, Authorizing, PaymentRecord};
use crate::journal::reversals::{self, NewReversal, OriginalRequest, ReversalReason};
use crate::journal::{JournalError, WriteTx};
use crate::AppState;

/// Codes this host answers with itself (ISO 8583:1987 field 39), besides the acquirer's own.
pub mod host_codes {
    /// Invalid transaction: no payment waits at this terminal, or a brand of the wrong method.
    pub const INVALID_TRANSACTION: &str = "12";
    /// Invalid amount: the terminal's amount is not the pending payment's.
    pub const INVALID_AMOUNT: &str = "13";
    /// Format error: a required field is missing or malformed.
    pub const FORMAT_ERROR: &str = "30";
    /// The facility does not take this brand.
    pub const NOT_PERMITTED: &str = "57";
    pub const ISSUER_UNAVAILABLE: &str = "91";
    pub const SYSTEM_MALFUNCTION: &str = "96";
}

/// The actor named in the journal for what the switch does on its own.
const SWITCH_ACTOR: &str = "switch";

struct Decline {
    code: &'static str,
    reason: String,
}

fn decline(code: &'static str, reason: impl Into<String>) -> Decline {
    Decline { code, reason: reason.into() }
}

/// Answers one request from a terminal.
pub async fn handle_terminal_request(app: &AppState, request: Message) -> Option<Message> {
    match request.mti.as_str() {
        "0800" => Some(request.response_skeleton().with(fields::RESPONSE_CODE, "00")),
        "0200" => Some(financial(app, &request).await),
        "0400" | "0401" => Some(terminal_reversal(app, &request).await),
        other => {
            tracing::warn!(mti = other, "terminal sent a message type this host does not take");
            None
        }
    }
}

fn answer(request: &Message, code: &str) -> Message {
    request.response_skeleton().with(fields::RESPONSE_CODE, code.to_string())
}

/// The card number shown in the journal: the masked PAN, or the e-money card's masked id.
fn masked_card(request: &Message, brand_data: &BrandData) -> Option<String> {
    if let Some(pan) = request.text(fields::PAN) {
        return mask_pan(pan).ok().map(|m| m.to_string());
    }
    if let Some(track) = request.text(fields::TRACK_2) {
        let pan: String = track.chars().take_while(char::is_ascii_digit).collect();
        return mask_pan(&pan).ok().map(|m| m.to_string());
    }
    brand_data.card_id.clone()
}

async fn financial(app: &AppState, request: &Message) -> Message {
    let terminal = request.text(fields::TERMINAL_ID).unwrap_or("").to_string();
    if request.text(fields::PROCESSING_CODE) != Some(fields::PROCESSING_PURCHASE) {
        tracing::warn!(%terminal, "terminal-initiated refund refused: refunds start at the register");
        return answer(request, host_codes::INVALID_TRANSACTION);
    }
    let (Some(amount), Some(terminal_stan)) = (amount_of(request), request.text(fields::STAN).map(str::to_string))
    else {
        return answer(request, host_codes::FORMAT_ERROR);
    };
    let brand_data = match request.text(fields::BRAND_DATA).map(BrandData::parse) {
        Some(Ok(data)) if data.brand.is_some() => data,
        _ => {
            tracing::warn!(%terminal, "authorization without a valid brand (field 48 BR)");
            return answer(request, host_codes::FORMAT_ERROR);
        }
    };
    let brand = brand_data.brand.unwrap_or(Brand::Cash);
    let masked = masked_card(request, &brand_data);
    let bound = bind(app, &terminal, &terminal_stan, amount, brand, masked.as_deref()).await;
    let bound = match bound {
        Ok(bound) => bound,
        Err(Ok(refusal)) => {
            tracing::warn!(%terminal, code = refusal.code, reason = %refusal.reason, "authorization declined by the host");
            metrics::counter!("authorizations_total", "acquirer" => "-", "brand" => brand.code(), "outcome" => "host_declined").increment(1);
            return answer(request, refusal.code);
        }
        Err(Err(error)) => {
            tracing::error!(%error, %terminal, "journal failure binding an authorization");
            return answer(request, host_codes::SYSTEM_MALFUNCTION);
        }
    };
    forward(app, request, bound, brand).await
}

struct Bound {
    payment: PaymentRecord,
    acquirer: Acquirer,
    facility: Facility,
    stan: String,
    transmitted_at: String,
}

/// Binds the terminal's request to its pending payment and journals it as `authorizing`, with
/// the STAN it will carry, before anything is sent.
async fn bind(
    app: &AppState,
    terminal: &str,
    terminal_stan: &str,
    amount: Yen,
    brand: Brand,
    masked: Option<&str>,
) -> Result<Bound, Result<Decline, JournalError>> {
    let mut tx = app.journal.begin_write().await.map_err(Err)?;
    let lock = tx.for_update();
    let found = payments::awaiting_at_terminal(tx.conn(), terminal, lock).await.map_err(Err)?;
    let checked = check_binding(app, found, amount, brand);
    let (payment, facility, acquirer) = match checked {
        Ok(found) => found,
        Err(refusal) => {
            tx.rollback().await.map_err(Err)?;
            return Err(Ok(refusal));
        }
    };
    let now = app.clock.now();
    let stan = payments::next_stan(&mut tx, &acquirer.id).await.map_err(Err)?;
    let transmitted_at = super::transmission_time(now);
    let state = payment
        .view
        .state
        .transition(PaymentState::Authorizing, payment.view.method)
        .map_err(|e| Ok(decline(host_codes::INVALID_TRANSACTION, e.to_string())))?;
    let authorizing = Authorizing {
        brand,
        masked_card: masked,
        acquirer_id: &acquirer.id,
        acquirer_stan: &stan,
        terminal_stan,
        transmitted_at: &transmitted_at,
    };
    payments::set_authorizing(&mut tx, &payment.view.id, &authorizing, now).await.map_err(Err)?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: SWITCH_ACTOR,
            kind: "payment.authorizing",
            entity_id: &payment.view.id,
            facility_id: &payment.facility_id,
            data: serde_json::json!({ "state": state, "brand": brand, "masked_card": masked, "acquirer": acquirer.id, "stan": stan, "terminal_id": terminal, "terminal_stan": terminal_stan }),
        },
    )
    .await
    .map_err(Err)?;
    tx.commit().await.map_err(Err)?;
    Ok(Bound { payment, acquirer, facility, stan, transmitted_at })
}

fn check_binding(
    app: &AppState,
    found: Option<PaymentRecord>,
    amount: Yen,
    brand: Brand,
) -> Result<(PaymentRecord, Facility, Acquirer), Decline> {
    let payment =
        found.ok_or_else(|| decline(host_codes::INVALID_TRANSACTION, "no payment is waiting at this terminal"))?;
    if payment.view.amount != amount {
        return Err(decline(
            host_codes::INVALID_AMOUNT,
            format!("terminal asked {amount}, the pending payment is {}", payment.view.amount),
        ));
    }
    if brand.method() != payment.view.method {
        return Err(decline(
            host_codes::INVALID_TRANSACTION,
            format!("{brand} is {}, the pending payment is {}", brand.method(), payment.view.method),
        ));
    }
    let facility = pos_core::FacilityId::parse(&payment.facility_id)
        .ok()
        .and_then(|id| app.config.facility(&id).cloned())
        .ok_or_else(|| decline(host_codes::SYSTEM_MALFUNCTION, "facility no longer configured"))?;
    if !facility.accepts(brand) {
        return Err(decline(host_codes::NOT_PERMITTED, format!("facility {} does not take {brand}", facility.id)));
    }
    let acquirer = app
        .config
        .fee_rate(brand)
        .map(|(acquirer, _)| acquirer.clone())
        .filter(|acquirer| acquirer.link.is_some() && app.switch.client(&acquirer.id).is_some())
        .ok_or_else(|| decline(host_codes::ISSUER_UNAVAILABLE, format!("no acquirer link for {brand}")))?;
    Ok((payment, facility, acquirer))
}

async fn forward(app: &AppState, request: &Message, bound: Bound, brand: Brand) -> Message {
    let mut outbound = request.clone();
    outbound.set(fields::STAN, bound.stan.clone());
    outbound.set(fields::TRANSMISSION_DATE_TIME, bound.transmitted_at.clone());
    outbound.set(fields::MERCHANT_ID, bound.facility.merchant_id.clone());
    outbound.set(fields::CURRENCY, fields::CURRENCY_JPY);
    let link = bound.acquirer.link.as_ref().map_or(0, |l| l.request_timeout_ms);
    let started = Instant::now();
    let result = match app.switch.client(&bound.acquirer.id) {
        Some(client) => client.request(&outbound, Duration::from_millis(link)).await,
        None => Err(ClientError::NotSent("no link".to_string())),
    };
    metrics::histogram!("acquirer_latency_seconds", "acquirer" => bound.acquirer.id.clone()).record(started.elapsed());
    let original = OriginalRequest {
        mti: outbound.mti.as_str().to_string(),
        processing_code: fields::PROCESSING_PURCHASE.to_string(),
        amount: bound.payment.view.amount.get(),
        terminal_id: outbound.text(fields::TERMINAL_ID).unwrap_or("").to_string(),
        merchant_id: bound.facility.merchant_id.clone(),
        stan: bound.stan.clone(),
        transmitted_at: bound.transmitted_at.clone(),
        brand_data: BrandData { brand: Some(brand), ..BrandData::default() }.format(),
    };
    let recorded = record_outcome(app, &bound, &result, &original).await;
    let outcome_label;
    let response = match (recorded, &result) {
        (Ok(Recorded::Completed), Ok(answer_message)) => {
            outcome_label = "approved";
            let mut response = answer(request, "00");
            for number in [fields::RETRIEVAL_REFERENCE, fields::AUTHORIZATION_CODE] {
                if let Some(value) = answer_message.get(number) {
                    response.set(number, value.to_vec());
                }
            }
            response
        }
        (Ok(Recorded::Answered(code)), Ok(answer_message)) => {
            outcome_label = if code == "Y1" { "unknown" } else { "declined" };
            let mut response = answer(request, &code);
            if let Some(rrn) = answer_message.get(fields::RETRIEVAL_REFERENCE) {
                response.set(fields::RETRIEVAL_REFERENCE, rrn.to_vec());
            }
            response
        }
        (Ok(Recorded::NotSent), _) => {
            outcome_label = "unreachable";
            answer(request, host_codes::ISSUER_UNAVAILABLE)
        }
        (Ok(Recorded::InDoubt), _) => {
            outcome_label = "in_doubt";
            app.switch.reversal_wake.notify_one();
            answer(request, host_codes::ISSUER_UNAVAILABLE)
        }
        (Ok(Recorded::TooLate), _) => {
            outcome_label = "too_late";
            answer(request, host_codes::ISSUER_UNAVAILABLE)
        }
        (Ok(_), Err(_)) | (Err(_), _) => {
            outcome_label = "journal_error";
            answer(request, host_codes::SYSTEM_MALFUNCTION)
        }
    };
    metrics::counter!("authorizations_total", "acquirer" => bound.acquirer.id.clone(), "brand" => brand.code(), "outcome" => outcome_label).increment(1);
    response
}

enum Recorded {
    Completed,
    /// A decline or an unknown outcome, with the acquirer's code.
    Answered(String),
    NotSent,
    InDoubt,
    /// The payment left `authorizing` while we waited (swept into a reversal): the answer counts
    /// for nothing.
    TooLate,
}

async fn record_outcome(
    app: &AppState,
    bound: &Bound,
    result: &Result<Message, ClientError>,
    original: &OriginalRequest,
) -> Result<Recorded, JournalError> {
    let mut tx = app.journal.begin_write().await?;
    let lock = tx.for_update();
    let payment = payments::load(tx.conn(), &bound.payment.view.id, lock).await?;
    let Some(payment) = payment.filter(|p| p.view.state == PaymentState::Authorizing) else {
        tx.rollback().await?;
        tracing::warn!(payment = %bound.payment.view.id, "acquirer outcome arrived after the payment left authorizing: ignored (its reversal stands)");
        metrics::counter!("acquirer_late_outcomes_total", "acquirer" => bound.acquirer.id.clone()).increment(1);
        return Ok(Recorded::TooLate);
    };
    let now = app.clock.now();
    let recorded = match result {
        Ok(message) if message.mti == Mti::FINANCIAL_RESPONSE => {
            let code = message.text(fields::RESPONSE_CODE).unwrap_or("96").to_string();
            let response = ResponseCode::parse(&code);
            let acquirer_answer = Answer {
                response_code: Some(&code),
                rrn: message.text(fields::RETRIEVAL_REFERENCE),
                auth_code: message.text(fields::AUTHORIZATION_CODE),
            };
            match response {
                ResponseCode::Approved => {
                    approve(&mut tx, &payment, &acquirer_answer, now).await?;
                    Recorded::Completed
                }
                ResponseCode::OutcomeUnknown => {
                    let note = "e-money outcome unknown at the centre (処理未了): checking — do not retry; treasury resolves it";
                    transition(&mut tx, &payment, PaymentState::InDoubt, &acquirer_answer, note, now).await?;
                    Recorded::Answered(code)
                }
                other => {
                    let note = format!("declined: {}", other.meaning());
                    transition(&mut tx, &payment, PaymentState::Declined, &acquirer_answer, &note, now).await?;
                    Recorded::Answered(code)
                }
            }
        }
        Ok(_) => {
            in_doubt(
                &mut tx,
                &payment,
                bound,
                original,
                ReversalReason::LinkLost,
                "the acquirer answered with the wrong message type",
                now,
            )
            .await?;
            Recorded::InDoubt
        }
        Err(ClientError::NotSent(reason)) => {
            let note = format!(
                "the acquirer could not be reached ({reason}); nothing was charged — try again or take another method"
            );
            transition(
                &mut tx,
                &payment,
                PaymentState::Failed,
                &Answer { response_code: None, rrn: None, auth_code: None },
                &note,
                now,
            )
            .await?;
            Recorded::NotSent
        }
        Err(error) => {
            let reason = if matches!(error, ClientError::Timeout(_)) {
                ReversalReason::Timeout
            } else {
                ReversalReason::LinkLost
            };
            in_doubt(&mut tx, &payment, bound, original, reason, &error.to_string(), now).await?;
            Recorded::InDoubt
        }
    };
    tx.commit().await?;
    Ok(recorded)
}

async fn transition(
    tx: &mut WriteTx,
    payment: &PaymentRecord,
    to: PaymentState,
    answer: &Answer<'_>,
    note: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), JournalError> {
    let state = payment.view.state.transition(to, payment.view.method).map_err(|e| JournalError::Corrupt {
        table: "payments",
        column: "state",
        id: payment.view.id.clone(),
        value: e.to_string(),
    })?;
    payments::set_outcome(tx, &payment.view.id, state, answer, note, now).await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: SWITCH_ACTOR,
            kind: match state {
                PaymentState::Declined => "payment.declined",
                PaymentState::Failed => "payment.failed",
                PaymentState::InDoubt => "payment.in_doubt",
                PaymentState::Approved => "payment.approved",
                _ => "payment.changed",
            },
            entity_id: &payment.view.id,
            facility_id: &payment.facility_id,
            data: serde_json::json!({ "state": state, "response_code": answer.response_code, "rrn": answer.rrn, "note": note }),
        },
    )
    .await?;
    if state == PaymentState::InDoubt {
        metrics::counter!("payments_in_doubt_total", "method" => payment.view.method.code()).increment(1);
    }
    Ok(())
}

async fn approve(
    tx: &mut WriteTx,
    payment: &PaymentRecord,
    answer: &Answer<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), JournalError> {
    transition(tx, payment, PaymentState::Approved, answer, "approved", now).await?;
    let approved = PaymentRecord {
        view: pos_core::api::PaymentView { state: PaymentState::Approved, ..payment.view.clone() },
        ..payment.clone()
    };
    transition(tx, &approved, PaymentState::Completed, answer, "approved", now).await?;
    book_payment(tx, &payment.view.sale_id, payment.view.amount, payment.view.business_date, now, SWITCH_ACTOR)
        .await
        .map_err(|error| match error {
        crate::booking::BookingError::Journal(error) => error,
        other => JournalError::Corrupt {
            table: "sales",
            column: "amount_paid",
            id: payment.view.sale_id.clone(),
            value: other.to_string(),
        },
    })?;
    let facility = payment.facility_id.clone();
    let method = payment.view.method.code();
    metrics::counter!("payments_completed_total", "facility" => facility.clone(), "method" => method).increment(1);
    metrics::counter!("payments_amount_yen_total", "facility" => facility, "method" => method)
        .increment(payment.view.amount.get().unsigned_abs());
    Ok(())
}

/// No answer: in doubt, with the reversal queued in the same transaction.
async fn in_doubt(
    tx: &mut WriteTx,
    payment: &PaymentRecord,
    bound: &Bound,
    original: &OriginalRequest,
    reason: ReversalReason,
    detail: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), JournalError> {
    let note = format!("no answer from the acquirer ({detail}): reversing — checking, do not retry");
    transition(
        tx,
        payment,
        PaymentState::InDoubt,
        &Answer { response_code: None, rrn: None, auth_code: None },
        &note,
        now,
    )
    .await?;
    reversals::enqueue(
        tx,
        &NewReversal {
            payment_id: &payment.view.id,
            refund_id: None,
            acquirer_id: &bound.acquirer.id,
            reason,
            original,
        },
        now,
    )
    .await?;
    Ok(())
}

/// What a reversal of this payment's authorization must name (no card data).
fn original_of(payment: &PaymentRecord, app: &AppState) -> Option<(String, OriginalRequest)> {
    let (Some(acquirer_id), Some(stan), Some(transmitted_at)) =
        (&payment.acquirer_id, &payment.acquirer_stan, &payment.transmitted_at)
    else {
        return None;
    };
    let merchant_id = pos_core::FacilityId::parse(&payment.facility_id)
        .ok()
        .and_then(|id| app.config.facility(&id).map(|f| f.merchant_id.clone()))
        .unwrap_or_default();
    Some((
        acquirer_id.clone(),
        OriginalRequest {
            mti: "0200".to_string(),
            processing_code: fields::PROCESSING_PURCHASE.to_string(),
            amount: payment.view.amount.get(),
            terminal_id: payment.view.terminal_id.clone().unwrap_or_default(),
            merchant_id,
            stan: stan.clone(),
            transmitted_at: transmitted_at.clone(),
            brand_data: BrandData { brand: payment.view.brand, ..BrandData::default() }.format(),
        },
    ))
}

/// Puts a payment that has been sent to an acquirer into doubt and queues its reversal (used by
/// the worker's sweep of payments a crash left `authorizing`).
pub async fn reverse_in_doubt(
    tx: &mut WriteTx,
    payment: &PaymentRecord,
    app: &AppState,
    reason: ReversalReason,
    detail: &str,
) -> Result<bool, JournalError> {
    let Some((acquirer_id, original)) = original_of(payment, app) else {
        return Ok(false);
    };
    let now = app.clock.now();
    if payment.view.state != PaymentState::InDoubt {
        let note = format!("{detail}: reversing — checking, do not retry");
        transition(
            tx,
            payment,
            PaymentState::InDoubt,
            &Answer { response_code: None, rrn: None, auth_code: None },
            &note,
            now,
        )
        .await?;
    }
    reversals::enqueue(
        tx,
        &NewReversal {
            payment_id: &payment.view.id,
            refund_id: None,
            acquirer_id: &acquirer_id,
            reason,
            original: &original,
        },
        now,
    )
    .await
}

/// A terminal that did not get our answer asks to reverse its request (0400/0401).
async fn terminal_reversal(app: &AppState, request: &Message) -> Message {
    let terminal = request.text(fields::TERMINAL_ID).unwrap_or("").to_string();
    let original_stan = request.text(fields::ORIGINAL_DATA).filter(|d| d.len() >= 10).map(|d| d[4..10].to_string());
    let Some(original_stan) = original_stan else {
        return answer(request, host_codes::FORMAT_ERROR);
    };
    match reverse_for_terminal(app, &terminal, &original_stan).await {
        Ok(()) => {
            app.switch.reversal_wake.notify_one();
            answer(request, "00")
        }
        Err(error) => {
            tracing::error!(%error, %terminal, "journal failure on a terminal reversal");
            answer(request, host_codes::SYSTEM_MALFUNCTION)
        }
    }
}

async fn reverse_for_terminal(app: &AppState, terminal: &str, terminal_stan: &str) -> Result<(), JournalError> {
    let mut tx = app.journal.begin_write().await?;
    let lock = tx.for_update();
    let Some(payment) = payments::by_terminal_stan(tx.conn(), terminal, terminal_stan, lock).await? else {
        tx.rollback().await?;
        tracing::info!(%terminal, %terminal_stan, "terminal reversal of an unknown request: nothing to reverse");
        return Ok(());
    };
    let reason = "the terminal did not receive the answer";
    match payment.view.state {
        PaymentState::Authorizing => {
            reverse_in_doubt(&mut tx, &payment, app, ReversalReason::TerminalRequest, reason).await?;
        }
        PaymentState::Completed => {
            let original_reversal = reverse_completed(&mut tx, &payment, app, ReversalReason::TerminalRequest).await?;
            if original_reversal {
                let note = "reversal requested by the terminal: reversing at the acquirer";
                payments::set_note(&mut tx, &payment.view.id, note, app.clock.now()).await?;
            }
        }
        _ => {}
    }
    tx.commit().await
}

/// Queues the reversal of a completed payment (a void, or a terminal's request); the worker turns
/// it into `voided` when the acquirer confirms.
pub async fn reverse_completed(
    tx: &mut WriteTx,
    payment: &PaymentRecord,
    app: &AppState,
    reason: ReversalReason,
) -> Result<bool, JournalError> {
    let Some((acquirer_id, original)) = original_of(payment, app) else {
        return Ok(false);
    };
    reversals::enqueue(
        tx,
        &NewReversal {
            payment_id: &payment.view.id,
            refund_id: None,
            acquirer_id: &acquirer_id,
            reason,
            original: &original,
        },
        app.clock.now(),
    )
    .await
}
