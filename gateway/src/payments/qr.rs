//! QR payments and their refunds (PROTOCOLS.md §2), followed to an outcome.
//!
//! A QR payment is journaled `authorizing` before anything is sent. Its watcher then creates the
//! code (`POST /v2/codes`, our payment id as `merchantPaymentId`) or charges the customer's scanned
//! code (`POST /v2/payments`), and polls until the provider says COMPLETED, FAILED or EXPIRED.
//! Anything whose outcome we cannot know — a timeout, a transport error, a 5xx, a code past its
//! expiry still unanswered — puts the payment `in_doubt`; so does the clerk's cancel. The resolver
//! withdraws the code, asks the provider, and cancels at the provider what was paid after a cancel
//! or is still open: a QR payment is never left paid-and-forgotten. A provider's "completed" for
//! an amount other than the payment's is never booked: the payment stays in doubt and treasury
//! gets an exception. Only a payment still in the state a step expects is changed (the journal's
//! lifecycle checks `WHERE state = <from>`), so the watcher and the resolver cannot both decide it.
//!
//! Refunds at the provider (`POST /v2/refunds`) are journaled `authorizing` first (our refund id
//! is the `merchantRefundId`); one in doubt is resolved by inquiry and, if the provider never got
//! it, by the very same request again — the provider keeps refunds by `merchantRefundId`, so it
//! cannot refund twice.

use std::time::Duration;

use pos_core::{Method, PaymentState, RefundState};
use qr_protocol::{
    MerchantPaymentId, MerchantRefundId, PaymentDetails, PaymentStatus, RefundDetails, RefundStatus, ResultCode,
};

use super::exceptions::{self, SwitchException};
use super::{read, SWITCH_ACTOR};
use crate::connectors::qr::{QrError, QrProvider};
use crate::journal::events::{self, EventKind, NewEvent};
use crate::journal::lifecycle::{self, Cause, LifecycleError, PaymentFields, RefundFields, Step};
use crate::journal::payments::{self, PaymentRecord};
use crate::journal::qr::{self as qr_journal, ShownCode};
use crate::journal::refunds::{self, RefundRecord};
use crate::journal::JournalError;
use crate::AppState;

/// Tries of `POST /v2/codes` before the payment is put in doubt.
pub const CREATE_TRIES_MAX: u32 = 3;
/// How long after the code's expiry the watcher keeps polling before it hands the payment to
/// the resolver (clocks differ; the provider's EXPIRED is the answer we wait for).
pub const EXPIRY_GRACE_SECONDS: i64 = 30;
/// QR payments resolved per worker round, at most.
const RESOLVE_BATCH_MAX: i64 = 32;
/// Reads of a refund the provider reports `CREATED` (accepted, not yet final) before it is left
/// in doubt for the sweep.
pub const REFUND_STATUS_READS_MAX: u32 = 5;
/// Added to the provider's request timeout before a refund still `authorizing` is taken to be
/// abandoned by a crashed gateway.
pub const REFUND_STALE_MARGIN_MS: u64 = 2_000;
/// QR refunds resolved per sweep, at most.
const REFUND_SWEEP_BATCH_MAX: i64 = 32;

/// What the watcher and resolver need about one payment.
struct Target {
    payment: PaymentRecord,
    id: MerchantPaymentId,
    merchant: String,
    /// The counter scanned the customer's code (its masked form is journaled) rather than
    /// showing one.
    customer_presented: bool,
}

fn target(app: &AppState, payment: PaymentRecord) -> Option<(Target, &QrProvider)> {
    let provider = app.connectors.qr(payment.acquirer_id.as_deref()?)?;
    let id = MerchantPaymentId::parse(&payment.view.id).ok()?;
    let facility = pos_core::FacilityId::parse(&payment.facility_id).ok()?;
    let merchant = provider.link().merchant_for(&facility).to_string();
    let customer_presented = payment.view.masked_card.is_some();
    Some((Target { payment, id, merchant, customer_presented }, provider))
}

fn epoch(app: &AppState) -> i64 {
    app.clock.now().timestamp()
}

