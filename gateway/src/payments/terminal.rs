//! What a payment terminal asks, decided: its authorization bound to the payment waiting at it,
//! and its own reversal. The terminal host ([`crate::terminal_host`]) has already checked that the
//! terminal is who field 41 says (its certificate) before anything here runs.
//!
//! An authorization is journaled `authorizing`, with the trace number it will carry, before it is
//! forwarded; the acquirer's answer is journaled before the terminal hears it. A terminal's own
//! reversal (0400/0401, PROTOCOLS.md §1) undoes only that terminal's last authorization, only
//! while it is in flight or answered within the reversal window on the same business day, and only
//! when field 4 and field 90 name that very request; anything else is refused and changes nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use iso8583::{amount_of, fields, BrandData, Message, ResponseCode};
use pos_config::{Acquirer, Facility};
use pos_core::{mask_pan, Brand, BusinessDate, PaymentState, ReversalState, Yen};

use super::booking::book_payment;
use super::{connectors_acquirer, reversals, SWITCH_ACTOR};
use crate::connectors::acquirer::{emoney, messages, AuthorizationOutcome, CardAcquirer};
use crate::journal::lifecycle::{self, Authorizing, Cause, LifecycleError, PaymentFields, Step};
use crate::journal::payments::{self, PaymentRecord};
use crate::journal::reversals::ReversalReason;
use crate::AppState;

/// Added to the longest acquirer request timeout to make the default window in which a terminal
/// may still reverse an authorization it had answered (it did not hear the answer in time).
pub const TERMINAL_REVERSAL_MARGIN_MS: u64 = 10_000;

/// Why the host refused a terminal's reversal (a metric label and a log field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReversalRefusal {
    Malformed,
    NotItsLast,
    NotThatRequest,
    OtherAmount,
    OtherDay,
    TooLate,
    NotReversible,
    MoneyReturnOpen,
}

impl ReversalRefusal {
    fn label(self) -> &'static str {
        match self {
            ReversalRefusal::Malformed => "malformed",
            ReversalRefusal::NotItsLast => "not_its_last",
            ReversalRefusal::NotThatRequest => "not_that_request",
            ReversalRefusal::OtherAmount => "other_amount",
            ReversalRefusal::OtherDay => "other_day",
            ReversalRefusal::TooLate => "too_late",
            ReversalRefusal::NotReversible => "not_reversible",
            ReversalRefusal::MoneyReturnOpen => "money_return_open",
        }
    }

    fn code(self) -> ResponseCode {
        match self {
            ReversalRefusal::Malformed => ResponseCode::Other(FORMAT_ERROR.to_string()),
            ReversalRefusal::NotItsLast | ReversalRefusal::NotThatRequest => ResponseCode::OriginalNotFound,
            _ => ResponseCode::InvalidTransaction,
        }
    }
}

/// Field 39 "format error" (a required field missing or malformed).
pub const FORMAT_ERROR: &str = "30";
/// Field 39 "the facility does not take this brand".
pub const NOT_PERMITTED: &str = "57";

/// The window in which a terminal may still reverse an answered authorization.
pub fn reversal_window(app: &AppState) -> Duration {
    let configured = app.config.terminal_host.as_ref().and_then(|host| host.reversal_window_ms);
    let longest = app.config.acquirers.iter().filter_map(|a| a.link.as_ref().map(|l| l.request_timeout_ms)).max();
    Duration::from_millis(configured.unwrap_or(longest.unwrap_or(0) + TERMINAL_REVERSAL_MARGIN_MS))
}

fn answer(request: &Message, code: &ResponseCode) -> Message {
    request.response_skeleton().with(fields::RESPONSE_CODE, code.code().to_string())
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
    emoney::masked_card_id(brand_data)
}

