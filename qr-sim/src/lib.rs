//! A simulated **QR payment provider** speaking PayPay's Open Payment API v2 over HTTP
//! (PROTOCOLS.md §2), for tests, the demo and the SDK interoperability check: the gateway's QR
//! connector talks to it as it would to PayPay, LINE Pay and the other QR brands (one simulator
//! per brand). It verifies every request's `hmac OPA-Auth` signature, keeps a ledger of codes,
//! payments and refunds, lets a customer (on a phone, through its customer page) or a test pay
//! or decline a code, injects faults on demand
//! and writes the daily settlement file the reconciler reads (§4.2).
//!
//! # How it fits together
//!
//! [`start`] takes a bound listener and a [`QrSimConfig`] and spawns the server; the
//! [`QrSimHandle`] it returns pays codes, sets faults, reads the ledger and the request log,
//! writes settlement files and shuts down. [`api`] is the HTTP layer (one module per resource,
//! one error type rendered in one place); [`ledger`] holds the books and all the rules, with the
//! current instant handed in from the injected [`pos_core::Clock`]; [`fault`] the fault plans;
//! [`settlement`] renders the file. The wire types and the signature live in `qr-protocol`.
//!
//! # Behaviour (the simulator's contract)
//!
//! - **Authentication.** Every request needs a valid `Authorization: hmac OPA-Auth:…` header
//!   (epoch within ±2 minutes of the clock, unused nonce, body hash over the raw bytes and the
//!   Content-Type as received, mac over the path as received). Any failure: 401 `UNAUTHORIZED`.
//!   `X-ASSUME-MERCHANT` selects the merchant; empty or absent means the key's only merchant (a
//!   key with several: 400 `INVALID_PARAMS`); a merchant the key does not own: 401.
//! - **Codes.** `POST /v2/codes` → 201 with `codeId` (`04-` + 16 digits), `url`
//!   (`{payment_url_base}/{codeId}`), `deeplink`, `expiryDate` (now + `code_expiry_seconds`). A
//!   reused `merchantPaymentId` (per merchant, across both flows): 400
//!   `DUPLICATE_DYNAMIC_QR_REQUEST`, never a replay. Amounts 1..=[`ledger::AMOUNT_YEN_MAX`] JPY.
//! - **Status.** `GET /v2/codes/payments/{id}` and `GET /v2/payments/{id}` → `CREATED`,
//!   `COMPLETED`, `EXPIRED` (unpaid past expiry, judged by the injected clock), `CANCELED` (code
//!   withdrawn unpaid), `FAILED` (cancelled, or declined), `REFUNDED` (refunded in full); unknown:
//!   404 `DYNAMIC_QR_PAYMENT_NOT_FOUND`.
//! - **Withdraw.** `DELETE /v2/codes/{codeId}` with or without a body → 200 `SUCCESS` (again
//!   when repeated); unknown: 404 `DYNAMIC_QR_NOT_FOUND`; already paid: 400
//!   `DYNAMIC_QR_ALREADY_PAID` (cancel the payment instead).
//! - **Cancel.** `DELETE /v2/payments/{id}` → 202 `REQUEST_ACCEPTED` and the payment reads
//!   `FAILED` at once; for a paid payment only until 00:14:59 JST of the day after it was paid
//!   (then 400 `ORDER_NOT_REVERSIBLE`, as after a refund). Cancelling an unpaid, expired or
//!   already-cancelled payment is accepted and changes nothing further.
//! - **Refunds.** `POST /v2/refunds` or `/v2/refunds/` → 201 with status `REFUNDED` (refunds
//!   complete at once); partial refunds allowed; above the refundable remainder: 400
//!   `INVALID_PARAMS`; on an unpaid payment: 400 `UNACCEPTABLE_OP`; on a `paymentId` it does not
//!   know: 404 `RESOURCE_NOT_FOUND` (as PayPay answers); a repeated
//!   `merchantRefundId` returns the earlier refund unchanged. `GET /v2/refunds/{id}[?paymentId=]`;
//!   unknown: 404 `NO_SUCH_REFUND_ORDER`.
//! - **Customer-presented barcode**: `POST /v2/payments` with PayPay's "Create a payment" body
//!   `{"merchantPaymentId", "userAuthorizationId" (here: the 18 digits the counter's scanner
//!   read), "amount", "requestedAt", "orderDescription"?}` → 201 with
//!   the payment details, `COMPLETED`. Declines (recorded `FAILED`, the id stays used): amount
//!   ¥9051 → 400 `INSUFFICIENT_BALANCE`; a code starting `99` → 400 `INVALID_USER_CODE`;
//!   not 18 digits → 400 `INVALID_PARAMS`; a reused id → 400 `DUPLICATE_PAYMENT_REQUEST`.
//! - **Errors.** Every answer is `{"resultInfo": {"code", "message", "codeId"}, "data"}`, also
//!   for unknown routes (404 `NOT_FOUND`), wrong methods (405), bodies over
//!   [`api::REQUEST_BODY_BYTES_MAX`] (413) and bodies that do not parse (400 `INVALID_PARAMS`).
//! - **The customer and scripts** ([`control`], only with [`start_with_control`] or
//!   `qr-sim --control`): a customer page at each code's URL with "pay" and "decline" buttons
//!   (Japanese with English), and `GET /_sim/codes/{codeId}`, `POST /_sim/codes/{codeId}/pay`,
//!   `POST /_sim/codes/{codeId}/decline` for tests and demos.
//! - **Faults** ([`FaultPlan`]): per endpoint, in list order, counted: `Delay`, `ServerError`
//!   (before or after the effect), `NoAnswer` (effect applied, never answered until shutdown), `Refuse` (400 `UNACCEPTABLE_OP`, no effect),
//!   `PaidAfterCancel` (a withdrawn code is paid at the same instant).
//! - **Settlement** ([`settlement`]): see there.
//! - **Bounds.** [`ledger::PAYMENTS_PER_MERCHANT_MAX`], [`ledger::REFUNDS_PER_PAYMENT_MAX`],
//!   [`api::RECEIVED_LOG_MAX`], [`fault::FAULT_PLANS_MAX`], [`fault::FAULT_DELAY_MS_MAX`], and the
//!   verifier's nonce memory ([`qr_protocol::NONCES_PER_KEY_MAX`] per key).

pub mod api;
pub mod config;
pub mod control;
pub mod error;
pub mod fault;
pub mod ledger;
pub mod server;
pub mod settlement;

pub use api::Received;
pub use config::{FeeTerm, KeyConfig, MerchantConfig, QrSimConfig};
pub use error::QrSimError;
pub use fault::{Endpoint, Fault, FaultPlan};
pub use ledger::{Flow, PaymentRecord, RefundRecord};
pub use server::{start, start_with, start_with_control, QrSimHandle, StartOptions};
