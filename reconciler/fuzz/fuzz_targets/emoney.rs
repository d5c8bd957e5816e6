//! The e-money settlement parser (Shift_JIS) on arbitrary bytes: it may refuse them, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reconciler::inputs::emoney::read_emoney_settlement;

fuzz_target!(|data: &[u8]| {
    let _ = read_emoney_settlement("fuzz.csv", data);
});
