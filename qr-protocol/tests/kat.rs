//! The four known answers of PROTOCOLS.md §2, through the signer and the verifier, and each way
//! the verifier refuses a request.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use pos_core::ManualClock;
use qr_protocol::auth::{mac, AuthError, AuthHeader, SignedRequest, Verifier, NONCE_MEMORY_SECONDS};
use qr_protocol::{body_hash, sign, ApiKey, ApiSecret, Credentials};
use sha2::{Digest, Sha256};

const POST_BODY: &[u8] = include_bytes!("data/paypay-kat-post-body.json");
const REFUND_BODY: &[u8] = include_bytes!("data/paypay-kat-refund-body.json");

struct Known {
    method: &'static str,
    path: &'static str,
    nonce: &'static str,
    epoch: i64,
    content_type: Option<&'static [u8]>,
    body: &'static [u8],
    hash: &'static str,
    mac: &'static str,
}

fn known_answers() -> [Known; 4] {
    [
        Known {
            method: "GET",
            path: "/v2/payments/TEST_merchantPaymentID",
            nonce: "a360e2",
            epoch: 1743139337,
            content_type: None,
            body: b"",
            hash: "empty",
            mac: "JbUZwAUKeQ+WDClEjkCGwYG/juFR+Dd5RK5AfL0gK9w=",
        },
        Known {
            method: "POST",
            path: "/v2/codes",
            nonce: "fedaa4",
            epoch: 1743138611,
            content_type: Some(b"application/json"),
            body: POST_BODY,
            hash: "T9wzkv1tUWIxzIHQUT7iDQ==",
            mac: "C2a7jD7OjL1DXnZhSYQfRI2Oxfdh43htV7pG8cwgCy4=",
        },
        Known {
            method: "DELETE",
            path: "/v2/codes/04-abcdefghijklmnop",
            nonce: "9b1c7e2f",
            epoch: 1743139400,
            content_type: Some(b"application/json;charset=UTF-8"),
            body: b"{}",
            hash: "R8CL6EsFTy7CED21l55g3g==",
            mac: "x8qAIwVyxqH9mhjAGth7KbBA81lqwbB4nFo2gYy1Aao=",
        },
        Known {
            method: "POST",
            path: "/v2/refunds/",
            nonce: "0c4d5e6f",
            epoch: 1743139500,
            content_type: Some(b"application/json;charset=UTF-8"),
            body: REFUND_BODY,
            hash: "EgkKJIm6BDYxUaUhatILdA==",
            mac: "g6HWBFVKcETwpxIprAEGKdV6Z8wNzxdgOw8Y8akjr08=",
        },
    ]
}

fn credentials() -> Credentials {
    Credentials { api_key: ApiKey::new("sample_key"), api_secret: ApiSecret::new("sample_secret") }
}

fn request(known: &Known) -> SignedRequest<'_> {
    SignedRequest { method: known.method, path: known.path, content_type: known.content_type, body: known.body }
}

fn at(epoch: i64) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(DateTime::<Utc>::from_timestamp(epoch, 0).unwrap()))
}

fn secret_of(key: &ApiKey) -> Option<&'static ApiSecret> {
    static SECRET: std::sync::OnceLock<ApiSecret> = std::sync::OnceLock::new();
    (key.as_str() == "sample_key").then(|| SECRET.get_or_init(|| ApiSecret::new("sample_secret")))
}

fn header(known: &Known) -> String {
    format!("hmac OPA-Auth:sample_key:{}:{}:{}:{}", known.mac, known.nonce, known.epoch, known.hash)
}

/// The body files were copied once from the published known answers; their SHA-256 digests
/// (also listed in `docs/protocols.md`) pin them, so an edit of either file fails here before it
/// fails every signature below.
#[test]
fn the_body_files_are_the_published_known_answer_bodies() {
    assert_eq!(POST_BODY.len(), 253);
    assert_eq!(
        hex::encode(Sha256::digest(POST_BODY)),
        "f46ffbd9ec7e3d1b482078eb2968d47d618966c337789eda5fa092ca839b924a"
    );
    assert_eq!(
        hex::encode(Sha256::digest(REFUND_BODY)),
        "a2a44a897cd16a28b903eaa9996d4ad315115d8ece6f562da4cfaec1a68895fd"
    );
}

