//! Customer-presented QR payments: the counter's scanner reads the barcode the customer's app
//! shows and the gateway charges it (`POST /v2/payments`, PayPay's "Create a payment"; the body
//! and its sources are documented on [`qr_protocol::CreatePaymentRequest`]). Behind the same
//! connector as merchant-presented codes ([`super::qr`]): the payment is journaled `authorizing`
//! before the request goes out, a timeout or a 5xx puts it `in_doubt`, and the resolver asks the
//! provider (`GET /v2/payments/{id}`) and cancels what is still open.
//!
//! The barcode is a bearer credential: it is never stored, logged or answered in full. The journal
//! keeps its first and last four digits (in the payment's masked-credential column); the full code
//! lives only in memory between the commit of `authorizing` and the request. A gateway that dies
//! in between has nothing to send on restart, so the payment goes in doubt and is resolved by
//! inquiry — the customer, told nothing, shows the code again.

use std::sync::PoisonError;

use pos_core::{PaymentState, Yen};
use qr_protocol::{CreatePaymentRequest, MerchantPaymentId, Money, PaymentDetails, PaymentStatus, ResultCode};

use super::qr::{complete, decide, epoch, resolve, QrClient, QrError, QrLinks, Target};
use crate::journal::JournalError;
use crate::AppState;

/// The shortest and longest barcode the gateway accepts from a scanner.
pub const CUSTOMER_CODE_DIGITS_MIN: usize = 12;
pub const CUSTOMER_CODE_DIGITS_MAX: usize = 24;
/// Digits kept in the clear at each end of a masked code.
const CUSTOMER_CODE_CLEAR_DIGITS: usize = 4;

/// A scanned customer barcode: digits only, [`CUSTOMER_CODE_DIGITS_MIN`] to
/// [`CUSTOMER_CODE_DIGITS_MAX`] long. `Debug` prints it masked.
#[derive(Clone, PartialEq, Eq)]
pub struct CustomerCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomerCodeError {
    #[error("a customer code is digits only")]
    NotDigits,
    #[error(
        "a customer code is {CUSTOMER_CODE_DIGITS_MIN} to {CUSTOMER_CODE_DIGITS_MAX} digits long, this one has {0}"
    )]
    Length(usize),
}

impl CustomerCode {
    pub fn parse(text: &str) -> Result<CustomerCode, CustomerCodeError> {
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CustomerCodeError::NotDigits);
        }
        if !(CUSTOMER_CODE_DIGITS_MIN..=CUSTOMER_CODE_DIGITS_MAX).contains(&text.len()) {
            return Err(CustomerCodeError::Length(text.len()));
        }
        Ok(CustomerCode(text.to_string()))
    }

    /// The first and last four digits, the rest as `*` (like a masked card number).
    pub fn masked(&self) -> String {
        let digits = self.0.len();
        let first = &self.0[..CUSTOMER_CODE_CLEAR_DIGITS];
        let last = &self.0[digits - CUSTOMER_CODE_CLEAR_DIGITS..];
        format!("{first}{}{last}", "*".repeat(digits - 2 * CUSTOMER_CODE_CLEAR_DIGITS))
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for CustomerCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomerCode({})", self.masked())
    }
}

impl QrClient {
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

impl QrLinks {
    /// Keeps a scanned code for the payment about to be committed `authorizing`; whoever starts
    /// the payment's watcher takes it.
    pub fn hold_code(&self, payment_id: &str, code: CustomerCode) {
        self.scanned.lock().unwrap_or_else(PoisonError::into_inner).insert(payment_id.to_string(), code);
    }

    /// Forgets a held code (its payment was not committed).
    pub fn drop_code(&self, payment_id: &str) {
        self.scanned.lock().unwrap_or_else(PoisonError::into_inner).remove(payment_id);
    }

    fn take_code(&self, payment_id: &str) -> Option<CustomerCode> {
        self.scanned.lock().unwrap_or_else(PoisonError::into_inner).remove(payment_id)
    }
}

/// Charges a customer-presented payment journaled `authorizing` (the watcher's part for this
/// flow).
pub(super) async fn charge(
    app: &AppState,
    payment_id: &str,
    target: &Target,
    client: &QrClient,
) -> Result<(), JournalError> {
    let (authorizing, in_doubt) = (PaymentState::Authorizing, PaymentState::InDoubt);
    let Some(code) = app.switch.qr.take_code(payment_id) else {
        let note = "the scanned code was not sent before the gateway restarted: checking — do not retry";
        decide(app, payment_id, authorizing, in_doubt, note).await?;
        return resolve(app, payment_id).await;
    };
    let amount = target.payment.view.amount;
    match client.create_payment(epoch(app), &target.merchant, &target.id, &code, amount).await {
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

/// The provider's view of a customer-presented payment in doubt; one never received is
/// cancelled anyway, so a request still on its way cannot charge the customer later.
pub(super) async fn inquire(
    app: &AppState,
    client: &QrClient,
    target: &Target,
) -> Result<Option<PaymentDetails>, QrError> {
    let details = client.payment_details(epoch(app), &target.merchant, &target.id).await?;
    if details.is_none() {
        match client.cancel_payment(epoch(app), &target.merchant, &target.id).await {
            Ok(()) => {}
            Err(error) if error.code() == Some(&ResultCode::DynamicQrPaymentNotFound) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_digits_of_a_bounded_length_and_print_masked() {
        let code = CustomerCode::parse("281234567890123456").unwrap();
        assert_eq!(code.masked(), "2812**********3456");
        assert_eq!(format!("{code:?}"), "CustomerCode(2812**********3456)");
        assert_eq!(CustomerCode::parse("12345678901").unwrap_err(), CustomerCodeError::Length(11));
        assert!(CustomerCode::parse("123456789012").is_ok());
        assert!(CustomerCode::parse(&"1".repeat(24)).is_ok());
        assert_eq!(CustomerCode::parse(&"1".repeat(25)).unwrap_err(), CustomerCodeError::Length(25));
        assert_eq!(CustomerCode::parse("28123456789012345a").unwrap_err(), CustomerCodeError::NotDigits);
        assert_eq!(CustomerCode::parse("").unwrap_err(), CustomerCodeError::Length(0));
        assert!(!CustomerCode::parse("2812345678901234").unwrap().masked().contains("567890"));
    }
}