/// A terminal's purchase (0200): bind, journal, forward, journal the answer, answer.
pub async fn purchase(app: &AppState, terminal: &str, request: &Message) -> Message {
    if request.text(fields::PROCESSING_CODE) != Some(fields::PROCESSING_PURCHASE) {
        tracing::warn!(%terminal, "terminal-initiated refund refused: refunds start at the register");
        return answer(request, &ResponseCode::InvalidTransaction);
    }
    let format_error = ResponseCode::Other(FORMAT_ERROR.to_string());
    let (Some(amount), Some(terminal_stan)) = (amount_of(request), request.text(fields::STAN)) else {
        return answer(request, &format_error);
    };
    let brand = match request.text(fields::BRAND_DATA).map(BrandData::parse) {
        Some(Ok(BrandData { brand: Some(brand), .. })) => brand,
        _ => {
            tracing::warn!(%terminal, "authorization without a valid brand (field 48 BR)");
            return answer(request, &format_error);
        }
    };
    let brand_data = request.text(fields::BRAND_DATA).map(BrandData::parse).and_then(Result::ok).unwrap_or_default();
    let masked = masked_card(request, &brand_data);
    let bound = bind(
        app,
        terminal,
        terminal_stan,
        request.text(fields::TRANSMISSION_DATE_TIME),
        amount,
        brand,
        masked.as_deref(),
    )
    .await;
    let bound = match bound {
        Ok(bound) => bound,
        Err(Ok((code, reason))) => {
            tracing::warn!(%terminal, code = code.code(), %reason, "authorization declined by the host");
            metrics::counter!("authorizations_total", "acquirer" => "-", "brand" => brand.code(), "outcome" => "host_declined").increment(1);
            return answer(request, &code);
        }
        Err(Err(error)) => {
            tracing::error!(%error, %terminal, "journal failure binding an authorization");
            return answer(request, &ResponseCode::SystemMalfunction);
        }
    };
    super::trace_payment(&bound.payment.view.id, &bound.payment.view.sale_id);
    forward(app, request, bound, brand).await
}

struct Bound {
    payment: PaymentRecord,
    connector: std::sync::Arc<dyn CardAcquirer>,
    facility: Facility,
    stan: String,
    transmitted_at: String,
}

type Declined = (ResponseCode, String);

/// Binds the terminal's request to its pending payment and journals it as `authorizing`, with
/// the trace number it will carry, before anything is sent.
async fn bind(
    app: &AppState,
    terminal: &str,
    terminal_stan: &str,
    terminal_transmitted_at: Option<&str>,
    amount: Yen,
    brand: Brand,
    masked: Option<&str>,
) -> Result<Bound, Result<Declined, LifecycleError>> {
    // The acquirer follows from the brand alone, so its trace number is taken before the
    // transaction (reserving a block writes to the journal on its own).
    let acquirer = acquirer_of(app, brand).map_err(Ok)?;
    let connector = connectors_acquirer(app, &acquirer.id)
        .ok_or_else(|| Ok((ResponseCode::IssuerUnavailable, format!("no acquirer link for {brand}"))))?;
    let stan = connector.next_stan().await.map_err(|e| Err(LifecycleError::from(e)))?;
    let mut tx = app.journal.begin_write().await.map_err(|e| Err(e.into()))?;
    let lock = tx.for_update();
    let found = payments::awaiting_at_terminal(tx.conn(), terminal, lock).await.map_err(|e| Err(e.into()))?;
    let (payment, facility) = match check_binding(app, found, amount, brand) {
        Ok(found) => found,
        Err(refusal) => {
            tx.rollback().await.map_err(|e| Err(e.into()))?;
            return Err(Ok(refusal));
        }
    };
    let now = app.clock.now();
    let transmitted_at = connector.transmission_time(now);
    let authorizing = Authorizing {
        brand,
        masked_card: masked,
        acquirer_id: &acquirer.id,
        acquirer_stan: Some(&stan),
        terminal_stan: Some(terminal_stan),
        transmitted_at: Some(&transmitted_at),
        terminal_transmitted_at,
    };
    let note = "authorizing at the acquirer";
    let fields = PaymentFields { note: Some(note), authorizing: Some(authorizing), ..PaymentFields::default() };
    let step = Step::Payment { record: &payment, to: PaymentState::Authorizing, fields };
    let cause = Cause::new(SWITCH_ACTOR, now).with(serde_json::json!({ "terminal_id": terminal }));
    lifecycle::apply(&mut tx, step, cause).await.map_err(Err)?;
    tx.commit().await.map_err(|e| Err(e.into()))?;
    let mut payment = payment;
    payment.view.state = PaymentState::Authorizing;
    payment.acquirer_id = Some(acquirer.id.clone());
    payment.acquirer_stan = Some(stan.clone());
    payment.transmitted_at = Some(transmitted_at.clone());
    payment.view.brand = Some(brand);
    Ok(Bound { payment, connector, facility, stan, transmitted_at })
}

