//! QR payments (PROTOCOLS.md §2, PayPay Open Payment API v2, merchant-presented dynamic QR).
//!
//! A QR payment is journaled `authorizing` before anything is sent. Its watcher then creates the
//! code (`POST /v2/codes`, our payment id as `merchantPaymentId`), stores it on the payment for
//! the customer display, and polls `GET /v2/codes/payments/{id}` every `poll_interval_ms` until
//! the provider says COMPLETED, FAILED or EXPIRED. Anything whose outcome we cannot know — a
//! timeout, a transport error, a 5xx, a code past its expiry still unanswered — puts the payment
//! `in_doubt`; so does the clerk's cancel. The [`resolve`] step (run at once for a cancel, and by
//! the worker for everything in doubt) withdraws the code, asks the provider, and cancels the
//! payment at the provider when it was paid after the cancel was asked or is still open: a QR
//! payment is never left paid-and-forgotten. Only transitions of a payment still in the state the
//! step expects are recorded, under the row lock, so the watcher and the resolver cannot both
//! decide one payment.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use pos_config::{Config, QrLink};
use pos_core::{Method, PaymentState, Yen};
use qr_protocol::{
    ApiKey, ApiSecret, CodeData, CodeType, CreateCodeRequest, Credentials, Envelope, MerchantPaymentId, Money,
    PaymentDetails, PaymentStatus, ResultCode, SignedRequest,
};
use rand::Rng;
use serde::de::DeserializeOwned;

use crate::booking::book_payment;
use crate::journal::events::{self, NewEvent};
use crate::journal::payments::{self, Answer, PaymentRecord};
use crate::journal::qr::{self as qr_journal, ShownCode};
use crate::journal::JournalError;
use crate::AppState;

/// The Content-Type the official SDK sends; signed byte for byte.
pub const CONTENT_TYPE: &str = "application/json;charset=UTF-8";
/// Tries of `POST /v2/codes` before the payment is put in doubt.
pub const CREATE_TRIES_MAX: u32 = 3;
/// How long after the code's expiry the watcher keeps polling before it hands the payment to
/// the resolver (clocks differ; the provider's EXPIRED is the answer we wait for).
pub const EXPIRY_GRACE_SECONDS: i64 = 30;
/// QR payments resolved per worker round, at most.
const RESOLVE_BATCH_MAX: i64 = 32;
const SWITCH_ACTOR: &str = "switch";

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// No answer, or an answer we cannot read: the request may have taken effect.
    #[error("no usable answer from the QR provider: {0}")]
    Transport(String),
    /// The provider's TLS trust could not be set up (configuration, not a request).
    #[error("QR provider TLS configuration: {0}")]
    Tls(String),
    /// The provider answered with an error.
    #[error("QR provider answered {status} {code}: {message}")]
    Provider { status: u16, code: ResultCode, message: String },
}

impl QrError {
    /// Whether the request's effect is unknown (as opposed to a definite refusal).
    pub fn is_in_doubt(&self) -> bool {
        match self {
            QrError::Transport(_) => true,
            QrError::Tls(_) => false,
            QrError::Provider { status, .. } => *status >= 500,
        }
    }

    pub(super) fn code(&self) -> Option<&ResultCode> {
        match self {
            QrError::Provider { code, .. } => Some(code),
            QrError::Transport(_) | QrError::Tls(_) => None,
        }
    }
}

/// A signed HTTP client for one provider.
pub struct QrClient {
    http: reqwest::Client,
    link: QrLink,
    credentials: Credentials,
}

