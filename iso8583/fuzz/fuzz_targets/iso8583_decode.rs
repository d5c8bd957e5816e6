//! The ISO 8583 decoder never panics, and whatever it accepts re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let spec = iso8583::Spec::default_1987();
    if let Ok(message) = iso8583::decode(data, spec) {
        let again = iso8583::encode(&message, spec).expect("a decoded message encodes");
        assert_eq!(again, data, "decode then encode must give the same bytes");
        let shown = format!("{message:?} {message}");
        assert!(!shown.is_empty());
    }
});