fn acquirer_of(app: &AppState, brand: Brand) -> Result<Acquirer, Declined> {
    app.config
        .fee_rate(brand)
        .map(|(acquirer, _)| acquirer.clone())
        .filter(|acquirer| acquirer.link.is_some())
        .ok_or_else(|| (ResponseCode::IssuerUnavailable, format!("no acquirer link for {brand}")))
}

fn check_binding(
    app: &AppState,
    found: Option<PaymentRecord>,
    amount: Yen,
    brand: Brand,
) -> Result<(PaymentRecord, Facility), Declined> {
    let payment = found
        .ok_or_else(|| (ResponseCode::InvalidTransaction, "no payment is waiting at this terminal".to_string()))?;
    if payment.view.amount != amount {
        return Err((
            ResponseCode::InvalidAmount,
            format!("terminal asked {amount}, the pending payment is {}", payment.view.amount),
        ));
    }
    if brand.method() != payment.view.method {
        return Err((
            ResponseCode::InvalidTransaction,
            format!("{brand} is {}, the pending payment is {}", brand.method(), payment.view.method),
        ));
    }
    let facility = super::facility_of(app, &payment)
        .map_err(|_| (ResponseCode::SystemMalfunction, "facility no longer configured".to_string()))?
        .clone();
    if !facility.accepts(brand) {
        return Err((
            ResponseCode::Other(NOT_PERMITTED.to_string()),
            format!("facility {} does not take {brand}", facility.id),
        ));
    }
    Ok((payment, facility))
}

/// What the journal made of the acquirer's answer, for the terminal.
enum Recorded {
    Completed,
    Declined(ResponseCode),
    OutcomeUnknown,
    NotSent,
    InDoubt,
    /// The payment left `authorizing` while we waited (swept into a reversal, or the terminal
    /// reversed it): the answer counts for nothing.
    TooLate,
}

