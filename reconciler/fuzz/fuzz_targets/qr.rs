//! The QR settlement parser on arbitrary bytes: it may refuse them, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pos_core::Brand;
use reconciler::inputs::qr::read_qr_settlement;

fuzz_target!(|data: &[u8]| {
    let _ = read_qr_settlement("fuzz.csv", Brand::PayPay, data);
});