/// Starts watching a payment just journaled `authorizing` (or left so by a restart).
pub fn spawn_watch(app: &AppState, payment_id: &str) {
    if !app.work.claim(payment_id) {
        return;
    }
    let (app, payment_id) = (app.clone(), payment_id.to_string());
    tokio::spawn(async move {
        if let Err(error) = watch(&app, &payment_id).await {
            tracing::error!(%error, payment = %payment_id, "QR watcher stopped on a journal error; the worker resumes it");
        }
        app.work.release(&payment_id);
    });
}

/// Starts resolving a payment in doubt (the clerk's cancel, or the worker).
pub fn spawn_resolve(app: &AppState, payment_id: &str) {
    if !app.work.claim(payment_id) {
        return;
    }
    let (app, payment_id) = (app.clone(), payment_id.to_string());
    tokio::spawn(async move {
        if let Err(error) = resolve(&app, &payment_id).await {
            tracing::error!(%error, payment = %payment_id, "QR resolution failed on a journal error; retried later");
        }
        app.work.release(&payment_id);
    });
}

async fn watch(app: &AppState, payment_id: &str) -> Result<(), JournalError> {
    let Some(payment) = read(app, payment_id).await?.filter(|p| p.view.state == PaymentState::Authorizing) else {
        return Ok(());
    };
    let Some((target, provider)) = target(app, payment) else {
        let note = "QR provider not configured any more — checking, do not retry";
        return decide(app, payment_id, PaymentState::Authorizing, PaymentState::InDoubt, note).await;
    };
    if target.customer_presented {
        return charge(app, payment_id, &target, provider).await;
    }
    let shown = {
        let mut conn = app.journal.read().await?;
        qr_journal::state_of(&mut conn, payment_id).await?.code
    };
    let code = match shown {
        Some(code) => code,
        None => match create(app, provider, &target).await {
            Ok(code) => {
                let mut tx = app.journal.begin_write().await?;
                let lock = tx.for_update();
                let current = payments::load(tx.conn(), payment_id, lock).await?;
                if current.is_some_and(|p| p.view.state == PaymentState::Authorizing) {
                    qr_journal::set_code(&mut tx, payment_id, &code, app.clock.now()).await?;
                    let note = "QR code shown: waiting for the customer to pay (お客様の支払い待ち)";
                    payments::set_note(&mut tx, payment_id, note, app.clock.now()).await?;
                }
                tx.commit().await?;
                code
            }
            Err(Created::Refused(error)) => {
                let note =
                    format!("the QR provider refused the code ({error}); nothing was charged — take another method");
                return decide(app, payment_id, PaymentState::Authorizing, PaymentState::Failed, &note).await;
            }
            Err(Created::InDoubt(reason)) => {
                let note = format!("the QR code could not be confirmed ({reason}): checking — do not retry");
                decide(app, payment_id, PaymentState::Authorizing, PaymentState::InDoubt, &note).await?;
                return resolve(app, payment_id).await;
            }
        },
    };
    let interval = Duration::from_millis(provider.link().poll_interval_ms);
    loop {
        tokio::time::sleep(interval).await;
        let still = read(app, payment_id).await?.is_some_and(|p| p.view.state == PaymentState::Authorizing);
        if !still {
            return Ok(());
        }
        let (authorizing, in_doubt) = (PaymentState::Authorizing, PaymentState::InDoubt);
        match provider.status(epoch(app), &target.merchant, &target.id).await {
            Ok(Some(details)) => match details.status {
                PaymentStatus::Completed => return complete(app, payment_id, authorizing, &details).await,
                PaymentStatus::Expired => {
                    // Withdrawing an expired code is tidiness, not safety: failure changes nothing.
                    if let Err(error) = provider.delete_code(epoch(app), &target.merchant, &code.code_id).await {
                        tracing::info!(%error, payment = %payment_id, "withdrawing an expired QR code failed");
                    }
                    let note = "the QR code expired unpaid: cancelled, nothing was charged (期限切れ)";
                    return decide(app, payment_id, authorizing, PaymentState::Cancelled, note).await;
                }
                PaymentStatus::Failed | PaymentStatus::Canceled => {
                    let note = format!("the QR payment {}: nothing was charged — take another method", details.status);
                    return decide(app, payment_id, authorizing, PaymentState::Failed, &note).await;
                }
                _ if epoch(app) > code.expires_at + EXPIRY_GRACE_SECONDS => {
                    let note = "the QR code is past its expiry without an answer: checking — do not retry";
                    decide(app, payment_id, authorizing, in_doubt, note).await?;
                    return resolve(app, payment_id).await;
                }
                _ => {}
            },
            Ok(None) => {
                let note = "the QR provider does not know the payment: checking — do not retry";
                decide(app, payment_id, authorizing, in_doubt, note).await?;
                return resolve(app, payment_id).await;
            }
            Err(error) => {
                let note = format!("the QR payment status could not be read ({error}): checking — do not retry");
                decide(app, payment_id, authorizing, in_doubt, &note).await?;
                return resolve(app, payment_id).await;
            }
        }
    }
}