async fn forward(app: &AppState, request: &Message, bound: Bound, brand: Brand) -> Message {
    let outbound = messages::purchase(request, &bound.stan, &bound.transmitted_at, &bound.facility.merchant_id);
    let outcome = bound.connector.authorize(&outbound).await;
    let recorded = match record(app, &bound, &outcome).await {
        Ok(recorded) => recorded,
        Err(error) => {
            tracing::error!(%error, payment = %bound.payment.view.id, "the acquirer's answer could not be journaled; the sweep reverses it");
            metrics::counter!("authorizations_total", "acquirer" => bound.connector.id().to_string(), "brand" => brand.code(), "outcome" => "journal_error").increment(1);
            return answer(request, &ResponseCode::SystemMalfunction);
        }
    };
    let (label, mut response) = match &recorded {
        Recorded::Completed => ("approved", answer(request, &ResponseCode::Approved)),
        Recorded::Declined(code) => ("declined", answer(request, code)),
        Recorded::OutcomeUnknown => ("unknown", answer(request, &ResponseCode::OutcomeUnknown)),
        Recorded::NotSent => ("unreachable", answer(request, &ResponseCode::IssuerUnavailable)),
        Recorded::InDoubt => {
            app.work.reversal_wake.notify_one();
            ("in_doubt", answer(request, &ResponseCode::IssuerUnavailable))
        }
        Recorded::TooLate => ("too_late", answer(request, &ResponseCode::IssuerUnavailable)),
    };
    match (&recorded, &outcome) {
        (Recorded::Completed, AuthorizationOutcome::Approved { rrn, auth_code }) => {
            if let Some(rrn) = rrn {
                response.set(fields::RETRIEVAL_REFERENCE, rrn.clone());
            }
            if let Some(code) = auth_code {
                response.set(fields::AUTHORIZATION_CODE, code.clone());
            }
        }
        (Recorded::Declined(_) | Recorded::OutcomeUnknown, AuthorizationOutcome::Declined { rrn: Some(rrn), .. })
        | (Recorded::OutcomeUnknown, AuthorizationOutcome::OutcomeUnknown { rrn: Some(rrn) }) => {
            response.set(fields::RETRIEVAL_REFERENCE, rrn.clone());
        }
        _ => {}
    }
    metrics::counter!("authorizations_total", "acquirer" => bound.connector.id().to_string(), "brand" => brand.code(), "outcome" => label).increment(1);
    tracing::info!(acquirer = %bound.connector.id(), %brand, outcome = label, "authorization answered");
    response
}

async fn record(app: &AppState, bound: &Bound, outcome: &AuthorizationOutcome) -> Result<Recorded, LifecycleError> {
    let mut tx = app.journal.begin_write().await?;
    let lock = tx.for_update();
    let current = payments::load(tx.conn(), &bound.payment.view.id, lock).await?;
    let Some(payment) = current.filter(|p| p.view.state == PaymentState::Authorizing) else {
        tx.rollback().await?;
        tracing::warn!(payment = %bound.payment.view.id, "acquirer outcome arrived after the payment left authorizing: ignored (its reversal stands)");
        return Ok(Recorded::TooLate);
    };
    let now = app.clock.now();
    let cause = || Cause::new(SWITCH_ACTOR, now);
    let code = outcome.response_code();
    let recorded = match outcome {
        AuthorizationOutcome::Approved { rrn, auth_code } => {
            let fields = |note| PaymentFields {
                note: Some(note),
                response_code: code.as_deref(),
                rrn: rrn.as_deref(),
                auth_code: auth_code.as_deref(),
                ..PaymentFields::default()
            };
            lifecycle::apply(
                &mut tx,
                Step::Payment { record: &payment, to: PaymentState::Approved, fields: fields("approved") },
                cause(),
            )
            .await?;
            let mut approved = payment.clone();
            approved.view.state = PaymentState::Approved;
            lifecycle::apply(
                &mut tx,
                Step::Payment { record: &approved, to: PaymentState::Completed, fields: fields("approved") },
                cause(),
            )
            .await?;
            book_payment(
                &mut tx,
                &payment.view.sale_id,
                payment.view.amount,
                payment.view.business_date,
                now,
                SWITCH_ACTOR,
            )
            .await
            .map_err(|error| match error {
                super::booking::BookingError::Journal(error) => LifecycleError::Journal(error),
                other => LifecycleError::Illegal(other.to_string()),
            })?;
            let facility = payment.facility_id.clone();
            let method = payment.view.method.code();
            metrics::counter!("payments_completed_total", "facility" => facility.clone(), "method" => method)
                .increment(1);
            metrics::counter!("payments_amount_yen_total", "facility" => facility, "method" => method)
                .increment(payment.view.amount.get().unsigned_abs());
            Recorded::Completed
        }
        AuthorizationOutcome::OutcomeUnknown { rrn } => {
            let fields = PaymentFields {
                note: Some(emoney::OUTCOME_UNKNOWN_NOTE),
                response_code: code.as_deref(),
                rrn: rrn.as_deref(),
                ..PaymentFields::default()
            };
            lifecycle::apply(&mut tx, Step::Payment { record: &payment, to: PaymentState::InDoubt, fields }, cause())
                .await?;
            Recorded::OutcomeUnknown
        }
        AuthorizationOutcome::Declined { code: declined, rrn } => {
            let note = format!("declined: {}", declined.meaning());
            let fields = PaymentFields {
                note: Some(&note),
                response_code: code.as_deref(),
                rrn: rrn.as_deref(),
                ..PaymentFields::default()
            };
            lifecycle::apply(&mut tx, Step::Payment { record: &payment, to: PaymentState::Declined, fields }, cause())
                .await?;
            Recorded::Declined(declined.clone())
        }
        AuthorizationOutcome::NotSent(reason) => {
            let note = format!(
                "the acquirer could not be reached ({reason}); nothing was charged — try again or take another method"
            );
            let fields = PaymentFields { note: Some(&note), ..PaymentFields::default() };
            lifecycle::apply(&mut tx, Step::Payment { record: &payment, to: PaymentState::Failed, fields }, cause())
                .await?;
            Recorded::NotSent
        }
        AuthorizationOutcome::InDoubt { reason, detail } => {
            let detail = format!("no answer from the acquirer ({detail})");
            reversals::open_in_doubt(app, &mut tx, &payment, *reason, &detail, SWITCH_ACTOR).await?;
            Recorded::InDoubt
        }
    };
    tx.commit().await?;
    Ok(recorded)
}

