//! Serial bytes as they might come off the line: the frame decoder must never panic, and every
//! frame it lets through goes on to the APDU and command decoders.

#![no_main]

use device_drivers::zvt::commands::{decode_ecr_command, decode_terminal_message};
use device_drivers::zvt::serial::{decode_frame, FrameDecoder, FrameEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = FrameDecoder::new();
    for event in decoder.feed(data) {
        if let FrameEvent::Frame(apdu) = event {
            let _ = decode_ecr_command(&apdu);
            let _ = decode_terminal_message(&apdu);
        }
    }
    let _ = decode_frame(data);
});
