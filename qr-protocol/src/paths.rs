//! Endpoint paths of PROTOCOLS.md §2. Client and simulator build and route them from here.

/// `POST` creates a dynamic QR code.
pub const CODES: &str = "/v2/codes";
/// `POST` a customer-presented barcode payment; `GET`/`DELETE` `/v2/payments/{merchantPaymentId}`.
pub const PAYMENTS: &str = "/v2/payments";
/// `POST` a refund (the SDK adds a trailing slash); `GET /v2/refunds/{merchantRefundId}`.
pub const REFUNDS: &str = "/v2/refunds";

/// `GET /v2/codes/payments/{merchantPaymentId}`: the status of a code's payment.
pub fn code_payment(merchant_payment_id: &str) -> String {
    format!("{CODES}/payments/{merchant_payment_id}")
}

/// `DELETE /v2/codes/{codeId}`: withdraw a code.
pub fn code(code_id: &str) -> String {
    format!("{CODES}/{code_id}")
}

/// `GET` (details) or `DELETE` (cancel) `/v2/payments/{merchantPaymentId}`.
pub fn payment(merchant_payment_id: &str) -> String {
    format!("{PAYMENTS}/{merchant_payment_id}")
}

/// `GET /v2/refunds/{merchantRefundId}`.
pub fn refund(merchant_refund_id: &str) -> String {
    format!("{REFUNDS}/{merchant_refund_id}")
}
