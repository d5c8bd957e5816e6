//! Counter hardware: the payment terminal's ECR link, the barcode scanner, the receipt printer
//! and the cash drawer, and the `counterd` bridge between one counter's devices and the gateway.
//!
//! Not built yet: this crate is a placeholder in the workspace layout, and nothing in it pretends
//! to work. The ECR protocol is ZVT (PROTOCOLS.md §3); counterd will talk to the gateway only over
//! its public HTTP API, using the API types in `pos_core::api`.