enum Created {
    Refused(QrError),
    InDoubt(String),
}

/// `POST /v2/codes`, retried on doubt. A create refused as a duplicate means an earlier try took
/// effect but its answer (and the code's URL) was lost — a retry here, or a create a restarted
/// gateway resumes after dying with its request out: the payment goes in doubt and the resolver
/// reads the status and withdraws it.
async fn create(app: &AppState, provider: &QrProvider, target: &Target) -> Result<ShownCode, Created> {
    let mut last = String::new();
    for attempt in 1..=CREATE_TRIES_MAX {
        match provider.create_code(epoch(app), &target.merchant, &target.id, target.payment.view.amount).await {
            Ok(data) => {
                return Ok(ShownCode {
                    code_id: data.code_id,
                    url: data.url,
                    deeplink: data.deeplink,
                    expires_at: data.expiry_date,
                })
            }
            // Our payment id is unique, so a duplicate can only be an earlier try of ours.
            Err(error) if error.code() == Some(&ResultCode::DuplicateDynamicQrRequest) => {
                let earlier = if last.is_empty() { "before a restart".to_string() } else { last };
                return Err(Created::InDoubt(format!("the code was already made by an earlier try ({earlier})")));
            }
            Err(error) if error.is_in_doubt() => {
                tracing::warn!(%error, attempt, payment = %target.payment.view.id, "QR code create in doubt");
                last = error.to_string();
            }
            Err(error) => return Err(Created::Refused(error)),
        }
    }
    Err(Created::InDoubt(last))
}

/// Charges a customer-presented payment journaled `authorizing` (the watcher's part for this flow).
async fn charge(app: &AppState, payment_id: &str, target: &Target, provider: &QrProvider) -> Result<(), JournalError> {
    let (authorizing, in_doubt) = (PaymentState::Authorizing, PaymentState::InDoubt);
    let Some(code) = app.work.take_code(payment_id) else {
        let note = "the scanned code was not sent before the gateway restarted: checking — do not retry";
        decide(app, payment_id, authorizing, in_doubt, note).await?;
        return resolve(app, payment_id).await;
    };
    let amount = target.payment.view.amount;
    match provider.create_payment(epoch(app), &target.merchant, &target.id, &code, amount).await {
        Ok(details) if details.status == PaymentStatus::Completed => {
            complete(app, payment_id, authorizing, &details).await
        }
        Ok(details) if !details.status.is_final() => {
            let note =
                format!("the QR provider has not finished the payment ({}): checking — do not retry", details.status);
            decide(app, payment_id, authorizing, in_doubt, &note).await?;
            resolve(app, payment_id).await
        }
        Ok(details) => {
            let note = format!("the QR payment {}: nothing was charged — take another method", details.status);
            decide(app, payment_id, authorizing, PaymentState::Failed, &note).await
        }
        Err(error) if error.is_in_doubt() => {
            let note = format!("the QR payment could not be confirmed ({error}): checking — do not retry");
            decide(app, payment_id, authorizing, in_doubt, &note).await?;
            resolve(app, payment_id).await
        }
        Err(error) => {
            let note = format!(
                "the QR provider declined the customer's code ({error}): nothing was charged — take another method"
            );
            decide(app, payment_id, authorizing, PaymentState::Failed, &note).await
        }
    }
}