/// A terminal's own reversal (0400/0401) of the authorization it did not hear answered.
pub async fn reversal(app: &AppState, terminal: &str, request: &Message) -> Message {
    match decide_reversal(app, terminal, request).await {
        Ok(Ok(())) => {
            app.work.reversal_wake.notify_one();
            answer(request, &ResponseCode::Approved)
        }
        Ok(Err(refusal)) => {
            tracing::warn!(%terminal, reason = refusal.label(), "terminal reversal refused: nothing changed");
            metrics::counter!("terminal_reversals_refused_total", "reason" => refusal.label()).increment(1);
            answer(request, &refusal.code())
        }
        Err(error) => {
            tracing::error!(%error, %terminal, "journal failure on a terminal reversal");
            answer(request, &ResponseCode::SystemMalfunction)
        }
    }
}

/// What field 90 of a terminal's reversal names: the original's MTI, STAN and field 7.
struct NamedOriginal {
    mti: String,
    stan: String,
    transmitted_at: String,
}

fn named_original(request: &Message) -> Option<NamedOriginal> {
    let data = request.text(fields::ORIGINAL_DATA)?;
    if data.len() != 42 || !data.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(NamedOriginal {
        mti: data[0..4].to_string(),
        stan: data[4..10].to_string(),
        transmitted_at: data[10..20].to_string(),
    })
}

async fn decide_reversal(
    app: &AppState,
    terminal: &str,
    request: &Message,
) -> Result<Result<(), ReversalRefusal>, LifecycleError> {
    let (Some(named), Some(amount)) = (named_original(request), amount_of(request)) else {
        return Ok(Err(ReversalRefusal::Malformed));
    };
    let mut tx = app.journal.begin_write().await?;
    let lock = tx.for_update();
    let last = payments::last_authorized_at_terminal(tx.conn(), terminal, lock).await?;
    let now = app.clock.now();
    let verdict = match last {
        None => Err(ReversalRefusal::NotItsLast),
        Some(payment) => match check_reversal(app, &payment, &named, amount, now) {
            Err(refusal) => Err(refusal),
            Ok(()) => act_on_reversal(app, &mut tx, &payment, now).await?,
        },
    };
    match verdict {
        Ok(()) => tx.commit().await?,
        Err(_) => tx.rollback().await?,
    }
    Ok(verdict)
}

