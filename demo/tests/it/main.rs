//! The demo crate's one integration-test binary.

mod sim;
mod version;