/// Records `to` if the payment is still `from`, with a note.
async fn decide(
    app: &AppState,
    payment_id: &str,
    from: PaymentState,
    to: PaymentState,
    note: &str,
) -> Result<(), JournalError> {
    if !from.can_become(to, Method::Qr) {
        return Ok(());
    }
    let mut tx = app.journal.begin_write().await?;
    let lock = tx.for_update();
    let Some(payment) = payments::load(tx.conn(), payment_id, lock).await?.filter(|p| p.view.state == from) else {
        return tx.rollback().await;
    };
    let fields = PaymentFields { note: Some(note), ..PaymentFields::default() };
    let cause = Cause::new(SWITCH_ACTOR, app.clock.now()).with(serde_json::json!({ "method": "qr" }));
    match lifecycle::apply(&mut tx, Step::Payment { record: &payment, to, fields }, cause).await {
        Ok(_) => {}
        Err(LifecycleError::Journal(error)) => return Err(error),
        Err(error) => {
            tracing::warn!(%error, payment = %payment_id, "QR decision not recorded");
            return tx.rollback().await;
        }
    }
    tx.commit().await?;
    metrics::counter!("qr_payments_total", "outcome" => to.code()).increment(1);
    Ok(())
}

/// The provider says paid: completed and booked into the sale — if it paid the payment's amount.
async fn complete(
    app: &AppState,
    payment_id: &str,
    from: PaymentState,
    details: &PaymentDetails,
) -> Result<(), JournalError> {
    let mut tx = app.journal.begin_write().await?;
    let lock = tx.for_update();
    let Some(payment) = payments::load(tx.conn(), payment_id, lock).await?.filter(|p| p.view.state == from) else {
        return tx.rollback().await;
    };
    let now = app.clock.now();
    let cause = || {
        Cause::new(SWITCH_ACTOR, now)
            .with(serde_json::json!({ "method": "qr", "provider_payment_id": details.payment_id }))
    };
    let paid = details.amount.amount;
    let result: Result<&'static str, LifecycleError> = async {
        if paid != payment.view.amount {
            // A provider's "paid" for another amount is never booked as the payment.
            let note = format!(
                "the QR provider reports {paid} paid where {} was asked: checking — do not retry; treasury resolves it",
                payment.view.amount
            );
            if from != PaymentState::InDoubt {
                let fields = PaymentFields { note: Some(&note), rrn: details.payment_id.as_deref(), ..PaymentFields::default() };
                lifecycle::apply(&mut tx, Step::Payment { record: &payment, to: PaymentState::InDoubt, fields }, cause()).await?;
            } else {
                payments::set_note(&mut tx, payment_id, &note, now).await?;
            }
            events::append(
                tx.conn(),
                NewEvent {
                    at: now,
                    actor: SWITCH_ACTOR,
                    kind: EventKind::PaymentDisputed,
                    entity_id: payment_id,
                    facility_id: &payment.facility_id,
                    data: serde_json::json!({ "asked": payment.view.amount, "paid": paid, "provider_payment_id": details.payment_id }),
                },
            )
            .await?;
            exceptions::raise(&mut tx, &SwitchException::qr_amount_mismatch(&payment, paid, details.payment_id.as_deref()), now)
                .await?;
            // The resolver leaves a disputed payment to treasury (see `disputed`).
            return Ok("disputed");
        }
        let fields = PaymentFields {
            note: Some("paid by QR (お支払い完了)"),
            response_code: Some("COMPLETED"),
            rrn: details.payment_id.as_deref(),
            ..PaymentFields::default()
        };
        // From `authorizing` the provider's "completed" is the approval and the completion at once.
        let mut current = payment.clone();
        if from == PaymentState::Authorizing {
            lifecycle::apply(&mut tx, Step::Payment { record: &current, to: PaymentState::Approved, fields: fields.clone() }, cause())
                .await?;
            current.view.state = PaymentState::Approved;
        }
        lifecycle::apply(&mut tx, Step::Payment { record: &current, to: PaymentState::Completed, fields }, cause()).await?;
        match super::booking::book_payment(&mut tx, &payment.view.sale_id, payment.view.amount, payment.view.business_date, now, SWITCH_ACTOR).await {
            Ok(_) => {}
            Err(super::booking::BookingError::Journal(error)) => return Err(error.into()),
            Err(error) => {
                // The sale no longer takes the money (voided meanwhile): the customer paid, so the
                // payment stays recorded for treasury to refund rather than vanish.
                tracing::error!(%error, payment = %payment_id, "a paid QR payment could not be booked into its sale");
            }
        }
        Ok("completed")
    }
    .await;
    match result {
        Ok(outcome) => {
            tx.commit().await?;
            metrics::counter!("qr_payments_total", "outcome" => outcome).increment(1);
            Ok(())
        }
        Err(LifecycleError::Journal(error)) => Err(error),
        Err(error) => {
            tracing::warn!(%error, payment = %payment_id, "QR completion not recorded");
            tx.rollback().await
        }
    }
}