impl QrClient {
    pub fn new(link: QrLink) -> Result<QrClient, QrError> {
        let mut builder = reqwest::Client::builder().timeout(Duration::from_millis(link.request_timeout_ms));
        if let Some(ca_file) = &link.ca_file {
            // A private PKI replaces the public roots: only this CA's certificates are trusted.
            let tls = pos_tls::client_config(ca_file, None).map_err(|e| QrError::Tls(e.to_string()))?;
            builder = builder.use_preconfigured_tls((*tls).clone());
        }
        let http = builder.build().map_err(|e| QrError::Tls(e.to_string()))?;
        let credentials = Credentials {
            api_key: ApiKey::new(link.api_key.clone()),
            api_secret: ApiSecret::new(link.api_secret.expose()),
        };
        Ok(QrClient { http, link, credentials })
    }

    pub fn link(&self) -> &QrLink {
        &self.link
    }

    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        epoch: i64,
        method: reqwest::Method,
        path: &str,
        merchant: &str,
        body: Vec<u8>,
    ) -> Result<Option<T>, QrError> {
        let nonce = format!("{:08x}", rand::thread_rng().gen::<u32>());
        let content_type = (!body.is_empty()).then_some(CONTENT_TYPE);
        let signed =
            SignedRequest { method: method.as_str(), path, content_type: content_type.map(str::as_bytes), body: &body };
        let header = qr_protocol::sign(&self.credentials, &signed, &nonce, epoch).to_header_value();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.link.base_url))
            .header("Authorization", header)
            .header("X-ASSUME-MERCHANT", merchant);
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type).body(body);
        }
        let response = request.send().await.map_err(|e| QrError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| QrError::Transport(e.to_string()))?;
        let envelope: Envelope<T> = serde_json::from_slice(&bytes)
            .map_err(|e| QrError::Transport(format!("unreadable answer (HTTP {status}): {e}")))?;
        if (200..300).contains(&status) && envelope.result_info.code.is_success() {
            Ok(envelope.data)
        } else {
            Err(QrError::Provider { status, code: envelope.result_info.code, message: envelope.result_info.message })
        }
    }

    pub async fn create_code(
        &self,
        epoch: i64,
        merchant: &str,
        id: &MerchantPaymentId,
        amount: Yen,
    ) -> Result<CodeData, QrError> {
        let request = CreateCodeRequest {
            merchant_payment_id: id.clone(),
            amount: Money::jpy(amount),
            code_type: CodeType::OrderQr,
            order_description: None,
            requested_at: Some(epoch),
        };
        let body = serde_json::to_vec(&request).map_err(|e| QrError::Transport(e.to_string()))?;
        self.call(epoch, reqwest::Method::POST, qr_protocol::paths::CODES, merchant, body)
            .await?
            .ok_or_else(|| QrError::Transport("a created code without data".into()))
    }

    /// The payment's status; `Ok(None)` when the provider knows no such payment.
    pub async fn status(
        &self,
        epoch: i64,
        merchant: &str,
        id: &MerchantPaymentId,
    ) -> Result<Option<PaymentDetails>, QrError> {
        let path = qr_protocol::paths::code_payment(id.as_str());
        match self.call::<PaymentDetails>(epoch, reqwest::Method::GET, &path, merchant, Vec::new()).await {
            Ok(Some(details)) => Ok(Some(details)),
            Ok(None) => Err(QrError::Transport("a status without data".into())),
            Err(error) if error.code() == Some(&ResultCode::DynamicQrPaymentNotFound) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Withdraws a code. Already gone or already paid count as done: the inquiry that follows
    /// decides.
    pub async fn delete_code(&self, epoch: i64, merchant: &str, code_id: &str) -> Result<(), QrError> {
        let path = qr_protocol::paths::code(code_id);
        match self.call::<serde_json::Value>(epoch, reqwest::Method::DELETE, &path, merchant, b"{}".to_vec()).await {
            Ok(_) => Ok(()),
            Err(error)
                if matches!(error.code(), Some(ResultCode::DynamicQrNotFound | ResultCode::DynamicQrAlreadyPaid)) =>
            {
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// Cancels a payment (`DELETE /v2/payments/{id}`, 202); allowed until 00:14:59 JST the next day.
    pub async fn cancel_payment(&self, epoch: i64, merchant: &str, id: &MerchantPaymentId) -> Result<(), QrError> {
        let path = qr_protocol::paths::payment(id.as_str());
        self.call::<serde_json::Value>(epoch, reqwest::Method::DELETE, &path, merchant, Vec::new()).await.map(|_| ())
    }
}

/// The QR side of the switch: one client per provider, and which payments this process is busy
/// with (so the worker does not start a second watcher or resolver for one payment).
#[derive(Default)]
pub struct QrLinks {
    clients: HashMap<String, QrClient>,
    busy: Mutex<HashSet<String>>,
    pub(super) tries: Mutex<HashMap<String, u32>>,
    /// Customer codes scanned for payments not yet sent (never journaled: bearer credentials).
    pub(super) scanned: Mutex<HashMap<String, super::qr_barcode::CustomerCode>>,
}

impl QrLinks {
    pub fn from_config(config: &Config) -> Result<QrLinks, QrError> {
        let mut clients = HashMap::new();
        for acquirer in &config.acquirers {
            if let Some(link) = &acquirer.qr_link {
                clients.insert(acquirer.id.clone(), QrClient::new(link.clone())?);
            }
        }
        Ok(QrLinks { clients, ..QrLinks::default() })
    }

    pub fn client(&self, acquirer_id: &str) -> Option<&QrClient> {
        self.clients.get(acquirer_id)
    }

    /// Marks a payment (or a refund) busy; false when it already was.
    pub(super) fn claim(&self, payment_id: &str) -> bool {
        self.busy.lock().unwrap_or_else(PoisonError::into_inner).insert(payment_id.to_string())
    }

    pub(super) fn release(&self, payment_id: &str) {
        self.busy.lock().unwrap_or_else(PoisonError::into_inner).remove(payment_id);
    }

    pub(super) fn is_busy(&self, payment_id: &str) -> bool {
        self.busy.lock().unwrap_or_else(PoisonError::into_inner).contains(payment_id)
    }

    /// Whether resolving `id` has been tried as often as every provider allows.
    pub(super) fn given_up(&self, id: &str) -> bool {
        self.tries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .is_some_and(|tries| self.clients.values().all(|c| *tries >= c.link.resolve_tries_max))
    }
}

/// What the watcher and resolver need about one payment.
pub(super) struct Target {
    pub(super) payment: PaymentRecord,
    pub(super) id: MerchantPaymentId,
    pub(super) merchant: String,
    /// The counter scanned the customer's code (its masked form is journaled) rather than
    /// showing one.
    pub(super) customer_presented: bool,
}

fn target(app: &AppState, payment: PaymentRecord) -> Option<(Target, &QrClient)> {
    let acquirer = payment.acquirer_id.clone()?;
    let client = app.switch.qr.client(&acquirer)?;
    let id = MerchantPaymentId::parse(&payment.view.id).ok()?;
    let facility = pos_core::FacilityId::parse(&payment.facility_id).ok()?;
    let merchant = client.link.merchant_for(&facility).to_string();
    let customer_presented = payment.view.masked_card.is_some();
    Some((Target { payment, id, merchant, customer_presented }, client))
}

pub(super) fn epoch(app: &AppState) -> i64 {
    app.clock.now().timestamp()
}

/// Starts watching a payment just journaled `authorizing` (or left so by a restart).
pub fn spawn_watch(app: &AppState, payment_id: &str) {
    if !app.switch.qr.claim(payment_id) {
        return;
    }
    let app = app.clone();
    let payment_id = payment_id.to_string();
    tokio::spawn(async move {
        if let Err(error) = watch(&app, &payment_id).await {
            tracing::error!(%error, payment = %payment_id, "QR watcher stopped on a journal error; the worker resumes it");
        }
        app.switch.qr.release(&payment_id);
    });
}

/// Starts resolving a payment in doubt (the clerk's cancel, or the worker).
pub fn spawn_resolve(app: &AppState, payment_id: &str) {
    if !app.switch.qr.claim(payment_id) {
        return;
    }
    let app = app.clone();
    let payment_id = payment_id.to_string();
    tokio::spawn(async move {
        if let Err(error) = resolve(&app, &payment_id).await {
            tracing::error!(%error, payment = %payment_id, "QR resolution failed on a journal error; retried later");
        }
        app.switch.qr.release(&payment_id);
    });
}

async fn load(app: &AppState, payment_id: &str) -> Result<Option<PaymentRecord>, JournalError> {
    let mut conn = app.journal.read().await?;
    payments::load(&mut conn, payment_id, "").await
}

async fn watch(app: &AppState, payment_id: &str) -> Result<(), JournalError> {
    let Some(payment) = load(app, payment_id).await?.filter(|p| p.view.state == PaymentState::Authorizing) else {
        return Ok(());
    };
    let Some((target, client)) = target(app, payment) else {
        return decide(
            app,
            payment_id,
            PaymentState::Authorizing,
            PaymentState::InDoubt,
            "QR provider not configured any more — checking, do not retry",
        )
        .await;
    };
    if target.customer_presented {
        return super::qr_barcode::charge(app, payment_id, &target, client).await;
    }
    let shown = {
        let mut conn = app.journal.read().await?;
        qr_journal::state_of(&mut conn, payment_id).await?.code
    };
    let code = match shown {
        Some(code) => code,
        None => match create(app, client, &target).await {
            Ok(code) => {
                let mut tx = app.journal.begin_write().await?;
                let lock = tx.for_update();
                let current = payments::load(tx.conn(), payment_id, lock).await?;
                if current.is_some_and(|p| p.view.state == PaymentState::Authorizing) {
                    qr_journal::set_code(&mut tx, payment_id, &code, app.clock.now()).await?;
                    payments::set_note(
                        &mut tx,
                        payment_id,
                        "QR code shown: waiting for the customer to pay (お客様の支払い待ち)",
                        app.clock.now(),
                    )
                    .await?;
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
    let interval = Duration::from_millis(client.link.poll_interval_ms);
    loop {
        tokio::time::sleep(interval).await;
        let still = load(app, payment_id).await?.is_some_and(|p| p.view.state == PaymentState::Authorizing);
        if !still {
            return Ok(());
        }
        match client.status(epoch(app), &target.merchant, &target.id).await {
            Ok(Some(details)) => match details.status {
                PaymentStatus::Completed => {
                    return complete(app, payment_id, PaymentState::Authorizing, &details).await
                }
                PaymentStatus::Expired => {
                    // Withdrawing an expired code is tidiness, not safety: failure changes nothing.
                    if let Err(error) = client.delete_code(epoch(app), &target.merchant, &code.code_id).await {
                        tracing::info!(%error, payment = %payment_id, "withdrawing an expired QR code failed");
                    }
                    let note = "the QR code expired unpaid: cancelled, nothing was charged (期限切れ)";
                    return decide(app, payment_id, PaymentState::Authorizing, PaymentState::Cancelled, note).await;
                }
                PaymentStatus::Failed | PaymentStatus::Canceled => {
                    let note = format!("the QR payment {}: nothing was charged — take another method", details.status);
                    return decide(app, payment_id, PaymentState::Authorizing, PaymentState::Failed, &note).await;
                }
                _ if epoch(app) > code.expires_at + EXPIRY_GRACE_SECONDS => {
                    let note = "the QR code is past its expiry without an answer: checking — do not retry";
                    decide(app, payment_id, PaymentState::Authorizing, PaymentState::InDoubt, note).await?;
                    return resolve(app, payment_id).await;
                }
                _ => {}
            },
            Ok(None) => {
                let note = "the QR provider does not know the payment: checking — do not retry";
                decide(app, payment_id, PaymentState::Authorizing, PaymentState::InDoubt, note).await?;
                return resolve(app, payment_id).await;
            }
            Err(error) => {
                let note = format!("the QR payment status could not be read ({error}): checking — do not retry");
                decide(app, payment_id, PaymentState::Authorizing, PaymentState::InDoubt, &note).await?;
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
async fn create(app: &AppState, client: &QrClient, target: &Target) -> Result<ShownCode, Created> {
    let mut last = String::new();
    for attempt in 1..=CREATE_TRIES_MAX {
        match client.create_code(epoch(app), &target.merchant, &target.id, target.payment.view.amount).await {
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

/// Records `to` if the payment is still `from`, with a note.
pub(super) async fn decide(
    app: &AppState,
    payment_id: &str,
    from: PaymentState,
    to: PaymentState,
    note: &str,
) -> Result<(), JournalError> {
    let mut tx = app.journal.begin_write().await?;
    let lock = tx.for_update();
    let Some(payment) = payments::load(tx.conn(), payment_id, lock).await?.filter(|p| p.view.state == from) else {
        tx.rollback().await?;
        return Ok(());
    };
    if !from.can_become(to, Method::Qr) {
        tx.rollback().await?;
        return Ok(());
    }
    let now = app.clock.now();
    payments::set_outcome(
        &mut tx,
        payment_id,
        to,
        &Answer { response_code: None, rrn: None, auth_code: None },
        note,
        now,
    )
    .await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: SWITCH_ACTOR,
            kind: match to {
                PaymentState::InDoubt => "payment.in_doubt",
                PaymentState::Cancelled => "payment.cancelled",
                PaymentState::Reversed => "payment.reversed",
                _ => "payment.failed",
            },
            entity_id: payment_id,
            facility_id: &payment.facility_id,
            data: serde_json::json!({ "method": "qr", "note": note }),
        },
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("qr_payments_total", "outcome" => to.code()).increment(1);
    Ok(())
}

/// The provider says paid: completed and booked into the sale.
pub(super) async fn complete(
    app: &AppState,
    payment_id: &str,
    from: PaymentState,
    details: &PaymentDetails,
) -> Result<(), JournalError> {
    let mut tx = app.journal.begin_write().await?;
    let lock = tx.for_update();
    let Some(payment) = payments::load(tx.conn(), payment_id, lock).await?.filter(|p| p.view.state == from) else {
        tx.rollback().await?;
        return Ok(());
    };
    let now = app.clock.now();
    let note = "paid by QR (お支払い完了)";
    let answer = Answer { response_code: Some("COMPLETED"), rrn: details.payment_id.as_deref(), auth_code: None };
    payments::set_outcome(&mut tx, payment_id, PaymentState::Completed, &answer, note, now).await?;
    events::append(
        tx.conn(),
        NewEvent {
            at: now,
            actor: SWITCH_ACTOR,
            kind: "payment.completed",
            entity_id: payment_id,
            facility_id: &payment.facility_id,
            data: serde_json::json!({ "method": "qr", "brand": payment.view.brand, "amount": payment.view.amount, "provider_payment_id": details.payment_id }),
        },
    )
    .await?;
    match book_payment(
        &mut tx,
        &payment.view.sale_id,
        payment.view.amount,
        payment.view.business_date,
        now,
        SWITCH_ACTOR,
    )
    .await
    {
        Ok(_) => {}
        Err(crate::booking::BookingError::Journal(error)) => return Err(error),
        Err(error) => {
            // The sale no longer takes the money (voided meanwhile): the customer paid, so the
            // payment stays recorded for treasury to refund rather than vanish.
            tracing::error!(%error, payment = %payment_id, "a paid QR payment could not be booked into its sale");
        }
    }
    tx.commit().await?;
    metrics::counter!("qr_payments_total", "outcome" => "completed").increment(1);
    Ok(())
}

/// Resolves a payment in doubt: withdraw the code, ask, and cancel at the provider what is paid
/// after a cancel or still open. A failed attempt leaves the payment in doubt with a note; the
/// worker tries again after `resolve_retry_ms`, up to `resolve_tries_max` times.
pub async fn resolve(app: &AppState, payment_id: &str) -> Result<(), JournalError> {
    let Some(payment) = load(app, payment_id).await?.filter(|p| p.view.state == PaymentState::InDoubt) else {
        return Ok(());
    };
    let qr = {
        let mut conn = app.journal.read().await?;
        qr_journal::state_of(&mut conn, payment_id).await?
    };
    let Some((target, client)) = target(app, payment) else { return Ok(()) };
    let outcome = resolve_at_provider(app, client, &target, &qr).await;
    let in_doubt = PaymentState::InDoubt;
    match outcome {
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
            let tries = {
                let mut tries = app.switch.qr.tries.lock().unwrap_or_else(PoisonError::into_inner);
                let count = tries.entry(payment_id.to_string()).or_insert(0);
                *count += 1;
                *count
            };
            let gave_up = tries >= client.link.resolve_tries_max;
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
    client: &QrClient,
    target: &Target,
    qr: &qr_journal::QrState,
) -> Result<Resolution, QrError> {
    if let Some(code) = &qr.code {
        client.delete_code(epoch(app), &target.merchant, &code.code_id).await?;
    }
    let details = if target.customer_presented {
        super::qr_barcode::inquire(app, client, target).await?
    } else {
        client.status(epoch(app), &target.merchant, &target.id).await?
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
            client.cancel_payment(epoch(app), &target.merchant, &target.id).await?;
            Ok(Resolution::CancelledPaid)
        }
        PaymentStatus::Completed => Ok(Resolution::Paid(details)),
        PaymentStatus::Created | PaymentStatus::Authorized | PaymentStatus::Other(_) => {
            // Still payable (the code's URL was lost, or it could not be withdrawn): cancel it at
            // the provider so it can no longer be paid.
            if let Some(code_id) = &details.code_id {
                client.delete_code(epoch(app), &target.merchant, code_id).await?;
            }
            client.cancel_payment(epoch(app), &target.merchant, &target.id).await?;
            Ok(Resolution::NotPaid("withdrawn at the QR provider".into()))
        }
        status => Ok(Resolution::NotPaid(format!(
            "{} at the QR provider",
            if qr.cancel_requested { "cancelled".to_string() } else { status.to_string() }
        ))),
    }
}

/// The worker's part: resume watching QR payments left `authorizing` by a restart, and resolve
/// those in doubt whose last attempt is `resolve_retry_ms` old.
pub async fn sweep(app: &AppState) -> Result<(), JournalError> {
    if app.switch.qr.clients.is_empty() {
        return Ok(());
    }
    let now = app.clock.now();
    let retry_ms = app.switch.qr.clients.values().map(|c| c.link.resolve_retry_ms).min().unwrap_or(1_000);
    let (authorizing, in_doubt) = {
        let mut conn = app.journal.read().await?;
        let authorizing =
            qr_journal::in_state_since(&mut conn, PaymentState::Authorizing, now, RESOLVE_BATCH_MAX).await?;
        let before = now - chrono::Duration::milliseconds(i64::try_from(retry_ms).unwrap_or(i64::MAX));
        let in_doubt = qr_journal::in_state_since(&mut conn, PaymentState::InDoubt, before, RESOLVE_BATCH_MAX).await?;
        (authorizing, in_doubt)
    };
    for id in authorizing.iter().filter(|id| !app.switch.qr.is_busy(id)) {
        spawn_watch(app, id);
    }
    for id in in_doubt.iter().filter(|id| !app.switch.qr.is_busy(id)) {
        if !app.switch.qr.given_up(id) {
            spawn_resolve(app, id);
        }
    }
    let request_timeout_ms = app.switch.qr.clients.values().map(|c| c.link.request_timeout_ms).max().unwrap_or(0);
    super::qr_refund::sweep(app, retry_ms, request_timeout_ms).await
}