fn check_reversal(
    app: &AppState,
    payment: &PaymentRecord,
    named: &NamedOriginal,
    amount: Yen,
    now: DateTime<Utc>,
) -> Result<(), ReversalRefusal> {
    if payment.terminal_stan.as_deref() != Some(named.stan.as_str()) {
        return Err(ReversalRefusal::NotItsLast);
    }
    if named.mti != "0200" {
        return Err(ReversalRefusal::NotThatRequest);
    }
    if payment.terminal_transmitted_at.as_deref().is_some_and(|sent| sent != named.transmitted_at) {
        return Err(ReversalRefusal::NotThatRequest);
    }
    if payment.view.amount != amount {
        return Err(ReversalRefusal::OtherAmount);
    }
    if payment.view.business_date != BusinessDate::of_instant(now) {
        return Err(ReversalRefusal::OtherDay);
    }
    if payment.view.state == PaymentState::Completed {
        let answered = payment.completed_at.unwrap_or(payment.updated_at);
        let window = chrono::Duration::from_std(reversal_window(app)).unwrap_or(chrono::Duration::zero());
        if now - answered > window {
            return Err(ReversalRefusal::TooLate);
        }
    }
    Ok(())
}

async fn act_on_reversal(
    app: &AppState,
    tx: &mut crate::journal::WriteTx,
    payment: &PaymentRecord,
    now: DateTime<Utc>,
) -> Result<Result<(), ReversalRefusal>, LifecycleError> {
    let terminal_reversal = |reversals: &[crate::journal::reversals::ReversalRecord]| {
        reversals.iter().any(|r| r.reason == ReversalReason::TerminalRequest && r.state != ReversalState::GaveUp)
    };
    match payment.view.state {
        PaymentState::Authorizing => {
            let detail = "the terminal asked to reverse it (it did not receive the answer)";
            reversals::open_in_doubt(app, tx, payment, ReversalReason::TerminalRequest, detail, SWITCH_ACTOR).await?;
            Ok(Ok(()))
        }
        PaymentState::Completed => {
            if let Some(open) = &payment.money_return {
                // A repeat (0401) of this terminal's own reversal, still on its way: answered again.
                let reversals = crate::journal::reversals::of_payment(tx.conn(), &payment.view.id).await?;
                let own_repeat = reversals.iter().any(|r| {
                    &r.id == open && r.reason == ReversalReason::TerminalRequest && r.state == ReversalState::Pending
                });
                return Ok(if own_repeat { Ok(()) } else { Err(ReversalRefusal::MoneyReturnOpen) });
            }
            match reversals::open_of_completed(app, tx, payment, ReversalReason::TerminalRequest, SWITCH_ACTOR).await {
                Ok(Some(_)) => {
                    let note = "reversal requested by the terminal: reversing at the acquirer";
                    payments::set_note(tx, &payment.view.id, note, now).await?;
                    Ok(Ok(()))
                }
                Ok(None) => Ok(Err(ReversalRefusal::NotReversible)),
                Err(LifecycleError::ReturnOpen { .. }) => Ok(Err(ReversalRefusal::MoneyReturnOpen)),
                Err(other) => Err(other),
            }
        }
        // A repeat (0401) of a reversal already taken: answered again, nothing new.
        PaymentState::InDoubt | PaymentState::Reversed | PaymentState::Voided => {
            let reversals = crate::journal::reversals::of_payment(tx.conn(), &payment.view.id).await?;
            if terminal_reversal(&reversals) || (payment.view.state == PaymentState::InDoubt && !reversals.is_empty()) {
                Ok(Ok(()))
            } else {
                Ok(Err(ReversalRefusal::NotReversible))
            }
        }
        _ => Ok(Err(ReversalRefusal::NotReversible)),
    }
}