/// Whether a payment was disputed (paid for another amount): the resolver leaves it to treasury.
async fn disputed(app: &AppState, payment_id: &str) -> Result<bool, JournalError> {
    let mut conn = app.journal.read().await?;
    let found = events::for_entity(&mut conn, payment_id).await?;
    Ok(found.iter().any(|event| event.kind == EventKind::PaymentDisputed.code()))
}

/// Resolves a payment in doubt: withdraw the code, ask, and cancel at the provider what is paid
/// after a cancel or still open. A failed attempt leaves the payment in doubt with a note; the
/// worker tries again after `resolve_retry_ms`, up to `resolve_tries_max` times.
pub async fn resolve(app: &AppState, payment_id: &str) -> Result<(), JournalError> {
    let Some(payment) = read(app, payment_id).await?.filter(|p| p.view.state == PaymentState::InDoubt) else {
        return Ok(());
    };
    if disputed(app, payment_id).await? {
        return Ok(());
    }
    let qr = {
        let mut conn = app.journal.read().await?;
        qr_journal::state_of(&mut conn, payment_id).await?
    };
    let Some((target, provider)) = target(app, payment) else { return Ok(()) };
    let in_doubt = PaymentState::InDoubt;
    match resolve_at_provider(app, provider, &target, &qr).await {
        Ok(Resolution::Paid(details)) => complete(app, payment_id, in_doubt, &details).await,
        Ok(Resolution::CancelledPaid) => {
            let note = "the customer paid as the cancel was asked: cancelled at the QR provider — nothing was charged";
            decide(app, payment_id, in_doubt, PaymentState::Reversed, note).await
        }
        Ok(Resolution::NotPaid(why)) => {
            let state = if qr.cancel_requested { PaymentState::Cancelled } else { PaymentState::Failed };
            let note = format!(
                "{why}: nothing was charged{}",
                if qr.cancel_requested { " (取消済)" } else { " — take another method" }
            );
            decide(app, payment_id, in_doubt, state, &note).await
        }
        Err(error) => {
            let tries = app.work.count_try(payment_id);
            let gave_up = tries >= provider.link().resolve_tries_max;
            let note = if gave_up {
                format!("the QR provider could not be asked after {tries} tries ({error}): still in doubt — listed for treasury")
            } else {
                format!("checking with the QR provider (try {tries}: {error}) — do not retry")
            };
            let mut tx = app.journal.begin_write().await?;
            payments::set_note(&mut tx, payment_id, &note, app.clock.now()).await?;
            tx.commit().await
        }
    }
}

enum Resolution {
    Paid(PaymentDetails),
    CancelledPaid,
    NotPaid(String),
}

