//! Integration tests: the real simulator on 127.0.0.1:0 with development TLS, driven by a small
//! ISO 8583 client, as the gateway's connectors would drive it. One binary to save link time.

mod acceptance;
mod authorization;
mod binary;
mod faults;
mod reversal;
mod settlement;
mod settlement_property;
mod support;
