//! Result codes and the answer envelope `{"resultInfo": {"code", "message", "codeId"}, "data"}`.
//!
//! Every answer of the provider carries a `resultInfo`; the SDK reads `code` and `codeId` and fails
//! on a body without them, so [`ResultInfo`] always serialises all three.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! codes {
    ($($(#[$vdoc:meta])* $variant:ident => ($text:literal, $code_id:literal, $http:literal),)*) => {
        /// A `resultInfo.code`. Unknown codes are kept as [`ResultCode::Other`].
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ResultCode {
            $($(#[$vdoc])* $variant,)*
            /// A code this version does not know, exactly as received.
            Other(String),
        }

        impl ResultCode {
            pub fn as_str(&self) -> &str {
                match self {
                    $(ResultCode::$variant => $text,)*
                    ResultCode::Other(text) => text,
                }
            }

            pub fn parse(text: &str) -> ResultCode {
                match text {
                    $($text => ResultCode::$variant,)*
                    other => ResultCode::Other(other.to_string()),
                }
            }

            /// The `codeId` the simulator sends with this code (opaque to clients).
            pub fn code_id(&self) -> &'static str {
                match self {
                    $(ResultCode::$variant => $code_id,)*
                    ResultCode::Other(_) => "08199999",
                }
            }

            /// The HTTP status the provider answers this code with.
            pub fn http_status(&self) -> u16 {
                match self {
                    $(ResultCode::$variant => $http,)*
                    ResultCode::Other(_) => 500,
                }
            }
        }
    };
}

codes! {
    /// Success (200 or 201).
    Success => ("SUCCESS", "08100001", 200),
    /// A cancel was accepted and completes asynchronously (202).
    RequestAccepted => ("REQUEST_ACCEPTED", "08100002", 202),
    /// Bad or missing fields.
    InvalidParams => ("INVALID_PARAMS", "08100006", 400),
    /// Any authentication failure.
    Unauthorized => ("UNAUTHORIZED", "08100016", 401),
    /// A `merchantPaymentId` already used for a code (never a replay of the first answer).
    DuplicateDynamicQrRequest => ("DUPLICATE_DYNAMIC_QR_REQUEST", "01652075", 400),
    /// A `merchantPaymentId` already used for a customer-presented payment.
    DuplicatePaymentRequest => ("DUPLICATE_PAYMENT_REQUEST", "01652076", 400),
    /// No payment with this `merchantPaymentId` (PayPay documents both 400 and 404).
    DynamicQrPaymentNotFound => ("DYNAMIC_QR_PAYMENT_NOT_FOUND", "01652073", 404),
    /// No code with this `codeId`.
    DynamicQrNotFound => ("DYNAMIC_QR_NOT_FOUND", "01652074", 404),
    /// The code was already paid: it cannot be withdrawn (cancel the payment instead).
    DynamicQrAlreadyPaid => ("DYNAMIC_QR_ALREADY_PAID", "01652077", 400),
    /// No refund with this `merchantRefundId`.
    NoSuchRefundOrder => ("NO_SUCH_REFUND_ORDER", "01652078", 404),
    /// A refund names a `paymentId` that does not exist (PayPay's integration FAQ, "What is the
    /// reason for the refund failure?", integration.paypay.ne.jp/hc/en-us/articles/5953150296463).
    ResourceNotFound => ("RESOURCE_NOT_FOUND", "01652083", 404),
    /// The payment can no longer be cancelled (after 00:14:59 JST of the next day, or refunded).
    OrderNotReversible => ("ORDER_NOT_REVERSIBLE", "01652079", 400),
    /// The payment is not in a state that allows a refund.
    UnacceptableOp => ("UNACCEPTABLE_OP", "01652080", 400),
    /// The customer's balance does not cover the amount (customer-presented flow).
    InsufficientBalance => ("INSUFFICIENT_BALANCE", "01652081", 400),
    /// The customer's barcode is unknown or no longer valid (customer-presented flow).
    InvalidUserCode => ("INVALID_USER_CODE", "01652082", 400),
    /// No such endpoint.
    NotFound => ("NOT_FOUND", "08100404", 404),
    /// The endpoint exists but not for this method.
    MethodNotAllowed => ("METHOD_NOT_ALLOWED", "08100405", 405),
    /// The request body exceeds the provider's limit.
    PayloadTooLarge => ("PAYLOAD_TOO_LARGE", "08100413", 413),
    /// A provider-side failure (or an injected one).
    InternalServerError => ("INTERNAL_SERVER_ERROR", "08100500", 500),
    /// The provider is temporarily unable to serve (or a bound is reached).
    ServiceUnavailable => ("SERVICE_UNAVAILABLE", "08100503", 503),
}

impl ResultCode {
    /// `SUCCESS` and `REQUEST_ACCEPTED`.
    pub fn is_success(&self) -> bool {
        matches!(self, ResultCode::Success | ResultCode::RequestAccepted)
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ResultCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResultCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ResultCode, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(ResultCode::parse(&text))
    }
}

/// `resultInfo`: the outcome of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultInfo {
    pub code: ResultCode,
    pub message: String,
    pub code_id: String,
}

impl ResultInfo {
    /// The result info the simulator sends for `code`, with its `codeId`.
    pub fn new(code: ResultCode, message: impl Into<String>) -> ResultInfo {
        let code_id = code.code_id().to_string();
        ResultInfo { code, message: message.into(), code_id }
    }
}

/// Every answer: `{"resultInfo": {...}, "data": ...}`. `data` is `null` (or absent) on errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    pub result_info: ResultInfo,
    #[serde(default = "Option::default")]
    pub data: Option<T>,
}

impl<T> Envelope<T> {
    pub fn success(code: ResultCode, data: T) -> Envelope<T> {
        let message = code.as_str().to_string();
        Envelope { result_info: ResultInfo::new(code, message), data: Some(data) }
    }

    pub fn error(code: ResultCode, message: impl Into<String>) -> Envelope<T> {
        Envelope { result_info: ResultInfo::new(code, message), data: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_code_message_and_code_id() {
        let body = serde_json::to_value(Envelope::<()>::error(ResultCode::Unauthorized, "bad mac")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"resultInfo": {"code": "UNAUTHORIZED", "message": "bad mac", "codeId": "08100016"},
                               "data": null})
        );
        assert_eq!(ResultCode::Unauthorized.http_status(), 401);
    }

    #[test]
    fn unknown_codes_are_kept() {
        let body: Envelope<serde_json::Value> =
            serde_json::from_str(r#"{"resultInfo": {"code": "RATE_LIMIT", "message": "", "codeId": "x"}}"#).unwrap();
        assert_eq!(body.result_info.code, ResultCode::Other("RATE_LIMIT".into()));
        assert!(body.data.is_none());
    }
}