async fn resolve_at_provider(
    app: &AppState,
    provider: &QrProvider,
    target: &Target,
    qr: &qr_journal::QrState,
) -> Result<Resolution, QrError> {
    if let Some(code) = &qr.code {
        provider.delete_code(epoch(app), &target.merchant, &code.code_id).await?;
    }
    let details = if target.customer_presented {
        inquire(app, provider, target).await?
    } else {
        provider.status(epoch(app), &target.merchant, &target.id).await?
    };
    let Some(details) = details else {
        let never = if target.customer_presented {
            "the QR payment never reached the provider"
        } else {
            "the QR code was never created"
        };
        return Ok(Resolution::NotPaid(never.into()));
    };
    match details.status {
        PaymentStatus::Completed if qr.cancel_requested => {
            provider.cancel_payment(epoch(app), &target.merchant, &target.id).await?;
            Ok(Resolution::CancelledPaid)
        }
        PaymentStatus::Completed => Ok(Resolution::Paid(details)),
        PaymentStatus::Created | PaymentStatus::Authorized | PaymentStatus::Other(_) => {
            // Still payable (the code's URL was lost, or it could not be withdrawn): cancel it at
            // the provider so it can no longer be paid.
            if let Some(code_id) = &details.code_id {
                provider.delete_code(epoch(app), &target.merchant, code_id).await?;
            }
            provider.cancel_payment(epoch(app), &target.merchant, &target.id).await?;
            Ok(Resolution::NotPaid("withdrawn at the QR provider".into()))
        }
        status => Ok(Resolution::NotPaid(format!(
            "{} at the QR provider",
            if qr.cancel_requested { "cancelled".to_string() } else { status.to_string() }
        ))),
    }
}

