//! The ECR side's reader of a terminal's status information (`04 0F`), the message that carries a
//! payment's outcome, amount, trace and card data: any data the terminal sends must be read or
//! refused without a panic, and what reads must build again
//! into a message that reads the same.

#![no_main]

use device_drivers::zvt::apdu::Apdu;
use device_drivers::zvt::commands::StatusInformation;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(apdu) = Apdu::new(0x04, 0x0F, data.to_vec()) else { return };
    let Ok(status) = StatusInformation::decode(&apdu) else { return };
    let _ = (status.brand(), status.approval_code(), status.is_success());
    if let Ok(rebuilt) = status.to_apdu() {
        let again = StatusInformation::decode(&rebuilt).expect("a status information built from one read reads again");
        // `pan_masked_by_decoder` tells about the bytes the terminal sent, not the message: a PAN
        // masked on reading is written masked, so the second read has nothing left to mask.
        let status = StatusInformation { pan_masked_by_decoder: again.pan_masked_by_decoder, ..status };
        assert_eq!(again, status, "a status information reads the same after building it again");
    }
});
