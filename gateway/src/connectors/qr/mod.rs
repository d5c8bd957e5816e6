//! The PayPay-style QR provider (PROTOCOLS.md §2, PayPay Open Payment API v2): a signed HTTPS
//! client with one method per operation the payments module needs — create and withdraw a
//! merchant-presented code, charge a customer-presented code, read a payment's status or
//! details, cancel a payment, refund and read a refund. Requests are signed `hmac OPA-Auth` over
//! the exact body bytes and Content-Type sent ([`qr_protocol::sign`]); answers are read into
//! [`qr_protocol`]'s types. A timeout, a transport error, an unreadable answer or a 5xx is
//! [`QrError::is_in_doubt`]: the request may have taken effect.

use std::time::Duration;

use pos_config::QrLink;
use pos_core::{CustomerCode, Yen};
use qr_protocol::{
    ApiKey, ApiSecret, CodeData, CodeType, CreateCodeRequest, CreatePaymentRequest, Credentials, Envelope,
    MerchantPaymentId, MerchantRefundId, Money, PaymentDetails, RefundDetails, RefundRequest, ResultCode,
    SignedRequest,
};
use rand::Rng;
use serde::de::DeserializeOwned;

/// The Content-Type the official SDK sends; signed byte for byte.
pub const CONTENT_TYPE: &str = "application/json;charset=UTF-8";

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

    pub fn code(&self) -> Option<&ResultCode> {
        match self {
            QrError::Provider { code, .. } => Some(code),
            QrError::Transport(_) | QrError::Tls(_) => None,
        }
    }
}

/// A signed HTTP client for one provider.
pub struct QrProvider {
    http: reqwest::Client,
    link: QrLink,
    credentials: Credentials,
}

impl QrProvider {
    pub fn new(link: QrLink) -> Result<QrProvider, QrError> {
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
        Ok(QrProvider { http, link, credentials })
    }

    pub fn link(&self) -> &QrLink {
        &self.link
    }

    async fn call<T: DeserializeOwned>(
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

impl QrProvider {
    /// `POST /v2/payments`: charge the customer's code.
    pub async fn create_payment(
        &self,
        epoch: i64,
        merchant: &str,
        id: &MerchantPaymentId,
        code: &CustomerCode,
        amount: Yen,
    ) -> Result<PaymentDetails, QrError> {
        let request = CreatePaymentRequest {
            merchant_payment_id: id.clone(),
            user_code: code.expose().to_string(),
            amount: Money::jpy(amount),
            requested_at: epoch,
            order_description: None,
        };
        let body = serde_json::to_vec(&request).map_err(|e| QrError::Transport(e.to_string()))?;
        self.call(epoch, reqwest::Method::POST, qr_protocol::paths::PAYMENTS, merchant, body)
            .await?
            .ok_or_else(|| QrError::Transport("a created payment without data".into()))
    }

    /// `GET /v2/payments/{id}`; `Ok(None)` when the provider knows no such payment.
    pub async fn payment_details(
        &self,
        epoch: i64,
        merchant: &str,
        id: &MerchantPaymentId,
    ) -> Result<Option<PaymentDetails>, QrError> {
        let path = qr_protocol::paths::payment(id.as_str());
        match self.call::<PaymentDetails>(epoch, reqwest::Method::GET, &path, merchant, Vec::new()).await {
            Ok(Some(details)) => Ok(Some(details)),
            Ok(None) => Err(QrError::Transport("payment details without data".into())),
            Err(error) if error.code() == Some(&ResultCode::DynamicQrPaymentNotFound) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

impl QrProvider {
    /// `POST /v2/refunds` for `amount` of the provider's payment `provider_payment_id`.
    pub async fn refund(
        &self,
        epoch: i64,
        merchant: &str,
        id: &MerchantRefundId,
        provider_payment_id: &str,
        amount: Yen,
        reason: &str,
    ) -> Result<RefundDetails, QrError> {
        let request = RefundRequest {
            merchant_refund_id: id.clone(),
            payment_id: provider_payment_id.to_string(),
            amount: Money::jpy(amount),
            requested_at: epoch,
            reason: Some(reason.to_string()),
        };
        let body = serde_json::to_vec(&request).map_err(|e| QrError::Transport(e.to_string()))?;
        self.call(epoch, reqwest::Method::POST, qr_protocol::paths::REFUNDS, merchant, body)
            .await?
            .ok_or_else(|| QrError::Transport("a refund without data".into()))
    }

    /// `GET /v2/refunds/{id}`; `Ok(None)` when the provider knows no such refund.
    pub async fn refund_status(
        &self,
        epoch: i64,
        merchant: &str,
        id: &MerchantRefundId,
    ) -> Result<Option<RefundDetails>, QrError> {
        let path = qr_protocol::paths::refund(id.as_str());
        match self.call::<RefundDetails>(epoch, reqwest::Method::GET, &path, merchant, Vec::new()).await {
            Ok(Some(details)) => Ok(Some(details)),
            Ok(None) => Err(QrError::Transport("a refund status without data".into())),
            Err(error) if error.code() == Some(&ResultCode::NoSuchRefundOrder) => Ok(None),
            Err(error) => Err(error),
        }
    }
}