/// The provider's view of a customer-presented payment in doubt; one never received is
/// cancelled anyway, so a request still on its way cannot charge the customer later.
async fn inquire(app: &AppState, provider: &QrProvider, target: &Target) -> Result<Option<PaymentDetails>, QrError> {
    let details = provider.payment_details(epoch(app), &target.merchant, &target.id).await?;
    if details.is_none() {
        match provider.cancel_payment(epoch(app), &target.merchant, &target.id).await {
            Ok(()) => {}
            Err(error) if error.code() == Some(&ResultCode::DynamicQrPaymentNotFound) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(details)
}

/// The worker's part: resume watching QR payments left `authorizing` by a restart, resolve those
/// in doubt whose last attempt is `resolve_retry_ms` old, and settle refunds likewise.
pub async fn sweep(app: &AppState) -> Result<(), JournalError> {
    let providers: Vec<&QrProvider> = app.connectors.qr_providers().collect();
    if providers.is_empty() {
        return Ok(());
    }
    let now = app.clock.now();
    let retry_ms = providers.iter().map(|p| p.link().resolve_retry_ms).min().unwrap_or(1_000);
    let tries_max = providers.iter().map(|p| p.link().resolve_tries_max).max().unwrap_or(1);
    let (authorizing, in_doubt) = {
        let mut conn = app.journal.read().await?;
        let authorizing =
            qr_journal::in_state_since(&mut conn, PaymentState::Authorizing, now, RESOLVE_BATCH_MAX).await?;
        let before = now - chrono::Duration::milliseconds(i64::try_from(retry_ms).unwrap_or(i64::MAX));
        let in_doubt = qr_journal::in_state_since(&mut conn, PaymentState::InDoubt, before, RESOLVE_BATCH_MAX).await?;
        (authorizing, in_doubt)
    };
    for id in authorizing.iter().filter(|id| !app.work.is_busy(id)) {
        spawn_watch(app, id);
    }
    for id in in_doubt.iter().filter(|id| !app.work.is_busy(id)) {
        if app.work.tries(id) < tries_max {
            spawn_resolve(app, id);
        }
    }
    let request_timeout_ms = providers.iter().map(|p| p.link().request_timeout_ms).max().unwrap_or(0);
    sweep_refunds(app, retry_ms, request_timeout_ms, tries_max).await
}

fn is_qr_refund(app: &AppState, refund: &RefundRecord) -> bool {
    refund.acquirer_id.as_deref().is_some_and(|a| app.connectors.qr(a).is_some())
}

/// Sends (or, in doubt, resolves) one QR refund on its own task, once per process at a time.
pub fn spawn_refund(app: &AppState, refund_id: &str) {
    if !app.work.claim(refund_id) {
        return;
    }
    let (app, refund_id) = (app.clone(), refund_id.to_string());
    tokio::spawn(async move {
        if let Err(error) = settle(&app, &refund_id).await {
            tracing::error!(%error, refund = %refund_id, "QR refund outcome could not be journaled; the sweep resumes it");
        }
        app.work.release(&refund_id);
    });
}

/// What the provider says about a refund, as far as the journal is concerned.
enum Outcome {
    Approved,
    Refused(String),
    InDoubt(String),
}

/// Brings one refund to its outcome: sends it when `authorizing`, asks when in doubt.
async fn settle(app: &AppState, refund_id: &str) -> Result<(), JournalError> {
    let mut conn = app.journal.read().await?;
    let Some(refund) = refunds::load(&mut conn, refund_id, "").await? else { return Ok(()) };
    let Some(payment) = payments::load(&mut conn, &refund.view.payment_id, "").await? else { return Ok(()) };
    drop(conn);
    let (Some(provider), Some(id)) = (
        refund.acquirer_id.as_deref().and_then(|a| app.connectors.qr(a)),
        MerchantRefundId::parse(&refund.view.id).ok(),
    ) else {
        return Ok(());
    };
    let merchant = pos_core::FacilityId::parse(&payment.facility_id)
        .map(|facility| provider.link().merchant_for(&facility).to_string())
        .unwrap_or_default();
    let outcome = match refund.view.state {
        RefundState::Authorizing => send_refund(app, provider, &merchant, &id, &refund, &payment).await,
        RefundState::InDoubt => match provider.refund_status(epoch(app), &merchant, &id).await {
            Ok(Some(details)) => follow(app, provider, &merchant, &id, details).await,
            // The provider never got it: the same request again (the same merchantRefundId).
            Ok(None) => send_refund(app, provider, &merchant, &id, &refund, &payment).await,
            Err(error) => Outcome::InDoubt(error.to_string()),
        },
        _ => return Ok(()),
    };
    record_refund(app, &refund, &payment, outcome).await
}

async fn send_refund(
    app: &AppState,
    provider: &QrProvider,
    merchant: &str,
    id: &MerchantRefundId,
    refund: &RefundRecord,
    payment: &PaymentRecord,
) -> Outcome {
    let Some(provider_payment_id) = payment.view.rrn.as_deref() else {
        return Outcome::Refused("the payment has no provider payment id to refund".into());
    };
    match provider.refund(epoch(app), merchant, id, provider_payment_id, refund.view.amount, &refund.view.reason).await
    {
        Ok(details) => follow(app, provider, merchant, id, details).await,
        Err(error) if error.is_in_doubt() => Outcome::InDoubt(error.to_string()),
        Err(error) => Outcome::Refused(error.to_string()),
    }
}

/// Reads a refund the provider has accepted until it is final, a bounded number of times.
async fn follow(
    app: &AppState,
    provider: &QrProvider,
    merchant: &str,
    id: &MerchantRefundId,
    mut details: RefundDetails,
) -> Outcome {
    for _ in 0..REFUND_STATUS_READS_MAX {
        match details.status {
            RefundStatus::Refunded => return Outcome::Approved,
            RefundStatus::Failed => return Outcome::Refused("the provider reports the refund FAILED".into()),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(provider.link().poll_interval_ms)).await;
        details = match provider.refund_status(epoch(app), merchant, id).await {
            Ok(Some(details)) => details,
            Ok(None) => return Outcome::InDoubt("the provider no longer knows the refund it accepted".into()),
            Err(error) => return Outcome::InDoubt(error.to_string()),
        };
    }
    Outcome::InDoubt(format!("the refund is still {} at the provider", details.status))
}

/// Journals the outcome, if the refund is still where this attempt found it.
async fn record_refund(
    app: &AppState,
    refund: &RefundRecord,
    payment: &PaymentRecord,
    outcome: Outcome,
) -> Result<(), JournalError> {
    let now = app.clock.now();
    let mut tx = app.journal.begin_write().await?;
    let lock = tx.for_update();
    let Some(current) =
        refunds::load(tx.conn(), &refund.view.id, lock).await?.filter(|r| r.view.state == refund.view.state)
    else {
        return tx.rollback().await;
    };
    let cause = || Cause::new(SWITCH_ACTOR, now);
    let result: Result<&'static str, LifecycleError> = async {
        match &outcome {
            Outcome::Approved => {
                let fields = RefundFields { response_code: Some("REFUNDED"), rrn: None };
                lifecycle::apply(&mut tx, Step::Refund { record: &current, to: RefundState::Approved, fields }, cause()).await?;
                super::booking::apply_refund(&mut tx, payment, current.view.amount, SWITCH_ACTOR, now).await?;
                app.work.forget_tries(&current.view.id);
                Ok("approved")
            }
            Outcome::Refused(reason) => {
                lifecycle::apply(&mut tx, Step::Refund { record: &current, to: RefundState::Declined, fields: RefundFields::default() }, cause())
                    .await?;
                let sale = crate::journal::sales::load(tx.conn(), &payment.view.sale_id, "").await?;
                if sale.is_some_and(|s| s.state == pos_core::SaleState::Voided) && current.view.amount == payment.view.amount {
                    let note = format!("the QR provider refused the void's refund ({reason}): the payment stands — treasury refunds it");
                    payments::set_note(&mut tx, &payment.view.id, &note, now).await?;
                    exceptions::raise(&mut tx, &SwitchException::void_refused(payment, &current.view.id, reason), now).await?;
                }
                app.work.forget_tries(&current.view.id);
                Ok("declined")
            }
            Outcome::InDoubt(reason) => {
                let tries = app.work.count_try(&current.view.id);
                tracing::warn!(refund = %current.view.id, tries, %reason, "QR refund in doubt: resolved by inquiry");
                if current.view.state == RefundState::InDoubt {
                    // Already in doubt: only the time of this attempt moves (the sweep's retry clock).
                    refunds::touch(&mut tx, &current.view.id, now).await?;
                } else {
                    lifecycle::apply(&mut tx, Step::Refund { record: &current, to: RefundState::InDoubt, fields: RefundFields::default() }, cause())
                        .await?;
                }
                Ok("in_doubt")
            }
        }
    }
    .await;
    match result {
        Ok(outcome) => {
            tx.commit().await?;
            metrics::counter!("qr_refunds_total", "outcome" => outcome).increment(1);
            Ok(())
        }
        Err(LifecycleError::Journal(error)) => Err(error),
        Err(error) => {
            tracing::warn!(%error, refund = %refund.view.id, "QR refund outcome not recorded");
            tx.rollback().await
        }
    }
}

/// Refunds in doubt whose last attempt is `retry_ms` old, and refunds a crash left
/// `authorizing`, are settled by inquiry.
async fn sweep_refunds(
    app: &AppState,
    retry_ms: u64,
    request_timeout_ms: u64,
    tries_max: u32,
) -> Result<(), JournalError> {
    let now = app.clock.now();
    let millis = |ms: u64| chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX));
    let mut due = {
        let mut conn = app.journal.read().await?;
        let mut due =
            refunds::in_state_since(&mut conn, RefundState::InDoubt, now - millis(retry_ms), REFUND_SWEEP_BATCH_MAX)
                .await?;
        let stale = now - millis(request_timeout_ms.saturating_add(REFUND_STALE_MARGIN_MS));
        due.extend(refunds::in_state_since(&mut conn, RefundState::Authorizing, stale, REFUND_SWEEP_BATCH_MAX).await?);
        due
    };
    due.retain(|refund| is_qr_refund(app, refund));
    for refund in due {
        if refund.view.state == RefundState::Authorizing && !app.work.is_busy(&refund.view.id) {
            // Its request may be out: from here on it is settled by inquiry, never blindly re-sent.
            let mut tx = app.journal.begin_write().await?;
            let lock = tx.for_update();
            let still = refunds::load(tx.conn(), &refund.view.id, lock)
                .await?
                .filter(|r| r.view.state == RefundState::Authorizing);
            if let Some(still) = still {
                let cause = Cause::new(SWITCH_ACTOR, now).with(serde_json::json!({ "reason": "recovery" }));
                let step = Step::Refund { record: &still, to: RefundState::InDoubt, fields: RefundFields::default() };
                match lifecycle::apply(&mut tx, step, cause).await {
                    Ok(_) => tx.commit().await?,
                    Err(LifecycleError::Journal(error)) => return Err(error),
                    Err(_) => tx.rollback().await?,
                }
            } else {
                tx.rollback().await?;
            }
        }
        if app.work.tries(&refund.view.id) < tries_max {
            spawn_refund(app, &refund.view.id);
        }
    }
    Ok(())
}