#[test]
fn the_signer_reproduces_all_four_known_answers() {
    for known in known_answers() {
        let signed = sign(&credentials(), &request(&known), known.nonce, known.epoch);
        assert_eq!(signed.hash, known.hash, "{} {}", known.method, known.path);
        assert_eq!(signed.mac, known.mac, "{} {}", known.method, known.path);
        assert_eq!(signed.to_header_value(), header(&known));
        assert_eq!(body_hash(known.content_type.unwrap_or_default(), known.body), known.hash);
    }
}

#[test]
fn a_get_with_a_content_type_but_no_body_is_signed_empty() {
    // The SDK sends its Content-Type on GETs too; "empty" is judged by the body's length.
    let known = &known_answers()[0];
    let with_type = SignedRequest { content_type: Some(b"application/json;charset=UTF-8"), ..request(known) };
    assert_eq!(mac(&credentials().api_secret, &with_type, known.nonce, known.epoch), known.mac);
}

#[test]
fn the_query_is_not_signed() {
    let known = &known_answers()[0];
    let with_query = SignedRequest { path: "/v2/payments/TEST_merchantPaymentID?x=1", ..request(known) };
    assert_eq!(mac(&credentials().api_secret, &with_query, known.nonce, known.epoch), known.mac);
}

#[test]
fn the_verifier_accepts_all_four_known_answers() {
    for known in known_answers() {
        let verifier = Verifier::new(at(known.epoch));
        let verified = verifier.verify(&request(&known), Some(header(&known).as_bytes()), secret_of).unwrap();
        assert_eq!(verified.api_key.as_str(), "sample_key");
        assert_eq!(verified.nonce, known.nonce);
    }
}

#[test]
fn the_epoch_window_is_two_minutes_either_way() {
    let known = &known_answers()[1];
    for (offset, accepted) in [(-121, false), (-120, true), (0, true), (120, true), (121, false)] {
        let verifier = Verifier::new(at(known.epoch + offset));
        let outcome = verifier.verify(&request(known), Some(header(known).as_bytes()), secret_of);
        assert_eq!(outcome.is_ok(), accepted, "clock offset {offset}");
        if !accepted {
            assert!(matches!(outcome, Err(AuthError::StaleEpoch { .. })));
        }
    }
}

#[test]
fn a_replayed_nonce_is_refused_while_remembered() {
    let known = &known_answers()[2];
    let clock = at(known.epoch);
    let verifier = Verifier::new(clock.clone());
    let value = header(known);
    verifier.verify(&request(known), Some(value.as_bytes()), secret_of).unwrap();
    assert_eq!(
        verifier.verify(&request(known), Some(value.as_bytes()), secret_of),
        Err(AuthError::ReplayedNonce { nonce: "9b1c7e2f".into() })
    );
    // Two minutes on, the replay is still inside the window and still refused.
    clock.set(DateTime::<Utc>::from_timestamp(known.epoch + 120, 0).unwrap());
    assert!(matches!(
        verifier.verify(&request(known), Some(value.as_bytes()), secret_of),
        Err(AuthError::ReplayedNonce { .. })
    ));
    // Once the epoch is out of the window the replay is stale, and the nonce may be forgotten.
    clock.set(DateTime::<Utc>::from_timestamp(known.epoch + NONCE_MEMORY_SECONDS + 1, 0).unwrap());
    assert!(matches!(
        verifier.verify(&request(known), Some(value.as_bytes()), secret_of),
        Err(AuthError::StaleEpoch { .. })
    ));
}

