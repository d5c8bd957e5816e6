//! The configuration loader never panics on any text: it accepts it or says what is wrong.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(error) = pos_config::parse_with_env(text, Path::new("fuzz.toml"), Path::new("."), |_| None) {
            assert!(!error.to_string().is_empty());
        }
    }
});
