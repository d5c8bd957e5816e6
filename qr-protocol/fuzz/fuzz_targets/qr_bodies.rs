//! The QR provider's JSON bodies, requests as the simulator reads them and answers as the gateway
//! reads them: anything must be read or refused without a panic, and what reads must write back
//! into JSON that reads the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use qr_protocol::{
    CodeData, CreateCodeRequest, CreatePaymentRequest, Envelope, PaymentDetails, RefundDetails, RefundList,
    RefundRequest,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

fn round_trip<T: DeserializeOwned + Serialize + PartialEq>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let written = serde_json::to_vec(&value).expect("a body read writes back");
        let again: T = serde_json::from_slice(&written).expect("a body written reads again");
        assert!(again == value, "a body reads the same after writing it");
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<CreateCodeRequest>(data);
    round_trip::<CreatePaymentRequest>(data);
    round_trip::<RefundRequest>(data);
    round_trip::<Envelope<CodeData>>(data);
    round_trip::<Envelope<PaymentDetails>>(data);
    round_trip::<Envelope<RefundDetails>>(data);
    round_trip::<Envelope<RefundList>>(data);
    round_trip::<Envelope<serde_json::Value>>(data);
});
