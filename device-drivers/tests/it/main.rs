//! Integration tests of the device drivers (ZVT, printer and receipt, scanner) through their
//! public API, as one binary to save link time.

mod bad_input;
mod collisions;
mod dialogue;
mod endings;
mod link_simulation;
mod printer;
mod properties;
mod receipt;
mod scanner;
mod service;
mod status;
mod terminal;
mod terminal_rig;
mod vectors;
mod version;

/// Bytes from the hex notation of PROTOCOLS.md: `"06 00 04 12 34 56 ba"`.
pub fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace().map(|pair| u8::from_str_radix(pair, 16).expect("test vector hex")).collect()
}