#[test]
fn a_tampered_body_is_refused_by_its_hash() {
    let known = &known_answers()[3];
    let tampered = REFUND_BODY.to_vec().iter().map(|b| if *b == b'1' { b'9' } else { *b }).collect::<Vec<u8>>();
    let verifier = Verifier::new(at(known.epoch));
    let outcome = verifier.verify(
        &SignedRequest { body: &tampered, ..request(known) },
        Some(header(known).as_bytes()),
        secret_of,
    );
    assert!(matches!(outcome, Err(AuthError::BodyHashMismatch { .. })), "{outcome:?}");
    // A different Content-Type changes the hash too.
    let outcome = verifier.verify(
        &SignedRequest { content_type: Some(b"application/json"), ..request(known) },
        Some(header(known).as_bytes()),
        secret_of,
    );
    assert!(matches!(outcome, Err(AuthError::BodyHashMismatch { .. })), "{outcome:?}");
}

#[test]
fn a_wrong_mac_or_path_or_method_is_refused() {
    let known = &known_answers()[3];
    let verifier = Verifier::new(at(known.epoch));
    // The SDK signs the trailing slash: the same header on the path without it does not verify.
    let outcome = verifier.verify(
        &SignedRequest { path: "/v2/refunds", ..request(known) },
        Some(header(known).as_bytes()),
        secret_of,
    );
    assert_eq!(outcome, Err(AuthError::BadMac));
    let outcome =
        verifier.verify(&SignedRequest { method: "PUT", ..request(known) }, Some(header(known).as_bytes()), secret_of);
    assert_eq!(outcome, Err(AuthError::BadMac));
    let wrong = Credentials { api_key: ApiKey::new("sample_key"), api_secret: ApiSecret::new("wrong") };
    let forged = sign(&wrong, &request(known), "n1", known.epoch).to_header_value();
    assert_eq!(verifier.verify(&request(known), Some(forged.as_bytes()), secret_of), Err(AuthError::BadMac));
    // A forged request does not use up its nonce.
    let genuine = sign(&credentials(), &request(known), "n1", known.epoch).to_header_value();
    assert!(verifier.verify(&request(known), Some(genuine.as_bytes()), secret_of).is_ok());
}

#[test]
fn missing_malformed_and_unknown_headers_are_refused() {
    let known = &known_answers()[0];
    let verifier = Verifier::new(at(known.epoch));
    assert_eq!(verifier.verify(&request(known), None, secret_of), Err(AuthError::MissingHeader));
    for bad in [
        "",
        "Bearer x",
        "hmac OPA-Auth:sample_key:mac:nonce:1743139337",
        "hmac OPA-Auth:sample_key:mac:nonce:17431x9337:empty",
        "hmac OPA-Auth:sample_key::nonce:1743139337:empty",
        "hmac OPA-Auth:a:b:c:d:e:f",
    ] {
        assert!(
            matches!(
                verifier.verify(&request(known), Some(bad.as_bytes()), secret_of),
                Err(AuthError::Malformed { .. })
            ),
            "{bad:?}"
        );
    }
    let long = format!("hmac OPA-Auth:sample_key:m:{}:1743139337:empty", "n".repeat(2000));
    assert!(matches!(
        verifier.verify(&request(known), Some(long.as_bytes()), secret_of),
        Err(AuthError::Malformed { .. })
    ));
    let unknown = header(known).replace("sample_key", "other_key");
    assert_eq!(
        verifier.verify(&request(known), Some(unknown.as_bytes()), secret_of),
        Err(AuthError::UnknownKey { api_key: "other_key".into() })
    );
}

#[test]
fn the_header_round_trips_and_secrets_do_not_print() {
    let known = &known_answers()[1];
    let parsed = AuthHeader::parse(header(known).as_bytes()).unwrap();
    assert_eq!(parsed.epoch, known.epoch);
    assert_eq!(parsed.to_header_value(), header(known));
    assert!(!format!("{:?}", credentials()).contains("sample_secret"));
}
