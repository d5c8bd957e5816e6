//! Unframed APDU bytes (as on TCP), and BMP 60 values: no decoder may panic, and whatever parses must build again
//! into bytes that parse to the same message.

#![no_main]

use device_drivers::zvt::apdu::decode_apdu;
use device_drivers::zvt::bmp::decode_bmp_fields;
use device_drivers::zvt::commands::{decode_ecr_command, decode_terminal_message};
use device_drivers::zvt::tlv::decode_container;
use device_drivers::zvt::totals::IndividualTotals;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(apdu) = decode_apdu(data) {
        assert_eq!(apdu.encode(), data, "an APDU has exactly one encoding");
    }
    if let Ok(command) = decode_ecr_command(data) {
        let rebuilt = command.to_apdu().expect("a parsed command builds again");
        assert_eq!(decode_ecr_command(&rebuilt.encode()).ok(), Some(command));
    }
    if let Ok(message) = decode_terminal_message(data) {
        let rebuilt = message.to_apdu().expect("a parsed message builds again");
        assert_eq!(decode_terminal_message(&rebuilt.encode()).ok(), Some(message));
    }
    if let Ok(totals) = IndividualTotals::decode(data) {
        assert_eq!(totals.encode().expect("parsed totals build again"), data, "BMP 60 has one encoding");
    }
    let _ = decode_bmp_fields(data);
    let _ = decode_container(data);
});
