//! Request and answer bodies with the provider's exact JSON names.
//!
//! Requests ignore fields they do not model (the SDK and the §2 example send `isAuthorization`,
//! `redirectUrl`, `redirectType`, `orderItems` …), so a client may send more than the simulator
//! reads; answers skip absent optional fields. Amounts are [`Yen`], never floats; times are epoch
//! seconds as the provider sends them.

use pos_core::Yen;
use serde::{Deserialize, Serialize};

use crate::ids::{MerchantPaymentId, MerchantRefundId};
use crate::status::{PaymentStatus, RefundStatus};

/// The only currency the provider takes at the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    #[serde(rename = "JPY")]
    Jpy,
}

/// `{"amount": 300, "currency": "JPY"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount: Yen,
    pub currency: Currency,
}

impl Money {
    pub fn jpy(amount: Yen) -> Money {
        Money { amount, currency: Currency::Jpy }
    }
}

/// `codeType`: the counters use dynamic order codes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CodeType {
    #[serde(rename = "ORDER_QR")]
    OrderQr,
}

/// `POST /v2/codes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCodeRequest {
    pub merchant_payment_id: MerchantPaymentId,
    pub amount: Money,
    pub code_type: CodeType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<i64>,
}

/// `data` of the answer to `POST /v2/codes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeData {
    pub code_id: String,
    /// The payment URL the customer's app opens; this is what the displayed QR code encodes.
    pub url: String,
    pub deeplink: String,
    /// Epoch seconds after which the code can no longer be paid.
    pub expiry_date: i64,
    pub merchant_payment_id: MerchantPaymentId,
    pub amount: Money,
    pub code_type: CodeType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<i64>,
}

/// `POST /v2/payments`, the customer-presented flow (the counter scans the barcode the customer's
/// app shows). The body follows PayPay's published "Create a payment" payload (Open Payment API
/// v2, `POST /v2/payments`): `merchantPaymentId`, `userAuthorizationId`, `amount`
/// `{amount, currency}`, `requestedAt` required, `orderDescription` optional — the field names of
/// the official SDKs' `Payment.create` / `PaymentOrder` (paypayopa-sdk-python
/// `resources/payment.py`, which refuses a payload without `userAuthorizationId`;
/// paypayopa-sdk-java `docs/PaymentOrder.md`). PayPay does not publish a separate store-scan
/// schema, so the scanned barcode travels as the payer reference `userAuthorizationId`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePaymentRequest {
    pub merchant_payment_id: MerchantPaymentId,
    /// The barcode digits shown by the customer's app: a bearer credential, masked in `Debug`.
    #[serde(rename = "userAuthorizationId")]
    pub user_code: String,
    pub amount: Money,
    pub requested_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_description: Option<String>,
}

impl std::fmt::Debug for CreatePaymentRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = self.user_code.len();
        let masked = match (self.user_code.get(..4), self.user_code.get(digits.saturating_sub(4)..)) {
            (Some(first), Some(last)) if digits > 8 => format!("{first}{}{last}", "*".repeat(digits - 8)),
            _ => "*".repeat(digits),
        };
        f.debug_struct("CreatePaymentRequest")
            .field("merchant_payment_id", &self.merchant_payment_id)
            .field("user_code", &masked)
            .field("amount", &self.amount)
            .field("requested_at", &self.requested_at)
            .field("order_description", &self.order_description)
            .finish()
    }
}

/// `data` of `GET /v2/codes/payments/{id}`, `GET /v2/payments/{id}` and `POST /v2/payments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentDetails {
    /// The provider's payment id (`決済番号`), present once the customer paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    pub status: PaymentStatus,
    /// Epoch seconds when the payment was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<i64>,
    pub merchant_payment_id: MerchantPaymentId,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_description: Option<String>,
    /// The code the payment was made through (merchant-presented flow only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunds: Option<RefundList>,
}

/// `refunds` inside payment details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundList {
    pub data: Vec<RefundDetails>,
}

/// `POST /v2/refunds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    pub merchant_refund_id: MerchantRefundId,
    /// The provider's payment id (not the merchant's).
    pub payment_id: String,
    pub amount: Money,
    pub requested_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `data` of `POST /v2/refunds` and `GET /v2/refunds/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundDetails {
    pub status: RefundStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<i64>,
    pub merchant_refund_id: MerchantRefundId,
    pub payment_id: String,
    pub amount: Money,
    pub requested_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_2_post_example_parses_with_its_extra_fields() {
        let body = include_bytes!("../tests/data/paypay-kat-post-body.json");
        let request: CreateCodeRequest = serde_json::from_slice(body).unwrap();
        assert_eq!(request.merchant_payment_id.as_str(), "TEST_QR_Payment");
        assert_eq!(request.amount, Money::jpy(Yen::new(10).unwrap()));
        assert_eq!(request.code_type, CodeType::OrderQr);
        assert_eq!(request.requested_at, None);
    }

    #[test]
    fn the_section_2_refund_example_parses() {
        let body = include_bytes!("../tests/data/paypay-kat-refund-body.json");
        let request: RefundRequest = serde_json::from_slice(body).unwrap();
        assert_eq!(request.merchant_refund_id.as_str(), "R-0001");
        assert_eq!(request.payment_id, "04012345678901234567");
        assert_eq!(request.amount.amount.get(), 100);
        assert_eq!(request.requested_at, 1743139500);
    }

    #[test]
    fn names_are_the_providers() {
        let request = CreateCodeRequest {
            merchant_payment_id: MerchantPaymentId::parse("P-1").unwrap(),
            amount: Money::jpy(Yen::new(300).unwrap()),
            code_type: CodeType::OrderQr,
            order_description: Some("住民票".into()),
            requested_at: Some(1),
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            serde_json::json!({"merchantPaymentId": "P-1", "amount": {"amount": 300, "currency": "JPY"},
                               "codeType": "ORDER_QR", "orderDescription": "住民票", "requestedAt": 1})
        );
        assert!(serde_json::from_str::<Money>(r#"{"amount": 1, "currency": "USD"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount": 1.5, "currency": "JPY"}"#).is_err());
    }
}
