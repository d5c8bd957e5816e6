//! The QR provider's `Authorization` header (`hmac OPA-Auth:…`), as the provider simulator reads a
//! merchant's and the gateway reads its own: the parser and the verifier must refuse anything
//! malformed without a panic, what parses must print back to itself, and a header that verifies
//! must be the one signed over the same request (no other bytes pass the MAC).

#![no_main]

use std::sync::Arc;

use chrono::TimeZone;
use libfuzzer_sys::fuzz_target;
use qr_protocol::{sign, ApiKey, ApiSecret, AuthHeader, Credentials, SignedRequest, Verifier};

const EPOCH: i64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = AuthHeader::parse(data) {
        let printed = header.to_header_value();
        assert_eq!(AuthHeader::parse(printed.as_bytes()).ok(), Some(header), "a parsed header prints back to itself");
    }
    // The fuzzed bytes as the header of a fixed request, against the sample key.
    let now = chrono::Utc.timestamp_opt(EPOCH, 0).single().expect("a fixed instant");
    let verifier = Verifier::new(Arc::new(pos_core::ManualClock::new(now)));
    let secret = ApiSecret::new("sample_secret");
    let request = SignedRequest {
        method: "POST",
        path: "/v2/codes",
        content_type: Some(b"application/json;charset=UTF-8"),
        body: b"{\"merchantPaymentId\":\"pay_1\"}",
    };
    let credentials = Credentials { api_key: ApiKey::new("sample_key"), api_secret: secret.clone() };
    if verifier.verify(&request, Some(data), |key| (key.as_str() == "sample_key").then_some(&secret)).is_ok() {
        let header = AuthHeader::parse(data).expect("a verified header parses");
        let signed = sign(&credentials, &request, &header.nonce, header.epoch);
        assert_eq!(signed.mac, header.mac, "only the MAC signed over this request verifies");
    }
});
