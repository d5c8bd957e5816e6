//! The card settlement parser on arbitrary bytes: it may refuse them, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reconciler::inputs::card::read_card_settlement;

fuzz_target!(|data: &[u8]| {
    let _ = read_card_settlement("fuzz.csv", data);
});
