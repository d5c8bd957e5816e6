//! Arbitrary bytes as a correctly signed request body never panic the server and always get a
//! JSON error body.

use proptest::prelude::*;

use crate::rig::{Call, Rig};

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bodies_get_a_json_error(body in proptest::collection::vec(any::<u8>(), 1..512),
                                         endpoint in 0usize..4) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let rig = Rig::start().await;
            let (method, path) = [("POST", "/v2/codes"), ("POST", "/v2/payments"), ("POST", "/v2/refunds/"),
                                  ("DELETE", "/v2/codes/04-unknown")][endpoint];
            let (status, answer) = rig.send(Call::new(method, path, &body)).await;
            // A random body is never a valid request (the amount would need a real payment).
            assert!((400..500).contains(&status), "{status}: {answer}");
            assert!(answer["resultInfo"]["code"].is_string(), "{answer}");
            assert!(answer["resultInfo"]["codeId"].is_string(), "{answer}");
            rig.handle.shutdown().await;
        });
    }
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_json() {
    let rig = Rig::start().await;
    let body = vec![b' '; qr_sim::api::REQUEST_BODY_BYTES_MAX + 1];
    let (status, answer) = rig.send(Call::new("POST", "/v2/codes", &body)).await;
    assert_eq!(status, 413);
    assert_eq!(answer["resultInfo"]["code"], "PAYLOAD_TOO_LARGE");
}
