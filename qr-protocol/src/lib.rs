//! The wire contract between the gateway and a QR payment provider, as fixed in PROTOCOLS.md §2
//! (PayPay's Open Payment API v2, merchant-presented dynamic QR, plus this system's
//! customer-presented barcode extension). Both sides use it: the gateway's QR connector builds
//! and signs requests and reads answers with it, and the QR provider simulator (`qr-sim`) parses
//! and verifies the same requests and renders the same answers. It holds types and pure
//! functions only — no sockets, no files, no clock of its own (the verifier's clock is handed in).
//!
//! # Modules
//!
//! - [`ids`]: `merchantPaymentId` / `merchantRefundId` ("parse, don't validate": ≤ 64 characters
//!   of `A-Za-z0-9_-`).
//! - [`status`]: payment statuses, unknown ones kept rather than refused.
//! - [`result`]: result codes, `resultInfo` and the `{"resultInfo", "data"}` envelope.
//! - [`body`]: request and answer bodies with their exact JSON names.
//! - [`auth`]: the `hmac OPA-Auth` header — signer, parser and a verifier with epoch window and
//!   nonce replay memory.
//! - [`paths`]: the endpoint paths, so client and server cannot disagree on them.

pub mod auth;
pub mod body;
pub mod ids;
pub mod paths;
pub mod result;
pub mod status;

pub use auth::{
    body_hash, sign, ApiKey, ApiSecret, AuthError, AuthHeader, Credentials, SignedRequest, Verified, Verifier,
    EPOCH_WINDOW_SECONDS, NONCES_PER_KEY_MAX,
};
pub use body::{
    CodeData, CodeType, CreateCodeRequest, CreatePaymentRequest, Currency, Money, PaymentDetails, RefundDetails,
    RefundList, RefundRequest,
};
pub use ids::{IdError, MerchantPaymentId, MerchantRefundId, REFERENCE_CHARS_MAX};
pub use result::{Envelope, ResultCode, ResultInfo};
pub use status::{PaymentStatus, RefundStatus};
